//! The traversal core: walks the syntax tree in source order, keeps track of where it is
//! (module, `impl`, function region, closure, loop depth, execution context) and dispatches
//! each node to the concern that lowers it. No fact is decided here.

use quote::ToTokens;
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Expr, Type};

use super::Lowerer;
use super::guards::BlockMoves;
use super::loops::{branches, spins_on_lock};
use super::syntax::{bound_name, bound_names, byte_span, expr_start};
use super::threads::{HandedOver, async_block_key, closure_key};
use crate::knowledge::Returns;
use crate::model::{Class, Context, Function, FunctionKind, Span};

impl Lowerer<'_> {
    /// Lowers a function-like region (fn, async block, async closure) as a new model function.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn region(
        &mut self,
        name: String,
        canonical: String,
        kind: FunctionKind,
        is_async: bool,
        span: Span,
        body: impl FnOnce(&mut Self),
    ) {
        let index = self.model.functions.len();
        self.model.functions.push(Function::new(
            name,
            canonical,
            kind,
            is_async,
            span,
            Some(self.current),
        ));
        let saved = (self.current, self.context);
        self.current = index;
        self.context = if is_async {
            Context::Async
        } else {
            Context::Sync
        };
        let loop_depth = std::mem::take(&mut self.loop_depth);
        let for_depth = std::mem::take(&mut self.for_depth);
        let inline_closures = std::mem::take(&mut self.inline_closures);
        let local_closures = std::mem::take(&mut self.local_closures);
        let stored_locks = std::mem::take(&mut self.stored_locks);
        let call_results = std::mem::take(&mut self.call_results);
        let atomic_locals = std::mem::take(&mut self.atomic_locals);
        let membership_locals = std::mem::take(&mut self.membership_locals);
        self.semantic.push_locals();
        body(self);
        self.semantic.pop_locals();
        let stored = std::mem::replace(&mut self.stored_locks, stored_locks);
        self.call_results = call_results;
        for hold in &mut self.model.functions[index].lock_holds {
            if let Some((_, field)) = stored.iter().find(|(local, _)| *local == hold.identity) {
                hold.identity = field.identity.clone();
                hold.scope = field.scope;
                hold.via_self = false;
                hold.parameter = None;
            }
        }
        (self.for_depth, self.atomic_locals) = (for_depth, atomic_locals);
        self.membership_locals = membership_locals;
        self.inline_closures = inline_closures;
        self.local_closures = local_closures;
        (self.current, self.context, self.loop_depth) = (saved.0, saved.1, loop_depth);
    }

    pub(super) fn qualified(&self, name: &str) -> String {
        self.prefix
            .iter()
            .map(String::as_str)
            .chain([name])
            .collect::<Vec<_>>()
            .join("::")
    }

    /// The body of a `while` or `loop` (which `rechecks` a condition, or not).
    fn loop_body(&mut self, body: &syn::Block, rechecks: bool) {
        let spins = spins_on_lock(body);
        self.loop_depth += 1;
        let outer = std::mem::replace(&mut self.loop_rechecks, rechecks);
        self.spin_waits += usize::from(spins);
        self.visit_block(body);
        self.spin_waits -= usize::from(spins);
        self.loop_rechecks = outer;
        self.loop_depth -= 1;
    }

    pub(super) fn function(&mut self, sig: &syn::Signature, block: &syn::Block) {
        let ident = sig.ident.unraw().to_string();
        let name = self.qualified(&ident);
        let canonical = match (
            &self.semantic.self_type,
            self.model.functions[self.current].kind,
        ) {
            (Some(owner), FunctionKind::Module) => {
                let owner = self.impl_alias.as_ref().unwrap_or(owner);
                format!("{owner}::{ident}")
            }
            (_, FunctionKind::Module) => format!("{}::{ident}", self.semantic.module()),
            _ => format!("{}::{ident}", self.model.functions[self.current].canonical),
        };
        let is_async = sig.asyncness.is_some();
        // What it returns (once awaited, for an `async fn`), for calls of other files.
        if let syn::ReturnType::Type(_, output) = &sig.output {
            if let Some(ty) = self.semantic.return_type(output) {
                self.model.returns.push((canonical.clone(), ty));
            }
            // `-> (TestProcess, LayerConnection)`: each element, for `let (p, c) = f()`.
            for (i, element) in self.tuple_elements(output).iter().enumerate() {
                if let Some(ty) = self.semantic.return_type(element) {
                    let name = format!("{canonical}.{i}");
                    self.model.returns.push((name, ty));
                }
            }
        }
        let takes_guard = sig
            .inputs
            .iter()
            .any(|input| matches!(input, syn::FnArg::Typed(typed) if is_guard_type(&typed.ty)));
        let outer_takes_guard = std::mem::replace(&mut self.takes_guard, takes_guard);
        let parameters = sig.inputs.iter().map(|input| match input {
            syn::FnArg::Receiver(_) => "self".to_string(),
            syn::FnArg::Typed(typed) => match &*typed.pat {
                syn::Pat::Ident(ident) => ident.ident.unraw().to_string(),
                _ => String::new(),
            },
        });
        let outer_parameters = std::mem::replace(&mut self.parameters, parameters.collect());
        let outer_guarded = std::mem::take(&mut self.semantic.guarded_parameters);
        let outer_instantiated = std::mem::take(&mut self.semantic.instantiated_parameters);
        self.semantic.push_generics(&sig.generics);
        self.region(
            name,
            canonical,
            FunctionKind::Function,
            is_async,
            byte_span(sig.ident.span()),
            |this| {
                this.exclusive_self = false;
                for input in &sig.inputs {
                    if let syn::FnArg::Receiver(receiver) = input {
                        this.exclusive_self = matches!(
                            receiver.kind,
                            syn::ReceiverKind::Value | syn::ReceiverKind::Reference(_, _, Some(_))
                        );
                        let ty = this.semantic.self_type.clone().map(Returns::One);
                        this.semantic.bind_local("self".to_string(), ty);
                    }
                    if let syn::FnArg::Typed(typed) = input {
                        this.semantic.bind_pattern(&typed.pat, None);
                        let ty = this.semantic.resolve_annotation(&typed.ty);
                        this.semantic.bind_pattern(&typed.pat, ty);
                        if let (Some(name), Some(guarded)) = (
                            bound_name(&typed.pat),
                            this.semantic.guarded_type(&typed.ty),
                        ) {
                            this.semantic.guarded_parameters.insert(name, guarded);
                        }
                        let fields = this.semantic.impl_field_types(&typed.ty);
                        if let (Some(name), false) = (bound_name(&typed.pat), fields.is_empty()) {
                            this.semantic.instantiated_parameters.insert(name, fields);
                        }
                    }
                }
                this.visit_block(block);
                this.forget_unshared_atomics(block);
                this.note_unchecked_fills(block);
            },
        );
        self.semantic.guarded_parameters = outer_guarded;
        self.semantic.instantiated_parameters = outer_instantiated;
        self.semantic.pop_generics();
        self.takes_guard = outer_takes_guard;
        self.parameters = outer_parameters;
    }
}

