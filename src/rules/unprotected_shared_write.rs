//! IL401 unprotected-shared-write: code that may run on several threads at once does a
//! read-modify-write of shared state (`counter += 1`, `self.hits = self.hits + 1`) with no lock
//! held, and no lock guards that state anywhere. Updates get lost.

use super::shared_state::{guarded_writes, held_at, held_by_every_caller, is_shared};
use super::{Check, ProjectContext, Rule};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Related};
use crate::graph::threads::Concurrency;
use crate::graph::{FunctionId, Project};
use crate::model::{Access, Language};

pub const RULE: Rule = Rule {
    code: Code::IL401,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    let concurrency = context.concurrency();
    let guarded = guarded_writes(context);
    for (id, function) in project.functions() {
        if function.state_writes.is_empty() {
            continue;
        }
        let concurrent = concurrency.functions.contains(&id);
        let model = project.model(id);
        for write in &function.state_writes {
            let in_thread_closure =
                write.closure != 0 && concurrency.closures.contains(&(id, write.closure));
            if write.access != Access::ReadModifyWrite
                || function.is_constructor()
                || concurrency.fork_hooks.contains(&id)
                || !is_shared(write.via_self, function, &concurrency.shared_classes)
                || held_at(project, function, write.span.start).is_some()
                || held_by_every_caller(project, id, 4)
                || guarded.contains_key(write.state.as_str())
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
            } else if let Some(other) = written_alongside(project, concurrency, id, &write.state) {
                let (spawner, site) = other;
                let spawner = project.function(spawner);
                let starter = match spawner.kind {
                    crate::model::FunctionKind::Module => "the module's top-level code".to_string(),
                    _ => format!("`{}`", spawner.name),
                };
                (
                    format!(
                        "which runs on a thread while {starter}, which started it, writes it too"
                    ),
                    Some(site),
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
            if let Some((path, span)) = related {
                diagnostic.related.push(Related {
                    path,
                    span,
                    message: format!("`{}` is also written here, at the same time", write.written),
                });
            }
            out.push(diagnostic);
        }
    }
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
