//! Python front end: the one adapter around `ruff_python_parser`, and the lowering of its AST
//! into the language-neutral model.
//!
//! The [`semantic`] model resolves names through imports and aliases (`from time import sleep
//! as nap`), lets locally bound names shadow library ones, and takes simple type evidence
//! (constructor assignments, annotations, `with … as x`, `self.x = Ctor()`) to turn `q.get()`
//! into `queue.Queue.get`. The [`traversal`] walks the file and hands each node to the concern
//! that lowers it: [`calls`], [`callbacks`], [`conditions`], [`locks`], [`state`], [`processes`],
//! [`joins`], [`loops`].

mod back_references;
mod callbacks;
mod calls;
mod conditions;
mod fields;
mod joins;
mod locks;
mod loops;
mod processes;
mod reexports;
mod semantic;
mod state;
mod syntax;
mod traversal;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::path::Path;
use std::time::Duration;

use ruff_python_ast::visitor::Visitor;

use super::FrontendError;
use crate::knowledge::LanguageTables;
use crate::model::{Context, FileModel, Language, ResultUse, Span};
use crate::project::ModuleName;
use semantic::{Scope, ScopeKind, SemanticModel};

pub use reexports::ProjectReexports;

/// Parses and lowers one Python file.
pub fn lower(
    path: &Path,
    text: &str,
    tables: &LanguageTables,
    module: &ModuleName,
    reexports: &ProjectReexports,
) -> Result<(FileModel, Duration), FrontendError> {
    let parse_started = std::time::Instant::now();
    // The parser recovers from syntax errors (a Python 2 `print "x"`, a stray token): what it
    // parses around them is lowered, and the first error is kept for IL001.
    let parsed =
        ruff_python_parser::parse_unchecked_source(text, ruff_python_ast::PySourceType::Python);
    let syntax_error = parsed.errors().first().map(|error| {
        let span = error.location.start().to_usize()..error.location.end().to_usize();
        (span, format!("syntax error: {}", error.error))
    });
    let parse_time = parse_started.elapsed();
    let syntax = parsed.syntax();
    let package = if module.is_package {
        module.path.clone()
    } else {
        module
            .path
            .rsplit_once('.')
            .map_or(String::new(), |(parent, _)| parent.to_string())
    };
    let mut lowerer = Lowerer {
        tables,
        source: text,
        inputs: conditions::Inputs::default(),
        branches: Vec::new(),
        condition: None,
        model: FileModel::new(path.to_path_buf(), Language::Python, module.path.clone()),
        semantic: SemanticModel {
            tables,
            reexports,
            module: module.path.clone(),
            package,
            scopes: vec![Scope::new(ScopeKind::Module, "")],
            classes: HashMap::default(),
            function_returns: HashMap::default(),
            returned_by: HashMap::default(),
            back_references: back_references::back_references(&syntax.body, &module.path),
            has_unions: std::cell::Cell::new(false),
        },
        next_result: ResultUse::Used,
        local_locks: Vec::new(),
        condition_locks: HashMap::default(),
        loop_depth: 0,
        loop_end: None,
        opaque_with_depth: 0,
        waits_not_rechecked: Vec::new(),
        closure: 0,
        closures: 0,
        started_lambda: None,
        result_dropping_lambdas: Vec::new(),
        repeat_depth: 0,
        loop_bound: Vec::new(),
        loop_elements: Vec::new(),
        registry_loops: Vec::new(),
        queue_items: Vec::new(),
        non_blocking_attempts: 0,
        fork_pids: Vec::new(),
        forked_child: 0,
        exception_releases: Vec::new(),
        state_locals: Vec::new(),
        looked_up: Vec::new(),
        coroutine_checked: Vec::new(),
        nests_loops: applies_nest_asyncio(text),
        thread_keys: Vec::new(),
        lock_helpers: HashMap::default(),
        lock_helper_parameters: HashMap::default(),
        lock_steps: HashMap::default(),
        lock_decorators: HashMap::default(),
        bare_lock_decorators: HashMap::default(),
        current: 0,
        context: Context::Sync,
        held_objects: Default::default(),
        import_fallbacks: 0,
        property_names: HashSet::default(),
        mentions_thread_ids: state::mentions_thread_ids(text),
        thread_id_helpers: HashSet::default(),
        thread_id_locals: Vec::new(),
        property_returns: HashMap::default(),
        typed_parameters: HashSet::default(),
        namespaced: !module.namespaces.is_empty(),
    };
    lowerer.model.functions[0].span = 0..text.len().min(1);
    lowerer.semantic.bind_locals(&syntax.body, &[]);
    // Functions may use a getter defined further down the module.
    lowerer.note_module_lock_getters(&syntax.body);
    lowerer.visit_body(&syntax.body);
    lowerer.export_lock_helpers(&syntax.body);
    // The facts about calls' conditions and arguments stay alive for the whole project phase.
    for function in &mut lowerer.model.functions {
        function.call_arguments.shrink_to_fit();
        function.call_conditions.shrink_to_fit();
        function.attribute_values.shrink_to_fit();
    }
    lowerer.model.types = lowerer.semantic.exported_types();
    // The other names this package is imported by (see `ModuleName::namespaces`).
    for outer in &module.namespaces {
        let alias = (outer.clone(), module.path.clone());
        lowerer.model.aliases.push(alias);
    }
    lowerer.model.returned_by = SemanticModel::sorted(&lowerer.semantic.returned_by);
    lowerer.model.returns = SemanticModel::sorted(&lowerer.semantic.function_returns);
    lowerer.model.syntax_error = syntax_error;
    Ok((lowerer.model, parse_time))
}

