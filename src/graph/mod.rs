//! Project-wide graphs built from all files' models: the symbol index that resolves canonical
//! callee names to project functions (through re-exports, base classes and trait impls), the
//! call graph (petgraph) with the await graph as its awaited/spawned subset, and the function
//! summaries computed bottom-up over its strongly connected components.

pub mod export;
pub mod fields;
pub mod locks;
pub mod summary;
pub mod threads;

use petgraph::graph::{DiGraph, NodeIndex};
use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

use crate::model::{
    Call, FileModel, Function, Language, ParameterAttribute, Passed, PassedObject, concat,
};
use crate::source::{rfind_separator, rsplit_separator};

/// A function of the project: its file's index and its index in that file's model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionId {
    pub file: usize,
    pub index: usize,
}

/// A call site: the calling function and the call's index in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallSite {
    pub caller: FunctionId,
    pub call: usize,
}

/// Canonical names of the project's functions, types and re-exports.
/// It borrows its names from the models.
#[derive(Debug, Default)]
pub struct SymbolIndex<'a> {
    functions: HashMap<&'a str, FunctionId>,
    /// Canonical names that more than one function has (two files the module paths do not
    /// tell apart): a call from a file that defines one of them means its own.
    shared_names: rustc_hash::FxHashSet<&'a str>,
    /// Type → bases (Python base classes, Rust implemented traits).
    classes: HashMap<&'a str, Vec<&'a str>>,
    /// Rust: trait → the types that implement it.
    implementors: HashMap<&'a str, Vec<&'a str>>,
    /// Rust: methods that call a method of their own name on another object (`fn
    /// schema_names(&self) { .. self.inner.schema_names() }` of a wrapper that implements a
    /// trait by delegating to another implementation of it).
    forwarders: rustc_hash::FxHashSet<&'a str>,
    /// Re-exported name → what it names.
    aliases: HashMap<&'a str, &'a str>,
    /// Module → the modules whose every name it re-exports (Rust's `pub use client::*;`).
    globs: HashMap<&'a str, Vec<&'a str>>,
    /// Module-level object or class attribute → its type (see [`FileModel::types`]).
    types: HashMap<&'a str, &'a str>,
    /// Object or attribute of unknown type → the function whose result it holds.
    returned_by: HashMap<&'a str, &'a str>,
    /// Function → what it returns.
    returns: HashMap<&'a str, &'a str>,
    /// A guard method the project adds to a library lock type → the guard method it calls
    /// (see [`FileModel::guard_methods`]).
    guard_methods: HashMap<&'a str, &'a str>,
    /// (function, parameter index) → the guard method it locks that parameter with (see
    /// [`FileModel::parameter_locks`]).
    parameter_locks: HashMap<(&'a str, u32), &'a str>,
    /// Function → the module-level lock it holds for its caller and the guard method (see
    /// [`FileModel::guard_functions`]).
    guard_functions: HashMap<&'a str, (&'a str, &'a str)>,
    /// First segments of every indexed name (`shop`, `ledger`): a name with another root is
    /// a library's and is not looked up further.
    roots: rustc_hash::FxHashSet<&'a str>,
    /// The modules of the project's files (`asyncio.base_events`).
    modules: rustc_hash::FxHashSet<&'a str>,
    /// Python: the parameters named for the project that it typed or made callbacks
    /// (`app.jobs.worker.node`): only a call on one of them can resolve through it.
    typed_parameters: rustc_hash::FxHashSet<&'a str>,
}

/// How many aliases and bases a resolution follows before giving up (cycles, deep chains).
const MAX_RESOLUTION_STEPS: usize = 12;
/// How many glob re-exports deep a re-exported name is followed (`pub use common::*;` in a
/// crate root, `pub use standard::*;` in `common`, ...).
const MAX_GLOB_DEPTH: usize = 4;

/// How many names the resolution of one name may try in all (see [`SymbolIndex::search`]).
const MAX_SEARCH_WORK: usize = 256;

/// How many subclasses of one class the overrides of its abstract methods are looked for in.
const MAX_SUBCLASSES: usize = 256;

/// How many typed objects a type lookup goes through (`a.b.c.lock`: `b`, then `c`).
const MAX_TYPED_OWNERS: usize = 3;

/// How many `type` aliases a Rust type is followed through.
const MAX_ALIAS_STEPS: usize = 4;

/// The type or trait whose method of its own name a Rust method calls on another object (a
/// wrapper that delegates: `self.inner.schema_names()` in `schema_names`, with `inner: Arc<dyn
/// Catalog>`: `Catalog`).
fn forwarded_to(function: &crate::model::Function) -> Option<&str> {
    let (owner, own) = function.canonical.rsplit_once("::")?;
    function.calls.iter().find_map(|call| {
        let (called, method) = call.callee.as_deref()?.rsplit_once("::")?;
        (method == own && called != owner && call.receiver != crate::model::Receiver::Own)
            .then_some(called)
    })
}

/// What a function does that the rules follow calls for: its blocking calls and the locks it
/// takes (one of several same-named variants stands for all by it, see [`SymbolIndex::new`]).
fn weight(function: &crate::model::Function) -> usize {
    function
        .calls
        .iter()
        .filter(|c| c.blocking.is_some())
        .count()
        + function.lock_holds.len()
}

