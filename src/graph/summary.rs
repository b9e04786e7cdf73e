//! Function summaries, computed once bottom-up over the call graph's strongly connected
//! components (so recursion terminates): "may block, via this call".

use rustc_hash::FxHashMap as HashMap;

use petgraph::Direction;
use petgraph::graph::NodeIndex;

use super::{CallSite, FunctionId, Project};
use crate::codes::Code;
use crate::model::condition::{Formula, Input, Value, argument};
use crate::model::{BlockingApi, Context, Function, FunctionKind, Receiver};

/// How many routes a function's summary keeps: the shortest, and shorter conditional ones
/// before it, so that a caller whose arguments rule one out can still find another.
const MAX_ROUTES: usize = 4;

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
    /// The call reaches a project function that may block, `depth` calls from the blocking one,
    /// by the callee's route number `route`.
    Call {
        site: CallSite,
        callee: FunctionId,
        depth: usize,
        route: usize,
    },
}

/// One way a function reaches a call of interest, and the condition on the function's inputs
/// under which it does (`trust_env` is true).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub via: BlocksVia,
    pub when: Formula,
    /// The rule of the blocking call the route ends at (a process start's: its reporting rule).
    pub rule: Code,
}

/// Per function, its routes to a call of interest, shortest first.
pub type Summaries = HashMap<FunctionId, Vec<Route>>;

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
pub fn blocking_summaries(project: &Project, policy: &dyn Policy, reaching: Reaching) -> Summaries {
    let summarise = |project: &Project, summaries: &Summaries, id| {
        let routes = routes(project, policy, summaries, id, reaching);
        (!routes.is_empty()).then_some(routes)
    };
    let mut summaries: Summaries = HashMap::default();
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

fn routes(
    project: &Project,
    policy: &dyn Policy,
    summaries: &Summaries,
    id: FunctionId,
    reaching: Reaching,
) -> Vec<Route> {
    let function = project.function(id);
    if function.is_async
        || function.kind != FunctionKind::Function
        || policy.declared_non_blocking(project, id)
    {
        return Vec::new();
    }
    let forks = || {
        function
            .calls
            .iter()
            .any(|c| matches!(c.callee.as_deref(), Some("os.fork" | "os.forkpty")))
    };
    if reaching.stops_at_fork && forks() {
        return Vec::new();
    }
    let mut candidates: Vec<Route> = Vec::new();
    for (index, call) in function.calls.iter().enumerate() {
        if call.context != Context::Sync || call.awaited {
            continue;
        }
        let site = CallSite {
            caller: id,
            call: index,
        };
        let guard = || {
            function
                .condition(index)
                .map_or(Formula::always(), |c| c.formula.clone())
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
                candidates.push(Route {
                    via: BlocksVia::Leaf { site },
                    when: guard(),
                    rule: api.rule,
                });
            }
            continue;
        }
        for &callee in project.dispatched(site) {
            // Most callees do not block: look that up before anything else.
            let Some(routes) = summaries.get(&callee) else {
                continue;
            };
            if project.function(callee).is_async
                || policy.suppressed(project, site, reaching.reported_as)
            {
                continue;
            }
            for (route, reached) in routes.iter().enumerate() {
                let when =
                    Formula::all([guard(), through_call(project, site, callee, &reached.when)]);
                if when.is_false() {
                    continue;
                }
                let depth = reached.via.depth() + 1;
                candidates.push(Route {
                    via: BlocksVia::Call {
                        site,
                        callee,
                        depth,
                        route,
                    },
                    when,
                    rule: reached.rule,
                });
            }
        }
    }
    // Shortest first (an unconditional one first among equals, then the one that blocks
    // worst, then source order), up to the first that holds whatever the inputs are.
    candidates.sort_by_key(|route| {
        let conditional = route.when != Formula::always();
        (route.via.depth(), conditional, severity(route.rule))
    });
    let mut kept: Vec<Route> = Vec::new();
    for route in candidates {
        if kept.iter().any(|k| k.when == route.when) {
            continue;
        }
        let unconditional = route.when.is_unconditional();
        kept.push(route);
        if unconditional || kept.len() == MAX_ROUTES {
            break;
        }
    }
    kept.shrink_to_fit();
    kept
}

/// How badly a blocking call stalls an event loop, worst first: a nested loop fails, a wait
/// for another thread may never end, a child process or the network take unbounded time, a
/// sleep is bounded, file I/O usually short.
fn severity(rule: Code) -> u8 {
    match rule {
        Code::IL107 => 0,
        Code::IL105 => 1,
        Code::IL104 => 2,
        Code::IL103 => 3,
        Code::IL101 => 4,
        Code::IL102 => 5,
        _ => 6,
    }
}

/// A condition on `callee`'s inputs, as seen at `site` in terms of the caller's inputs: the
/// call's arguments (or the defaults) for parameters, and for attributes of the object, what
/// the caller set them to before the call when it calls its own method.
pub fn through_call(
    project: &Project,
    site: CallSite,
    callee: FunctionId,
    when: &Formula,
) -> Formula {
    if when.is_unconditional() {
        return when.clone();
    }
    let caller = project.function(site.caller);
    let callee = project.function(callee);
    when.substitute(&mut |input| value_at(site.call, caller, callee, input))
}

fn value_at(index: usize, caller: &Function, callee: &Function, input: &Input) -> Value {
    let call = &caller.calls[index];
    match input {
        Input::Parameter(name) => argument(
            &callee.parameters,
            usize::from(call.positional_arguments),
            caller.arguments(index),
            *name,
        ),
        Input::Attribute(name) if call.receiver == Receiver::Own => caller
            .attribute_values
            .iter()
            .rfind(|(attribute, _, at)| attribute == name && (*at as usize) < call.span.start)
            .map_or(Value::Input(*input), |(_, value, _)| *value),
        Input::Attribute(_) => Value::Unknown,
    }
}

/// The route of `callee` a call at `site` takes, within `max_depth` calls: one that holds
/// whatever the inputs are, else the shortest the call's arguments do not rule out.
pub fn route_from(
    project: &Project,
    summaries: &Summaries,
    site: CallSite,
    callee: FunctionId,
    max_depth: usize,
) -> Option<usize> {
    let mut open = None;
    for (index, route) in summaries.get(&callee)?.iter().enumerate() {
        if route.via.depth() > max_depth {
            continue;
        }
        let when = through_call(project, site, callee, &route.when);
        if when == Formula::always() {
            return Some(index);
        }
        if !when.is_false() {
            open.get_or_insert(index);
        }
    }
    open
}

/// The chain of call sites from `start`'s route number `route` to the blocking call,
/// following the summaries.
pub fn chain(summaries: &Summaries, start: FunctionId, route: usize) -> Vec<BlocksVia> {
    follow(start, route, summaries.len(), |id, route| {
        summaries.get(&id)?.get(route).map(|r| &r.via)
    })
}

/// The chain of call sites from `start`'s route `route`, asking `step` for each function's
/// route (at most `limit` hops: recursion ends there).
pub fn follow<'s>(
    start: FunctionId,
    route: usize,
    limit: usize,
    step: impl Fn(FunctionId, usize) -> Option<&'s BlocksVia>,
) -> Vec<BlocksVia> {
    let mut hops = Vec::new();
    let (mut current, mut route) = (start, route);
    while let Some(via) = step(current, route) {
        hops.push(via.clone());
        match via {
            BlocksVia::Leaf { .. } => break,
            BlocksVia::Call {
                callee,
                route: next,
                ..
            } => {
                if hops.len() > limit {
                    break;
                }
                (current, route) = (*callee, *next);
            }
        }
    }
    hops
}
