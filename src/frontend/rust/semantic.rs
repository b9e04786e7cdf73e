//! The semantic model of one Rust file: what its names mean where they are used.
//!
//! Scopes and bindings (module and block scopes of items and `use`s, re-exports, glob imports;
//! function scopes of locals with the type the syntax gives them), and the types the file
//! declares (struct fields, statics). The front end's concerns do not walk scopes themselves:
//! they ask this model questions —
//!
//! - [`SemanticModel::resolve_qualified_name`]: the canonical path a written path names
//!   (`thread::sleep` → `std::thread::sleep`, `crate::db::query` → `ledger::db::query`);
//! - [`SemanticModel::resolve_type`] and [`SemanticModel::type_of`]: the canonical type of a
//!   written type or an expression, when the syntax gives evidence for it;
//! - [`SemanticModel::local`], [`SemanticModel::lock_alias`]: what a local binding is.

use rustc_hash::FxHashMap as HashMap;
use rustc_hash::FxHashSet as HashSet;
use syn::ext::IdentExt;

use syn::{Expr, Pat, Type, UseTree};

use super::imports::GlobImports;
use super::syntax::{block_value, field_name, member_name, type_arguments};
use crate::knowledge::{LanguageTables, Returns};
use crate::model::LockName;

/// Scopes, bindings and declared types of one file, as the traversal reaches each point.
pub(super) struct SemanticModel<'t> {
    tables: &'t LanguageTables,
    /// What the project's modules import from libraries, for the glob imports of them.
    glob_imports: &'t GlobImports,
    /// Names in scope (items and `use`s), innermost last.
    names: Vec<NameScope>,
    /// Canonical path of the module being lowered (the file's, then inline `mod`s).
    modules: Vec<String>,
    /// The file's `#[path = "…"] mod` items: ident → the module the project names after the
    /// file the attribute points to.
    pub(super) module_paths: HashMap<String, String>,
    /// Local variables, innermost last: name → type when known.
    locals: Vec<HashMap<String, Option<Returns>>>,
    /// How many `let` bindings of each local name the one in scope shadows (`let store =
    /// store.lock().unwrap();` is a second `store`), scoped like `locals`.
    shadowed: Vec<HashMap<String, u32>>,
    /// Locals that name another lock (`let m2 = Arc::clone(&m)`), scoped like `locals`.
    lock_aliases: Vec<HashMap<String, Option<LockName>>>,
    /// Struct name → field name → canonical field type.
    fields: HashMap<String, HashMap<String, String>>,
    /// `Struct.field` of the fields declared as a reference-counted pointer (`Arc<..>`,
    /// `Rc<..>`): a clone of the struct shares what they point to, so even `&mut self` does
    /// not make it the method's alone.
    counted_fields: HashSet<String>,
    /// The file's top-level functions (canonical name) that return one of its structs
    /// (`fn client() -> Client`, also in a `Result`): `let c = client();` is a `Client` here,
    /// not only once the project phase knows.
    function_returns: HashMap<String, String>,
    /// Traits whose methods a method call may reach on a value of a type the file cannot see:
    /// imported under no name (`use crate::util::FutureWaitExt as _;`), or given a blanket
    /// implementation in the file (`impl<F: Future> FutureWaitExt for F`).
    pub(super) method_traits: Vec<String>,
    /// Struct name → its fields typed by one of its type parameters (`struct Lockable<T>(T)`:
    /// `0` by the first), with that parameter's position.
    parameter_fields: HashMap<String, Vec<(String, usize)>>,
    /// Inside an `impl` block for a generic struct with its arguments written
    /// (`impl<T> Lockable<Arc<RwLock<T>>>`): the types its parameter-typed fields have there.
    pub(super) impl_fields: HashMap<String, String>,
    /// Inside an `impl` block for a generic struct of another module with its arguments
    /// written (`impl Client` with `type Client = HttpClient<Arc<Mutex<Conn>>>`): the lock types
    /// among them, for a field this file cannot type (see [`Self::impl_lock_arguments`]).
    pub(super) impl_locks: Vec<String>,
    /// Enum variants (`State::Running`) → the types of their fields, by position (tuple
    /// variants) or name (struct variants), for the bindings of a pattern.
    variants: HashMap<String, VariantFields>,
    /// Struct name → field name → the type a lock field guards (`inner: Mutex<Inner>` →
    /// `Inner`): what its guard dereferences to.
    guarded: HashMap<String, HashMap<String, (String, String)>>,
    /// The current function's parameters that are locks (`models: &Arc<RwLock<Factory>>`):
    /// the lock type and the type it guards, as for `guarded`.
    pub(super) guarded_parameters: HashMap<String, (String, String)>,
    /// The current function's parameters of a generic struct with its arguments written
    /// (`c: &Client` with `type Client = HttpClient<Arc<Mutex<Conn>>>`): the types their
    /// parameter-typed fields have (see [`Self::impl_field_types`]).
    pub(super) instantiated_parameters: HashMap<String, HashMap<String, String>>,
    /// The file's top-level `static`s: name → canonical type.
    statics: HashMap<String, String>,
    /// Types with a guard method in the lock table (`std::sync::Mutex`).
    lock_types: rustc_hash::FxHashSet<String>,
    /// The names of the lock table's guard methods (`lock`, `read`, `lock_arc`).
    guard_methods: rustc_hash::FxHashSet<String>,
    /// Types with a guard method that waits for the lock (not a `RefCell`'s borrow).
    waiting_lock_types: rustc_hash::FxHashSet<String>,
    /// The `Self` type inside an `impl` block (or the trait inside a `trait`).
    pub(super) self_type: Option<String>,
    /// The type parameters in scope with the trait each is bound by (`C: IOContext` in
    /// `fn run<C: IOContext>(ctx: &C)`, also from `where` clauses and the `impl`): a value of
    /// type `C` is one of that trait, as `&dyn IOContext` is. Innermost last.
    generic_bounds: Vec<HashMap<String, String>>,
    /// Rust 2015 only: the crate's dependencies (see `ModuleName::extern_crates`); `use`
    /// paths that name none of them start at the crate root.
    pub(super) extern_crates: Option<std::sync::Arc<[String]>>,
    /// The crates of the project this crate depends on (see
    /// `ModuleName::path_dependencies`).
    pub(super) path_dependencies: std::sync::Arc<[String]>,
    /// Module-level `use`s, as (alias, canonical) pairs in the order met: the file's
    /// re-exports.
    pub(super) reexports: Vec<(String, String)>,
    /// The module-level `use`s of the whole file (inline `mod`s included), alias →
    /// canonical, known before the traversal: `mod util { pub use parking_lot::Mutex; }`.
    file_reexports: HashMap<String, String>,
    /// The file's `type` aliases: canonical name → type parameters and aliased type.
    type_aliases: HashMap<String, (Vec<String>, Type)>,
    /// The typed fields of the structs the file declares, for other files
    /// (`relay::service::Service.probe` → `relay::probe::ProcessProbe`): see
    /// [`crate::model::FileModel::types`].
    pub(super) exported_fields: Vec<(String, String)>,
    /// The file's `lazy_static!` statics: name and type.
    lazy_statics: Vec<(String, syn::Ident, Type)>,
    /// Getters of the file's types: struct name → method → the field it gives out (`fn
    /// driver(&self) -> Arc<Mutex<Ring>> { self.ring.clone() }`): a lock got through one is
    /// that field's.
    getters: HashMap<String, HashMap<String, String>>,
}

/// The names a module or block brings into scope: its own items and its `use`s.
#[derive(Debug, Default)]
struct NameScope {
    /// Bound name → canonical path.
    names: HashMap<String, String>,
    /// Canonical paths of glob imports (`use super::*`).
    globs: Vec<String>,
}

/// Whether a branch gives no value: it returns, breaks, panics or exits (`Err(e) => {
/// eprintln!(..); std::process::exit(1); }`).
fn diverges(value: &Expr) -> bool {
    match value {
        Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) | Expr::Macro(_) => true,
        Expr::Call(call) => matches!(call.func.as_ref(), Expr::Path(path)
            if path.path.segments.last().is_some_and(|s| s.ident == "exit" || s.ident == "abort")),
        Expr::Block(block) => match block.block.stmts.last() {
            Some(syn::Stmt::Expr(last, _)) => diverges(last),
            Some(syn::Stmt::Macro(_)) => true,
            _ => false,
        },
        _ => false,
    }
}

/// Whether `method` of a builder type (`reqwest::ClientBuilder`, `tokio::runtime::Builder`) is
/// a setter, which returns the builder: any but the ones that finish, start or convert it.
fn is_builder_setter(ty: &str, method: &str) -> bool {
    const FINISHING: &[&str] = &[
        "build", "finish", "spawn", "send", "connect", "start", "run", "try_", "into_", "launch",
        "open", "init", "get", "create", "serve", "bind", "listen", "exec", "to_",
    ];
    ty.rsplit("::")
        .next()
        .is_some_and(|name| name.ends_with("Builder"))
        && !FINISHING.iter().any(|prefix| method.starts_with(prefix))
}

/// Flattens a `use` tree into `(bound name, path as written)` pairs and glob prefixes.
pub(super) fn flatten_use(
    tree: &UseTree,
    prefix: String,
    out: &mut Vec<(String, String)>,
    globs: &mut Vec<String>,
) {
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}::{name}")
        }
    };
    match tree {
        UseTree::Path(path) => flatten_use(
            &path.tree,
            join(&path.ident.unraw().to_string()),
            out,
            globs,
        ),
        UseTree::Name(name) => {
            let ident = name.ident.unraw().to_string();
            if ident == "self" {
                if let Some(last) = prefix.rsplit("::").next() {
                    out.push((last.to_string(), prefix.clone()));
                }
            } else {
                out.push((ident.clone(), join(&ident)));
            }
        }
        UseTree::Rename(rename) => {
            let ident = rename.ident.unraw().to_string();
            let target = if ident == "self" {
                prefix.clone()
            } else {
                join(&ident)
            };
            out.push((rename.rename.to_string(), target));
        }
        UseTree::Group(group) => {
            for tree in &group.items {
                flatten_use(tree, prefix.clone(), out, globs);
            }
        }
        UseTree::Glob(_) => globs.push(prefix),
    }
}

/// The name an item binds in its module, if any.
fn item_name(item: &syn::Item) -> Option<String> {
    let ident = match item {
        syn::Item::Fn(i) => &i.sig.ident,
        syn::Item::Struct(i) => &i.ident,
        syn::Item::Enum(i) => &i.ident,
        syn::Item::Trait(i) => &i.ident,
        syn::Item::Mod(i) => &i.ident,
        syn::Item::Type(i) => &i.ident,
        syn::Item::Union(i) => &i.ident,
        syn::Item::Const(i) => &i.ident,
        syn::Item::Static(i) => &i.ident,
        _ => return None,
    };
    Some(ident.unraw().to_string())
}

/// The fields of an enum variant: each one's name (struct variants) and canonical type.
type VariantFields = Vec<(Option<String>, Option<String>)>;

/// How many expressions deep type resolution looks.
pub(super) const MAX_RESOLUTION_DEPTH: usize = 16;

/// The type a lock of `()` guards, as the model writes it.
pub(super) const UNIT: &str = "()";

/// Methods that keep the type of their receiver (`?`-like unwrapping and borrowing).
const TRANSPARENT_METHODS: &[&str] = &[
    "unwrap",
    "expect",
    "clone",
    "as_ref",
    "as_mut",
    "borrow",
    "borrow_mut",
    "to_owned",
    "by_ref",
    // `Option::take`, `as_deref`: the model already sees `Option<T>` as `T`.
    "take",
    "as_deref",
    "as_deref_mut",
    // `Result<T, E>` and `Option<T>` are `T` to the model: their error adapters keep it.
    "map_err",
    "ok",
    "ok_or",
    "ok_or_else",
    "context",
    "with_context",
    "wrap_err",
    "wrap_err_with",
];

