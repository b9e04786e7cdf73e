//! The API tables of `rules/*.toml`, embedded at build time and extended from user config:
//! which calls block (and with which rule), what calls return (simple type evidence), and which
//! calls hand their callables to another thread.

use std::collections::HashMap;

use rustc_hash::{FxHashMap, FxHashSet as HashSet};

use serde::Deserialize;

use crate::codes::{BLOCKING_API_CODES, Code};
use crate::model::BlockingApi;
use crate::source::Language;

const BLOCKING_TOML: &str = include_str!("../rules/blocking.toml");
const TYPES_TOML: &str = include_str!("../rules/types.toml");
const OFFLOAD_TOML: &str = include_str!("../rules/offload.toml");
const AWAITABLES_TOML: &str = include_str!("../rules/awaitables.toml");
const COROUTINES_TOML: &str = include_str!("../rules/coroutines.toml");
const LOCKS_TOML: &str = include_str!("../rules/locks.toml");
const PROCESSES_TOML: &str = include_str!("../rules/processes.toml");
const THREADS_TOML: &str = include_str!("../rules/threads.toml");

/// What a call returns: one type, or the element types of a tuple.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Returns {
    One(String),
    Tuple(Vec<String>),
}

/// The tables for one language.
#[derive(Clone, Debug, Default)]
pub struct LanguageTables {
    /// Canonical callee → blocking API.
    pub blocking: FxHashMap<String, BlockingApi>,
    /// Method name → blocking API, for `*.method` entries (any receiver).
    pub any_receiver_blocking: FxHashMap<String, BlockingApi>,
    /// Method name → the types or traits with a blocking method of that name
    /// (`to_socket_addrs` → `std::net::ToSocketAddrs`).
    pub blocking_owners: FxHashMap<String, Vec<String>>,
    /// Canonical callee → what it returns.
    pub returns: FxHashMap<String, Returns>,
    /// Rust: types that stand for the one type they wrap (`actix_web::web::Data<AppState>` is
    /// an `AppState` as far as its fields go), besides the smart pointers the front end knows.
    /// Python: field declarations that stand for their default (`PrivateAttr(default=Lock())`).
    pub wrappers: HashSet<String>,
    /// Rust: library traits whose methods a value of any type may have once the trait is
    /// imported (`std::net::ToSocketAddrs`): `x.to_socket_addrs()` is that trait's method.
    pub traits: HashSet<String>,
    /// Calls that give an equal value on every thread whenever their arguments are constants
    /// (`re.compile(r"..")`, `os.getpid()`): storing it twice loses nothing (IL403).
    pub idempotent: HashSet<String>,
    /// Python: calls that give the running thread's (or task's) identity
    /// (`[thread-identities]`: `threading.get_ident`): a key only this thread uses (IL403).
    pub thread_identities: HashSet<String>,
    /// Python: unannotated parameters whose name says by long convention what they are
    /// (`[parameter-names]`: `loop` is an `asyncio.AbstractEventLoop`), when nothing else types
    /// them.
    pub parameter_names: FxHashMap<String, String>,
    /// Python: decorators that memoise the function (`functools.cache`, `[memoizing]`): its
    /// body runs once per argument, so what it blocks on is not inherited by its callers.
    pub memoizing: HashSet<String>,
    /// Calls that loop over their first argument in Python code (`[iterating]`).
    pub iterating: HashSet<String>,
    /// Library calls that use their arguments as plain values (`[consumers]`).
    pub consumers: HashSet<String>,
    /// Library calls that call `write()` of a file object they are given (`[file-writers]`)
    /// and `read()` (`[file-readers]`).
    pub file_writers: HashSet<String>,
    pub file_readers: HashSet<String>,
    /// Python: calls that tell whether an event loop runs in the current thread
    /// (`[loop-probes]`: `asyncio.get_running_loop`).
    pub loop_probes: HashSet<String>,
    /// Canonical callees (or `*.method`) whose callable arguments run on another thread.
    pub offload: CallSet,
    /// Canonical callees (or `*.method`) whose arguments are awaitables.
    pub awaitable_consumers: CallSet,
    /// Python: calls that run the callable they are given later and drop what it returns
    /// (`loop.call_soon`; `callback-runners` in `rules/coroutines.toml`).
    pub callback_runners: CallSet,
    /// Python: lock types (`threading.Lock`). Rust: methods returning a lock's guard
    /// (`std::sync::Mutex::lock`).
    pub locks: FxHashMap<String, LockType>,
    /// Condition variable types (`threading.Condition`, `std::sync::Condvar`).
    pub conditions: HashSet<String>,
    /// Calls that start worker processes (IL301).
    pub process_spawns: HashSet<String>,
    /// Calls that start worker processes only when one argument is given a value other than
    /// a literal `0`, `None` or `False` (IL301: `DataLoader(num_workers=…)`).
    pub process_spawns_if_given: FxHashMap<String, SpawnArgument>,
    /// Calls that hand a callable and its arguments to another process (IL302, IL303).
    pub process_targets: FxHashMap<String, ProcessTarget>,
    /// Types that only work between threads of one process (IL303).
    pub thread_primitives: HashSet<String>,
    /// Python: calls that run a callable on another thread (`*.method` for any receiver), and
    /// where they take it. Rust: their canonical names, with the callable anywhere.
    pub thread_entries: FxHashMap<String, ProcessTarget>,
    /// The `*.method` entries of `thread_entries`, by method name (looked up per call).
    pub thread_entry_methods: FxHashMap<String, ProcessTarget>,
    /// Python: base classes (canonical names, `*` for any part) whose subclasses' methods a
    /// server runs on its thread pool, one object for every request (`*_pb2_grpc.*Servicer`).
    pub servicer_bases: globset::GlobSet,
}

