//! IL205 lock-protects-nothing: a lock that cannot exclude anyone — created where it is
//! acquired, local to each call, or released the moment it is taken.

use super::{Check, Rule};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::{FileModel, Language, Pointless};

pub const RULE: Rule = Rule {
    code: Code::IL205,
    check: Check::File(check),
};

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    for function in &model.functions {
        for pointless in &function.pointless_locks {
            let (message, help) = match (pointless.why, model.language) {
                (Pointless::CreatedWhereAcquired, _) => (
                    "this lock is created in the expression that acquires it: no other code can ever take it, so it excludes nothing".to_string(),
                    "create the lock once where the shared state lives (a module global, an attribute set in `__init__`, a struct field) and acquire that one",
                ),
                (Pointless::LocalNeverEscapes, _) => (
                    format!(
                        "`{}` is created anew on every call of `{}` and never leaves it: each call locks its own lock, so concurrent calls are not excluded from each other",
                        pointless.lock, function.name
                    ),
                    "move the lock next to the state it protects (module level or an attribute), or remove it if nothing is shared",
                ),
                (Pointless::GuardDiscarded, Language::Rust) => (
                    format!("the guard of `{}` is dropped at once: the lock is released before the next statement, so the code after it runs unprotected", pointless.lock),
                    "bind the guard to a name (`let guard = m.lock().unwrap();`) for as long as the state is used",
                ),
                (Pointless::GuardDiscarded | Pointless::GuardTested, Language::Python) => continue,
                (Pointless::GuardTested, Language::Rust) => (
                    format!("the guard of `{}` is only tested and dropped with the condition: the lock is released before the branch runs, so the branch runs unprotected (and may run on several threads at once)", pointless.lock),
                    "keep the guard for the branch: `if let Ok(_guard) = m.try_lock() { .. }`",
                ),
            };
            out.push(
                Diagnostic::new(
                    RULE.code,
                    model.path.clone(),
                    pointless.span.clone(),
                    message,
                )
                .with_label("this lock protects nothing")
                .with_help(help),
            );
        }
    }
}
