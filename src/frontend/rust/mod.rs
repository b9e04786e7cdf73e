//! Rust front end: parses with `syn` and lowers into the language-neutral model.
//!
//! Paths are resolved through `use` items (groups, renames, `self`, re-exports), `Self` and
//! simple type evidence (annotated parameters and lets, constructor calls, tuple-returning
//! channel constructors, struct fields), so `rx.recv()` becomes `std::sync::mpsc::Receiver::recv`
//! only when `rx` comes from std's channel.
//!
//! Layout: [`traverse`] walks the tree and dispatches; [`semantic`] answers what names and
//! types mean; one module per concern emits the facts — [`calls`], [`locks`] (what is a lock,
//! its identity, guard-taking calls), [`guards`] (how long guards live), [`conditions`],
//! [`threads`], [`state`] (shared state), [`loops`] (busy waits); [`syntax`] holds pure helpers
//! and [`limits`] what is refused before parsing.

mod calls;
mod conditions;
mod fields;
mod guards;
mod imports;
mod limits;
mod locks;
mod loops;
mod macros;
mod semantic;
mod state;
mod syntax;
mod threads;
mod traverse;

use rustc_hash::FxHashMap as HashMap;
use std::path::Path;
use std::time::Duration;
use syn::ext::IdentExt;

use syn::visit::Visit;

use super::FrontendError;
use crate::knowledge::LanguageTables;
use crate::model::{Context, FileModel, Language, LockName, Span};
use crate::project::ModuleName;
use semantic::SemanticModel;

pub use imports::GlobImports;
pub use limits::{MAX_NESTING, MAX_STATEMENT_BYTES, MAX_TOKENS};
pub use macros::ProjectMacros;

/// Parses and lowers one Rust file.
pub fn lower(
    path: &Path,
    text: &str,
    tables: &LanguageTables,
    module: &ModuleName,
    macros: &ProjectMacros,
    glob_imports: &GlobImports,
) -> Result<(FileModel, Duration), FrontendError> {
    // proc-macro2 keeps every parsed file's text in a per-thread map unless told otherwise:
    // forget it however this function returns, or a long-lived server grows with every edit.
    struct ForgetSpans;
    impl Drop for ForgetSpans {
        fn drop(&mut self) {
            proc_macro2::extra::invalidate_current_thread_spans();
        }
    }
    let _forget_spans = ForgetSpans;
    let parse_started = std::time::Instant::now();
    let mut file = parse(text, module.edition)?;
    macros::expand(&mut file, macros);
    let parse_time = parse_started.elapsed();
    let mut lowerer = Lowerer {
        tables,
        model: FileModel::new(path.to_path_buf(), Language::Rust, module.path.clone()),
        semantic: SemanticModel::new(tables, glob_imports, module.path.clone()),
        edition: module.edition,
        loop_depth: 0,
        loop_rechecks: false,
        for_depth: 0,
        spin_waits: 0,
        exclusive_self: false,
        takes_guard: false,
        impl_alias: None,
        atomic_locals: Vec::new(),
        membership_locals: Vec::new(),
        closure: 0,
        closures: 0,
        inline_closures: 0,
        local_closures: Vec::new(),
        non_blocking_receivers: Vec::new(),
        stored_locks: Vec::new(),
        call_results: Vec::new(),
        handed_over: (usize::MAX, None),
        offloaded_closure: usize::MAX,
        executor_closure: usize::MAX,
        detached_closure: usize::MAX,
        executor_chain: false,
        prefix: Vec::new(),
        current: 0,
        context: Context::Sync,
        next_call_awaited: false,
        discarded_call_end: None,
        guard_helpers: HashMap::default(),
        param_lockers: HashMap::default(),
        argument_guards: HashMap::default(),
        closure_lockers: HashMap::default(),
        file_methods: rustc_hash::FxHashSet::default(),
        file_functions: rustc_hash::FxHashSet::default(),
        guard_functions: HashMap::default(),
        closure_guards: HashMap::default(),
        held_objects: Default::default(),
        parameters: Vec::new(),
        block_value_type: None,
    };
    lowerer.model.functions[0].span = 0..text.len().min(1);
    if module.edition == 2015 {
        lowerer.semantic.extern_crates = Some(module.extern_crates.clone());
    }
    lowerer.semantic.path_dependencies = module.path_dependencies.clone();
    lowerer.semantic.module_paths = path_modules(path, &module.path, &file.items);
    lowerer.semantic.enter_file(&file.items);
    lowerer.define_locks(&file.items);
    lowerer.collect_lock_helpers(&file.items);
    lowerer.propagate_parameter_locks(&file.items);
    lowerer.visit_file(&file);
    let mut model = lowerer.model;
    model.aliases = lowerer.semantic.reexports;
    model.types = lowerer.semantic.exported_fields;
    model.types.sort_unstable();
    drop(file);
    Ok((model, parse_time))
}