/// Where a call that runs a callable in another process takes the callable and its arguments.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProcessTarget {
    /// The callable's keyword (`target`).
    pub callable: String,
    /// The callable's positional index.
    pub position: usize,
    /// The keyword of the tuple of positional arguments (`args`).
    pub args: Option<String>,
    pub args_position: Option<usize>,
    /// The keyword of the dict of keyword arguments (`kwargs`).
    pub kwargs: Option<String>,
    /// Every positional argument after the callable is passed to it.
    #[serde(default)]
    pub rest: bool,
    /// A pool: what it is given may run on several threads at once.
    #[serde(default)]
    pub pool: bool,
    /// The child is forked with the callable in its memory: nothing is pickled.
    #[serde(default)]
    pub forked: bool,
    /// The callable is a request-handler class: a new instance of it serves each request on
    /// a thread of its own (`handle`, `do_GET`, … run there, at once for several requests).
    #[serde(default)]
    pub handler: bool,
}

/// The argument that makes a call start processes (`[python.spawns-if-given]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SpawnArgument {
    /// Its keyword (`num_workers`).
    pub keyword: String,
    /// Its positional index.
    pub position: u16,
}

#[derive(Deserialize)]
struct ThreadTables {
    python: FxHashMap<String, ProcessTarget>,
    #[serde(rename = "python-servicers")]
    python_servicers: Servicers,
    rust: ThreadEntries,
}

#[derive(Deserialize)]
struct Servicers {
    bases: Vec<String>,
}