impl<'a> SymbolIndex<'a> {
    pub fn new(models: &[&'a FileModel]) -> SymbolIndex<'a> {
        let mut index = SymbolIndex::default();
        let functions: usize = models.iter().map(|m| m.functions.len()).sum();
        let aliases: usize = models.iter().map(|m| m.aliases.len()).sum();
        index.functions.reserve(functions);
        index.aliases.reserve(aliases);
        let mut forwarding = Vec::new();
        for (file, model) in models.iter().enumerate() {
            index.modules.insert(model.module.as_str());
            for (i, function) in model.functions.iter().enumerate() {
                let name = function.canonical.as_str();
                if model.language == Language::Rust
                    && let Some(called) = forwarded_to(function)
                {
                    forwarding.push((name, called));
                }
                match index.functions.entry(name) {
                    std::collections::hash_map::Entry::Occupied(mut entry) => {
                        index.shared_names.insert(name);
                        // Rust: variants of one item under exclusive `#[cfg]`s (`mod platform`
                        // per target OS). Each is compiled somewhere: one that blocks or locks
                        // stands for them, not whichever comes first.
                        let kept = *entry.get();
                        let kept = &models[kept.file].functions[kept.index];
                        if model.language == Language::Rust && weight(function) > weight(kept) {
                            entry.insert(FunctionId { file, index: i });
                        }
                    }
                    std::collections::hash_map::Entry::Vacant(entry) => {
                        entry.insert(FunctionId { file, index: i });
                    }
                }
            }
            for class in &model.classes {
                index
                    .classes
                    .entry(class.name.as_str())
                    .or_default()
                    .extend(class.bases.iter().map(String::as_str));
                for base in class
                    .bases
                    .iter()
                    .filter(|_| model.language == Language::Rust)
                {
                    let implementors = index.implementors.entry(base.as_str()).or_default();
                    if !implementors.contains(&class.name.as_str()) {
                        implementors.push(class.name.as_str());
                    }
                }
            }
            for (name, ty) in &model.types {
                index.types.entry(name.as_str()).or_insert(ty.as_str());
            }
            for (name, function) in &model.returned_by {
                index
                    .returned_by
                    .entry(name.as_str())
                    .or_insert(function.as_str());
            }
            for (function, ty) in &model.returns {
                index
                    .returns
                    .entry(function.as_str())
                    .or_insert(ty.as_str());
            }
            for (function, parameter, guard) in &model.parameter_locks {
                index
                    .parameter_locks
                    .entry((function.as_str(), *parameter))
                    .or_insert(guard.as_str());
            }
            for (function, lock, guard) in &model.guard_functions {
                index
                    .guard_functions
                    .entry(function.as_str())
                    .or_insert((lock.as_str(), guard.as_str()));
            }
            for (method, guard) in &model.guard_methods {
                index
                    .guard_methods
                    .entry(method.as_str())
                    .or_insert(guard.as_str());
            }
            for (name, target) in &model.aliases {
                // A glob re-export: `pub use client::*;`, `from .client import *`.
                let glob = name.strip_suffix("::*").or_else(|| name.strip_suffix(".*"));
                if let Some(module) = glob {
                    index.globs.entry(module).or_default().push(target.as_str());
                } else if name != target {
                    index
                        .aliases
                        .entry(name.as_str())
                        .or_insert(target.as_str());
                }
            }
        }
        index.forwarders = forwarding
            .into_iter()
            .filter(|(_, called)| index.implementors.contains_key(called))
            .map(|(name, _)| name)
            .collect();
        let root = |name: &&'a str| name.split(['.', ':']).next().unwrap_or_default();
        index.roots = index
            .functions
            .keys()
            .chain(index.classes.keys())
            .chain(index.aliases.keys())
            .map(root)
            .collect();
        index.type_parameter_attributes(models);
        index.typed_parameters = models
            .iter()
            .flat_map(|model| &model.parameter_attributes)
            .map(|given| given.attribute.as_str())
            .filter(|name| index.types.contains_key(name) || index.aliases.contains_key(name))
            .collect();
        index.resolve_registries(models);
        index
    }

    /// What a project function returns, when its annotation or `return`s tell
    /// (see [`FileModel::returns`]).
    pub fn returned_type(&self, function: &str) -> Option<&'a str> {
        self.returns.get(function).copied()
    }

    /// The guard method a project function locks its parameter `index` with (counting
    /// `self`), if it locks it.
    pub fn parameter_lock(&self, function: &str, index: u32) -> Option<&'a str> {
        self.parameter_locks.get(&(function, index)).copied()
    }

    /// The module-level lock a project function holds for its caller (a Rust function returning
    /// a `static`'s guard, a Python decorator holding a module's lock), and its guard method.
    pub fn guard_function(&self, function: &str) -> Option<(&'a str, &'a str)> {
        self.guard_functions.get(function).copied()
    }

