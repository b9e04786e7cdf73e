//! IL203 sync-lock-held-across-await: a thread-blocking lock (or a `RefCell` borrow) is held
//! while async code awaits.

use super::{Check, Rule};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Related};
use crate::knowledge::Knowledge;
use crate::model::{FileModel, Language};
use crate::rules::blocking::describe;

pub const RULE: Rule = Rule {
    code: Code::IL203,
    check: Check::File(check),
};

/// How many of the awaits a lock is held across are pointed at (the message counts them all).
const MAX_AWAITS_SHOWN: usize = 16;

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    let fix = match model.language {
        Language::Python => {
            "release it before awaiting (end the `with` block first), or use an `asyncio.Lock` with `async with`"
        }
        Language::Rust => {
            "drop the guard before the `.await` (`drop(guard)` or an inner block), or use `tokio::sync::Mutex`"
        }
    };
    for function in &model.functions {
        for hold in function.lock_holds.iter().filter(|h| !h.awaits.is_empty()) {
            let count = match hold.awaits.len() {
                1 => "an await".to_string(),
                n if n > MAX_AWAITS_SHOWN => {
                    format!("{n} awaits (the first {MAX_AWAITS_SHOWN} are shown)")
                }
                n => format!("{n} awaits"),
            };
            let kind = hold
                .kind
                .rsplit_once("::")
                .map_or(hold.kind.as_str(), |(ty, _)| ty);
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
    }
}
