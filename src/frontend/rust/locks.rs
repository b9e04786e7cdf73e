//! Locks: which expressions are locks (by type, through the semantic model), their
//! project-wide identity ([`LockName`]), the locks a file defines, and the guard-taking calls
//! (`m.lock().unwrap()`, `rw.write()?`, `m.lock().await`). How long each guard is held is
//! [`super::guards`]'s concern; this module records a hold once its region is known.

use rustc_hash::FxHashMap as HashMap;
use syn::ext::IdentExt;
use syn::visit::Visit;
use syn::{Expr, Pat, Type};

use super::Lowerer;
use super::syntax::{
    self, OwnMethodCalls, byte_span, expr_start, field_name, member_name, written,
};
use crate::knowledge::Returns;
use crate::model::{
    AWAITED_GUARD, Context, ITEMS, LockDefinition, LockHold, LockName, LockScope, ObjectArgument,
    Pointless, PointlessLock, RETURNS_GUARD, Receiver, SHARDED, SHARDED_LOCK_TYPES, Span, concat,
    is_standard_path, sharded_lock_type,
};

impl Lowerer<'_> {
    /// Records the locks the statics and struct fields of a module's items define (the file's
    /// top level, or an inline `mod` while it is being lowered).
    pub(super) fn define_locks(&mut self, items: &[syn::Item]) {
        let module = self.semantic.module().to_string();
        let join = |name: &syn::Ident| format!("{module}::{name}");
        for item in items {
            let is_field = matches!(item, syn::Item::Struct(_));
            let found: Vec<(String, proc_macro2::Span, &Type)> = match item {
                syn::Item::Static(s) => {
                    vec![(join(&s.ident), s.ident.span(), &*s.ty)]
                }
                syn::Item::Struct(strukt) => {
                    let owner = join(&strukt.ident);
                    strukt
                        .fields
                        .iter()
                        .enumerate()
                        .map(|(position, f)| {
                            let name = field_name(f, position);
                            let span = f.ident.as_ref().map_or(strukt.ident.span(), |i| i.span());
                            (format!("{owner}.{name}"), span, &f.ty)
                        })
                        .collect()
                }
                syn::Item::Macro(mac) if is_lazy_static(&mac.mac) => self
                    .semantic
                    .lazy_statics()
                    .map(|(ident, ty)| (join(ident), ident.span(), ty))
                    .collect(),
                _ => continue,
            };
            for (identity, span, ty) in found {
                // A sharded map's type string (`#{}Session`) stands for its lock type.
                let kind = self
                    .semantic
                    .resolve_type(ty)
                    .map(|t| match sharded_lock_type(&t) {
                        Some(sharded) => sharded.to_string(),
                        None => t,
                    });
                if let Some(kind) = kind.filter(|t| self.semantic.is_lock_type(t)) {
                    let shared = is_field.then(|| self.arc_shared_type(ty)).flatten();
                    self.model.lock_definitions.push(LockDefinition {
                        identity,
                        kind,
                        span: byte_span(span),
                        shared,
                        guards_nothing: guards_unit(ty),
                    });
                    continue;
                }
                // A collection field of locks (`sessions: HashMap<u64, Arc<Mutex<Session>>>`):
                // its elements, one lock for ordering (`State.sessions[]`), shared like a field
                // of their type.
                if is_field
                    && let Some(element) = super::semantic::collection_element(ty)
                    && let Some(kind) = self
                        .semantic
                        .resolve_type(element)
                        .filter(|t| self.semantic.is_lock_type(t))
                {
                    self.model.lock_definitions.push(LockDefinition {
                        identity: concat(&[&identity, ITEMS]),
                        kind,
                        span: byte_span(span),
                        shared: self.arc_shared_type(element),
                        guards_nothing: guards_unit(element),
                    });
                }
            }
        }
    }

    /// `T` of a field type `Arc<Lock<T>>` (or `Rc`), when `T` is a named type (not a
    /// primitive, a library collection or a tuple).
    fn arc_shared_type(&self, ty: &Type) -> Option<String> {
        fn last_generic(ty: &Type) -> Option<(&syn::Ident, &Type)> {
            let Type::Path(path) = ty else { return None };
            let last = path.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            match args.args.first()? {
                syn::GenericArgument::Type(inner) => Some((&last.ident, inner)),
                _ => None,
            }
        }
        let (pointer, lock) = last_generic(ty)?;
        if pointer != "Arc" && pointer != "Rc" {
            return None;
        }
        // A sharded map's values (`Arc<DashMap<String, Session>>`: `Session`).
        let sharded = self
            .semantic
            .resolve_type(lock)
            .filter(|t| t.starts_with(SHARDED));
        if let Some((_, element)) = sharded
            .as_deref()
            .and_then(super::semantic::Collection::split)
        {
            // Not a map of locks (`DashMap<String, Arc<Mutex<Conn>>>`): any two maps of one
            // lock type would be taken for one.
            return (element.contains("::")
                && element.starts_with(|c: char| c.is_ascii_alphabetic())
                && !is_standard_path(element)
                && !self.semantic.is_lock_type(element))
            .then(|| element.to_string());
        }
        let (_, inner) = last_generic(lock)?;
        let Type::Path(path) = inner else { return None };
        let name = path.path.segments.last()?.ident.unraw().to_string();
        if !name.starts_with(|c: char| c.is_ascii_uppercase())
            || matches!(
                name.as_str(),
                "Vec"
                    | "VecDeque"
                    | "HashMap"
                    | "HashSet"
                    | "BTreeMap"
                    | "BTreeSet"
                    | "String"
                    | "Option"
                    | "Box"
                    | "Arc"
                    | "Rc"
                    | "Weak"
                    | "Instant"
                    | "Duration"
            )
        {
            return None;
        }
        self.semantic.resolve_type(inner)
    }

    /// The identity of the lock an expression names: a field (`self.accounts`, `bank.accounts`),
    /// a `static`, or a local (looking through references, clones and local aliases).
    pub(super) fn lock_identity(&self, expr: &Expr) -> Option<LockName> {
        match expr {
            Expr::Reference(inner) => self.lock_identity(&inner.expr),
            Expr::Paren(inner) => self.lock_identity(&inner.expr),
            // `self.storages.get(&id)?`, `.get(&id).expect("..")`: what the option holds.
            Expr::Try(inner) => self.lock_identity(&inner.expr),
            Expr::MethodCall(call) if call.method == "expect" && call.args.len() == 1 => {
                self.lock_identity(&call.receiver)
            }
            Expr::Unary(inner) if matches!(inner.op, syn::UnOp::Deref(_)) => {
                self.lock_identity(&inner.expr)
            }
            // `CELL.get_or_init(|| Mutex::new(..))`: the lock the cell holds.
            Expr::MethodCall(call) if call.method == "get_or_init" => {
                self.lock_identity(&call.receiver)
            }
            Expr::MethodCall(call)
                if call.args.is_empty()
                    && matches!(
                        call.method.to_string().as_str(),
                        "clone" | "as_ref" | "deref" | "unwrap" | "get" | "force"
                    ) =>
            {
                self.lock_identity(&call.receiver)
            }
            // `self.levels[i]`, `core.files_map.get(&id)`: an element of a collection field
            // of locks.
            Expr::Index(index) => self.element_identity(expr, &index.expr),
            Expr::MethodCall(call)
                if call.args.len() == 1
                    && matches!(call.method.to_string().as_str(), "get" | "get_mut") =>
            {
                self.element_identity(expr, &call.receiver)
            }
            // `self.driver()` of a getter that gives out a lock field.
            Expr::MethodCall(call) => {
                let (_, field) = self.semantic.getter_call(call, 8)?;
                self.field_identity(&call.receiver, &field)
            }
            Expr::Call(call) if call.args.len() == 1 => {
                // `Arc::clone(&m)`.
                let Expr::Path(func) = call.func.as_ref() else {
                    return None;
                };
                let is_clone = func.path.segments.len() >= 2
                    && func
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "clone");
                is_clone
                    .then(|| self.lock_identity(&call.args[0]))
                    .flatten()
            }
            Expr::Field(field) => self.field_identity(&field.base, &member_name(&field.member)),
            Expr::Path(path) if path.path.segments.len() == 1 && path.qself.is_none() => {
                let name = path.path.segments[0].ident.unraw().to_string();
                if let Some(alias) = self.semantic.lock_alias(&name) {
                    return Some(alias.clone());
                }
                if self.semantic.local(&name).is_some() {
                    let function = &self.model.functions[self.current].canonical;
                    // A binding that shadows another of the name is another object.
                    let identity = match self.semantic.shadows(&name) {
                        0 => format!("{function}::{name}"),
                        n => format!("{function}::{name}#{n}"),
                    };
                    return Some(LockName {
                        identity,
                        scope: LockScope::Local,
                        via_self: false,
                    });
                }
                let canonical = self
                    .semantic
                    .resolve_qualified_name(&path.path)
                    .or_else(|| self.semantic.globbed_static(&path.path))?;
                Some(LockName {
                    identity: canonical,
                    scope: LockScope::Global,
                    via_self: false,
                })
            }
            Expr::Path(path) if path.qself.is_none() => Some(LockName {
                identity: self.semantic.resolve_qualified_name(&path.path)?,
                scope: LockScope::Global,
                via_self: false,
            }),
            _ => None,
        }
    }

    /// The lock an element of a collection field or `static` is (`self.levels[i]` of
    /// `levels: Vec<Arc<RwLock<Level>>>`): one identity for every element, `Core.levels[]`.
    /// Which element is not known, so two holds of it are never taken for the same object
    /// (`levels[i]` then `levels[i + 1]` is how code locks neighbours), but an order between
    /// an element and another lock is an order.
    pub(super) fn element_identity(&self, element: &Expr, collection: &Expr) -> Option<LockName> {
        let is_lock = matches!(self.semantic.type_of(element),
            Some(Returns::One(ty)) if self.semantic.is_lock_type(&ty));
        if !is_lock {
            return None;
        }
        let container = self.lock_identity(collection)?;
        if container.scope == LockScope::Local || container.identity.ends_with(ITEMS) {
            return None;
        }
        Some(LockName {
            identity: concat(&[&container.identity, ITEMS]),
            scope: container.scope,
            via_self: false,
        })
    }

    /// `for session in state.sessions.values() { session.lock() }`: the loop's binding is the
    /// element lock of a collection field of locks (`State.sessions[]`), also when this file
    /// cannot type the collection (a struct of another file: the project's lock definitions
    /// tell; see [`Self::candidate_kind`]). Bound after the pattern, before the body.
    pub(super) fn bind_element_lock(
        &mut self,
        pat: &Pat,
        iterable: &Expr,
        iterated: Option<&Returns>,
    ) {
        let (collection, values) = match iterable {
            Expr::MethodCall(call) if call.args.is_empty() => {
                match call.method.to_string().as_str() {
                    "values" | "values_mut" | "into_values" => (&*call.receiver, true),
                    "iter" | "iter_mut" | "into_iter" => (&*call.receiver, false),
                    _ => return,
                }
            }
            Expr::Reference(inner) => (&*inner.expr, false),
            _ => return,
        };
        // The binding of one element: a map's value when iterated in pairs.
        let element_pat = match pat {
            Pat::Tuple(pair) if !values && pair.elems.len() == 2 => &pair.elems[1],
            pat => pat,
        };
        let Some(name) = syntax::bound_name(element_pat) else {
            return;
        };
        match iterated {
            Some(Returns::One(ty)) => {
                let Some((_, element)) = super::semantic::Collection::split(ty) else {
                    return;
                };
                if !self.semantic.is_lock_type(element) {
                    return;
                }
            }
            Some(Returns::Tuple(_)) => return,
            None => {}
        }
        let Some(lock) = self.lock_identity(collection) else {
            return;
        };
        if lock.scope == LockScope::Local || lock.identity.ends_with(ITEMS) {
            return;
        }
        let element = LockName {
            identity: concat(&[&lock.identity, ITEMS]),
            scope: lock.scope,
            via_self: false,
        };
        self.semantic.bind_lock_alias(name, element);
    }

    /// `ChunkBuilder { models, resources: res.clone(), .. }`: a local or parameter lock
    /// stored in a field of the struct built is that field's lock (see `stored_locks`).
    pub(super) fn store_locks_in_fields(&mut self, built: &syn::ExprStruct) {
        let owner = match built.path.get_ident() {
            Some(ident) if ident == "Self" => self.semantic.self_type.clone(),
            _ => self.semantic.resolve_qualified_name(&built.path),
        };
        let Some(owner) = owner else { return };
        for field in &built.fields {
            let Some(local) = self.lock_identity(&field.expr) else {
                continue;
            };
            if local.scope != LockScope::Local {
                continue;
            }
            let name = member_name(&field.member);
            let stored = LockName {
                identity: format!("{owner}.{name}"),
                scope: LockScope::Field,
                via_self: false,
            };
            self.stored_locks.push((local.identity, stored));
        }
    }

    /// The lock a field of an object names (`self.accounts`, `bank.accounts`): one per
    /// instance of the owner's type.
    pub(super) fn field_identity(&self, base: &Expr, name: &str) -> Option<LockName> {
        let (owner, via_self) = match base {
            Expr::Path(p) if p.path.is_ident("self") => (self.semantic.self_type.clone()?, true),
            // A type only the project phase knows (a project method's result, a field of a
            // struct of another file) is resolved there (see `LockGraph::definition`).
            base => match self.semantic.type_of(base)? {
                Returns::One(ty) => (ty, false),
                Returns::Tuple(_) => return None,
            },
        };
        Some(LockName {
            identity: format!("{owner}.{name}"),
            scope: LockScope::Field,
            via_self,
        })
    }

    /// The path from `self` of the collection field whose element lock an expression names in
    /// a method (`storages[]` for `self.storages.get(&id)?`, also through a local bound to it).
    fn own_element_lock(&self, expr: &Expr) -> Option<String> {
        let lock = self.lock_identity(expr)?;
        let self_type = self.semantic.self_type.as_deref()?;
        let path = lock.identity.strip_prefix(self_type)?.strip_prefix('.')?;
        (lock.scope == LockScope::Field && path.ends_with(ITEMS)).then(|| path.to_string())
    }

    /// The guard-returning helper a method call is, if it is one of the file's.
    fn guard_helper(&self, call: &syn::ExprMethodCall) -> Option<&GuardHelper> {
        let helpers = &self.guard_helpers;
        if helpers.is_empty() {
            return None;
        }
        // Most calls are no helper's: look at the name before typing the receiver.
        let method = call.method.to_string();
        if !helpers
            .keys()
            .any(|name| name.rsplit("::").next() == Some(method.as_str()))
        {
            return None;
        }
        let Some(Returns::One(ty)) = self.semantic.type_of(&call.receiver) else {
            return None;
        };
        helpers.get(&format!("{ty}::{method}"))
    }

    /// Finds the file's methods that return a guard of their object or of one of its fields
    /// (`fn rl(&self) -> RwLockReadGuard<'_, T> { self.x.read().unwrap() }`, also boxed, in
    /// `Some`/`Ok`, or as a field of a returned struct), and the functions that lock a lock
    /// they are given (`fn bump(m: &Mutex<u32>) { *m.lock().unwrap() += 1 }`): calling them
    /// takes that lock.
    pub(super) fn collect_lock_helpers(&mut self, items: &[syn::Item]) {
        for item in items {
            // `mod mutex { impl<T> RwLock<T> { pub fn read(&self) -> .. } }`, in item order:
            // what a module defines is known to the items after it.
            if let syn::Item::Mod(inline) = item
                && let Some((_, items)) = &inline.content
            {
                let module = format!("{}::{}", self.semantic.module(), inline.ident);
                self.semantic.push_module(module, items);
                self.collect_lock_helpers(items);
                self.semantic.pop_module();
                continue;
            }
            for (name, self_type, fields, sig, block) in
                self.functions_of(std::slice::from_ref(item))
            {
                if self_type.is_some() {
                    self.file_methods.insert(sig.ident.unraw().to_string());
                }
                self.file_functions.insert(name.clone());
                let saved = std::mem::replace(&mut self.semantic.self_type, self_type);
                let saved_fields = std::mem::replace(&mut self.semantic.impl_fields, fields);
                self.learn_nested_helpers(&name, block);
                self.learn_helper(name, sig, block);
                self.semantic.self_type = saved;
                self.semantic.impl_fields = saved_fields;
            }
        }
    }

    /// The module's free functions and the methods of its `impl` blocks: canonical name, the
    /// `Self` type of a method and the types of its parameter-typed fields (see
    /// `SemanticModel::impl_fields`), signature and body.
    fn functions_of<'i>(&self, items: &'i [syn::Item]) -> Vec<FileFunction<'i>> {
        let module = self.semantic.module();
        let mut functions = Vec::new();
        for item in items {
            match item {
                syn::Item::Fn(function) => functions.push((
                    format!("{module}::{}", function.sig.ident),
                    None,
                    HashMap::default(),
                    &function.sig,
                    &*function.block,
                )),
                syn::Item::Impl(imp) => {
                    let Some(self_type) = self.semantic.resolve_type(&imp.self_ty) else {
                        continue;
                    };
                    let fields = self.semantic.impl_field_types(&imp.self_ty);
                    for member in &imp.items {
                        if let syn::ImplItem::Fn(method) = member {
                            let name = format!("{self_type}::{}", method.sig.ident);
                            let self_type = Some(self_type.clone());
                            let fields = fields.clone();
                            functions.push((name, self_type, fields, &method.sig, &method.block));
                        }
                    }
                }
                _ => {}
            }
        }
        functions
    }

    /// Records that function `name` locks its parameter `index` with guard method `kind`;
    /// other files learn it in the project phase (see `lock_through_arguments`).
    fn note_param_locker(&mut self, name: &str, index: usize, kind: String) {
        let locker = (name.to_string(), index as u32, kind.clone());
        self.model.parameter_locks.push(locker);
        self.param_lockers
            .entry(name.to_string())
            .or_default()
            .push((index, kind));
    }

    /// Functions that hand a lock parameter on to a function of the file that locks it
    /// (`fn convert(node: &Mutex<Node>) { .. lookup(h, node) .. }` with `lookup` locking its
    /// `node`) lock it too, for their callers: followed through up to three hands.
    pub(super) fn propagate_parameter_locks(&mut self, items: &[syn::Item]) {
        if self.param_lockers.is_empty() {
            return;
        }
        let functions = self.functions_of(items);
        for _ in 0..3 {
            let mut learned = Vec::new();
            for (name, self_type, _, sig, block) in &functions {
                let saved = self.semantic.self_type.clone();
                self.semantic.self_type.clone_from(self_type);
                let found = self.handed_on_locks(name, sig, block);
                self.semantic.self_type = saved;
                learned.extend(found.into_iter().map(|taken| (name.clone(), taken)));
            }
            if learned.is_empty() {
                break;
            }
            for (name, (index, kind)) in learned {
                self.note_param_locker(&name, index, kind);
            }
        }
    }

    /// The lock parameters of a function, not yet known to be locked by it, that it passes on
    /// to a function of the file that locks that parameter: (position, guard method kind).
    fn handed_on_locks(
        &self,
        name: &str,
        sig: &syn::Signature,
        block: &syn::Block,
    ) -> Vec<(usize, String)> {
        let known = self.param_lockers.get(name);
        let params: Vec<(usize, String)> = syntax::named_parameters(sig)
            .filter(|(_, _, ty)| {
                self.semantic
                    .resolve_type(ty)
                    .is_some_and(|ty| self.semantic.is_lock_type(&ty))
            })
            .map(|(index, name, _)| (index, name))
            .filter(|(index, _)| known.is_none_or(|taken| taken.iter().all(|(i, _)| i != index)))
            .collect();
        if params.is_empty() {
            return Vec::new();
        }
        let mut calls = AllCalls::default();
        calls.visit_block(block);
        let mut found = Vec::new();
        for (index, param) in params {
            let handed = calls.0.iter().find_map(|(callee, args, offset)| {
                let callee = match callee {
                    CalleeSyntax::Path(path) => self.semantic.resolve_qualified_name(path)?,
                    CalleeSyntax::SelfMethod(method) => {
                        format!("{}::{method}", self.semantic.self_type.as_ref()?)
                    }
                };
                let taken = self.param_lockers.get(&callee)?;
                let position = args.iter().position(|arg| {
                    syntax::object_written(arg).as_deref() == Some(param.as_str())
                })? + offset;
                taken
                    .iter()
                    .find(|(i, _)| *i == position)
                    .map(|(_, kind)| kind.clone())
            });
            if let Some(kind) = handed {
                found.push((index, kind));
            }
        }
        found
    }

    /// The `fn` items declared in a function's body (`fn finish(inner: &RwLock<T>)` inside
    /// `apply`), named inside it as the traversal names them (`apply::finish`).
    fn learn_nested_helpers(&mut self, outer: &str, block: &syn::Block) {
        for stmt in &block.stmts {
            if let syn::Stmt::Item(syn::Item::Fn(function)) = stmt {
                let name = format!("{outer}::{}", function.sig.ident);
                self.learn_nested_helpers(&name, &function.block);
                self.learn_helper(name, &function.sig, &function.block);
            }
        }
    }

    fn learn_helper(&mut self, name: String, sig: &syn::Signature, block: &syn::Block) {
        self.semantic.push_locals();
        let mut params = Vec::new();
        for (index, input) in sig.inputs.iter().enumerate() {
            match input {
                syn::FnArg::Receiver(_) => {
                    let ty = self.semantic.self_type.clone().map(Returns::One);
                    self.semantic.bind_local("self".to_string(), ty);
                }
                syn::FnArg::Typed(typed) => {
                    let ty = self.semantic.resolve_type(&typed.ty);
                    if let (Some(ty), Pat::Ident(ident)) = (&ty, &*typed.pat)
                        && self.semantic.is_lock_type(ty)
                    {
                        params.push((index, ident.ident.unraw().to_string()));
                    }
                    self.semantic.bind_pattern(&typed.pat, ty.map(Returns::One));
                }
            }
        }
        // `let lock = self.storages.get(&id)?;` before the guard it returns: the element lock
        // it names.
        for stmt in &block.stmts {
            if let syn::Stmt::Local(local) = stmt
                && let Some(init) = &local.init
                && let Some(name) = syntax::bound_name(&local.pat)
                && let Some(lock) = self.lock_identity(&init.expr)
                && lock.scope == LockScope::Field
                && lock.identity.ends_with(ITEMS)
            {
                let ty = self.semantic.type_of(&init.expr);
                self.semantic.bind_pattern(&local.pat, ty);
                self.semantic.bind_lock_alias(name, lock);
            }
        }
        // An `async fn` returns its guard once awaited (`self.db.read().await`).
        let is_async = sig.asyncness.is_some();
        // `fn id(&self) -> u64 { *self.id.lock().unwrap() }`: what it returns is no guard.
        let returns_plain_value = match &sig.output {
            syn::ReturnType::Type(_, ty) => match &**ty {
                syn::Type::Path(path) => path.path.segments.last().is_some_and(|last| {
                    matches!(
                        last.ident.unraw().to_string().as_str(),
                        "bool"
                            | "char"
                            | "u8"
                            | "u16"
                            | "u32"
                            | "u64"
                            | "u128"
                            | "usize"
                            | "i8"
                            | "i16"
                            | "i32"
                            | "i64"
                            | "i128"
                            | "isize"
                            | "f32"
                            | "f64"
                            | "String"
                            | "Vec"
                    )
                }),
                _ => false,
            },
            syn::ReturnType::Default => true,
        };
        // Also a lock of a field whose type another file gives (`impl Lb` in `io/mod.rs`, the
        // struct in `lib.rs`): a candidate (`::read.await`) the project phase types.
        // `-> Result<MappedRef<'_, K, V, T>>` built by `self.data.get(k).and_then(|e|
        // Some(Ref::map(e, ..))).ok_or_else(..)`: the guard the chain starts from.
        let returned = returned_value(block)
            .map(|tail| match names_guard_type(&sig.output) {
                true => through_guard_adapters(tail),
                false => tail,
            })
            .filter(|_| !returns_plain_value)
            .and_then(|tail| self.guard_call_with(tail, sig.receiver().is_some()))
            .filter(|(_, kind)| !kind.starts_with('?'));
        if let Some((call, kind)) = returned.clone() {
            // `fn main_dict() -> MutexGuard<'static, Dict> { DICT.lock().unwrap() }`.
            if sig.receiver().is_none()
                && let Some(lock) = self.lock_identity(&call.receiver)
                && lock.scope == LockScope::Global
            {
                let export = (name.clone(), lock.identity.clone(), kind.clone());
                self.model.guard_functions.push(export);
                let guard = (kind.clone(), lock, written(&call.receiver));
                self.guard_functions.insert(name.clone(), guard);
            }
            // Also an owned guard of a clone (`Arc::clone(&self.0).write_owned()`).
            let receiver = syntax::cloned_from(&call.receiver);
            let field = match receiver {
                Expr::Path(p) if p.path.is_ident("self") => Some(None),
                Expr::Field(_) => {
                    let written = written(receiver);
                    written.strip_prefix("self.").map(|f| Some(f.to_string()))
                }
                // An element of a collection field (`let lock = self.storages.get(&id)?;
                // lock.read()`, `self.shards[i].lock()`): that collection's element lock.
                _ => self.own_element_lock(&call.receiver).map(Some),
            };
            // A field's lock, also a nested one (`self.common.alloc`): one identity whatever
            // the object, which other files learn in the project phase (see
            // `other_file_guard_method`).
            let identity = self
                .lock_identity(&call.receiver)
                .filter(|lock| lock.scope == LockScope::Field && field.is_some())
                .map(|lock| lock.identity);
            if sig.receiver().is_some()
                && let Some(identity) = &identity
            {
                let export = (name.clone(), identity.clone(), kind.clone());
                self.model.guard_functions.push(export);
            }
            if let Some(field) = field {
                if field.is_none()
                    && let Some(self_type) = &self.semantic.self_type
                    && self.semantic.is_waiting_lock_type(self_type)
                {
                    // A guard method the project adds to a library lock type: other files
                    // learn it in the project phase.
                    self.model.guard_methods.push((name.clone(), kind.clone()));
                }
                let helper = GuardHelper {
                    kind,
                    field,
                    identity,
                    is_async,
                };
                self.guard_helpers.insert(name.clone(), helper);
            }
        }
        if sig.receiver().is_some()
            && let Some(locker) = self.closure_locker(sig, block)
        {
            self.closure_lockers.insert(name.clone(), locker);
        }
        // `fn read_lock(t: &RwLock<T>) -> RwLockReadGuard<T> { t.read() }`: the caller holds
        // the lock it gives while the returned guard lives.
        let returned_guard = returned
            .filter(|_| !is_async && sig.receiver().is_none())
            .and_then(|(call, kind)| {
                let Expr::Path(path) = syntax::without_refs(&call.receiver) else {
                    return None;
                };
                let given = path.path.get_ident()?.to_string();
                let (index, _) = params.iter().find(|(_, param)| *param == given)?;
                Some((*index, kind))
            });
        if !params.is_empty() {
            let mut taken = Vec::new();
            for (index, param) in params {
                if returned_guard.as_ref().is_some_and(|(i, _)| *i == index) {
                    continue;
                }
                if let Some(kind) = methods_called_on(block, &param)
                    .iter()
                    .find_map(|method| self.local_lock_kind(&param, method))
                {
                    taken.push((index, kind));
                }
            }
            for (index, kind) in taken {
                self.note_param_locker(&name, index, kind);
            }
        }
        if let Some((index, kind)) = returned_guard {
            let exported = concat(&[RETURNS_GUARD, &kind]);
            self.model
                .parameter_locks
                .push((name.clone(), index as u32, exported));
            // It takes the lock during the call too.
            self.param_lockers
                .entry(name.clone())
                .or_default()
                .push((index, kind.clone()));
            self.argument_guards.insert(name, (index, kind));
        }
        self.semantic.pop_locals();
    }

    /// What a method runs its closure parameter under: `fn lock<F: FnOnce(&mut Inner) -> R,
    /// R>(&self, f: F) -> R { let mut inner = self.0.lock(); f(&mut inner) }` holds `self.0`
    /// while `f` runs (also `f(&mut self.0.lock())`). Looks at the body's own statements: a
    /// `let` guard of the object or one of its fields, then a statement that calls the
    /// parameter.
    fn closure_locker(&self, sig: &syn::Signature, block: &syn::Block) -> Option<ClosureLocker> {
        let parameters: Vec<(usize, String)> = syntax::named_parameters(sig)
            .map(|(index, name, _)| (index, name))
            .collect();
        let own_field = |receiver: &Expr| match receiver {
            Expr::Path(p) if p.path.is_ident("self") => Some(None),
            Expr::Field(field) => match &*field.base {
                Expr::Path(p) if p.path.is_ident("self") => Some(Some(member_name(&field.member))),
                _ => None,
            },
            _ => None,
        };
        let mut held: Option<(String, Option<String>)> = None;
        for stmt in &block.stmts {
            if let syn::Stmt::Local(local) = stmt
                && let Some(init) = &local.init
                && let Some((call, kind)) = self.bound_guard_call(&init.expr)
                && let Some(field) = own_field(&call.receiver)
            {
                held = Some((kind, field));
                continue;
            }
            let calls = syntax::called_names(stmt);
            let Some((parameter, _)) = parameters.iter().find(|(_, p)| calls.contains(p)) else {
                continue;
            };
            // `f(&mut self.0.lock())`: a guard made for the call.
            let temporary = || {
                let mut temporaries = super::guards::Temporaries::default();
                temporaries.visit_stmt(stmt);
                temporaries.calls.iter().find_map(|(call, _)| {
                    let kind = self.guard_kind(call)?;
                    Some((kind, own_field(&call.receiver)?))
                })
            };
            let (kind, field) = held.clone().or_else(temporary)?;
            return Some(ClosureLocker {
                parameter: *parameter,
                kind,
                field,
            });
        }
        None
    }

    /// A call of a method of the file that runs its closure argument while it holds a lock
    /// of its object (see [`ClosureLocker`]): the closure runs inline, and the lock is held
    /// over it. Returns the closure.
    pub(super) fn closure_under_lock<'c>(
        &mut self,
        callee: &str,
        call: &'c syn::ExprMethodCall,
    ) -> Option<&'c syn::ExprClosure> {
        let locker = self.closure_lockers.get(callee)?.clone();
        let Some(Expr::Closure(closure)) = call.args.iter().nth(locker.parameter.checked_sub(1)?)
        else {
            return None;
        };
        if closure.asyncness.is_some() {
            return None;
        }
        let (named, lock) = match &locker.field {
            Some(field) => (
                self.field_identity(&call.receiver, field),
                format!("{}.{field}", written(&call.receiver)),
            ),
            None => (self.lock_identity(&call.receiver), written(&call.receiver)),
        };
        let span = expr_start(&call.receiver)..call.paren_token.span.close().byte_range().end;
        let region_end = span.end;
        self.record_hold(span, region_end, named, lock, locker.kind, Vec::new());
        Some(closure)
    }

    /// `Type::method` when a local of a lock type is locked with `method`.
    fn local_lock_kind(&self, local: &str, method: &str) -> Option<String> {
        let Some(Some(Returns::One(ty))) = self.semantic.local(local) else {
            return None;
        };
        let kind = format!("{ty}::{method}");
        self.tables.lock(&kind).is_some().then_some(kind)
    }

    /// A call of a function of this file that locks a lock it is given (see
    /// [`Self::collect_lock_helpers`]): the call takes that lock for its duration. A call of
    /// a function of another file that is given a lock keeps it as a candidate, of kind
    /// `?callee#index`: the project phase keeps it where that function locks that parameter
    /// (`FileModel::parameter_locks`).
    pub(super) fn lock_through_arguments(
        &mut self,
        callee: &str,
        args: &syn::punctuated::Punctuated<Expr, syn::Token![,]>,
        span: &Span,
        self_offset: usize,
    ) {
        // (argument, guard method): what this file's function locks, or every lock-typed
        // argument as a candidate for a function of another file.
        let given: Vec<(&Expr, String)> = match self.param_lockers.get(callee) {
            Some(taken) => taken
                .iter()
                .filter_map(|(index, kind)| {
                    let arg = args.iter().nth(index.checked_sub(self_offset)?)?;
                    Some((arg, kind.clone()))
                })
                .collect(),
            None => args
                .iter()
                .enumerate()
                .filter(|(_, arg)| {
                    matches!(
                        self.semantic.type_of(arg),
                        Some(Returns::One(ty)) if self.semantic.is_waiting_lock_type(&ty)
                    )
                })
                .map(|(position, arg)| (arg, format!("?{callee}#{}", position + self_offset)))
                .collect(),
        };
        for (arg, kind) in given {
            if let Some(named) = self.lock_identity(arg) {
                let lock = written(arg);
                self.record_hold(span.clone(), span.end, Some(named), lock, kind, Vec::new());
                let index = args
                    .iter()
                    .position(|a| std::ptr::eq(a, arg))
                    .map(|i| i + self_offset);
                if let Some(hold) = self.model.functions[self.current].lock_holds.last_mut() {
                    hold.argument = index.and_then(|i| u8::try_from(i).ok());
                }
            }
        }
    }

    /// The guard-returning call at the core of `m.lock().unwrap()`, `m.write()?`, `&*c.borrow()`,
    /// `m.lock().await`.
    pub(super) fn guard_call<'e>(
        &self,
        expr: &'e Expr,
    ) -> Option<(&'e syn::ExprMethodCall, String)> {
        self.guard_call_with(expr, false)
    }

    /// The guard a `let` keeps alive: `let g = m.lock().unwrap();`, `let r = &*c.borrow();`,
    /// also wrapped (`Some(m.lock().unwrap())`) or taken on one branch only
    /// (`if batch { Some(m.lock().unwrap()) } else { None }`), but not
    /// `let v = *m.lock().unwrap();`, which copies the value out and drops the guard.
    pub(super) fn bound_guard_call<'e>(
        &self,
        init: &'e Expr,
    ) -> Option<(&'e syn::ExprMethodCall, String)> {
        match init {
            Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => None,
            Expr::Call(call) if call.args.len() == 1 && syntax::wraps_its_argument(&call.func) => {
                self.bound_guard_call(&call.args[0])
            }
            Expr::If(branch) => {
                let (_, otherwise) = branch.else_branch.as_ref()?;
                let then = syntax::block_value(&branch.then_branch);
                then.into_iter()
                    .chain(std::iter::once(&**otherwise))
                    .find_map(|value| self.bound_guard_call(value))
            }
            Expr::Block(block) if block.label.is_none() => {
                self.bound_guard_call(syntax::block_value(&block.block)?)
            }
            Expr::Match(choice) => choice
                .arms
                .iter()
                .find_map(|arm| self.bound_guard_call(&arm.body)),
            // (A call that gives its lock back itself leaves no guard to keep.)
            _ => self
                .guard_call_with(init, true)
                .filter(|(_, kind)| !self.is_transient(kind)),
        }
    }

    /// [`Self::guard_call`]; with `candidates`, also a `lock()`/`read()`/`write()` on a named
    /// lock of unknown type (a `static` or field defined in another file), kind `::method`.
    pub(super) fn guard_call_with<'e>(
        &self,
        expr: &'e Expr,
        candidates: bool,
    ) -> Option<(&'e syn::ExprMethodCall, String)> {
        self.guard_call_awaited(expr, candidates, GuardUse::Other)
    }

    /// [`Self::guard_call_with`]; `used` tells how `expr`'s value is used (an async lock's
    /// `lock()` only takes the lock when its future is awaited).
    pub(super) fn guard_call_awaited<'e>(
        &self,
        expr: &'e Expr,
        candidates: bool,
        used: GuardUse,
    ) -> Option<(&'e syn::ExprMethodCall, String)> {
        match expr {
            Expr::MethodCall(call) if unwraps_lock_result(call) => {
                // `m.lock().unwrap().expect(..)`: the first unwrap takes the guard out of the
                // `LockResult`, the second works on the locked data (an `Option`), whose
                // result is no guard.
                if let Expr::MethodCall(inner) = &*call.receiver
                    && takes_value_out(inner)
                    && takes_value_out(call)
                {
                    return None;
                }
                self.guard_call_awaited(&call.receiver, candidates, GuardUse::Unwrapped)
            }
            Expr::Try(inner) => self.guard_call_awaited(&inner.expr, candidates, GuardUse::Other),
            Expr::Await(inner) => {
                self.guard_call_awaited(&inner.base, candidates, GuardUse::Awaited)
            }
            Expr::Paren(inner) => self.guard_call_awaited(&inner.expr, candidates, used),
            Expr::Reference(inner) => {
                self.guard_call_awaited(&inner.expr, candidates, GuardUse::Other)
            }
            Expr::Unary(inner) => self.guard_call_awaited(&inner.expr, candidates, GuardUse::Other),
            // `map.entry(k).or_insert_with(..)`: a sharded map's entry gives a reference into
            // its shard, which stays locked while the reference lives.
            Expr::MethodCall(call)
                if ENTRY_REFERENCES.contains(&call.method.to_string().as_str())
                    && matches!(&*call.receiver, Expr::MethodCall(entry) if entry.method == "entry") =>
            {
                self.guard_call_awaited(&call.receiver, candidates, GuardUse::Other)
            }
            // `RwLockReadGuard::map(self.0.read(), |c| &c.input)`: a guard of part of the data,
            // still holding the lock.
            Expr::Call(call) if is_guard_map(&call.func) && !call.args.is_empty() => {
                self.guard_call_awaited(&call.args[0], candidates, GuardUse::Other)
            }
            Expr::MethodCall(call) => {
                // An `async fn` helper's future is no guard until awaited.
                if used != GuardUse::Awaited && self.guard_helper(call).is_some_and(|h| h.is_async)
                {
                    return None;
                }
                let kind = match self.guard_kind(call) {
                    None if candidates => self.candidate_kind(call, used),
                    kind => kind,
                };
                kind.filter(|kind| used == GuardUse::Awaited || !self.is_async_lock(kind))
                    .map(|kind| (call, kind))
            }
            _ => None,
        }
    }

    /// Whether a guard method is an async lock's (its future must be awaited to lock).
    pub(super) fn is_async_lock(&self, kind: &str) -> bool {
        self.tables.lock(kind).is_some_and(|l| l.is_async)
    }

    /// `std::sync::Mutex::lock` when `call` takes a lock's guard.
    pub(super) fn guard_kind(&self, call: &syn::ExprMethodCall) -> Option<String> {
        let method = call.method.to_string();
        if let Some(helper) = self.guard_helper(call) {
            return Some(helper.kind.clone());
        }
        let tabled = self.semantic.is_guard_method(&method);
        let Some(Returns::One(ty)) = self.semantic.type_of(&call.receiver) else {
            return None;
        };
        // A `DashMap`'s shard locks (its type string is the collection's).
        let ty = super::semantic::sharded_lock_type(&ty).map_or(ty, str::to_string);
        let kind = format!("{ty}::{method}");
        if tabled && self.tables.lock(&kind).is_some() {
            return Some(kind);
        }
        // What a project function returns (`let l = first(); l.lock()`, `Some(l) =
        // slices.find(..)`), typed by the project phase: the guard method of whatever lock
        // type it turns out to be.
        if tabled && ty.contains(".(") {
            return Some(kind);
        }
        // A method the project adds to a library lock type (`trait MutexExt { fn
        // lock_or_panic(&self) -> MutexGuard<'_, T>; }`, maybe in another crate): kept as
        // `std::sync::Mutex::lock_or_panic`; the project phase keeps it only where the project
        // defines that method to return the lock's guard (see `FileModel::guard_methods`).
        let candidate = !tabled
            && !STD_METHODS.contains(&method.as_str())
            && self.semantic.is_waiting_lock_type(&ty);
        candidate.then_some(kind)
    }

    /// `::lock` for a `lock()`/`read()`/`write()` whose receiver's type is unknown here but
    /// that names a lock elsewhere (a `static` or a field); the project's lock definitions tell.
    /// A result that is unwrapped or awaited is noted (`::lock.unwrap`, `::lock.await`): it
    /// tells the lock's kind when the type is a library's the tables do not know.
    pub(super) fn candidate_kind(
        &self,
        call: &syn::ExprMethodCall,
        used: GuardUse,
    ) -> Option<String> {
        let method = call.method.to_string();
        let suffix = match used {
            GuardUse::Unwrapped => ".unwrap",
            GuardUse::Awaited => ".await",
            GuardUse::Other => "",
        };
        if let Some(kind) = self.sharded_candidate(call, &method, suffix) {
            return Some(kind);
        }
        if !call.args.is_empty() {
            // `self.inner.lock(&mut node)`: a queue lock of the project (MCS) given its
            // waiter's node. Only the project's own lock type can confirm it (see
            // `graph::locks::candidate_guard`), so the result's use suggests no library lock.
            return match self.lock_identity(&call.receiver) {
                Some(lock) if method == "lock" && lock.scope != LockScope::Local => {
                    Some("::lock".to_string())
                }
                // `let raw = HEAP.raw_data(r)?;` of a method of another file that returns a
                // guard of its object's lock (a sharded map's entry for a key).
                _ => self.other_file_guard_method(call, &method, used),
            };
        }
        if !matches!(method.as_str(), "lock" | "read" | "write") {
            return self
                .other_file_guard_method(call, &method, used)
                .or_else(|| self.helper_candidate(call, &method, suffix));
        }
        match self.lock_identity(&call.receiver) {
            Some(lock) if lock.scope != LockScope::Local => {
                // `self.client.lock()` in an `impl` that writes the struct's arguments: the one
                // lock argument with that guard method, for the project phase to use when the
                // struct's module gives the field no type of its own.
                let mut hinted = self.semantic.impl_locks.iter().filter(|ty| {
                    lock.via_self && self.tables.lock(&concat(&[ty, "::", &method])).is_some()
                });
                Some(match (hinted.next(), hinted.next()) {
                    (Some(ty), None) => format!("::{method}{suffix}~{ty}"),
                    _ => format!("::{method}{suffix}"),
                })
            }
            // A lock wrapper of the project (`manager: &Lockable` with `impl Lockable { async
            // fn write(&self) -> RwLockWriteGuard<..> }` in another module).
            _ => self.other_file_guard_method(call, &method, used),
        }
    }

    /// `::rl` for a method this file does not define, called with no arguments on a field or
    /// `static` whose type this file cannot see (`client.leader.inner.rl()` with `inner:
    /// Arc<RwLock<Inner>>` in another module): the project phase keeps it where the name's
    /// type is a library lock the project gives that method, returning one of its guards
    /// (`impl<T> HandyRwLock<T> for RwLock<T> { fn rl(&self) .. { self.read().unwrap() } }`).
    fn helper_candidate(
        &self,
        call: &syn::ExprMethodCall,
        method: &str,
        suffix: &str,
    ) -> Option<String> {
        if !call.args.is_empty()
            || STD_METHODS.contains(&method)
            || self.file_methods.contains(method)
            || matches!(self.semantic.type_of(&call.receiver),
                Some(Returns::One(ty)) if !super::semantic::is_deferred(&ty))
        {
            return None;
        }
        self.field_candidate(call, method, suffix)
    }

    /// `::method` for a guard method called on a field or `static` (not a local, whose lock
    /// only this function can tell).
    fn field_candidate(
        &self,
        call: &syn::ExprMethodCall,
        method: &str,
        suffix: &str,
    ) -> Option<String> {
        let lock = self.lock_identity(&call.receiver)?;
        (lock.scope != LockScope::Local).then(|| format!("::{method}{suffix}"))
    }

    /// `::iter` for a guard method of a sharded map (`iter`, `get`, `entry` of a `DashMap`) on
    /// a field or `static` whose type this file cannot see into: a `type` alias of another
    /// module or crate (`clients: SharedClients` with `type SharedClients = Arc<FxDashMap<..>>`
    /// in `lib.rs`), or a field of one. The project phase keeps it where it types the name as
    /// a sharded map (see `graph::locks::candidate_guard`).
    fn sharded_candidate(
        &self,
        call: &syn::ExprMethodCall,
        method: &str,
        suffix: &str,
    ) -> Option<String> {
        let sharded = SHARDED_LOCK_TYPES
            .iter()
            .any(|ty| self.tables.lock(&concat(&[ty, "::", method])).is_some());
        if !sharded {
            return None;
        }
        match self.semantic.type_of(&call.receiver) {
            None => {}
            // A name of the project or a library, not a collection (`{}Conn`), not std's.
            Some(Returns::One(ty))
                if ty.starts_with(|c: char| c.is_ascii_alphabetic())
                    && ty.contains("::")
                    && !is_standard_path(&ty)
                    && !self.semantic.is_lock_type(&ty) => {}
            Some(_) => return None,
        }
        self.field_candidate(call, method, suffix)
    }

    /// `?guard:Type::method` for a method of a project type that this file does not define (`vm.resource_allocator()`, `impl Vm` in another module): the project
    /// phase keeps it where that method returns a guard of one of its object's locks
    /// (`FileModel::guard_functions`).
    fn other_file_guard_method(
        &self,
        call: &syn::ExprMethodCall,
        method: &str,
        used: GuardUse,
    ) -> Option<String> {
        if STD_METHODS.contains(&method) || self.file_methods.contains(method) {
            return None;
        }
        let Some(Returns::One(ty)) = self.semantic.type_of(&call.receiver) else {
            return None;
        };
        // Not a type only the project phase knows (`Pool::region.()`): its methods are not
        // looked up by name.
        let module = self.semantic.module();
        let same_crate = ty.split("::").next() == module.split("::").next();
        let named = ty.contains("::") && !super::semantic::is_deferred(&ty);
        // Awaited, it is an `async fn`'s guard (`?guard:Type::method.await`).
        let awaited = match used {
            GuardUse::Awaited => AWAITED_GUARD,
            _ => "",
        };
        (same_crate && named).then(|| format!("?guard:{ty}::{method}{awaited}"))
    }

    pub(super) fn pointless(&mut self, call: &syn::ExprMethodCall, why: Pointless) {
        let span = expr_start(&call.receiver)..call.paren_token.span.close().byte_range().end;
        let lock = PointlessLock {
            span,
            lock: written(&call.receiver),
            why,
        };
        self.model.functions[self.current]
            .pointless_locks
            .push(lock);
    }

    /// Records a guard held from its acquisition to `region_end`; `body_awaits` gives the
    /// awaits of the code that runs while it is held (asked only for a thread-blocking lock in
    /// async code).
    pub(super) fn hold(
        &mut self,
        call: &syn::ExprMethodCall,
        kind: String,
        region_end: usize,
        body_awaits: impl FnOnce() -> Vec<Span>,
    ) {
        let start = expr_start(&call.receiver);
        self.hold_from(call, kind, region_end, body_awaits, start);
    }

    /// [`Self::hold`], with the acquisition's span starting at `start`: before where the call
    /// is written when it runs before code written ahead of it (the right side of an
    /// assignment runs before the left side's guard is taken).
    pub(super) fn hold_from(
        &mut self,
        call: &syn::ExprMethodCall,
        kind: String,
        region_end: usize,
        body_awaits: impl FnOnce() -> Vec<Span>,
        start: usize,
    ) {
        if syntax::constructs(&call.receiver) && self.tables.lock(&kind).is_some() {
            // `Mutex::new(x).lock()`: a lock nobody else can ever see.
            self.pointless(call, Pointless::CreatedWhereAcquired);
        }
        let span = start..call.paren_token.span.close().byte_range().end;
        self.hold_at(call, kind, region_end, body_awaits, span);
    }

    /// [`Self::hold`], with the acquisition at `span`: where the guard is obtained when that
    /// is not where its lock call is written (an `async` block that takes it, awaited later).
    pub(super) fn hold_at(
        &mut self,
        call: &syn::ExprMethodCall,
        kind: String,
        region_end: usize,
        body_awaits: impl FnOnce() -> Vec<Span>,
        span: Span,
    ) {
        // A guard method the project defines (see `guard_kind`) is taken as a blocking lock's
        // until the project phase tells.
        let blocks_thread = self.tables.lock(&kind).is_none_or(|l| !l.is_async);
        let awaits = if blocks_thread && self.context == Context::Async {
            body_awaits()
                .into_iter()
                .filter(|a| a.start > span.end && a.start < region_end)
                .collect()
        } else {
            Vec::new()
        };
        // A helper returning a guard of one of its object's fields (`s.lock_m()`) takes the
        // lock of that field of the receiver.
        let helper = self.guard_helper(call).cloned();
        let via_self = matches!(&*call.receiver, Expr::Path(p) if p.path.is_ident("self"));
        let (named, lock) = match helper.map(|h| (h.field, h.identity)) {
            Some((Some(field), Some(identity))) => (
                Some(LockName {
                    identity,
                    scope: LockScope::Field,
                    via_self,
                }),
                format!("{}.{field}", written(&call.receiver)),
            ),
            Some((Some(field), None)) => (
                self.field_identity(&call.receiver, &field),
                format!("{}.{field}", written(&call.receiver)),
            ),
            // A guard method of another file (`?guard:Type::method`): the project phase finds
            // the lock; until then it is named by the method.
            _ if kind.starts_with("?guard:") => (
                Some(LockName {
                    identity: kind["?guard:".len()..].to_string(),
                    scope: LockScope::Field,
                    via_self,
                }),
                format!("{}.{}()", written(&call.receiver), call.method),
            ),
            _ => (self.lock_identity(&call.receiver), written(&call.receiver)),
        };
        self.record_hold(span, region_end, named, lock, kind, awaits);
    }

    /// Records that `lock` (named `named`, as written `lock`) is held from `span` to
    /// `region_end`.
    pub(super) fn record_hold(
        &mut self,
        span: Span,
        region_end: usize,
        named: Option<LockName>,
        lock: String,
        kind: String,
        awaits: Vec<Span>,
    ) {
        let LockName {
            identity,
            scope,
            via_self,
        } = named.unwrap_or(LockName {
            identity: String::new(),
            scope: LockScope::Local,
            via_self: false,
        });
        let object = self
            .held_objects
            .of_lock(self.current, &lock, scope, via_self);
        let parameter = match lock.rsplit_once('.') {
            Some((owner, _)) if scope == LockScope::Field && !via_self => {
                self.parameter_index(owner)
            }
            None if scope == LockScope::Local => self.parameter_index(&lock),
            _ => None,
        };
        let hold = LockHold {
            region: span.start..region_end.max(span.end),
            span,
            lock,
            kind,
            identity,
            scope,
            via_self,
            awaits,
            context: self.context,
            unreleased: false,
            closure: self.closure,
            object,
            parameter,
            argument: None,
            holes: thin_vec::ThinVec::new(),
        };
        self.model.functions[self.current].lock_holds.push(hold);
    }

    /// The index (counting `self`) of the current function's parameter named `name`.
    fn parameter_index(&self, name: &str) -> Option<u8> {
        let index = self
            .parameters
            .iter()
            .position(|p| p == name && p != "self")?;
        u8::try_from(index).ok()
    }

    /// Which object an expression is, seen from the current function: its own (`self`), one
    /// of its parameters, another.
    pub(super) fn object_receiver(&self, expr: &Expr) -> Receiver {
        syntax::object_written(expr).map_or(Receiver::Other, |name| self.receiver_named(&name))
    }

    /// [`Self::object_receiver`] of an object as written.
    fn receiver_named(&self, name: &str) -> Receiver {
        match name {
            "self" => Receiver::Own,
            name => self
                .parameter_index(name)
                .map_or(Receiver::Other, Receiver::Parameter),
        }
    }

    /// Notes on the call just recorded which of its arguments are objects whose fields' locks
    /// the analysis follows into the callee (see [`crate::model::Call::object_arguments`]);
    /// `self_offset` is 1 for a method call (its receiver is parameter 0).
    pub(super) fn note_object_arguments(
        &mut self,
        args: &syn::punctuated::Punctuated<Expr, syn::Token![,]>,
        self_offset: usize,
    ) {
        let mut found = thin_vec::ThinVec::new();
        for (index, arg) in args.iter().enumerate() {
            let Ok(position) = u8::try_from(index + self_offset) else {
                break;
            };
            let Some(name) = syntax::object_written(arg) else {
                continue;
            };
            let receiver = self.receiver_named(&name);
            let object = self.held_objects.of_receiver(self.current, || name);
            if receiver != Receiver::Other || object != 0 {
                found.push(ObjectArgument {
                    position,
                    receiver,
                    object,
                });
            }
        }
        if !found.is_empty()
            && let Some(call) = self.model.functions[self.current].calls.last_mut()
        {
            call.object_arguments = found;
        }
    }
}