/// Types that stand for what they wrap as far as locking goes: smart pointers, `Option`,
/// lazily initialised statics (`static M: LazyLock<Mutex<T>>`, `OnceLock<Mutex<T>>`).
const WRAPPER_TYPES: &[&str] = &[
    "Arc",
    "Rc",
    "Box",
    "Option",
    "LazyLock",
    "Lazy",
    "LazyCell",
    "OnceLock",
    "OnceCell",
    "ManuallyDrop",
];

/// The fields of the structs among `items` whose type is one of the struct's type parameters
/// (`struct Lockable<T>(T)`: `0`, typed by parameter 0).
fn parameter_fields(items: &[syn::Item]) -> HashMap<String, Vec<(String, usize)>> {
    let mut out = HashMap::default();
    for item in items {
        let syn::Item::Struct(strukt) = item else {
            continue;
        };
        let parameters: Vec<String> = strukt
            .generics
            .type_params()
            .map(|p| p.ident.unraw().to_string())
            .collect();
        let fields: Vec<(String, usize)> = strukt
            .fields
            .iter()
            .enumerate()
            .filter_map(|(index, field)| {
                let Type::Path(path) = &field.ty else {
                    return None;
                };
                let name = path.path.get_ident()?.to_string();
                let position = parameters.iter().position(|p| *p == name)?;
                Some((field_name(field, index), position))
            })
            .collect();
        if !fields.is_empty() {
            out.insert(strukt.ident.unraw().to_string(), fields);
        }
    }
    out
}

/// Collections whose element type the model keeps, by the name written, with the position
/// of the element's generic argument (a map's value comes after its key).
const COLLECTIONS: &[(&str, usize, Collection)] = &[
    ("Vec", 0, Collection::Sequence),
    ("VecDeque", 0, Collection::Sequence),
    ("LinkedList", 0, Collection::Sequence),
    ("BinaryHeap", 0, Collection::Sequence),
    ("HashSet", 0, Collection::Sequence),
    ("BTreeSet", 0, Collection::Sequence),
    ("IndexSet", 0, Collection::Sequence),
    ("HashMap", 1, Collection::Map),
    ("BTreeMap", 1, Collection::Map),
    ("IndexMap", 1, Collection::Map),
    ("FxHashMap", 1, Collection::Map),
    ("AHashMap", 1, Collection::Map),
    ("FxHashSet", 0, Collection::Sequence),
    ("AHashSet", 0, Collection::Sequence),
    ("SmallVec", 0, Collection::Sequence),
    ("ThinVec", 0, Collection::Sequence),
    // Concurrent maps: `get` gives a reference guard that derefs to the value.
    ("DashMap", 1, Collection::Map),
    ("DashSet", 0, Collection::Sequence),
];

/// Concurrent collections that lock a shard per key (their types are marked [`SHARDED`]): the
/// lock tables name their guard methods under these types.
const SHARDED_COLLECTIONS: &[&str] = &["DashMap", "DashSet"];

pub(super) use crate::model::{SHARDED, sharded_lock_type};

/// A path of `core` or `alloc` by the name `std` re-exports it under (`core::cell::RefCell` is
/// `std::cell::RefCell`, `alloc::sync::Arc` is `std::sync::Arc`): the tables name `std`'s.
pub(super) fn std_facade(path: String) -> String {
    match path
        .strip_prefix("core::")
        .or_else(|| path.strip_prefix("alloc::"))
    {
        Some(rest) => crate::model::concat(&["std::", rest]),
        None => path,
    }
}

/// The suffix of a lock field's name that stands for what its guard dereferences to, as the
/// file that declares the field exports it (`Services.registry.*`).
const GUARDED: &str = ".*";

/// The element type of a collection type, through the wrappers around it
/// (`Arc<RwLock<HashMap<u32, Arc<Mutex<Wal>>>>>`: `Arc<Mutex<Wal>>`).
pub(super) fn collection_element(ty: &Type) -> Option<&Type> {
    let mut ty = ty;
    for _ in 0..6 {
        let Type::Path(path) = ty else {
            return None;
        };
        let last = path.path.segments.last()?;
        let types = type_arguments(&last.arguments);
        let name = last.ident.unraw().to_string();
        if let Some((_, position, _)) = COLLECTIONS.iter().find(|(n, ..)| *n == name) {
            return types.get(*position).copied();
        }
        ty = types.first()?;
    }
    None
}

/// The two shapes of collection the model types: what iterating one gives differs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Collection {
    /// Iterating gives the elements (`Vec<T>`, `HashSet<T>`, slices, arrays).
    Sequence,
    /// Iterating gives `(key, value)` pairs; the model keeps the value (`HashMap<K, V>`).
    Map,
}

impl Collection {
    /// The prefix that marks a type string as this collection of its element type.
    const fn marker(self) -> &'static str {
        match self {
            Collection::Sequence => "[]",
            Collection::Map => "{}",
        }
    }

    /// The type a collection of `element`s is, as the model writes it (`[]Conn`, `{}Conn`).
    pub(super) fn of(self, element: &str) -> String {
        format!("{}{element}", self.marker())
    }

    /// A collection type's shape and element type (`{}Conn` → (Map, `Conn`)), also of a
    /// sharded one (`#{}Conn`).
    pub(super) fn split(ty: &str) -> Option<(Collection, &str)> {
        let ty = ty.strip_prefix(SHARDED).unwrap_or(ty);
        [Collection::Sequence, Collection::Map]
            .into_iter()
            .find_map(|kind| Some((kind, ty.strip_prefix(kind.marker())?)))
    }
}

/// Methods of a collection (or an iterator over it) that give one element.
const ELEMENT_METHODS: &[&str] = &[
    "get",
    "get_mut",
    "first",
    "first_mut",
    "last",
    "last_mut",
    "front",
    "front_mut",
    "back",
    "back_mut",
    "pop",
    "pop_front",
    "pop_back",
    "peek",
    "peek_mut",
    "remove",
    "swap_remove",
    "next",
    "next_back",
    "nth",
    "find",
    "min",
    "max",
    "min_by",
    "max_by",
    "min_by_key",
    "max_by_key",
    // `map.entry(k).or_insert(v)`: `entry` keeps the map (see `SAME_COLLECTION_METHODS`).
    "or_insert",
    "or_insert_with",
    "or_insert_with_key",
    "or_default",
];

/// Methods of a collection that give a collection (or an iterator) of the same elements.
const SAME_COLLECTION_METHODS: &[&str] = &[
    "iter",
    "iter_mut",
    "into_iter",
    "drain",
    "filter",
    "skip",
    "take",
    "rev",
    "skip_while",
    "take_while",
    "step_by",
    "cloned",
    "copied",
    "peekable",
    "inspect",
    "entry",
    "and_modify",
];

/// Methods of a map that give its values.
const VALUE_METHODS: &[&str] = &["values", "values_mut", "into_values"];

/// Methods of a map that give one `(key, value)` pair.
const PAIR_METHODS: &[&str] = &[
    "first_key_value",
    "last_key_value",
    "pop_first",
    "pop_last",
    "get_key_value",
    "remove_entry",
];

/// Methods that take a lock's guard.
const GUARD_METHODS: &[&str] = &["lock", "read", "write", "read_recursive"];

/// Whether an expression is a guard-taking method call (`m.lock()`), by its method's name.
fn is_guard_call(expr: &Expr) -> bool {
    matches!(expr, Expr::MethodCall(call) if GUARD_METHODS.contains(&call.method.to_string().as_str()))
}

/// Methods that reach what a lazily initialised cell holds (`M.get_or_init(..)`).
const CELL_METHODS: &[&str] = &["get_or_init", "get_or_try_init", "force"];

/// Smart pointers whose constructor keeps the type of what they wrap.
const WRAPPERS: &[&str] = &[
    "Arc",
    "Rc",
    "Box",
    "std::sync::Arc",
    "std::rc::Rc",
    "std::boxed::Box",
];

impl<'t> SemanticModel<'t> {
    /// The model of a file whose module is `module`, before any scope is entered.
    pub(super) fn new(
        tables: &'t LanguageTables,
        glob_imports: &'t GlobImports,
        module: String,
    ) -> Self {
        SemanticModel {
            tables,
            glob_imports,
            names: Vec::new(),
            modules: vec![module],
            module_paths: HashMap::default(),
            locals: vec![HashMap::default()],
            shadowed: vec![HashMap::default()],
            lock_aliases: vec![HashMap::default()],
            fields: HashMap::default(),
            counted_fields: HashSet::default(),
            function_returns: HashMap::default(),
            method_traits: Vec::new(),
            parameter_fields: HashMap::default(),
            impl_fields: HashMap::default(),
            impl_locks: Vec::new(),
            variants: HashMap::default(),
            guarded: HashMap::default(),
            guarded_parameters: HashMap::default(),
            instantiated_parameters: HashMap::default(),
            statics: HashMap::default(),
            lock_types: tables
                .locks
                .keys()
                .filter_map(|guard| guard.rsplit_once("::").map(|(ty, _)| ty.to_string()))
                .collect(),
            guard_methods: tables
                .locks
                .keys()
                .filter_map(|guard| {
                    guard
                        .rsplit_once("::")
                        .map(|(_, method)| method.to_string())
                })
                .collect(),
            waiting_lock_types: tables
                .locks
                .iter()
                .filter(|(_, lock)| !lock.cell)
                .filter_map(|(guard, _)| guard.rsplit_once("::").map(|(ty, _)| ty.to_string()))
                .collect(),
            self_type: None,
            generic_bounds: Vec::new(),
            extern_crates: None,
            path_dependencies: Default::default(),
            reexports: Vec::new(),
            file_reexports: HashMap::default(),
            type_aliases: HashMap::default(),
            lazy_statics: Vec::new(),
            getters: HashMap::default(),
            exported_fields: Vec::new(),
        }
    }

    /// Enters the file's top-level scope and learns the types it declares.
    pub(super) fn enter_file(&mut self, items: &[syn::Item]) {
        self.enter_module_scope(items);
        self.file_reexports = self.reexports.iter().cloned().collect();
        let module = self.module().to_string();
        self.declarations(items, &module, 0);
        let fields = self.struct_fields(items);
        self.counted_fields = counted_fields(items);
        self.export_fields(&module, &fields);
        self.export_type_aliases();
        self.fields = fields;
        self.function_returns = self.struct_returns(items, &module);
        for item in items {
            if let syn::Item::Impl(block) = item
                && let Some(name) = self.blanket_trait(block)
                && !self.method_traits.contains(&name)
            {
                self.method_traits.push(name);
            }
        }
        self.parameter_fields = parameter_fields(items);
        let guarded = self.guarded_fields(items);
        self.export_guarded(&module, &guarded);
        self.guarded = guarded;
        self.statics = self.static_types(items);
        // A `static` of a type another crate of the project names (`alvr_common::RwLock`, a
        // re-export of parking_lot's): the project phase types its locks.
        for (name, ty) in &self.statics {
            if ty.contains("::") && !self.is_lock_type(ty) {
                self.exported_fields
                    .push((format!("{module}::{name}"), ty.clone()));
            }
        }
        self.variants = self.variant_fields(items);
        self.getters = field_getters(items);
        self.lazy_static_types(&module);
        self.nested_module_types(items, &module, 0);
    }

    /// The trait an `impl` block implements for every type of a bound (`impl<F: Future>
    /// FutureWaitExt for F`): its methods are the trait's, for any receiver.
    pub(super) fn blanket_trait(&self, block: &syn::ItemImpl) -> Option<String> {
        let (trait_path, _) = block.trait_.as_ref()?;
        let Type::Path(self_type) = block.self_ty.as_ref() else {
            return None;
        };
        let name = self_type.path.get_ident()?;
        block
            .generics
            .type_params()
            .any(|param| param.ident == *name)
            .then(|| self.resolve_qualified_name(trait_path))
            .flatten()
    }

