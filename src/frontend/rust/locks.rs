//! Locks: which expressions are locks (by type, through the semantic model), their
//! project-wide identity ([`LockName`]), the locks a file defines, and the guard-taking calls
//! (`m.lock().unwrap()`, `rw.write()?`, `m.lock().await`). How long each guard is held is
//! [`super::guards`]'s concern; this module records a hold once its region is known.

use syn::{Expr, Type};

use super::Lowerer;
use super::syntax::{byte_span, expr_start, written};
use crate::knowledge::Returns;
use crate::model::{
    Context, LockDefinition, LockHold, LockName, LockScope, Pointless, PointlessLock, Span,
};

impl Lowerer<'_> {
    /// Records the locks the file's top-level statics and struct fields define.
    pub(super) fn define_locks(&mut self, items: &[syn::Item]) {
        for item in items {
            let found: Vec<(String, &syn::Ident, &Type)> = match item {
                syn::Item::Static(s) => {
                    vec![(self.model.join(&s.ident.to_string()), &s.ident, &*s.ty)]
                }
                syn::Item::Struct(strukt) => {
                    let owner = self.model.join(&strukt.ident.to_string());
                    strukt
                        .fields
                        .iter()
                        .filter_map(|f| {
                            let ident = f.ident.as_ref()?;
                            Some((format!("{owner}.{ident}"), ident, &f.ty))
                        })
                        .collect()
                }
                syn::Item::Macro(mac) if is_lazy_static(&mac.mac) => self
                    .semantic
                    .lazy_statics()
                    .iter()
                    .map(|(ident, ty)| (self.model.join(&ident.to_string()), ident, ty))
                    .collect(),
                _ => continue,
            };
            for (identity, ident, ty) in found {
                if let Some(kind) = self
                    .semantic
                    .resolve_type(ty)
                    .filter(|t| self.semantic.is_lock_type(t))
                {
                    self.model.lock_definitions.push(LockDefinition {
                        identity,
                        kind,
                        span: byte_span(ident.span()),
                    });
                }
            }
        }
    }

    /// The identity of the lock an expression names: a field (`self.accounts`, `bank.accounts`),
    /// a `static`, or a local (looking through references, clones and local aliases).
    pub(super) fn lock_identity(&self, expr: &Expr) -> Option<LockName> {
        match expr {
            Expr::Reference(inner) => self.lock_identity(&inner.expr),
            Expr::Paren(inner) => self.lock_identity(&inner.expr),
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
            Expr::Field(field) => {
                let syn::Member::Named(name) = &field.member else {
                    return None;
                };
                let (owner, via_self) = match field.base.as_ref() {
                    Expr::Path(p) if p.path.is_ident("self") => {
                        (self.semantic.self_type.clone()?, true)
                    }
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
            Expr::Path(path) if path.path.segments.len() == 1 && path.qself.is_none() => {
                let name = path.path.segments[0].ident.to_string();
                if let Some(alias) = self.semantic.lock_alias(&name) {
                    return Some(alias.clone());
                }
                if self.semantic.local(&name).is_some() {
                    let function = &self.model.functions[self.current].canonical;
                    return Some(LockName {
                        identity: format!("{function}::{name}"),
                        scope: LockScope::Local,
                        via_self: false,
                    });
                }
                let canonical = self.semantic.resolve_qualified_name(&path.path)?;
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

    /// The guard-returning call at the core of `m.lock().unwrap()`, `m.write()?`, `&*c.borrow()`,
    /// `m.lock().await`.
    pub(super) fn guard_call<'e>(
        &self,
        expr: &'e Expr,
    ) -> Option<(&'e syn::ExprMethodCall, String)> {
        self.guard_call_with(expr, false)
    }

    /// The guard a `let` keeps alive: `let g = m.lock().unwrap();`, `let r = &*c.borrow();`,
    /// but not `let v = *m.lock().unwrap();`, which copies the value out and drops the guard.
    pub(super) fn bound_guard_call<'e>(
        &self,
        init: &'e Expr,
    ) -> Option<(&'e syn::ExprMethodCall, String)> {
        match init {
            Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => None,
            _ => self.guard_call_with(init, true),
        }
    }

    /// [`Self::guard_call`]; with `candidates`, also a `lock()`/`read()`/`write()` on a named
    /// lock of unknown type (a `static` or field defined in another file), kind `::method`.
    pub(super) fn guard_call_with<'e>(
        &self,
        expr: &'e Expr,
        candidates: bool,
    ) -> Option<(&'e syn::ExprMethodCall, String)> {
        self.guard_call_awaited(expr, candidates, false)
    }

    /// [`Self::guard_call_with`]; `awaited` tells whether `expr` is awaited (an async lock's
    /// `lock()` only takes the lock when its future is awaited).
    pub(super) fn guard_call_awaited<'e>(
        &self,
        expr: &'e Expr,
        candidates: bool,
        awaited: bool,
    ) -> Option<(&'e syn::ExprMethodCall, String)> {
        match expr {
            Expr::MethodCall(call)
                if matches!(
                    call.method.to_string().as_str(),
                    "unwrap" | "expect" | "unwrap_or_else"
                ) =>
            {
                self.guard_call_awaited(&call.receiver, candidates, false)
            }
            Expr::Try(inner) => self.guard_call_awaited(&inner.expr, candidates, false),
            Expr::Await(inner) => self.guard_call_awaited(&inner.base, candidates, true),
            Expr::Paren(inner) => self.guard_call_awaited(&inner.expr, candidates, awaited),
            Expr::Reference(inner) => self.guard_call_awaited(&inner.expr, candidates, false),
            Expr::Unary(inner) => self.guard_call_awaited(&inner.expr, candidates, false),
            Expr::MethodCall(call) => {
                let kind = match self.guard_kind(call) {
                    None if candidates => self.candidate_kind(call),
                    kind => kind,
                };
                kind.filter(|kind| awaited || !self.is_async_lock(kind))
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
        if !matches!(
            method.as_str(),
            "lock" | "read" | "read_recursive" | "write" | "borrow" | "borrow_mut"
        ) {
            return None;
        }
        let Some(Returns::One(ty)) = self.semantic.type_of(&call.receiver) else {
            return None;
        };
        let kind = format!("{ty}::{method}");
        self.tables.lock(&kind).is_some().then_some(kind)
    }

    /// `::lock` for a `lock()`/`read()`/`write()` whose receiver's type is unknown here but
    /// that names a lock elsewhere (a `static` or a field); the project's lock definitions tell.
    pub(super) fn candidate_kind(&self, call: &syn::ExprMethodCall) -> Option<String> {
        let method = call.method.to_string();
        if !matches!(method.as_str(), "lock" | "read" | "write") {
            return None;
        }
        let lock = self.lock_identity(&call.receiver)?;
        (lock.scope != LockScope::Local).then(|| format!("::{method}"))
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
        if matches!(&*call.receiver, Expr::Call(_)) {
            // `Mutex::new(x).lock()`: a lock nobody else can ever see.
            self.pointless(call, Pointless::CreatedWhereAcquired);
        }
        let span = expr_start(&call.receiver)..call.paren_token.span.close().byte_range().end;
        let blocks_thread = self.tables.lock(&kind).is_some_and(|l| !l.is_async);
        let awaits = if blocks_thread && self.context == Context::Async {
            body_awaits()
                .into_iter()
                .filter(|a| a.start > span.end && a.start < region_end)
                .collect()
        } else {
            Vec::new()
        };
        let LockName {
            identity,
            scope,
            via_self,
        } = self.lock_identity(&call.receiver).unwrap_or(LockName {
            identity: String::new(),
            scope: LockScope::Local,
            via_self: false,
        });
        let hold = LockHold {
            region: span.start..region_end.max(span.end),
            span,
            lock: written(&call.receiver),
            kind,
            identity,
            scope,
            via_self,
            awaits,
            context: self.context,
            unreleased: false,
            closure: self.closure,
        };
        self.model.functions[self.current].lock_holds.push(hold);
    }
}

/// Whether a macro is `lazy_static!` (or `lazy_static::lazy_static!`).
pub(super) fn is_lazy_static(mac: &syn::Macro) -> bool {
    mac.path
        .segments
        .last()
        .is_some_and(|s| s.ident == "lazy_static")
}
