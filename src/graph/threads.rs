//! What may run concurrently with itself: the functions reachable (through the call graph) from
//! thread entry points — functions or methods started on another thread (`Thread(target=f)`,
//! `executor.submit(self.work)`, `thread::spawn(worker)`), or called from a closure that is —
//! when several instances may run at once: a pool, an entry started in a loop or comprehension,
//! or two or more entry points; and the functions documented as safe to call from several
//! threads (their callers' threads). Also the classes whose bound methods are started on
//! threads or documented so (their objects are shared).

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::{CallSite, FunctionId, Project};
use crate::model::{Function, Receiver, Span};
use crate::source::Language;

/// The concurrency facts of a project.
#[derive(Debug, Default)]
pub struct Concurrency {
    /// Functions that may run on several threads at once.
    pub functions: HashSet<FunctionId>,
    /// Canonical names of classes whose bound methods are thread entry points.
    pub shared_classes: HashSet<String>,
    /// Closures started on threads where several instances may run at once.
    pub closures: HashSet<(FunctionId, u32)>,
    /// Threads started once, with what runs alongside them on the starting thread.
    pub alongside: Vec<Alongside>,
    /// Functions that run in a freshly forked child, where only one thread exists (see
    /// [`crate::model::FileModel::fork_hooks`]).
    pub fork_hooks: HashSet<FunctionId>,
    /// The functions documented as safe to call from several threads (in `functions` too).
    pub documented: HashSet<FunctionId>,
    /// For each function of `functions` reached from thread entry points, up to two of them:
    /// the function that starts the thread and the start's span (for messages).
    pub started_at: HashMap<FunctionId, Vec<(FunctionId, Span)>>,
}

/// A thread started once and the code of the thread that started it which runs at the same
/// time: the rest of the starting function, and what it calls from there.
#[derive(Debug)]
pub struct Alongside {
    /// What runs on the new thread.
    pub thread: HashSet<FunctionId>,
    /// The function that starts it, from this position on (`usize::MAX` when it waits for
    /// the thread's work: `await loop.run_in_executor(..)`).
    pub spawner: FunctionId,
    pub after: usize,
    /// What the starting function calls after starting it.
    pub spawner_side: HashSet<FunctionId>,
    /// Python: the classes of the objects the thread and the starting function share, when the
    /// thread runs a named function or method (the method's own object, the objects handed
    /// in `args`); `None` for a lambda or closure, which may share whatever it captures.
    pub handed: Option<Vec<String>>,
    /// Python: the classes whose bound methods the thread runs as callbacks another object
    /// was given (see [`callback_classes`]): their objects are shared with the thread.
    pub callbacks: Vec<String>,
    /// Python: the classes whose object's method the thread runs (a `Thread` subclass's `run`,
    /// `Thread(target=reader.poll)`): that object is shared with whoever else keeps it.
    pub objects: Vec<String>,
}

/// The classes of the module-level objects that the code reached on a thread calls methods
/// on (`SYNC.run_sync()` with `SYNC = Synchronizer()`): one object every thread shares.
fn global_object_classes<'p>(
    project: &'p Project,
    reached: &HashSet<FunctionId>,
) -> impl Iterator<Item = String> + 'p {
    let sites: Vec<CallSite> = reached
        .iter()
        .flat_map(|&caller| {
            let function = project.function(caller);
            function.global_receivers.iter().map(move |&call| CallSite {
                caller,
                call: call as usize,
            })
        })
        .collect();
    sites.into_iter().filter_map(move |site| {
        let target = project.target(site)?;
        method_class(project, project.function(target)).map(str::to_string)
    })
}

/// The callables the project's calls pass to its functions (`start_daemon(self.loop)` gives
/// `start_daemon` the method `loop`; see [`crate::model::PassedObject`]), for the functions
/// that start a thread on a parameter (see [`crate::model::ThreadEntry::parameter`]).
#[derive(Default)]
struct PassedCallables<'p> {
    /// Per callee: the position (counting `self`), the keyword's key, and the callable.
    by_callee: HashMap<FunctionId, Vec<(u32, u32, &'p str, bool)>>,
    /// A parameter the project names (`app.Base.create_worker.action`, see
    /// [`crate::model::ParameterAttribute`]): its function, position and key, through which a
    /// callable is passed on (`def create_worker(self, action): return Worker(action)`).
    parameters: HashMap<&'p str, (&'p str, u32, u32)>,
}

