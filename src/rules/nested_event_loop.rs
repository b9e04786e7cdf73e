//! IL107 nested-event-loop: `asyncio.run` / `block_on` inside code already running on an event loop

use super::transitive_blocking_call_in_async::reached_from_async;
use super::{Check, ProjectContext, Rule, blocking};
use crate::diagnostic::Diagnostic;
use crate::graph::summary;
use crate::knowledge::Knowledge;
use crate::model::FileModel;

pub const RULE: Rule = Rule {
    code: "IL107",
    name: "nested-event-loop",
    summary: "`asyncio.run` / `block_on` inside code already running on an event loop",
    doc: include_str!("../../rules/IL107-nested-event-loop.md"),
    check: Check::FileAndProject(check, check_through_calls),
};

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    blocking::check(
        model,
        RULE.code,
        "starts a nested event loop inside code that already runs on one: it fails at run time (asyncio raises RuntimeError, Tokio panics) or deadlocks the executor",
        out,
    );
}

/// A sync project function that starts an event loop, called from async code: the same
/// failure, some calls away.
fn check_through_calls(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    for reached in reached_from_async(context, summary::NESTED_LOOP) {
        let callee_name = &context.project.function(reached.callee).name;
        let (chain, place, leaf) = (&reached.chain, &reached.place, &reached.leaf_name);
        let diagnostic = reached.diagnostic(
            RULE.code,
            format!(
                "`{callee_name}()` in {place} starts a nested event loop: it reaches `{leaf}()` through {chain}, which fails at run time inside a running loop (asyncio raises RuntimeError, Tokio panics) or deadlocks the executor"
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
