//! The lock-acquisition graph: a node per lock (by identity), an edge A→B when B is taken while
//! A is held — in the same function, or through calls: while A is held, a call to a function
//! that may take B (its "may acquire" summary, computed bottom-up over the call graph's
//! strongly connected components). Each edge keeps its evidence: both sites, the call chain,
//! and the other locks held at the time (a common outer lock serializes an inversion). Taking a
//! non-reentrant lock that is already held is recorded on the way (a double lock).

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::fields::SharedFields;
use super::{CallSite, FunctionId, Project};
use crate::knowledge::{LanguageTables, LockType};
use crate::model::{
    Call, Context, Function, FunctionKind, LockDefinition, LockHold, LockScope, Receiver, Span,
    concat,
};

/// One acquisition: a function and the index of the lock hold in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Acquisition {
    pub function: FunctionId,
    pub hold: usize,
}

/// How the inner lock of an edge (or a double lock) is taken while the outer one is held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inner {
    /// Taken in the same function.
    Direct(usize),
    /// Taken through a call: the call sites from the holding function down to the
    /// acquisition.
    Call {
        chain: Vec<CallSite>,
        leaf: Acquisition,
    },
}

/// Why an edge exists.
#[derive(Clone, Debug)]
pub struct Evidence {
    /// Where the outer lock is taken.
    pub outer: Acquisition,
    pub inner: Inner,
    /// Other locks held by the same function at the inner site.
    pub gates: Vec<NodeIndex>,
}

impl Evidence {
    /// The site in the outer function where the inner lock is taken or the call is made.
    pub fn inner_site(&self, project: &Project) -> Span {
        match &self.inner {
            Inner::Direct(hold) => project.function(self.outer.function).lock_holds[*hold]
                .span
                .clone(),
            Inner::Call { chain, .. } => project.call(chain[0]).span.clone(),
        }
    }
}

/// A lock of the project.
#[derive(Clone, Debug)]
pub struct LockNode {
    pub identity: String,
    /// The lock type (`threading.Lock`, `std::sync::Mutex`), when known.
    pub kind: String,
    /// Where it is defined, when it is a module, class or struct-level lock: (file, span).
    pub definition: Option<(usize, Span)>,
}

/// A non-reentrant lock taken while it is already held.
#[derive(Clone, Debug)]
pub struct DoubleLock {
    pub outer: Acquisition,
    pub inner: Inner,
    /// The lock (its node in the graph: its identity and type).
    pub lock: NodeIndex,
    /// The second acquisition is a write after a read, or a read after a write.
    pub mixed_modes: bool,
    /// Two read guards of a lock whose reads wait behind a queued writer.
    pub recursive_read: bool,
    /// The second acquisition's lock as the caller reaches it (`self.pos.db`), when it is the
    /// held one (`self.db`) only because a constructor filled both with one value.
    pub filled_alike: Option<String>,
}

/// A thread joined (`join()` without a timeout) while a lock that the thread's function may
/// take is held: if the thread is waiting for the lock, neither goes on.
#[derive(Clone, Debug)]
pub struct JoinWait {
    /// Where the lock is taken.
    pub outer: Acquisition,
    pub lock: NodeIndex,
    /// The calls from the holding function down to the function that joins, then the
    /// `join()` call.
    pub join: Vec<CallSite>,
    /// The function the joined thread runs.
    pub thread: FunctionId,
    /// The calls from that function down to where it takes the lock (none when it takes it
    /// itself), and that acquisition.
    pub taken: (Vec<CallSite>, Acquisition),
}

/// How a function reaches a `join()` (see [`Builder::join_waits`]).
#[derive(Clone, Copy, Debug)]
struct MayJoin {
    /// The function the joined thread runs.
    thread: FunctionId,
    /// The `join()` call itself (`callee: None`) or a call that leads to one.
    call: usize,
    callee: Option<FunctionId>,
    depth: usize,
}

/// The resolved facts about one lock hold.
#[derive(Clone, Copy, Debug)]
struct Resolved {
    node: NodeIndex,
    lock: LockType,
}

/// A lock a function may take, directly or through calls.
#[derive(Clone, Debug)]
struct MayAcquire {
    node: NodeIndex,
    lock: LockType,
    scope: LockScope,
    /// Whose lock it is, seen from the function's own object.
    owner: Receiver,
    /// The first hop: the hold itself, or the call that leads to it.
    via: Via,
    depth: usize,
    /// A lock that must be free for the acquisition to happen (it lies after a successful
    /// `L.acquire(False)` on the way): not while the thread holds that lock.
    needs_free: Option<NodeIndex>,
}

#[derive(Clone, Copy, Debug)]
enum Via {
    Hold(usize),
    Call { call: usize, callee: FunctionId },
}

/// The lock graph of a project.
pub struct LockGraph {
    pub graph: DiGraph<LockNode, Vec<Evidence>>,
    pub double_locks: Vec<DoubleLock>,
    pub join_waits: Vec<JoinWait>,
    /// Per file, per function, per hold: the lock it takes, if it is one.
    holds: Vec<Vec<Vec<Option<Resolved>>>>,
    /// Fields that hold one lock with another field, whose node bears that other's name (see
    /// [`shared_locks`]).
    pub shared: HashMap<String, String>,
}

/// How many pieces of evidence an edge keeps.
const MAX_EVIDENCE: usize = 8;

/// How many lock holds of one function are paired with each other (as outer and inner
/// acquisition, and as gates). Every pair of holds is compared, so a function with thousands
/// of acquisitions (`with l, l, …`, generated code) would cost time and memory quadratic in
/// them; no hand-written function comes near this many.
pub const MAX_PAIRED_HOLDS: usize = 64;

