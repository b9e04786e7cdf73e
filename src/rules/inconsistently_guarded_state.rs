//! IL402 inconsistently-guarded-state: state written with a lock held in one place and without
//! it in another (outside constructors). The lock shows the state is shared; the unguarded
//! write races with the guarded ones.

use super::shared_state::{
    GuardedWrite, act_of, checked_in_helper, class_of, guarded_changes, guarded_iterations,
    guarded_writes, held_at, held_by_every_caller, is_shared,
};
use super::{Check, ProjectContext, Rule};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Related};
use crate::graph::threads::derives_from;

pub const RULE: Rule = Rule {
    code: Code::IL402,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    let concurrency = context.concurrency();
    let guarded = guarded_writes(context, false);
    let changed = guarded_changes(context, false);
    let iterated = guarded_iterations(context);
    for (id, function) in project.functions() {
        if function.state_writes.is_empty()
            && function.state_checks.is_empty()
            && function.iterations.is_empty()
            && function.container_changes.is_empty()
        {
            continue;
        }
        // Constructors and top-level code run before the state is shared, finalizers after.
        if function.runs_unshared()
            || function.kind == crate::model::FunctionKind::Module
            || concurrency.fork_hooks.contains(&id)
        {
            continue;
        }
        let model = project.model(id);
        // Code before the function starts its first thread runs before anything is shared.
        let first_start = function.thread_entries.iter().map(|e| e.span.start).min();
        for write in &function.state_writes {
            let Some(guard) = guarded.get(context.state(&write.state)) else {
                continue;
            };
            if first_start.is_some_and(|start| write.span.start < start) {
                continue;
            }
            // The act of a check-then-act is IL403's (one finding per bug).
            let acted_on_check = function.check_then_acts.iter().any(|found| {
                found.state == write.state.trim_end_matches(crate::model::ITEMS)
                    && act_of(project, id, found).is_some_and(|act| {
                        act.start <= write.span.start && write.span.end <= act.end
                    })
            });
            if acted_on_check
                || held_at(project, function, write.span.start).is_some()
                || (write.via_self != guard.write.via_self)
                || held_by_every_caller(context, id, 4, write.via_self)
            {
                continue;
            }

            let mut diagnostic = Diagnostic::new(
                RULE.code,
                model.path.clone(),
                write.span.clone(),
                format!(
                    "`{}` is written here without a lock, but `{}` holds `{}` when it writes it: the lock shows other threads use this state, and this write races with theirs",
                    write.written,
                    project.function(guard.function).name,
                    guard.lock.lock
                ),
            )
            .with_label("written without the lock")
            .with_help(format!(
                "hold `{}` here too (or, if this code only runs before any thread starts, move it into the constructor)",
                guard.lock.lock
            ));
            diagnostic.related = guard_sites(project, guard);
            out.push(diagnostic);
        }
        // Reads that decide a branch, in code that runs on threads.
        let threaded = concurrency.functions.contains(&id);
        // A `Thread` subclass started many times whose objects nothing else shares: each
        // thread runs `run` on its own object, so its own attributes are not shared.
        let own_thread_object = threaded
            && class_of(function).is_some_and(|class| {
                !concurrency.shared_classes.contains(class)
                    && derives_from(project, class, "threading.Thread", 8)
            });
        let threaded_on = |via_self: bool| threaded && !(via_self && own_thread_object);
        for check in &function.state_checks {
            let Some(guard) = guarded.get(context.state(&check.state)) else {
                continue;
            };
            let shared_object =
                check.via_self && is_shared(true, function, &concurrency.shared_classes);
            // Double-checked locking: the branch checks again under a lock it takes after this
            // check (IL403 calls that correct; the unlocked check is only a fast path).
            let checked_again = function.state_checks.iter().any(|again| {
                again.state == check.state
                    && again.span.start > check.span.end
                    && again.span.end <= check.extent.end
                    && held_at(project, function, again.span.start)
                        .is_some_and(|lock| lock.span.start > check.span.start)
            });
            // … or calls a helper that does (`if _policy is None: _init_policy()`).
            let checked_again = checked_again
                || checked_in_helper(project, id, &check.state, check.span.end..check.extent.end);
            // A check followed by an act on the same state is IL403's (one finding per bug).
            let check_then_act = function.check_then_acts.iter().any(|found| {
                found.check.start <= check.span.start
                    && check.span.end <= found.check.end
                    && act_of(project, id, found).is_some()
            });
            if !(threaded_on(check.via_self) || shared_object)
                || check.via_self != guard.write.via_self
                || checked_again
                || check_then_act
                || held_at(project, function, check.span.start).is_some()
                || held_by_every_caller(context, id, 4, check.via_self)
            {
                continue;
            }
            let mut diagnostic = Diagnostic::new(
                RULE.code,
                model.path.clone(),
                check.span.clone(),
                format!(
                    "`{}` decides a branch here without a lock, but `{}` holds `{}` when it writes it: another thread can change it between this check and what the branch does",
                    check.written,
                    project.function(guard.function).name,
                    guard.lock.lock
                ),
            )
            .with_label("read without the lock")
            .with_help(format!("hold `{}` across the check and what depends on it", guard.lock.lock));
            diagnostic.related = guard_sites(project, guard);
            out.push(diagnostic);
        }
        // Loops over a container other code changes in place under a lock.
        for iteration in &function.iterations {
            let Some(guard) = changed.get(context.state(&iteration.state)) else {
                continue;
            };
            // The container may be held by another object too, which a constructor gave it
            // (`HostBrowser._devices` given `CastBrowser.devices`): that object's threads
            // change it as well.
            let changer = project.function(guard.function);
            let shared_object = iteration.via_self
                && (is_shared(true, function, &concurrency.shared_classes)
                    || (guard.change.state != iteration.state
                        && is_shared(true, changer, &concurrency.shared_classes)));
            // Shared: the loop or the change runs on a thread, or the container is a registry
            // that several functions keep up to date under the lock (one initialiser filling
            // it once, before readers may look, is not evidence).
            let changed_on_thread = concurrency.functions.contains(&guard.function);
            if !(threaded_on(iteration.via_self)
                || shared_object
                || changed_on_thread && !(iteration.via_self && own_thread_object)
                || guard.functions > 1)
                || first_start.is_some_and(|start| iteration.span.start < start)
                || iteration.via_self != guard.change.via_self
                || held_at(project, function, iteration.span.start).is_some()
                || held_by_every_caller(context, id, 4, iteration.via_self)
            {
                continue;
            }
            let lock = &guard.lock.lock;
            let mut diagnostic = Diagnostic::new(
                RULE.code,
                model.path.clone(),
                iteration.span.clone(),
                format!(
                    "`{}` is iterated here without a lock, but `{}` adds or removes its items holding `{lock}`{}: the lock shows other threads change it, and a change during this loop raises `RuntimeError: dictionary changed size during iteration` (sets likewise; a list skips or repeats items)",
                    iteration.written,
                    project.function(guard.function).name,
                    match guard.change.state != iteration.state {
                        true => format!(
                            " (its `{}` is this `{}`, given to it by a constructor)",
                            guard.change.written, iteration.written
                        ),
                        false => String::new(),
                    },
                ),
            )
            .with_label("iterated without the lock")
            .with_help(format!(
                "hold `{lock}` for the loop, or iterate over a copy taken with it held (`with {lock}: items = list({})`)",
                iteration.written
            ));
            let changed = format!("`{}` changed with the lock held", guard.change.written);
            diagnostic.related = lock_sites(
                project,
                (guard.function, &guard.change.span),
                changed,
                (guard.held_in, guard.lock),
            );
            out.push(diagnostic);
        }
        // Changes without the lock of a container that other code loops over holding it: the
        // lock around the loop protects nothing from this change.
        for change in &function.container_changes {
            let state = context.state(&change.state);
            let Some(guard) = iterated.get(state) else {
                continue;
            };
            // Other code also changes it holding the lock: the lock is how it is shared.
            let changed_locked = changed.contains_key(state);
            let shared_object =
                change.via_self && is_shared(true, function, &concurrency.shared_classes);
            // Shared: either side runs on a thread, the function that loops under the lock
            // changes it without the lock itself (it expects to run on several threads), or
            // other changes hold the lock.
            let looped_on_thread = concurrency.functions.contains(&guard.function);
            if !(threaded_on(change.via_self)
                || shared_object
                || looped_on_thread
                || guard.function == id
                || changed_locked)
                || first_start.is_some_and(|start| change.span.start < start)
                || change.via_self != guard.change.via_self
                || held_at(project, function, change.span.start).is_some()
                // After a lock this function took and let go: where an explicit `release()`
                // in one branch ends a hold is only approximated, so the change may be held.
                || function.lock_holds.iter().any(|h| h.span.start < change.span.start)
                || takes_lock_before(project, id, change.span.start)
                || held_by_every_caller(context, id, 4, change.via_self)
            {
                continue;
            }
            let lock = &guard.lock.lock;
            let mut diagnostic = Diagnostic::new(
                RULE.code,
                model.path.clone(),
                change.span.clone(),
                format!(
                    "items of `{}` are added or removed here without a lock, but `{}` loops over it holding `{lock}`: the lock shows other threads use it, and this change during that loop raises `RuntimeError: dictionary changed size during iteration` (sets likewise; a list skips or repeats items)",
                    change.written,
                    project.function(guard.function).name,
                ),
            )
            .with_label("changed without the lock")
            .with_help(format!("hold `{lock}` for the change too"));
            let looped = format!("`{}` iterated with the lock held", guard.change.written);
            diagnostic.related = lock_sites(
                project,
                (guard.function, &guard.change.span),
                looped,
                (guard.held_in, guard.lock),
            );
            out.push(diagnostic);
        }
    }
}

