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

/// Completes "`callee()` in async function `f` …" (Python; [`WHY_RUST`] for Rust).
const WHY: &str = "starts a nested event loop inside code that already runs on one: it fails at run time (asyncio raises RuntimeError) or deadlocks the loop";

/// [`WHY`] for Rust.
pub const WHY_RUST: &str = "starts a nested event loop inside code that already runs on one: it fails at run time (Tokio panics) or deadlocks the executor";

/// How starting a loop inside a running one fails, in `language`.
fn failure(language: Language) -> &'static str {
    match language {
        Language::Python => "asyncio raises RuntimeError",
        Language::Rust => "Tokio panics",
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
        let failure = failure(context.project.model(reached.callee).language);
        let diagnostic = reached.diagnostic(
            RULE.code,
            format!(
                "`{callee_name}()` in {place} starts a nested event loop: it reaches `{leaf}()` through {chain}, which fails at run time inside a running loop ({failure}) or deadlocks it"
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