impl LockGraph {
    /// Builds the graph; `fields` tells which fields hold one value, `tables` gives each file's
    /// lock tables, `max_depth` bounds call chains.
    pub fn new<'t>(
        project: &Project,
        fields: &SharedFields,
        tables: impl Fn(usize) -> &'t LanguageTables,
        max_depth: usize,
    ) -> LockGraph {
        let mut builder = Builder {
            project,
            graph: DiGraph::new(),
            nodes: HashMap::default(),
            resolved: Vec::new(),
            free_regions: Vec::new(),
            summaries: HashMap::default(),
            double_locks: Vec::new(),
            double_locked_at: HashSet::default(),
            shared: HashMap::default(),
            fields,
            parameter_orders: Vec::new(),
        };
        builder.resolve_holds(&tables);
        builder.summarise(max_depth);
        builder.edges();
        let join_waits = builder.join_waits(max_depth);
        LockGraph {
            graph: builder.graph,
            double_locks: builder.double_locks,
            join_waits,
            holds: builder.resolved,
            shared: builder.shared,
        }
    }

    /// The type of the lock a hold takes, once the project resolved it (a lock imported
    /// from another module, a re-exported type); `None` when it is no lock.
    pub fn hold_type(&self, at: Acquisition) -> Option<LockType> {
        let resolved = self.holds[at.function.file][at.function.index].get(at.hold)?;
        resolved.map(|r| r.lock)
    }

    /// The cycles of the graph (each once, shortest first per strongly connected component),
    /// leaving out edges without `accepted` evidence and cycles serialized by a common outer
    /// lock. Each cycle is its list of edges with the evidence chosen for each.
    pub fn cycles(
        &self,
        accepted: impl Fn(&Evidence) -> bool,
    ) -> Vec<Vec<(NodeIndex, NodeIndex, Evidence)>> {
        const MAX_CYCLES_PER_COMPONENT: usize = 16;
        let mut cycles = Vec::new();
        // Only accepted evidence counts.
        let mut edges: HashMap<(NodeIndex, NodeIndex), Vec<&Evidence>> = HashMap::default();
        for edge in self.graph.edge_references() {
            let kept: Vec<&Evidence> = edge.weight().iter().filter(|e| accepted(e)).collect();
            if !kept.is_empty() {
                edges.insert((edge.source(), edge.target()), kept);
            }
        }
        let mut filtered: DiGraph<(), ()> = DiGraph::new();
        for _ in 0..self.graph.node_count() {
            filtered.add_node(());
        }
        let mut keys: Vec<_> = edges.keys().copied().collect();
        keys.sort();
        for (a, b) in &keys {
            filtered.add_edge(*a, *b, ());
        }
        for component in tarjan_scc(&filtered) {
            if component.len() < 2 {
                continue;
            }
            let members: HashSet<NodeIndex> = component.iter().copied().collect();
            let mut seen: HashSet<Vec<NodeIndex>> = HashSet::default();
            let mut found = 0;
            for &(a, b) in keys
                .iter()
                .filter(|(a, b)| members.contains(a) && members.contains(b))
            {
                if found == MAX_CYCLES_PER_COMPONENT {
                    break;
                }
                let Some(back) = shortest_path(&filtered, b, a, &members) else {
                    continue;
                };
                let mut nodes = vec![a];
                nodes.extend(back.iter().copied().take(back.len() - 1));
                let mut key = nodes.clone();
                key.sort();
                if !seen.insert(key) {
                    continue;
                }
                let steps: Vec<(NodeIndex, NodeIndex)> = nodes
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| (n, nodes[(i + 1) % nodes.len()]))
                    .collect();
                // A lock held at every way of taking every edge serializes the cycle.
                let gates = steps
                    .iter()
                    .map(|step| {
                        let evidence = &edges[step];
                        let mut common: HashSet<NodeIndex> =
                            evidence[0].gates.iter().copied().collect();
                        for e in &evidence[1..] {
                            common.retain(|g| e.gates.contains(g));
                        }
                        common
                    })
                    .reduce(|mut all, edge| {
                        all.retain(|g| edge.contains(g));
                        all
                    })
                    .unwrap_or_default();
                if !gates.is_empty() {
                    continue;
                }
                let cycle = steps
                    .iter()
                    .map(|&(from, to)| {
                        let best = edges[&(from, to)]
                            .iter()
                            .min_by_key(|e| (e.gates.len(), matches!(e.inner, Inner::Call { .. })))
                            .expect("an edge has evidence");
                        (from, to, Evidence::clone(best))
                    })
                    .collect();
                cycles.push(cycle);
                found += 1;
            }
        }
        cycles
    }
}

/// The call sites from `function` down to the `join()` of a "may join" entry (each step
/// follows the callee's shallowest entry for the same thread, so it ends).
fn join_chain(
    may_join: &HashMap<FunctionId, Vec<MayJoin>>,
    function: FunctionId,
    entry: &MayJoin,
) -> Option<Vec<CallSite>> {
    let (mut current, mut entry) = (function, *entry);
    let mut chain = vec![CallSite {
        caller: current,
        call: entry.call,
    }];
    while let Some(callee) = entry.callee {
        let next = may_join
            .get(&callee)?
            .iter()
            .filter(|e| e.thread == entry.thread && e.depth < entry.depth)
            .min_by_key(|e| e.depth)?;
        (current, entry) = (callee, *next);
        chain.push(CallSite {
            caller: current,
            call: entry.call,
        });
    }
    Some(chain)
}

/// How many generations of base classes are searched for `threading.Thread`.
const MAX_CLASS_ANCESTORS: usize = 16;

/// The guard method a Rust guard call on what a project function returns stands for, once the
/// project phase types the result (`app::first.()::lock` → `std::sync::Mutex::lock` for `fn
/// first() -> Arc<Mutex<Slice>>`); `None` for any other kind.
pub fn returned_lock_guard(index: &super::SymbolIndex, kind: &str) -> Option<String> {
    let (returned, method) = kind.rsplit_once("::")?;
    if !returned.contains(".(") {
        return None;
    }
    let ty = index.unalias(index.type_of(returned, "::")?, "::");
    Some(concat(&[&ty, "::", method]))
}

/// The lock-table guard method of a Rust guard call the front end could not type (`::lock`,
/// `::lock.unwrap`, `::read.await`: see `frontend::rust::locks::GuardUse`), and the lock's
/// type. The type is the lock definition's (`defined`), else the one the project gives the
/// name (a field typed by a `type` alias of another module: `state: SharedState` with `type
/// SharedState = Arc<Mutex<State>>`), else the one the `impl` block's arguments suggest (`~T`
/// after the method: a field of a generic struct of another module). For a library's type
/// the tables do not know (an alias in a dependency) it is the lock its use implies: a
/// `LockResult` that is unwrapped is a poisoning lock's, as std's; a future that is awaited,
/// an async lock's.
pub fn candidate_guard(
    index: &super::SymbolIndex,
    tables: &LanguageTables,
    identity: &str,
    kind: &str,
    defined: Option<&str>,
) -> Option<(String, String)> {
    let candidate = kind.strip_prefix("::")?;
    // `::lock~parking_lot::Mutex`: the lock type the `impl` block's arguments suggest.
    let (candidate, hint) = match candidate.split_once('~') {
        Some((candidate, hint)) => (candidate, Some(hint)),
        None => (candidate, None),
    };
    let (method, used) = candidate.split_once('.').unwrap_or((candidate, ""));
    let ty = defined
        .or_else(|| index.type_through_aliases(identity, "::"))
        .or(hint);
    // A lock type re-exported by a module or crate of the project (`pub use
    // parking_lot::RwLock;` in `grin_util`): the library's; a sharded map's type string: the
    // map's lock type.
    let ty = ty.map(|ty| match crate::model::sharded_lock_type(ty) {
        Some(sharded) => std::borrow::Cow::Borrowed(sharded),
        None => index.unalias(ty, "::"),
    });
    let ty = ty.as_deref();
    if let Some(ty) = ty {
        let guard = concat(&[ty, "::", method]);
        if tables.lock(&guard).is_some() {
            return Some((guard, ty.to_string()));
        }
        // A lock type of the project: its method returns a guard of one of its own fields
        // (`struct Mutex<T> { lock: parking_lot::Mutex<T> }` whose `lock()` returns
        // `self.lock.lock()` in a guard of its own). Each wrapper is a lock of its own, named
        // as written at the call (`Net.inner`), locked the way its field is.
        if let Some((field, inner)) = index.guard_function(&guard)
            && field
                .strip_prefix(ty)
                .is_some_and(|field| field.starts_with('.'))
            && let Some(lock) = tables.lock(inner)
            && lock.excludes()
        {
            let inner_type = inner.rsplit_once("::").map_or(inner, |(ty, _)| ty);
            return Some((inner.to_string(), inner_type.to_string()));
        }
        // A method the project adds to a library lock type (`rl()` of `impl<T> HandyRwLock<T>
        // for RwLock<T>`): the guard method it calls.
        if let Some(inner) = index.guard_method(&guard)
            && tables.lock(inner).is_some()
        {
            return Some((inner.to_string(), ty.to_string()));
        }
        // The project's own type, or a standard library type that is no lock of the tables
        // (`std::fs::File::lock` returns an `io::Result<()>`).
        if defined.is_some() || crate::model::is_standard_path(ty) || index.is_project_name(ty) {
            return None;
        }
    }
    let lock = match used {
        "unwrap" if method == "lock" => "std::sync::Mutex",
        "unwrap" => "std::sync::RwLock",
        "await" if method == "lock" => "tokio::sync::Mutex",
        "await" => "tokio::sync::RwLock",
        _ => return None,
    };
    let guard = concat(&[lock, "::", method]);
    tables.lock(&guard)?;
    Some((guard, ty.unwrap_or(lock).to_string()))
}

