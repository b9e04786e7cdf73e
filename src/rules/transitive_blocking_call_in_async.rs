//! IL106 transitive-blocking-call-in-async: an async function calls a sync project function that
//! reaches a blocking call (IL101–IL105) through any number of calls and files.

use super::{Check, ProjectContext, Rule, call_hop};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Related};
use crate::graph::summary::{self, BlocksVia, Reaching, Summaries};
use crate::graph::{CallSite, FunctionId};
use crate::model::{Context, Language};
use crate::rules::blocking::describe;

pub const RULE: Rule = Rule {
    code: Code::IL106,
    check: Check::Project(check),
};

fn check(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    for reached in reached_from_async(context, summary::BLOCKING) {
        // An override of a blocking library method is reported as that method (IL101–IL105).
        if context.late_blocking().contains_key(&reached.site) {
            continue;
        }
        let model = context.project.model(reached.site.caller);
        let callee_name = &context.project.function(reached.callee).name;
        // A callback called through what holds it (`self._on_data(msg)` running
        // `Client.on_data`): the call as written, and what it runs.
        let call = context.project.call(reached.site);
        let named = |method: &str| callee_name.split(['.', ':']).any(|part| part == method);
        let overrides = context.project.target(reached.site) != Some(reached.callee);
        let shown = match &call.method {
            Some(method) if overrides => {
                format!("`.{method}()` (which runs the override `{callee_name}()`)")
            }
            Some(method) if !named(method) => {
                format!("`.{method}()` (which runs `{callee_name}()`)")
            }
            _ => format!("`{callee_name}()`"),
        };
        let offload = match model.language {
            Language::Python => format!("`await asyncio.to_thread({callee_name}, ...)`"),
            Language::Rust => {
                format!("`tokio::task::spawn_blocking(move || {callee_name}(..)).await`")
            }
        };
        let (chain, place, rule) = (&reached.chain, &reached.place, &reached.leaf_rule);
        let leaf = &reached.leaf_name;
        let diagnostic = reached.diagnostic(
            RULE.code,
            format!(
                "{shown} in {place} blocks the event loop: it reaches a blocking call ({rule}) through {chain}"
            ),
            format!("{shown} blocks the event loop: {chain}"),
            format!("`{leaf}()` blocks here ({rule})"),
            format!(
                "run it off the event loop with {offload}, or make the chain async; if it never blocks in practice, list it under `non-blocking` in the config"
            ),
        );
        out.push(diagnostic);
    }
}

/// An async call site whose sync callee reaches a call of interest through project functions.
pub(crate) struct Reached {
    pub site: CallSite,
    pub callee: FunctionId,
    /// `caller → callee → … → leaf()`.
    pub chain: String,
    /// Where the caller is, for messages (`async function \`Service.handle\``).
    pub place: String,
    /// The call of interest at the end, as written, and its rule.
    pub leaf_name: String,
    pub leaf_rule: String,
    /// The async call site.
    at: Related,
    leaf: Related,
    hops: Vec<Related>,
}

impl Reached {
    /// The finding at the async call site, showing each hop and (with `leaf_message`) the
    /// call at the end of the chain.
    pub fn diagnostic(
        &self,
        code: Code,
        message: String,
        label: String,
        leaf_message: String,
        help: String,
    ) -> Diagnostic {
        let mut diagnostic =
            Diagnostic::new(code, self.at.path.clone(), self.at.span.clone(), message)
                .with_label(label)
                .with_help(help);
        diagnostic.related = self.hops.clone();
        diagnostic.related.push(Related {
            message: leaf_message,
            ..self.leaf.clone()
        });
        diagnostic
    }
}

/// Every async call site (not awaited) of a sync project function that reaches a call of
/// `reaching`'s rules within the caller's `max-call-depth`.
pub(crate) fn reached_from_async(context: &ProjectContext, reaching: Reaching) -> Vec<Reached> {
    let project = context.project;
    let summaries = summary::blocking_summaries(project, context, reaching);
    let mut found = Vec::new();
    if summaries.is_empty() {
        return found;
    }
    for (caller, function) in project.functions() {
        for (index, call) in function.calls.iter().enumerate() {
            if call.context != Context::Async || call.awaited {
                continue;
            }
            let site = CallSite {
                caller,
                call: index,
            };
            let max_depth = context.file(caller).settings.max_call_depth;
            // The first callee that reaches one (of an abstract method's overrides, the first
            // in project order).
            let route = project
                .dispatched(site)
                .iter()
                .filter(|&&callee| !project.function(callee).is_async)
                .find_map(|&callee| {
                    let route = summary::route_from(project, &summaries, site, callee, max_depth)?;
                    overrides_fit(project, &summaries, site, callee, route)
                        .then_some((callee, route))
                });
            if let Some((callee, route)) = route {
                found.push(reached(context, &summaries, site, callee, route));
            }
        }
    }
    found
}

