//! IL106 transitive-blocking-call-in-async: an async function calls a sync project function that
//! reaches a blocking call (IL101–IL105) through any number of calls and files.

use super::{Check, ProjectContext, Rule, call_hop};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Related};
use crate::graph::summary::{self, BlocksVia};
use crate::graph::{CallSite, FunctionId, Project};
use crate::model::{Context, Language};
use crate::rules::blocking::describe;

pub const RULE: Rule = Rule {
    code: Code::IL106,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    let summaries = summary::blocking_summaries(project, context);
    for (caller, function) in project.functions() {
        for (index, call) in function.calls.iter().enumerate() {
            if call.context != Context::Async || call.awaited {
                continue;
            }
            let site = CallSite {
                caller,
                call: index,
            };
            let Some(callee) = project.target(site) else {
                continue;
            };
            let within_depth = summaries
                .get(&callee)
                .is_some_and(|via| via.depth() <= context.file(caller).settings.max_call_depth);
            if project.function(callee).is_async || !within_depth {
                continue;
            }
            out.push(diagnostic(project, &summaries, site, callee));
        }
    }
}

/// The finding at an async call site, with the chain down to the blocking call.
fn diagnostic(
    project: &Project,
    summaries: &rustc_hash::FxHashMap<FunctionId, BlocksVia>,
    site: CallSite,
    callee: FunctionId,
) -> Diagnostic {
    let model = project.model(site.caller);
    let hops = summary::chain(summaries, callee);
    let mut names = vec![
        project.function(site.caller).name.clone(),
        project.function(callee).name.clone(),
    ];
    let mut related = Vec::new();
    let mut leaf_rule = "";
    for hop in &hops {
        match hop {
            BlocksVia::Call { site, callee, .. } => {
                names.push(project.function(*callee).name.clone());
                related.push(call_hop(project, *site, *callee, ""));
            }
            BlocksVia::Leaf { site } => {
                let call = project.call(*site);
                // A leaf of the blocking summaries is a blocking API's call.
                let rule = call.blocking.as_ref().map_or("", |api| api.rule.as_str());
                let leaf = call
                    .callee
                    .clone()
                    .or_else(|| call.method.clone())
                    .unwrap_or_else(|| "this call".into());
                names.push(format!("{leaf}()"));
                leaf_rule = rule;
                related.push(Related {
                    path: project.model(site.caller).path.clone(),
                    span: call.span.clone(),
                    message: format!("`{leaf}()` blocks here ({rule})"),
                });
            }
        }
    }
    let callee_name = &project.function(callee).name;
    let chain = names.join(" → ");
    let place = describe(project.function(site.caller), model);
    let offload = match model.language {
        Language::Python => format!("`await asyncio.to_thread({callee_name}, ...)`"),
        Language::Rust => format!("`tokio::task::spawn_blocking(move || {callee_name}(..)).await`"),
    };
    let mut diagnostic = Diagnostic::new(
        RULE.code,
        model.path.clone(),
        project.call(site).span.clone(),
        format!(
            "`{callee_name}()` in {place} blocks the event loop: it reaches a blocking call ({leaf_rule}) through {chain}"
        ),
    )
    .with_label(format!("`{callee_name}()` blocks the event loop: {chain}"))
    .with_help(format!(
        "run it off the event loop with {offload}, or make the chain async; if it never blocks in practice, list it under `non-blocking` in the config"
    ));
    diagnostic.related = related;
    diagnostic
}
