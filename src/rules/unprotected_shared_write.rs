//! IL401 unprotected-shared-write: code that may run on several threads at once does a
//! read-modify-write of shared state (`counter += 1`, `self.hits = self.hits + 1`) with no lock
//! held, and no lock guards that state anywhere. Updates get lost. Also a container that an
//! object's own thread loops over while its public methods change it in place (or the other
//! way round), with no lock anywhere.

use rustc_hash::FxHashMap as HashMap;

use super::shared_state::{
    class_of, guarded_changes, guarded_writes, held_at, held_by_every_caller, is_shared,
    locking_for_callers, started_here,
};
use super::{Check, ProjectContext, Rule};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Related};
use crate::graph::threads::{Alongside, Concurrency};
use crate::graph::{FunctionId, Project};
use crate::model::{Access, Language, Span, StateUse};

pub const RULE: Rule = Rule {
    code: Code::IL401,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    changed_while_iterated(context, out);
    let project = context.project;
    let concurrency = context.concurrency();
    let guarded = guarded_writes(context, false);
    let for_callers = locking_for_callers(context);
    for (id, function) in project.functions() {
        if function.state_writes.is_empty() {
            continue;
        }
        let concurrent = concurrency.functions.contains(&id);
        let model = project.model(id);
        for write in &function.state_writes {
            // The public method that runs this write on its callers' threads, taking a lock
            // of its object for other state.
            let entry = (write.via_self && write.access == Access::ReadModifyWrite)
                .then(|| public_entry(project, &for_callers, id))
                .flatten();
            let in_thread_closure =
                write.closure != 0 && concurrency.closures.contains(&(id, write.closure));
            if write.access != Access::ReadModifyWrite
                || function.runs_unshared()
                || concurrency.fork_hooks.contains(&id)
                || !(is_shared(write.via_self, function, &concurrency.shared_classes)
                    || entry.is_some())
                || held_at(project, function, write.span.start).is_some()
                || held_by_every_caller(context, id, 4, write.via_self)
                || guarded.contains_key(context.state(&write.state))
            {
                continue;
            }
            let (place, related) = if concurrency.documented.contains(&id) {
                (
                    "which is documented as safe to call from several threads".to_string(),
                    None,
                )
            } else if concurrent || in_thread_closure {
                ("which runs on several threads at once".to_string(), None)
            } else if let Some((entry, hold)) = entry {
                let lock = &hold.lock;
                (
                    format!(
                        "which `{}` runs on its callers' threads: it takes `{lock}` for part of its work, so it is called from several threads at once, but this update is outside the lock",
                        project.function(entry).name,
                    ),
                    Some((
                        project.model(entry).path.clone(),
                        hold.span.clone(),
                        format!("`{lock}` is taken here, for other state"),
                    )),
                )
            } else if let Some(other) = written_alongside(project, concurrency, id, &write.state) {
                let (spawner, site) = other;
                let spawner = project.function(spawner);
                let starter = match spawner.kind {
                    crate::model::FunctionKind::Module => "the module's top-level code".to_string(),
                    _ => format!("`{}`", spawner.name),
                };
                let (path, span) = site;
                let message = format!("`{}` is also written here, at the same time", write.written);
                (
                    format!(
                        "which runs on a thread while {starter}, which started it, writes it too"
                    ),
                    Some((path, span, message)),
                )
            } else {
                continue;
            };
            let fix = match model.language {
                Language::Python => format!(
                    "hold one lock around every update of `{}` (`with self._lock:` / a module-level `threading.Lock()`), or keep the state per thread",
                    write.written
                ),
                Language::Rust => format!(
                    "use an atomic (`AtomicU64::fetch_add`) or a `Mutex` instead of `static mut {}`",
                    write.written
                ),
            };
            let mut diagnostic = Diagnostic::new(
                RULE.code,
                model.path.clone(),
                write.span.clone(),
                format!(
                    "`{}` is read, changed and written back without a lock in `{}`, {place}: two threads can read the same value and one update is lost",
                    write.written, function.name
                ),
            )
            .with_label("unsynchronised read-modify-write")
            .with_help(fix);
            if let Some((path, span, message)) = related {
                diagnostic.related.push(Related {
                    path,
                    span,
                    message,
                });
            } else if concurrent && !concurrency.documented.contains(&id) {
                diagnostic
                    .related
                    .extend(started_here(project, concurrency, id, &function.name));
            }
            out.push(diagnostic);
        }
    }
}