    /// The lock table's guard method behind a guard method the project adds to a library lock
    /// type (`std::sync::Mutex::lock_or_panic` → `std::sync::Mutex::lock`).
    pub fn guard_method(&self, method: &str) -> Option<&'a str> {
        self.guard_methods.get(method).copied()
    }

    /// The type of a module-level object or class attribute of the project, reached by any
    /// name that re-exports it (`bank.jobs` after `from .queues import jobs`), or through a
    /// base class (`app.Child.inbox` set in `app.Base`).
    pub fn type_of(&self, name: &str, separator: &str) -> Option<&'a str> {
        self.type_within(name, separator, MAX_TYPED_OWNERS)
    }

    /// [`Self::type_of`], then what that type stands for through the project's `type`
    /// aliases, maybe of several crates (`Engine.clients: SharedClients` →
    /// `util::FxDashMap` → a `DashMap`'s type string).
    pub fn type_through_aliases(&self, name: &str, separator: &str) -> Option<&'a str> {
        let mut ty = self.type_of(name, separator)?;
        for _ in 0..MAX_ALIAS_STEPS {
            match self.type_of(ty, separator) {
                Some(next) if next != ty => ty = next,
                _ => break,
            }
        }
        Some(ty)
    }

    /// A Rust field reached through a `type` alias of its struct (`SharedContext.clients`
    /// with `type SharedContext = Arc<Context>`): the struct's field (`Context.clients`).
    pub fn field_through_alias(&self, identity: &str) -> Option<String> {
        let (owner, field) = identity.rsplit_once('.')?;
        let field = concat(&[self.types.get(owner)?, ".", field]);
        self.types.contains_key(field.as_str()).then_some(field)
    }

    /// [`Self::type_of`], following at most `owners` objects whose class the project tells
    /// (`shop.Worker.storage` in `shop.Worker.storage._lock`).
    fn type_within(&self, name: &str, separator: &str, owners: usize) -> Option<&'a str> {
        // A library's name (`queue.Queue`, `self`-less locals) is never the project's.
        if !self.is_project_name(name) {
            return None;
        }
        if let Some(ty) = self.own_type(name, separator) {
            return Some(ty);
        }
        // What a Rust function returns (`ui::db::Handle::start_with_guard.()`), also one a
        // module brings in with a glob (`use common::*;` then `Conn::open().await`).
        if let Some(function) = name.strip_suffix(".()") {
            return self.returned(function, separator);
        }
        // An element of a tuple a Rust function returns (`app::App::start.().1` of `let (p,
        // c) = app.start().await;` with `-> (Process, Connection)`).
        if separator == "::"
            && let Some((function, element)) = name.split_once(".().")
            && element.parse::<usize>().is_ok()
        {
            return self.returned(&concat(&[function, ".", element]), separator);
        }
        // A field of a Rust struct reached by a re-exported name (`relay::Service.probe`), or
        // of a field of one (`app::Services.rooms.short`: the `short` of `rooms`' type).
        if separator == "::"
            && let Some((owner, field)) = name.rsplit_once('.')
        {
            let owner = self.unalias(owner, separator);
            let direct = self.own_type(&concat(&[&owner, ".", field]), separator);
            if direct.is_some() {
                return direct;
            }
            // The owner's type is a `type` alias of the project (`dev_context: SharedDevContext`
            // with `type SharedDevContext = Arc<DevContext>`): the field of what it stands for.
            if !owner.contains('.') {
                let ty = self.types.get(owner.as_ref())?;
                return self.own_type(&concat(&[ty, ".", field]), separator);
            }
            let ty = self.type_within(&owner, separator, owners.checked_sub(1)?)?;
            return self.own_type(&concat(&[ty, ".", field]), separator);
        }
        let name = self.unalias(name, separator);
        if let Some(ty) = self.own_type(&name, separator) {
            return Some(ty);
        }
        let (owner, member) = rsplit_separator(&name, separator)?;
        let inherited = self
            .bases(owner)
            .iter()
            .find_map(|base| self.own_type(&concat(&[base, separator, member]), separator));
        if inherited.is_some() || separator != "." {
            return inherited;
        }
        // An attribute of an object whose class the project tells (`shop.Worker.storage._lock`
        // with `storage` a `shop.Storage`): that class's attribute.
        let owners = owners.checked_sub(1)?;
        let class = self.type_within(owner, separator, owners)?;
        if !self.is_class(class) || class == owner {
            return None;
        }
        self.type_within(&concat(&[class, separator, member]), separator, owners)
    }

    /// Types the attributes set from a parameter their file cannot type (`self.storage =
    /// storage`), and parameters named for the project (`app.jobs.worker.node`), by the
    /// objects the method's callers pass there (`Worker(Storage())`), when every one of a known
    /// type is of the same type. An object passed on by name (a parameter or an attribute set
    /// from one) has the type this finds for that name, so the search repeats while it finds
    /// more (`Server` → `Service(self.space)` → `Item(self, space)`). A name that is no object
    /// the project types but a function or method it defines is a callback: the attribute or
    /// parameter becomes an alias of it, when every callback passed there is the same.
    fn type_parameter_attributes(&mut self, models: &[&'a FileModel]) {
        let mut by_method: HashMap<&str, Vec<&'a ParameterAttribute>> = HashMap::default();
        for model in models {
            for given in &model.parameter_attributes {
                let attribute = given.attribute.as_str();
                if !self.types.contains_key(attribute) && !self.aliases.contains_key(attribute) {
                    by_method
                        .entry(given.method.as_str())
                        .or_default()
                        .push(given);
                }
            }
        }
        if by_method.is_empty() {
            return;
        }
        // Each passed object with the attributes it is passed as, and what it gives them as far
        // as known. One whose callee is not found yet is tried again once more is typed
        // (`self.space.add(..)` with `space` set from a constructor's parameter), and so is a
        // name of no known type yet, when an attribute of its last name was just typed.
        // A callee can only be one of those methods if its last name is theirs (or their
        // class's, for a constructor): the others are not looked up.
        let mut last_names: rustc_hash::FxHashSet<&str> = Default::default();
        for method in by_method.keys() {
            let (owner, last) = method.rsplit_once('.').unwrap_or(("", method));
            last_names.insert(last);
            if last == "__init__" {
                last_names.insert(owner.rsplit('.').next().unwrap_or(owner));
            }
        }
        let mut pending: Vec<&'a PassedObject> = models
            .iter()
            .flat_map(|model| &model.passed_objects)
            .filter(|passed| {
                let last = passed.callee.rsplit('.').next().unwrap_or_default();
                last_names.contains(last)
            })
            .collect();
        let mut matched: Vec<Match<'a>> = Vec::new();
        let mut fresh: rustc_hash::FxHashSet<&'a str> = Default::default();
        let last_name = |name: &'a str| name.rsplit('.').next().unwrap_or(name);
        for round in 0..MAX_PASSED_ON {
            // In later rounds, only a callee whose receiver was just typed can resolve now.
            let receiver = |callee: &'a str| callee.rsplit_once('.').map(|(r, _)| last_name(r));
            let callees: HashMap<&str, Option<FunctionId>> = pending
                .iter()
                .map(|passed| passed.callee.as_str())
                .filter(|callee| round == 0 || receiver(callee).is_some_and(|r| fresh.contains(r)))
                .collect::<rustc_hash::FxHashSet<&str>>()
                .into_par_iter()
                .map(|callee| (callee, self.resolve(callee, ".")))
                .collect();
            pending.retain(|passed| {
                let Some(callee) = callees.get(passed.callee.as_str()).copied().flatten() else {
                    return true;
                };
                let method = models[callee.file].functions[callee.index]
                    .canonical
                    .as_str();
                let given: Vec<&ParameterAttribute> = by_method
                    .get(method)
                    .into_iter()
                    .flatten()
                    .filter(|a| {
                        (passed.position != u32::MAX && a.position == passed.position)
                            || (passed.keyword != u32::MAX && a.keyword == passed.keyword)
                    })
                    .copied()
                    .collect();
                if !given.is_empty() {
                    matched.push(Match {
                        passed,
                        given,
                        value: None,
                        tried: false,
                    });
                }
                false
            });
            // Each name once (many calls pass the same `self.x`), in parallel.
            let due = |one: &Match<'a>| {
                !one.tried
                    || (round > 0
                        && one.value.is_none()
                        && fresh.contains(last_name(one.passed.ty.as_str())))
            };
            let names: rustc_hash::FxHashSet<(&'a str, Passed)> = matched
                .iter()
                .filter(|one| due(one))
                .map(|one| (one.passed.ty.as_str(), one.passed.kind))
                .collect();
            let index = &*self;
            let values: HashMap<(&'a str, Passed), Option<Given<'a>>> = names
                .into_par_iter()
                .map(|(name, kind)| ((name, kind), index.passed_value(name, kind, models)))
                .collect();
            for one in matched.iter_mut().filter(|one| due(one)) {
                one.value = values[&(one.passed.ty.as_str(), one.passed.kind)];
                one.tried = true;
            }
            // Attribute → the type (or callback) every object passed so far has (`None`: two
            // disagree), starting from the type the method gives the parameter itself, if it
            // rebinds it.
            let mut found: HashMap<&'a str, Option<Given<'a>>> = by_method
                .values()
                .flatten()
                .filter_map(|given| {
                    let rebound = given.rebound.as_deref()?;
                    Some((given.attribute.as_str(), Some(Given::Type(rebound))))
                })
                .collect();
            for one in &matched {
                let Some(value) = one.value else { continue };
                for attribute in &one.given {
                    let agreed = found
                        .entry(attribute.attribute.as_str())
                        .or_insert(Some(value));
                    if *agreed != Some(value) {
                        *agreed = None;
                    }
                }
            }
            fresh.clear();
            for (attribute, value) in found {
                if self.types.contains_key(attribute) || self.aliases.contains_key(attribute) {
                    continue;
                }
                match value {
                    Some(Given::Type(ty)) if attribute != ty => {
                        self.types.insert(attribute, ty);
                    }
                    Some(Given::Function(function)) => {
                        self.aliases.insert(attribute, function);
                    }
                    _ => continue,
                }
                fresh.insert(last_name(attribute));
            }
            if fresh.is_empty() {
                return;
            }
        }
    }

    /// Makes each registry of callbacks an alias of the one function every registration in
    /// the project agrees on (see [`FileModel::callback_registrations`]); with two different
    /// ones, which a call runs is not known.
    fn resolve_registries(&mut self, models: &[&'a FileModel]) {
        let mut found: HashMap<&'a str, Option<&'a str>> = HashMap::default();
        for model in models {
            for (registry, name) in &model.callback_registrations {
                let function = self
                    .resolve(name, ".")
                    .map(|id| &models[id.file].functions[id.index])
                    .filter(|f| f.kind == crate::model::FunctionKind::Function)
                    .map(|f| f.canonical.as_str());
                let agreed = found.entry(registry.as_str()).or_insert(function);
                if *agreed != function {
                    *agreed = None;
                }
            }
        }
        for (registry, function) in found {
            if let Some(function) = function {
                self.aliases.entry(registry).or_insert(function);
            }
        }
    }

    /// What a passed object (its name or type, and its kind) gives the parameter it is passed
    /// as (see [`Passed`]), as far as the project knows yet.
    fn passed_value(
        &self,
        name: &'a str,
        kind: Passed,
        models: &[&'a FileModel],
    ) -> Option<Given<'a>> {
        match kind {
            Passed::Instance => Some(Given::Type(name)),
            Passed::Named => match self.type_of(name, ".") {
                Some(ty) => Some(Given::Type(ty)),
                None if self.classes.contains_key(name) => None,
                None => {
                    let id = self.resolve(name, ".")?;
                    let function = &models[id.file].functions[id.index];
                    (function.kind == crate::model::FunctionKind::Function)
                        .then_some(Given::Function(function.canonical.as_str()))
                }
            },
        }
    }

    /// The type a name's own file gives it, or the return type of the function whose result
    /// it holds (`self._lock = make_lock()`, `make_lock` typed in another file).
    fn own_type(&self, name: &str, separator: &str) -> Option<&'a str> {
        if let Some(ty) = self.types.get(name) {
            return Some(ty);
        }
        let function = self.returned_by.get(name)?;
        // `make().Lock()`: the method of the type `make` returns.
        if let Some((function, method)) = function.split_once("().") {
            let ty = self.own_return_type(function, separator)?;
            return self
                .returns
                .get(concat(&[ty, ".", method]).as_str())
                .copied();
        }
        self.own_return_type(function, separator)
    }

    /// The return type a function of the project declares or returns, through re-exports.
    fn own_return_type(&self, function: &str, separator: &str) -> Option<&'a str> {
        if let Some(ty) = self.returns.get(function) {
            return Some(ty);
        }
        self.returns
            .get(self.unalias(function, separator).as_ref())
            .copied()
    }

    /// Whether a name starts where one of the project's names does (`shop`, `ledger`), and so
    /// may be the project's; any other is a library's.
    pub fn is_project_name(&self, name: &str) -> bool {
        let root = name.split(['.', ':']).next().unwrap_or_default();
        self.roots.contains(root)
    }

    /// The types of the attributes of a class of the project (Python: what `self.x = ..`
    /// assigns; Rust: a struct's fields), as the file that defines the class gives them.
    pub fn attribute_types(&self, class: &str) -> Vec<&'a str> {
        self.types
            .iter()
            .filter_map(|(name, ty)| {
                let attribute = name.strip_prefix(class)?.strip_prefix('.')?;
                (!attribute.is_empty() && !attribute.contains('.')).then_some(*ty)
            })
            .collect()
    }

    /// Whether a name is a class (or a Rust type with trait impls) of the project.
    pub fn is_class(&self, name: &str) -> bool {
        self.classes.contains_key(name)
    }

    /// Whether class `class` is `ancestor` or inherits from it, through the project's bases (a
    /// few levels up).
    pub fn inherits(&self, class: &str, ancestor: &str) -> bool {
        let mut queue = vec![class.to_string()];
        let mut steps = 0;
        while let Some(current) = queue.pop() {
            if current == ancestor {
                return true;
            }
            steps += 1;
            if steps > MAX_SUBCLASSES {
                return false;
            }
            queue.extend(
                self.bases(&current)
                    .iter()
                    .map(|base| self.unalias(base, ".").into_owned()),
            );
        }
        false
    }

    /// The bases of a type (Python base classes, Rust implemented traits).
    pub fn bases(&self, name: &str) -> &[&'a str] {
        self.classes.get(name).map_or(&[], Vec::as_slice)
    }

    /// Python: the overrides of each abstract method of the project in its subclasses (at any
    /// depth of subclassing), for the methods that have some.
    fn overrides_of_abstract_methods(
        &self,
        models: &[&'a FileModel],
    ) -> HashMap<FunctionId, Vec<FunctionId>> {
        let mut found = HashMap::default();
        let stubs: Vec<(FunctionId, &str, &str)> = models
            .iter()
            .enumerate()
            .filter(|(_, model)| model.language == Language::Python)
            .flat_map(|(file, model)| {
                model
                    .functions
                    .iter()
                    .enumerate()
                    .filter_map(move |(index, f)| {
                        let (class, method) = f.canonical.rsplit_once('.')?;
                        f.abstract_stub
                            .then_some((FunctionId { file, index }, class, method))
                    })
            })
            .collect();
        if stubs.is_empty() {
            return found;
        }
        let mut subclasses: HashMap<String, Vec<&'a str>> = HashMap::default();
        for model in models.iter().filter(|m| m.language == Language::Python) {
            for class in &model.classes {
                for base in &class.bases {
                    let base = self.unalias(base, ".").into_owned();
                    subclasses
                        .entry(base)
                        .or_default()
                        .push(class.name.as_str());
                }
            }
        }
        for (stub, class, method) in stubs {
            let mut overrides = Vec::new();
            let mut seen: rustc_hash::FxHashSet<&str> = Default::default();
            let mut queue: Vec<&str> = subclasses.get(class).cloned().unwrap_or_default();
            while let Some(subclass) = queue.pop() {
                if !seen.insert(subclass) || seen.len() > MAX_SUBCLASSES {
                    continue;
                }
                let own = self
                    .functions
                    .get(concat(&[subclass, ".", method]).as_str());
                if let Some(&id) = own
                    && id != stub
                {
                    overrides.push(id);
                }
                queue.extend(subclasses.get(subclass).into_iter().flatten());
            }
            if !overrides.is_empty() {
                overrides.sort_unstable();
                found.insert(stub, overrides);
            }
        }
        found
    }

    /// The project function a call reaches, if the call resolves to one.
    pub fn resolve_call(&self, call: &Call, language: Language) -> Option<FunctionId> {
        call.callee
            .iter()
            .chain(call.alternatives.iter())
            .find_map(|name| self.resolve_name(name, language))
    }

    /// A Python call the front end names after a parameter (`app.jobs.worker.node.run`, with
    /// the parameter's name `app.jobs.worker.node`) or a registry of callbacks
    /// (`app.bus.Bus._listeners[]`): resolved only where the project typed that parameter or
    /// filled that registry (most calls on parameters stay untyped, and are not searched for).
    fn resolve_passed(&self, names: &[String]) -> Option<FunctionId> {
        let typed = match names {
            [registry] => registry.ends_with("[]"),
            [_, parameter] => self.typed_parameters.contains(parameter.as_str()),
            _ => false,
        };
        typed
            .then(|| self.resolve_name(&names[0], Language::Python))
            .flatten()
    }

    /// The project function a callee's canonical name reaches; none for a library's name.
    fn resolve_name(&self, name: &str, language: Language) -> Option<FunctionId> {
        if !self.is_project_name(name) {
            return None;
        }
        self.resolve(name, language.path_separator())
    }

    /// The function a canonical name designates: directly, as a class's constructor, as a
    /// method inherited from a base, or through a re-export.
    pub fn resolve(&self, name: &str, separator: &str) -> Option<FunctionId> {
        let work = std::cell::Cell::new(MAX_SEARCH_WORK);
        self.search(name, separator, MAX_RESOLUTION_STEPS, &work)
    }

    /// [`Self::resolve`] within `steps` steps (aliases, bases and star-imports followed) and
    /// `work` names tried in all.
    fn search(
        &self,
        name: &str,
        separator: &str,
        steps: usize,
        work: &std::cell::Cell<usize>,
    ) -> Option<FunctionId> {
        if let Some(id) = self.functions.get(name) {
            return Some(*id);
        }
        let steps = steps.checked_sub(1)?;
        // Glob re-exports that import each other and traits implemented by many types branch
        // at every step: the whole search of one name is bounded, whatever its shape.
        work.set(work.get().checked_sub(1)?);
        if separator == "." && self.classes.contains_key(name) {
            return self.search(&concat(&[name, ".__init__"]), separator, steps, work);
        }
        if let Some((owner, member)) = rsplit_separator(name, separator)
            && let Some(bases) = self.classes.get(owner)
        {
            let inherited = bases.iter().find_map(|base| {
                self.search(&concat(&[base, separator, member]), separator, steps, work)
            });
            if inherited.is_some() {
                return inherited;
            }
        }
        // A method of a trait the project implements once (`store.save()` on a `&dyn Store`):
        // that implementation. With several, which one runs is not known here. (Not a Python
        // base class: a value of the base's type is one of the base, not of a subclass.)
        if separator == "::"
            && let Some((owner, member)) = rsplit_separator(name, separator)
            && let Some(types) = self.implementors.get(owner)
        {
            let found: Vec<FunctionId> = types
                .iter()
                .filter_map(|ty| {
                    self.functions
                        .get(concat(&[ty, separator, member]).as_str())
                        .copied()
                })
                .collect();
            if let [one] = found.as_slice() {
                return Some(*one);
            }
            // Several, of which one outside test code (`tests::MockStore`) and not a wrapper
            // that hands the call on to another implementation (a caching layer): the one the
            // program runs.
            let mut outside_tests = types
                .iter()
                .filter(|ty| !is_test_type(ty))
                .filter_map(|ty| {
                    let (name, id) = self
                        .functions
                        .get_key_value(concat(&[ty, separator, member]).as_str())?;
                    (!self.forwarders.contains(name)).then_some(*id)
                });
            if let (Some(one), None) = (outside_tests.next(), outside_tests.next()) {
                return Some(one);
            }
        }
        // The longest re-exported prefix: `pkg.load` → `pkg.impl.load`.
        let mut end = name.len();
        while let Some(position) = rfind_separator(&name[..end], separator) {
            let prefix = &name[..end];
            if let Some(target) = self.aliases.get(prefix) {
                return self.search(&concat(&[target, &name[end..]]), separator, steps, work);
            }
            end = position;
        }
        if let Some(target) = self.aliases.get(&name[..end]) {
            return self.search(&concat(&[target, &name[end..]]), separator, steps, work);
        }
        let (owner, member) = rsplit_separator(name, separator)?;
        // A name a module re-exports with a glob (`dagger_sdk::connect` after `pub use
        // client::*;` in `dagger_sdk`), also a member of it (`pkg.candid.Open.fit` after
        // `from .candid import *` in `pkg/candid/__init__.py`). A member of a member is looked
        // up only directly: every prefix of every name tried is a branch, and packages that
        // star-import each other (Django's) would make the search exponential.
        if !self.globs.is_empty() {
            let mut end = name.len();
            while let Some(position) = rfind_separator(&name[..end], separator) {
                // `asyncio.base_events.X` is the module's `X`, not a `base_events` another
                // module star-imports into `asyncio`.
                let submodule = &name[..end];
                if let Some(sources) = self.globs.get(&name[..position])
                    && !self.modules.contains(submodule)
                {
                    let budget = match position == owner.len() {
                        true => steps,
                        false => steps.min(1),
                    };
                    let found = sources.iter().find_map(|source| {
                        let inner = concat(&[source, &name[position..]]);
                        self.search(&inner, separator, budget, work)
                    });
                    if found.is_some() {
                        return found;
                    }
                }
                end = position;
            }
        }
        // A method of an object whose type another file tells: `relay::service::Service.probe
        // ::find` (a field of a struct declared elsewhere), `shop.jobs.put`.
        let ty = self.type_of(owner, separator)?;
        self.search(&concat(&[ty, separator, member]), separator, steps, work)
    }
}

