//! The language-neutral model of concurrency facts that both front ends lower into.
//!
//! A [`FileModel`] holds the functions of one source file (index 0 is the module's top-level
//! code) and, per function, the ordered facts the rules read: calls with their canonical callee
//! and the execution context they run in, and await points. Later analyses add locks, spawns and
//! shared-state accesses here.

use rustc_hash::FxHashMap as HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use thin_vec::ThinVec;

/// The source vocabulary the model is written in (defined in the leaf [`crate::source`]).
pub use crate::source::{Language, Span};

pub mod condition;

use condition::{ArgumentFact, CallCondition, Parameter, Value};

use crate::codes::Code;

/// Where a piece of code runs, as far as blocking is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// Ordinary synchronous code.
    Sync,
    /// Code that runs on an event loop: an `async def`/`async fn` body, an async block or closure.
    Async,
    /// Code handed to another thread (`asyncio.to_thread`, `spawn_blocking`, `thread::spawn`…).
    Offloaded,
    /// Synchronous code that never runs on an event loop: it follows a check that raises when
    /// one runs in its thread (`try: asyncio.get_running_loop() except RuntimeError: pass
    /// else: raise RuntimeError(..)`). It runs on the calling thread, but what it blocks on
    /// never blocks a loop.
    OffLoop,
}

/// What kind of code region a [`Function`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    /// The top-level code of a module.
    Module,
    /// A `def`/`fn`, including methods.
    Function,
    /// A lambda or closure.
    Closure,
    /// A Rust `async { … }` block.
    AsyncBlock,
}

/// The hash a name is recorded under in [`Function::reads`].
pub fn name_hash(name: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(name)
}

/// [`name_hash`] of the concatenation of `parts`, without building it on the heap when it is
/// short (the common case: a name and a suffix).
pub fn parts_hash(parts: &[&str]) -> u64 {
    let mut buffer = [0u8; 128];
    let mut length = 0;
    for part in parts {
        let Some(slot) = buffer.get_mut(length..length + part.len()) else {
            return name_hash(&concat(parts));
        };
        slot.copy_from_slice(part.as_bytes());
        length += part.len();
    }
    // Whole `str`s were copied: the bytes are UTF-8.
    name_hash(std::str::from_utf8(&buffer[..length]).unwrap_or_default())
}

/// What the code does with a call's result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ResultUse {
    /// Used in an expression, returned, passed on, stored…
    #[default]
    Used,
    /// An expression statement: the result is thrown away. Rust: also `let _ = f();`, and
    /// `let _id = f();` with `_id` never named again (not a guard, which holds its lock).
    Discarded,
    /// Assigned to a plain local name (`c = fetch()`).
    Bound(Box<str>),
    /// Returned as it is (`return fetch()`).
    Returned,
    /// Only tested for truth: the condition of an `if`/`while`, or an operand of `not`,
    /// `and`, `or` there (`if exists(key):`).
    Tested,
    /// Unpacked, iterated or subscripted as the result would be (`rows, total = fetch()`,
    /// `for row in fetch():`, `fetch()["rows"]`).
    Unpacked,
    /// Given to a library call that uses it as a plain value (`json.dumps(fetch())`,
    /// `print(fetch())`; `[consumers]` in `types.toml`), named here.
    Consumed(Box<str>),
    /// Called by a library function the object is handed to, which uses the result as a
    /// plain value (`json.dump(data, f)` calls `f.write(..)`), named here.
    CalledBy(Box<str>),
}

/// The object a method call runs on, seen from the calling method's own object (`self`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Receiver {
    /// Some other object, or not a method call.
    #[default]
    Other,
    /// The caller's own object: `self.helper()`, `super().helper()`.
    Own,
    /// The object that created the caller's object and handed itself over: `self.owner.m()`
    /// after `Owner` ran `self.subs = Sub(self)` and `Sub.__init__` kept `self.owner = owner`.
    Creator,
    /// An object the caller's object created, handing itself over: `self.subs.m()` in `Owner`.
    Child,
    /// The caller's parameter with this index, counting `self` (`region.flush()` in
    /// `fn write(region: &Region)`). As the owner of a lock a function may take: a field of
    /// that parameter (`region.buffer`).
    Parameter(u8),
}

impl Receiver {
    /// Whose lock a lock of `owner` (seen from the callee) is, seen from the caller.
    pub fn compose(self, owner: Receiver) -> Receiver {
        match (self, owner) {
            (Receiver::Own, owner) => owner,
            (Receiver::Creator, Receiver::Own) => Receiver::Creator,
            (Receiver::Child, Receiver::Creator) => Receiver::Own,
            (Receiver::Parameter(index), Receiver::Own) => Receiver::Parameter(index),
            _ => Receiver::Other,
        }
    }
}

/// One call site.
#[derive(Clone, Debug)]
pub struct Call {
    /// Canonical name of the callee (`time.sleep`, `queue.Queue.get`, `std::fs::read`) when the
    /// front end could resolve it through imports, `use` items and simple type evidence.
    pub callee: Option<String>,
    /// Method name when the call has method syntax (`x.get()`), resolved or not.
    pub method: Option<String>,
    /// The whole call expression.
    pub span: Span,
    /// The context this call runs in.
    pub context: Context,
    /// The call asks not to block (`get(block=False)`, `acquire(timeout=0)`).
    pub non_blocking: bool,
    /// Other canonical names the callee may have, tried in order when `callee` is not a
    /// project function (Rust: names a glob import such as `use super::*` may bring in).
    /// Python, with no `callee`: the name the project may type a call on a parameter by and
    /// the parameter's own name (`app.jobs.worker.node.run`, `app.jobs.worker.node`), or a
    /// registry of callbacks (`app.bus.Bus._listeners[]`); see `SymbolIndex::resolve_passed`.
    pub alternatives: ThinVec<String>,
    /// Which object the call runs on, relative to the calling method's own object: locks the
    /// callee takes through its `self` are the caller's when it is [`Receiver::Own`].
    pub receiver: Receiver,
    /// The call's result is awaited or scheduled as an awaitable (`await f()`, `f().await`,
    /// `asyncio.create_task(f())`): it returns a coroutine or future and does not block.
    pub awaited: bool,
    /// The awaitable is handed to a scheduler (`asyncio.create_task(f())`, `tokio::spawn(f())`):
    /// it runs later, in another task, not while the caller's locks are held.
    pub scheduled: bool,
    /// The closure or lambda the call is in (0: none), as in [`LockHold::closure`].
    pub closure: u32,
    /// The object the call runs on, when the caller holds a lock that is a field of that
    /// object (see [`LockHold::object`]); 0: none.
    pub object: u32,
    /// What happens to the call's result.
    pub result: ResultUse,
    /// The blocking API the call is, per the tables the file was lowered with.
    pub blocking: Option<Box<BlockingApi>>,
    /// Python: how many positional arguments the call gives (what they tell a callee's
    /// conditions, if more, is in [`Function::call_arguments`]).
    pub positional_arguments: u16,
    /// Rust: the arguments that are objects whose locks the analysis follows into the callee
    /// (the caller's own object, one of its parameters, an object whose lock it holds).
    pub object_arguments: ThinVec<ObjectArgument>,
}