impl Lowerer<'_> {
    /// The canonical type a function's written return type names (`Self` is the `impl`'s type),
    /// when it is one the project phase can use.
    /// The element types of a returned tuple, also inside a `Result` (`io::Result<(A, B)>`).
    fn tuple_elements<'t>(&self, output: &'t Type) -> Vec<&'t Type> {
        match output {
            Type::Tuple(tuple) => tuple.elems.iter().collect(),
            Type::Path(path) => match path.path.segments.last() {
                Some(last) if last.ident.unraw().to_string().ends_with("Result") => {
                    match &last.arguments {
                        syn::PathArguments::AngleBracketed(args) => match args.args.first() {
                            Some(syn::GenericArgument::Type(ok)) => self.tuple_elements(ok),
                            _ => Vec::new(),
                        },
                        _ => Vec::new(),
                    }
                }
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}

/// Whether a parameter's type is a lock guard (`MutexGuard<'a, T>`, `&mut RwLockWriteGuard<..>`).
fn is_guard_type(ty: &Type) -> bool {
    match ty {
        Type::Reference(reference) => is_guard_type(&reference.elem),
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident.unraw().to_string().ends_with("Guard")),
        _ => false,
    }
}

/// Macros whose bodies are not code that runs where the macro stands.
const NON_CODE_MACROS: &[&str] = &[
    "quote",
    "quote_spanned",
    "parse_quote",
    "stringify",
    "concat",
    "include_str",
    "include_bytes",
    "macro_rules",
];