/// Whether the overrides of abstract methods a chain runs can belong to the object it starts
/// on: the async caller's own object, or one of a class the call names (`fs =
/// LocalFileSystem(); fs.expand_path(..)`). While every later call is on that same object
/// (`self.glob()` → `self.ls()`), an override of a class that is neither a subclass nor a base
/// of its class (`GithubFileSystem.ls` for a `LocalFileSystem`) is not what runs.
fn overrides_fit(
    project: &crate::graph::Project,
    summaries: &Summaries,
    site: CallSite,
    callee: FunctionId,
    route: usize,
) -> bool {
    let class_of = |id: FunctionId| {
        let function = project.function(id);
        function
            .canonical
            .rsplit_once('.')
            .map(|(class, _)| class.to_string())
            .filter(|class| project.index.is_class(class))
    };
    let own = |site: CallSite| project.call(site).receiver == crate::model::Receiver::Own;
    let object_class = match own(site) {
        true => class_of(site.caller),
        false => (project.call(site).callee.as_deref())
            .and_then(|callee| callee.rsplit_once('.'))
            .map(|(class, _)| class.to_string())
            .filter(|class| project.index.is_class(class)),
    };
    let Some(own_class) = object_class else {
        return true;
    };
    let fits = |site: CallSite, callee: FunctionId| {
        if project.target(site) == Some(callee) {
            return true;
        }
        class_of(callee).is_none_or(|class| {
            project.index.inherits(&class, &own_class) || project.index.inherits(&own_class, &class)
        })
    };
    if !fits(site, callee) {
        return false;
    }
    for hop in summary::chain(summaries, callee, route) {
        let BlocksVia::Call { site, callee, .. } = hop else {
            break;
        };
        if !own(site) {
            break;
        }
        if !fits(site, callee) {
            return false;
        }
    }
    true
}

/// The chain from an async call site down to the call of interest.
fn reached(
    context: &ProjectContext,
    summaries: &Summaries,
    site: CallSite,
    callee: FunctionId,
    route: usize,
) -> Reached {
    let project = context.project;
    let model = project.model(site.caller);
    let mut names = vec![
        project.function(site.caller).name.clone(),
        project.function(callee).name.clone(),
    ];
    let mut hops = Vec::new();
    let (mut leaf, mut leaf_name, mut leaf_rule) = (None, String::new(), String::new());
    // The conditions the chain's calls are made under, as written (`trust_env` in
    // `update_auth`): the finding holds only when they do.
    let mut conditions = Vec::new();
    for hop in summary::chain(summaries, callee, route) {
        let (BlocksVia::Call { site, .. } | BlocksVia::Leaf { site }) = hop;
        let caller = project.function(site.caller);
        if let Some(condition) = caller.condition(site.call)
            && !condition.written.is_empty()
        {
            conditions.push(format!("`{}` in `{}`", condition.written, caller.name));
        }
        match hop {
            BlocksVia::Call { site, callee, .. } => {
                names.push(project.function(callee).name.clone());
                hops.push(call_hop(project, site, callee, ""));
            }
            BlocksVia::Leaf { site } => {
                let call = project.call(site);
                let late = context.late_blocking().get(&site);
                let rule = (call.blocking.as_deref())
                    .or(late.map(|late| &late.api))
                    .map(|api| api.rule);
                // A call typed in the project phase is named by its type (`File::set_len`).
                leaf_name = match (&call.blocking, late) {
                    (None, Some(late)) => late.typed.clone(),
                    _ => call
                        .callee
                        .clone()
                        .or_else(|| call.method.clone())
                        .unwrap_or_else(|| "this call".into()),
                };
                names.push(format!("{leaf_name}()"));
                leaf_rule = rule.map(|rule| rule.to_string()).unwrap_or_default();
                leaf = Some(Related {
                    path: project.model(site.caller).path.clone(),
                    span: call.span.clone(),
                    message: String::new(),
                });
            }
        }
    }
    let at = Related {
        path: model.path.clone(),
        span: project.call(site).span.clone(),
        message: String::new(),
    };
    Reached {
        site,
        callee,
        chain: match conditions.as_slice() {
            [] => names.join(" → "),
            conditions => format!("{}, when {}", names.join(" → "), conditions.join(" and ")),
        },
        place: describe(project.function(site.caller), model),
        leaf_name,
        leaf_rule,
        leaf: leaf.unwrap_or_else(|| at.clone()),
        at,
        hops,
    }
}
