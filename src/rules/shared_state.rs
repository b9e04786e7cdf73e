//! What the shared-state rules (IL401–IL404) share: whether a lock is held at a position, and
//! which state is written under a lock somewhere in the project.

use rustc_hash::FxHashMap as HashMap;

use super::ProjectContext;
use crate::diagnostic::Related;
use crate::graph::locks::Acquisition;
use crate::graph::threads::Concurrency;
use crate::graph::{CallSite, FunctionId, Project};
use crate::model::{
    CheckThenAct, Function, Language, LockHold, Receiver, Span, StateUse, StateWrite,
};

/// The lock held at a position of a function, if any (any `with`/guard region counts, once
/// the project confirms it takes a lock: see [`Project::takes_lock`]).
pub fn held_at<'f>(
    project: &Project,
    function: &'f Function,
    position: usize,
) -> Option<&'f LockHold> {
    // Also where a non-blocking attempt got the lock (`if lock.acquire(blocking=False):`).
    function
        .lock_holds
        .iter()
        .chain(&function.lock_attempts)
        .find(|h| h.covers(position) && project.takes_lock(h))
}

/// A write of state made with a lock held: where, and the lock as written.
pub struct GuardedWrite<'p> {
    pub function: FunctionId,
    pub write: &'p StateWrite,
    pub lock: &'p LockHold,
    /// The function that holds `lock`: `function`, or its caller when every caller holds it.
    pub held_in: FunctionId,
}

/// Per state identity, one write of it made under a thread lock (an async lock only orders
/// tasks around awaits, which IL404 covers).
pub fn guarded_writes<'c, 'p: 'c>(
    context: &'c ProjectContext<'p>,
    through_callers: bool,
) -> HashMap<&'c str, GuardedWrite<'p>> {
    let project = context.project;
    let mut guarded = HashMap::default();
    for (id, function) in project.functions() {
        for write in &function.state_writes {
            if let Some((held_in, lock)) = thread_lock_for(
                context,
                id,
                write.span.start,
                through_callers && !write.via_self,
            ) {
                guarded
                    .entry(context.state(&write.state))
                    .or_insert(GuardedWrite {
                        function: id,
                        write,
                        lock,
                        held_in,
                    });
            }
        }
    }
    guarded
}

/// A change in place of a container made under a thread lock.
pub struct GuardedChange<'p> {
    pub function: FunctionId,
    pub change: &'p StateUse,
    pub lock: &'p LockHold,
    /// The function that holds `lock` (see [`GuardedWrite::held_in`]).
    pub held_in: FunctionId,
    /// How many functions change the container under a thread lock: more than one (adding in
    /// one, removing in another) is a registry kept up to date while the program runs, not
    /// filled once by an initialiser.
    pub functions: usize,
}

/// Per state identity, one change in place of it (`self.conns[k] = v`) made under a thread
/// lock.
pub fn guarded_changes<'c, 'p: 'c>(
    context: &'c ProjectContext<'p>,
    through_callers: bool,
) -> HashMap<&'c str, GuardedChange<'p>> {
    guarded_uses(context, through_callers, |function| {
        &function.container_changes
    })
}

/// Per state identity, one loop over it (`for k in self.conns:`) made under a thread lock
/// (as a [`GuardedChange`]: the loop, its lock, how many functions loop so).
pub fn guarded_iterations<'c, 'p: 'c>(
    context: &'c ProjectContext<'p>,
) -> HashMap<&'c str, GuardedChange<'p>> {
    guarded_uses(context, false, |function| &function.iterations)
}

/// Per state identity, one use of it of a kind (`uses`) made under a thread lock.
fn guarded_uses<'c, 'p: 'c>(
    context: &'c ProjectContext<'p>,
    through_callers: bool,
    uses: impl Fn(&'p Function) -> &'p [StateUse],
) -> HashMap<&'c str, GuardedChange<'p>> {
    let project = context.project;
    let mut guarded = HashMap::default();
    for (id, function) in project.functions() {
        let mut counted: Vec<&str> = Vec::new();
        for change in uses(function) {
            if let Some((held_in, lock)) = thread_lock_for(
                context,
                id,
                change.span.start,
                through_callers && !change.via_self,
            ) {
                let state = context.state(&change.state);
                let guard = guarded.entry(state).or_insert(GuardedChange {
                    function: id,
                    change,
                    lock,
                    held_in,
                    functions: 0,
                });
                if !counted.contains(&state) {
                    counted.push(state);
                    guard.functions += 1;
                }
            }
        }
    }
    guarded
}

/// The class a method belongs to, by its canonical name (`shop.Cart.add` → `shop.Cart`).
pub fn class_of(function: &Function) -> Option<&str> {
    function.canonical.rsplit_once('.').map(|(class, _)| class)
}