impl Lowerer<'_> {
    /// Whether an expression asks whether a runtime runs on this thread, as a `Result` that
    /// is `Err` off one (`Handle::try_current()`: `[loop-probes]` in `rules/types.toml`).
    fn probes_runtime(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Paren(inner) => self.probes_runtime(&inner.expr),
            Expr::Call(call) => match call.func.as_ref() {
                Expr::Path(path) => self
                    .semantic
                    .resolve_qualified_name(&path.path)
                    .map(|name| self.semantic.unalias_path(name))
                    .is_some_and(|name| self.tables.loop_probes.contains(&name)),
                _ => false,
            },
            _ => false,
        }
    }

    /// For an `if` on [`Self::probes_runtime`], whether its `then` branch (`true`: `if let
    /// Err(_) = Handle::try_current()`, `.is_err()`) or its `else` (`false`: `if let Ok(h) =
    /// ..`, `.is_ok()`) is the one that runs off any runtime.
    fn off_runtime_branch(&self, condition: &Expr) -> Option<bool> {
        match condition {
            Expr::Let(bound) if self.probes_runtime(&bound.expr) => {
                match variant_of(&bound.pat).as_deref() {
                    Some("Err") => Some(true),
                    Some("Ok") => Some(false),
                    _ => None,
                }
            }
            Expr::MethodCall(call) if self.probes_runtime(&call.receiver) => {
                match call.method.to_string().as_str() {
                    "is_err" => Some(true),
                    "is_ok" => Some(false),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

impl Lowerer<'_> {
    /// `let bucket: Arc<Mutex<Ratelimit>> = ..;`, `let bucket = Arc::clone(lock);` of a lock
    /// parameter: what the local's guard dereferences to, as for a lock parameter (a later
    /// `let` of the name forgets it).
    fn note_guarded_local(&mut self, name: &str, local: &syn::Local) {
        let annotated = match &local.pat {
            syn::Pat::Type(typed) => self.semantic.guarded_type(&typed.ty),
            _ => None,
        };
        let copied = || {
            let init = local.init.as_ref()?;
            let source = super::syntax::cloned_from(&init.expr);
            if std::ptr::eq(source, init.expr.as_ref()) {
                return None;
            }
            let Expr::Path(path) = source else {
                return None;
            };
            let source = path.path.get_ident()?.to_string();
            self.semantic.guarded_parameters.get(&source).cloned()
        };
        // `Arc::new(Mutex::new(Ratelimit::default()))`: the lock built here and what it guards.
        let constructed = || {
            let init = local.init.as_ref()?;
            self.semantic.constructed_lock(&init.expr)
        };
        // `Arc::clone(&self.routes.write().await.entry(route).or_default())`: an element of a
        // collection field of locks.
        let element = || {
            let init = local.init.as_ref()?;
            self.semantic
                .element_lock(super::syntax::cloned_from(&init.expr))
        };
        match annotated
            .or_else(copied)
            .or_else(constructed)
            .or_else(element)
        {
            Some(guarded) => {
                self.semantic
                    .guarded_parameters
                    .insert(name.to_string(), guarded);
            }
            None => {
                self.semantic.guarded_parameters.remove(name);
            }
        }
    }
}

/// The variant a pattern matches (`Err(_)`, `Ok(handle)`), by its last path segment.
fn variant_of(pat: &syn::Pat) -> Option<String> {
    let path = match pat {
        syn::Pat::TupleStruct(pattern) => &pattern.path,
        syn::Pat::Path(pattern) => &pattern.path,
        _ => return None,
    };
    path.segments
        .last()
        .map(|segment| segment.ident.unraw().to_string())
}

impl<'ast, 't> Visit<'ast> for Lowerer<'t> {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        // A `#[should_panic]` test does what it does on purpose (re-locks a lock to see the
        // debug wrapper panic): not code to check.
        if expects_panic(&item.attrs) {
            return;
        }
        let index = self.model.functions.len();
        self.function(&item.sig, &item.block);
        // `#[tokio::main] async fn run()`: the macro makes a plain function that runs the body
        // on a runtime of its own; calling it runs it.
        if let Some(runtime) = runtime_entry(&item.attrs)
            && let Some(function) = self.model.functions.get_mut(index)
        {
            function.decorators.push(runtime);
        }
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.function(&item.sig, &item.block);
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(block) = &item.default {
            self.function(&item.sig, block);
        }
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        // `impl<F: Future> FutureWaitExt for F`: the methods are named after the trait, as
        // its default methods are.
        let blanket = self.semantic.blanket_trait(item);
        let name = match (&blanket, item.self_ty.as_ref(), &item.trait_) {
            (Some(_), _, Some((path, _))) => {
                path.segments.last().map(|s| s.ident.unraw().to_string())
            }
            (_, Type::Path(p), _) => p.path.segments.last().map(|s| s.ident.unraw().to_string()),
            _ => None,
        };
        let self_type = blanket.or_else(|| self.semantic.resolve_type(&item.self_ty));
        if let (Some(owner), Some((trait_path, _))) = (&self_type, &item.trait_) {
            let bases = self
                .semantic
                .resolve_qualified_name(trait_path)
                .into_iter()
                .collect();
            self.model.classes.push(Class {
                name: owner.clone(),
                bases,
            });
        }
        // `impl Builder` of `type Builder = GenericBuilder<DefaultMode>`: its methods are the
        // alias's; the generic type reaches them as a base (a value typed `GenericBuilder`).
        let alias = match (item.self_ty.as_ref(), &item.trait_, &self_type) {
            (Type::Path(p), None, Some(owner)) => self
                .semantic
                .resolve_qualified_name(&p.path)
                .filter(|written| written != owner && self.semantic.is_type_alias(written)),
            _ => None,
        };
        if let (Some(alias), Some(owner)) = (&alias, &self_type) {
            self.model.classes.push(Class {
                name: owner.clone(),
                bases: vec![alias.clone()],
            });
        }
        let saved_alias = std::mem::replace(&mut self.impl_alias, alias);
        let saved = std::mem::replace(&mut self.semantic.self_type, self_type);
        let fields = self.semantic.impl_field_types(&item.self_ty);
        let saved_fields = std::mem::replace(&mut self.semantic.impl_fields, fields);
        let locks = self.semantic.impl_lock_arguments(&item.self_ty);
        let saved_locks = std::mem::replace(&mut self.semantic.impl_locks, locks);
        self.prefix
            .push(name.unwrap_or_else(|| "<impl>".to_string()));
        self.semantic.push_generics(&item.generics);
        visit::visit_item_impl(self, item);
        self.semantic.pop_generics();
        self.prefix.pop();
        self.semantic.self_type = saved;
        self.impl_alias = saved_alias;
        self.semantic.impl_fields = saved_fields;
        self.semantic.impl_locks = saved_locks;
    }

    fn visit_item_trait(&mut self, item: &'ast syn::ItemTrait) {
        // Default methods are named after the trait: `ledger::db::Store::load`.
        let trait_path = format!("{}::{}", self.semantic.module(), item.ident);
        let saved = self.semantic.self_type.replace(trait_path);
        self.prefix.push(item.ident.unraw().to_string());
        visit::visit_item_trait(self, item);
        self.prefix.pop();
        self.semantic.self_type = saved;
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let Some((_, items)) = &item.content else {
            return;
        };
        let module = format!("{}::{}", self.semantic.module(), item.ident);
        self.prefix.push(item.ident.unraw().to_string());
        self.semantic.push_module(module, items);
        self.define_locks(items);
        visit::visit_item_mod(self, item);
        self.semantic.pop_module();
        self.prefix.pop();
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        let items = block.stmts.iter().filter_map(|s| match s {
            syn::Stmt::Item(item) => Some(item),
            _ => None,
        });
        let item_prefix = self.model.functions[self.current].canonical.clone();
        self.semantic.add_block_statics(items.clone());
        self.semantic.push_scope(items, &item_prefix, false);
        self.semantic.push_locals();
        let end = block.brace_token.span.close().byte_range().end;
        let mut bound_guards = Vec::new();
        let mut reads_under_lock = Vec::new();
        let moves = BlockMoves::of(&block.stmts);
        for i in 0..block.stmts.len() {
            self.guards_at(&block.stmts, i, end, &moves, &mut bound_guards);
            self.split_update(&block.stmts[i], &mut reads_under_lock);
            self.stale_atomic_result(&block.stmts, i);
            self.guard_clause_check_then_act(&block.stmts, i);
            // (Not a guard: `let _guard = m.lock();` holds the lock to the block's end. A
            // `lock()` on a lock whose type the project phase gives may be an async lock's
            // future, which IL501 tells once the callee is resolved.)
            if let Some(end) = unused_binding_call(&block.stmts, i)
                && let syn::Stmt::Local(local) = &block.stmts[i]
                && local.init.as_ref().is_none_or(|init| {
                    self.bound_guard_call(&init.expr).is_none_or(|(_, kind)| {
                        kind.starts_with("::") || super::semantic::is_deferred(&kind)
                    })
                })
            {
                self.discarded_call_end = Some(end);
            }
            if let Some(closure) = detached_closure(&block.stmts, i) {
                self.detached_closure = closure_key(closure);
            }
            self.visit_stmt(&block.stmts[i]);
        }
        // `let wfm = { let m = ..; m.wfm.clone() };`: the value's type, while the block's own
        // locals are in scope.
        self.block_value_type = match block.stmts.last() {
            Some(syn::Stmt::Expr(tail, None)) => self.semantic.type_of(tail),
            _ => None,
        };
        self.semantic.pop_locals();
        self.semantic.pop_scope();
    }

    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        if let syn::Stmt::Expr(expr, Some(_)) = stmt {
            self.discarded_call_end = call_end(expr);
        }
        visit::visit_stmt(self, stmt);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        // `#[allow(clippy::let_underscore_future)] let _ = f();` drops the future on purpose.
        if let (syn::Pat::Wild(_), Some(init)) = (&local.pat, &local.init)
            && !allows_dropped_future(&local.attrs)
        {
            self.discarded_call_end = call_end(&init.expr);
        }
        // `let reload = || ..;`: the number the closure is about to get (another `let` of
        // the name hides it).
        if let Some(name) = bound_name(&local.pat) {
            self.local_closures.retain(|(bound, _)| *bound != name);
            if let Some(init) = &local.init
                && let Expr::Closure(closure) = init.expr.as_ref()
                && closure.asyncness.is_none()
            {
                self.local_closures.push((name, self.closures + 1));
            }
        }
        if let Some(init) = &local.init {
            self.visit_expr(&init.expr);
            if let Some((_, diverge)) = &init.diverge {
                self.visit_expr(diverge);
            }
            if let Some(name) = bound_name(&local.pat) {
                self.note_call_result(&name, &init.expr);
            }
        }
        let ty = local
            .init
            .as_ref()
            .and_then(|init| match init.expr.as_ref() {
                Expr::Block(block) if block.label.is_none() => self.block_value_type.take(),
                value => self.semantic.type_of(value),
            });
        let is_lock = matches!(&ty, Some(Returns::One(t)) if self.semantic.is_lock_type(t));
        self.track_atomic_load(local);
        self.track_membership_check(local);
        // `let m = self.state.clone();` names the lock `self.state` is, also when its type is
        // a library's the tables do not know (how it is locked tells, see `candidate_kind`).
        let alias = match (&local.init, bound_name(&local.pat)) {
            (Some(init), Some(name)) => self
                .lock_identity(&init.expr)
                .filter(|identity| is_lock || identity.scope != crate::model::LockScope::Local)
                .map(|identity| (name, identity)),
            _ => None,
        };
        // `let Some(tx) = self.queues.get(i) else { .. };`: an element of a collection of
        // locks, one identity for every element (as `&self.queues[i]`).
        let alias = alias.or_else(|| {
            let name = super::syntax::guard_binding(&local.pat)?;
            let init = local.init.as_ref()?;
            let Expr::MethodCall(get) = init.expr.as_ref() else {
                return None;
            };
            if !matches!(
                get.method.to_string().as_str(),
                "get" | "get_mut" | "first" | "last"
            ) {
                return None;
            }
            Some((name, self.element_identity(&init.expr, &get.receiver)?))
        });
        // `let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));`: each element by itself.
        let mut aliases: Vec<(String, crate::model::LockName)> = alias.into_iter().collect();
        if let (Some(init), syn::Pat::Tuple(pattern)) = (&local.init, &local.pat)
            && let Expr::Tuple(values) = init.expr.as_ref()
            && pattern.elems.len() == values.elems.len()
        {
            for (pat, value) in pattern.elems.iter().zip(&values.elems) {
                let is_lock = matches!(self.semantic.type_of(value),
                    Some(Returns::One(t)) if self.semantic.is_lock_type(&t));
                if let (true, Some(name), Some(identity)) =
                    (is_lock, bound_name(pat), self.lock_identity(value))
                {
                    aliases.push((name, identity));
                }
            }
        }
        if let Some(name) = bound_name(&local.pat) {
            self.semantic.shadow(&name);
            self.note_guarded_local(&name, local);
        }
        self.semantic.bind_pattern(&local.pat, ty);
        for (name, identity) in aliases {
            self.semantic.bind_lock_alias(name, identity);
        }
        self.closure_returning_guard(local);
    }

    fn visit_expr(&mut self, expr: &'ast Expr) {
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || visit::visit_expr(self, expr));
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        self.call(call);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        self.method_call(call);
    }

    fn visit_expr_await(&mut self, expr: &'ast syn::ExprAwait) {
        self.next_call_awaited = matches!(expr.base.as_ref(), Expr::Call(_) | Expr::MethodCall(_));
        self.visit_expr(&expr.base);
        let span = byte_span(expr.await_token.span());
        self.model.functions[self.current].awaits.push(span);
    }

    fn visit_expr_for_loop(&mut self, expr: &'ast syn::ExprForLoop) {
        self.for_depth += 1;
        self.visit_expr(&expr.expr);
        let iterated = self.semantic.type_of(&expr.expr);
        self.blocking_iteration(&expr.expr, iterated.as_ref());
        self.semantic.push_locals();
        self.semantic
            .bind_element_pattern(&expr.pat, iterated.clone());
        self.bind_element_lock(&expr.pat, &expr.expr, iterated.as_ref());
        self.visit_block(&expr.body);
        self.semantic.pop_locals();
        self.for_depth -= 1;
    }

    fn visit_expr_assign(&mut self, expr: &'ast syn::ExprAssign) {
        self.static_write(&expr.left, Some(&expr.right), expr_start(&expr.left));
        visit::visit_expr_assign(self, expr);
    }

    fn visit_expr_binary(&mut self, expr: &'ast syn::ExprBinary) {
        self.compound_assignment(expr);
        visit::visit_expr_binary(self, expr);
    }

    fn visit_expr_let(&mut self, expr: &'ast syn::ExprLet) {
        self.visit_expr(&expr.expr);
        let ty = self.semantic.type_of(&expr.expr);
        // `if let Some(store) = ..` inside a `store`'s scope binds another object.
        for name in bound_names(&expr.pat) {
            self.semantic.shadow(&name);
        }
        self.semantic.bind_pattern(&expr.pat, ty);
    }

    fn visit_expr_match(&mut self, expr: &'ast syn::ExprMatch) {
        for attribute in &expr.attrs {
            self.visit_attribute(attribute);
        }
        self.visit_expr(&expr.expr);
        let ty = self.semantic.type_of(&expr.expr);
        // `match Handle::try_current() { .., Err(_) => rt.block_on(..) }`: off any runtime.
        let probed = self.probes_runtime(&expr.expr);
        let context = self.context;
        // Each arm's bindings, typed by the scrutinee or the variant they destructure.
        for arm in &expr.arms {
            self.semantic.push_locals();
            for name in bound_names(&arm.pat) {
                self.semantic.shadow(&name);
            }
            self.semantic.bind_pattern(&arm.pat, ty.clone());
            if probed && context == Context::Sync && variant_of(&arm.pat).as_deref() == Some("Err")
            {
                self.context = Context::OffLoop;
            }
            visit::visit_arm(self, arm);
            self.context = context;
            self.semantic.pop_locals();
        }
    }

    fn visit_expr_struct(&mut self, expr: &'ast syn::ExprStruct) {
        self.store_locks_in_fields(expr);
        visit::visit_expr_struct(self, expr);
        self.note_field_flows(expr);
    }

    fn visit_expr_if(&mut self, expr: &'ast syn::ExprIf) {
        self.atomic_check_then_act(expr);
        self.relocked_check_then_act(expr);
        let Some(then_off) = self.off_runtime_branch(&expr.cond) else {
            visit::visit_expr_if(self, expr);
            return;
        };
        for attribute in &expr.attrs {
            self.visit_attribute(attribute);
        }
        self.visit_expr(&expr.cond);
        let context = self.context;
        if then_off {
            self.context = Context::OffLoop;
        }
        self.visit_block(&expr.then_branch);
        self.context = context;
        if let Some((_, otherwise)) = &expr.else_branch {
            if !then_off {
                self.context = Context::OffLoop;
            }
            self.visit_expr(otherwise);
            self.context = context;
        }
    }

    fn visit_expr_while(&mut self, expr: &'ast syn::ExprWhile) {
        self.busy_wait_while(expr);
        self.visit_expr(&expr.cond);
        self.loop_body(&expr.body, true);
    }

    fn visit_expr_loop(&mut self, expr: &'ast syn::ExprLoop) {
        self.busy_wait_loop(expr);
        self.loop_body(&expr.body, branches(&expr.body));
    }

    fn visit_expr_async(&mut self, block: &'ast syn::ExprAsync) {
        let function = HandedOver::Function(self.model.functions.len());
        self.met_handed_over(async_block_key(block), function);
        let name = self.qualified("<async block>");
        let canonical = format!(
            "{}::<async block>",
            self.model.functions[self.current].canonical
        );
        self.region(
            name,
            canonical,
            FunctionKind::AsyncBlock,
            true,
            byte_span(block.async_token.span),
            |this| {
                this.visit_block(&block.block);
            },
        );
    }

    fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
        let bind_params = |this: &mut Self| {
            for input in &closure.inputs {
                this.semantic.bind_pattern(input, None);
            }
            this.visit_expr(&closure.body);
        };
        if closure.asyncness.is_some() {
            let function = HandedOver::Function(self.model.functions.len());
            self.met_handed_over(closure_key(closure), function);
            let name = self.qualified("<async closure>");
            let canonical = format!(
                "{}::<async closure>",
                self.model.functions[self.current].canonical
            );
            let span = byte_span(closure.inputs_begin.span);
            self.region(
                name,
                canonical,
                FunctionKind::Closure,
                true,
                span,
                bind_params,
            );
        } else {
            let loop_depth = std::mem::take(&mut self.loop_depth);
            self.closures += 1;
            self.met_handed_over(closure_key(closure), HandedOver::Closure(self.closures));
            // A closure handed to a call that runs it on another thread (`spawn_blocking`), or
            // on the async executor (a combinator of a future that is awaited or spawned).
            let key = closure_key(closure);
            let context = match (key == self.offloaded_closure, key == self.executor_closure) {
                (true, _) => Context::Offloaded,
                (false, true) => Context::Async,
                (false, false) if key == self.detached_closure => Context::Sync,
                (false, false) => self.context,
            };
            let context = std::mem::replace(&mut self.context, context);
            let number = self.closures;
            let outer = std::mem::replace(&mut self.closure, number);
            self.semantic.push_locals();
            for input in &closure.inputs {
                self.semantic.bind_pattern(input, None);
            }
            self.closure_body_guards(&closure.body);
            self.visit_expr(&closure.body);
            self.semantic.pop_locals();
            (self.loop_depth, self.closure, self.context) = (loop_depth, outer, context);
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let name = mac
            .path
            .segments
            .last()
            .map(|s| s.ident.unraw().to_string())
            .unwrap_or_default();
        if NON_CODE_MACROS.contains(&name.as_str()) {
            return;
        }
        // `select! { v = rx.recv() => { … } else => … }`: the futures are polled (awaited), the
        // handlers run in this function, as code written here.
        if name == "select"
            && let Ok(branches) = mac.parse_body_with(select_branches)
        {
            for branch in &branches {
                if let Some(future) = &branch.future {
                    self.next_call_awaited = matches!(future, Expr::Call(_) | Expr::MethodCall(_));
                    self.visit_expr(future);
                    self.next_call_awaited = false;
                }
                if let Some(condition) = &branch.condition {
                    self.visit_expr(condition);
                }
                self.visit_expr(&branch.handler);
            }
            return;
        }
        // `json!({"id": user.id(), "tags": [a(), b()]})`: the values are code, built into one
        // value (their guards live to the macro's end).
        if name == "json"
            && let Ok(values) = mac.parse_body_with(json_values)
        {
            let end = mac.delimiter.span().close().byte_range().end;
            self.expression_guards(values.iter(), end);
            for value in &values {
                self.visit_expr(value);
            }
            return;
        }
        // Most macros in expression position take comma-separated expressions (`println!`,
        // `vec!`, `assert!`, `join!`); lower those, and skip bodies of any other shape.
        let parser = Punctuated::<Expr, syn::Token![,]>::parse_terminated;
        if let Ok(exprs) = mac.parse_body_with(parser) {
            let end = mac.delimiter.span().close().byte_range().end;
            // `assert!(cond, "{}", args)` is `if !cond { panic!(..) }`: the condition's
            // guards are dropped before the message is made.
            match (exprs.first(), exprs.iter().nth(1)) {
                (Some(condition), Some(message))
                    if matches!(name.as_str(), "assert" | "debug_assert") =>
                {
                    let message_start = expr_start(message);
                    self.expression_guards(std::iter::once(condition), message_start);
                    self.expression_guards(exprs.iter().skip(1), end);
                }
                // std's and the logging crates' macros evaluate their arguments into one
                // expression (`format_args!`): a guard among them lives to the macro's end.
                _ if ONE_EXPRESSION_MACROS.contains(&name.as_str()) => {
                    self.macro_guards(&exprs, end)
                }
                // Another crate's macro may use each argument in a statement of its own
                // (`let before = $metric; let _ = $block;`): each argument's guards end with it.
                _ => {
                    let ends = exprs.iter().skip(1).map(expr_start).chain([end]);
                    for (expr, end) in exprs.iter().zip(ends) {
                        self.expression_guards(std::iter::once(expr), end);
                    }
                }
            }
            // `join!(a(), b())` polls the futures its arguments return: they are awaited.
            let joins = matches!(name.as_str(), "join" | "try_join");
            // `blocking::unblock!(io.run())` runs its expression on a thread pool.
            let offloaded = self
                .semantic
                .resolve_qualified_name(&mac.path)
                .is_some_and(|path| self.tables.offloads(Some(&path), None));
            let context = match offloaded {
                true => std::mem::replace(&mut self.context, Context::Offloaded),
                false => self.context,
            };
            for expr in &exprs {
                self.next_call_awaited =
                    joins && matches!(expr, Expr::Call(_) | Expr::MethodCall(_));
                self.visit_expr(expr);
            }
            self.next_call_awaited = false;
            self.context = context;
        }
    }
}