/// The state of lowering one file: the model being built, the semantic model, and what the
/// traversal knows about where it is.
struct Lowerer<'a> {
    tables: &'a LanguageTables,
    /// The file's text (for conditions as written).
    source: &'a str,
    /// What the current function's conditions may test.
    inputs: conditions::Inputs,
    /// The branches of the current function the code being lowered is in.
    branches: Vec<conditions::Branch>,
    /// The condition of the calls made here, once computed (`Some(None)`: none), until the
    /// branches change.
    condition: Option<Option<std::sync::Arc<crate::model::condition::CallCondition>>>,
    model: FileModel,
    semantic: SemanticModel<'a>,
    /// What the statement being lowered does with the result of its outermost call.
    next_result: ResultUse,
    /// Locks assigned to local names in the function being lowered (`lock = threading.Lock()`).
    local_locks: Vec<(String, Span)>,
    /// Conditions built on a given lock (`Condition(self.lock)`): condition identity → the
    /// lock's identity and type.
    condition_locks: HashMap<String, (String, String)>,
    /// How many `try` bodies whose handlers catch `BlockingIOError` enclose the code being
    /// lowered: calls there are non-blocking attempts.
    /// Locals holding what `os.fork()` returned, with their function (see `forked_child`).
    fork_pids: Vec<(usize, String)>,
    /// How deep the walk is in a forked child's branch (`if pid == 0:`): only the forking
    /// thread exists there, so its state uses race with nothing.
    forked_child: usize,
    non_blocking_attempts: usize,
    /// The locks (as written) that the catch-all handlers of the `try` bodies enclosing the
    /// code release (`except: lock.release()`).
    exception_releases: Vec<String>,
    /// How many `while` loops of the current function enclose the code being lowered.
    loop_depth: usize,
    /// The end of the outermost loop being lowered (see [`crate::model::read_position`]).
    loop_end: Option<usize>,
    /// How many `with` blocks over context managers that are not known locks enclose it.
    opaque_with_depth: usize,
    /// The starts of `wait()` calls that a `while` loop around them does not re-check (see
    /// [`loops::waits_not_rechecked`]).
    waits_not_rechecked: Vec<usize>,
    /// The lambda whose body is being lowered (0: none), numbered in the file.
    closure: u32,
    /// How many lambdas have been numbered.
    closures: u32,
    /// The lambda a thread-starting call is given (where it starts), and the thread entry
    /// that waits for its number.
    started_lambda: Option<(ruff_text_size::TextSize, usize)>,
    /// Where the lambdas given to a call that drops what they return start (see
    /// `LanguageTables::callback_runners`), until they are walked.
    result_dropping_lambdas: Vec<ruff_text_size::TextSize>,
    /// How many loops or comprehensions of the current function enclose the code.
    repeat_depth: usize,
    /// The enclosing `for` loops over a literal tuple or list of the current function, by
    /// target (`for t in (self._reader, self._writer):`): what the target names in turn.
    loop_elements: Vec<(&'a str, &'a [ruff_python_ast::Expr])>,
    /// The names the enclosing `for` loops bind to the callbacks of a registry (see
    /// [`callbacks`]), with the registry.
    registry_loops: Vec<(&'a str, String)>,
    /// Locals holding what a work queue hands out (`cb = self._q.get()`): (function index,
    /// local, the queue as a registry), see [`callbacks`].
    queue_items: Vec<(usize, String, String)>,
    /// The names the enclosing `for` loops of the current function bind (their targets and
    /// what their bodies assign): anything else names the same object on every iteration.
    loop_bound: Vec<String>,
    /// Locals of the function being lowered that hold a value read from shared state
    /// (`v = self.stock`): (local, state identity, where it was read).
    state_locals: Vec<(String, String, Span)>,
    /// Locals of the function being lowered that hold an entry looked up in a container
    /// (`inst = self._instances.get(key)`), with the container: testing the local tests
    /// whether the entry is there.
    looked_up: Vec<(String, &'a ruff_python_ast::Expr)>,
    /// Callables of the function being lowered that it asks `iscoroutinefunction(f)` about:
    /// it calls each the way that suits it, so its callers' arguments are not followed there.
    coroutine_checked: Vec<String>,
    /// Whether the module applies `nest_asyncio` (`nest_asyncio.apply()`), which makes
    /// asyncio's loops re-entrant: a loop run inside a running one runs on it (no IL107).
    /// Only the module's own text counts: a directory of scripts is one project, and one
    /// script's patch says nothing of the others.
    nests_loops: bool,
    /// Locals of the function being lowered that hold the running thread's identity (`ident =
    /// threading.get_ident()`): a key only this thread uses.
    thread_keys: Vec<String>,
    /// Functions of the file (canonical name) through which `with helper():` takes a lock:
    /// `@contextmanager` helpers that yield while they hold it, and getters that return it
    /// (`return self._lock`). The lock as written in the helper.
    lock_helpers: HashMap<String, &'a ruff_python_ast::Expr>,
    /// The parameters of the `@contextmanager` helpers among [`Self::lock_helpers`]: one that
    /// holds a lock it is given (`def held(lock): lock.acquire(); try: yield`) holds the
    /// caller's argument.
    lock_helper_parameters: HashMap<String, &'a ruff_python_ast::Parameters>,
    /// Methods of the file's classes (canonical name) that only acquire or only release locks
    /// of their object, with the lock as written after `self` (see `Lowerer::note_lock_step`).
    lock_steps: HashMap<String, (locks::Step, String)>,
    /// Decorator factories of the file (canonical name) whose wrapper holds some of their
    /// arguments as locks while the decorated function runs: those arguments' positions.
    lock_decorators: HashMap<String, Vec<usize>>,
    /// Bare decorators of the file (canonical name) whose wrapper holds a lock while it calls
    /// the decorated function, each with whether that wrapper is `async` (see
    /// `Lowerer::note_lock_decorator`).
    bare_lock_decorators: HashMap<String, Vec<(locks::DecoratorLock<'a>, bool)>>,
    /// Index of the function whose code is being lowered.
    current: usize,
    context: Context,
    /// The objects whose field locks each function holds (see [`super::HeldObjects`]).
    held_objects: super::HeldObjects,
    /// How many `except ImportError:` handlers enclose the code: imports there are fallbacks.
    import_fallbacks: usize,
    /// Whether the file's text mentions a call that gives the current thread's id.
    mentions_thread_ids: bool,
    /// The file's functions (canonical names) that return the current thread's id.
    thread_id_helpers: HashSet<String>,
    /// Locals holding the current thread's id: (function index, name).
    thread_id_locals: Vec<(usize, String)>,
    /// The names of the file's property getters (any class): an attribute read of one of
    /// these names may be a call (see `Lowerer::property_read`).
    property_names: HashSet<String>,
    /// The file's simple property getters (canonical name → the getter's `self` and the one
    /// expression it returns), which a condition may read through.
    property_returns: HashMap<String, (String, &'a ruff_python_ast::Expr)>,
    /// The parameters (function index, name key) whose calls name the parameter for the
    /// project to type (see `Lowerer::parameter_callee`).
    typed_parameters: HashSet<(usize, u32)>,
    /// The package is also named by a namespace package's longer names
    /// (`google.cloud.spanner_v1` for `spanner_v1`).
    namespaced: bool,
}

impl Lowerer<'_> {
    /// Whether a canonical name is a member of a module of this file's top-level package
    /// (`app.cache.seen` from `app.aws.s3`).
    fn same_package(&self, canonical: &str) -> bool {
        canonical
            .split_once('.')
            .is_some_and(|(root, _)| root == package_root(&self.model.module))
    }

    /// Whether a canonical name is this package's, also by a namespace package's longer name
    /// (`google.cloud.spanner_v1.X` from `spanner_v1`).
    fn own_name(&self, canonical: &str) -> bool {
        let root = package_root(&self.model.module);
        self.same_package(canonical)
            || self.namespaced
                && canonical.match_indices(root).any(|(at, _)| {
                    canonical[..at].ends_with('.') && canonical[at + root.len()..].starts_with('.')
                })
    }
}

/// The top-level package of a dotted module name (`app` of `app.aws.s3`).
fn package_root(module: &str) -> &str {
    module.split_once('.').map_or(module, |(root, _)| root)
}

/// Whether a module's text applies `nest_asyncio` (`nest_asyncio.apply()`, `from nest_asyncio
/// import apply`).
fn applies_nest_asyncio(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memmem::find(bytes, b"nest_asyncio").is_some()
        && memchr::memmem::find(bytes, b"apply(").is_some()
}