/// Whether a hold is a lock given to a function that takes it (`argument`, or of another file:
/// `?callee#1`, also one that returns it or its guard): taken during the call, after the
/// arguments.
fn given_to_callee(hold: &LockHold) -> bool {
    hold.argument.is_some() || (hold.kind.starts_with('?') && !hold.kind.starts_with("?guard:"))
}

/// The shortest path from `from` to `to` inside `members` (both ends included).
fn shortest_path(
    graph: &DiGraph<(), ()>,
    from: NodeIndex,
    to: NodeIndex,
    members: &HashSet<NodeIndex>,
) -> Option<Vec<NodeIndex>> {
    let mut previous: HashMap<NodeIndex, NodeIndex> = HashMap::default();
    let mut queue = std::collections::VecDeque::from([from]);
    let mut seen: HashSet<NodeIndex> = HashSet::from_iter([from]);
    while let Some(node) = queue.pop_front() {
        if node == to {
            let mut path = vec![to];
            let mut current = to;
            while let Some(&p) = previous.get(&current) {
                path.push(p);
                current = p;
            }
            path.reverse();
            return Some(path);
        }
        let mut next: Vec<NodeIndex> = graph.neighbors(node).collect();
        next.sort();
        for n in next {
            if members.contains(&n) && seen.insert(n) {
                previous.insert(n, node);
                queue.push_back(n);
            }
        }
    }
    None
}

struct Builder<'p, 'a> {
    project: &'p Project<'a>,
    graph: DiGraph<LockNode, Vec<Evidence>>,
    nodes: HashMap<String, NodeIndex>,
    /// Per file, per function, per hold.
    resolved: Vec<Vec<Vec<Option<Resolved>>>>,
    /// Per file, per function: code that runs only where a lock was free (after a successful
    /// non-blocking attempt, `Function::lock_attempts`), with that lock's node.
    free_regions: Vec<Vec<Vec<(Span, NodeIndex)>>>,
    summaries: HashMap<FunctionId, Vec<MayAcquire>>,
    double_locks: Vec<DoubleLock>,
    /// Where a double lock is already recorded (holding function, inner site): the same
    /// re-acquisition under several outer holds is one bug.
    double_locked_at: HashSet<(FunctionId, usize)>,
    /// Lock identities that name one lock shared through fields of several structs (see
    /// [`shared_locks`]), to the identity that stands for it.
    shared: HashMap<String, String>,
    /// Fields of one struct that its constructors fill with one value.
    fields: &'p SharedFields,
    /// Locks taken while a function holds a lock it is given (see
    /// [`Builder::parameter_order_edges`]).
    parameter_orders: Vec<ParameterOrder>,
}

/// A lock taken while a function holds the lock it is given as parameter `held`.
struct ParameterOrder {
    function: FunctionId,
    held: u8,
    /// The held lock as the function resolves it (its type).
    held_lock: Resolved,
    taken: Taken,
    inner: Inner,
}

/// What a [`ParameterOrder`] takes: the lock given as another parameter (as the function
/// resolves it), or a known lock.
#[derive(Clone, Copy)]
enum Taken {
    Parameter(u8, Resolved),
    Lock(Resolved),
}

/// At most this many parameter orders are kept (each is instantiated at every call).
const MAX_PARAMETER_ORDERS: usize = 100_000;