/// The thread lock function `id` holds at `position` (see [`thread_lock_at`]), or else, with
/// `through_callers`, the one each of its callers holds around the call (`register_store(..)`
/// inside `with _lock:`, a helper that changes state for its callers under their lock), with
/// the function holding it. (Only for module and class state: an object's own methods are
/// also reached in ways the call graph does not show, a property's setter by assignment.)
fn thread_lock_for<'p>(
    context: &ProjectContext<'p>,
    id: FunctionId,
    position: usize,
    through_callers: bool,
) -> Option<(FunctionId, &'p LockHold)> {
    if let Some(lock) = thread_lock_at(context, id, position) {
        return Some((id, lock));
    }
    if !through_callers {
        return None;
    }
    let project = context.project;
    let first = std::cell::Cell::new(None);
    let every = project.every_caller(id, 1, &|site: CallSite| {
        let position = project.call(site).span.start;
        let held = thread_lock_at(context, site.caller, position);
        if first.get().is_none() {
            first.set(held.map(|lock| (site.caller, lock)));
        }
        held.is_some()
    });
    every.then(|| first.get()).flatten()
}

/// The thread lock of known type function `id` holds at `position` (`with self._cm:` may be
/// anything, so only a known lock is evidence).
fn thread_lock_at<'p>(
    context: &ProjectContext<'p>,
    id: FunctionId,
    position: usize,
) -> Option<&'p LockHold> {
    let holds = context.project.function(id).lock_holds.iter().enumerate();
    holds
        .filter(|(_, lock)| lock.covers(position))
        .find(|(hold, _)| is_thread_lock(context, id, *hold))
        .map(|(_, lock)| lock)
}

/// Python public methods that take a thread lock of their own object for part of their work
/// (`with self._out_lock:` in `publish`): written to be called from several threads at once.
/// Each with its hold, for messages.
pub fn locking_for_callers<'p>(context: &ProjectContext<'p>) -> HashMap<FunctionId, &'p LockHold> {
    let project = context.project;
    let mut methods = HashMap::default();
    for (id, function) in project.functions() {
        if project.model(id).language != Language::Python
            || !is_public_method(function)
            || function.runs_unshared()
        {
            continue;
        }
        let own = function
            .lock_holds
            .iter()
            .enumerate()
            .find(|(hold, lock)| lock.via_self && is_thread_lock(context, id, *hold));
        if let Some((_, lock)) = own {
            methods.insert(id, lock);
        }
    }
    methods
}

/// A method whose name does not start with `_` (called from outside its class).
pub fn is_public_method(function: &Function) -> bool {
    class_of(function).is_some()
        && function
            .name
            .rsplit('.')
            .next()
            .is_some_and(|name| !name.starts_with('_'))
}

/// Whether hold number `hold` of function `id` takes a thread lock of known type.
fn is_thread_lock(context: &ProjectContext, id: FunctionId, hold: usize) -> bool {
    let project = context.project;
    let lock = &project.function(id).lock_holds[hold];
    let tables = context
        .file(id)
        .settings
        .knowledge
        .tables(project.model(id).language);
    match tables.lock(&lock.kind) {
        Some(known) => !known.is_async && !known.cell,
        // A lock whose type the project tells (`from app import cache_lock`).
        None => context
            .lock_graph()
            .hold_type(Acquisition { function: id, hold })
            .is_some_and(|l| !l.is_async),
    }
}

/// Whether `self` state of this function's class is shared between threads (the class's
/// bound methods are thread entry points); module state always is.
pub fn is_shared(
    write_via_self: bool,
    function: &Function,
    shared_classes: &rustc_hash::FxHashSet<String>,
) -> bool {
    if !write_via_self {
        return true;
    }
    class_of(function).is_some_and(|class| shared_classes.contains(class))
}

/// Whether every caller of the function (it has some) calls it with a lock held, itself or
/// through its own callers: a helper that expects its caller to hold the lock. For the
/// object's own state (`own_state`), constructors and finalizers calling it count too
/// (nothing is shared yet, or any more); a module global is shared by every object built.
pub fn held_by_every_caller(
    context: &ProjectContext,
    id: FunctionId,
    depth: usize,
    own_state: bool,
) -> bool {
    let project = context.project;
    project.every_caller(id, depth, &|site: CallSite| {
        let caller = project.function(site.caller);
        let position = project.call(site).span.start;
        (own_state && caller.runs_unshared())
            || caller.lock_holds.iter().any(|h| {
                h.covers(position) && project.takes_lock(h) && !is_cell(context, site.caller, h)
            })
    })
}