/// The expressions of a `serde_json::json!` body: the values of its objects (`"key": value`,
/// also `[key_expr]: value` or `(key_expr): value`) and the elements of its arrays, nested.
pub(super) fn json_values(input: syn::parse::ParseStream) -> syn::Result<Vec<Expr>> {
    let mut values = Vec::new();
    json_value(input, &mut values)?;
    if !input.is_empty() {
        return Err(input.error("expected the end of the json! body"));
    }
    Ok(values)
}

fn json_value(input: syn::parse::ParseStream, values: &mut Vec<Expr>) -> syn::Result<()> {
    if input.peek(syn::token::Brace) {
        let object;
        syn::braced!(object in input);
        while !object.is_empty() {
            // The key: a literal, a name, or an expression in brackets or parentheses.
            if object.peek(syn::token::Bracket) || object.peek(syn::token::Paren) {
                let key: proc_macro2::TokenTree = object.parse()?;
                if let proc_macro2::TokenTree::Group(group) = key
                    && let Ok(key) = syn::parse2::<Expr>(group.stream())
                {
                    values.push(key);
                }
            } else {
                object.parse::<proc_macro2::TokenTree>()?;
            }
            object.parse::<syn::Token![:]>()?;
            json_value(&object, values)?;
            if object.is_empty() {
                break;
            }
            object.parse::<syn::Token![,]>()?;
        }
    } else if input.peek(syn::token::Bracket) {
        let array;
        syn::bracketed!(array in input);
        while !array.is_empty() {
            json_value(&array, values)?;
            if array.is_empty() {
                break;
            }
            array.parse::<syn::Token![,]>()?;
        }
    } else {
        values.push(input.parse::<Expr>()?);
    }
    Ok(())
}