/// An argument of a call that is an object the callee may lock a field of (`&region` in
/// `self.flush(&region)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectArgument {
    /// The callee's parameter it is given as, counting `self`.
    pub position: u8,
    /// Which object it is, seen from the caller: its own, one of its parameters, another.
    pub receiver: Receiver,
    /// The held object it is (see [`LockHold::object`]); 0: none.
    pub object: u32,
}

/// One blocking API: the rule it belongs to (one of [`crate::codes::BLOCKING_API_CODES`]) and
/// the alternative to suggest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockingApi {
    pub rule: Code,
    pub alternative: Option<String>,
}

/// A function, method, closure, async block or a module's top-level code. The facts most
/// functions do not have are `ThinVec`s (one pointer when empty): a project has one `Function`
/// per function, so their size is memory and time.
#[derive(Clone, Debug)]
pub struct Function {
    /// Qualified name inside the file (`Service.handle`, `<module>`), for messages.
    pub name: String,
    /// Canonical project-wide name (`shop.service.Service.handle`, `ledger::db::Store::load`).
    pub canonical: String,
    pub kind: FunctionKind,
    pub is_async: bool,
    /// The span of the definition's name (or of the whole region for closures and blocks).
    pub span: Span,
    /// Index of the enclosing function in [`FileModel::functions`].
    pub parent: Option<usize>,
    /// Calls in source order.
    pub calls: Vec<Call>,
    /// `await` / `.await` points in source order.
    pub awaits: ThinVec<Span>,
    /// Hashes ([`name_hash`]) of the names this function's code reads (Python), to tell
    /// whether a bound result is used; `x.` when it is only used as a call's result would be:
    /// an attribute read (`x.size`, `x.insert(..)`, not a coroutine's own `x.close()`) or
    /// iteration (`for i in x`). Each with where its last read is (see [`read_position`]):
    /// only a read after a binding reads what that binding bound.
    pub reads: HashMap<u64, u32>,
    /// Hashes of the names this function only tests for truth (`if x:`, `while not x:`, `x and
    /// y` as a condition) and does not otherwise read, with where the last test is: a
    /// coroutine is always true, so a coroutine bound to one is a missing `await`.
    pub truth_tests: ThinVec<(u64, u32)>,
    /// Loops that only poll a condition and sleep (the span of the loop keyword).
    pub busy_waits: ThinVec<Span>,
    /// Locks held over a region of this function, in source order of acquisition.
    pub lock_holds: ThinVec<LockHold>,
    /// (Python) Code that runs only where a non-blocking attempt got the lock, so only where
    /// the lock was free (`if L.acquire(False): …`): the lock, with `region` that code.
    pub lock_attempts: ThinVec<LockHold>,
    /// Locks that cannot exclude anything (IL205).
    pub pointless_locks: ThinVec<PointlessLock>,
    /// Locks that may stay held after the function is done with them (IL204).
    pub leaked_locks: ThinVec<LeakedLock>,
    /// `wait`/`notify` calls on condition variables (IL206).
    pub condition_uses: ThinVec<ConditionUse>,
    /// What is handed to another process that cannot go there (IL302, IL303).
    pub process_handoffs: ThinVec<ProcessHandoff>,
    /// Callables this function starts on other threads (thread entry points).
    pub thread_entries: ThinVec<ThreadEntry>,
    /// Python: `thread.join()` calls that wait for a thread to finish.
    pub thread_joins: ThinVec<ThreadJoin>,
    /// Python: calls of a method on a parameter (or an attribute path from one) of unknown
    /// type (`message.channel.send(..)`), each with the [`name_hash`] of its shape as written
    /// (`message.channel.send`): how the project uses calls of one shape tells whether they
    /// return coroutines (IL501).
    pub unknown_calls: ThinVec<(u32, u64)>,
    /// Writes of shared state: module globals, attributes through `self`, `static mut`s.
    pub state_writes: ThinVec<StateWrite>,
    /// A check of shared state followed by an act that depends on it (IL403).
    pub check_then_acts: ThinVec<CheckThenAct>,
    /// Reads of shared state that decide a branch (`if self.closed:`), for IL402.
    pub state_checks: ThinVec<StateUse>,
    /// Python: containers of shared state changed in place (`self.conns[k] = v`, `del
    /// self.conns[k]`, `self.conns.pop(k)`), for IL402.
    pub container_changes: ThinVec<StateUse>,
    /// Rust: collections behind a lock filled through a guard of it, with no check under any
    /// guard of that lock in the function (`self.children.write().unwrap().insert(k, v)`):
    /// called after a caller's check, such a function is the act of that check (IL403).
    pub unchecked_fills: ThinVec<StateUse>,
    /// Python: containers of shared state iterated item by item (`for k in self.conns:`, a
    /// comprehension over `self.conns.items()`), for IL402.
    pub iterations: ThinVec<StateUse>,
    /// Python: the canonical names of the decorators (`functools.cache`, `textual.work`; the
    /// called name for a decorator factory such as `@work(thread=True)`).
    pub decorators: ThinVec<String>,
    /// Python: its docstring, or its class's for a public method, says it may be called from
    /// several threads (`"Thread-safe."`, `"Safe to call from any thread."`): the callers'
    /// threads run it at once.
    pub thread_safe_contract: bool,
    /// Python: the body yields (a generator, or an async generator: calling it runs nothing and
    /// returns no coroutine).
    pub generator: bool,
    /// Python methods: the body only raises `NotImplementedError` (or is `...`/`pass` under
    /// `@abstractmethod`): a call of it runs a subclass's override.
    pub abstract_stub: bool,
    /// Python methods: it looks up a method of its own object by a computed name
    /// (`getattr(self, f"handle_{name}")`), so any of the class's methods may run from it.
    pub dispatches_by_name: bool,
    /// Python: how many `return` statements give a value (not counting nested functions).
    pub value_returns: u16,
    /// Python: the parameters, with their defaults.
    pub parameters: ThinVec<Parameter>,
    /// Python methods: the attributes of `self` the method sets, with the value and where
    /// (an assignment nested in a branch or loop gives [`Value::Unknown`]): what a call of
    /// another method of the object sees of them.
    /// Attributes by [`condition::key`].
    pub attribute_values: ThinVec<(u32, Value, u32)>,
    /// Python: the calls (by index in `calls`, ascending) made only under a condition on the
    /// function's inputs (`if trust_env:`), with the condition (one object for the calls of a
    /// branch). The other calls run whenever the code around them does.
    pub call_conditions: ThinVec<(u32, Arc<CallCondition>)>,
    /// Python: what the arguments of the calls tell a callee's conditions beyond their number
    /// (a literal, an input of this function, a keyword), by call in ascending order. Only
    /// calls of something that may be a project function are noted.
    pub call_arguments: ThinVec<ArgumentFact>,
    /// Rust: closures bound to a local and called by it (`let reload = || ..; reload();`):
    /// the closure's number, where it is called, and the closure that call is in (0: none).
    /// The closure's body runs there, under what is held there.
    pub local_closure_calls: ThinVec<(u32, Span, u32)>,
    /// Python: blocking method calls on a file this function opened with a blocking call
    /// (`f.read()` after `f = open(p)`): the opening call's index in `calls`, and the use. The
    /// opening call is the site reported; its uses are shown with it.
    pub file_uses: ThinVec<(u32, Span)>,
    /// The struct fields (Python: attributes of `self`) this function fills with a value it
    /// has by name (see [`FieldFlow`]).
    pub field_flows: ThinVec<FieldFlow>,
    /// Calls on a field of the method's own object (`self.pos_state.feed()`): the call's
    /// index in `calls` and the fields from `self` (`pos_state`).
    pub field_receivers: ThinVec<(u32, String)>,
    /// Python: calls on an object the module keeps in a global (`SYNC.run_sync()` after `SYNC =
    /// Synchronizer()`): their indices in `calls`. Every thread that makes one shares that
    /// object.
    pub global_receivers: ThinVec<u32>,
}