/// Whether a hold borrows a cell (`RefCell::borrow_mut`): it excludes nothing between threads.
fn is_cell(context: &ProjectContext, id: FunctionId, hold: &LockHold) -> bool {
    let tables = (context.file(id).settings.knowledge).tables(context.project.model(id).language);
    tables.lock(&hold.kind).is_some_and(|known| known.cell)
}

/// Whether code in `within` calls a helper that checks `state` again under a lock
/// (`_init_policy` taking `_lock`, then `if _policy is None:`): double-checked locking split
/// across two functions.
pub fn checked_in_helper(project: &Project, id: FunctionId, state: &str, within: Span) -> bool {
    callees(project, id, false, Some(within)).any(|(_, helper)| {
        let helper = project.function(helper);
        helper.state_checks.iter().any(|again| {
            again.state == state && held_at(project, helper, again.span.start).is_some()
        })
    })
}

/// The act of a check-then-act: where it was found, or for an act done by a call, the call
/// whose callee changes the state (none: no callee does).
pub fn act_of(project: &Project, id: FunctionId, found: &CheckThenAct) -> Option<Span> {
    if !found.act_in_callee {
        return Some(found.act.clone());
    }
    let state = (found.state.as_str(), found.via_self);
    changed_by_call(project, id, state, found.act.clone())
}

/// The first call inside `within` whose callee, or a callee of that, two calls deep, writes
/// `state` or changes it in place without a lock: an act a helper, a method or a constructor
/// does for the caller (a helper that takes a lock for the write and does not check again is
/// IL402's). The caller's own object (`via_self`) is reached only through calls on it.
fn changed_by_call(
    project: &Project,
    id: FunctionId,
    (state, via_self): (&str, bool),
    within: Span,
) -> Option<Span> {
    fn changes(project: &Project, id: FunctionId, state: &str, via_self: bool, depth: u8) -> bool {
        let function = project.function(id);
        let unlocked = |at: &Span| held_at(project, function, at.start).is_none();
        // The object's own attribute, also as a subclass's method writes it (`ThreadPool._state`
        // for `BasePool._state`).
        let same = |written: &str| {
            written == state
                || via_self
                    && matches!((written.rsplit_once('.'), state.rsplit_once('.')),
                        (Some((class, attribute)), Some((base, checked)))
                            if attribute == checked && project.index.inherits(class, base))
        };
        function
            .state_writes
            .iter()
            .any(|w| same(&w.state) && unlocked(&w.span))
            || function
                .container_changes
                .iter()
                .any(|c| same(&c.state) && unlocked(&c.span))
            // (Rust: a collection behind a lock filled under its own guard, unchecked.)
            || function.unchecked_fills.iter().any(|f| same(&f.state))
            || depth > 0
                && callees(project, id, via_self, None).any(|(_, callee)| {
                    callee != id && changes(project, callee, state, via_self, depth - 1)
                })
    }
    callees(project, id, via_self, Some(within))
        .find(|&(_, callee)| changes(project, callee, state, via_self, 1))
        .map(|(span, _)| span)
}

/// The project functions a function calls (inside `within`, when given), with each call's
/// span; with `own`, only the calls on its own object. A call of an abstract method runs one of
/// its overrides (see [`Project::dispatched`]).
fn callees<'p>(
    project: &'p Project,
    id: FunctionId,
    own: bool,
    within: Option<Span>,
) -> impl Iterator<Item = (Span, FunctionId)> + 'p {
    let function = project.function(id);
    function
        .calls
        .iter()
        .enumerate()
        .filter(move |(_, made)| {
            let inside = within
                .as_ref()
                .is_none_or(|w| made.span.start >= w.start && made.span.end <= w.end);
            inside && !(own && made.receiver != Receiver::Own)
        })
        .flat_map(move |(call, made)| {
            let site = CallSite { caller: id, call };
            let span = made.span.clone();
            project
                .dispatched(site)
                .iter()
                .map(move |&callee| (span.clone(), callee))
        })
}

/// The thread starts that make a function run on several threads at once, as related sites.
pub(super) fn started_here(
    project: &Project,
    concurrency: &Concurrency,
    id: FunctionId,
    name: &str,
) -> Vec<Related> {
    let sites = concurrency
        .started_at
        .get(&id)
        .map_or(&[][..], Vec::as_slice);
    sites
        .iter()
        .map(|(starter, span)| Related {
            path: project.model(*starter).path.clone(),
            span: span.clone(),
            message: match sites.len() {
                1 => format!("`{name}` is reached from here, on threads that run at once"),
                _ => format!("`{name}` is reached from threads started here"),
            },
        })
        .collect()
}