/// The public method that takes a lock of its object for part of its work (see
/// [`locking_for_callers`]) through which a method runs on its callers' threads: the method
/// itself, or one of its class that calls it outside any lock. With that method's hold.
fn public_entry<'p>(
    project: &Project,
    for_callers: &HashMap<FunctionId, &'p crate::model::LockHold>,
    id: FunctionId,
) -> Option<(FunctionId, &'p crate::model::LockHold)> {
    if let Some(hold) = for_callers.get(&id) {
        return Some((id, *hold));
    }
    // (Not a caller that calls it holding a lock: that call is protected.)
    let class = class_of(project.function(id));
    project.call_sites_to(id).find_map(|site| {
        let hold = for_callers.get(&site.caller)?;
        let caller = project.function(site.caller);
        let unlocked = held_at(project, caller, project.call(site).span.start).is_none();
        (unlocked && class_of(caller) == class).then_some((site.caller, *hold))
    })
}

/// For a function on a thread started once, a write of the same state (without a lock) by the
/// starting thread after it started the thread: the spawner and the site.
fn written_alongside(
    project: &Project,
    concurrency: &Concurrency,
    id: FunctionId,
    state: &str,
) -> Option<(FunctionId, (std::path::PathBuf, crate::model::Span))> {
    concurrency
        .alongside
        .iter()
        .filter(|a| a.thread.contains(&id))
        .find_map(|a| {
            let candidates = std::iter::once(a.spawner).chain(a.spawner_side.iter().copied());
            candidates.into_iter().find_map(|other| {
                let function = project.function(other);
                function
                    .state_writes
                    .iter()
                    .filter(|w| {
                        w.state == state && held_at(project, function, w.span.start).is_none()
                    })
                    .find(|w| other != a.spawner || w.span.start > a.after)
                    .map(|w| {
                        (
                            a.spawner,
                            (project.model(other).path.clone(), w.span.clone()),
                        )
                    })
            })
        })
}