/// One branch of `tokio::select!` / `futures::select!`: `pattern = future (, if condition)? =>
/// handler`, or `else => handler` (`default`/`complete` in futures') with no future.
pub(super) struct SelectBranch {
    /// What the future's output is bound to (`guard` in `guard = m.lock() => ..`).
    pub(super) pattern: Option<syn::Pat>,
    pub(super) future: Option<Expr>,
    condition: Option<Expr>,
    pub(super) handler: Expr,
}

/// Parses a `select!` body: its branches, skipping `biased;`.
pub(super) fn select_branches(input: syn::parse::ParseStream) -> syn::Result<Vec<SelectBranch>> {
    let mut branches = Vec::new();
    while !input.is_empty() {
        if input.peek(syn::Ident) && input.peek2(syn::Token![;]) {
            input.parse::<syn::Ident>()?;
            input.parse::<syn::Token![;]>()?;
            continue;
        }
        let fallback = input.peek(syn::Token![else])
            || ((input.peek(syn::Ident) && input.peek2(syn::Token![=>]))
                && input
                    .fork()
                    .parse::<syn::Ident>()
                    .is_ok_and(|ident| ident == "default" || ident == "complete"));
        let (pattern, future, condition) = if fallback {
            if input.peek(syn::Token![else]) {
                input.parse::<syn::Token![else]>()?;
            } else {
                input.parse::<syn::Ident>()?;
            }
            (None, None, None)
        } else {
            let pattern = syn::Pat::parse_multi_with_leading_vert(input)?;
            input.parse::<syn::Token![=]>()?;
            let future = input.call(Expr::parse_without_eager_brace)?;
            let condition = if input.peek(syn::Token![,]) && input.peek2(syn::Token![if]) {
                input.parse::<syn::Token![,]>()?;
                input.parse::<syn::Token![if]>()?;
                Some(input.call(Expr::parse_without_eager_brace)?)
            } else {
                None
            };
            (Some(pattern), Some(future), condition)
        };
        input.parse::<syn::Token![=>]>()?;
        let handler: Expr = input.parse()?;
        if input.peek(syn::Token![,]) {
            input.parse::<syn::Token![,]>()?;
        }
        branches.push(SelectBranch {
            pattern,
            future,
            condition,
            handler,
        });
    }
    Ok(branches)
}

