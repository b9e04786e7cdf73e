//! IL403 check-then-act: a check of shared state and an act that depends on it, without a lock
//! across both, in code that runs on several threads (`if key not in cache: cache[key] = …`,
//! lazy singletons), or on an atomic (`if !flag.load(..) { flag.store(..) }`).

use super::shared_state::{held_at, held_by_every_caller, is_shared};
use crate::codes::Code;

use super::{Check, ProjectContext, Rule};
use crate::diagnostic::{Diagnostic, Related};

pub const RULE: Rule = Rule {
    code: Code::IL403,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    let concurrency = context.concurrency();
    for (id, function) in project.functions() {
        // A fork hook runs in a child that has one thread.
        if function.check_then_acts.is_empty() || concurrency.fork_hooks.contains(&id) {
            continue;
        }
        let model = project.model(id);
        for found in &function.check_then_acts {
            let concurrent = concurrency.functions.contains(&id)
                || concurrency.closures.contains(&(id, found.closure));
            let via_self = found.via_self;
            let held = held_at(project, function, found.check.start)
                .is_some_and(|h| h.covers(found.act.start));
            // Double-checked locking: a lock taken after the check guards the act, and the code
            // checks again under it before acting (Python: a condition that reads the same
            // state there; Rust's atomics have no such record: the lock is taken as the guard).
            let locked_after_check = function.lock_holds.iter().any(|h| {
                project.takes_lock(h)
                    && h.span.start > found.check.start
                    && h.covers(found.act.start)
                    && (found.atomic
                        || function.state_checks.iter().any(|again| {
                            again.written == found.written
                                && again.span.start > found.check.end
                                && again.span.start < found.act.start
                                && h.covers(again.span.start)
                        }))
            });
            // An atomic in a closure that is not started on a thread: when and under what it
            // runs is not known here (a callback run under the caller's lock).
            let unknown_closure = found.atomic
                && found.closure != 0
                && !concurrency.closures.contains(&(id, found.closure));
            if held
                || unknown_closure
                || locked_after_check
                || held_by_every_caller(project, id, 4)
                || !(found.atomic
                    || (concurrent && is_shared(via_self, function, &concurrency.shared_classes)))
            {
                continue;
            }
            let outcome = if found.entry_present {
                "another thread can remove the entry in between, so this one fails with `KeyError` (or changes an entry that is gone)"
            } else {
                "both create the entry, or both build the singleton"
            };
            let (why, help) = if found.atomic {
                (
                    format!(
                        "`{}` is loaded, then stored based on what was loaded: another thread can change it in between, so both threads act on the same old value",
                        found.written
                    ),
                    "use one atomic read-modify-write: `compare_exchange`, `fetch_update`, or `swap`".to_string(),
                )
            } else if let Some(lock) = function.lock_holds.iter().find(|h| {
                h.span.start > found.check.start
                    && h.covers(found.act.start)
                    && project.takes_lock(h)
            }) {
                (
                    format!(
                        "`{}` is checked without a lock, then changed under `{}` in `{}`, which runs on several threads: the lock is taken after the check and the check is not repeated, so {outcome}",
                        found.written, lock.lock, function.name
                    ),
                    format!(
                        "check again once `{}` is held (double-checked locking), or take it before the first check",
                        lock.lock
                    ),
                )
            } else {
                (
                    format!(
                        "`{}` is checked, then changed based on the check, in `{}`, which runs on several threads: another thread can act between the check and the change ({outcome})",
                        found.written, function.name
                    ),
                    if found.entry_present {
                        "hold one lock across the check and the act (`with self._lock:`), or use one operation that tolerates a missing entry (`d.pop(k, None)`)"
                    } else {
                        "hold one lock across the check and the act (`with self._lock:`), or use an atomic operation (`dict.setdefault`)"
                    }
                    .to_string(),
                )
            };
            let mut diagnostic =
                Diagnostic::new(RULE.code, model.path.clone(), found.check.clone(), why)
                    .with_label("checked here, acted on below")
                    .with_help(help);
            diagnostic.related.push(Related {
                path: model.path.clone(),
                span: found.act.clone(),
                message: "acts on the check here".into(),
            });
            out.push(diagnostic);
        }
    }
}