impl<'a> SymbolIndex<'a> {
    /// What a function returns, by a name of it maybe re-exported or glob-imported (an entry
    /// of [`FileModel::returns`], also a tuple element's `function.1`).
    fn returned(&self, function: &str, separator: &str) -> Option<&'a str> {
        let function = self.unalias(function, separator);
        self.returns.get(function.as_ref()).copied().or_else(|| {
            self.glob_sources(&function, separator)
                .find_map(|name| self.returns.get(name.as_str()).copied())
        })
    }

    /// `name` with a module prefix that glob-imports others (`app::Conn::open` in `app` after
    /// `use common::*;`) replaced by each module it imports (`app::common::Conn::open`).
    fn glob_sources<'n>(
        &'n self,
        name: &'n str,
        separator: &'n str,
    ) -> impl Iterator<Item = String> + 'n {
        let prefixes = name.match_indices(separator).map(|(at, _)| at);
        prefixes.flat_map(move |at| {
            let sources = self.globs.get(&name[..at]).into_iter().flatten();
            sources.map(move |source| concat(&[source, &name[at..]]))
        })
    }

    /// `target`, or where another file has a function of the same canonical name (see
    /// [`Self::shared_names`]) and `file` is one of them, `file`'s own.
    fn own_function(
        &self,
        target: FunctionId,
        file: usize,
        model: &FileModel,
        models: &[&FileModel],
    ) -> FunctionId {
        if target.file == file || self.shared_names.is_empty() {
            return target;
        }
        let name = models[target.file].functions[target.index]
            .canonical
            .as_str();
        if !self.shared_names.contains(name) {
            return target;
        }
        match model.functions.iter().position(|f| f.canonical == name) {
            Some(index) => FunctionId { file, index },
            None => target,
        }
    }

    /// The name a re-exported name stands for, through every re-export on the way
    /// (`bank.accounts` → `bank.locks.accounts` after `from .locks import accounts` in
    /// `bank/__init__.py`); the name itself when no prefix of it is re-exported.
    pub fn unalias<'n>(&self, name: &'n str, separator: &str) -> std::borrow::Cow<'n, str> {
        let mut name = std::borrow::Cow::Borrowed(name);
        for _ in 0..MAX_RESOLUTION_STEPS {
            let next = self
                .unalias_once(&name, separator)
                .or_else(|| self.glob_alias(&name, separator, MAX_GLOB_DEPTH));
            match next {
                Some(next) if next != name => name = std::borrow::Cow::Owned(next),
                _ => break,
            }
        }
        name
    }

    /// `name` of a module that glob re-exports others (`ethcore_util::Mutex` after `pub use
    /// common::*;`, with `pub use standard::*;` in `common`), named in the first of them that
    /// re-exports it (or a module on its path) by name, looking at most `depth` globs deep.
    fn glob_alias(&self, name: &str, separator: &str, depth: usize) -> Option<String> {
        let depth = depth.checked_sub(1)?;
        let (owner, member) = rsplit_separator(name, separator)?;
        self.globs.get(owner)?.iter().find_map(|source| {
            let inner = concat(&[source, separator, member]);
            match self.unalias_once(&inner, separator) {
                Some(_) => Some(inner),
                None => self.glob_alias(&inner, separator, depth),
            }
        })
    }

    /// `name` with its longest re-exported prefix replaced by what it names, if it has one.
    fn unalias_once(&self, name: &str, separator: &str) -> Option<String> {
        let mut end = name.len();
        loop {
            if let Some(target) = self.aliases.get(&name[..end]) {
                return Some(concat(&[target, &name[end..]]));
            }
            end = rfind_separator(&name[..end], separator)?;
        }
    }
}