#[derive(Deserialize)]
struct ThreadEntries {
    entries: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ProcessTables {
    python: PythonProcesses,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct PythonProcesses {
    spawns: HashSet<String>,
    spawns_if_given: FxHashMap<String, SpawnArgument>,
    targets: FxHashMap<String, ProcessTarget>,
    thread_primitives: HashSet<String>,
}

/// What kind of lock a lock type is (`rules/locks.toml`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LockType {
    /// The holder may take it again (`RLock`, `ReentrantMutex`).
    #[serde(default)]
    pub reentrant: bool,
    /// Waiting suspends the task instead of blocking the thread (`asyncio.Lock`).
    #[serde(default, rename = "async")]
    pub is_async: bool,
    /// A shared (read) guard.
    #[serde(default)]
    pub shared: bool,
    /// A semaphore: several holders at once.
    #[serde(default)]
    pub counting: bool,
    /// A `RefCell` borrow: it never waits.
    #[serde(default)]
    pub cell: bool,
    /// A try-acquisition (`try_lock`, `try_read_for`): it gives up instead of waiting for
    /// ever, so it cannot deadlock; the guard it may give is still a guard.
    #[serde(default)]
    pub attempt: bool,
    /// A shared guard that waits behind a queued writer (a write-preferring or fair lock):
    /// taking it again while holding it deadlocks once another thread waits to write.
    #[serde(default, rename = "reads-wait-for-writers")]
    pub reads_wait_for_writers: bool,
    /// An upgradable read (`parking_lot::RwLock::upgradable_read`): it shares the lock with
    /// plain reads, but excludes writers and other upgradable reads.
    #[serde(default)]
    pub upgradable: bool,
    /// Taken and given back inside the call (`DashMap::insert` locks a shard for the
    /// insertion): held only while the call runs, so no guard outlives it.
    #[serde(default)]
    pub transient: bool,
}

impl LockType {
    /// Whether holders exclude each other by waiting: what lock ordering and double locks are
    /// about (not semaphores, not `RefCell`, not a try-acquisition).
    pub fn excludes(&self) -> bool {
        !self.counting && !self.cell && !self.attempt
    }
}

#[derive(Deserialize)]
struct LockTables {
    python: FxHashMap<String, LockType>,
    rust: FxHashMap<String, LockType>,
    conditions: HashMap<String, HashSet<String>>,
}

/// A set of calls written as canonical names, `*.method` (a method of that name on any
/// receiver) or `*::name` (a Rust function of that name in any module).
#[derive(Clone, Debug, Default)]
pub struct CallSet {
    exact: HashSet<String>,
    methods: HashSet<String>,
    path_ends: HashSet<String>,
}

impl CallSet {
    fn new(entries: Vec<String>) -> CallSet {
        let mut set = CallSet::default();
        for entry in entries {
            if let Some(name) = entry.strip_prefix("*.") {
                set.methods.insert(name.to_string());
            } else if let Some(name) = entry.strip_prefix("*::") {
                set.path_ends.insert(name.to_string());
            } else {
                set.exact.insert(entry);
            }
        }
        set
    }

    /// Whether a call (its canonical callee and method name) is in the set.
    pub fn contains(&self, callee: Option<&str>, method: Option<&str>) -> bool {
        method.is_some_and(|m| self.methods.contains(m))
            || callee.is_some_and(|c| {
                self.exact.contains(c)
                    || (!self.path_ends.is_empty()
                        && c.rsplit("::")
                            .next()
                            .is_some_and(|end| self.path_ends.contains(end)))
            })
    }
}

/// All API tables.
#[derive(Clone, Debug)]
pub struct Knowledge {
    pub python: LanguageTables,
    pub rust: LanguageTables,
    /// Python library coroutine functions (IL501).
    pub coroutine_functions: HashSet<String>,
    /// Python calls returning a weakly held task (IL502).
    pub task_spawners: HashSet<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct CoroutineTables {
    coroutine_functions: HashSet<String>,
    task_spawners: HashSet<String>,
    callback_runners: Vec<String>,
}

impl Knowledge {
    /// The built-in tables, parsed once per process (settings are made per configuration
    /// file, and the language server makes them again whenever a configuration changes).
    pub fn builtin() -> Knowledge {
        static BUILTIN: std::sync::OnceLock<Knowledge> = std::sync::OnceLock::new();
        BUILTIN.get_or_init(Knowledge::parse_builtin).clone()
    }