/// How many functions a callable may be passed on through before the one that starts it.
const MAX_PASSED_ON_CALLABLES: usize = 3;

impl<'p> PassedCallables<'p> {
    fn new(project: &Project<'p>) -> PassedCallables<'p> {
        let mut passed = PassedCallables::default();
        // Thread starts on a parameter, and calls of a parameter on a thread (see
        // [`reachable`]), use what is passed.
        let starts_parameter = project.functions().any(|(_, function)| {
            function
                .thread_entries
                .iter()
                .any(|e| e.parameter.is_some())
        });
        let has_parameter_calls = project
            .models
            .iter()
            .any(|model| !model.parameter_attributes.is_empty());
        if !starts_parameter && !has_parameter_calls {
            return passed;
        }
        for model in &project.models {
            let separator = model.language.path_separator();
            for object in &model.passed_objects {
                if object.kind != crate::model::Passed::Named {
                    continue;
                }
                if let Some(callee) = project.index.resolve(&object.callee, separator) {
                    let entry = (
                        object.position,
                        object.keyword,
                        object.ty.as_str(),
                        object.repeated,
                    );
                    passed.by_callee.entry(callee).or_default().push(entry);
                }
            }
            for given in &model.parameter_attributes {
                let slot = (given.method.as_str(), given.position, given.keyword);
                passed.parameters.insert(given.attribute.as_str(), slot);
            }
        }
        passed
    }

    /// What the callers of `callee` pass at `position` or by the keyword `keyword`, following
    /// a caller's own parameter to what its callers pass there; each with whether it is passed
    /// in a loop on the way.
    fn at(
        &self,
        project: &Project<'p>,
        callee: FunctionId,
        slot: (u32, u32),
    ) -> Vec<(&'p str, bool)> {
        let mut found = Vec::new();
        let mut pending = vec![(callee, slot, MAX_PASSED_ON_CALLABLES, false)];
        let mut seen: HashSet<(FunctionId, (u32, u32))> = HashSet::default();
        while let Some((callee, (position, keyword), depth, repeated)) = pending.pop() {
            if !seen.insert((callee, (position, keyword))) {
                continue;
            }
            let given = self.by_callee.get(&callee).into_iter().flatten();
            for &(p, k, callable, in_loop) in given {
                if !((p != u32::MAX && p == position) || (k != u32::MAX && k == keyword)) {
                    continue;
                }
                let repeated = repeated || in_loop;
                match self.parameters.get(callable) {
                    Some(&(method, p, k)) if depth > 0 => {
                        if let Some(outer) = project.index.resolve(method, ".") {
                            pending.push((outer, (p, k), depth - 1, repeated));
                        }
                    }
                    _ => found.push((callable, repeated)),
                }
            }
        }
        found
    }
}

/// Reachable sets larger than this are not kept for [`Alongside`] (memory on huge projects).
const MAX_ALONGSIDE: usize = 4096;

impl Concurrency {
    pub fn new(project: &Project) -> Concurrency {
        let mut concurrency = Concurrency::default();
        for model in &project.models {
            for hook in &model.fork_hooks {
                let resolved = project.index.resolve(hook, model.language.path_separator());
                concurrency.fork_hooks.extend(resolved);
            }
        }
        let passed = PassedCallables::new(project);
        // How many instances may run at once, per function (2 means "several").
        let mut instances: HashMap<FunctionId, u8> = HashMap::default();
        // Shared classes whose methods many threads run at once (a pool, a loop of starts).
        let mut crowded = Vec::new();
        for (id, function) in project.functions() {
            let model = project.model(id);
            for entry in &function.thread_entries {
                if entry
                    .executor
                    .as_deref()
                    .is_some_and(|executor| !runs_on_threads(project, executor))
                {
                    continue;
                }
                let weight: u8 = if entry.repeated { 2 } else { 1 };
                let mut starts = Vec::new();
                let mut handed = (entry.closure == 0 && entry.function.is_none())
                    .then(|| entry.shared_arguments.to_vec());
                // A method that starts a thread shares its own object with it (a worker or
                // timer it starts for itself, given one of its bound methods).
                if let (Some(handed), Some(class)) = (&mut handed, method_class(project, function))
                {
                    handed.push(class.to_string());
                }
                let is_thread = |run: &str| {
                    run.rsplit_once('.').is_some_and(|(class, _)| {
                        derives_from(project, class, "threading.Thread", 8)
                    })
                };
                let mut passed_classes: Vec<String> = Vec::new();
                let mut objects: Vec<String> = Vec::new();
                // The callable, or what the callers pass for the parameter it is.
                // (With whether a caller passes it in a loop: `for _ in range(4): spawn(work)`
                // runs `work` on several threads.)
                let targets: Vec<(&str, bool)> = match entry.parameter {
                    Some(slot) => passed.at(project, id, slot),
                    None => entry
                        .target
                        .as_deref()
                        .map(|t| (t, false))
                        .into_iter()
                        .collect(),
                };
                let mut repeated_starts = Vec::new();
                // An abstract method started on a thread (`Thread(target=node.perform)` with
                // `node: PlanNode`) runs one of its overrides.
                let started: Vec<(FunctionId, bool)> = targets
                    .into_iter()
                    .filter_map(|(target, repeated)| {
                        let thread = !entry.if_thread_subclass || is_thread(target);
                        let separator = model.language.path_separator();
                        let started =
                            thread.then(|| project.index.resolve(target, separator))??;
                        Some((started, repeated))
                    })
                    .flat_map(|(started, repeated)| match project.overrides(started) {
                        [] => vec![(started, repeated)],
                        overrides => overrides.iter().map(|&o| (o, repeated)).collect(),
                    })
                    .collect();
                for (started, repeated) in started {
                    starts.push(started);
                    if repeated {
                        repeated_starts.push(started);
                    }
                    let started = project.function(started);
                    // A bound method given to a function that starts it (`start_daemon(
                    // self._loop)`): a callback its class's object shares with the thread.
                    if entry.parameter.is_some()
                        && let Some(class) = method_class(project, started)
                    {
                        passed_classes.push(class.to_string());
                    }
                    if let (Some(handed), Some(class)) =
                        (&mut handed, method_class(project, started))
                    {
                        handed.push(class.to_string());
                    }
                    // The object whose method the thread runs is shared between the thread
                    // and whoever keeps it: a `Thread` subclass's too (its `run` and the
                    // methods others call on it), when it is started once. Each `Thread`
                    // subclass object started in a loop runs its own `run` on its own state.
                    if model.language == Language::Python
                        && !entry.fresh_object
                        && !(entry.if_thread_subclass && entry.repeated)
                        && let Some(class) = method_class(project, started)
                    {
                        concurrency.shared_classes.insert(class.to_string());
                        if entry.repeated {
                            crowded.push(class.to_string());
                        }
                        objects.push(class.to_string());
                    }
                }
                // The same object handed to every thread of a repeated start: its methods
                // run on several threads at once.
                for class in &entry.shared_arguments {
                    if entry.repeated && project.index.is_class(class) {
                        concurrency.shared_classes.insert(class.clone());
                        crowded.push(class.clone());
                    }
                }
                if let Some(index) = entry.function {
                    starts.push(FunctionId {
                        file: id.file,
                        index,
                    });
                }
                if entry.closure != 0 {
                    if entry.repeated {
                        concurrency.closures.insert((id, entry.closure));
                    }
                    // Calls made inside a closure that runs on another thread.
                    for (index, call) in function.calls.iter().enumerate() {
                        if call.closure != entry.closure {
                            continue;
                        }
                        let site = CallSite {
                            caller: id,
                            call: index,
                        };
                        let Some(target) = project.target(site) else {
                            continue;
                        };
                        starts.push(target);
                        // `lambda m: self.evaluate(m)` on each thread: one `self` for all.
                        if model.language == Language::Python
                            && call.receiver == Receiver::Own
                            && let Some(class) = method_class(project, project.function(target))
                        {
                            concurrency.shared_classes.insert(class.to_string());
                            if entry.repeated {
                                crowded.push(class.to_string());
                            }
                        }
                    }
                }
                // Each callable its callers give a thread-starting function is a thread of its
                // own: what two of them reach runs on two threads.
                let separate: Vec<HashSet<FunctionId>> = match entry.parameter {
                    Some(_) if starts.len() > 1 => starts
                        .iter()
                        .map(|s| reachable(project, &passed, vec![*s]))
                        .collect(),
                    _ => Vec::new(),
                };
                let repeated_reached = match repeated_starts.is_empty() {
                    true => HashSet::default(),
                    false => reachable(project, &passed, repeated_starts),
                };
                let reached = reachable(project, &passed, starts);
                // A thread object of a project `Thread` subclass that runs a method of the
                // object that started it (`Timer(60, self._report).start()` in `Queue`): that
                // object is shared with the thread.
                let thread_class = entry.target.as_deref().and_then(|t| t.rsplit_once('.'));
                if model.language == Language::Python
                    && entry.if_thread_subclass
                    && let Some(class) = method_class(project, function)
                    // (Not the thread object itself, `self.start()` in its own class.)
                    && thread_class.is_some_and(|(thread, _)| {
                        thread != class
                            && !derives_from(project, class, thread, 8)
                            && !derives_from(project, thread, class, 8)
                    })
                    && reached
                        .iter()
                        .any(|r| method_class(project, project.function(*r)) == Some(class))
                {
                    concurrency.shared_classes.insert(class.to_string());
                }
                let mut callbacks = match model.language {
                    Language::Python => callback_classes(project, &reached),
                    Language::Rust => Vec::new(),
                };
                for class in passed_classes {
                    if !callbacks.contains(&class) {
                        callbacks.push(class);
                    }
                }
                concurrency.shared_classes.extend(callbacks.iter().cloned());
                // A module-level object the threads of a repeated start all call: its methods
                // run on several threads at once.
                if model.language == Language::Python && entry.repeated {
                    concurrency
                        .shared_classes
                        .extend(global_object_classes(project, &reached));
                }
                for reached in &reached {
                    let threads = separate.iter().filter(|s| s.contains(reached)).count();
                    let count = instances.entry(*reached).or_default();
                    let weight = match repeated_reached.contains(reached) {
                        true => 2,
                        false => weight,
                    };
                    let weight = weight.saturating_mul(u8::try_from(threads.max(1)).unwrap_or(2));
                    *count = count.saturating_add(weight).min(2);
                    let sites = concurrency.started_at.entry(*reached).or_default();
                    if sites.len() < 2 {
                        sites.push((id, entry.span.clone()));
                    }
                }
                if reached.len() <= MAX_ALONGSIDE {
                    // `await loop.run_in_executor(None, self._collect)`: the starting function
                    // waits for the job, so nothing it does later runs alongside it.
                    let awaited = function.calls.iter().any(|call| {
                        call.awaited
                            && call.span.start <= entry.span.start
                            && entry.span.end <= call.span.end
                    });
                    let after = if awaited { usize::MAX } else { entry.span.end };
                    let later_calls = project
                        .resolved_calls(id)
                        // Not the calls of the closure the thread runs (when it runs one).
                        .filter(|(_, c, _)| {
                            c.span.start > after
                                && (entry.closure == 0 || c.closure != entry.closure)
                        })
                        .map(|(_, _, target)| target)
                        .collect();
                    let spawner_side = reachable(project, &passed, later_calls);
                    if spawner_side.len() <= MAX_ALONGSIDE {
                        concurrency.alongside.push(Alongside {
                            thread: reached,
                            spawner: id,
                            after,
                            spawner_side,
                            handed,
                            callbacks,
                            objects,
                        });
                    }
                }
            }
        }
        // Documented as safe to call from several threads: its callers' threads run it at once
        // (only it: what it calls may run under a lock it takes, which the documentation
        // does not tell).
        let contracts: Vec<FunctionId> = project
            .functions()
            .filter(|(_, function)| function.thread_safe_contract && !function.is_async)
            .map(|(id, _)| id)
            .collect();
        for &id in &contracts {
            if let Some(class) = method_class(project, project.function(id)) {
                concurrency.shared_classes.insert(class.to_string());
            }
        }
        for id in contracts {
            instances.insert(id, 2);
            concurrency.documented.insert(id);
        }
        concurrency.share_held_objects(project, crowded);
        concurrency.functions = instances
            .into_iter()
            .filter(|(_, count)| *count >= 2)
            .map(|(id, _)| id)
            .collect();
        let functions = &concurrency.functions;
        concurrency
            .started_at
            .retain(|id, _| functions.contains(id));
        concurrency
    }
}

impl Concurrency {
    /// An object held in an attribute of a shared object is shared too: `self.storage =
    /// Storage()` in a class whose bound method runs on many threads at once (`crowded`: a
    /// pool, starts in a loop) makes every thread reach the same `Storage` (also through
    /// further attributes, a few levels deep). Not from an object that one thread of its own
    /// works for (each uploader with its upload thread and its own `ResumableUpload`), and
    /// only for classes of the same top-level package: a library-like class that some shared
    /// object of another package happens to hold (a `socket.socket` in a test server) is not
    /// made shared for every use.
    fn share_held_objects(&mut self, project: &Project, crowded: Vec<String>) {
        let package = |name: &str| {
            name.split(['.', ':'])
                .next()
                .unwrap_or_default()
                .to_string()
        };
        let mut pending = crowded;
        for _ in 0..4 {
            let mut found = Vec::new();
            for class in &pending {
                // Its own attributes and those it inherits (`self.storage` set in a base's
                // `__init__`).
                let mut lineage = vec![class.as_str()];
                for _ in 0..4 {
                    let Some(base) = lineage.last().and_then(|c| project.index.bases(c).first())
                    else {
                        break;
                    };
                    lineage.push(base);
                }
                let types = lineage
                    .into_iter()
                    .flat_map(|class| project.index.attribute_types(class));
                for ty in types {
                    if project.index.is_class(ty)
                        && package(ty) == package(class)
                        && !self.shared_classes.contains(ty)
                    {
                        found.push(ty.to_string());
                    }
                }
            }
            if found.is_empty() {
                break;
            }
            self.shared_classes.extend(found.iter().cloned());
            pending = found;
        }
    }
}

/// Thread pool types: what an executor of one of them (or of a subclass) is given runs on its
/// threads.
const THREAD_POOLS: &[&str] = &[
    "concurrent.futures.ThreadPoolExecutor",
    "concurrent.futures.thread.ThreadPoolExecutor",
    "multiprocessing.pool.ThreadPool",
];

/// Whether an executor of type `executor` runs what it is given on threads: a thread pool, or
/// a type the project does not define (a library's, assumed to). A process pool, or a class
/// of the project that is no thread pool (a fork-based executor), runs it elsewhere.
fn runs_on_threads(project: &Project, executor: &str) -> bool {
    if THREAD_POOLS.contains(&executor) {
        return true;
    }
    if executor.contains("ProcessPool") {
        return false;
    }
    !project.index.is_class(executor)
        || THREAD_POOLS
            .iter()
            .any(|pool| derives_from(project, executor, pool, 8))
}

/// Whether a class derives (directly or not) from `base`.
pub fn derives_from(project: &Project, class: &str, base: &str, steps: usize) -> bool {
    let Some(steps) = steps.checked_sub(1) else {
        return false;
    };
    project
        .index
        .bases(class)
        .iter()
        .any(|b| *b == base || derives_from(project, b, base, steps))
}

/// The class of the project a method belongs to (`shop.Cart.add` → `shop.Cart`).
fn method_class<'f>(project: &Project, function: &'f Function) -> Option<&'f str> {
    let (owner, _) = function.canonical.rsplit_once('.')?;
    project.index.is_class(owner).then_some(owner)
}