/// `#[path = "../connect.rs"] mod connect;`: the module the file declares is the one the
/// project names after that file's own path (`app::connect` for `src/connect.rs`), so the
/// file's `connect` names that module (ident → canonical module). Paths are relative to the
/// declaring file's directory, whose module is the file's own for a `mod.rs`, `lib.rs` or
/// `main.rs` and its parent otherwise; a path that leaves the crate's `src` tree, or names no
/// `.rs` file, is not followed.
/// Whether a file is the root of a test, example, benchmark or binary target
/// (`tests/api.rs`, `src/bin/tool.rs`), whose `mod` declarations name files beside it.
fn is_target_root(path: &Path) -> bool {
    let directory = path.parent().and_then(|dir| dir.file_name());
    let in_target_directory = directory.is_some_and(|dir| {
        ["tests", "examples", "benches", "bin"]
            .iter()
            .any(|d| dir == *d)
    });
    in_target_directory && path.file_name().is_some_and(|name| name != "mod.rs")
}

fn path_modules(path: &Path, module: &str, items: &[syn::Item]) -> HashMap<String, String> {
    let mut modules = HashMap::default();
    for item in items {
        let syn::Item::Mod(declared) = item else {
            continue;
        };
        let target = declared.attrs.iter().find_map(|attr| match &attr.meta {
            syn::Meta::NameValue(pair) if pair.path.is_ident("path") => match &pair.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }) => Some(text.value()),
                _ => None,
            },
            _ => None,
        });
        // `mod common;` in a test, example, benchmark or binary target's own file
        // (`tests/api.rs`): the module beside it, named without the target (see
        // `Layout::module_of`).
        if target.is_none() && declared.content.is_none() && is_target_root(path) {
            let name = declared.ident.unraw().to_string();
            modules.insert(name.clone(), name);
            continue;
        }
        let Some(target) = target else { continue };
        let directory_file = path
            .file_name()
            .is_some_and(|name| name == "mod.rs" || name == "lib.rs" || name == "main.rs");
        let mut segments: Vec<&str> = module.split("::").collect();
        if !directory_file {
            segments.pop();
        }
        let mut parts: Vec<&str> = target.split(['/', '\\']).collect();
        let Some(file) = parts.pop().and_then(|f| f.strip_suffix(".rs")) else {
            continue;
        };
        let mut owned: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
        let mut inside = !owned.is_empty();
        for part in parts {
            match part {
                "" | "." => {}
                ".." if owned.len() > 1 => {
                    owned.pop();
                }
                ".." => inside = false,
                name => owned.push(name.replace('-', "_")),
            }
        }
        if !inside {
            continue;
        }
        if file != "mod" {
            owned.push(file.replace('-', "_"));
        }
        modules.insert(declared.ident.unraw().to_string(), owned.join("::"));
    }
    modules
}

