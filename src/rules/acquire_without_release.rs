//! IL204 acquire-without-release: a Python `acquire()` whose `release()` an exception or an
//! early exit can skip, and a Rust guard that is never dropped (`mem::forget`, `ManuallyDrop`).
//! The lock stays taken and every later acquisition blocks forever.

use super::{Check, Rule};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Related};
use crate::knowledge::Knowledge;
use crate::model::{FileModel, Leak};

pub const RULE: Rule = Rule {
    code: Code::IL204,
    check: Check::File(check),
};

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    for function in &model.functions {
        for leak in &function.leaked_locks {
            let lock = &leak.lock;
            // How the code takes the lock, and how to make sure it is given back.
            let (acquired, fix, or_with) = match &leak.through {
                Some((acquire, release)) => (
                    format!("what `{acquire}` acquires"),
                    format!("call `{release}` in a `finally`, which runs on every path"),
                    String::new(),
                ),
                None => (
                    format!("`{lock}.acquire()`"),
                    format!(
                        "use `with {lock}:`, which releases on every path (or release in a `finally`)"
                    ),
                    format!(", or use `with {lock}:`"),
                ),
            };
            let (message, label, help, related) = match &leak.why {
                Leak::EarlyExit(exit) => (
                    format!(
                        "{acquired} in `{}` is not released on every path: the lock is still held when this exit leaves the block, and every later `acquire()` blocks forever",
                        function.name
                    ),
                    "acquired without a guaranteed release",
                    fix,
                    Some((exit.clone(), "leaves with the lock held")),
                ),
                Leak::MayRaise(call) => (
                    format!(
                        "{acquired} in `{}` is released without `try`/`finally`: if the code in between raises, the lock stays held and every later `acquire()` blocks forever",
                        function.name
                    ),
                    "acquired without a guaranteed release",
                    fix,
                    Some((call.clone(), "may raise while the lock is held")),
                ),
                Leak::RaisesBeforeTry(call) => (
                    format!(
                        "{acquired} in `{}` is released in a `finally`, but code before its `try` may raise: then the `finally` never runs, the lock stays held and every later `acquire()` blocks forever",
                        function.name
                    ),
                    "acquired before the `try` that releases it",
                    format!("move the acquisition to just before the `try` (or this code into it){or_with}"),
                    Some((call.clone(), "may raise before the `try`")),
                ),
                Leak::CancelledWhileAcquiring => (
                    format!(
                        "{acquired} runs on a worker thread while `{}` awaits it, before the `try` whose `finally` releases the lock: if the task is cancelled at that await, the `finally` never runs, yet the worker still takes the lock, and every later `acquire()` blocks forever",
                        function.name
                    ),
                    "awaited before the `try` that releases it",
                    "move the awaited acquisition into the `try` (and release only once it completed), or use an `asyncio.Lock` for code that runs on the event loop".to_string(),
                    None,
                ),
                Leak::Forgotten | Leak::ManuallyDropped => (
                    format!(
                        "the guard of `{lock}` is never dropped (`{}`), so the lock stays taken forever and every later lock call blocks or deadlocks",
                        if leak.why == Leak::Forgotten { "mem::forget" } else { "ManuallyDrop" }
                    ),
                    "the guard is leaked here",
                    "let the guard drop at the end of its scope (or `drop(guard)`); to hold a lock across calls, keep the guard itself in a variable or struct".to_string(),
                    None,
                ),
            };
            let mut diagnostic =
                Diagnostic::new(RULE.code, model.path.clone(), leak.span.clone(), message)
                    .with_label(label)
                    .with_help(help);
            if let Some((span, message)) = related {
                diagnostic.related.push(Related {
                    path: model.path.clone(),
                    span,
                    message: message.to_string(),
                });
            }
            out.push(diagnostic);
        }
    }
}