    /// The top-level functions of `items` that return a struct of the file, by canonical name
    /// (see [`Self::function_returns`]).
    fn struct_returns(&self, items: &[syn::Item], module: &str) -> HashMap<String, String> {
        let own = |ty: &String| {
            ty.strip_prefix(module)
                .and_then(|rest| rest.strip_prefix("::"))
                .is_some_and(|name| self.fields.contains_key(name))
        };
        items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Fn(function) => match &function.sig.output {
                    syn::ReturnType::Type(_, output) => self
                        .return_type(output)
                        .filter(own)
                        .map(|ty| (format!("{module}::{}", function.sig.ident.unraw()), ty)),
                    syn::ReturnType::Default => None,
                },
                _ => None,
            })
            .collect()
    }

    /// What a function declared to return `output` gives its caller: a `Result`'s `Ok` type,
    /// `Self`'s type, or the type named (a struct of the file by its canonical name), also
    /// behind a reference.
    pub(super) fn return_type(&self, output: &Type) -> Option<String> {
        // `-> &'static Mutex<()>`: the methods called on it are the referent's.
        if let Type::Reference(reference) = output {
            return self.return_type(&reference.elem);
        }
        let Type::Path(path) = output else {
            return None;
        };
        let last = path.path.segments.last()?;
        // `Result<T, E>` (also a crate's own `Result<T>`, `HandleResult<T>` alias): `?` and
        // `unwrap` give `T`.
        if last.ident.unraw().to_string().ends_with("Result")
            && let syn::PathArguments::AngleBracketed(args) = &last.arguments
            && let Some(syn::GenericArgument::Type(ok)) = args.args.first()
        {
            return self.return_type(ok);
        }
        if path.path.is_ident("Self") {
            return self.self_type.clone();
        }
        // `-> &Self::Target`: an associated type, which no path names.
        if path.qself.is_some()
            || path
                .path
                .segments
                .first()
                .is_some_and(|s| s.ident == "Self")
        {
            return None;
        }
        let ty = self.resolve_type(output)?;
        match ty.contains("::") {
            true => Some(ty),
            false => self.own_struct(&ty),
        }
    }

    /// Records the typed fields of `module`'s structs for other files.
    fn export_fields(&mut self, module: &str, fields: &HashMap<String, HashMap<String, String>>) {
        for (strukt, fields) in fields {
            for (field, ty) in fields {
                self.exported_fields
                    .push((format!("{module}::{strukt}.{field}"), ty.clone()));
            }
        }
    }

    /// Records what the guards of `module`'s lock fields dereference to, for other files
    /// (`Services.registry` of `Arc<Mutex<Registry>>`: `Services.registry.*` is a
    /// `Registry`), so that a method called on such a guard there resolves in the project
    /// phase.
    fn export_guarded(
        &mut self,
        module: &str,
        guarded: &HashMap<String, HashMap<String, (String, String)>>,
    ) {
        for (strukt, fields) in guarded {
            for (field, (_, inner)) in fields {
                if !field.ends_with(crate::model::ITEMS) && inner.contains("::") {
                    let name = crate::model::concat(&[module, "::", strukt, ".", field, GUARDED]);
                    self.exported_fields.push((name, inner.clone()));
                }
            }
        }
    }

    /// Records what the file's `type` aliases stand for, for other files: `pub type
    /// SharedState = Arc<State>;` makes a `SharedState` of another module a `State` (a field
    /// or lock reached through it is `State`'s). An alias with parameters is recorded only
    /// for a sharded map, which is a lock whatever its elements are (`type FxDashMap<K, V> =
    /// DashMap<K, V, FxBuildHasher>`).
    /// Whether a canonical name is one of the file's `type` aliases.
    pub(super) fn is_type_alias(&self, name: &str) -> bool {
        self.type_aliases.contains_key(name)
    }

    fn export_type_aliases(&mut self) {
        let aliases: Vec<(String, bool)> = self
            .type_aliases
            .iter()
            .map(|(name, (params, _))| (name.clone(), params.is_empty()))
            .collect();
        for (name, plain) in aliases {
            let none = syn::PathArguments::None;
            if let Some(ty) = self.canonical_type(name.clone(), &none, 4)
                && ty != name
                && ((plain && ty.contains("::")) || sharded_lock_type(&ty).is_some())
            {
                self.exported_fields.push((name, ty));
            }
        }
    }

    /// Adds the types of `module`'s `lazy_static!` statics to the statics' (in its scope).
    fn lazy_static_types(&mut self, module: &str) {
        let found: Vec<(String, String)> = self
            .lazy_statics
            .iter()
            .filter(|(owner, _, _)| owner == module)
            .filter_map(|(_, ident, ty)| Some((ident.unraw().to_string(), self.resolve_type(ty)?)))
            .collect();
        for (name, ty) in found {
            self.statics.entry(name).or_insert(ty);
        }
    }

    /// Learns what the items of `module` declare for the whole file: `type` aliases,
    /// `lazy_static!` statics and, in inline `mod`s, their re-exports.
    fn declarations(&mut self, items: &[syn::Item], module: &str, depth: usize) {
        for item in items {
            match item {
                syn::Item::Type(alias) => {
                    let name = format!("{module}::{}", alias.ident);
                    let params = alias
                        .generics
                        .type_params()
                        .map(|param| param.ident.unraw().to_string())
                        .collect();
                    self.type_aliases
                        .insert(name, (params, (*alias.ty).clone()));
                }
                syn::Item::Macro(mac) if super::locks::is_lazy_static(&mac.mac) => {
                    if let Ok(statics) = mac.mac.parse_body_with(parse_lazy_statics) {
                        let module = module.to_string();
                        self.lazy_statics.extend(
                            statics
                                .into_iter()
                                .map(|(ident, ty)| (module.clone(), ident, ty)),
                        );
                    }
                }
                syn::Item::Mod(inner) if depth < 8 => {
                    let Some((_, inner_items)) = &inner.content else {
                        continue;
                    };
                    let inner_module = format!("{module}::{}", inner.ident);
                    let known = self.reexports.len();
                    self.push_module(inner_module.clone(), inner_items);
                    let found: Vec<_> = self.reexports.drain(known..).collect();
                    self.file_reexports.extend(found);
                    self.declarations(inner_items, &inner_module, depth + 1);
                    self.pop_module();
                }
                _ => {}
            }
        }
    }

    /// Adds the struct fields and statics of the file's inline `mod`s (resolved in each
    /// module's scope) to the file's, by name; a name the file's top level declares wins.
    fn nested_module_types(&mut self, items: &[syn::Item], module: &str, depth: usize) {
        for item in items {
            let syn::Item::Mod(inner) = item else {
                continue;
            };
            let (Some((_, inner_items)), true) = (&inner.content, depth < 8) else {
                continue;
            };
            let inner_module = format!("{module}::{}", inner.ident);
            // The module's re-exports are already known (see `declarations`).
            let known = self.reexports.len();
            self.push_module(inner_module.clone(), inner_items);
            self.reexports.truncate(known);
            let fields = self.struct_fields(inner_items);
            self.export_fields(&inner_module, &fields);
            for (name, fields) in fields {
                self.fields.entry(name).or_insert(fields);
            }
            for (name, fields) in parameter_fields(inner_items) {
                self.parameter_fields.entry(name).or_insert(fields);
            }
            let guarded = self.guarded_fields(inner_items);
            self.export_guarded(&inner_module, &guarded);
            for (name, fields) in guarded {
                self.guarded.entry(name).or_insert(fields);
            }
            for (name, ty) in self.static_types(inner_items) {
                self.statics.entry(name).or_insert(ty);
            }
            for (name, fields) in self.variant_fields(inner_items) {
                self.variants.entry(name).or_insert(fields);
            }
            self.lazy_static_types(&inner_module);
            self.nested_module_types(inner_items, &inner_module, depth + 1);
            self.pop_module();
        }
    }

    /// The `lazy_static!` statics of the module being lowered (name, type as written).
    pub(super) fn lazy_statics(&self) -> impl Iterator<Item = (&syn::Ident, &Type)> {
        let module = self.module();
        self.lazy_statics
            .iter()
            .filter(move |(owner, _, _)| owner == module)
            .map(|(_, ident, ty)| (ident, ty))
    }

    /// What a canonical type name stands for: through the file's re-exports
    /// (`crate::util::Mutex` → `parking_lot::Mutex`) and `type` aliases
    /// (`type Locked = Arc<RwLock<Set>>` → `std::sync::RwLock`). `arguments` are the
    /// generic arguments written after the name: `type Shared<T> = Arc<T>` makes
    /// `Shared<Mutex<u8>>` a `std::sync::Mutex`.
    fn canonical_type(
        &self,
        name: String,
        arguments: &syn::PathArguments,
        depth: usize,
    ) -> Option<String> {
        let mut name = name;
        for _ in 0..8 {
            if let Some((params, aliased)) = self.type_aliases.get(&name) {
                let depth = depth.checked_sub(1)?;
                let written = type_arguments(arguments);
                let bound: Vec<(&str, &Type)> =
                    params.iter().map(String::as_str).zip(written).collect();
                return self.resolve_bound_type(aliased, &bound, depth);
            }
            match self.reexported_as(&name) {
                Some(target) => name = target.to_string(),
                None => break,
            }
        }
        Some(name)
    }

    /// One step through the file's re-exports: what `name` is re-exported from.
    fn reexported_as(&self, name: &str) -> Option<&str> {
        self.file_reexports
            .get(name)
            .map(String::as_str)
            .filter(|target| *target != name)
    }

    /// What a path stands for through the file's re-exports (`crate::lsp::block_on` after `mod
    /// lsp { pub use futures_executor::block_on; }` is `futures_executor::block_on`).
    pub(super) fn unalias_path(&self, name: String) -> String {
        let mut name = name;
        for _ in 0..8 {
            match self.reexported_as(&name) {
                Some(target) => name = target.to_string(),
                None => break,
            }
        }
        name
    }

    /// Enters an inline `mod`'s scope.
    pub(super) fn push_module(&mut self, module: String, items: &[syn::Item]) {
        self.modules.push(module.clone());
        self.push_scope(items.iter(), &module, true);
    }

    pub(super) fn pop_module(&mut self) {
        self.names.pop();
        self.modules.pop();
    }

    /// Leaves a block's item scope (entered with [`Self::push_scope`]).
    pub(super) fn pop_scope(&mut self) {
        self.names.pop();
    }

    /// Whether a canonical type has guard methods in the lock table.
    pub(super) fn is_lock_type(&self, ty: &str) -> bool {
        self.lock_types.contains(ty)
    }

    /// Whether a canonical type has a guard method that waits for the lock (a mutex or
    /// read-write lock, not a `RefCell`).
    pub(super) fn is_waiting_lock_type(&self, ty: &str) -> bool {
        self.waiting_lock_types.contains(ty)
    }

    /// Whether a method name is a guard method of some type in the lock table.
    pub(super) fn is_guard_method(&self, method: &str) -> bool {
        self.guard_methods.contains(method)
    }

    /// The lock a local names (`let m2 = Arc::clone(&m)`), innermost binding first.
    pub(super) fn lock_alias(&self, name: &str) -> Option<&LockName> {
        self.lock_aliases
            .iter()
            .rev()
            .find_map(|a| a.get(name))
            .and_then(Option::as_ref)
    }

    /// Records that a local of the current block names a lock.
    pub(super) fn bind_lock_alias(&mut self, name: String, lock: LockName) {
        self.lock_aliases
            .last_mut()
            .expect("a local scope")
            .insert(name, Some(lock));
    }

    pub(super) fn lookup_symbol(&self, name: &str) -> Option<&String> {
        self.names
            .iter()
            .rev()
            .find_map(|scope| scope.names.get(name))
    }

    /// The canonical name of a struct this file declares, named bare (`EndGuard`).
    pub(super) fn own_struct(&self, name: &str) -> Option<String> {
        self.fields
            .contains_key(name)
            .then(|| format!("{}::{name}", self.module()))
    }

    pub(super) fn module(&self) -> &str {
        self.modules.last().expect("a module")
    }

    /// The crate's name: the first segment of the file's module path.
    pub(super) fn crate_name(&self) -> &str {
        self.modules[0].split("::").next().unwrap_or("")
    }

    /// Rewrites the head of a path as written in a `use` (`crate`, `self`, `super`, an item of
    /// this module) to a canonical path.
    fn canonical_use_path(&self, written: &str, local: &HashMap<String, String>) -> String {
        let mut segments: Vec<&str> = written.split("::").collect();
        let mut base: Vec<String> = match segments.first().copied() {
            Some("crate") => {
                segments.remove(0);
                vec![self.crate_name().to_string()]
            }
            Some("self") => {
                segments.remove(0);
                vec![self.module().to_string()]
            }
            Some("super") => {
                let mut module: Vec<&str> = self.module().split("::").collect();
                while segments.first() == Some(&"super") {
                    segments.remove(0);
                    module.pop();
                }
                vec![module.join("::")]
            }
            Some(head) => match local.get(head) {
                Some(canonical) => {
                    segments.remove(0);
                    vec![canonical.clone()]
                }
                // Rust 2015: `use member::List;` starts at the crate root unless `member` is a
                // dependency (or std's).
                None if self.extern_crates.as_ref().is_some_and(|crates| {
                    !matches!(head, "std" | "core" | "alloc" | "proc_macro" | "test")
                        && !crates.iter().any(|c| c == head)
                }) =>
                {
                    vec![self.crate_name().to_string()]
                }
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        base.extend(segments.iter().map(|s| s.to_string()));
        base.retain(|s| !s.is_empty());
        base.join("::")
    }

    /// Brings a list of items into scope: their names (under `item_prefix`) and their `use`s.
    /// At module level the `use`s are also recorded as the module's aliases (re-exports).
    pub(super) fn push_scope<'a>(
        &mut self,
        items: impl Iterator<Item = &'a syn::Item> + Clone,
        item_prefix: &str,
        is_module: bool,
    ) {
        let lazy_names: Vec<String> = items
            .clone()
            .filter_map(|item| match item {
                syn::Item::Macro(mac) if super::locks::is_lazy_static(&mac.mac) => {
                    mac.mac.parse_body_with(parse_lazy_statics).ok()
                }
                _ => None,
            })
            .flatten()
            .map(|(ident, _)| ident.unraw().to_string())
            .collect();
        let local: HashMap<String, String> = items
            .clone()
            .filter_map(item_name)
            .chain(lazy_names)
            .map(|name| {
                let declared_at = (is_module && self.modules.len() == 1)
                    .then(|| self.module_paths.get(&name))
                    .flatten();
                let canonical = match declared_at {
                    Some(module) => module.clone(),
                    None if item_prefix.is_empty() => name.clone(),
                    None => format!("{item_prefix}::{name}"),
                };
                (name, canonical)
            })
            .collect();
        let (mut written, mut globs) = (Vec::new(), Vec::new());
        for item in items {
            match item {
                syn::Item::Use(item_use) => {
                    flatten_use(&item_use.tree, String::new(), &mut written, &mut globs);
                }
                // `extern crate grin_util as util;` names the crate as `use grin_util as util;`
                // would (at the crate root, for every module: `use util::Mutex`).
                syn::Item::ExternCrate(extern_crate) => {
                    if let Some((_, alias)) = &extern_crate.rename {
                        let name = extern_crate.ident.unraw().to_string();
                        written.push((alias.unraw().to_string(), name));
                    }
                }
                _ => {}
            }
        }
        let mut scope = NameScope {
            names: local.clone(),
            globs: Vec::new(),
        };
        for (bound, path) in written {
            let canonical = self.canonical_use_path(&path, &local);
            // `use pollster::FutureExt as _;` brings the trait's methods, under no name: known
            // by its own name for method lookup, unless that name means something else here.
            if bound == "_" {
                if !self.method_traits.contains(&canonical) {
                    self.method_traits.push(canonical.clone());
                }
                if let Some(name) = canonical.rsplit("::").next() {
                    scope.names.entry(name.to_string()).or_insert(canonical);
                }
                continue;
            }
            if is_module {
                let alias = format!("{}::{bound}", self.module());
                self.reexports.push((alias, canonical.clone()));
            }
            scope.names.insert(bound, canonical);
        }
        scope.globs = globs
            .iter()
            .map(|g| self.canonical_use_path(g, &local))
            .collect();
        // `use super::*;` where the parent has `use reqwest::blocking::Client;`: `Client` is
        // that here too (unless this module names something else so).
        for glob in &scope.globs {
            for (bound, path) in self.glob_imports.of_module(glob) {
                scope
                    .names
                    .entry(bound.clone())
                    .or_insert_with(|| path.clone());
            }
        }
        // `pub use client::*;`: every name of `client` is one of this module's too.
        if is_module {
            let alias = format!("{}::*", self.module());
            for glob in &scope.globs {
                self.reexports.push((alias.clone(), glob.clone()));
            }
        }
        self.names.push(scope);
    }

    pub(super) fn enter_module_scope(&mut self, items: &[syn::Item]) {
        let module = self.module().to_string();
        self.push_scope(items.iter(), &module, true);
    }

    pub(super) fn local(&self, name: &str) -> Option<&Option<Returns>> {
        self.locals.iter().rev().find_map(|map| map.get(name))
    }

    pub(super) fn bind_local(&mut self, name: String, ty: Option<Returns>) {
        // A new binding of a name that named a lock is another object (`Inited(store) =>`
        // inside `let store = self.store.clone();`), unless it is bound to the lock again.
        if self.lock_alias(&name).is_some()
            && let Some(aliases) = self.lock_aliases.last_mut()
        {
            aliases.insert(name.clone(), None);
        }
        self.locals
            .last_mut()
            .expect("a local scope")
            .insert(name, ty);
    }

    /// A `let` about to bind `name` again where a local of that name is in scope: the new
    /// binding is another object (`let store = store.lock().unwrap();`).
    pub(super) fn shadow(&mut self, name: &str) {
        if self.local(name).is_none() {
            return;
        }
        let shadows = self.shadows(name) + 1;
        if let Some(shadowed) = self.shadowed.last_mut() {
            shadowed.insert(name.to_string(), shadows);
        }
    }

    /// How many bindings of a local name the one in scope shadows (0: the first).
    pub(super) fn shadows(&self, name: &str) -> u32 {
        self.shadowed
            .iter()
            .rev()
            .find_map(|map| map.get(name).copied())
            .unwrap_or(0)
    }

    /// The canonical name of a path (`thread::sleep` → `std::thread::sleep`,
    /// `crate::db::query` → `ledger::db::query`).
    pub(super) fn resolve_qualified_name(&self, path: &syn::Path) -> Option<String> {
        let segments: Vec<String> = path
            .segments
            .iter()
            .map(|s| s.ident.unraw().to_string())
            .collect();
        let (first, rest) = segments.split_first()?;
        if path.leading_colon.is_some() {
            return Some(std_facade(segments.join("::")));
        }
        let head = match first.as_str() {
            "Self" => self.self_type.clone()?,
            "crate" => self.crate_name().to_string(),
            "self" => self.module().to_string(),
            "super" => {
                let mut module: Vec<&str> = self.module().split("::").collect();
                let mut rest = rest;
                module.pop();
                while rest.first().is_some_and(|s| s == "super") {
                    module.pop();
                    rest = &rest[1..];
                }
                let joined: Vec<String> = module
                    .iter()
                    .map(|s| s.to_string())
                    .chain(rest.iter().cloned())
                    .collect();
                return Some(joined.join("::"));
            }
            _ if segments.len() == 1 && self.local(first).is_some() => return None,
            _ => match self.lookup_symbol(first) {
                Some(full) => full.clone(),
                None if segments.len() == 1 => return None,
                None => first.clone(),
            },
        };
        Some(std_facade(
            std::iter::once(head)
                .chain(rest.iter().cloned())
                .collect::<Vec<_>>()
                .join("::"),
        ))
    }

    /// Where a path that names nothing in scope may come from: each glob import in scope.
    pub(super) fn glob_candidates(&self, path: &syn::Path) -> Vec<String> {
        let first = path
            .segments
            .first()
            .map(|s| s.ident.unraw().to_string())
            .unwrap_or_default();
        if path.leading_colon.is_some()
            || self.lookup_symbol(&first).is_some()
            || self.local(&first).is_some()
        {
            return Vec::new();
        }
        let written: Vec<String> = path
            .segments
            .iter()
            .map(|s| s.ident.unraw().to_string())
            .collect();
        let written = written.join("::");
        self.names
            .iter()
            .rev()
            .flat_map(|scope| scope.globs.iter())
            .map(|glob| format!("{glob}::{written}"))
            .collect()
    }

    /// The glob import a type name that names nothing in scope comes from: the crate's own
    /// glob when exactly one is in scope, else the only glob in scope.
    fn glob_type(&self, path: &syn::Path) -> Option<String> {
        let candidates = self.glob_candidates(path);
        // One the tables know as a wrapper (`Mut` of `use bevy_ecs::prelude::*;`).
        if let Some(known) = candidates
            .iter()
            .find(|c| self.tables.wrappers.contains(*c))
        {
            return Some(known.clone());
        }
        // The crate's own: of its name, or of a module the file declares (`mod common;` in a
        // test target, whose modules are named from its directory).
        let crate_name = self.crate_name();
        let mut own = candidates.iter().filter(|c| {
            let root = c.split("::").next().unwrap_or_default();
            root == crate_name || self.module_paths.get(root).is_some_and(|m| m == root)
        });
        match (own.next(), own.next(), candidates.as_slice()) {
            (Some(own), None, _) => Some(own.clone()),
            (None, _, [only]) => Some(only.clone()),
            _ => None,
        }
    }

    /// The type a one-segment type name that names nothing in scope is, when a glob import
    /// can bring it (see [`Self::glob_type`]): not a struct of this file, nor the prelude's.
    /// `globbed_function` builds on it.
    pub(super) fn globbed_type(&self, path: &syn::Path) -> Option<String> {
        // One segment, with or without generic arguments (`Mutex<Inner>`).
        let [segment] = path.segments.iter().collect::<Vec<_>>()[..] else {
            return None;
        };
        if path.leading_colon.is_some() {
            return None;
        }
        let name = segment.ident.unraw().to_string();
        let type_like = name.starts_with(|c: char| c.is_ascii_uppercase());
        if !type_like
            || self.fields.contains_key(&name)
            || PRELUDE_TYPES.contains(&name.as_str())
            || self.lookup_symbol(&name).is_some()
        {
            return None;
        }
        self.glob_type(path).or_else(|| {
            // Several globs could bring it (`use util::*; use error::*;`): the name as this
            // module sees it, which the project phase looks up through the module's globs.
            (self.glob_candidates(path).len() > 1)
                .then(|| crate::model::concat(&[self.module(), "::", &name]))
        })
    }

    /// The `static` a name in upper case that names nothing in scope is, when a glob import
    /// can bring it (`THROTTLE_MUTEX` after `use crate::oauthrequest::*;`), chosen as
    /// [`Self::glob_type`] chooses: not one of this file's statics.
    pub(super) fn globbed_static(&self, path: &syn::Path) -> Option<String> {
        let name = path.get_ident()?.to_string();
        let static_like = name.starts_with(|c: char| c.is_ascii_uppercase())
            && crate::model::is_screaming_case(&name)
            && name.len() > 1;
        if !static_like
            || self.statics.contains_key(&name)
            || self.lookup_symbol(&name).is_some()
            || self.local(&name).is_some()
        {
            return None;
        }
        self.glob_type(path)
    }

    /// `Conn::open` with `Conn` a type a glob import brings (see [`Self::globbed_type`]):
    /// `common::Conn::open`.
    pub(super) fn globbed_function(&self, path: &syn::Path) -> Option<String> {
        let [ty, function] = path.segments.iter().collect::<Vec<_>>()[..] else {
            return None;
        };
        if path.leading_colon.is_some() || !ty.arguments.is_none() {
            return None;
        }
        let ty = self.globbed_type(&syn::Path::from(ty.ident.clone()))?;
        Some(crate::model::concat(&[
            &ty,
            "::",
            &function.ident.unraw().to_string(),
        ]))
    }

    /// The canonical name of a type, looking through references and smart pointers.
    pub(super) fn resolve_type(&self, ty: &Type) -> Option<String> {
        self.resolve_type_within(ty, 4)
    }

    /// What a value of a written type is: [`Self::resolve_type`], or the element types of a
    /// tuple (`Arc<(Mutex<bool>, Condvar)>`).
    pub(super) fn resolve_annotation(&self, ty: &Type) -> Option<Returns> {
        let mut inner = ty;
        for _ in 0..4 {
            inner = match inner {
                Type::Reference(reference) => &reference.elem,
                Type::Paren(paren) => &paren.elem,
                Type::Path(path) => match path.path.segments.last() {
                    Some(last)
                        if WRAPPER_TYPES.contains(&last.ident.unraw().to_string().as_str()) =>
                    {
                        match &last.arguments {
                            syn::PathArguments::AngleBracketed(args) => match args.args.first() {
                                Some(syn::GenericArgument::Type(wrapped)) => wrapped,
                                _ => break,
                            },
                            _ => break,
                        }
                    }
                    _ => break,
                },
                _ => break,
            };
        }
        match inner {
            Type::Tuple(tuple) if !tuple.elems.is_empty() => tuple
                .elems
                .iter()
                .map(|e| self.resolve_type(e))
                .collect::<Option<Vec<_>>>()
                .map(Returns::Tuple),
            _ => self.resolve_type(ty).map(Returns::One),
        }
    }

    /// [`Self::resolve_type`], following at most `depth` `type` aliases.
    fn resolve_type_within(&self, ty: &Type, depth: usize) -> Option<String> {
        self.resolve_bound_type(ty, &[], depth)
    }

    /// [`Self::resolve_type_within`] inside a generic `type` alias's body, whose type
    /// parameters stand for the types `bound` to them where the alias is used.
    fn resolve_bound_type(
        &self,
        ty: &Type,
        bound: &[(&str, &Type)],
        depth: usize,
    ) -> Option<String> {
        match ty {
            Type::Reference(reference) => self.resolve_bound_type(&reference.elem, bound, depth),
            Type::Paren(paren) => self.resolve_bound_type(&paren.elem, bound, depth),
            Type::Path(type_path) => {
                let last = type_path.path.segments.last()?;
                let name = last.ident.unraw().to_string();
                if type_path.path.segments.len() == 1
                    && let Some((_, argument)) = bound.iter().find(|(param, _)| *param == name)
                {
                    return self.resolve_type_within(argument, depth);
                }
                if type_path.path.segments.len() == 1
                    && let Some(bound) = self.generic_bound(&name)
                {
                    return Some(bound.to_string());
                }
                if WRAPPER_TYPES.contains(&name.as_str())
                    && let syn::PathArguments::AngleBracketed(args) = &last.arguments
                    && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
                {
                    return self.resolve_bound_type(inner, bound, depth);
                }
                if let Some(&(_, position, kind)) = COLLECTIONS.iter().find(|(n, ..)| *n == name)
                    && !self.fields.contains_key(&name)
                    && let Some(element) = type_arguments(&last.arguments).get(position).copied()
                {
                    let element = self.resolve_bound_type(element, bound, depth)?;
                    return Some(match SHARDED_COLLECTIONS.contains(&name.as_str()) {
                        true => crate::model::concat(&[SHARDED, &kind.of(&element)]),
                        false => kind.of(&element),
                    });
                }
                let canonical =
                    if type_path.path.segments.len() == 1 && self.lookup_symbol(&name).is_none() {
                        // A type only a glob import can bring is that module's: the crate's own
                        // glob (`use crate::state::*;`) if there is one, else the only glob.
                        if let Some(glob) = self.globbed_type(&type_path.path) {
                            glob
                        } else {
                            // A type of this crate, or from the prelude: keep its bare name.
                            return Some(name);
                        }
                    } else {
                        self.resolve_qualified_name(&type_path.path)?
                    };
                // A framework's wrapper (`web::Data<AppState>`), a lock guard (`MutexGuard<'_,
                // State>`): what it wraps (its first type argument, after any lifetime).
                if self.tables.wrappers.contains(&canonical)
                    && let syn::PathArguments::AngleBracketed(args) = &last.arguments
                    && let Some(inner) = args.args.iter().find_map(|arg| match arg {
                        syn::GenericArgument::Type(inner) => Some(inner),
                        _ => None,
                    })
                {
                    return self.resolve_bound_type(inner, bound, depth);
                }
                self.canonical_type(canonical, &last.arguments, depth)
            }
            // `dyn Store + Send`, `impl Store`: the trait (its one implementation, if the
            // project has one, is found in the project phase).
            Type::TraitObject(object) => self.trait_of(&object.bounds),
            Type::ImplTrait(object) => self.trait_of(&object.bounds),
            Type::Slice(slice) => self
                .resolve_bound_type(&slice.elem, bound, depth)
                .map(|element| Collection::Sequence.of(&element)),
            Type::Array(array) => self
                .resolve_bound_type(&array.elem, bound, depth)
                .map(|element| Collection::Sequence.of(&element)),
            _ => None,
        }
    }

    /// What a method of a collection gives (`conns.get(&k)` of a `{}Conn` is `Conn`,
    /// `conns.values()` a `[]Conn`), if the model knows.
    fn collection_method(ty: &str, method: &str) -> Option<Returns> {
        let (kind, element) = Collection::split(ty)?;
        // `drivers.first_key_value()`: a pair whose key the model does not type (empty).
        if kind == Collection::Map && PAIR_METHODS.contains(&method) {
            return Some(Returns::Tuple(vec![String::new(), element.to_string()]));
        }
        Self::collection_element_method(kind, ty, element, method).map(Returns::One)
    }

    fn collection_element_method(
        kind: Collection,
        ty: &str,
        element: &str,
        method: &str,
    ) -> Option<String> {
        if ELEMENT_METHODS.contains(&method) {
            return Some(element.to_string());
        }
        if kind == Collection::Map && VALUE_METHODS.contains(&method) {
            return Some(Collection::Sequence.of(element));
        }
        // A map's own iterators give `(key, value)` pairs (see [`Self::bind_element_pattern`]).
        let same = SAME_COLLECTION_METHODS.contains(&method)
            && (kind == Collection::Sequence || !method.contains("iter"));
        same.then(|| ty.to_string())
    }

    /// Binds the pattern of a `for` loop over a value of type `ty`: a sequence's element, a
    /// map's value (`for (name, conn) in &conns`).
    pub(super) fn bind_element_pattern(&mut self, pat: &Pat, ty: Option<Returns>) {
        let element = match &ty {
            Some(Returns::One(ty)) => Collection::split(ty),
            _ => None,
        };
        match (element, pat) {
            (Some((Collection::Sequence, element)), _) => {
                let element = Returns::One(element.to_string());
                self.bind_pattern(pat, Some(element));
            }
            (Some((Collection::Map, element)), Pat::Tuple(pair)) if pair.elems.len() == 2 => {
                let element = Returns::One(element.to_string());
                self.bind_pattern(&pair.elems[0], None);
                self.bind_pattern(&pair.elems[1], Some(element));
            }
            _ => self.bind_pattern(pat, None),
        }
    }

    /// The first trait of a list of bounds, by its canonical name.
    fn trait_of(
        &self,
        bounds: &syn::punctuated::Punctuated<syn::TypeParamBound, syn::Token![+]>,
    ) -> Option<String> {
        bounds.iter().find_map(|bound| match bound {
            syn::TypeParamBound::Trait(bound) => self.resolve_qualified_name(&bound.path),
            _ => None,
        })
    }

    /// The type of an expression, when the syntax gives evidence for it.
    pub(super) fn type_of(&self, expr: &Expr) -> Option<Returns> {
        self.type_within(expr, MAX_RESOLUTION_DEPTH)
    }

    /// [`Self::type_of`], looking at most `depth` expressions deep (long method chains would
    /// otherwise make lowering quadratic).
    pub(super) fn type_within(&self, expr: &Expr, depth: usize) -> Option<Returns> {
        let depth = depth.checked_sub(1)?;
        match expr {
            Expr::Path(path) if path.path.segments.len() == 1 => {
                let name = path.path.segments[0].ident.unraw().to_string();
                match self.local(&name) {
                    Some(ty) => ty.clone(),
                    None if self.statics.contains_key(&name) => {
                        self.statics.get(&name).cloned().map(Returns::One)
                    }
                    // A unit struct: `let sink = NullSink;`.
                    None if name.starts_with(|c: char| c.is_ascii_uppercase()) => {
                        self.lookup_symbol(&name).cloned().map(Returns::One)
                    }
                    None => None,
                }
            }
            // A unit variant of an enum (`let app = Application::RustFileOps;`): the enum,
            // also one a glob import brings.
            Expr::Path(path)
                if let [owner, variant] = path.path.segments.iter().collect::<Vec<_>>()[..]
                    && owner
                        .ident
                        .to_string()
                        .starts_with(|c: char| c.is_ascii_uppercase())
                    && is_camel_case(&variant.ident.unraw().to_string()) =>
            {
                let owner = syn::Path::from(owner.ident.clone());
                let name = owner.get_ident()?.to_string();
                self.globbed_type(&owner)
                    .or_else(|| self.lookup_symbol(&name).cloned())
                    .map(Returns::One)
            }
            // A struct literal: `TcpSink { target }`.
            Expr::Struct(literal) => {
                let last = literal.path.segments.last()?.ident.unraw().to_string();
                self.resolve_qualified_name(&literal.path)
                    .or(Some(last))
                    .map(Returns::One)
            }
            Expr::Call(call) => {
                let Expr::Path(func) = call.func.as_ref() else {
                    return None;
                };
                // A tuple struct of the file built by its name: `Guard(1)`.
                if let Some(name) = func.path.get_ident()
                    && self.fields.contains_key(&name.unraw().to_string())
                {
                    return self.resolve_qualified_name(&func.path).map(Returns::One);
                }
                let globbed = self.globbed_function(&func.path);
                let callee = globbed
                    .or_else(|| self.resolve_qualified_name(&func.path))
                    .or_else(|| {
                        // `Type::new()` of a type defined in this crate.
                        let segments = &func.path.segments;
                        (segments.len() == 2)
                            .then(|| format!("{}::{}", segments[0].ident, segments[1].ident))
                    })?;
                if let Some(returns) = self.tables.returns.get(&callee) {
                    return Some(returns.clone());
                }
                let (owner, _) = callee.rsplit_once("::")?;
                if WRAPPERS.contains(&owner) {
                    return call
                        .args
                        .first()
                        .and_then(|arg| self.type_within(arg, depth));
                }
                if let Some(ty) = self.function_returns.get(&callee) {
                    return Some(Returns::One(ty.clone()));
                }
                let owner_name = struct_name(owner);
                if !owner_name.starts_with(|c: char| c.is_ascii_uppercase()) {
                    // A function of this crate (maybe of another file) or of another crate of
                    // the project: what it returns, once the project phase knows
                    // (`spawn_scan(id)?.wait()` on a `Child`).
                    let krate = callee.split("::").next();
                    let project = krate == self.module().split("::").next()
                        || krate.is_some_and(|k| self.path_dependencies.iter().any(|d| d == k));
                    return project.then(|| Returns::One(format!("{callee}{RESULT}")));
                }
                // `util::Mutex::new(..)` of a re-exported or aliased type.
                self.canonical_type(owner.to_string(), &syn::PathArguments::None, 4)
                    .map(Returns::One)
            }
            // `self.inner.lock().await`: the guard derefs to what the lock guards; an async
            // constructor (`Self::connect(addr).await?`) gives its type once awaited.
            Expr::Await(awaited)
                if is_guard_call(&awaited.base)
                    || matches!(&*awaited.base, Expr::Call(_) | Expr::MethodCall(_)) =>
            {
                self.type_within(&awaited.base, depth)
            }
            // `self.inner.lock()` of a lock that returns its guard (parking_lot's), and
            // `self.inner.lock().unwrap()` of one that returns a `LockResult` (std's).
            Expr::MethodCall(call)
                if GUARD_METHODS.contains(&call.method.to_string().as_str())
                    && self.guards_known(&call.receiver, depth) =>
            {
                self.guard_target(call, false, depth)
            }
            Expr::MethodCall(call)
                if matches!(call.method.to_string().as_str(), "unwrap" | "expect")
                    && matches!(&*call.receiver, Expr::MethodCall(inner)
                        if GUARD_METHODS.contains(&inner.method.to_string().as_str())
                            && self.guards_known(&inner.receiver, depth)) =>
            {
                let Expr::MethodCall(inner) = &*call.receiver else {
                    return None;
                };
                self.guard_target(inner, true, depth)
            }
            Expr::MethodCall(call) => {
                let method = call.method.to_string();
                let receiver = self.type_within(&call.receiver, depth);
                if TRANSPARENT_METHODS.contains(&method.as_str())
                    || CELL_METHODS.contains(&method.as_str())
                {
                    return receiver;
                }
                let Some(Returns::One(ty)) = receiver else {
                    return None;
                };
                if Collection::split(&ty).is_some() {
                    return Self::collection_method(&ty, &method);
                }
                // `M.get()` of a `OnceLock<Mutex<T>>` (a lock has no `get` of its own).
                if method == "get" && self.is_lock_type(&ty) {
                    return Some(Returns::One(ty));
                }
                if let Some(field) = self.getter(&ty, &method) {
                    let owner = struct_name(&ty);
                    return self
                        .fields
                        .get(owner)?
                        .get(field)
                        .cloned()
                        .map(Returns::One);
                }
                let callee = format!("{ty}::{method}");
                if let Some(returns) = self.tables.returns.get(&callee) {
                    return Some(returns.clone());
                }
                // A setter of a library builder (`ClientBuilder::http1_only`,
                // `runtime::Builder::enable_all`) gives the builder back.
                if is_builder_setter(&ty, &method)
                    && ty.split("::").next() != Some(self.crate_name())
                {
                    return Some(Returns::One(ty));
                }
                // A method of the project (maybe of another file): what it returns, once the
                // project phase knows (see [`is_deferred`]).
                (!is_deferred(&ty) && ty.contains("::") && !self.is_lock_type(&ty))
                    .then(|| Returns::One(format!("{callee}{RESULT}")))
            }
            // `(Mutex::new(false), Condvar::new())`: a tuple of known element types.
            Expr::Tuple(tuple) if !tuple.elems.is_empty() => {
                let elements: Option<Vec<String>> = tuple
                    .elems
                    .iter()
                    .map(|e| match self.type_within(e, depth)? {
                        Returns::One(ty) => Some(ty),
                        Returns::Tuple(_) => None,
                    })
                    .collect();
                elements.map(Returns::Tuple)
            }
            // `*pair` of an `Arc<T>`: smart pointers are already seen as what they wrap.
            Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => {
                self.type_within(&unary.expr, depth)
            }
            Expr::Try(try_expr) => self.type_within(&try_expr.expr, depth),
            Expr::Paren(paren) => self.type_within(&paren.expr, depth),
            // `if c { Client::new() } else { Client::new() }`, and `match` likewise: the type
            // every branch that gives a value agrees on (one that diverges gives none).
            Expr::Block(block) => self.type_within(block_value(&block.block)?, depth),
            Expr::If(branch) => {
                let (_, otherwise) = branch.else_branch.as_ref()?;
                let tails = [block_value(&branch.then_branch), Some(otherwise.as_ref())];
                self.agreed_type(tails.into_iter().flatten(), depth)
            }
            Expr::Match(choice) => {
                // `Ok(c) => c`, `Some(c) => c`: the value the scrutinee unwraps to (`?` and
                // `unwrap()` are seen through already: the scrutinee's type).
                let unwrapped = |arm: &&syn::Arm| {
                    let Pat::TupleStruct(pattern) = &arm.pat else {
                        return false;
                    };
                    let wrapper = pattern.path.segments.last().map(|s| s.ident.to_string());
                    matches!(wrapper.as_deref(), Some("Ok" | "Some"))
                        && matches!((pattern.elems.first(), pattern.elems.len(), arm.body.as_ref()),
                            (Some(Pat::Ident(bound)), 1, Expr::Path(value))
                                if value.path.is_ident(&bound.ident))
                };
                let unwrapping = choice.arms.iter().any(|arm| unwrapped(&arm));
                let arms = choice
                    .arms
                    .iter()
                    .filter(|arm| !unwrapped(arm))
                    .map(|arm| arm.body.as_ref());
                match unwrapping {
                    true => {
                        self.agreed_type(std::iter::once(choice.expr.as_ref()).chain(arms), depth)
                    }
                    false => self.agreed_type(arms, depth),
                }
            }
            Expr::Reference(reference) => self.type_within(&reference.expr, depth),
            // `conns[i]`, `by_name["db"]`: an element of a collection.
            Expr::Index(index) => match self.type_within(&index.expr, depth)? {
                Returns::One(ty) => {
                    let (_, element) = Collection::split(&ty)?;
                    Some(Returns::One(element.to_string()))
                }
                Returns::Tuple(_) => None,
            },
            // `pair.1` of a tuple of known element types.
            Expr::Field(field)
                if let syn::Member::Unnamed(index) = &field.member
                    && let Some(Returns::Tuple(types)) = self.type_within(&field.base, depth) =>
            {
                let ty = types.into_iter().nth(index.index as usize)?;
                (!ty.is_empty()).then_some(Returns::One(ty))
            }
            Expr::Field(field) => {
                let name = member_name(&field.member);
                let Some(owner) = self.field_owner_type(field, depth) else {
                    // A field of a field of a struct declared in another file
                    // (`services.rooms.short`): named for the project phase too (not a field
                    // of what a call returns, which the project phase types by other means).
                    let base = match self.type_within(&field.base, depth)? {
                        Returns::One(ty) if is_deferred(&ty) && !ty.contains(RESULT) => ty,
                        _ => return None,
                    };
                    return Some(Returns::One(format!("{base}.{name}")));
                };
                let instantiated = match super::syntax::without_refs(&field.base) {
                    Expr::Path(base) => base
                        .path
                        .get_ident()
                        .and_then(|local| self.instantiated_parameters.get(&local.to_string()))
                        .and_then(|fields| fields.get(&name)),
                    _ => None,
                };
                if let Some(ty) = instantiated {
                    return Some(Returns::One(ty.clone()));
                }
                match self.fields.get(struct_name(&owner)) {
                    Some(fields) => fields
                        .get(&name)
                        .or_else(|| {
                            let own = self.self_type.as_deref() == Some(owner.as_str());
                            own.then(|| self.impl_fields.get(&name)).flatten()
                        })
                        .cloned()
                        .map(Returns::One),
                    // A struct declared in another file: the field's type is that file's,
                    // named here for the project phase (see [`is_deferred`]).
                    None => Some(Returns::One(format!("{owner}.{name}"))),
                }
            }
            _ => None,
        }
    }

    /// The one type the expressions that give a value have (`return`, `break`, `continue` and
    /// `panic!`-like macros give none), if there is one.
    fn agreed_type<'e>(
        &self,
        values: impl Iterator<Item = &'e Expr>,
        depth: usize,
    ) -> Option<Returns> {
        let mut agreed = None;
        for value in values {
            if diverges(value) {
                continue;
            }
            let ty = self.type_within(value, depth)?;
            match &agreed {
                None => agreed = Some(ty),
                Some(seen) if *seen == ty => {}
                Some(_) => return None,
            }
        }
        agreed
    }

    /// Binds the names of a pattern, with the types the value gives them.
    pub(super) fn bind_pattern(&mut self, pat: &Pat, ty: Option<Returns>) {
        match pat {
            Pat::Ident(ident) => self.bind_local(ident.ident.unraw().to_string(), ty),
            Pat::Type(typed) => {
                let ty = self.resolve_annotation(&typed.ty).or(ty);
                self.bind_pattern(&typed.pat, ty);
            }
            Pat::Tuple(tuple) => {
                let types = match ty {
                    Some(Returns::Tuple(types)) if types.len() == tuple.elems.len() => types,
                    // What a function of another file returns: each element for the project
                    // phase (`app.start().await` of `-> (Process, Connection)`).
                    Some(Returns::One(ty)) if is_deferred(&ty) && ty.ends_with(RESULT) => (0
                        ..tuple.elems.len())
                        .map(|i| format!("{ty}.{i}"))
                        .collect(),
                    _ => Vec::new(),
                };
                for (i, element) in tuple.elems.iter().enumerate() {
                    // (An empty type is one the model does not know: a map pair's key.)
                    let ty = types.get(i).filter(|ty| !ty.is_empty()).cloned();
                    self.bind_pattern(element, ty.map(Returns::One));
                }
            }
            Pat::Reference(reference) => self.bind_pattern(&reference.pat, ty),
            Pat::Paren(paren) => self.bind_pattern(&paren.pat, ty),
            // `Some(x)` of an `Option<T>`: the model already sees `Option<T>` as `T`.
            Pat::TupleStruct(tuple)
                if tuple.elems.len() == 1 && tuple.path.is_ident("Some") && ty.is_some() =>
            {
                self.bind_pattern(&tuple.elems[0], ty)
            }
            // `State(state): State<Arc<AppState>>`: a wrapper the value is seen through.
            Pat::TupleStruct(tuple)
                if tuple.elems.len() == 1
                    && ty.is_some()
                    && self
                        .resolve_qualified_name(&tuple.path)
                        .is_some_and(|wrapper| self.tables.wrappers.contains(&wrapper)) =>
            {
                self.bind_pattern(&tuple.elems[0], ty)
            }
            // `State::Running(ref data)`: the variant's field types.
            Pat::TupleStruct(tuple) => {
                let types: Vec<Option<String>> = self
                    .variant_of(&tuple.path)
                    .filter(|fields| fields.len() == tuple.elems.len())
                    .map(|fields| fields.iter().map(|(_, ty)| ty.clone()).collect())
                    .unwrap_or_default();
                for (i, element) in tuple.elems.iter().enumerate() {
                    let ty = types.get(i).cloned().flatten().map(Returns::One);
                    self.bind_pattern(element, ty);
                }
            }
            Pat::Struct(strukt) => {
                let variant = self.variant_of(&strukt.path).cloned();
                // `let ApiModules { output, .. } = modules;`: a struct's fields, this file's
                // or (named for the project phase) another's.
                let owner = match variant {
                    Some(_) => None,
                    None => self.resolve_qualified_name(&strukt.path),
                };
                let fields = variant.unwrap_or_default();
                for field in &strukt.fields {
                    let syn::Member::Named(name) = &field.member else {
                        self.bind_pattern(&field.pat, None);
                        continue;
                    };
                    let name = name.unraw().to_string();
                    let ty = match &owner {
                        Some(owner) => match self.fields.get(struct_name(owner)) {
                            Some(own) => own.get(&name).cloned(),
                            None => owner.contains("::").then(|| format!("{owner}.{name}")),
                        },
                        None => fields
                            .iter()
                            .find(|(field_name, _)| field_name.as_deref() == Some(name.as_str()))
                            .and_then(|(_, ty)| ty.clone()),
                    };
                    self.bind_pattern(&field.pat, ty.map(Returns::One));
                }
            }
            Pat::Slice(slice) => slice.elems.iter().for_each(|p| self.bind_pattern(p, None)),
            Pat::Or(or) => or.cases.iter().for_each(|p| self.bind_pattern(p, None)),
            _ => {}
        }
    }

    /// The field types of the variants of the enums among `items` (`State::Running` → `[(None,
    /// Data)]`), each field named for struct variants.
    fn variant_fields(&self, items: &[syn::Item]) -> HashMap<String, VariantFields> {
        let mut out = HashMap::default();
        for item in items {
            let syn::Item::Enum(enumeration) = item else {
                continue;
            };
            for variant in &enumeration.variants {
                let fields = variant
                    .fields
                    .iter()
                    .map(|f| {
                        let name = f.ident.as_ref().map(ToString::to_string);
                        (name, self.resolve_type(&f.ty))
                    })
                    .collect();
                out.insert(format!("{}::{}", enumeration.ident, variant.ident), fields);
            }
        }
        out
    }

    /// The fields of the enum variant a pattern's path names (`State::Running`, also
    /// `Self::Running` in an `impl State`).
    fn variant_of(&self, path: &syn::Path) -> Option<&VariantFields> {
        let mut segments = path.segments.iter().rev();
        let variant = segments.next()?.ident.unraw().to_string();
        let owner = segments.next()?.ident.unraw().to_string();
        let owner = match owner.as_str() {
            "Self" => self.self_type.as_deref()?.rsplit("::").next()?.to_string(),
            _ => owner,
        };
        self.variants.get(&format!("{owner}::{variant}"))
    }

    /// Whether `field` of the `self` type is shared by the struct's clones (see
    /// [`Self::counted_fields`]).
    pub(super) fn is_counted_self_field(&self, field: &str) -> bool {
        let Some(own) = self.self_type.as_deref() else {
            return false;
        };
        self.counted_fields
            .contains(&crate::model::concat(&[struct_name(own), ".", field]))
    }

    /// Named fields of the structs declared at the top of the file.
    pub(super) fn struct_fields(
        &self,
        items: &[syn::Item],
    ) -> HashMap<String, HashMap<String, String>> {
        let mut out = HashMap::default();
        for item in items {
            if let syn::Item::Struct(strukt) = item {
                // A field of a type parameter's type (`struct Data<T>(T)`) has no one type.
                let is_parameter =
                    |ty: &String| strukt.generics.type_params().any(|p| p.ident == ty);
                let fields = strukt
                    .fields
                    .iter()
                    .enumerate()
                    .filter_map(|(position, f)| {
                        let ty = self.resolve_type(&f.ty).filter(|ty| !is_parameter(ty))?;
                        Some((field_name(f, position), ty))
                    })
                    .collect();
                out.insert(strukt.ident.unraw().to_string(), fields);
            }
        }
        out
    }

    /// The types the parameter-typed fields of a generic struct have in an `impl` block for
    /// it with arguments written (see [`Self::impl_fields`]).
    pub(super) fn impl_field_types(&self, self_ty: &Type) -> HashMap<String, String> {
        // `impl AsyncClient` with `type AsyncClient = HttpClient<Arc<Mutex<Inner>>>;`; a
        // parameter's type may be a reference to one (`c: &AsyncClient`).
        let mut self_ty = self_ty;
        while let Type::Reference(reference) = self_ty {
            self_ty = &reference.elem;
        }
        let Type::Path(path) = self.through_plain_aliases(self_ty) else {
            return HashMap::default();
        };
        let Some(last) = path.path.segments.last() else {
            return HashMap::default();
        };
        let Some(fields) = self.parameter_fields.get(&last.ident.unraw().to_string()) else {
            return HashMap::default();
        };
        let arguments = type_arguments(&last.arguments);
        fields
            .iter()
            .filter_map(|(field, position)| {
                let ty = self.resolve_type(arguments.get(*position)?)?;
                Some((field.clone(), ty))
            })
            .collect()
    }

    /// The lock types among the arguments written for a generic struct this file does not
    /// declare in an `impl` block for it (`impl HttpClient<Arc<parking_lot::Mutex<Conn>>>`,
    /// also through a `type` alias of the file): its parameter-typed fields are known only to
    /// the struct's module, and one of them locked with a guard method of one of these types
    /// most likely is that argument.
    pub(super) fn impl_lock_arguments(&self, self_ty: &Type) -> Vec<String> {
        let Type::Path(path) = self.through_plain_aliases(self_ty) else {
            return Vec::new();
        };
        let Some(last) = path.path.segments.last() else {
            return Vec::new();
        };
        if self
            .parameter_fields
            .contains_key(&last.ident.unraw().to_string())
        {
            return Vec::new();
        }
        type_arguments(&last.arguments)
            .into_iter()
            .filter_map(|argument| self.resolve_type(argument))
            .filter(|argument| self.is_lock_type(argument))
            .collect()
    }

    /// What a type names through the file's `type` aliases without parameters (`Client` with
    /// `type Client = HttpClient<Arc<Mutex<Conn>>>;` is `HttpClient<Arc<Mutex<Conn>>>`), a few
    /// aliases deep; any other type as it is.
    fn through_plain_aliases<'a>(&'a self, ty: &'a Type) -> &'a Type {
        let mut ty = ty;
        for _ in 0..8 {
            let Type::Path(path) = ty else {
                break;
            };
            if !path
                .path
                .segments
                .last()
                .is_some_and(|s| s.arguments.is_none())
            {
                break;
            }
            match self
                .resolve_qualified_name(&path.path)
                .and_then(|name| self.type_aliases.get(&name))
            {
                Some((params, aliased)) if params.is_empty() => ty = aliased,
                _ => break,
            }
        }
        ty
    }

    /// The types the lock fields of the file's top-level structs guard.
    fn guarded_fields(
        &self,
        items: &[syn::Item],
    ) -> HashMap<String, HashMap<String, (String, String)>> {
        let mut out = HashMap::default();
        for item in items {
            if let syn::Item::Struct(strukt) = item {
                let mut fields: HashMap<String, (String, String)> = HashMap::default();
                for (position, f) in strukt.fields.iter().enumerate() {
                    let name = field_name(f, position);
                    if let Some(guarded) = self.guarded_type(&f.ty) {
                        fields.insert(name.clone(), guarded);
                    }
                    // A collection of locks (`RwLock<HashMap<u32, Arc<Mutex<Bucket>>>>`): what
                    // its elements guard, as the field's `[]`.
                    if let Some(guarded) = self.element_guarded_type(&f.ty) {
                        fields.insert(crate::model::concat(&[&name, "[]"]), guarded);
                    }
                }
                if !fields.is_empty() {
                    out.insert(strukt.ident.unraw().to_string(), fields);
                }
            }
        }
        out
    }

    /// The lock type and guarded type of the elements of a collection of locks, through
    /// wrappers and a lock around the collection (`Arc<RwLock<HashMap<u32,
    /// Arc<Mutex<Bucket>>>>>` → (`tokio::sync::Mutex`, `Bucket`)).
    fn element_guarded_type(&self, ty: &Type) -> Option<(String, String)> {
        self.guarded_type(collection_element(ty)?)
    }

    /// The lock an expression takes out of a collection field of locks, and what it guards:
    /// `self.routes.write().await.entry(route).or_default()`, `self.locks.get(&k).unwrap()`
    /// (see [`Self::element_guarded_type`]).
    pub(super) fn element_lock(&self, expr: &Expr) -> Option<(String, String)> {
        let mut expr = expr;
        let mut element = false;
        for _ in 0..12 {
            match expr {
                Expr::Reference(inner) => expr = &inner.expr,
                Expr::Paren(inner) => expr = &inner.expr,
                Expr::Await(inner) if element => expr = &inner.base,
                Expr::Try(inner) => expr = &inner.expr,
                Expr::MethodCall(call) => {
                    let method = call.method.to_string();
                    let passes = match element {
                        // Inside the element's call: the way to the collection.
                        true => matches!(
                            method.as_str(),
                            "entry" | "lock" | "read" | "write" | "unwrap" | "expect"
                        ),
                        // Around it: what keeps the element a lock (not its guard).
                        false => matches!(
                            method.as_str(),
                            "unwrap" | "expect" | "cloned" | "clone" | "as_ref"
                        ),
                    };
                    if !element && ELEMENT_METHODS.contains(&method.as_str()) {
                        element = true;
                    } else if !passes {
                        return None;
                    }
                    expr = &call.receiver;
                }
                Expr::Field(field) if element => {
                    let (owner, name) = self.field_owner(field, MAX_RESOLUTION_DEPTH)?;
                    let element = crate::model::concat(&[&name, "[]"]);
                    return self.guarded.get(&owner)?.get(&element).cloned();
                }
                _ => return None,
            }
        }
        None
    }

    /// The lock a constructor call builds and the type of the value it is given, through
    /// wrappers (`Arc::new(Mutex::new(Ratelimit::default()))` → (`tokio::sync::Mutex`,
    /// `Ratelimit`)), when the lock is a known one.
    pub(super) fn constructed_lock(&self, expr: &Expr) -> Option<(String, String)> {
        let mut expr = expr;
        for _ in 0..4 {
            let Expr::Call(call) = expr else {
                return None;
            };
            let Expr::Path(path) = call.func.as_ref() else {
                return None;
            };
            let segments = &path.path.segments;
            let [.., owner, constructor] = segments.iter().collect::<Vec<_>>()[..] else {
                return None;
            };
            let [argument] = call.args.iter().collect::<Vec<_>>()[..] else {
                return None;
            };
            if constructor.ident != "new" {
                return None;
            }
            if WRAPPER_TYPES.contains(&owner.ident.unraw().to_string().as_str()) {
                expr = argument;
                continue;
            }
            let mut owner_path = path.path.clone();
            owner_path.segments.pop();
            owner_path.segments.pop_punct();
            let lock = self.resolve_qualified_name(&owner_path)?;
            if !self.is_lock_type(&lock) {
                return None;
            }
            return match self.type_of(argument)? {
                Returns::One(guarded) => Some((lock, guarded)),
                Returns::Tuple(_) => None,
            };
        }
        None
    }

    /// The type a lock type guards (`Arc<tokio::sync::Mutex<Inner>>` → `Inner`), with the
    /// lock's type, when the lock is a known one.
    pub(super) fn guarded_type(&self, ty: &Type) -> Option<(String, String)> {
        let mut ty = ty;
        for _ in 0..6 {
            let Type::Path(path) = ty else {
                return match ty {
                    Type::Reference(r) => self.guarded_type(&r.elem),
                    _ => None,
                };
            };
            let last = path.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                // A `type` alias of the file without parameters (`type StoreList =
                // Arc<Mutex<Vec<Store>>>`): what it stands for.
                let alias = self
                    .resolve_qualified_name(&path.path)
                    .and_then(|name| self.type_aliases.get(&name))
                    .filter(|(params, _)| params.is_empty());
                match alias {
                    Some((_, aliased)) => {
                        ty = aliased;
                        continue;
                    }
                    None => return None,
                }
            };
            let Some(syn::GenericArgument::Type(inner)) = args
                .args
                .iter()
                .find(|a| matches!(a, syn::GenericArgument::Type(_)))
            else {
                return None;
            };
            if WRAPPER_TYPES.contains(&last.ident.unraw().to_string().as_str()) {
                ty = inner;
                continue;
            }
            let lock = self.resolve_type(ty)?;
            if !self.is_lock_type(&lock) {
                return None;
            }
            // `Mutex<()>`: a lock that guards no data (a gate, or a sequencer).
            let guarded = match inner {
                Type::Tuple(unit) if unit.elems.is_empty() => UNIT.to_string(),
                inner => self.resolve_type(inner)?,
            };
            return Some((lock, guarded));
        }
        None
    }

    /// Whether the guard `call` (`self.global.lock()`) is of a lock that guards no data
    /// (`Mutex<()>`, see [`UNIT`]).
    pub(super) fn guards_nothing(&self, call: &syn::ExprMethodCall) -> bool {
        [false, true].into_iter().any(|unwrapped| {
            matches!(self.guard_target(call, unwrapped, MAX_RESOLUTION_DEPTH),
                Some(Returns::One(ty)) if ty == UNIT)
        })
    }

    /// The struct a named field access reads (its last path segment, as `fields` and `guarded`
    /// are keyed) and the field's name: `self.inner` in a method of `Pool` is (`Pool`, `inner`).
    /// The lock type and guarded type of a lock field of the file's structs, by the field's
    /// identity (`ledger::Bank.accounts`).
    fn guarded_field(&self, identity: &str) -> Option<&(String, String)> {
        let (owner, field) = identity.rsplit_once('.')?;
        let owner = struct_name(owner);
        self.guarded.get(owner)?.get(field)
    }

    /// The field a getter of the file gives out, by the getter's receiver type and name.
    fn getter(&self, ty: &str, method: &str) -> Option<&String> {
        let owner = struct_name(ty);
        self.getters.get(owner)?.get(method)
    }

    /// `self.driver()` of a getter (see `getters`): the receiver's canonical type and the field
    /// it gives out.
    pub(super) fn getter_call(
        &self,
        call: &syn::ExprMethodCall,
        depth: usize,
    ) -> Option<(String, String)> {
        let method = call.method.to_string();
        if !call.args.is_empty() || !self.getters.values().any(|m| m.contains_key(&method)) {
            return None;
        }
        let owner = match call.receiver.as_ref() {
            Expr::Path(p) if p.path.is_ident("self") => self.self_type.clone()?,
            receiver => match self.type_within(receiver, depth)? {
                Returns::One(ty) if !is_deferred(&ty) => ty,
                _ => return None,
            },
        };
        let field = self.getter(&owner, &method)?.clone();
        Some((owner, field))
    }

    fn field_owner(&self, field: &syn::ExprField, depth: usize) -> Option<(String, String)> {
        let owner = self.field_owner_type(field, depth)?;
        let owner = struct_name(&owner).to_string();
        Some((owner, member_name(&field.member)))
    }

    /// The canonical type of the object a field access reads a field of, when known and not
    /// itself a field of a struct of another file.
    fn field_owner_type(&self, field: &syn::ExprField, depth: usize) -> Option<String> {
        match field.base.as_ref() {
            Expr::Path(p) if p.path.is_ident("self") => self.self_type.clone(),
            base => match self.type_within(base, depth)? {
                Returns::One(ty) if !is_deferred(&ty) && Collection::split(&ty).is_none() => {
                    Some(ty)
                }
                _ => None,
            },
        }
    }

    /// Whether a lock expression is one whose guarded type the model knows: a field, or a
    /// parameter that is a lock.
    fn guards_known(&self, lock: &Expr, depth: usize) -> bool {
        match lock {
            Expr::Field(_) => true,
            Expr::Paren(inner) => self.guards_known(&inner.expr, depth),
            Expr::MethodCall(call) => self.getter_call(call, depth).is_some(),
            Expr::Path(path) => path.path.get_ident().is_some_and(|name| {
                let name = name.to_string();
                self.guarded_parameters.contains_key(&name)
                    || self
                        .lock_alias(&name)
                        .is_some_and(|lock| self.guarded_field(&lock.identity).is_some())
            }),
            _ => false,
        }
    }

    /// What the guard `call` (`self.inner.lock()`) dereferences to: the type its lock field
    /// guards. `unwrapped`: the call's result was unwrapped, as std's locks return a
    /// `LockResult`; others return their guard.
    fn guard_target(
        &self,
        call: &syn::ExprMethodCall,
        unwrapped: bool,
        depth: usize,
    ) -> Option<Returns> {
        let mut receiver = &*call.receiver;
        while let Expr::Paren(inner) = receiver {
            receiver = &inner.expr;
        }
        let (lock, inner) = match receiver {
            Expr::Field(field) => {
                let (owner, name) = self.field_owner(field, depth)?;
                match self.guarded.get(&owner) {
                    Some(fields) => fields.get(&name)?,
                    None if self.fields.contains_key(&owner) => return None,
                    // A lock field of a struct of another file: what its guard dereferences
                    // to, once the project phase reads that file (`Services.registry.*`).
                    None => {
                        let ty = self.field_owner_type(field, depth)?;
                        let module = self.module();
                        let same_crate = ty.split("::").next() == module.split("::").next();
                        let deferred = crate::model::concat(&[&ty, ".", &name, GUARDED]);
                        return (same_crate && ty.contains("::")).then_some(Returns::One(deferred));
                    }
                }
            }
            // A lock the function is given (`models.write()`), unless a local hides it.
            Expr::Path(path) => {
                let name = path.path.get_ident()?.to_string();
                match self.guarded_parameters.get(&name) {
                    Some(guarded) => guarded,
                    // A local naming a lock field (`let ring = self.driver();`).
                    None => self.guarded_field(&self.lock_alias(&name)?.identity)?,
                }
            }
            Expr::MethodCall(getter) => {
                let (owner, name) = self.getter_call(getter, depth)?;
                let owner = struct_name(&owner);
                self.guarded.get(owner)?.get(&name)?
            }
            _ => return None,
        };
        (lock.starts_with("std::sync::") == unwrapped).then(|| Returns::One(inner.clone()))
    }

    /// The types of the file's top-level `static`s (`static M: Mutex<T>`,
    /// `static M: LazyLock<Mutex<T>>`).
    /// Types the `static`s a block declares (`fn warn() { static WARNED: RwLock<..> = ..; }`):
    /// one object for the whole program, as a module's are.
    pub(super) fn add_block_statics<'i>(&mut self, items: impl Iterator<Item = &'i syn::Item>) {
        for item in items {
            if let syn::Item::Static(s) = item
                && let Some(ty) = self.resolve_type(&s.ty)
            {
                self.statics
                    .entry(s.ident.unraw().to_string())
                    .or_insert(ty);
            }
        }
    }

    pub(super) fn static_types(&self, items: &[syn::Item]) -> HashMap<String, String> {
        items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Static(s) => {
                    Some((s.ident.unraw().to_string(), self.resolve_type(&s.ty)?))
                }
                _ => None,
            })
            .collect()
    }

    /// Enters the scope of an item's type parameters (`fn f<C: Store>`, `impl<C: Store>`).
    pub(super) fn push_generics(&mut self, generics: &syn::Generics) {
        let mut bounds = HashMap::default();
        // The first bound that names what the value can do (not `Send`, `Clone`, `'static`).
        let mut bind = |name: String, bounds_of: &syn::punctuated::Punctuated<_, _>| {
            let found = bounds_of.iter().find_map(|bound| match bound {
                syn::TypeParamBound::Trait(bound)
                    if !bound.path.segments.last().is_some_and(|s| {
                        MARKER_TRAITS.contains(&s.ident.unraw().to_string().as_str())
                    }) =>
                {
                    self.resolve_qualified_name(&bound.path)
                }
                _ => None,
            });
            if let Some(trait_name) = found {
                bounds.entry(name).or_insert(trait_name);
            }
        };
        for param in generics.type_params() {
            bind(param.ident.unraw().to_string(), &param.bounds);
        }
        for predicate in generics.where_clause.iter().flat_map(|w| &w.predicates) {
            if let syn::WherePredicate::Type(predicate) = predicate
                && let Type::Path(path) = &predicate.bounded_ty
                && let Some(name) = path.path.get_ident()
            {
                bind(name.to_string(), &predicate.bounds);
            }
        }
        self.generic_bounds.push(bounds);
    }

    pub(super) fn pop_generics(&mut self) {
        self.generic_bounds.pop();
    }

    /// The trait a type parameter in scope is bound by.
    fn generic_bound(&self, name: &str) -> Option<&str> {
        self.generic_bounds
            .iter()
            .rev()
            .find_map(|scope| scope.get(name))
            .map(String::as_str)
    }

    /// Enters a block scope for locals.
    pub(super) fn push_locals(&mut self) {
        self.locals.push(HashMap::default());
        self.shadowed.push(HashMap::default());
        self.lock_aliases.push(HashMap::default());
    }

    pub(super) fn pop_locals(&mut self) {
        self.locals.pop();
        self.shadowed.pop();
        self.lock_aliases.pop();
    }
}