/// `for e in self.events:` on the thread an object starts for itself, while a public method of
/// the object removes from `self.events` on its callers' threads (or the thread changes what
/// a public method loops over), with no lock around either and none guarding the container
/// anywhere (IL402 covers a container some code changes under a lock). The loop skips items,
/// or fails with `RuntimeError: … changed size during iteration`.
fn changed_while_iterated(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    let concurrency = context.concurrency();
    let guarded = guarded_changes(context, false);
    // Unlocked uses of `self` containers outside constructors, by state.
    let mut changes: HashMap<&str, Vec<(FunctionId, &StateUse)>> = HashMap::default();
    let mut loops: HashMap<&str, Vec<(FunctionId, &StateUse)>> = HashMap::default();
    for (id, function) in project.functions() {
        if function.runs_unshared() || project.model(id).language != Language::Python {
            continue;
        }
        let unlocked = |use_: &&StateUse| {
            !guarded.contains_key(context.state(&use_.state))
                && held_at(project, function, use_.span.start).is_none()
        };
        for change in function.container_changes.iter().filter(unlocked) {
            changes.entry(&change.state).or_default().push((id, change));
        }
        for iteration in function.iterations.iter().filter(unlocked) {
            loops
                .entry(&iteration.state)
                .or_default()
                .push((id, iteration));
        }
    }
    let mut reported = Vec::new();
    let mut report = |looping: (FunctionId, &StateUse),
                      changer: (FunctionId, &StateUse),
                      sides: [String; 2],
                      out: &mut Vec<Diagnostic>| {
        let ((looping, iteration), (changer, change)) = (looping, changer);
        if reported.contains(&(looping, iteration.span.start)) {
            return;
        }
        reported.push((looping, iteration.span.start));
        let model = project.model(looping);
        let mut diagnostic = Diagnostic::new(
            RULE.code,
            model.path.clone(),
            iteration.span.clone(),
            format!(
                "`{}` is looped over in `{}` {}, while `{}` changes it in place {}, with no lock held in either place: the loop sees a mix of old and new items, and where the change adds or removes items it skips or repeats some, or fails with `RuntimeError: … changed size during iteration`",
                iteration.written,
                project.function(looping).name,
                sides[0],
                project.function(changer).name,
                sides[1],
            ),
        )
        .with_label("iterated without a lock")
        .with_help(format!(
            "hold one lock around the loop and every change of `{}`, or loop over a copy taken under it (`for e in list(self.events):` alone is not enough without the lock)",
            iteration.written
        ));
        diagnostic.related.push(Related {
            path: project.model(changer).path.clone(),
            span: change.span.clone(),
            message: format!("`{}` is changed here", change.written),
        });
        out.push(diagnostic);
    };
    // A container every thread changes under its own id (`self._cache[get_ident()] = t`),
    // looped over without a lock: another thread can add or remove its entry meanwhile.
    let mut thread_keyed: HashMap<&str, Vec<(&std::path::Path, &Span)>> = HashMap::default();
    for model in &project.models {
        for (state, key) in &model.thread_keyed {
            thread_keyed
                .entry(state)
                .or_default()
                .push((&model.path, key));
        }
    }
    for (state, keys) in &thread_keyed {
        let (Some(iterations), Some(changed)) = (loops.get(state), changes.get(state)) else {
            continue;
        };
        // The change made under the thread's id, when the model has it.
        let keyed = changed.iter().find(|(id, change)| {
            keys.iter().any(|(path, key)| {
                *path == project.model(*id).path.as_path()
                    && change.span.start <= key.start
                    && key.end <= change.span.end
            })
        });
        for looping in iterations {
            let sides = [
                "on any thread".to_string(),
                "on every thread, each under its own thread id as the key".to_string(),
            ];
            report(*looping, *keyed.unwrap_or(&changed[0]), sides, out);
        }
    }
    for started in &concurrency.alongside {
        let on_thread = |id: &FunctionId| started.thread.contains(id);
        // An object handed to the thread (`Thread(target=check, args=(m,))`) that the starting
        // function goes on changing (`m.register(pid)`) while the thread loops over it, or
        // the other way round.
        let spawner_side = |id: &FunctionId| {
            !on_thread(id) && (*id == started.spawner || started.spawner_side.contains(id))
        };
        for (state, iterations) in &loops {
            let Some(changed) = changes.get(state) else {
                continue;
            };
            // An object's state only where the thread was handed that object: a thread that
            // builds one of its own (`loop2 = BaseEventLoop()`) changes another object.
            let owner = state.rsplit_once('.').map(|(owner, _)| owner);
            if let (Some(handed), Some(owner)) = (&started.handed, owner)
                && project.index.is_class(owner)
                && !handed.iter().any(|class| {
                    class == owner || crate::graph::threads::derives_from(project, class, owner, 8)
                })
            {
                continue;
            }
            for thread_loops in [true, false] {
                let side_of = |id: &FunctionId, thread: bool| {
                    if thread {
                        on_thread(id)
                    } else {
                        spawner_side(id)
                    }
                };
                let looping = iterations.iter().find(|(id, iteration)| {
                    side_of(id, thread_loops)
                        && (*id != started.spawner || iteration.span.start > started.after)
                });
                let changer = changed.iter().find(|(id, change)| {
                    side_of(id, !thread_loops)
                        && (*id != started.spawner || change.span.start > started.after)
                });
                let (Some(&(looping, iteration)), Some(&(changer, change))) = (looping, changer)
                else {
                    continue;
                };
                let spawner = &project.function(started.spawner).name;
                let thread = format!("on a thread that `{spawner}` starts");
                let starter = format!("on the thread that started it (from `{spawner}`)");
                let sides = match thread_loops {
                    true => [thread, starter],
                    false => [starter, thread],
                };
                report((looping, iteration), (changer, change), sides, out);
            }
        }
        // A public method of the thread's class, or of a class whose bound method the thread
        // runs as a callback, that the thread does not run: its callers'.
        let spawner_class = class_of(project.function(started.spawner))
            .filter(|class| concurrency.shared_classes.contains(*class));
        if let Some(class) = spawner_class {
            let thread = "on the thread it starts".to_string();
            let race = PublicMethodsRace {
                started,
                class,
                thread,
            };
            race.check(context, &loops, &changes, &mut report, out);
        }
        // The object whose method the thread runs (a `Thread` subclass running its `run`):
        // its public methods, and other objects' that reach its containers, run on their
        // callers' threads. And the objects whose bound methods it calls back.
        let spawner = &project.function(started.spawner).name;
        let objects = started
            .objects
            .iter()
            .filter(|class| {
                spawner_class != Some(class.as_str()) && !started.callbacks.contains(class)
            })
            .map(|class| (class, format!("on the thread `{spawner}` starts")));
        let callbacks = started.callbacks.iter().map(|class| {
            let thread = format!("on the thread `{spawner}` starts, which calls it back");
            (class, thread)
        });
        for (class, thread) in objects.chain(callbacks) {
            let race = PublicMethodsRace {
                started,
                class,
                thread,
            };
            race.check(context, &loops, &changes, &mut report, out);
        }
    }
}