/// An edge of the call graph: a call site whose callee is a project function.
#[derive(Clone, Copy, Debug)]
pub struct CallEdge {
    pub site: CallSite,
}

/// What one file's calls resolve to: per function, per call, the project function reached.
pub type Resolution = Vec<Vec<Option<FunctionId>>>;

/// A hash of what a file gives the symbol index (its functions in order, classes with their
/// bases, re-exports, exported types). Two projects whose files have equal interfaces, in the
/// same order, have the same index: a file that did not change resolves its calls the same way
/// in both.
pub fn interface_hash(model: &FileModel) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = rustc_hash::FxHasher::default();
    model.path.hash(&mut hasher);
    for function in &model.functions {
        function.canonical.hash(&mut hasher);
    }
    for class in &model.classes {
        (&class.name, &class.bases).hash(&mut hasher);
    }
    model.aliases.hash(&mut hasher);
    model.guard_methods.hash(&mut hasher);
    model.parameter_locks.hash(&mut hasher);
    model.guard_functions.hash(&mut hasher);
    // Calls resolve through other files' types too (`relay::service::Service.probe::find`).
    model.types.hash(&mut hasher);
    model.returned_by.hash(&mut hasher);
    model.returns.hash(&mut hasher);
    // What calls pass types other files' attributes (`Worker(Storage())`).
    model.parameter_attributes.hash(&mut hasher);
    model.passed_objects.hash(&mut hasher);
    model.callback_registrations.hash(&mut hasher);
    hasher.finish()
}