/// The lowering of one file: the model being built, the semantic model it asks, and where
/// the traversal is. Each concern adds its methods in its own module.
struct Lowerer<'t> {
    tables: &'t LanguageTables,
    model: FileModel,
    /// What names and types mean at the point being lowered.
    semantic: SemanticModel<'t>,
    /// The crate's edition: 2024 drops `if let` scrutinee temporaries before the `else`.
    edition: u16,
    /// How many loops of the current function enclose the code being lowered.
    loop_depth: usize,
    /// The innermost enclosing loop can re-check a condition: a `while`, or a `loop` whose body
    /// branches (`if`, `match`, `while`, `break`). A bare `loop { wait; handle(); }` cannot.
    loop_rechecks: bool,
    /// How many `for` loops enclose it.
    for_depth: usize,
    /// How many loops that retry a lock (`try_lock`) enclose it: their sleeps wait for the lock.
    spin_waits: usize,
    /// The current method takes `self` by value or `&mut`: its fields are not shared.
    exclusive_self: bool,
    /// The current function takes a lock guard as a parameter.
    takes_guard: bool,
    /// In an inherent `impl` written on a `type` alias of another type (`impl Builder` with
    /// `type Builder = GenericBuilder<DefaultMode>`): the alias, which names its methods.
    /// Two aliases of one generic type may each have a `new` of their own.
    impl_alias: Option<String>,
    /// Locals holding an atomic's loaded value (`let n = COUNT.load(..)`): (local, atomic, load,
    /// whether a read-modify-write returned it: `let old = COUNT.fetch_add(1, ..)`).
    atomic_locals: Vec<(String, String, Span, bool)>,
    /// Locals holding whether a collection behind a lock holds a key (`let new = { let g =
    /// M.read().unwrap(); !g.contains_key(k) };`), for [`Lowerer::relocked_check_then_act`].
    membership_locals: Vec<state::MembershipLocal>,
    /// The closure whose body is being lowered (0: none), numbered in the file.
    closure: u32,
    /// How many closures have been numbered.
    closures: u32,
    /// How many closures run inline (by an iterator adapter) enclose the code: it may run
    /// once per element.
    inline_closures: usize,
    /// Closures of the current function bound to a local (`let reload = || ..;`): the name
    /// and the closure's number, latest last.
    local_closures: Vec<(String, u32)>,
    /// The receivers (function, as written) a function made non-blocking before the code
    /// being lowered: `listener.set_nonblocking(true)`, `options.custom_flags(O_NONBLOCK)`.
    non_blocking_receivers: Vec<(usize, String)>,
    /// Locks of the current function's locals or parameters that a struct literal stores in
    /// a field (`ChunkBuilder { models, .. }`): the local's identity and the field's. The
    /// function's holds of the local are the field's lock.
    stored_locks: Vec<(String, LockName)>,
    /// Locals of the function being lowered bound to a call's result (see
    /// [`fields::CallResult`]).
    call_results: Vec<fields::CallResult>,
    /// While a thread-starting call's argument is walked: where the closure or async block it
    /// hands over starts, and that closure's number or that block's function once met.
    handed_over: (usize, Option<threads::HandedOver>),
    /// Where the closure starts that the call whose arguments are being walked runs on
    /// another thread (`spawn_blocking(move || ..)`), as [`threads::closure_key`] gives it.
    offloaded_closure: usize,
    /// Likewise, the closure the call whose arguments are being walked runs on the async
    /// executor: a future or stream combinator's whose result is awaited or spawned
    /// (`tokio::spawn(stream.for_each(|item| ..))`).
    executor_closure: usize,
    /// The closure a `let` binds that the rest of its block never calls by name (`let task =
    /// move || build(..); Ok(task)`): it runs wherever it is handed, not here.
    detached_closure: usize,
    /// The method call about to be walked is a receiver in a combinator chain whose future
    /// is awaited or spawned (`stream.map(f).for_each(g).await`): its closures run there too.
    executor_chain: bool,
    /// Module and type names enclosing the current item.
    prefix: Vec<String>,
    /// The model function being lowered (index into `model.functions`).
    current: usize,
    /// Where the code being lowered runs.
    context: Context,
    /// The next recorded call is awaited (set while visiting the base of `.await`).
    next_call_awaited: bool,
    /// Where the call whose result a statement throws away ends (`publish(n);`, `let _ =
    /// publish(n);`): the recorded call with that end is `Discarded`.
    discarded_call_end: Option<usize>,
    /// The file's methods that return a guard, by canonical name (`Type::method`).
    guard_helpers: HashMap<String, locks::GuardHelper>,
    /// The file's functions that lock a lock they are given: canonical name → (parameter
    /// index, counting `self`, guard method).
    param_lockers: HashMap<String, Vec<(usize, String)>>,
    /// Functions of this file that return the guard they take on a parameter: the parameter's
    /// index and the guard method (`fn read_lock(t: &RwLock<T>) -> RwLockReadGuard<T>`).
    argument_guards: HashMap<String, (usize, String)>,
    /// The names of the methods the file's `impl` blocks define.
    file_methods: rustc_hash::FxHashSet<String>,
    /// The canonical names of the file's functions and methods.
    file_functions: rustc_hash::FxHashSet<String>,
    /// Methods of the file that run a closure they are given while they hold a lock of their
    /// object (see [`locks::ClosureLocker`]).
    closure_lockers: HashMap<String, locks::ClosureLocker>,
    /// The file's functions that return a guard of a `static` lock: canonical name → (guard
    /// method, the lock, the lock as written).
    guard_functions: HashMap<String, (String, LockName, String)>,
    /// Closures bound to a local that return a guard, by (function, local): the guard
    /// method, the lock and the lock as written.
    closure_guards: HashMap<(usize, String), (String, Option<LockName>, String)>,
    /// The objects whose field locks each function holds (see [`super::HeldObjects`]).
    held_objects: super::HeldObjects,
    /// The current function's parameters by index, counting `self` (empty for a pattern that
    /// is not a plain name).
    parameters: Vec<String>,
    /// The type of the value of the block lowered last, taken while its locals were in scope.
    block_value_type: Option<crate::knowledge::Returns>,
}

/// Parses a file: lexes it with proc-macro2 (which does not recurse), refuses it when it is
/// too deep, too long in one statement or too large for `syn`, then parses the tokens. Spans
/// are byte offsets into `text`, also after a byte order mark or a `#!` line. Under edition
/// 2015, `async`, `await` and `try` are identifiers (`let async = ..`, `try!(..)`): they are
/// passed to `syn` as raw identifiers.
pub(crate) fn parse(text: &str, edition: u16) -> Result<syn::File, FrontendError> {
    let source = limits::blank_bom_and_shebang(text);
    let tokens: proc_macro2::TokenStream =
        source
            .parse()
            .map_err(|error: proc_macro2::LexError| FrontendError {
                span: error.span().byte_range(),
                message: format!("syntax error: {error}"),
            })?;
    if let Some((offset, reason)) = limits::too_costly(&tokens) {
        return Err(FrontendError {
            span: offset..offset + 1,
            message: format!("{reason}; the file is not analysed"),
        });
    }
    let tokens = if edition < 2021 {
        syntax::legacy_edition_tokens(tokens, edition)
    } else {
        tokens
    };
    syn::parse2(tokens).map_err(|error| FrontendError {
        span: error.span().byte_range(),
        message: format!("syntax error: {error}"),
    })
}