/// Macros whose arguments are evaluated into one expression, so that a temporary guard among
/// them lives until the macro's end.
const ONE_EXPRESSION_MACROS: &[&str] = &[
    "format",
    "format_args",
    "print",
    "println",
    "eprint",
    "eprintln",
    "write",
    "writeln",
    "panic",
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "vec",
    "dbg",
    "matches",
    "todo",
    "unimplemented",
    "unreachable",
    "trace",
    "debug",
    "info",
    "warn",
    "error",
    "log",
    "event",
    "anyhow",
    "bail",
    "ensure",
];

/// Whether an item is a test that expects a panic (`#[should_panic]`).
fn expects_panic(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|attr| attr.path().is_ident("should_panic"))
}

/// Whether attributes allow a dropped future (`#[allow(clippy::let_underscore_future)]`,
/// `#[allow(unused_must_use)]`).
/// `let _id = services.create(..);` with `_id` never named again: the value is dropped at the
/// end of the block unused, as `let _ = ..` drops it at once; a future in it never runs.
fn unused_binding_call(stmts: &[syn::Stmt], i: usize) -> Option<usize> {
    let syn::Stmt::Local(local) = &stmts[i] else {
        return None;
    };
    let (syn::Pat::Ident(binding), Some(init)) = (&local.pat, &local.init) else {
        return None;
    };
    let name = binding.ident.unraw().to_string();
    let unused = name.len() > 1 && name.starts_with('_') && binding.subpat.is_none();
    if !unused || allows_dropped_future(&local.attrs) {
        return None;
    }
    let named_later = stmts[i + 1..]
        .iter()
        .any(|stmt| super::syntax::tokens_name(stmt.to_token_stream(), &name));
    if named_later {
        return None;
    }
    call_end(&init.expr)
}