/// A struct field or attribute filled with a value a function has by name (`Self { db, pos_state }`
/// in `fn new(db: Arc<RwLock<Db>>)`), directly or as an argument of the call whose result
/// the field holds (`let pos_state = PosState::new(db.clone());`). Two fields filled from
/// one value (clones of one `Arc` count as one) share what it holds: the project phase
/// follows the constructors to find fields of one object that reach the same lock
/// (`FinalState.db` and `FinalState.pos_state.db`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldFlow {
    /// The field filled (`ledger::FinalState.pos_state`).
    pub field: String,
    /// The value, as the function names it.
    pub source: FlowSource,
    /// The field holds the result of this call (its canonical callee), given the value as
    /// this argument; `None`: the field holds the value itself.
    pub through: Option<(String, FlowArgument)>,
}

/// The argument of a call a [`FieldFlow`] passes its value as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowArgument {
    /// The callee's parameter at this position, counting `self`.
    Position(u8),
    /// Python: the parameter of this name ([`condition::key`]).
    Keyword(u32),
}

/// The value a [`FieldFlow`] starts from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FlowSource {
    /// The function's parameter with this index (counting `self`).
    Parameter(u8),
    /// A local of the function.
    Local(String),
}

/// A use of shared state at one site: a read in an `if`/`while` condition, a change in place
/// of a container, an iteration over one.
#[derive(Clone, Debug)]
pub struct StateUse {
    pub span: Span,
    pub state: String,
    pub written: String,
    pub via_self: bool,
    /// What the use decides: the whole `if` statement for a condition's read; the site
    /// itself otherwise.
    pub extent: Span,
}

/// A callable started on another thread (`Thread(target=self.work)`, `thread::spawn(worker)`).
#[derive(Clone, Debug)]
pub struct ThreadEntry {
    pub span: Span,
    /// The callable's canonical name, when it names a function or method.
    pub target: Option<String>,
    /// A closure numbered as in [`LockHold::closure`] whose body runs on the other thread.
    pub closure: u32,
    /// A function of the same file started on the thread (a Rust async block or closure).
    pub function: Option<usize>,
    /// Started in a loop or comprehension, or by a pool: several instances may run at once.
    pub repeated: bool,
    /// `obj.start()` of a Python class: an entry only if the class derives from
    /// `threading.Thread` (then `target` is its `run`).
    pub if_thread_subclass: bool,
    /// The type of the executor the callable is handed to (`loop.run_in_executor(executor,
    /// f)`), when known: an entry only if that executor runs it on a thread.
    pub executor: Option<String>,
    /// The callable runs on an object made for this start (a request handler made for each
    /// request): the object's own state is not shared by the starts.
    pub fresh_object: bool,
    /// Python: the types of the objects handed to the callable that are the same object on
    /// every start (`args=(catalog,)`; of a repeated entry, with `catalog` made before the
    /// loop): the threads, and the starting function, share them.
    pub shared_arguments: ThinVec<String>,
    /// Python: the callable is the starting function's parameter at this position (counting
    /// `self`) and of this name (by its [`condition::key`]): what each caller passes there
    /// runs on the thread (`def start_daemon(callback): Thread(target=callback).start()`).
    pub parameter: Option<(u32, u32)>,
}

impl ThreadEntry {
    /// A start of the function named `target` at `span`, handed nothing: started once, on an
    /// object of its own when it is a method (set the other fields as a start differs).
    pub fn of_function(span: Span, target: String) -> Self {
        ThreadEntry {
            span,
            target: Some(target),
            closure: 0,
            function: None,
            repeated: false,
            if_thread_subclass: false,
            executor: None,
            fresh_object: false,
            shared_arguments: ThinVec::new(),
            parameter: None,
        }
    }
}

/// A `join()` on a thread object: the caller waits until the thread's function returns (or,
/// with a timeout, until the timeout passes).
#[derive(Clone, Debug)]
pub struct ThreadJoin {
    /// The index of the `join()` call in the function's calls.
    pub call: u32,
    /// What names the thread: the variable or attribute that holds it, as a key of
    /// [`FileModel::thread_targets`] (`shop.Worker._thread`, `shop.main#t` for a local), and
    /// the thread's class when it is a project `Thread` subclass (`shop.Refresher`: its `run`).
    pub threads: ThinVec<String>,
    /// `join(timeout)`: the wait gives up after the timeout.
    pub timeout: bool,
}

