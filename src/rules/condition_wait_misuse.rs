//! IL206 condition-wait-misuse: a condition variable's `wait` outside a loop that re-checks the
//! predicate (spurious and stolen wakeups), and Python `wait`/`notify` without holding the
//! condition's lock (a `RuntimeError`), where no caller holds it either.

use super::{Check, ProjectContext, Rule};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::graph::{CallSite, FunctionId, Project};
use crate::model::{ConditionOp, ConditionUse, Language};

pub const RULE: Rule = Rule {
    code: Code::IL206,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    for (id, function) in project.functions() {
        let model = project.model(id);
        for used in &function.condition_uses {
            let cond = &used.condition;
            let unlooped = used.op == ConditionOp::Wait
                && !used.in_loop
                && (model.language == Language::Rust || !used.timed);
            if unlooped {
                let help = match model.language {
                    Language::Python => format!(
                        "use `{cond}.wait_for(predicate)`, or `while not predicate(): {cond}.wait()`"
                    ),
                    Language::Rust => format!(
                        "use `{cond}.wait_while(guard, |state| !ready(state))`, or call `wait` in a `while` loop that re-checks the condition"
                    ),
                };
                out.push(
                    Diagnostic::new(
                        RULE.code,
                        model.path.clone(),
                        used.span.clone(),
                        format!(
                            "`{cond}` is waited on outside a loop that re-checks the condition: a notify sent before the wait is missed, so it can wait forever, and it can wake with the condition false (another thread changed the state after the notify, or a spurious wakeup of std's and Python's condition variables), so the code after the wait can run with the condition false"
                        ),
                    )
                    .with_label("wait without re-checking the condition")
                    .with_help(help),
                );
            }
            if model.language == Language::Python
                && !used.identity.is_empty()
                && used.condition != "self"
                && !used.maybe_held
                && !held_here(project, id, used)
                && !held_by_every_caller(project, id, &used.identity, MAX_CALLER_DEPTH)
            {
                let what = match used.op {
                    ConditionOp::Notify => "notify",
                    _ => "wait",
                };
                out.push(
                    Diagnostic::new(
                        RULE.code,
                        model.path.clone(),
                        used.span.clone(),
                        format!(
                            "`{cond}` is used without holding its lock, and no caller holds it either: `{what}` on an un-acquired condition raises `RuntimeError`, and a notify outside the lock can be lost"
                        ),
                    )
                    .with_label(format!("{what} without holding `{cond}`"))
                    .with_help(format!("call it inside `with {cond}:`")),
                );
            }
        }
    }
}

/// Whether the function holds the condition's lock at the call.
fn held_here(project: &Project, id: FunctionId, used: &ConditionUse) -> bool {
    project
        .function(id)
        .lock_holds
        .iter()
        .any(|h| h.identity == used.identity && h.covers(used.span.start))
}

/// How many callers up a lock held by the caller's caller is looked for.
const MAX_CALLER_DEPTH: usize = 4;

/// Whether every caller holds the condition's lock at the call, itself or through its own
/// callers (a helper that expects the lock to be held).
fn held_by_every_caller(project: &Project, id: FunctionId, identity: &str, depth: usize) -> bool {
    project.every_caller(id, depth, &|site: CallSite| {
        let position = project.call(site).span.start;
        project
            .function(site.caller)
            .lock_holds
            .iter()
            .any(|h| h.identity == identity && h.covers(position))
    })
}