/// A method that runs a closure it is given while it holds a lock of its object (see
/// `Lowerer::closure_locker`).
#[derive(Clone, Debug)]
pub(super) struct ClosureLocker {
    /// The closure parameter's index (counting `self`).
    parameter: usize,
    /// The guard method (`parking_lot::Mutex::lock`).
    kind: String,
    /// The field of its object whose lock it holds (`None`: the object itself is the lock).
    field: Option<String>,
}

/// Whether a method call unwraps the `LockResult` (or a try-acquisition's `Option`) it is
/// called on, keeping the guard: `.unwrap()`, `.expect(..)`, `.unwrap_or_else(..)`,
/// `.map_err(..)` (`m.read().map_err(|e| ..)?`: the error changes, the guard stays), and
/// `.ok_or(..)`, `.ok()`, `.context(..)` that turn one into the other.
pub(super) fn unwraps_lock_result(call: &syn::ExprMethodCall) -> bool {
    matches!(
        call.method.to_string().as_str(),
        "unwrap"
            | "expect"
            | "unwrap_or_else"
            | "map_err"
            | "ok_or"
            | "ok_or_else"
            | "ok"
            | "context"
            | "with_context"
    )
}

/// Whether a method call takes the value out of a `Result` or `Option` (`map_err` keeps it in).
fn takes_value_out(call: &syn::ExprMethodCall) -> bool {
    matches!(
        call.method.to_string().as_str(),
        "unwrap" | "expect" | "unwrap_or_else"
    )
}