/// What the objects passed to a parameter give it (see `SymbolIndex::passed_value`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Given<'a> {
    /// Objects of this type.
    Type(&'a str),
    /// This function or method, as a callback.
    Function(&'a str),
}

/// A passed object matched with the parameters it is passed as (see
/// `SymbolIndex::type_parameter_attributes`).
struct Match<'a> {
    passed: &'a PassedObject,
    given: Vec<&'a ParameterAttribute>,
    /// What it gives them, once known.
    value: Option<Given<'a>>,
    tried: bool,
}

/// How many objects deep a parameter's type is passed on from constructor to constructor.
const MAX_PASSED_ON: usize = 4;

/// The project: every file's model, the symbol index and the call graph.
pub struct Project<'a> {
    pub models: Vec<&'a FileModel>,
    pub index: SymbolIndex<'a>,
    pub graph: DiGraph<FunctionId, CallEdge>,
    /// Per file, per function, per call: the project function the call resolves to.
    targets: Vec<Resolution>,
    /// Per file, the index of its first function's node in `graph`.
    offsets: Vec<usize>,
    /// Python: each abstract method (see [`crate::model::Function::abstract_stub`]) with the
    /// project's overrides of it in its subclasses, at any depth.
    overrides: HashMap<FunctionId, Vec<FunctionId>>,
    /// The call graph's strongly connected components, callees first (computed once).
    components: std::sync::OnceLock<Vec<Vec<NodeIndex>>>,
}