impl Builder<'_, '_> {
    /// Gives every hold its node and lock type: from its own type, or else from the lock
    /// definition its identity names (directly or through a base class); holds that are not
    /// locks, and semaphores and `RefCell` borrows, get none.
    fn resolve_holds<'t>(&mut self, tables: &impl Fn(usize) -> &'t LanguageTables) {
        let project = self.project;
        let mut definitions: HashMap<&str, (usize, &LockDefinition)> = HashMap::default();
        for (file, model) in project.models.iter().enumerate() {
            for definition in &model.lock_definitions {
                definitions
                    .entry(definition.identity.as_str())
                    .or_insert((file, definition));
            }
        }
        self.shared = shared_locks(project);
        self.share_filled_fields(&definitions);
        for (file, model) in project.models.iter().enumerate() {
            let tables = tables(file);
            let mut per_function = Vec::with_capacity(model.functions.len());
            let mut free = Vec::with_capacity(model.functions.len());
            for function in &model.functions {
                let mut per_hold = Vec::with_capacity(function.lock_holds.len());
                for hold in &function.lock_holds {
                    let resolved =
                        self.resolve(function, hold, tables, model.language, &definitions);
                    per_hold.push(resolved);
                }
                per_function.push(per_hold);
                let regions = function.lock_attempts.iter().filter_map(|attempt| {
                    let resolved =
                        self.resolve(function, attempt, tables, model.language, &definitions)?;
                    Some((attempt.region.clone(), resolved.node))
                });
                free.push(regions.collect());
            }
            self.resolved.push(per_function);
            self.free_regions.push(free);
        }
    }

    /// Joins the locks that fields filled with one value reach (`FinalState.db` and
    /// `FinalState.pos_state.db`, defined as `PosState.db`) into one node, with the locks
    /// [`shared_locks`] already joined, where the constructors agree (see
    /// [`SharedFields::agreed`]).
    fn share_filled_fields(&mut self, definitions: &HashMap<&str, (usize, &LockDefinition)>) {
        let mut groups = self.fields.agreed(|ty, path| {
            let identity = self.field_lock(ty, path, definitions)?;
            Some(self.shared.get(&identity).cloned().unwrap_or(identity))
        });
        // Fields of several structs one function fills with one value; not a sharded map that
        // is not behind an `Arc` (cloning one copies the map).
        for fields in self.fields.across() {
            let mut identities = Vec::new();
            for field in fields {
                let definition = self.definition(field, definitions, 12);
                if let Some((_, d)) = definition
                    && d.shared.is_none()
                    && crate::model::SHARDED_LOCK_TYPES.contains(&d.kind.as_str())
                {
                    identities.clear();
                    break;
                }
                let identity = definition.map_or(field.as_str(), |(_, d)| d.identity.as_str());
                let identity = self
                    .shared
                    .get(identity)
                    .cloned()
                    .unwrap_or(identity.to_string());
                if !identities.contains(&identity) {
                    identities.push(identity);
                }
            }
            groups.push(identities);
        }
        for mut identities in groups {
            // The first by name stands for the others.
            identities.sort_unstable();
            let Some((chosen, others)) = identities.split_first() else {
                continue;
            };
            for other in others {
                for one in self.shared.values_mut().filter(|one| *one == other) {
                    *one = chosen.clone();
                }
                self.shared.insert(other.clone(), chosen.clone());
            }
        }
    }

    /// The identity of the lock at a path of fields of a type (`pos_state.db` of
    /// `ledger::FinalState`: `pos::PosState.db`), following each field's type; the lock's
    /// definition's where it has one.
    fn field_lock(
        &self,
        ty: &str,
        path: &str,
        definitions: &HashMap<&str, (usize, &LockDefinition)>,
    ) -> Option<String> {
        let identity = super::fields::field_identity(self.project, ty, path)?;
        Some(match self.definition(&identity, definitions, 12) {
            Some((_, definition)) => definition.identity.clone(),
            None => identity,
        })
    }

    /// The lock node and type a hold of `function` takes, if it takes a lock.
    fn resolve(
        &mut self,
        function: &Function,
        hold: &LockHold,
        tables: &LanguageTables,
        language: crate::model::Language,
        definitions: &HashMap<&str, (usize, &LockDefinition)>,
    ) -> Option<Resolved> {
        if hold.identity.is_empty() || hold.unreleased {
            return None;
        }
        // A function of another file that holds a module-level lock for its caller
        // (`?guard:callee`): in Rust, one that returns a `static`'s guard; in Python, a bare
        // decorator whose wrapper holds a module's lock, or one of the decorated method's
        // object (`@with_lock` holding `self.lock`: the method's class's `lock`).
        let own_attribute;
        let (identity, kind) = match hold.kind.starts_with("?guard:") {
            true => {
                let guard = self.project.guard_callee(&hold.kind)?;
                let index = &self.project.index;
                let (identity, kind) =
                    index.guard_function(&self.project.function(guard).canonical)?;
                match identity.strip_prefix(crate::model::OWN_ATTRIBUTE) {
                    Some(attribute) => {
                        let (class, _) = function.canonical.rsplit_once('.')?;
                        if !index.is_class(class) {
                            return None;
                        }
                        own_attribute = concat(&[class, ".", attribute]);
                        (own_attribute.as_str(), kind)
                    }
                    None => (identity, kind),
                }
            }
            false => (hold.identity.as_str(), hold.kind.as_str()),
        };
        // A field with no definition of its own that holds a lock another field is filled
        // with (`self._lock = lock` given `self.lock`): that lock's definition.
        let definition = self.definition(identity, definitions, 12).or_else(|| {
            let one = self.shared.get(identity)?;
            self.definition(one, definitions, 12)
        });
        // A candidate without a definition reached through its struct's `type` alias
        // (`self.context.clients` with `context: SharedContext`): the struct's field.
        let through_alias;
        let identity = match definition {
            None if kind.starts_with("::") => {
                through_alias = self.project.index.field_through_alias(identity);
                through_alias.as_deref().unwrap_or(identity)
            }
            _ => identity,
        };
        let mut lock_kind = None;
        let lock = match tables.lock(kind) {
            Some(lock) => *lock,
            // A Rust guard method of a lock whose type only the definition tells (`::lock`), or
            // the type the project gives the name (a field typed by a `type` alias of another
            // module: `state: SharedState` with `type SharedState = Arc<Mutex<State>>`).
            None if kind.starts_with("::") => {
                let defined = definition.map(|(_, d)| d.kind.as_str());
                let index = &self.project.index;
                let (guard, ty) = candidate_guard(index, tables, identity, kind, defined)?;
                if defined.is_none() {
                    lock_kind = Some(ty);
                }
                *tables.lock(&guard)?
            }
            // A guard method on what a project function returns (`first.()::lock`): the
            // lock type the project phase finds it returns.
            None if let Some(guard) = returned_lock_guard(&self.project.index, kind) => {
                let lock = *tables.lock(&guard)?;
                lock_kind = guard.rsplit_once("::").map(|(ty, _)| ty.to_string());
                lock
            }
            // A guard method the project adds to a library lock type.
            None if let Some(guard) = self.project.index.guard_method(kind) => {
                *tables.lock(guard)?
            }
            // A lock given to a function of another file (`?callee#index`): taken if that
            // function locks that parameter.
            None if kind.starts_with('?') => {
                let separator = language.path_separator();
                match self.project.lock_given_to(kind, separator)? {
                    // A Python lock decorator, or a function that hands its argument back:
                    // whatever lock it is given.
                    "" => *tables.lock(&definition?.1.kind)?,
                    guard => *tables.lock(guard)?,
                }
            }
            None => match definition {
                Some((_, defined)) => *tables.lock(&defined.kind)?,
                // An attribute its own file cannot type, which the project types by what the
                // constructor is given (`self._lock = lock` of `Listener(self.lock)`).
                None if kind.is_empty() => {
                    let separator = language.path_separator();
                    let (owner, _) = identity.rsplit_once('.')?;
                    if !self.project.index.is_class(owner) {
                        return None;
                    }
                    let ty = self.project.index.type_of(identity, separator)?;
                    lock_kind = Some(ty.to_string());
                    *tables.lock(ty)?
                }
                None => return None,
            },
        };
        if !lock.excludes() {
            return None;
        }
        let identity = definition.map_or(identity, |(_, d)| d.identity.as_str());
        let identity = match self.shared.get(identity) {
            Some(one) => one.as_str(),
            None => identity,
        };
        let node = match self.nodes.get(identity) {
            Some(node) => *node,
            None => {
                let node = self.graph.add_node(LockNode {
                    identity: identity.to_string(),
                    kind: match (definition, lock_kind) {
                        (Some((_, d)), _) => d.kind.clone(),
                        (None, Some(ty)) => ty,
                        (None, None) => kind
                            .rsplit_once("::")
                            .map_or(kind.to_string(), |(ty, _)| ty.to_string()),
                    },
                    definition: definition.map(|(file, d)| (file, d.span.clone())),
                });
                self.nodes.insert(identity.to_string(), node);
                node
            }
        };
        Some(Resolved { node, lock })
    }

    /// The definition of a lock identity, looking through base classes for an attribute
    /// (`shop.Sub.lock` defined as `shop.Base.lock`), and through the type of an owner only the
    /// project phase knows (Rust: `store::Pool::region.().buffer`, the field of what a project
    /// method returns; `net::Client.inner.buffer`, a field of a field; `ui::SharedState.player`,
    /// a field through a `type` alias of another module).
    fn definition<'d>(
        &self,
        identity: &str,
        definitions: &HashMap<&str, (usize, &'d LockDefinition)>,
        steps: usize,
    ) -> Option<(usize, &'d LockDefinition)> {
        if let Some(found) = definitions.get(identity) {
            return Some(*found);
        }
        let steps = steps.checked_sub(1)?;
        // An attribute that holds another object's lock (`self.lock = self.adb.lock`): that
        // lock's definition.
        let separator = if identity.contains("::") { "::" } else { "." };
        let unaliased = self.project.index.unalias(identity, separator);
        if unaliased != identity
            && let Some(found) = self.definition(&unaliased, definitions, steps)
        {
            return Some(found);
        }
        let (owner, attribute) = identity.rsplit_once('.')?;
        let inherited = self.project.index.bases(owner).iter().find_map(|base| {
            let inherited = concat(&[base, ".", attribute]);
            self.definition(&inherited, definitions, steps)
        });
        if inherited.is_some() || !owner.contains("::") {
            return inherited;
        }
        // The type as the field names it, maybe a re-export (`pos::PosState` after `pub use
        // state::PosState;` or `pub use state::*;` in `pos`).
        let index = &self.project.index;
        let ty = index.unalias(index.type_of(owner, "::")?, "::");
        let field = concat(&[&ty, ".", attribute]);
        if let Some(found) = self.definition(&field, definitions, steps) {
            return Some(found);
        }
        let mut sources = index.glob_sources(&ty, "::");
        sources.find_map(|ty| {
            definitions
                .get(concat(&[&ty, ".", attribute]).as_str())
                .copied()
        })
    }

    /// The holds of function `id` (the first [`MAX_PAIRED_HOLDS`]) that take a lock, with it.
    fn resolved_holds(&self, id: FunctionId) -> Vec<(Acquisition, Resolved)> {
        let count = self.project.function(id).lock_holds.len();
        (0..count.min(MAX_PAIRED_HOLDS))
            .filter_map(|hold| {
                let at = Acquisition { function: id, hold };
                Some((at, self.resolved(at)?))
            })
            .collect()
    }

    fn resolved(&self, at: Acquisition) -> Option<Resolved> {
        self.resolved[at.function.file][at.function.index][at.hold]
    }

    /// Whether a call runs its callee now, where a lock held here is still held.
    fn runs_now(&self, caller: FunctionId, call: usize, callee: FunctionId) -> bool {
        self.project.function(callee).kind != FunctionKind::Module
            && self.project.runs_now(CallSite { caller, call }, callee)
    }

    /// "May acquire" summaries, callees first; inside a cycle of calls, until nothing changes.
    fn summarise(&mut self, max_depth: usize) {
        let project = self.project;
        // Only functions that can reach an acquisition (callers of callers of a function that
        // takes a lock) can have a summary: find them backwards first.
        let mut relevant: HashSet<NodeIndex> = HashSet::default();
        let mut queue: Vec<NodeIndex> = Vec::new();
        for (file, functions) in self.resolved.iter().enumerate() {
            for (index, holds) in functions.iter().enumerate() {
                if holds.iter().any(Option::is_some) {
                    queue.push(project.node(FunctionId { file, index }));
                }
            }
        }
        while let Some(node) = queue.pop() {
            if relevant.insert(node) {
                queue.extend(
                    project
                        .graph
                        .neighbors_directed(node, petgraph::Direction::Incoming),
                );
            }
        }
        for component in project.components() {
            if !component.iter().any(|node| relevant.contains(node)) {
                continue;
            }
            loop {
                let mut changed = false;
                for node in component {
                    let id = project.graph[*node];
                    let summary = self.summary_of(id, max_depth);
                    let old = self.summaries.get(&id).map_or(0, Vec::len);
                    if summary.len() != old {
                        changed = true;
                        self.summaries.insert(id, summary);
                    }
                }
                if !changed || component.len() == 1 {
                    break;
                }
            }
        }
    }

    fn summary_of(&self, id: FunctionId, max_depth: usize) -> Vec<MayAcquire> {
        let function = self.project.function(id);
        let mut out: Vec<MayAcquire> = Vec::new();
        // An unconditional route first, then the shallowest.
        let rank = |e: &MayAcquire| (e.needs_free.is_some(), e.depth);
        let mut add = |entry: MayAcquire| {
            let same = out
                .iter()
                .position(|e| e.node == entry.node && e.owner == entry.owner);
            match same {
                Some(i) if rank(&out[i]) <= rank(&entry) => {}
                Some(i) => out[i] = entry,
                None => out.push(entry),
            }
        };
        let free_at = |position: usize| self.free_at(id, position);
        for (hold, lock_hold) in function.lock_holds.iter().enumerate() {
            let at = Acquisition { function: id, hold };
            if lock_hold.scope == LockScope::Local
                || lock_hold.context == Context::Offloaded
                || !function.runs_in_body(lock_hold.closure)
            {
                continue;
            }
            if let Some(resolved) = self.resolved(at) {
                add(MayAcquire {
                    node: resolved.node,
                    lock: resolved.lock,
                    scope: lock_hold.scope,
                    owner: match (lock_hold.via_self, lock_hold.parameter) {
                        (true, _) => Receiver::Own,
                        // `self.storage.payload`: reached from the object's own field.
                        (false, _) if nested_in_self(&lock_hold.lock) => Receiver::Own,
                        (false, Some(index)) => Receiver::Parameter(index),
                        (false, None) => Receiver::Other,
                    },
                    via: Via::Hold(hold),
                    depth: 0,
                    needs_free: free_at(lock_hold.span.start),
                });
            }
        }
        for (call, c) in function.calls.iter().enumerate() {
            let site = CallSite { caller: id, call };
            let Some(callee) = self.project.target(site) else {
                continue;
            };
            if callee == id || !function.runs_in_body(c.closure) || !self.runs_now(id, call, callee)
            {
                continue;
            }
            for entry in self.summaries.get(&callee).into_iter().flatten() {
                if entry.depth + 1 > max_depth || self.ruled_out(site, callee, entry.via) {
                    continue;
                }
                add(MayAcquire {
                    owner: owner_in_caller(c, entry.owner),
                    via: Via::Call { call, callee },
                    depth: entry.depth + 1,
                    needs_free: entry.needs_free.or_else(|| free_at(c.span.start)),
                    ..entry.clone()
                });
            }
        }
        out
    }

    /// Whether the call at `site` rules out the way `callee` takes a lock: the callee makes
    /// the call that leads to it under a condition on its inputs that the call's arguments
    /// make false (`def fail(self, blocking=True): if blocking: self.stop()` called as
    /// `fail(blocking=False)`).
    fn ruled_out(&self, site: CallSite, callee: FunctionId, via: Via) -> bool {
        let Via::Call { call, .. } = via else {
            return false;
        };
        let Some(condition) = self.project.function(callee).condition(call) else {
            return false;
        };
        super::summary::through_call(self.project, site, callee, &condition.formula).is_false()
    }

    /// The call chain from a summary entry of `function` down to the acquisition (each step
    /// follows the callee's shallowest entry for the same lock, so it ends).
    fn chain(
        &self,
        function: FunctionId,
        entry: &MayAcquire,
    ) -> Option<(Vec<CallSite>, Acquisition)> {
        let mut chain = Vec::new();
        let (mut current, mut via, mut depth) = (function, entry.via, entry.depth);
        loop {
            match via {
                Via::Hold(hold) => {
                    let leaf = Acquisition {
                        function: current,
                        hold,
                    };
                    return Some((chain, leaf));
                }
                Via::Call { call, callee } => {
                    chain.push(CallSite {
                        caller: current,
                        call,
                    });
                    let next = self
                        .summaries
                        .get(&callee)?
                        .iter()
                        .filter(|e| e.node == entry.node && e.depth < depth)
                        .min_by_key(|e| e.depth)?;
                    (current, via, depth) = (callee, next.via, next.depth);
                }
            }
        }
    }

    /// The lock that must be free for code at `position` of function `id` to run (it follows a
    /// successful non-blocking attempt on it).
    fn free_at(&self, id: FunctionId, position: usize) -> Option<NodeIndex> {
        self.free_regions[id.file][id.index]
            .iter()
            .find(|(region, _)| region.contains(&position))
            .map(|(_, node)| *node)
    }

    /// Whether the function of hold `outer` holds lock `b` at `position` through another of its
    /// holds: taking `b` there again is a re-entry, which orders nothing. (Held since before
    /// `outer`, `b` is ordered before it; taken after it, the edge is already there.) Holds
    /// taken together count too: `with self.lock, self.other:`, stacked lock decorators. (A
    /// lock handed to a call as an argument is not held by the caller.)
    fn held_around(&self, outer: Acquisition, position: usize, b: NodeIndex) -> bool {
        let function = self.project.function(outer.function);
        let held = &function.lock_holds[outer.hold];
        function
            .lock_holds
            .iter()
            .take(MAX_PAIRED_HOLDS)
            .enumerate()
            .filter(|(g, hold)| {
                *g != outer.hold
                    && hold.argument.is_none()
                    && hold.closure == held.closure
                    && hold.covers(position)
            })
            .any(|(g, _)| {
                self.resolved(Acquisition {
                    function: outer.function,
                    hold: g,
                })
                .is_some_and(|r| r.node == b)
            })
    }

    /// The other locks function `id` holds at `position`, besides its hold `outer` and the
    /// locks `a` and `b` of the edge.
    fn gates(
        &self,
        id: FunctionId,
        outer: usize,
        position: usize,
        a: NodeIndex,
        b: NodeIndex,
    ) -> Vec<NodeIndex> {
        let function = self.project.function(id);
        // A closure started on another thread does not hold what its function holds.
        let closure = function.lock_holds[outer].closure;
        function
            .lock_holds
            .iter()
            .take(MAX_PAIRED_HOLDS)
            .enumerate()
            .filter(|(g, hold)| *g != outer && hold.closure == closure && hold.covers(position))
            .filter_map(|(g, _)| {
                self.resolved(Acquisition {
                    function: id,
                    hold: g,
                })
            })
            .map(|r| r.node)
            .filter(|n| *n != a && *n != b)
            .collect()
    }

    /// The path from the caller's `self` (`self.pos_state.db`) of a lock a call on a field of
    /// its own object (`self.pos_state.feed()`) takes through the callee's own object
    /// (`self.db` there), when the constructors fill it with the value of the lock the caller
    /// holds (`self.db`): then the two are one lock.
    fn filled_alike(
        &self,
        id: FunctionId,
        call: usize,
        outer: &LockHold,
        taken: &str,
    ) -> Option<String> {
        let function = self.project.function(id);
        let (_, fields) = function
            .field_receivers
            .iter()
            .find(|(c, _)| *c as usize == call)?;
        let separator = self.project.models[id.file].language.path_separator();
        let (owner, _) = function.canonical.rsplit_once(separator)?;
        let held = outer.lock.strip_prefix("self.")?;
        let reached = concat(&[fields, ".", taken.strip_prefix("self.")?]);
        self.fields
            .same(owner, held, &reached)
            .then(|| concat(&["self.", &reached]))
    }

    /// Edges and double locks: for each hold, what is taken while it is held.
    fn edges(&mut self) {
        let project = self.project;
        for (id, function) in project.functions() {
            let holds = &function.lock_holds[..function.lock_holds.len().min(MAX_PAIRED_HOLDS)];
            for (outer_at, a) in self.resolved_holds(id) {
                let (h, outer) = (outer_at.hold, &holds[outer_at.hold]);
                for (k, inner) in holds.iter().enumerate() {
                    // A lock given to a function is taken once the call's arguments are
                    // evaluated: a guard made in them (`adjust(*count.read().await, &count)`)
                    // is held first.
                    // (Two holds of one call, `let g = wait_lock(&m);`, are one acquisition.)
                    if given_to_callee(outer) && outer.span.contains(&inner.span.start)
                        || inner.span == outer.span
                    {
                        continue;
                    }
                    let taken = match given_to_callee(inner) {
                        true => inner.span.end.saturating_sub(1),
                        false => inner.span.start,
                    };
                    // Where it is taken, seen from the hold (a closure's: where it is called).
                    let Some(position) = function.runs_under(inner.closure, taken, outer) else {
                        continue;
                    };
                    if k == h || inner.context != outer.context {
                        continue;
                    }
                    let Some(b) = self.resolved(Acquisition {
                        function: id,
                        hold: k,
                    }) else {
                        continue;
                    };
                    if self.free_at(id, position) == Some(a.node) {
                        continue;
                    }
                    let same_object = match (outer.scope, inner.scope) {
                        // Which element of a collection a helper gives is not known: two are
                        // not one object (one local, `entry`, is).
                        _ if outer.identity.ends_with(crate::model::ITEMS) => {
                            outer.lock == inner.lock && !outer.lock.ends_with(crate::model::ITEMS)
                        }
                        // The same receiver (`HEAP.raw(a)` then `HEAP.raw_mut(b)`, helpers
                        // of another file giving guards of its field).
                        (LockScope::Field, LockScope::Field) => {
                            outer.lock == inner.lock
                                || (outer.via_self && inner.via_self)
                                || (outer.object != 0 && outer.object == inner.object)
                        }
                        (x, y) => x == y,
                    };
                    self.taken_while_held(outer_at, a, b, same_object, position, Inner::Direct(k));
                }
                for (index, call) in function.calls.iter().enumerate() {
                    // A call on the guard or given it (`self.a.lock().unwrap().touch()`,
                    // `f(&m.lock().unwrap())`) runs once the lock is taken, while its
                    // temporary guard lives.
                    let on_guard = call.closure == outer.closure
                        && call.span.start <= outer.span.start
                        && call.span.end > outer.span.end
                        && call.span.end <= outer.region.end;
                    let position = match function.runs_under(call.closure, call.span.start, outer) {
                        Some(position) => position,
                        None if on_guard => outer.span.end,
                        None => continue,
                    };
                    if call.context != outer.context {
                        continue;
                    }
                    let site = CallSite {
                        caller: id,
                        call: index,
                    };
                    let Some(callee) = project.target(site) else {
                        continue;
                    };
                    if !self.runs_now(id, index, callee) {
                        continue;
                    }
                    let Some(entries) = self.summaries.get(&callee) else {
                        continue;
                    };
                    for entry in entries.clone() {
                        if self.ruled_out(site, callee, entry.via) {
                            continue;
                        }
                        // Only where `a` was free: never while this thread holds it.
                        if entry.needs_free == Some(a.node)
                            || self.free_at(id, position) == Some(a.node)
                        {
                            continue;
                        }
                        let Some((mut chain, leaf)) = self.chain(callee, &entry) else {
                            continue;
                        };
                        // A lock of a field of the object's field (`self.storage.payload`) is
                        // the callee's only on the same path from its `self`.
                        let taken = &project.function(leaf.function).lock_holds[leaf.hold].lock;
                        let same_path = !(nested_in_self(&outer.lock) || nested_in_self(taken))
                            || path_after_root(&outer.lock) == path_after_root(taken);
                        chain.insert(0, site);
                        let inner = Inner::Call { chain, leaf };
                        let same_object = match (outer.scope, entry.scope) {
                            (LockScope::Global, LockScope::Global) => true,
                            (LockScope::Field, LockScope::Field) => {
                                ((outer.via_self || nested_in_self(&outer.lock))
                                    && call.receiver.compose(entry.owner) == Receiver::Own
                                    && same_path)
                                    // `client.inner` held, then `client.reconnect()` takes
                                    // its own `self.inner` (also `self.peers.states` held,
                                    // then `self.peers.on_steal()` takes `self.states`).
                                    || (outer.object != 0
                                        && outer.object == call.object
                                        && entry.owner == Receiver::Own
                                        && outer.lock.rsplit_once('.').is_some_and(|(_, field)| {
                                            field == path_after_root(taken)
                                        }))
                                    // `region.buffer` held, then `flush(&region)` takes
                                    // `region.buffer` of its parameter.
                                    || given_as_owner(call, entry.owner, outer)
                            }
                            _ => false,
                        };
                        // `self.db` held, then `self.pos_state.feed()` takes its `self.db`,
                        // filled with the same `Arc` by the constructor: the held lock, of
                        // this object (whatever other objects of the callee's type hold).
                        let filled_alike = (outer.scope == LockScope::Field
                            && entry.scope == LockScope::Field
                            && outer.via_self
                            && entry.owner == Receiver::Own)
                            .then(|| self.filled_alike(id, index, outer, taken))
                            .flatten();
                        let b = Resolved {
                            node: if filled_alike.is_some() {
                                a.node
                            } else {
                                entry.node
                            },
                            lock: entry.lock,
                        };
                        let same_object = same_object || filled_alike.is_some();
                        let found = self.double_locks.len();
                        self.taken_while_held(outer_at, a, b, same_object, position, inner);
                        // A double lock only the constructors tell: say which path it is.
                        if let Some(double) = self.double_locks.get_mut(found) {
                            double.filled_alike = filled_alike;
                        }
                    }
                }
            }
        }
        self.parameter_order_edges();
    }

    /// The functions of the threads a function joins itself: `(join call, thread function)`.
    /// A thread is named by what holds it (the callable its constructor was given, in any file)
    /// or by its class (a project subclass of `threading.Thread`: its `run`).
    fn direct_joins(&self) -> HashMap<FunctionId, Vec<(usize, FunctionId)>> {
        let project = self.project;
        let mut targets: HashMap<&str, Vec<&str>> = HashMap::default();
        for model in &project.models {
            for (holder, target) in &model.thread_targets {
                targets.entry(holder).or_default().push(target);
            }
        }
        let mut joins: HashMap<FunctionId, Vec<(usize, FunctionId)>> = HashMap::default();
        for (id, function) in project.functions() {
            let separator = project.models[id.file].language.path_separator();
            for join in &function.thread_joins {
                for key in &join.threads {
                    let given = targets.get(key.as_str()).into_iter().flatten();
                    let mut runs: Vec<FunctionId> = given
                        .filter_map(|target| project.index.resolve(target, separator))
                        .collect();
                    if self.is_thread_class(key) {
                        let run = concat(&[key, ".run"]);
                        runs.extend(project.index.resolve(&run, separator));
                    }
                    let found = joins.entry(id).or_default();
                    for run in runs {
                        let entry = (join.call as usize, run);
                        if run != id && !found.contains(&entry) {
                            found.push(entry);
                        }
                    }
                }
            }
        }
        joins.retain(|_, found| !found.is_empty());
        joins
    }

    /// Whether a project class derives from `threading.Thread`.
    fn is_thread_class(&self, class: &str) -> bool {
        let index = &self.project.index;
        let mut pending = vec![class];
        for _ in 0..MAX_CLASS_ANCESTORS {
            let Some(class) = pending.pop() else {
                return false;
            };
            let bases = index.bases(class);
            if bases.contains(&"threading.Thread") {
                return true;
            }
            pending.extend(bases);
        }
        false
    }

    /// Threads joined while a lock their function may take is held: for each hold, the
    /// `join()` calls it covers, directly or through calls ("may join" summaries, callees
    /// first, as the "may acquire" ones), whose thread's summary takes that lock.
    fn join_waits(&self, max_depth: usize) -> Vec<JoinWait> {
        let project = self.project;
        let direct = self.direct_joins();
        if direct.is_empty() {
            return Vec::new();
        }
        let mut may_join: HashMap<FunctionId, Vec<MayJoin>> = HashMap::default();
        for component in project.components() {
            loop {
                let mut changed = false;
                for node in component {
                    let id = project.graph[*node];
                    let function = project.function(id);
                    let mut found: Vec<MayJoin> = Vec::new();
                    for &(call, thread) in direct.get(&id).into_iter().flatten() {
                        let callee = None;
                        found.push(MayJoin {
                            thread,
                            call,
                            callee,
                            depth: 0,
                        });
                    }
                    for (call, c) in function.calls.iter().enumerate() {
                        let site = CallSite { caller: id, call };
                        let Some(callee) = project.target(site) else {
                            continue;
                        };
                        if callee == id
                            || !function.runs_in_body(c.closure)
                            || !self.runs_now(id, call, callee)
                        {
                            continue;
                        }
                        for entry in may_join.get(&callee).into_iter().flatten() {
                            let depth = entry.depth + 1;
                            let known = found.iter().any(|f| f.thread == entry.thread);
                            if depth <= max_depth && !known {
                                let (thread, callee) = (entry.thread, Some(callee));
                                found.push(MayJoin {
                                    thread,
                                    call,
                                    callee,
                                    depth,
                                });
                            }
                        }
                    }
                    if found.len() != may_join.get(&id).map_or(0, Vec::len) {
                        changed = true;
                        may_join.insert(id, found);
                    }
                }
                if !changed || component.len() == 1 {
                    break;
                }
            }
        }
        let mut waits: Vec<JoinWait> = Vec::new();
        for (id, function) in project.functions() {
            let Some(joins) = may_join.get(&id) else {
                continue;
            };
            for (outer_at, a) in self.resolved_holds(id) {
                let outer = &function.lock_holds[outer_at.hold];
                for entry in joins {
                    let call = &function.calls[entry.call];
                    let covered = function
                        .runs_under(call.closure, call.span.start, outer)
                        .is_some();
                    if !covered || call.context != outer.context {
                        continue;
                    }
                    let taken = self
                        .summaries
                        .get(&entry.thread)
                        .into_iter()
                        .flatten()
                        .find(|taken| taken.node == a.node && taken.needs_free != Some(a.node));
                    let Some(taken) = taken.and_then(|t| self.chain(entry.thread, t)) else {
                        continue;
                    };
                    let Some(join) = join_chain(&may_join, id, entry) else {
                        continue;
                    };
                    // One report per lock, `join()` and thread: where the lock is held closest
                    // to the join.
                    let site = join.last().copied();
                    let same_join = |w: &JoinWait| {
                        w.lock == a.node
                            && w.thread == entry.thread
                            && w.join.last() == site.as_ref()
                    };
                    let (thread, outer, lock) = (entry.thread, outer_at, a.node);
                    let wait = JoinWait {
                        outer,
                        lock,
                        join,
                        thread,
                        taken,
                    };
                    match waits.iter().position(same_join) {
                        Some(i) if waits[i].join.len() > wait.join.len() => waits[i] = wait,
                        Some(_) => {}
                        None => waits.push(wait),
                    }
                }
            }
        }
        waits
    }

    /// For each call of a function that takes a lock while holding a lock it is given as its
    /// parameter `i` (`fn load(models: &RwLock<..>, resources: &RwLock<..>)` locks `models`,
    /// then `resources` or a field's lock): an edge from the lock the caller hands over as
    /// argument `i` to that lock — or, for another parameter lock `j`, to the lock handed over
    /// as argument `j` (`load(&self.models, &self.resources)`).
    fn parameter_order_edges(&mut self) {
        // A caller that hands on a lock it is given itself is a parameter order of its own:
        // a few rounds follow them up.
        for _ in 0..3 {
            if self.parameter_orders.is_empty() {
                break;
            }
            self.instantiate_parameter_orders();
        }
        self.parameter_orders.clear();
    }

    fn instantiate_parameter_orders(&mut self) {
        let project = self.project;
        for order in std::mem::take(&mut self.parameter_orders) {
            let ParameterOrder {
                function: callee,
                held,
                held_lock,
                taken,
                inner,
            } = order;
            for site in project.call_sites_to(callee) {
                let call = project.call(site);
                let caller = project.function(site.caller);
                let given = |index: u8| {
                    caller
                        .lock_holds
                        .iter()
                        .position(|hold| hold.argument == Some(index) && hold.span == call.span)
                };
                // The caller's lock handed over as argument `index`: as the caller resolved
                // it, or (handed on to a function that does not lock it itself) the lock its
                // identity names, of the type the callee locks it as.
                let handed = |index: u8, lock: Resolved| {
                    let hold = given(index)?;
                    let at = Acquisition {
                        function: site.caller,
                        hold,
                    };
                    let resolved = self.resolved(at).or_else(|| {
                        let identity = caller.lock_holds[hold].identity.as_str();
                        let identity = self.shared.get(identity).map_or(identity, String::as_str);
                        let node = *self.nodes.get(identity)?;
                        Some(Resolved {
                            node,
                            lock: lock.lock,
                        })
                    })?;
                    Some((at, resolved))
                };
                let Some((outer_at, a)) = handed(held, held_lock) else {
                    continue;
                };
                let b = match taken {
                    Taken::Parameter(j, lock) => {
                        let Some((_, b)) = handed(j, lock) else {
                            continue;
                        };
                        b
                    }
                    Taken::Lock(b) => b,
                };
                if a.node == b.node {
                    continue;
                }
                let inner = match &inner {
                    Inner::Direct(hold) => Inner::Call {
                        chain: vec![site],
                        leaf: Acquisition {
                            function: callee,
                            hold: *hold,
                        },
                    },
                    Inner::Call { chain, leaf } => Inner::Call {
                        chain: std::iter::once(site).chain(chain.iter().copied()).collect(),
                        leaf: *leaf,
                    },
                };
                let position = call.span.start + 1;
                self.taken_while_held(outer_at, a, b, false, position, inner);
            }
        }
    }

    /// Records that lock `b` is taken (at `position` of the holding function, or through the
    /// call there) while `outer` holds lock `a`: a double lock when it is the same lock of the
    /// same object, an edge of the graph otherwise.
    fn taken_while_held(
        &mut self,
        outer: Acquisition,
        a: Resolved,
        b: Resolved,
        same_object: bool,
        position: usize,
        inner: Inner,
    ) {
        // Held as the function's parameter: its callers' locks, instantiated per call.
        let held = &self.project.function(outer.function).lock_holds[outer.hold];
        if let (LockScope::Local, Some(i)) = (held.scope, held.parameter) {
            let taken = match &inner {
                Inner::Direct(k) => {
                    let hold = &self.project.function(outer.function).lock_holds[*k];
                    match (hold.scope, hold.parameter) {
                        (LockScope::Local, Some(j)) if j != i => Some(Taken::Parameter(j, b)),
                        (LockScope::Local, _) => None,
                        _ => Some(Taken::Lock(b)),
                    }
                }
                Inner::Call { .. } => Some(Taken::Lock(b)),
            };
            if let Some(taken) = taken
                && self.parameter_orders.len() < MAX_PARAMETER_ORDERS
            {
                self.parameter_orders.push(ParameterOrder {
                    function: outer.function,
                    held: i,
                    held_lock: a,
                    taken,
                    inner: inner.clone(),
                });
            }
        }
        if b.node == a.node {
            // A second read waits only for a writer of another thread: a function-local lock
            // (one created here, or a parameter, which this analysis cannot follow) is not
            // reported for it.
            let recursive_read =
                a.lock.shared && b.lock.shared && !(a.lock.upgradable && b.lock.upgradable);
            let local = self.project.function(outer.function).lock_holds[outer.hold].scope
                == LockScope::Local;
            if same_object
                && !(recursive_read && local)
                && let Some(mixed_modes) = deadlocks_on_relock(a.lock, b.lock)
                && self.double_locked_at.insert((outer.function, position))
            {
                self.double_locks.push(DoubleLock {
                    outer,
                    inner,
                    lock: a.node,
                    mixed_modes,
                    recursive_read,
                    filled_alike: None,
                });
            }
            return;
        }
        // `b` already held around `a` (`@synchronized(L)` then `with self.lock:` then a call
        // that takes `L` again): a re-entry, not an order (a double lock if not reentrant).
        if self.held_around(outer, position, b.node) {
            return;
        }
        let gates = self.gates(outer.function, outer.hold, position, a.node, b.node);
        self.add_edge(
            a.node,
            b.node,
            Evidence {
                outer,
                inner,
                gates,
            },
        );
    }

    fn add_edge(&mut self, from: NodeIndex, to: NodeIndex, evidence: Evidence) {
        match self.graph.find_edge(from, to) {
            Some(edge) => {
                let list = &mut self.graph[edge];
                if list.len() < MAX_EVIDENCE {
                    list.push(evidence);
                }
            }
            None => {
                self.graph.add_edge(from, to, vec![evidence]);
            }
        }
    }
}

