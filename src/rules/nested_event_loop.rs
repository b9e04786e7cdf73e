//! IL107 nested-event-loop: `asyncio.run` / `block_on` inside code already running on an event loop

use super::transitive_blocking_call_in_async::reached_from_async;
use super::{Check, ProjectContext, Rule, blocking};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::graph::summary;
use crate::knowledge::Knowledge;
use crate::model::{FileModel, Language};

pub const RULE: Rule = Rule {
    code: Code::IL107,
    check: Check::FileAndProject(check, check_project),
};

/// Completes "`callee()` in async function `f` …" (Python; [`why_rust`] for Rust).
const WHY: &str = "starts a nested event loop inside code that already runs on one: it fails at run time (asyncio raises RuntimeError) or deadlocks the loop";

/// [`WHY`] for Rust: Tokio's `block_on` panics inside a runtime; the other executors' (futures,
/// async-std, pollster, smol…) support nesting but block the thread they are called on.
pub fn why_rust(callee: Option<&str>) -> &'static str {
    match callee {
        Some(callee) if is_tokio_block_on(callee) => {
            "starts a nested event loop inside code that already runs on one: Tokio panics (\"Cannot start a runtime from within a runtime\")"
        }
        Some(callee) if callee.contains("::") => {
            "runs a future to completion on the thread of the executor that runs this code: every other task of that thread waits meanwhile, and if the future needs one of them (or the thread itself) the executor deadlocks"
        }
        _ => {
            "starts a nested event loop inside code that already runs on one: Tokio panics, and other executors block their thread (a deadlock if the future needs it)"
        }
    }
}

/// Whether a callee is Tokio's `block_on`, which panics inside a runtime.
fn is_tokio_block_on(callee: &str) -> bool {
    callee.starts_with("tokio::") && callee.ends_with("::block_on")
}

/// How starting a loop inside a running one fails, in `language`, by the API that starts it
/// (a method the analysis could not type may be any executor's).
fn failure(language: Language, leaf: &str) -> &'static str {
    match language {
        Language::Python => "asyncio raises RuntimeError",
        Language::Rust if is_tokio_block_on(leaf) => "Tokio panics",
        Language::Rust if leaf.contains("::") => {
            "that blocks the executor's thread (a deadlock if the future needs it)"
        }
        Language::Rust => {
            "Tokio panics, and other executors block their thread (a deadlock if the future needs it)"
        }
    }
}

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    blocking::check(model, RULE.code, WHY, out);
}

/// Calls the file alone could not type: methods of objects another file defines.
fn check_late(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    blocking::check_late(context, RULE.code, WHY, out);
}

/// What only the project shows: calls the file could not type, and sync helpers that start an
/// event loop called from async code (the same failure, some calls away).
fn check_project(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    check_late(context, out);
    for reached in reached_from_async(context, summary::NESTED_LOOP) {
        let callee_name = &context.project.function(reached.callee).name;
        let (chain, place, leaf) = (&reached.chain, &reached.place, &reached.leaf_name);
        let language = context.project.model(reached.callee).language;
        let failure = failure(language, leaf);
        let diagnostic = reached.diagnostic(
            RULE.code,
            format!(
                "`{callee_name}()` in {place} starts a nested event loop: it reaches `{leaf}()` through {chain}, and inside a running loop {failure}"
            ),
            format!("`{callee_name}()` starts an event loop: {chain}"),
            format!("`{leaf}()` starts an event loop here"),
            format!(
                "from async code, await the coroutine (or future) that `{callee_name}()` runs instead of calling it; keep `{callee_name}()` for sync callers"
            ),
        );
        out.push(diagnostic);
    }
}