impl<'a> Project<'a> {
    /// Builds the index and the call graph of a set of models (calls are resolved in parallel).
    pub fn new(models: Vec<&'a FileModel>) -> Project<'a> {
        let known = vec![None; models.len()];
        Project::reusing(models, known)
    }

    /// [`Project::new`], taking the resolution of the files where `known` has one (from a
    /// project with the same interfaces: see [`interface_hash`]) instead of resolving them.
    pub fn reusing(models: Vec<&'a FileModel>, known: Vec<Option<Resolution>>) -> Project<'a> {
        let index = SymbolIndex::new(&models);
        // Files repeat each other's callees (`self.assertEqual`, `os.path.join`): each distinct
        // name is resolved once, in parallel.
        let mut names: rustc_hash::FxHashSet<(Language, &str)> = Default::default();
        for (model, known) in models.iter().zip(&known) {
            if known.is_some() {
                continue;
            }
            for call in model.functions.iter().flat_map(|f| &f.calls) {
                if let (Some(callee), true) = (&call.callee, call.alternatives.is_empty()) {
                    names.insert((model.language, callee.as_str()));
                }
            }
        }
        let resolved: HashMap<(Language, &str), Option<FunctionId>> = names
            .into_par_iter()
            .map(|(language, name)| ((language, name), index.resolve_name(name, language)))
            .collect();
        let targets: Vec<Resolution> = models
            .par_iter()
            .zip(known)
            .enumerate()
            .map(|(file, (model, known))| {
                if let Some(resolution) = known {
                    return resolution;
                }
                let resolve = |call: &'a Call| {
                    let target = match (&call.callee, call.alternatives.is_empty()) {
                        (Some(callee), true) => resolved[&(model.language, callee.as_str())],
                        (None, false) if model.language == Language::Python => {
                            index.resolve_passed(&call.alternatives)
                        }
                        _ => index.resolve_call(call, model.language),
                    };
                    target.map(|id| index.own_function(id, file, model, &models))
                };
                model
                    .functions
                    .iter()
                    .map(|f| f.calls.iter().map(resolve).collect())
                    .collect()
            })
            .collect();
        let overrides = index.overrides_of_abstract_methods(&models);
        let mut graph = DiGraph::new();
        let mut offsets = Vec::with_capacity(models.len());
        for (file, model) in models.iter().enumerate() {
            offsets.push(graph.node_count());
            for i in 0..model.functions.len() {
                graph.add_node(FunctionId { file, index: i });
            }
        }
        for (file, functions) in targets.iter().enumerate() {
            for (i, calls) in functions.iter().enumerate() {
                for (call, callee) in calls.iter().enumerate() {
                    let Some(callee) = callee else { continue };
                    let site = CallSite {
                        caller: FunctionId { file, index: i },
                        call,
                    };
                    let (from, to) = (
                        NodeIndex::new(offsets[file] + i),
                        NodeIndex::new(offsets[callee.file] + callee.index),
                    );
                    graph.add_edge(from, to, CallEdge { site });
                    // A call of an abstract method runs one of its overrides.
                    for &dispatched in overrides.get(callee).into_iter().flatten() {
                        let to = NodeIndex::new(offsets[dispatched.file] + dispatched.index);
                        graph.add_edge(from, to, CallEdge { site });
                    }
                }
            }
        }
        Project {
            models,
            index,
            graph,
            targets,
            offsets,
            overrides,
            components: std::sync::OnceLock::new(),
        }
    }

    /// How each file's calls resolved (aligned with `models`), to reuse in the next project.
    pub fn into_resolution(self) -> Vec<Resolution> {
        self.targets
    }

    /// The call graph's strongly connected components (Tarjan), callees before callers: the
    /// order every bottom-up summary is computed in.
    pub fn components(&self) -> &[Vec<NodeIndex>] {
        self.components
            .get_or_init(|| petgraph::algo::tarjan_scc(&self.graph))
    }

    /// The calls of a function that reach a project function: position, call and callee.
    pub fn resolved_calls(
        &self,
        id: FunctionId,
    ) -> impl Iterator<Item = (usize, &'a Call, FunctionId)> + '_ {
        let calls = &self.function(id).calls;
        calls.iter().enumerate().filter_map(move |(call, c)| {
            let target = self.target(CallSite { caller: id, call })?;
            Some((call, c, target))
        })
    }

    /// The call sites that call a function.
    pub fn call_sites_to(&self, id: FunctionId) -> impl Iterator<Item = CallSite> + '_ {
        self.graph
            .edges_directed(self.node(id), petgraph::Direction::Incoming)
            .map(|e| petgraph::visit::EdgeRef::weight(&e).site)
    }

    /// Whether the function has callers in the project and every call to it satisfies
    /// `covered` — or comes from a function whose own callers all do, up to `depth` callers up
    /// (a helper that expects its caller to hold a lock).
    pub fn every_caller(
        &self,
        id: FunctionId,
        depth: usize,
        covered: &dyn Fn(CallSite) -> bool,
    ) -> bool {
        let Some(depth) = depth.checked_sub(1) else {
            return false;
        };
        let mut callers = self
            .graph
            .edges_directed(self.node(id), petgraph::Direction::Incoming)
            .map(|e| petgraph::visit::EdgeRef::weight(&e).site)
            .peekable();
        if callers.peek().is_none() {
            // One of two definitions under one name (`if _mswindows: def _get_handles` …
            // `else: def _get_handles`): calls by that name reach the one the index keeps.
            return match self
                .index
                .functions
                .get(self.function(id).canonical.as_str())
            {
                Some(&kept) if kept != id => self.every_caller(kept, depth + 1, covered),
                _ => false,
            };
        }
        callers.all(|site| {
            covered(site) || (site.caller != id && self.every_caller(site.caller, depth, covered))
        })
    }

    /// Whether a lock hold takes a lock as far as the project knows: a call the front end could
    /// only guess returns or holds a guard (`?guard:callee`, a function of another file)
    /// counts once the project finds that function does (see `SymbolIndex::guard_function`).
    pub fn takes_lock(&self, hold: &crate::model::LockHold) -> bool {
        if let Some(given) = hold
            .kind
            .strip_prefix("?=")
            .or(hold.kind.strip_prefix("?>"))
        {
            let separator = if given.contains("::") { "::" } else { "." };
            return self.lock_given_to(&hold.kind, separator).is_some();
        }
        !hold.kind.starts_with("?guard:") || self.guard_callee(&hold.kind).is_some()
    }

    /// What a hold of a lock given to a function takes: for `?callee#index`, the guard method
    /// the function locks that parameter with ("": whatever lock it is given, a Python lock
    /// decorator's); for `?=callee#index`, the lock itself ("") when the function returns
    /// that argument unchanged (`with CrossSync.rm_aio(self._lock):`); for `?>callee#index`,
    /// the guard method when the function returns that guard (`let g = read_lock(&tree)?;`).
    pub fn lock_given_to(&self, kind: &str, separator: &str) -> Option<&'a str> {
        use crate::model::{RETURNS_ARGUMENT, RETURNS_GUARD};
        let given = kind.strip_prefix('?')?;
        let (wanted, given) = match given.strip_prefix('=') {
            Some(given) => (Some(RETURNS_ARGUMENT), given),
            None => match given.strip_prefix(RETURNS_GUARD) {
                Some(given) => (Some(RETURNS_GUARD), given),
                None => (None, given),
            },
        };
        let (callee, parameter) = given.rsplit_once('#')?;
        let parameter = parameter.parse().ok()?;
        let callee = self.index.resolve(callee, separator)?;
        let guard = self
            .index
            .parameter_lock(&self.function(callee).canonical, parameter)?;
        let returned_guard = guard.strip_prefix(RETURNS_GUARD);
        match wanted {
            Some(RETURNS_ARGUMENT) => (guard == RETURNS_ARGUMENT).then_some(""),
            Some(_) => returned_guard,
            // A function that returns the guard takes it during the call too.
            None => returned_guard.or((guard != RETURNS_ARGUMENT).then_some(guard)),
        }
    }

    /// The function of another file whose result a `?guard:callee` hold keeps, when it holds
    /// a lock for its caller (see [`SymbolIndex::guard_function`]). A Rust hold whose call
    /// was awaited (`?guard:lb::Lb::ro_tx.await`) keeps an `async fn`'s guard, and only that.
    pub fn guard_callee(&self, kind: &str) -> Option<FunctionId> {
        let callee = kind.strip_prefix("?guard:")?;
        let (callee, awaited) = match callee.strip_suffix(crate::model::AWAITED_GUARD) {
            Some(callee) => (callee, true),
            None => (callee, false),
        };
        let separator = if callee.contains("::") { "::" } else { "." };
        let id = self.index.resolve(callee, separator)?;
        let function = self.function(id);
        if separator == "::" && function.is_async != awaited {
            return None;
        }
        self.index.guard_function(&function.canonical)?;
        Some(id)
    }

    /// Whether a resolved call runs its callee now, on the calling thread: not in code handed
    /// to another thread, not a task handed to a scheduler, and an async callee only when
    /// awaited.
    pub fn runs_now(&self, site: CallSite, callee: FunctionId) -> bool {
        let call = self.call(site);
        let callee = self.function(callee);
        call.context != crate::model::Context::Offloaded
            && !call.scheduled
            && (!callee.is_async || call.awaited)
    }

    /// The call-graph node of a function.
    pub fn node(&self, id: FunctionId) -> NodeIndex {
        NodeIndex::new(self.offsets[id.file] + id.index)
    }