/// How shared state is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Write,
    /// `x += 1`, `x = x + 1`, or a read into a local then a write from it.
    ReadModifyWrite,
}

/// A write of shared state.
#[derive(Clone, Debug)]
pub struct StateWrite {
    pub span: Span,
    /// The state's identity (`shop.stats.counter`, `shop.stats.Stats.hits`, `ledger::COUNT`;
    /// the items of a container: `shop.stats.Stats.by_path[]`, see [`items_of`]).
    pub state: String,
    /// As written (`counter`, `self.hits`).
    pub written: String,
    pub via_self: bool,
    pub access: Access,
    /// For a read into a local and a later write from it: the read.
    pub read: Option<Span>,
    /// Await points between that read and the write (IL404).
    pub awaits_between: Vec<Span>,
    /// The closure or lambda it is in, as in [`LockHold::closure`].
    pub closure: u32,
    pub context: Context,
}

/// The state identity of a container's items (`Stats.by_path` → `Stats.by_path[]`): an item
/// updated or checked is that state, not the container itself.
pub fn items_of(container: &str) -> String {
    concat(&[container, ITEMS])
}

/// The suffix [`items_of`] adds.
pub const ITEMS: &str = "[]";

/// Rust: whether a canonical path is the standard library's (`std::`, `core::`, `alloc::`).
pub fn is_standard_path(path: &str) -> bool {
    ["std::", "core::", "alloc::"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// Rust: the marker of a sharded collection's type string (`#{}Conn`: a `DashMap` of `Conn`s,
/// `#[]Key`: a `DashSet`), a collection that locks one shard per key.
pub const SHARDED: &str = "#";

/// Rust: the lock types of sharded collections (a map, a set), whose guard methods are
/// ordinary collection methods (`iter`, `get`): a call of one takes a lock only on a receiver
/// typed as one.
pub const SHARDED_LOCK_TYPES: [&str; 2] = ["dashmap::DashMap", "dashmap::DashSet"];

/// Rust: the lock type whose guard methods (in the lock tables) a sharded collection's type
/// string stands for.
pub fn sharded_lock_type(ty: &str) -> Option<&'static str> {
    let ty = ty.strip_prefix(SHARDED)?;
    if ty.starts_with("{}") {
        Some(SHARDED_LOCK_TYPES[0])
    } else if ty.starts_with(ITEMS) {
        Some(SHARDED_LOCK_TYPES[1])
    } else {
        None
    }
}

/// `if key not in cache: cache[key] = …`, `if inst is None: inst = …`,
/// `if !flag.load(..) { flag.store(..) }`.
#[derive(Clone, Debug)]
pub struct CheckThenAct {
    pub check: Span,
    pub act: Span,
    /// The state's identity, as in [`StateWrite::state`] (a Rust atomic: as written).
    pub state: String,
    /// The state as written (`self.cache`, `READY`).
    pub written: String,
    /// The state belongs to the method's own object (`self.cache`; not a container the class
    /// body creates, which every instance shares).
    pub via_self: bool,
    /// The state is a Rust atomic (the fix is `compare_exchange`/`fetch_update`).
    pub atomic: bool,
    /// Rust: the state is a collection behind a lock, checked through one guard and changed
    /// through another taken after the first was dropped (`state` is the lock's identity).
    pub relocked: bool,
    /// Rust: that collection locks itself in each call (a `DashMap`): checked with one call
    /// and filled with another, with no guard of its own.
    pub self_locking: bool,
    /// What the act does with what the check found.
    pub act_kind: ActKind,
    /// The act is one of the calls inside `act` (a region of the branch): a helper, method or
    /// constructor that changes the state. The rule keeps the finding only where the call
    /// graph shows one that does, and reports that call.
    pub act_in_callee: bool,
    /// Python: a thread object the state keeps, which shows the code is written for several
    /// threads.
    pub keeps: Keeps,
    pub closure: u32,
}

/// Python: the callbacks of an `asyncio` protocol class, which the event loop calls on its own
/// thread: async context although they are plain `def`s.
pub const PROTOCOL_CALLBACKS: [&str; 12] = [
    "connection_made",
    "connection_lost",
    "pause_writing",
    "resume_writing",
    "data_received",
    "eof_received",
    "get_buffer",
    "buffer_updated",
    "datagram_received",
    "error_received",
    "pipe_data_received",
    "process_exited",
];

/// Python: what thread object the state of an IL403 check keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keeps {
    Nothing,
    /// The act stores a new thread lock (`_locks[key] = threading.RLock()`): two threads that
    /// both create one for the same key do not exclude each other.
    ThreadLock,
    /// The state is a `threading.local` (`cls._tls = threading.local()`): two threads that
    /// both create one each keep what they store in their own, and one of them is lost.
    ThreadLocal,
}

/// What an IL403 act does with the state its check found, which decides what goes wrong when
/// another thread acts in between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActKind {
    /// Creates what the check found missing (`if k not in d: d[k] = …`, a lazy singleton):
    /// both threads create it.
    Create,
    /// Needs an entry the check found present (`if k in d: del d[k]`, `if q: q.popleft()`):
    /// another thread can remove it in between (`KeyError`, `IndexError`).
    NeedsEntry,
    /// Takes a value the check found set into a local and clears it (`if _pending: args =
    /// _pending; _pending = None`): both threads take it.
    Take,
    /// Fills a container the check found empty (`if not cache: cache.update(load())`):
    /// another thread sees it part-filled, or both fill it.
    Fill,
    /// Changes a Rust atomic by a read-modify-write whose result (the value it replaced) is
    /// thrown away, while a value loaded before it is used afterwards (`let was =
    /// A.load(..) & bit > 0; A.fetch_or(bit, ..); was`): both threads see the old value.
    StaleLoad,
}

/// Something passed to another process that cannot be pickled or shared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// A lambda as the process's callable.
    Lambda,
    /// A function defined inside another function (a closure), by its name.
    NestedFunction(String),
    /// A method of a class defined inside a function (`obj.method`).
    LocalClassMethod(String),
    /// An object of a class defined inside a function, among the callable's arguments (as
    /// written, and the class's name).
    LocalClassObject { value: String, class: String },
    /// A threading or asyncio primitive among the callable's arguments: the argument as
    /// written and its type (`lock`, `threading.Lock`).
    ThreadPrimitive { value: String, kind: String },
    /// An object with a lambda in an attribute, as written with the attribute
    /// (`self.colormap`): pickling the object pickles the lambda.
    LambdaAttribute(String),
}