/// Whose lock a lock of `owner` (seen from a call's callee) is, seen from the caller: a field of
/// the callee's parameter is a field of the object the call gives it.
fn owner_in_caller(call: &Call, owner: Receiver) -> Receiver {
    match owner {
        Receiver::Parameter(index) => call
            .object_arguments
            .iter()
            .find(|argument| argument.position == index)
            .map_or(Receiver::Other, |argument| argument.receiver),
        owner => call.receiver.compose(owner),
    }
}

/// Whether a call gives its callee, as the parameter whose field lock the callee takes
/// (`owner`), the object whose field lock `held` is.
fn given_as_owner(call: &Call, owner: Receiver, held: &LockHold) -> bool {
    let Receiver::Parameter(index) = owner else {
        return false;
    };
    call.object_arguments.iter().any(|argument| {
        argument.position == index
            && ((held.object != 0 && argument.object == held.object)
                || (held.via_self && argument.receiver == Receiver::Own))
    })
}

/// Struct fields that hold one `Arc<Lock<T>>` of the same named type `T`, the project's or a
/// dependency's, in several structs (`ChunkBuilder.resources` and `Factory.resources`, both
/// `Arc<RwLock<resources::Manager>>`; `Arc<DashMap<String, Session>>` by its values):
/// the program shares one lock through them, as it shares one through every instance of a
/// struct. Each maps to the field of its group the project locks most often (its name is
/// the one messages show), as one node of the graph.
fn shared_locks(project: &Project) -> HashMap<String, String> {
    let mut groups: HashMap<(&str, std::borrow::Cow<str>), Vec<&str>> = HashMap::default();
    for model in &project.models {
        for definition in &model.lock_definitions {
            if let Some(shared) = &definition.shared {
                // One type by whichever path a module names it (`use super::Level` where the
                // parent module has `use handler::Level`).
                let shared = project.index.unalias(shared, "::");
                let key = (definition.kind.as_str(), shared);
                groups
                    .entry(key)
                    .or_default()
                    .push(definition.identity.as_str());
            }
        }
    }
    groups.retain(|(_, ty), fields| {
        fields.sort_unstable();
        fields.dedup();
        fields.len() >= 2
            && (project.index.is_class(ty)
                || !project.index.attribute_types(ty).is_empty()
                || (ty.contains("::")
                    && !project.index.is_project_name(ty)
                    && !crate::model::is_standard_path(ty)))
    });
    if groups.is_empty() {
        return HashMap::default();
    }
    let grouped: HashSet<&str> = groups.values().flatten().copied().collect();
    let mut uses: HashMap<&str, usize> = HashMap::default();
    for (_, function) in project.functions() {
        for hold in &function.lock_holds {
            if let Some(field) = grouped.get(hold.identity.as_str()) {
                *uses.entry(field).or_default() += 1;
            }
        }
    }
    let mut one = HashMap::default();
    for fields in groups.into_values() {
        let mut ranked: Vec<(usize, &str)> = fields
            .iter()
            .map(|f| (uses.get(f).copied().unwrap_or(0), *f))
            .collect();
        // Most used first; of equals, the first by name.
        ranked.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let chosen = ranked[0].1;
        for field in fields.iter().filter(|f| **f != chosen) {
            one.insert(field.to_string(), chosen.to_string());
        }
    }
    one
}

