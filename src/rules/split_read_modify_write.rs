//! IL404 split-read-modify-write: a value read from shared state, then an `await` (or the end
//! of a critical section), then the state written from that value. Whatever other tasks or
//! threads wrote in between is lost.

use super::{Check, ProjectContext, Rule};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Related};
use crate::model::{Context, Language};

pub const RULE: Rule = Rule {
    code: Code::IL404,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    for (id, function) in project.functions() {
        if function.state_writes.is_empty() {
            continue;
        }
        let model = project.model(id);
        for write in &function.state_writes {
            let Some(read) = &write.read else { continue };
            // Read under one guard, written under another of the same lock (Rust records only
            // that shape). Python: also read, then an await, then written.
            let split_by_lock = model.language == Language::Rust
                || function.lock_holds.iter().any(|first| {
                    first.covers(read.start)
                        && !first.covers(write.span.start)
                        && function.lock_holds.iter().any(|second| {
                            second.identity == first.identity
                                && !second.identity.is_empty()
                                && second.covers(write.span.start)
                                && !second.covers(read.start)
                        })
                });
            let split_by_await =
                write.context == Context::Async && !write.awaits_between.is_empty();
            if !(split_by_lock || split_by_await) {
                continue;
            }
            // A lock held across the whole sequence makes it atomic.
            let held_across = function.lock_holds.iter().any(|h| {
                h.covers(read.start) && h.covers(write.span.start) && project.takes_lock(h)
            });
            if held_across {
                continue;
            }
            let (message, help) = if split_by_lock {
                (
                    format!(
                        "`{}` is read in one critical section and written back in another from the value read before, in `{}`: another thread can update it between the two, and that update is lost",
                        write.written, function.name
                    ),
                    match model.language {
                        Language::Rust => format!(
                            "do the read and the write under one guard: `let mut guard = {}.lock().unwrap(); *guard = f(*guard);`",
                            write.written
                        ),
                        Language::Python => {
                            "do the read and the write under one `with` block of the lock"
                                .to_string()
                        }
                    },
                )
            } else {
                (
                    format!(
                        "`{}` is written from a value read before an `await` in `{}`: while this task is suspended other tasks can change it, and their changes are overwritten",
                        write.written, function.name
                    ),
                    format!(
                        "update `{}` in one step after the await (read it again), or hold an `asyncio.Lock` across the read, the await and the write",
                        write.written
                    ),
                )
            };
            let mut diagnostic =
                Diagnostic::new(RULE.code, model.path.clone(), write.span.clone(), message)
                    .with_label("written from a stale value")
                    .with_help(help);
            diagnostic.related.push(Related {
                path: model.path.clone(),
                span: read.clone(),
                message: "read here".into(),
            });
            for span in &write.awaits_between {
                diagnostic.related.push(Related {
                    path: model.path.clone(),
                    span: span.clone(),
                    message: "other tasks run during this await".into(),
                });
            }
            out.push(diagnostic);
        }
    }
}