/// A callable or argument handed to another process.
#[derive(Clone, Debug)]
pub struct ProcessHandoff {
    /// The callable or argument.
    pub span: Span,
    /// The API it is handed to (`multiprocessing.Process`, `concurrent.futures.ProcessPoolExecutor.submit`).
    pub api: String,
    pub what: Handoff,
}

/// Where a lock lives, which decides when two acquisitions take the same lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockScope {
    /// A module global, class attribute or `static`: one lock for the whole program.
    Global,
    /// A field of an object (`self.lock`, `bank.accounts`): one lock per instance.
    Field,
    /// A function-local variable or parameter: only the same function can tell.
    Local,
}

/// A lock's identity as a front end resolves it: what two acquisitions must share to take the
/// same lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockName {
    /// Project-wide identity (`shop.ledger.Ledger.audit_lock`, `ledger::Bank.accounts`).
    pub identity: String,
    pub scope: LockScope,
    /// Reached through the method's own object (`self.lock`).
    pub via_self: bool,
}

/// Why a lock may stay held (IL204).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leak {
    /// `acquire()`, then a `return`/`raise`/`break`/`continue` before the `release()`.
    EarlyExit(Span),
    /// `acquire()`, then code that may raise before a `release()` outside `finally`.
    MayRaise(Span),
    /// `acquire()`, then code that may raise before the `try` whose `finally` releases.
    RaisesBeforeTry(Span),
    /// `await loop.run_in_executor(None, L.acquire)` before the `try` whose `finally`
    /// releases: a cancellation at the await skips the `try`, and the worker still acquires.
    CancelledWhileAcquiring,
    /// `std::mem::forget(guard)`.
    Forgotten,
    /// `ManuallyDrop::new(guard)`.
    ManuallyDropped,
}

/// A lock that may never be released.
#[derive(Clone, Debug)]
pub struct LeakedLock {
    /// The acquisition (or the `forget` call).
    pub span: Span,
    pub lock: String,
    pub why: Leak,
    /// (Python) The helper calls that take and give back the lock when they are not
    /// `L.acquire()` / `L.release()` themselves (`self._acquire_all()`, `self._release_all()`).
    pub through: Option<(String, String)>,
}

/// What a condition-variable call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionOp {
    /// `wait()` / `Condvar::wait` / `wait_timeout`: must re-check its predicate in a loop.
    Wait,
    /// `wait_for()` / `wait_while`: checks the predicate itself.
    WaitFor,
    /// `notify()` / `notify_all()`.
    Notify,
}

/// A `wait`/`notify` call on a condition variable.
#[derive(Clone, Debug)]
pub struct ConditionUse {
    pub span: Span,
    /// The condition as written (`self.ready`).
    pub condition: String,
    /// The identity of the lock the condition uses (as in [`LockHold::identity`]).
    pub identity: String,
    pub op: ConditionOp,
    /// Inside a loop of the same function.
    pub in_loop: bool,
    /// Has a timeout argument (a timed wait is often an interruptible sleep).
    pub timed: bool,
    /// Inside a `with` over a context manager that is not a known lock
    /// (`with self._locked():`), which may hold the condition's lock.
    pub maybe_held: bool,
}

/// A lock defined where the whole program can reach it: a module global, a class attribute, an
/// attribute set in a method, a `static` or a struct field.
#[derive(Clone, Debug)]
pub struct LockDefinition {
    /// The same identity acquisitions carry (`shop.state.registry_lock`, `ledger::Bank.accounts`).
    pub identity: String,
    /// Python lock type, or Rust lock type (`std::sync::Mutex`).
    pub kind: String,
    pub span: Span,
    /// Rust: a struct field of type `Arc<Lock<T>>` with `T` a named type: `T`. Such a lock is
    /// made to be shared, and fields of several structs that hold one around the same
    /// project type are taken to hold the same one (see `graph::locks`).
    pub shared: Option<String>,
    /// Rust: the lock guards no data (`Mutex<()>`): what it serialises lives elsewhere (an
    /// atomic, another field), so only holding it orders changes of that state with waits.
    pub guards_nothing: bool,
}

/// Why a lock excludes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pointless {
    /// Created in the expression that acquires it (`with threading.Lock():`,
    /// `Mutex::new(x).lock()`).
    CreatedWhereAcquired,
    /// A function-local lock that never leaves the function: each call locks its own.
    LocalNeverEscapes,
    /// A guard dropped at once (`let _ = m.lock();`, `m.lock().unwrap();`).
    GuardDiscarded,
    /// Rust: a guard only tested, dropped before the branch it guards runs (`if
    /// m.try_lock().is_ok() { .. }`).
    GuardTested,
}

/// Marks a name an async function returns as it is (`return data`) in [`Function::reads`]:
/// the name is not read there otherwise, and its caller's `await` gets the value.
pub const RETURNED: &str = " returned";

/// A lock acquisition that protects nothing.
#[derive(Clone, Debug)]
pub struct PointlessLock {
    pub span: Span,
    /// The lock as written.
    pub lock: String,
    pub why: Pointless,
}

/// A lock (or `RefCell` borrow) held over a region of code.
#[derive(Clone, Debug)]
pub struct LockHold {
    /// The acquisition (`with self.lock:`, `let guard = m.lock().unwrap();`).
    pub span: Span,
    /// The lock as written (`self.lock`, `state`).
    pub lock: String,
    /// The lock's type or guard method (`threading.Lock`, `std::sync::Mutex::lock`). When the
    /// front end cannot tell (a lock defined in another file) it is empty (Python) or only the
    /// guard method (`::lock`, Rust), and the project's lock definitions decide.
    pub kind: String,
    /// The lock's project-wide identity (`shop.ledger.Ledger.audit_lock`, `ledger::Bank.accounts`,
    /// `ledger::transfer::a` for a local); empty when it cannot be named (`locks[i]`).
    pub identity: String,
    pub scope: LockScope,
    /// Reached through the method's own object (`self.lock`).
    pub via_self: bool,
    /// The bytes during which it is held: from the acquisition to the release (end of the `with`
    /// body, `release()`, the guard's drop).
    pub region: Span,
    /// Await points while it is held.
    pub awaits: Vec<Span>,
    /// Where the acquisition runs (a closure handed to another thread runs elsewhere).
    pub context: Context,
    /// `acquire()` with no release in the same function: the lock may be released by another
    /// thread (a lock used as a signal), so it is held only as far as this function can tell,
    /// and lock ordering does not count it.
    pub unreleased: bool,
    /// The closure (Rust) or lambda (Python) the acquisition is in (0: none): it may run later,
    /// so a lock held outside it is not held inside it.
    pub closure: u32,
    /// The object whose field the lock is, when it is not the method's own (`client` in
    /// `client.inner.lock()`), numbered in the file; 0: none or `self`. A call with the same
    /// number (`client.reconnect()`) runs on that object, so its `self.inner` is this lock.
    pub object: u32,
    /// Rust: the function's parameter (counting `self`) whose field the lock is (`region` in
    /// `region.buffer.read()` in `fn flush(region: &Region)`): a caller that passes an object
    /// whose lock it holds has this lock taken again. For a local-scoped lock: the parameter
    /// that is the lock (`models` in `fn load(models: &RwLock<..>)`).
    pub parameter: Option<u8>,
    /// Rust: a lock handed to the call at `span` as its argument with this index (counting
    /// `self`) for the callee to lock: it is held for the call.
    pub argument: Option<u8>,
    /// Rust: parts of the region where the guard is gone: from a `drop(guard)` in a branch
    /// that returns to that branch's end (`if bad { drop(guard); return; }`).
    pub holes: ThinVec<Span>,
}