/// How the value of a guard-taking call is used, as far as it tells what the lock is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GuardUse {
    /// `m.lock().unwrap()`, `.expect(..)`: a `LockResult`, as a poisoning lock returns.
    Unwrapped,
    /// `m.lock().await`: an async lock.
    Awaited,
    Other,
}

/// Whether a macro is `lazy_static!` (or `lazy_static::lazy_static!`).
pub(super) fn is_lazy_static(mac: &syn::Macro) -> bool {
    mac.path
        .segments
        .last()
        .is_some_and(|s| s.ident == "lazy_static")
}

/// A method of the file that returns a guard (see [`Lowerer::collect_lock_helpers`]).
#[derive(Clone, Debug)]
pub(super) struct GuardHelper {
    /// The guard method it calls (`std::sync::Mutex::lock`).
    kind: String,
    /// The field of its object whose lock it takes (`None`: the object itself is the lock),
    /// as written after `self.` (`common.alloc`).
    field: Option<String>,
    /// The identity of that field's lock (`vm::Common.alloc`), when the file knows it.
    identity: Option<String>,
    /// An `async fn`: its future holds nothing until it is awaited.
    is_async: bool,
}

/// Methods that a lock, or a wrapper a lock's type is seen through (`Arc`, `Option`,
/// `OnceLock`, `LazyLock`), has from std, and that do not return its guard: never a guard
/// method the project adds.
const STD_METHODS: &[&str] = &[
    "as_deref",
    "as_mut",
    "as_ref",
    "clear_poison",
    "clone",
    "expect",
    "get",
    "get_mut",
    "get_or_init",
    "get_or_try_init",
    "into_inner",
    "is_none",
    "is_poisoned",
    "is_some",
    "map",
    "take",
    "to_owned",
    "unwrap",
];

