//! IL403 check-then-act: a check of shared state and an act that depends on it, without a lock
//! across both, in code that runs on several threads (`if key not in cache: cache[key] = …`,
//! lazy singletons), or on an atomic (`if !flag.load(..) { flag.store(..) }`), or (Rust) on a
//! collection behind a lock checked and filled through two separate guards.

use super::shared_state::{
    act_of, checked_in_helper, guarded_changes, guarded_writes, held_at, held_by_every_caller,
    is_shared, started_here,
};
use crate::codes::Code;
use crate::model::{ActKind, Keeps};

use super::{Check, ProjectContext, Rule};
use crate::diagnostic::{Diagnostic, Related};

pub const RULE: Rule = Rule {
    code: Code::IL403,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    let concurrency = context.concurrency();
    let guarded = guarded_writes(context, true);
    let changed = guarded_changes(context, true);
    for (id, function) in project.functions() {
        // A fork hook runs in a child that has one thread.
        if function.check_then_acts.is_empty() || concurrency.fork_hooks.contains(&id) {
            continue;
        }
        let model = project.model(id);
        for found in &function.check_then_acts {
            // The object's own state in its constructor or finalizer: no other thread can
            // reach the object then.
            if found.via_self && function.runs_unshared() {
                continue;
            }
            // An act done by a call: the call whose callee changes the state, if one does.
            let Some(act) = act_of(project, id, found) else {
                continue;
            };
            let concurrent = concurrency.functions.contains(&id)
                || concurrency.closures.contains(&(id, found.closure));
            let via_self = found.via_self;
            let on_threads =
                concurrent && is_shared(via_self, function, &concurrency.shared_classes);
            // Without a thread start in sight, a lock is the evidence: the state is written or
            // changed under a thread lock elsewhere (the caller's threads, a web framework's).
            let state = context.state(&found.state);
            let guard = guarded
                .get(state)
                .filter(|g| g.write.via_self == via_self)
                .map(|g| (g.function, g.write.span.clone(), g.held_in, g.lock))
                .or_else(|| {
                    changed
                        .get(state)
                        .filter(|g| g.change.via_self == via_self)
                        .map(|g| (g.function, g.change.span.clone(), g.held_in, g.lock))
                });
            let held =
                held_at(project, function, found.check.start).is_some_and(|h| h.covers(act.start));
            // Double-checked locking: a lock taken after the check guards the act, and the code
            // checks again under it before acting (Python: a condition that reads the same
            // state there; Rust's atomics have no such record: the lock is taken as the guard).
            let locked_after_check = function.lock_holds.iter().any(|h| {
                project.takes_lock(h)
                    && h.span.start > found.check.start
                    && h.covers(act.start)
                    && (found.atomic
                        || function.state_checks.iter().any(|again| {
                            again.written == found.written
                                && again.span.start > found.check.end
                                && again.span.start < act.start
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
                || held_by_every_caller(context, id, 4, found.via_self)
                || checked_in_helper(project, id, &found.state, act.clone())
                || !(found.atomic
                    || found.relocked
                    || found.keeps != Keeps::Nothing
                    || on_threads
                    || guard.is_some())
            {
                continue;
            }
            let outcome = match found.act_kind {
                ActKind::NeedsEntry => {
                    "another thread can remove the entry in between, so this one fails (`KeyError`, `IndexError` from an empty `pop`) or changes an entry that is gone"
                }
                ActKind::Create if found.keeps == Keeps::ThreadLock => {
                    "both create a lock for it, and a thread that holds the first lock does not exclude one that holds the second"
                }
                ActKind::Create if found.keeps == Keeps::ThreadLocal => {
                    "both create a new `threading.local`, and what the first thread stored in its own is lost when the second replaces it"
                }
                ActKind::Create => "both create the entry, or both build the singleton",
                ActKind::Fill => {
                    "another thread that checks meanwhile finds it part-filled and uses what is there, or both fill it"
                }
                ActKind::StaleLoad => "both threads see the old value",
                ActKind::Take => {
                    "both take the value before either clears it, and the work it stands for runs twice"
                }
            };
            // Why other threads are there: they run this code, or a lock guards the state.
            let shared = match (&guard, on_threads) {
                (Some((writer, _, held_in, lock)), false) if writer == held_in => format!(
                    "; `{}` changes it holding `{}`, so other threads use it",
                    project.function(*writer).name,
                    lock.lock
                ),
                (Some((writer, _, held_in, lock)), false) => format!(
                    "; `{}` changes it for `{}`, which holds `{}` around the call, so other threads use it",
                    project.function(*writer).name,
                    project.function(*held_in).name,
                    lock.lock
                ),
                _ if concurrency.documented.contains(&id) => {
                    ", which is documented as safe to call from several threads".to_string()
                }
                _ if found.keeps == Keeps::ThreadLock && !on_threads => {
                    ", which keeps thread locks for other threads to share".to_string()
                }
                _ if found.keeps == Keeps::ThreadLocal && !on_threads => {
                    ", which keeps per-thread data (a `threading.local`), so several threads run it"
                        .to_string()
                }
                _ => ", which runs on several threads".to_string(),
            };
            let (why, help) = if found.act_kind == ActKind::StaleLoad {
                (
                    format!(
                        "`{}` is loaded, then changed by a write that throws away the value it replaced (a `store`, or a `swap`/`fetch_*` whose result is unused), and the value loaded before is used afterwards: another thread can change it in between, so {outcome}",
                        found.written
                    ),
                    "use the value a `swap`/`fetch_*` returns (`let previous = l.swap(1, ..);`, `let was = a.fetch_or(bit, ..) & bit != 0;`) instead of a separate `load`".to_string(),
                )
            } else if found.self_locking {
                (
                    format!(
                        "`{0}` is checked with one call and filled with another in `{1}`: it locks itself for each call, not across the two, so another thread can fill it in between and both fill it (the second value replaces the first, which anything already given it still uses)",
                        found.written, function.name
                    ),
                    format!(
                        "check and fill in one call: `{0}.entry(key).or_insert_with(..)`",
                        found.written
                    ),
                )
            } else if found.relocked {
                (
                    format!(
                        "`{0}` is checked through one guard of it and filled through another, taken after the first was dropped, in `{1}`: another thread can take the lock in between and fill it too, so both fill it (the second value replaces the first, which anything still referring to it sees dropped; a list gets the entry twice)",
                        found.written, function.name
                    ),
                    format!(
                        "take the write guard once for both: `let mut guard = {0}.write().unwrap(); guard.entry(key).or_insert_with(..)` (or `.lock()`), or check again under the second guard",
                        found.written
                    ),
                )
            } else if found.atomic {
                (
                    format!(
                        "`{}` is loaded, then stored based on what was loaded: another thread can change it in between, so both threads act on the same old value",
                        found.written
                    ),
                    "use one atomic read-modify-write: `compare_exchange`, `fetch_update`, or `swap`".to_string(),
                )
            } else if let Some(lock) = function.lock_holds.iter().find(|h| {
                h.span.start > found.check.start && h.covers(act.start) && project.takes_lock(h)
            }) {
                (
                    format!(
                        "`{}` is checked without a lock, then changed under `{}` in `{}`{shared}: the lock is taken after the check and the check is not repeated, so {outcome}",
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
                        "`{}` is checked, then changed based on the check, in `{}`{shared}: another thread can act between the check and the change ({outcome})",
                        found.written, function.name
                    ),
                    {
                        let lock = match &guard {
                            Some((_, _, _, lock)) => format!("`{}`", lock.lock),
                            None => "one lock (`with self._lock:`)".to_string(),
                        };
                        if found.act_kind == ActKind::NeedsEntry {
                            format!(
                                "hold {lock} across the check and the act, or use one operation that tolerates a missing entry (`d.pop(k, None)`)"
                            )
                        } else if found.act_kind == ActKind::Take {
                            format!(
                                "hold {lock} across the check, the take and the clearing, so only one thread gets the value"
                            )
                        } else {
                            format!(
                                "hold {lock} across the check and the act, or use an atomic operation (`dict.setdefault`)"
                            )
                        }
                    },
                )
            };
            let mut diagnostic =
                Diagnostic::new(RULE.code, model.path.clone(), found.check.clone(), why)
                    .with_label("checked here, acted on below")
                    .with_help(help);
            diagnostic.related.push(Related {
                path: model.path.clone(),
                span: act.clone(),
                message: "acts on the check here".into(),
            });
            if on_threads && !concurrency.documented.contains(&id) {
                let name = &function.name;
                diagnostic
                    .related
                    .extend(started_here(project, concurrency, id, name));
            }
            if let (Some((writer, span, held_in, lock)), false) = (&guard, on_threads) {
                diagnostic.related.push(Related {
                    path: project.model(*writer).path.clone(),
                    span: span.clone(),
                    message: format!("`{}` written with `{}` held", found.written, lock.lock),
                });
                if writer != held_in {
                    diagnostic.related.push(Related {
                        path: project.model(*held_in).path.clone(),
                        span: lock.span.clone(),
                        message: format!("`{}` taken here, around the call", lock.lock),
                    });
                }
            }
            out.push(diagnostic);
        }
    }
}