/// Uses of a container's state by the functions that use it, without a lock.
type StateUses<'p> = HashMap<&'p str, Vec<(FunctionId, &'p StateUse)>>;

/// A thread and a class whose object it shares, for [`changed_while_iterated`]: the public
/// methods of the class that the thread does not run are called on their callers' threads.
struct PublicMethodsRace<'p> {
    started: &'p Alongside,
    class: &'p str,
    /// How messages name the thread's side.
    thread: String,
}

impl PublicMethodsRace<'_> {
    fn check<'p>(
        &self,
        context: &ProjectContext,
        loops: &StateUses<'p>,
        changes: &StateUses<'p>,
        report: &mut impl FnMut(
            (FunctionId, &'p StateUse),
            (FunctionId, &'p StateUse),
            [String; 2],
            &mut Vec<Diagnostic>,
        ),
        out: &mut Vec<Diagnostic>,
    ) {
        let (started, class) = (self.started, self.class);
        let project = context.project;

        let on_thread = |id: &FunctionId| started.thread.contains(id);
        // The thread looks its object's methods up by name (`getattr(self, f"handle_{sig}")`):
        // any of them may be the thread's.
        if started.thread.iter().any(|id| {
            let function = project.function(*id);
            function.dispatches_by_name && class_of(function) == Some(class)
        }) {
            return;
        }
        // A public method of the class using its own object, or of another class reaching
        // the object through an attribute it keeps (`self.reader.subjects`).
        let outside = |id: &FunctionId, use_: &StateUse| {
            let function = project.function(*id);
            let reached = match use_.via_self {
                true => class_of(function) == Some(class),
                false => use_
                    .state
                    .rsplit_once('.')
                    .is_some_and(|(owner, _)| owner == class),
            };
            // (Not the starting function itself when it waits for the thread's work.)
            let waits = *id == started.spawner && started.after == usize::MAX;
            reached
                && !waits
                && !on_thread(id)
                && !held_by_every_caller(context, *id, 4, use_.via_self)
                && function
                    .name
                    .rsplit('.')
                    .next()
                    .is_some_and(|name| !name.starts_with('_'))
        };
        for (state, iterations) in loops {
            let Some(changed) = changes.get(state) else {
                continue;
            };
            // The thread loops while a public method changes, or the other way round.
            for thread_loops in [true, false] {
                let side_of = |(id, use_): &&(FunctionId, &StateUse), thread: bool| match thread {
                    true => use_.via_self && on_thread(id),
                    false => outside(id, use_),
                };
                let Some((looping, iteration)) =
                    iterations.iter().find(|u| side_of(u, thread_loops))
                else {
                    continue;
                };
                let Some((changer, change)) = changed.iter().find(|u| side_of(u, !thread_loops))
                else {
                    continue;
                };
                let side = |id: &FunctionId| match on_thread(id) {
                    true => self.thread.clone(),
                    false => "on its callers' threads".to_string(),
                };
                let sides = [side(looping), side(changer)];
                report((*looping, *iteration), (*changer, *change), sides, out);
            }
        }
    }
}