fn allows_dropped_future(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("allow") && {
            let tokens = attr.meta.to_token_stream().to_string();
            tokens.contains("let_underscore_future") || tokens.contains("unused_must_use")
        }
    })
}

/// The attribute that runs an `async fn` on a runtime of its own, as written
/// (`tokio::main`, `async_std::test`, `actix_web::main`).
fn runtime_entry(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| {
        let segments = &attr.path().segments;
        let last = segments.last()?.ident.unraw().to_string();
        (segments.len() > 1 && matches!(last.as_str(), "main" | "test")).then(|| {
            let names: Vec<String> = segments
                .iter()
                .map(|s| s.ident.unraw().to_string())
                .collect();
            names.join("::")
        })
    })
}

/// Where a call or method call expression ends (its closing parenthesis), for
/// [`Lowerer::discarded_call_end`].
fn call_end(expr: &Expr) -> Option<usize> {
    let paren = match expr {
        Expr::Call(call) => call.paren_token,
        Expr::MethodCall(call) => call.paren_token,
        _ => return None,
    };
    Some(paren.span.close().byte_range().end)
}

/// The sync closure statement `i` binds to a name that no later statement of the block calls
/// (`let task = move || build_cache(..); Ok((name, task))`): it is handed on, and runs where
/// its receiver calls it.
fn detached_closure(stmts: &[syn::Stmt], i: usize) -> Option<&syn::ExprClosure> {
    let syn::Stmt::Local(local) = &stmts[i] else {
        return None;
    };
    let Expr::Closure(closure) = &*local.init.as_ref()?.expr else {
        return None;
    };
    let name = bound_name(&local.pat)?;
    let called = stmts[i + 1..]
        .iter()
        .any(|stmt| super::syntax::called_names(stmt).contains(&name));
    (closure.asyncness.is_none() && !called).then_some(closure)
}