/// The value a function body returns: its tail expression or a `return`, looking through
/// `Box::new(..)`, `Some(..)`, `Ok(..)`, blocks and a struct literal with one guard field.
fn returned_value(block: &syn::Block) -> Option<&Expr> {
    let tail = match block.stmts.last()? {
        syn::Stmt::Expr(expr, None) => expr,
        syn::Stmt::Expr(Expr::Return(ret), _) => ret.expr.as_deref()?,
        _ => return None,
    };
    let mut expr = tail;
    for _ in 0..8 {
        expr = match expr {
            Expr::Call(call) if call.args.len() == 1 => {
                if !syntax::wraps_its_argument(&call.func) {
                    return Some(expr);
                }
                &call.args[0]
            }
            Expr::Block(block) => match block.block.stmts.last()? {
                syn::Stmt::Expr(inner, None) => inner,
                _ => return None,
            },
            Expr::Paren(inner) => &inner.expr,
            // `*self.limits.read()`: a copy of the data; the guard is dropped on return.
            Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => return None,
            Expr::Struct(literal) if literal.fields.len() == 1 => &literal.fields[0].expr,
            // `QueueGuard { state: self.inner.lock().unwrap(), mem: &self.mem }`: the one field
            // that takes a lock.
            Expr::Struct(literal) => {
                let mut taking = literal
                    .fields
                    .iter()
                    .map(|field| &field.expr)
                    .filter(|value| takes_a_lock(value));
                match (taking.next(), taking.next()) {
                    (Some(one), None) => one,
                    _ => return None,
                }
            }
            // `let guard = self.db.read().await; LbRO { guard }`: what the local was bound to.
            Expr::Path(path) if path.path.get_ident().is_some() => {
                let name = path.path.get_ident()?;
                let bound = block.stmts.iter().rev().find_map(|stmt| match stmt {
                    syn::Stmt::Local(local) => match (&local.pat, &local.init) {
                        (Pat::Ident(ident), Some(init)) if ident.ident == *name => {
                            Some(&*init.expr)
                        }
                        _ => None,
                    },
                    _ => None,
                });
                bound?
            }
            other => return Some(other),
        };
    }
    None
}