/// Whether taking a lock again while holding it deadlocks (`Some`), and if so whether the two
/// acquisitions mix a shared and an exclusive guard. Reentrant locks do not, nor do two shared
/// guards unless a read waits behind a queued writer (then the second read can wait for a
/// writer that waits for the first). An upgradable read excludes a write and another
/// upgradable read, not a plain read (a queued writer waits for it without stopping readers).
fn deadlocks_on_relock(held: LockType, taken: LockType) -> Option<bool> {
    if held.upgradable || taken.upgradable {
        return match (
            held.upgradable && taken.upgradable,
            held.shared && taken.shared,
        ) {
            (true, _) => Some(false),
            (false, true) => None,
            (false, false) => Some(true),
        };
    }
    let recursive_read =
        held.shared && taken.shared && held.reads_wait_for_writers && taken.reads_wait_for_writers;
    if held.reentrant || taken.reentrant || (held.shared && taken.shared && !recursive_read) {
        return None;
    }
    Some(held.shared != taken.shared)
}

/// Whether a lock as written is reached through a field of the method's own object
/// (`self.storage.payload`), not one of `self`'s own fields.
fn nested_in_self(written: &str) -> bool {
    written
        .strip_prefix("self.")
        .is_some_and(|rest| rest.contains('.'))
}

/// The fields a lock as written is reached by from its object (`storage.payload` in
/// `self.storage.payload`, `inner` in `client.inner`).
fn path_after_root(written: &str) -> &str {
    written.split_once('.').map_or("", |(_, rest)| rest)
}