/// The classes whose bound methods the functions of a thread call as callbacks kept by
/// another object: `self.callback(packet)` in `Parser`, with `callback` the `self.process`
/// a `StreamProcessor` gave `Parser(callback=self.process)`. The thread then runs methods of
/// that `StreamProcessor` object, which its other users go on calling.
fn callback_classes(project: &Project, thread: &HashSet<FunctionId>) -> Vec<String> {
    let mut classes: Vec<String> = Vec::new();
    for &id in thread {
        for (_, call, target) in project.resolved_calls(id) {
            let Some(callee) = call.callee.as_deref() else {
                continue;
            };
            let Some(class) = method_class(project, project.function(target)) else {
                continue;
            };
            // An attribute of a project class that names another class's method.
            let kept_by_other = callee.rsplit_once('.').is_some_and(|(owner, _)| {
                project.index.is_class(owner)
                    && owner != class
                    && !derives_from(project, owner, class, 8)
                    && !derives_from(project, class, owner, 8)
            });
            if kept_by_other
                && project.index.unalias(callee, ".") != callee
                && !classes.iter().any(|c| c == class)
            {
                classes.push(class.to_string());
            }
        }
    }
    classes
}

/// Every function reachable from `starts` through the call graph (the starts included), and
/// through calls of a callable parameter of an enclosing function to every callable its
/// callers pass there (`def run_tool(api_fn): def _sync(): api_fn()` with `_sync` started on
/// a thread runs each `api_fn` given).
fn reachable(
    project: &Project,
    passed: &PassedCallables,
    starts: Vec<FunctionId>,
) -> HashSet<FunctionId> {
    let mut seen = HashSet::default();
    let mut queue = starts;
    while let Some(id) = queue.pop() {
        if !seen.insert(id) {
            continue;
        }
        let function = project.function(id);
        // Calling a decorated function runs its decorators' wrappers (`@transaction def get`
        // runs `transaction.wrapper`, which calls the handlers).
        if !function.decorators.is_empty() {
            queue.extend(decorator_wrappers(project, id, project.model(id).language));
        }
        queue.extend(project.resolved_calls(id).map(|(_, _, target)| target));
        if passed.parameters.is_empty() {
            continue;
        }
        let separator = project.model(id).language.path_separator();
        for (call, site) in function.calls.iter().enumerate() {
            let [parameter, same] = site.alternatives.as_slice() else {
                continue;
            };
            let Some(&(method, position, keyword)) = passed.parameters.get(parameter.as_str())
            else {
                continue;
            };
            if parameter != same || project.target(CallSite { caller: id, call }).is_some() {
                continue;
            }
            // Only where the thread starts inside the function that has the parameter (its
            // closure runs on the thread): a thread that runs that function itself was given
            // one value for it, not every caller's.
            let Some(outer) = project.index.resolve(method, separator) else {
                continue;
            };
            if seen.contains(&outer) {
                continue;
            }
            let given = passed.at(project, outer, (position, keyword));
            queue.extend(
                given
                    .into_iter()
                    .filter_map(|(callable, _)| project.index.resolve(callable, separator)),
            );
        }
    }
    seen
}

/// The functions a decorated function's decorators define inside themselves (`def wrapper(*a):
/// … return func(*a)`): with `@checked def work(x)`, `pool.map(work, …)` and a call of `work`
/// run `wrapper`.
fn decorator_wrappers(
    project: &Project,
    started: FunctionId,
    language: Language,
) -> Vec<FunctionId> {
    let mut wrappers = Vec::new();
    for decorator in &project.function(started).decorators {
        let Some(decorator) = project.index.resolve(decorator, language.path_separator()) else {
            continue;
        };
        let nested = project.models[decorator.file].nested_in(decorator.index);
        wrappers.extend(nested.map(|(index, _)| FunctionId {
            file: decorator.file,
            index,
        }));
    }
    wrappers
}
