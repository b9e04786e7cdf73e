//! IL206 condition-wait-misuse: a condition variable's `wait` outside a loop that re-checks the
//! predicate (spurious and stolen wakeups), Python `wait`/`notify` without holding the
//! condition's lock (a `RuntimeError`), where no caller holds it either, and Rust notifies that
//! can be lost because the waiters' mutex guards nothing.

use super::{Check, ProjectContext, Rule};
use crate::codes::Code;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::diagnostic::{Diagnostic, Related};
use crate::graph::{CallSite, FunctionId, Project};
use crate::model::{ConditionOp, ConditionUse, Language};

pub const RULE: Rule = Rule {
    code: Code::IL206,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    lost_wakeups(project, out);
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

/// Rust: `notify_*` on a condition variable whose waiters hold a mutex that guards nothing
/// (`Mutex<()>`: the state they wait for lives outside it), sent by code that never takes that
/// mutex (nor do its callers). Between a waiter's check of the state and its `wait`, the
/// notifier can change the state and notify: nobody is waiting yet, the wakeup is lost, and the
/// waiter sleeps with the state already changed.
fn lost_wakeups(project: &Project, out: &mut Vec<Diagnostic>) {
    let guards_nothing: HashSet<&str> = project
        .models
        .iter()
        .filter(|m| m.language == Language::Rust)
        .flat_map(|m| &m.lock_definitions)
        .filter(|d| d.guards_nothing)
        .map(|d| d.identity.as_str())
        .collect();
    if guards_nothing.is_empty() {
        return;
    }
    // Per condition variable of an object (its type, as written through `self`): the mutex
    // its first wait holds, and where that wait is.
    let mut waits: HashMap<(&str, &str), (&str, FunctionId, &ConditionUse)> = HashMap::default();
    // A field is known by its object's type; a `static` (`CVAR`) by its module.
    let conditions = |id: FunctionId, op_wait: bool| {
        let function = project.function(id);
        let owner = function.canonical.rsplit_once("::").map(|(owner, _)| owner);
        let module = project.model(id).module.as_str();
        function
            .condition_uses
            .iter()
            .filter(move |used| (used.op != ConditionOp::Notify) == op_wait)
            .filter_map(move |used| {
                if used.condition.starts_with("self.") {
                    Some((owner?, used))
                } else {
                    is_static_name(&used.condition).then_some((module, used))
                }
            })
    };
    for (id, function) in project.functions() {
        if project.model(id).language != Language::Rust {
            continue;
        }
        for (owner, used) in conditions(id, true) {
            // The mutex whose guard the wait is given: held there, or the last one taken
            // before it (a guard moved into `wait(g)` counts as released at the move).
            let held = function
                .lock_holds
                .iter()
                .filter(|h| {
                    h.span.start < used.span.end && guards_nothing.contains(h.identity.as_str())
                })
                .max_by_key(|h| h.span.start);
            if let Some(held) = held {
                waits.entry((owner, used.condition.as_str())).or_insert((
                    held.identity.as_str(),
                    id,
                    used,
                ));
            }
        }
    }
    for (id, function) in project.functions() {
        if project.model(id).language != Language::Rust {
            continue;
        }
        for (owner, used) in conditions(id, false) {
            let Some(&(mutex, waiter, wait)) = waits.get(&(owner, used.condition.as_str())) else {
                continue;
            };
            let takes = function
                .lock_holds
                .iter()
                .any(|h| h.identity == mutex && h.span.start < used.span.start);
            if takes || held_by_every_caller(project, id, mutex, MAX_CALLER_DEPTH) {
                continue;
            }
            let model = project.model(id);
            let cond = &used.condition;
            let lock = mutex.rsplit(['.', ':']).next().unwrap_or(mutex);
            let mut diagnostic = Diagnostic::new(
                RULE.code,
                model.path.clone(),
                used.span.clone(),
                format!(
                    "`{cond}` is notified without taking `{lock}`, the `Mutex<()>` its waiters hold: the state they wait for is outside that mutex, so it can change and be notified between a waiter's check and its `wait`, and the wakeup is lost (the waiter sleeps with the state already changed)"
                ),
            )
            .with_label("notify without the waiters' mutex")
            .with_help(format!(
                "change the state and notify while holding `{lock}` (or keep the state inside the mutex: `Mutex<State>`)"
            ));
            diagnostic.related.push(Related {
                path: project.model(waiter).path.clone(),
                span: wait.span.clone(),
                message: format!("waits here holding `{lock}`"),
            });
            out.push(diagnostic);
        }
    }
}

/// Whether a name as written is a `static`'s (`CVAR`, `READY_2`).
fn is_static_name(name: &str) -> bool {
    name.chars().any(|c| c.is_ascii_uppercase()) && crate::model::is_screaming_case(name)
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
