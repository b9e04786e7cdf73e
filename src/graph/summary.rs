//! Function summaries, computed once bottom-up over the call graph's strongly connected
//! components (so recursion terminates): "may block, via this call".

use rustc_hash::FxHashMap as HashMap;

use petgraph::Direction;
use petgraph::graph::NodeIndex;

use super::{CallSite, FunctionId, Project};
use crate::codes::Code;
use crate::model::{Context, FunctionKind};

/// The rules whose calls make a function blocking for IL106 (not IL107: nesting a loop is
/// only a bug in async code itself).
const BLOCKING_RULES: &[Code] = &[
    Code::IL101,
    Code::IL102,
    Code::IL103,
    Code::IL104,
    Code::IL105,
];

/// How a function reaches a call of interest — a blocking call (IL106) or a process spawn
/// (IL301): the first call on a shortest path to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlocksVia {
    /// The call is itself the call of interest: a blocking API (its rule is the call's
    /// [`crate::model::Call::blocking`]), or a process-starting API (the call's callee).
    Leaf { site: CallSite },
    /// The call reaches a project function that may block, `depth` calls from the blocking one.
    Call {
        site: CallSite,
        callee: FunctionId,
        depth: usize,
    },
}

impl BlocksVia {
    /// How many calls, this one included, lead to the blocking call.
    pub fn depth(&self) -> usize {
        match self {
            BlocksVia::Leaf { .. } => 1,
            BlocksVia::Call { depth, .. } => *depth,
        }
    }
}

/// What the summaries may consult about the user's intent.
pub trait Policy {
    /// A suppression comment on this call's line covers `code`.
    fn suppressed(&self, project: &Project, site: CallSite, code: Code) -> bool;
    /// The user declared this function non-blocking (`non-blocking` in config).
    fn declared_non_blocking(&self, project: &Project, function: FunctionId) -> bool;
}

/// Per sync function, how it may block. Components are visited callees first; inside a cycle a
/// worklist re-examines the callers of each function that turns out to block.
pub fn blocking_summaries(
    project: &Project,
    policy: &dyn Policy,
) -> HashMap<FunctionId, BlocksVia> {
    let summarise = |project: &Project, summaries: &HashMap<FunctionId, BlocksVia>, id| {
        blocks_via(project, policy, summaries, id)
    };
    let mut summaries: HashMap<FunctionId, BlocksVia> = HashMap::default();
    for component in project.components() {
        if let [node] = component.as_slice() {
            // Most components are one function: no worklist needed.
            let id = project.graph[*node];
            if let Some(via) = summarise(project, &summaries, id) {
                summaries.insert(id, via);
            }
            continue;
        }
        let mut queue: Vec<NodeIndex> = component.clone();
        let members: rustc_hash::FxHashSet<NodeIndex> = component.iter().copied().collect();
        while let Some(node) = queue.pop() {
            let id = project.graph[node];
            if summaries.contains_key(&id) {
                continue;
            }
            if let Some(via) = summarise(project, &summaries, id) {
                summaries.insert(id, via);
                let callers = project.graph.neighbors_directed(node, Direction::Incoming);
                queue.extend(callers.filter(|caller| members.contains(caller)));
            }
        }
    }
    summaries
}

fn blocks_via(
    project: &Project,
    policy: &dyn Policy,
    summaries: &HashMap<FunctionId, BlocksVia>,
    id: FunctionId,
) -> Option<BlocksVia> {
    let function = project.function(id);
    if function.is_async
        || function.kind != FunctionKind::Function
        || policy.declared_non_blocking(project, id)
    {
        return None;
    }
    let mut best: Option<BlocksVia> = None;
    for (index, call) in function.calls.iter().enumerate() {
        if call.context != Context::Sync || call.awaited {
            continue;
        }
        let site = CallSite {
            caller: id,
            call: index,
        };
        if let Some(api) = &call.blocking {
            if !call.non_blocking
                && BLOCKING_RULES.contains(&api.rule)
                && !policy.suppressed(project, site, api.rule)
                && !policy.suppressed(project, site, Code::IL106)
            {
                return Some(BlocksVia::Leaf { site });
            }
            continue;
        }
        let Some(callee) = project.target(site) else {
            continue;
        };
        // Most callees do not block: look that up before anything else.
        let Some(via) = summaries.get(&callee) else {
            continue;
        };
        if project.function(callee).is_async || policy.suppressed(project, site, Code::IL106) {
            continue;
        }
        let depth = via.depth() + 1;
        if best.as_ref().is_none_or(|b| depth < b.depth()) {
            best = Some(BlocksVia::Call {
                site,
                callee,
                depth,
            });
        }
    }
    best
}

/// The chain of call sites from `start` to the blocking call, following the summaries.
pub fn chain(summaries: &HashMap<FunctionId, BlocksVia>, start: FunctionId) -> Vec<BlocksVia> {
    let mut hops = Vec::new();
    let mut current = start;
    while let Some(via) = summaries.get(&current) {
        hops.push(via.clone());
        match via {
            BlocksVia::Leaf { .. } => break,
            BlocksVia::Call { callee, .. } => {
                if hops.len() > summaries.len() {
                    break;
                }
                current = *callee;
            }
        }
    }
    hops
}
