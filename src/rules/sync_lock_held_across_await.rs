//! IL203 sync-lock-held-across-await: a thread-blocking lock (or a `RefCell` borrow) is held
//! while async code awaits.

use rustc_hash::FxHashMap as HashMap;

use super::{Check, ProjectContext, Rule};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Related};
use crate::knowledge::Knowledge;
use crate::model::{FileModel, Function, Language, LockHold};
use crate::rules::blocking::describe;

pub const RULE: Rule = Rule {
    code: Code::IL203,
    check: Check::FileAndProject(check, check_project),
};

/// How many of the awaits a lock is held across are pointed at (the message counts them all).
const MAX_AWAITS_SHOWN: usize = 16;

/// Holds whose lock type the file itself tells.
fn check(model: &FileModel, knowledge: &Knowledge, out: &mut Vec<Diagnostic>) {
    let tables = knowledge.tables(model.language);
    for function in &model.functions {
        for hold in function.lock_holds.iter() {
            if tables.lock(&hold.kind).is_some() {
                report(model, function, hold, &hold.kind, out);
            }
        }
    }
}

/// Holds of a lock whose type only its definition in another file tells (`from bank.locks
/// import accounts`, then `with accounts:`), found through imports and re-exports.
fn check_project(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    let mut definitions: HashMap<&str, &str> = HashMap::default();
    for model in &project.models {
        for definition in &model.lock_definitions {
            definitions
                .entry(definition.identity.as_str())
                .or_insert(definition.kind.as_str());
        }
    }
    for (id, function) in project.functions() {
        let model = project.model(id);
        let holds = function.lock_holds.iter().filter(|h| !h.awaits.is_empty());
        for hold in holds {
            let tables = context.file(id).settings.knowledge.tables(model.language);
            let separator = model.language.path_separator();
            // A lock handed back by a function of the package (`with rm_aio(self._lock):`):
            // once the function is confirmed to return it, the lock's own type, as below.
            let handed_back = hold.kind.starts_with("?=");
            if handed_back && project.lock_given_to(&hold.kind, separator).is_none() {
                continue;
            }
            if !hold.kind.is_empty() && !handed_back {
                if tables.lock(&hold.kind).is_some() {
                    continue;
                }
                let guard = match hold.kind.starts_with("::") {
                    // `STATE.lock()` of a static whose type its definition tells, or of a
                    // library type whose use tells (`state.lock().unwrap()`).
                    true => {
                        let identity = project.index.unalias(&hold.identity, separator);
                        let defined = definitions.get(identity.as_ref()).copied();
                        let index = &project.index;
                        crate::graph::locks::candidate_guard(
                            index, tables, &identity, &hold.kind, defined,
                        )
                        .map(|(guard, _)| guard)
                    }
                    // A function of another module that returns a static's guard
                    // (`let d = data::get();`), once the project finds it does.
                    false if hold.kind.starts_with("?guard:") => project
                        .guard_callee(&hold.kind)
                        .and_then(|f| {
                            let canonical = &project.function(f).canonical;
                            project.index.guard_function(canonical)
                        })
                        .map(|(_, kind)| kind.to_string()),
                    // A function of another file that returns a guard of the lock it is
                    // given (`let t = ITree::read_lock(&tree)?;`), once the project finds it does.
                    false if hold.kind.starts_with("?>") => project
                        .lock_given_to(&hold.kind, separator)
                        .map(str::to_string),
                    // A guard method on what a project function returns (`let l = first();
                    // l.lock()`), once the project types the result.
                    false
                        if let Some(guard) = crate::graph::locks::returned_lock_guard(
                            &project.index,
                            &hold.kind,
                        ) =>
                    {
                        Some(guard)
                    }
                    // A guard method the project adds to a library lock type.
                    false => project.index.guard_method(&hold.kind).map(str::to_string),
                };
                if let Some(guard) = guard
                    && tables.lock(&guard).is_some_and(|lock| !lock.is_async)
                {
                    report(model, function, hold, &guard, out);
                }
                continue;
            }
            let identity = project.index.unalias(&hold.identity, separator);
            // Defined in another module, or made by a factory another module types.
            let defined = definitions.get(identity.as_ref()).copied();
            let Some(kind) = defined.or_else(|| project.index.type_of(&identity, separator)) else {
                continue;
            };
            if tables.lock(kind).is_some_and(|lock| !lock.is_async) {
                report(model, function, hold, kind, out);
            }
        }
    }
}

/// The finding for a hold of a lock of type `kind`, if anything awaits while it is held.
fn report(
    model: &FileModel,
    function: &Function,
    hold: &LockHold,
    kind: &str,
    out: &mut Vec<Diagnostic>,
) {
    if hold.awaits.is_empty() {
        return;
    }
    let fix = match model.language {
        Language::Python => {
            "release it before awaiting (end the `with` block first), or use an `asyncio.Lock` with `async with`"
        }
        Language::Rust => {
            "drop the guard before the `.await` (`drop(guard)` or an inner block), or use `tokio::sync::Mutex`"
        }
    };
    let count = match hold.awaits.len() {
        1 => "an await".to_string(),
        n if n > MAX_AWAITS_SHOWN => format!("{n} awaits (the first {MAX_AWAITS_SHOWN} are shown)"),
        n => format!("{n} awaits"),
    };
    let kind = kind.rsplit_once("::").map_or(kind, |(ty, _)| ty);
    let mut diagnostic = Diagnostic::new(
        RULE.code,
        model.path.clone(),
        hold.span.clone(),
        format!(
            "`{}` ({kind}) is held across {count} in {}: while the task is suspended the lock stays taken, so other threads — or this event loop's thread, if another task tries to take it — block until the task resumes, which can deadlock",
            hold.lock,
            describe(function, model)
        ),
    )
    .with_label("taken here")
    .with_help(fix);
    diagnostic.related = hold
        .awaits
        .iter()
        .take(MAX_AWAITS_SHOWN)
        .map(|span| Related {
            path: model.path.clone(),
            span: span.clone(),
            message: "held across this await".into(),
        })
        .collect();
    out.push(diagnostic);
}