impl LockHold {
    /// Whether a position lies in the held region, after the acquisition itself.
    pub fn covers(&self, position: usize) -> bool {
        position > self.span.start
            && position >= self.region.start
            && position < self.region.end
            && !self.holes.iter().any(|hole| hole.contains(&position))
    }
}

impl Function {
    /// Where code of closure `closure` (0: the function's own code) at `position` runs while
    /// `hold` is held, as a position in the hold's own code: there, if it is in the hold's
    /// closure and region, or where a closure bound to a local is called from there (a few
    /// closures deep). `None`: it does not run under the hold.
    pub fn runs_under(&self, closure: u32, position: usize, hold: &LockHold) -> Option<usize> {
        self.runs_under_within(closure, position, hold, 3)
    }

    fn runs_under_within(
        &self,
        closure: u32,
        position: usize,
        hold: &LockHold,
        depth: u8,
    ) -> Option<usize> {
        if closure == hold.closure {
            return hold.covers(position).then_some(position);
        }
        if depth == 0 {
            return None;
        }
        self.local_closure_calls
            .iter()
            .filter(|(called, ..)| *called == closure)
            .find_map(|(_, at, from)| self.runs_under_within(*from, at.start, hold, depth - 1))
    }

    /// Whether code of closure `closure` runs whenever the function's own code does: it is
    /// that code (0), or a closure bound to a local and called from it.
    pub fn runs_in_body(&self, closure: u32) -> bool {
        let mut closure = closure;
        for _ in 0..4 {
            if closure == 0 {
                return true;
            }
            match self
                .local_closure_calls
                .iter()
                .find(|(called, ..)| *called == closure)
            {
                Some((_, _, from)) => closure = *from,
                None => return false,
            }
        }
        false
    }

    /// A constructor (or test set-up method): state it writes is not shared yet. Rust's
    /// `new`/`default` only in Rust (a Python method named `default` is an ordinary one).
    pub fn is_constructor(&self) -> bool {
        let rust = self.canonical.contains("::");
        let name = self.name.rsplit(['.', ':']).next().unwrap_or("");
        match name {
            "__init__" | "__new__" | "__post_init__" | "setUp" | "setup_method" => !rust,
            "new" | "default" => rust,
            _ => false,
        }
    }

    /// Code that runs while no other thread can reach the object: a constructor (nothing is
    /// shared yet), a Python finalizer, `__del__`, which runs once no reference is left (a
    /// thread that still uses the object holds one), `__setstate__`, which sets up an object
    /// `pickle` or `copy` has just made, or a test's class set-up and tear-down
    /// (`tearDown`, `teardown_method`, `setUpClass`, ...), which run between tests.
    pub fn runs_unshared(&self) -> bool {
        let python = !self.canonical.contains("::");
        let name = self.name.rsplit('.').next();
        self.is_constructor()
            || (python
                && matches!(
                    name,
                    Some(
                        "__del__"
                            | "__setstate__"
                            | "tearDown"
                            | "teardown_method"
                            | "setUpClass"
                            | "tearDownClass"
                            | "setup_class"
                            | "teardown_class"
                    )
                ))
    }

    /// A function region with no facts yet.
    pub fn new(
        name: String,
        canonical: String,
        kind: FunctionKind,
        is_async: bool,
        span: Span,
        parent: Option<usize>,
    ) -> Self {
        Function {
            name,
            canonical,
            kind,
            is_async,
            span,
            parent,
            calls: Vec::new(),
            awaits: ThinVec::new(),
            reads: HashMap::default(),
            truth_tests: ThinVec::new(),
            busy_waits: ThinVec::new(),
            lock_holds: ThinVec::new(),
            lock_attempts: ThinVec::new(),
            pointless_locks: ThinVec::new(),
            leaked_locks: ThinVec::new(),
            condition_uses: ThinVec::new(),
            process_handoffs: ThinVec::new(),
            thread_entries: ThinVec::new(),
            thread_joins: ThinVec::new(),
            unknown_calls: ThinVec::new(),
            state_writes: ThinVec::new(),
            check_then_acts: ThinVec::new(),
            state_checks: ThinVec::new(),
            container_changes: ThinVec::new(),
            unchecked_fills: ThinVec::new(),
            iterations: ThinVec::new(),
            decorators: ThinVec::new(),
            thread_safe_contract: false,
            generator: false,
            abstract_stub: false,
            dispatches_by_name: false,
            value_returns: 0,
            parameters: ThinVec::new(),
            attribute_values: ThinVec::new(),
            call_conditions: ThinVec::new(),
            call_arguments: ThinVec::new(),
            local_closure_calls: ThinVec::new(),
            file_uses: ThinVec::new(),
            field_flows: ThinVec::new(),
            field_receivers: ThinVec::new(),
            global_receivers: ThinVec::new(),
        }
    }

    /// The condition call number `call` is made under, if any.
    pub fn condition(&self, call: usize) -> Option<&CallCondition> {
        let index = self
            .call_conditions
            .binary_search_by_key(&call, |(c, _)| *c as usize)
            .ok()?;
        Some(&self.call_conditions[index].1)
    }

    /// What call number `call`'s arguments tell beyond their number.
    pub fn arguments(&self, call: usize) -> &[ArgumentFact] {
        let start = self
            .call_arguments
            .partition_point(|fact| (fact.call as usize) < call);
        let end = self.call_arguments[start..].partition_point(|fact| fact.call as usize == call);
        &self.call_arguments[start..start + end]
    }
}