/// Whether a value is a lock call's guard as written (`self.inner.lock().unwrap()`,
/// `m.read().await`, `m.write()`).
fn takes_a_lock(value: &Expr) -> bool {
    let value = match syntax::strip_unwraps(value) {
        Expr::Await(awaited) => &*awaited.base,
        other => other,
    };
    matches!(value, Expr::MethodCall(call)
    if call.args.is_empty()
        && matches!(
            call.method.to_string().as_str(),
            "lock" | "read" | "write" | "upgradable_read" | "lock_owned" | "read_owned"
                | "write_owned" | "lock_arc" | "read_arc" | "write_arc"
        ))
}

/// The methods a function body calls on the local `name`, also through a clone of it
/// (`name.lock()`, `Arc::clone(&name).write_owned()`; not in closures or nested items).
fn methods_called_on(block: &syn::Block, name: &str) -> Vec<String> {
    let mut calls = OwnMethodCalls::default();
    calls.visit_block(block);
    calls
        .0
        .into_iter()
        .filter(|call| syntax::object_written(&call.receiver).as_deref() == Some(name))
        .map(|call| call.method.to_string())
        .collect()
}

/// Methods of a sharded map's entry that give a reference into the map (dashmap's
/// `or_insert`, `or_insert_with`, `or_default`, `or_try_insert_with`).
pub(super) const ENTRY_REFERENCES: &[&str] = &[
    "or_insert",
    "or_insert_with",
    "or_default",
    "or_try_insert_with",
];