    fn parse_builtin() -> Knowledge {
        let blocking: HashMap<String, HashMap<String, HashMap<String, String>>> =
            toml::from_str(BLOCKING_TOML).expect("rules/blocking.toml is valid");
        let mut types: toml::Table = toml::from_str(TYPES_TOML).expect("rules/types.toml is valid");
        // `[parameter-names.python]`: name → type, a table per language.
        let mut parameter_names: HashMap<String, FxHashMap<String, String>> = types
            .remove("parameter-names")
            .map(|section| {
                section
                    .try_into()
                    .expect("[parameter-names] maps names to types")
            })
            .unwrap_or_default();
        let mut types: HashMap<String, FxHashMap<String, Returns>> = types
            .try_into()
            .expect("rules/types.toml maps callees to types");
        // Sections of names per language (`[wrappers]`, `[traits]`), not callee → type.
        let mut name_lists = |section: &str| -> HashMap<String, HashSet<String>> {
            types
                .remove(section)
                .unwrap_or_default()
                .into_iter()
                .map(|(lang, names)| match names {
                    Returns::Tuple(names) => (lang, names.into_iter().collect()),
                    Returns::One(name) => (lang, HashSet::from_iter([name])),
                })
                .collect()
        };
        let mut wrappers = name_lists("wrappers");
        let mut traits = name_lists("traits");
        let mut idempotent = name_lists("idempotent");
        let mut thread_identities = name_lists("thread-identities");
        let mut memoizing = name_lists("memoizing");
        let mut iterating = name_lists("iterating");
        let mut consumers = name_lists("consumers");
        let mut file_writers = name_lists("file-writers");
        let mut file_readers = name_lists("file-readers");
        let mut loop_probes = name_lists("loop-probes");
        let mut offload: HashMap<String, Vec<String>> =
            toml::from_str(OFFLOAD_TOML).expect("rules/offload.toml is valid");
        let mut awaitables: HashMap<String, Vec<String>> =
            toml::from_str(AWAITABLES_TOML).expect("rules/awaitables.toml is valid");
        let mut locks: LockTables = toml::from_str(LOCKS_TOML).expect("rules/locks.toml is valid");
        let mut tables = |lang: &str| {
            let mut tables = LanguageTables {
                locks: FxHashMap::default(),
                conditions: HashSet::default(),
                process_spawns: HashSet::default(),
                process_spawns_if_given: FxHashMap::default(),
                process_targets: FxHashMap::default(),
                thread_primitives: HashSet::default(),
                thread_entries: FxHashMap::default(),
                thread_entry_methods: FxHashMap::default(),
                servicer_bases: globset::GlobSet::empty(),
                blocking: FxHashMap::default(),
                any_receiver_blocking: FxHashMap::default(),
                blocking_owners: FxHashMap::default(),
                returns: types.remove(lang).unwrap_or_default(),
                wrappers: wrappers.remove(lang).unwrap_or_default(),
                traits: traits.remove(lang).unwrap_or_default(),
                idempotent: idempotent.remove(lang).unwrap_or_default(),
                thread_identities: thread_identities.remove(lang).unwrap_or_default(),
                parameter_names: parameter_names.remove(lang).unwrap_or_default(),
                memoizing: memoizing.remove(lang).unwrap_or_default(),
                iterating: iterating.remove(lang).unwrap_or_default(),
                consumers: consumers.remove(lang).unwrap_or_default(),
                file_writers: file_writers.remove(lang).unwrap_or_default(),
                file_readers: file_readers.remove(lang).unwrap_or_default(),
                loop_probes: loop_probes.remove(lang).unwrap_or_default(),
                offload: CallSet::new(offload.remove(lang).unwrap_or_default()),
                awaitable_consumers: CallSet::new(awaitables.remove(lang).unwrap_or_default()),
                callback_runners: CallSet::default(),
            };
            for (rule, apis) in blocking.get(lang).into_iter().flatten() {
                let rule: Code = rule.parse().expect("rules/blocking.toml names known codes");
                assert!(
                    BLOCKING_API_CODES.contains(&rule),
                    "rules/blocking.toml: {rule} is not a blocking rule"
                );
                for (name, alternative) in apis {
                    let api = BlockingApi {
                        rule,
                        alternative: Some(alternative.clone()),
                    };
                    tables.add_blocking(name, api);
                }
            }
            tables
        };
        let coroutines: CoroutineTables =
            toml::from_str(COROUTINES_TOML).expect("rules/coroutines.toml is valid");
        let mut python = tables("python");
        python.callback_runners = CallSet::new(coroutines.callback_runners);
        python.locks = locks.python;
        python.conditions = locks.conditions.remove("python").unwrap_or_default();
        let processes: ProcessTables =
            toml::from_str(PROCESSES_TOML).expect("rules/processes.toml is valid");
        python.process_spawns = processes.python.spawns;
        python.process_spawns_if_given = processes.python.spawns_if_given;
        python.process_targets = processes.python.targets;
        python.thread_primitives = processes.python.thread_primitives;
        let threads: ThreadTables =
            toml::from_str(THREADS_TOML).expect("rules/threads.toml is valid");
        python.set_thread_entries(threads.python);
        let mut servicers = globset::GlobSetBuilder::new();
        for base in &threads.python_servicers.bases {
            servicers.add(globset::Glob::new(base).expect("rules/threads.toml has valid globs"));
        }
        python.servicer_bases = servicers
            .build()
            .expect("rules/threads.toml has valid globs");
        let mut rust = tables("rust");
        rust.locks = locks.rust;
        rust.conditions = locks.conditions.remove("rust").unwrap_or_default();
        rust.set_thread_entries(
            threads
                .rust
                .entries
                .into_iter()
                .map(|name| (name, ProcessTarget::default()))
                .collect(),
        );
        Knowledge {
            python,
            rust,
            coroutine_functions: coroutines.coroutine_functions,
            task_spawners: coroutines.task_spawners,
        }
    }