    pub fn function(&self, id: FunctionId) -> &'a Function {
        &self.models[id.file].functions[id.index]
    }

    pub fn model(&self, id: FunctionId) -> &'a FileModel {
        self.models[id.file]
    }

    pub fn call(&self, site: CallSite) -> &'a Call {
        &self.function(site.caller).calls[site.call]
    }

    /// The project function a call site resolves to.
    pub fn target(&self, site: CallSite) -> Option<FunctionId> {
        self.targets[site.caller.file][site.caller.index][site.call]
    }

    /// The project functions a call may run: its target, or the overrides of an abstract
    /// method it targets (`self.validate(..)` in a base class whose `validate` only raises
    /// `NotImplementedError`).
    /// The overrides in the project's subclasses of a Python abstract method (empty for any
    /// other function).
    pub fn overrides(&self, id: FunctionId) -> &[FunctionId] {
        self.overrides.get(&id).map_or(&[], Vec::as_slice)
    }

    pub fn dispatched(&self, site: CallSite) -> &[FunctionId] {
        let Some(target) = &self.targets[site.caller.file][site.caller.index][site.call] else {
            return &[];
        };
        match self.overrides.get(target) {
            Some(overrides) => overrides,
            None => std::slice::from_ref(target),
        }
    }

    /// All functions of the project.
    pub fn functions(&self) -> impl Iterator<Item = (FunctionId, &'a Function)> + '_ {
        self.models.iter().enumerate().flat_map(|(file, model)| {
            model
                .functions
                .iter()
                .enumerate()
                .map(move |(index, f)| (FunctionId { file, index }, f))
        })
    }
}

/// Whether a type is test code's: declared in a `tests`/`test` module, or a mock.
fn is_test_type(ty: &str) -> bool {
    let (module, name) = ty.rsplit_once("::").unwrap_or(("", ty));
    module
        .split("::")
        .any(|segment| matches!(segment, "tests" | "test" | "mock" | "mocks"))
        || name.starts_with("Mock")
        || name.starts_with("Fake")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Class, FunctionKind};

    fn function(canonical: &str) -> Function {
        Function::new(
            canonical.rsplit('.').next().unwrap().to_string(),
            canonical.to_string(),
            FunctionKind::Function,
            false,
            0..0,
            Some(0),
        )
    }

    #[test]
    fn resolves_reexports_constructors_and_inherited_methods() {
        let mut model = FileModel::new("shop/impl.py".into(), Language::Python, "shop.impl".into());
        model.functions.push(function("shop.impl.load"));
        model.functions.push(function("shop.impl.Base.save"));
        model.functions.push(function("shop.impl.Base.__init__"));
        model.classes.push(Class {
            name: "shop.impl.Base".into(),
            bases: vec![],
        });
        model.classes.push(Class {
            name: "shop.impl.Child".into(),
            bases: vec!["shop.impl.Base".into()],
        });
        let mut init = FileModel::new("shop/__init__.py".into(), Language::Python, "shop".into());
        init.aliases
            .push(("shop.load".into(), "shop.impl.load".into()));
        init.aliases
            .push(("shop.Child".into(), "shop.impl.Child".into()));
        let index = SymbolIndex::new(&[&model, &init]);
        let found = |name: &str| index.resolve(name, ".").map(|id| id.index);
        assert_eq!(found("shop.load"), Some(1));
        assert_eq!(found("shop.Child.save"), Some(2));
        assert_eq!(found("shop.impl.Child"), Some(3));
        assert_eq!(found("shop.missing"), None);
    }

    #[test]
    fn modules_that_glob_import_each_other_resolve_in_bounded_work() {
        // Twelve modules, each `pub use super::mN::*;` of every other: a name none defines
        // would branch twelve ways at each of the twelve steps.
        let models: Vec<FileModel> = (0..12)
            .map(|n| {
                let module = format!("svc::m{n}");
                let mut model =
                    FileModel::new(format!("m{n}.rs").into(), Language::Rust, module.clone());
                model.functions.push(function(&format!("{module}::own")));
                for other in (0..12).filter(|o| *o != n) {
                    model
                        .aliases
                        .push((format!("{module}::*"), format!("svc::m{other}")));
                }
                model
            })
            .collect();
        let refs: Vec<&FileModel> = models.iter().collect();
        let index = SymbolIndex::new(&refs);
        let started = std::time::Instant::now();
        assert_eq!(index.resolve("svc::m0::Missing::go", "::"), None);
        assert!(index.resolve("svc::m0::own", "::").is_some());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn star_imports_reach_members_but_not_past_a_submodule() {
        let mut impl_ = FileModel::new("shop/impl.py".into(), Language::Python, "shop.impl".into());
        impl_.functions.push(function("shop.impl.load"));
        // `jobs` of `shop.impl` (a class), which `from .impl import *` would also bind.
        impl_.functions.push(function("shop.impl.jobs.halt"));
        impl_.classes.push(Class {
            name: "shop.impl.jobs".into(),
            bases: vec![],
        });
        let mut jobs = FileModel::new("shop/jobs.py".into(), Language::Python, "shop.jobs".into());
        jobs.functions.push(function("shop.jobs.run"));
        let mut init = FileModel::new("shop/__init__.py".into(), Language::Python, "shop".into());
        init.aliases.push(("shop.*".into(), "shop.impl".into()));
        let index = SymbolIndex::new(&[&impl_, &jobs, &init]);
        let found = |name: &str| index.resolve(name, ".").map(|id| (id.file, id.index));
        assert_eq!(found("shop.load"), Some((0, 1)));
        // The submodule `shop.jobs` is what `shop.jobs` names once it is imported.
        assert_eq!(found("shop.jobs.run"), Some((1, 1)));
        assert_eq!(found("shop.jobs.halt"), None);
    }

    #[test]
    fn a_call_means_its_own_files_function_when_two_files_share_a_name() {
        // Two `restart.rs` of a tree without a crate layout: both are module `restart`.
        let call = |callee: &str| Call {
            callee: Some(callee.into()),
            method: None,
            span: 0..0,
            context: crate::model::Context::Sync,
            non_blocking: false,
            alternatives: Default::default(),
            receiver: Default::default(),
            scheduled: false,
            closure: 0,
            object: 0,
            awaited: false,
            result: Default::default(),
            blocking: None,
            positional_arguments: 0,
            object_arguments: Default::default(),
        };
        let mut client =
            FileModel::new("client/restart.rs".into(), Language::Rust, "restart".into());
        client.functions.push(function("restart::restart"));
        client.functions[1].calls.push(call("restart::restart"));
        let mut daemon =
            FileModel::new("daemon/restart.rs".into(), Language::Rust, "restart".into());
        daemon.functions.push(function("restart::restart_all"));
        daemon.functions.push(function("restart::restart"));
        daemon.functions[1].calls.push(call("restart::restart"));
        let project = Project::new(vec![&client, &daemon]);
        let target = |file, index| {
            let caller = FunctionId { file, index };
            project.target(CallSite { caller, call: 0 })
        };
        assert_eq!(target(1, 1), Some(FunctionId { file: 1, index: 2 }));
        assert_eq!(target(0, 1), Some(FunctionId { file: 0, index: 1 }));
    }
}