/// Whether a function maps a guard to one of part of its data (`RwLockReadGuard::map`,
/// `MutexGuard::try_map`, `MappedRwLockWriteGuard::map`, dashmap's and `RefCell`'s
/// `Ref::map`/`RefMut::map`): the lock stays held.
fn is_guard_map(func: &Expr) -> bool {
    let Expr::Path(path) = func else {
        return false;
    };
    let mut segments = path.path.segments.iter().rev();
    let (Some(method), Some(owner)) = (segments.next(), segments.next()) else {
        return false;
    };
    matches!(
        method.ident.unraw().to_string().as_str(),
        "map" | "try_map" | "filter_map"
    ) && is_guard_type_name(&owner.ident.unraw().to_string())
}

/// Whether a type's name is a guard's (`MutexGuard`, `MappedRwLockReadGuard`, dashmap's
/// `Ref`/`RefMut`/`MappedRef`/`MappedRefMut`, `RefCell`'s `Ref`/`RefMut`).
fn is_guard_type_name(name: &str) -> bool {
    name.ends_with("Guard") || matches!(name, "Ref" | "RefMut" | "MappedRef" | "MappedRefMut")
}

/// Whether a function's declared return type is a guard, also in an `Option` or `Result`.
fn names_guard_type(output: &syn::ReturnType) -> bool {
    let syn::ReturnType::Type(_, ty) = output else {
        return false;
    };
    let mut pending = vec![&**ty];
    while let Some(ty) = pending.pop() {
        let Type::Path(path) = ty else { continue };
        let Some(last) = path.path.segments.last() else {
            continue;
        };
        let name = last.ident.unraw().to_string();
        if is_guard_type_name(&name) {
            return true;
        }
        if matches!(name.as_str(), "Option" | "Result")
            && let syn::PathArguments::AngleBracketed(arguments) = &last.arguments
            && let Some(syn::GenericArgument::Type(inner)) = arguments.args.first()
        {
            pending.push(inner);
        }
    }
    false
}