    /// The tables of one language.
    pub fn tables(&self, language: Language) -> &LanguageTables {
        match language {
            Language::Python => &self.python,
            Language::Rust => &self.rust,
        }
    }

    /// The tables of the language a user-declared name is of, told by its separator (`::` is
    /// Rust).
    fn tables_of(&mut self, name: &str) -> &mut LanguageTables {
        if name.contains("::") {
            &mut self.rust
        } else {
            &mut self.python
        }
    }

    /// Adds a user-declared blocking API.
    pub fn add_blocking(&mut self, name: &str, api: BlockingApi) {
        self.tables_of(name).add_blocking(name, api);
    }

    /// Adds what a user-declared library call returns.
    pub fn add_type(&mut self, name: &str, returns: Returns) {
        self.tables_of(name)
            .returns
            .insert(name.to_string(), returns);
    }

    /// Adds a user-declared lock type.
    pub fn add_lock(&mut self, name: &str, lock: LockType) {
        self.tables_of(name).locks.insert(name.to_string(), lock);
    }
}

impl LanguageTables {
    /// Sets the thread entry points, indexing the `*.method` ones by method.
    fn set_thread_entries(&mut self, entries: FxHashMap<String, ProcessTarget>) {
        self.thread_entry_methods = entries
            .iter()
            .filter_map(|(name, entry)| Some((name.strip_prefix("*.")?.to_string(), entry.clone())))
            .collect();
        self.thread_entries = entries;
    }

    /// The lock type of a Python lock type or a Rust guard method.
    pub fn lock(&self, name: &str) -> Option<&LockType> {
        self.locks.get(name)
    }

    /// Adds one blocking API (`*.method` entries match any receiver).
    pub fn add_blocking(&mut self, name: &str, api: BlockingApi) {
        match name.strip_prefix("*.") {
            Some(method) => self.any_receiver_blocking.insert(method.to_string(), api),
            None => {
                let owner = name.rsplit_once("::").or_else(|| name.rsplit_once('.'));
                if let Some((owner, method)) = owner {
                    let owners = self.blocking_owners.entry(method.to_string()).or_default();
                    if !owners.iter().any(|o| o == owner) {
                        owners.push(owner.to_string());
                    }
                }
                self.blocking.insert(name.to_string(), api)
            }
        };
    }

    /// The blocking API a call resolves to: its canonical callee or, when the receiver's type
    /// is unknown, an any-receiver `*.method` entry.
    pub fn blocking_api(&self, callee: Option<&str>, method: Option<&str>) -> Option<&BlockingApi> {
        match callee {
            Some(callee) => self.blocking.get(callee),
            None => method.and_then(|m| self.any_receiver_blocking.get(m)),
        }
    }

    /// Where a call that runs a callable on another thread takes it, if it is one.
    pub fn thread_entry(
        &self,
        callee: Option<&str>,
        method: Option<&str>,
    ) -> Option<&ProcessTarget> {
        let exact = callee.and_then(|c| self.thread_entries.get(c));
        exact.or_else(|| self.thread_entry_methods.get(method?))
    }

    /// Whether a call runs its callable arguments on another thread.
    pub fn offloads(&self, callee: Option<&str>, method: Option<&str>) -> bool {
        self.offload.contains(callee, method)
    }

    /// Whether a call's arguments are awaitables (`asyncio.create_task(coro())`).
    pub fn consumes_awaitables(&self, callee: Option<&str>, method: Option<&str>) -> bool {
        self.awaitable_consumers.contains(callee, method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tables_parse_and_cover_both_languages() {
        let k = Knowledge::builtin();
        assert_eq!(k.python.blocking["time.sleep"].rule, Code::IL101);
        assert_eq!(k.rust.blocking["std::thread::sleep"].rule, Code::IL101);
        assert!(matches!(
            k.rust.returns["std::sync::mpsc::channel"],
            Returns::Tuple(_)
        ));
        assert!(k.python.offloads(Some("asyncio.to_thread"), None));
        assert!(k.rust.offloads(None, Some("spawn_blocking")));
        let any_receiver = k.python.blocking_api(None, Some("run_until_complete"));
        assert_eq!(any_receiver.map(|a| a.rule), Some(Code::IL107));
    }
}