/// A type whose methods may come from elsewhere: a Python class and its bases, or a Rust type
/// and the traits it implements (whose default methods it inherits).
#[derive(Clone, Debug)]
pub struct Class {
    /// Canonical name (`shop.service.Service`, `ledger::db::Disk`).
    pub name: String,
    pub bases: Vec<String>,
}

/// A class attribute set from a parameter of one of its methods (`def __init__(self,
/// storage): self.storage = storage`), with no type the file can tell.
#[derive(Clone, Debug, Hash)]
pub struct ParameterAttribute {
    /// The attribute (`shop.Worker.storage`).
    pub attribute: String,
    /// The method (`shop.Worker.__init__`).
    pub method: String,
    /// The parameter's position, counting `self`; `u32::MAX` for a keyword-only one.
    pub position: u32,
    /// The parameter's name, by its [`condition::key`].
    pub keyword: u32,
    /// The type the method gives the parameter itself when the caller passes nothing (`if
    /// manager is None: manager = BaseManager()`): the attribute may have it too.
    pub rebound: Option<String>,
}

/// An object of a known type passed to a call (`Worker(Storage())`, `Worker(storage=s)`).
#[derive(Clone, Debug, Hash)]
pub struct PassedObject {
    /// The callee as the call names it (`shop.Worker`).
    pub callee: String,
    /// The parameter's position, counting `self` (`u32::MAX`: given by keyword).
    pub position: u32,
    /// The keyword's name by its [`condition::key`] (`u32::MAX`: given by position).
    pub keyword: u32,
    /// The object's type (`shop.storage.Storage`), or for [`Passed::Named`] the name the
    /// argument has.
    pub ty: String,
    pub kind: Passed,
    /// Passed in a loop or comprehension: the callee may be given it many times (a callable
    /// it starts on a thread runs on several at once).
    pub repeated: bool,
}

/// What a [`PassedObject`] is.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Passed {
    /// An object of the type `ty`.
    Instance,
    /// Whatever the project knows the name `ty` as: an object of the type it gives the name (a
    /// parameter or an attribute set from one, passed on: `MonitoredItemService(self, aspace)`
    /// in a constructor given `aspace`, named as in [`FileModel::parameter_attributes`]), or
    /// else a function or method it defines (a callback: `connect(on_data=self.on_data)`),
    /// which calling the parameter, or the attribute set from it, calls.
    Named,
}

/// The identity prefix of a lock a Python decorator of another file holds on the decorated
/// method's own object (see [`FileModel::guard_functions`]): the project names it after the
/// method's class.
pub const OWN_ATTRIBUTE: &str = "<self>.";

/// The guard of a [`FileModel::parameter_locks`] entry for a Python function that returns its
/// argument unchanged (`def rm_aio(statement): return statement`): `with rm_aio(lock):` takes
/// `lock` (a hold of kind `?=callee#index`).
pub const RETURNS_ARGUMENT: &str = "=";

/// Prefixed to the guard method of a [`FileModel::parameter_locks`] entry for a Rust function
/// that returns the guard it takes on that parameter (`fn read_lock(t: &RwLock<T>) ->
/// RwLockReadGuard<T> { t.read() }`): `let g = read_lock(&tree);` holds `tree` while `g`
/// lives (a hold of kind `?>callee#index`). Such a function locks it during the call too.
pub const RETURNS_GUARD: &str = ">";

/// Appended to a `?guard:callee` hold's kind when the call's future was awaited: an `async
/// fn` returns that guard (`self.ro_tx().await`).
pub const AWAITED_GUARD: &str = ".await";

/// Everything interlock knows about one file.
#[derive(Clone, Debug)]
pub struct FileModel {
    pub path: PathBuf,
    pub language: Language,
    /// Python: the first syntax error, when the parser recovered around it (the model holds
    /// what it could parse: IL001 reports the error, the other rules what they find).
    pub syntax_error: Option<(Span, String)>,
    /// The module's canonical name (`shop.orders`, `ledger::db`).
    pub module: String,
    /// Index 0 is the module's top-level code.
    pub functions: Vec<Function>,
    /// Module-level names bound to other canonical names (imports, `pub use`): re-exports.
    pub aliases: Vec<(String, String)>,
    pub classes: Vec<Class>,
    /// Locks defined at module, class or struct level.
    pub lock_definitions: Vec<LockDefinition>,
    /// What the file tells other files about the types of its names: module-level objects and
    /// class attributes with a known type (`shop.jobs` → `queue.Queue`,
    /// `shop.Worker.inbox` → `queue.Queue`; Rust struct fields, and `type` aliases:
    /// `player::state::SharedState` → `player::state::State` for `Arc<State>`), sorted.
    pub types: Vec<(String, String)>,
    /// Module-level objects and class attributes whose type the file cannot tell, with the
    /// function whose result they hold (`shop.Handler._lock` → `shop.locks.make_lock`).
    pub returned_by: Vec<(String, String)>,
    /// Python: class attributes set from a parameter the file cannot type (`self.storage =
    /// storage`); the project types them from what the method's callers pass.
    pub parameter_attributes: Vec<ParameterAttribute>,
    /// Python: the objects of a known type, not a builtin, that the file's calls pass
    /// (`Worker(Storage())`), which type the attributes set from those parameters.
    pub passed_objects: Vec<PassedObject>,
    /// Python: callables the file registers with a container attribute (the registry:
    /// `app.bus.Bus._listeners[]`, or `app._listeners[]` for an owner of no known type), by
    /// the name the project knows them by; calls of what the registry holds resolve to the
    /// one function every registration agrees on (`frontend/python/callbacks.rs`).
    pub callback_registrations: Vec<(String, String)>,
    /// What the file's functions return, when their annotation or `return`s tell
    /// (`shop.locks.make_lock` → `threading.Lock`).
    pub returns: Vec<(String, String)>,
    /// Python: the bodies of the module's `if __name__ == "__main__":` blocks.
    pub main_guards: Vec<Span>,
    /// Python: functions registered to run in a child right after `fork()`
    /// (`os.register_at_fork(after_in_child=f)`, `multiprocessing.util.register_after_fork`):
    /// the child has one thread then.
    pub fork_hooks: Vec<String>,
    /// Rust: the canonical names of the file's `static mut`s.
    pub mutable_statics: Vec<String>,
    /// Rust: methods the file adds to a library lock type that return its guard, with the
    /// guard method they call (`std::sync::Mutex::lock_or_panic` → `std::sync::Mutex::lock`,
    /// from `impl<T> MutexExt<T> for Mutex<T>`).
    pub guard_methods: Vec<(String, String)>,
    /// Rust: functions that lock a lock they are given, with the parameter's index (counting
    /// `self`) and the guard method (`wal::WalFile::new`, 0, `parking_lot::RwLock::read`).
    pub parameter_locks: Vec<(String, u32, String)>,
    /// Functions that hold a module-level lock for their caller, with its identity and the
    /// guard method or lock type (empty when only the lock's definition tells). Rust: a
    /// function that returns a guard of a `static` (`truncate::dicts::main_dict`,
    /// `truncate::dicts::DICT`, `std::sync::Mutex::lock`): a caller that keeps the result holds
    /// that lock. Python: a bare decorator whose wrapper holds a lock of its module
    /// (`sched.decorators.queue_locked`, `sched.decorators.QUEUE_LOCK`, `threading.Lock`): the
    /// function it decorates runs with that lock held; or an attribute of the decorated
    /// method's own object (identity [`OWN_ATTRIBUTE`]`lock`, no type: `@with_lock` holding
    /// `self.lock`).
    pub guard_functions: Vec<(String, String, String)>,
    /// Python: what holds a thread object made with its callable (`self._thread =
    /// threading.Thread(target=self._run)`): the holder as a [`ThreadJoin::threads`] key, and
    /// the callable's canonical name.
    pub thread_targets: Vec<(String, String)>,
    /// Python: containers (state identities) whose entries are keyed by the current thread's
    /// id (`self._cache[threading.get_ident()] = trace`): every thread changes them. With the
    /// key's site.
    pub thread_keyed: Vec<(String, Span)>,
}

