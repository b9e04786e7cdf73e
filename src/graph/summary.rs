//! Function summaries, computed once bottom-up over the call graph's strongly connected
//! components (so recursion terminates): "may block, via this call".

use rustc_hash::FxHashMap as HashMap;

use petgraph::Direction;
use petgraph::graph::NodeIndex;

use super::{CallSite, FunctionId, Project};
use crate::codes::Code;
use crate::model::{BlockingApi, Context, FunctionKind};

/// What a summary looks for: the rules of the calls it follows down to, and the code of the
/// rule that reports the chain (whose suppression comments cut it).
#[derive(Clone, Copy, Debug)]
pub struct Reaching {
    pub leaves: &'static [Code],
    pub reported_as: Code,
    /// A function that forks (`os.fork()`) is not followed: what it reaches may run in the
    /// child, which has no running loop of its own.
    pub stops_at_fork: bool,
}

/// Blocking calls, reported through calls by IL106.
pub const BLOCKING: Reaching = Reaching {
    leaves: &[
        Code::IL101,
        Code::IL102,
        Code::IL103,
        Code::IL104,
        Code::IL105,
    ],
    reported_as: Code::IL106,
    stops_at_fork: false,
};

/// Calls that start a nested event loop (`asyncio.run`, `block_on`), reported through calls by
/// IL107 itself: a sync helper that runs a loop is only a bug when async code calls it.
pub const NESTED_LOOP: Reaching = Reaching {
    leaves: &[Code::IL107],
    reported_as: Code::IL107,
    stops_at_fork: true,
};

/// How a function reaches a call of interest — a blocking call (IL106) or a process spawn
/// (IL301): the first call on a shortest path to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlocksVia {
    /// The call is itself the call of interest: a blocking API (its rule is the call's
    /// [`crate::model::Call::blocking`], or its late blocking API), or a process-starting API
    /// (the call's callee).
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
    /// The blocking API a call is once the project's types are known, when its file alone
    /// could not tell.
    fn late_blocking(&self, project: &Project, site: CallSite) -> Option<&BlockingApi>;
}

/// Per sync function, how it may reach a call of one of `reaching`'s rules (block, for
/// [`BLOCKING`]). Components are visited callees first; inside a cycle a worklist re-examines
/// the callers of each function that turns out to reach one.
pub fn blocking_summaries(
    project: &Project,
    policy: &dyn Policy,
    reaching: Reaching,
) -> HashMap<FunctionId, BlocksVia> {
    let summarise = |project: &Project, summaries: &HashMap<FunctionId, BlocksVia>, id| {
        blocks_via(project, policy, summaries, id, reaching)
    };
    let mut summaries: HashMap<FunctionId, BlocksVia> = HashMap::default();
    // Only functions that call a leaf, and their callers, transitively, can reach one: most
    // of a project cannot (and nothing can where no event loop is started at all).
    let mut relevant: rustc_hash::FxHashSet<NodeIndex> = rustc_hash::FxHashSet::default();
    let mut stack: Vec<NodeIndex> = Vec::new();
    for (caller, function) in project.functions() {
        let calls_a_leaf = function.calls.iter().enumerate().any(|(call, c)| {
            let site = CallSite { caller, call };
            let api = c
                .blocking
                .as_deref()
                .or_else(|| late(project, policy, site, c));
            api.is_some_and(|api| reaching.leaves.contains(&api.rule))
        });
        if calls_a_leaf {
            stack.push(project.node(caller));
        }
    }
    while let Some(node) = stack.pop() {
        if relevant.insert(node) {
            stack.extend(project.graph.neighbors_directed(node, Direction::Incoming));
        }
    }
    for component in project.components() {
        if !component.iter().any(|node| relevant.contains(node)) {
            continue;
        }
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

/// The blocking API a call is once the project's types and re-exports are known: only a call
/// of something the project does not define may be one (a cheap test before the lookup, on
/// every call).
fn late<'p>(
    project: &Project,
    policy: &'p dyn Policy,
    site: CallSite,
    call: &crate::model::Call,
) -> Option<&'p BlockingApi> {
    let untyped = call.callee.is_some() && project.target(site).is_none();
    untyped
        .then(|| policy.late_blocking(project, site))
        .flatten()
}

fn blocks_via(
    project: &Project,
    policy: &dyn Policy,
    summaries: &HashMap<FunctionId, BlocksVia>,
    id: FunctionId,
    reaching: Reaching,
) -> Option<BlocksVia> {
    let function = project.function(id);
    if function.is_async
        || function.kind != FunctionKind::Function
        || policy.declared_non_blocking(project, id)
    {
        return None;
    }
    let forks = || {
        function
            .calls
            .iter()
            .any(|c| matches!(c.callee.as_deref(), Some("os.fork" | "os.forkpty")))
    };
    if reaching.stops_at_fork && forks() {
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
        if let Some(api) = call
            .blocking
            .as_deref()
            .or_else(|| late(project, policy, site, call))
        {
            if !call.non_blocking
                && reaching.leaves.contains(&api.rule)
                && !policy.suppressed(project, site, api.rule)
                && !policy.suppressed(project, site, reaching.reported_as)
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
        if project.function(callee).is_async
            || policy.suppressed(project, site, reaching.reported_as)
        {
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