/// The start of a chain that only wraps or projects what it starts from
/// (`self.data.get(k).and_then(..).ok_or_else(..)`: `self.data.get(k)`).
fn through_guard_adapters(mut value: &Expr) -> &Expr {
    while let Expr::MethodCall(call) = value
        && matches!(
            call.method.to_string().as_str(),
            "and_then"
                | "map"
                | "ok_or"
                | "ok_or_else"
                | "ok"
                | "map_err"
                | "context"
                | "with_context"
        )
    {
        value = &call.receiver;
    }
    value
}

/// Whether a lock type guards `()` (`Mutex<()>`, also inside `Arc<..>`).
fn guards_unit(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    match args.args.first() {
        Some(syn::GenericArgument::Type(Type::Tuple(unit))) => unit.elems.is_empty(),
        Some(syn::GenericArgument::Type(inner)) => guards_unit(inner),
        _ => false,
    }
}

/// A function of a module (see `Lowerer::functions_of`).
type FileFunction<'i> = (
    String,
    Option<String>,
    HashMap<String, String>,
    &'i syn::Signature,
    &'i syn::Block,
);

/// How a call names its callee: a path (`lookup(..)`, `Node::lookup(..)`) or a method of
/// `self` (`self.lookup(..)`).
enum CalleeSyntax<'ast> {
    Path(&'ast syn::Path),
    SelfMethod(String),
}

/// The calls of a body, closures included (not nested items): callee, arguments, and how many
/// parameters come before the first argument (1 for a method of `self`).
#[derive(Default)]
struct AllCalls<'ast>(Vec<(CalleeSyntax<'ast>, Vec<&'ast Expr>, usize)>);

impl<'ast> Visit<'ast> for AllCalls<'ast> {
    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let Expr::Path(path) = &*call.func {
            self.0.push((
                CalleeSyntax::Path(&path.path),
                call.args.iter().collect(),
                0,
            ));
        }
        syn::visit::visit_expr_call(self, call);
    }
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if matches!(&*call.receiver, Expr::Path(p) if p.path.is_ident("self")) {
            let method = CalleeSyntax::SelfMethod(call.method.to_string());
            self.0.push((method, call.args.iter().collect(), 1));
        }
        syn::visit::visit_expr_method_call(self, call);
    }
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_expr(&mut self, expr: &'ast Expr) {
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
            syn::visit::visit_expr(self, expr)
        });
    }
}