/// The statics of a `lazy_static!` body: `$(#[attr])* $vis static ref NAME: Type = init;`.
fn parse_lazy_statics(input: syn::parse::ParseStream) -> syn::Result<Vec<(syn::Ident, Type)>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        input.call(syn::Attribute::parse_outer)?;
        input.parse::<syn::Visibility>()?;
        input.parse::<syn::Token![static]>()?;
        input.parse::<syn::Token![ref]>()?;
        let ident: syn::Ident = input.parse()?;
        input.parse::<syn::Token![:]>()?;
        let ty: Type = input.parse()?;
        input.parse::<syn::Token![=]>()?;
        input.parse::<Expr>()?;
        input.parse::<syn::Token![;]>()?;
        out.push((ident, ty));
    }
    Ok(out)
}

/// Traits that say how a value may be moved or shared, not what it does.
const MARKER_TRAITS: &[&str] = &[
    "Send",
    "Sync",
    "Sized",
    "Unpin",
    "Copy",
    "Clone",
    "Debug",
    "Default",
    "Eq",
    "PartialEq",
    "Ord",
    "PartialOrd",
    "Hash",
    "Display",
    "Fn",
    "FnMut",
    "FnOnce",
    "Future",
];

/// Whether a name is written in CamelCase (`RustFileOps`, an enum variant), not
/// SCREAMING_CASE (`MAX`, a constant).
fn is_camel_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().any(|c| c.is_ascii_lowercase())
}