/// Whether function `id` calls, before `position`, a project function that takes a lock and
/// returns holding it (`self._take()` acquiring what `self._give()` releases).
fn takes_lock_before(
    project: &crate::graph::Project,
    id: crate::graph::FunctionId,
    position: usize,
) -> bool {
    let function = project.function(id);
    (0..function.calls.len())
        .filter(|&call| function.calls[call].span.start < position)
        .filter_map(|call| project.target(crate::graph::CallSite { caller: id, call }))
        .any(|callee| {
            project
                .function(callee)
                .lock_holds
                .iter()
                .any(|h| h.unreleased)
        })
}

/// The guarded write and its lock, as related sites.
fn guard_sites(project: &crate::graph::Project, guard: &GuardedWrite) -> Vec<Related> {
    let written = format!("`{}` written with the lock held", guard.write.written);
    lock_sites(
        project,
        (guard.function, &guard.write.span),
        written,
        (guard.held_in, guard.lock),
    )
}

/// A site of `function` that uses state with `lock` held, and where the lock is taken, as
/// related sites.
fn lock_sites(
    project: &crate::graph::Project,
    (function, site): (crate::graph::FunctionId, &crate::model::Span),
    message: String,
    (held_in, lock): (crate::graph::FunctionId, &crate::model::LockHold),
) -> Vec<Related> {
    let taken = match held_in == function {
        true => format!("`{}` taken here", lock.lock),
        false => format!(
            "`{}` taken here, around the call of `{}`",
            lock.lock,
            project.function(function).name
        ),
    };
    vec![
        Related {
            path: project.model(function).path.clone(),
            span: site.clone(),
            message,
        },
        Related {
            path: project.model(held_in).path.clone(),
            span: lock.span.clone(),
            message: taken,
        },
    ]
}