impl FileModel {
    /// An empty model with only the top-level region.
    pub fn new(path: PathBuf, language: Language, module: String) -> Self {
        let canonical = format!("{module}{}<module>", language.path_separator());
        let top_level = Function::new(
            "<module>".to_string(),
            canonical,
            FunctionKind::Module,
            false,
            0..0,
            None,
        );
        FileModel {
            path,
            language,
            syntax_error: None,
            module,
            functions: vec![top_level],
            aliases: Vec::new(),
            classes: Vec::new(),
            lock_definitions: Vec::new(),
            types: Vec::new(),
            returned_by: Vec::new(),
            parameter_attributes: Vec::new(),
            passed_objects: Vec::new(),
            callback_registrations: Vec::new(),
            returns: Vec::new(),
            main_guards: Vec::new(),
            fork_hooks: Vec::new(),
            mutable_statics: Vec::new(),
            guard_methods: Vec::new(),
            parameter_locks: Vec::new(),
            guard_functions: Vec::new(),
            thread_targets: Vec::new(),
            thread_keyed: Vec::new(),
        }
    }

    /// The functions (with their indices) defined directly inside function `parent`.
    pub fn nested_in(&self, parent: usize) -> impl Iterator<Item = (usize, &Function)> {
        self.functions
            .iter()
            .enumerate()
            .filter(move |(_, f)| f.parent == Some(parent))
    }

    /// All calls of the file with the function they belong to.
    pub fn calls(&self) -> impl Iterator<Item = (&Function, &Call)> {
        self.functions
            .iter()
            .flat_map(|f| f.calls.iter().map(move |c| (f, c)))
    }

    /// Joins a name to this module's canonical name.
    pub fn join(&self, name: &str) -> String {
        join_path(&self.module, name, self.language)
    }

    /// Whether function `index` (or a function nested in it) returns the name as it is from
    /// an async function (`return data`; see [`RETURNED`]) after position `after`.
    pub fn returns_name(&self, index: usize, name: &str, after: usize) -> bool {
        let hash = parts_hash(&[name, RETURNED]);
        self.read_after(index, after, |f| f.reads.get(&hash).copied())
    }

    /// Whether `name` is read at or after position `after` in function `index`, or anywhere in a
    /// function nested in it (Python: whether a result bound to a local at `after` is used);
    /// with `attributes`, reading only one of its attributes (`x.size`) counts too.
    pub fn reads_name(&self, index: usize, name: &str, attributes: bool, after: usize) -> bool {
        let hash = name_hash(name);
        let attribute_hash = attributes.then(|| parts_hash(&[name, "."]));
        self.read_after(index, after, |f| {
            let plain = f.reads.get(&hash).copied();
            let attribute = attribute_hash.and_then(|h| f.reads.get(&h).copied());
            plain.max(attribute)
        })
    }

    /// Whether function `index` only tests `name` for truth after position `after` (see
    /// [`Function::truth_tests`]).
    pub fn tests_name(&self, index: usize, name: &str, after: usize) -> bool {
        let hash = name_hash(name);
        self.functions[index]
            .truth_tests
            .iter()
            .any(|&(h, at)| h == hash && at as usize >= after)
    }

    /// Whether function `index` reads something after `after`, or a function nested in it
    /// reads it at all (it may be called later), by where `last_read` says each last reads it.
    fn read_after(
        &self,
        index: usize,
        after: usize,
        last_read: impl Fn(&Function) -> Option<u32>,
    ) -> bool {
        self.in_or_under(index, |i, f| {
            last_read(f).is_some_and(|at| i != index || at as usize >= after)
        })
    }

    /// Whether function `index` or a function nested in it satisfies `holds`.
    fn in_or_under(&self, index: usize, holds: impl Fn(usize, &Function) -> bool) -> bool {
        self.functions.iter().enumerate().any(|(i, f)| {
            if !holds(i, f) {
                return false;
            }
            let mut ancestor = Some(i);
            while let Some(current) = ancestor {
                if current == index {
                    return true;
                }
                ancestor = self.functions[current].parent;
            }
            false
        })
    }
}

/// Where a read counts from for [`Function::reads`]: the read itself, or, inside a loop, the end
/// of the outermost loop (a read early in a loop body reads what a binding later in the body
/// bound on the previous iteration).
pub fn read_position(at: usize, loop_end: Option<usize>) -> u32 {
    u32::try_from(loop_end.unwrap_or(at).max(at)).unwrap_or(u32::MAX)
}

/// Whether a Rust name is written in upper case (`THROTTLE`, `READY_2`): by convention a
/// `static`'s or a `const`'s.
pub fn is_screaming_case(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The concatenation of `parts`, without the formatting machinery (hot in lowering).
pub fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// `module` + separator + `name`, or `name` alone for an empty module.
pub fn join_path(module: &str, name: &str, language: Language) -> String {
    if module.is_empty() {
        name.to_string()
    } else {
        concat(&[module, language.path_separator(), name])
    }
}
