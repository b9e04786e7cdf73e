//! IL301 process-spawn-without-main-guard: code that runs when the module is imported (not
//! under `if __name__ == "__main__":`) starts worker processes, directly or through calls.
//! Under the spawn and forkserver start methods every child re-imports the main module, so the
//! import starts processes again.

use super::{Check, ProjectContext, Rule, call_hop, call_site};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Related};
use crate::graph::summary::{self, BlocksVia};
use crate::graph::threads::derives_from;
use crate::graph::{CallSite, FunctionId, Project};
use crate::knowledge::SpawnArgument;
use crate::model::condition::{Input, Slot, Value, key};
use crate::model::{Function, Language};
use rustc_hash::FxHashMap as HashMap;

pub const RULE: Rule = Rule {
    code: Code::IL301,
    check: Check::Project(check),
};

/// The base every project `Process` subclass derives from.
const PROCESS_CLASSES: &[&str] = &["multiprocessing.Process", "multiprocessing.context.Process"];

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    let project = context.project;
    // Only what top-level code reaches matters: searched from there, memoised.
    let mut summaries: HashMap<FunctionId, Option<BlocksVia>> = HashMap::default();
    for (file, model) in project.models.iter().enumerate() {
        // A package's `__main__.py` (`python -m pkg`, a directory or zip run as a program):
        // multiprocessing never re-runs it in a child (`spawn._fixup_main_from_name` skips a
        // main module named `__main__` or `*.__main__`), so it needs no guard.
        if model.language != Language::Python
            || model.path.file_name() == Some("__main__.py".as_ref())
        {
            continue;
        }
        let module = FunctionId { file, index: 0 };
        for (index, call) in model.functions[0].calls.iter().enumerate() {
            let guarded = model
                .main_guards
                .iter()
                .any(|g| g.contains(&call.span.start));
            if guarded {
                continue;
            }
            let site = CallSite {
                caller: module,
                call: index,
            };
            let (related, api) = if let Some(api) = spawn_api(context, project, site) {
                (Vec::new(), api)
            } else {
                let Some(callee) = project.target(site) else {
                    continue;
                };
                if spawns_via(context, &mut summaries, callee, MAX_DEPTH).is_none() {
                    continue;
                }
                chain(project, &summaries, callee)
            };
            let written = call
                .callee
                .as_deref()
                .map(|c| c.rsplit('.').next().unwrap_or(c))
                .unwrap_or("this call");
            let api = api
                .strip_prefix(&model.module)
                .and_then(|rest| rest.strip_prefix('.'))
                .unwrap_or(&api);
            let how = if related.is_empty() {
                format!("`{api}` starts worker processes")
            } else {
                format!("`{written}()` starts worker processes (through `{api}`)")
            };
            let mut diagnostic = Diagnostic::new(
                RULE.code,
                model.path.clone(),
                call.span.clone(),
                format!(
                    "{how} when this module is imported, outside `if __name__ == \"__main__\":`: the spawn and forkserver start methods (the default on macOS and Windows, and everywhere from Python 3.14) re-import the main module in every child, which starts processes again — endless re-spawning or `RuntimeError: An attempt has been made to start a new process before the current process has finished its bootstrapping phase`"
                ),
            )
            .with_label("starts processes at import time")
            .with_help(
                "move this under `if __name__ == \"__main__\":` (or into a `main()` function called from there)",
            );
            diagnostic.related = related;
            out.push(diagnostic);
        }
    }
}

/// How many calls deep a spawn is looked for below top-level code.
const MAX_DEPTH: usize = 8;

/// How a function reaches a process spawn (its first call on the way), searched depth-first
/// and memoised; a function on the current path counts as not spawning (recursion).
fn spawns_via(
    context: &ProjectContext,
    summaries: &mut HashMap<FunctionId, Option<BlocksVia>>,
    id: FunctionId,
    depth: usize,
) -> Option<BlocksVia> {
    if let Some(known) = summaries.get(&id) {
        return known.clone();
    }
    let project = context.project;
    summaries.insert(id, None);
    let function = project.function(id);
    let mut found = None;
    for index in 0..function.calls.len() {
        let site = CallSite {
            caller: id,
            call: index,
        };
        if spawn_api(context, project, site).is_some() {
            found = Some(BlocksVia::Leaf { site });
            break;
        }
        let Some(callee) = project.target(site) else {
            continue;
        };
        if !project.runs_now(site, callee) || depth == 0 {
            continue;
        }
        if let Some(via) = spawns_via(context, summaries, callee, depth - 1) {
            let depth = via.depth() + 1;
            if found.as_ref().is_none_or(|f: &BlocksVia| depth < f.depth()) {
                found = Some(BlocksVia::Call {
                    site,
                    callee,
                    depth,
                    route: 0,
                });
            }
        }
    }
    summaries.insert(id, found.clone());
    found
}

/// The process-starting API a call is, if it is one.
fn spawn_api(context: &ProjectContext, project: &Project, site: CallSite) -> Option<String> {
    if project.model(site.caller).language != Language::Python {
        return None;
    }
    let call = project.call(site);
    let callee = call.callee.as_deref()?;
    let tables = context
        .file(site.caller)
        .settings
        .knowledge
        .tables(Language::Python);
    if tables.process_spawns.contains(callee) {
        return Some(callee.to_string());
    }
    if let Some(argument) = tables.process_spawns_if_given.get(callee) {
        return starts_workers(project.function(site.caller), site.call, argument)
            .then(|| callee.to_string());
    }
    // `Worker(...).start()` of a project class deriving from `multiprocessing.Process`.
    let class = callee.strip_suffix(".start")?;
    PROCESS_CLASSES
        .iter()
        .any(|base| derives_from(project, class, base, 8))
        .then(|| callee.to_string())
}

/// Whether call number `call` of `function` gives the argument that makes it start processes
/// a value other than a literal `0`, `None` or `False`: not when it leaves it out (or may pass
/// it through `**kwargs`), nor when it passes a parameter whose default is such a literal.
fn starts_workers(function: &Function, call: usize, argument: &SpawnArgument) -> bool {
    let keyword = Slot::Keyword(key(&argument.keyword));
    let given = function
        .arguments(call)
        .iter()
        .find(|fact| fact.slot() == keyword || fact.slot() == Slot::Position(argument.position));
    let off = |value: Value| matches!(value, Value::Int(0) | Value::None | Value::Bool(false));
    match given.map(|fact| fact.value) {
        None => {
            // Given positionally but of no value noted: any value.
            usize::from(argument.position) < usize::from(function.calls[call].positional_arguments)
        }
        Some(Value::Input(Input::Parameter(name))) => !function
            .parameters
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.default)
            .is_some_and(off),
        Some(value) => !off(value),
    }
}

/// The related sites from a function down to the process spawn, and the spawning API.
fn chain(
    project: &Project,
    summaries: &HashMap<FunctionId, Option<BlocksVia>>,
    start: FunctionId,
) -> (Vec<Related>, String) {
    let mut related = Vec::new();
    let mut api = String::new();
    let hops = summary::follow(start, 0, summaries.len(), |id, _| {
        summaries.get(&id)?.as_ref()
    });
    for hop in hops {
        match hop {
            BlocksVia::Call { site, callee, .. } => {
                related.push(call_hop(project, site, callee, ""));
            }
            BlocksVia::Leaf { site } => {
                // A leaf is a call `spawn_api` found: its API is its callee.
                let rule = project.call(site).callee.clone().unwrap_or_default();
                related.push(call_site(
                    project,
                    site,
                    format!("`{rule}` starts processes here"),
                ));
                api = rule;
            }
        }
    }
    (related, api)
}