/// The prelude's types, which no glob import brings.
const PRELUDE_TYPES: &[&str] = &["Box", "Option", "Result", "Self", "String", "Vec"];

/// The suffix of a deferred type that stands for what a function returns
/// (`ui::db::Handle::start_with_guard.()`).
pub(super) const RESULT: &str = ".()";

/// Whether a type is a field of a struct declared in another file (`relay::service::Service.probe`)
/// or the result of a method of the project ([`RESULT`]), which only the project phase can
/// type (Rust paths never contain a `.` otherwise).
/// A type's own name, as the file's tables of structs key it (`ledger::Bank` → `Bank`).
fn struct_name(ty: &str) -> &str {
    ty.rsplit("::").next().unwrap_or(ty)
}

/// The getters of the `impl` blocks of `items` (see `SemanticModel::getters`): methods of
/// `&self` with no other parameter whose body only gives out one of `self`'s fields (`&self.f`,
/// `self.f.clone()`, `Arc::clone(&self.f)`).
fn field_getters(items: &[syn::Item]) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::default();
    for item in items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        let Type::Path(owner) = block.self_ty.as_ref() else {
            continue;
        };
        let Some(owner) = owner
            .path
            .segments
            .last()
            .map(|s| s.ident.unraw().to_string())
        else {
            continue;
        };
        for item in &block.items {
            let syn::ImplItem::Fn(method) = item else {
                continue;
            };
            let inputs = &method.sig.inputs;
            if inputs.len() != 1 || !matches!(inputs.first(), Some(syn::FnArg::Receiver(_))) {
                continue;
            }
            let body = match method.block.stmts.as_slice() {
                [syn::Stmt::Expr(body, None)] => body,
                [syn::Stmt::Expr(Expr::Return(ret), _)] => match &ret.expr {
                    Some(body) => body,
                    None => continue,
                },
                _ => continue,
            };
            if let Some(field) = given_field(body) {
                out.entry(owner.clone())
                    .or_default()
                    .insert(method.sig.ident.unraw().to_string(), field);
            }
        }
    }
    out
}

/// The field of `self` an expression gives out: `self.f`, `&self.f`, `self.f.clone()`,
/// `Arc::clone(&self.f)`.
fn given_field(expr: &Expr) -> Option<String> {
    let written = super::syntax::object_written(expr)?;
    let field = written.strip_prefix("self.")?;
    (!field.contains('.')).then(|| field.to_string())
}

pub(super) fn is_deferred(ty: &str) -> bool {
    ty.contains('.')
}

/// `Struct.field` of the top-level structs' fields declared as `Arc<..>` or `Rc<..>`.
fn counted_fields(items: &[syn::Item]) -> HashSet<String> {
    let mut out = HashSet::default();
    for item in items {
        let syn::Item::Struct(strukt) = item else {
            continue;
        };
        for (position, field) in strukt.fields.iter().enumerate() {
            if let Type::Path(path) = &field.ty
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|last| last.ident == "Arc" || last.ident == "Rc")
            {
                let name = field_name(field, position);
                out.insert(format!("{}.{name}", strukt.ident.unraw()));
            }
        }
    }
    out
}
