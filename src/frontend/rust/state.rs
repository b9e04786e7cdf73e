//! Shared state: writes of `static mut`s (IL401), values read under one critical section and
//! written back under another (IL404), atomics loaded then stored on what was loaded (IL403).

use syn::Expr;
use syn::ext::IdentExt;
use syn::visit::Visit;

use super::Lowerer;
use super::guards::Temporaries;
use super::semantic::is_deferred;
use super::syntax::{
    self, OwnMethodCalls, bound_name, byte_span, expr_start, has_let, member_name, names_path,
    tokens_name, written,
};
use crate::knowledge::Returns;
use crate::model::{Access, ActKind, CheckThenAct, Span, StateUse, StateWrite};

impl Lowerer<'_> {
    /// The identities of the locks a temporary guard in this expression takes
    /// (`*m.lock().unwrap()`), with the lock as written.
    pub(super) fn temporary_locks(&self, expr: &Expr) -> Vec<(String, String)> {
        let mut temporaries = Temporaries::default();
        temporaries.visit_expr(expr);
        temporaries
            .calls
            .iter()
            // A `RefCell` never has two threads: taking its value out and back is no race.
            .filter(|(call, _)| {
                self.guard_kind(call)
                    .is_some_and(|kind| self.tables.lock(&kind).is_some_and(|l| l.excludes()))
            })
            .filter_map(|(call, _)| {
                let lock = self.lock_identity(&call.receiver)?;
                Some((lock.identity, written(&call.receiver)))
            })
            .collect()
    }

    /// `let v = *m.lock().unwrap();` … `*m.lock().unwrap() = v + 1;`: a value read in one
    /// critical section and written back from another (IL404).
    pub(super) fn split_update(
        &mut self,
        stmt: &syn::Stmt,
        reads: &mut Vec<(String, String, Span)>,
    ) {
        match stmt {
            syn::Stmt::Local(local) => {
                let (Some(init), Some(name)) = (&local.init, bound_name(&local.pat)) else {
                    return;
                };
                reads.retain(|(local, _, _)| *local != name);
                if self.bound_guard_call(&init.expr).is_some() {
                    return; // A bound guard, not a value read under a lock.
                }
                if let Some((identity, _)) = self.temporary_locks(&init.expr).into_iter().next() {
                    let start = local.let_token.span.byte_range().start;
                    reads.push((
                        name,
                        identity,
                        start..local.semi_token.span.byte_range().end,
                    ));
                }
            }
            syn::Stmt::Expr(Expr::Assign(assign), _) => {
                for (identity, lock) in self.temporary_locks(&assign.left) {
                    let read = reads.iter().find(|(local, read_lock, _)| {
                        *read_lock == identity && names_path(&assign.right, local)
                    });
                    if let Some((_, _, read)) = read {
                        // At the `=`, inside the second critical section.
                        let write = StateWrite {
                            span: assign.eq_token.span.byte_range(),
                            state: identity,
                            written: lock,
                            via_self: false,
                            access: Access::ReadModifyWrite,
                            read: Some(read.clone()),
                            awaits_between: Vec::new(),
                            closure: self.closure,
                            context: self.context,
                        };
                        self.model.functions[self.current].state_writes.push(write);
                        return;
                    }
                }
            }
            _ => {}
        }
    }

    /// Records a write of a `static mut` (`COUNT += 1`, `COUNT = COUNT + 1`, `COUNT = 0`).
    pub(super) fn static_write(&mut self, target: &Expr, value: Option<&Expr>, start: usize) {
        let Expr::Path(path) = target else { return };
        if path.qself.is_some() {
            return;
        }
        let written = written(target);
        let is_static = (path.path.segments.last())
            .is_some_and(|s| crate::model::is_screaming_case(&s.ident.unraw().to_string()));
        if !is_static || (path.path.segments.len() == 1 && self.semantic.local(&written).is_some())
        {
            return;
        }
        let Some(state) = self.semantic.resolve_qualified_name(&path.path) else {
            return;
        };
        let access = match value {
            Some(value) if !names_path(value, &written) => Access::Write,
            _ => Access::ReadModifyWrite,
        };
        let write = StateWrite {
            span: start..start + written.len(),
            state,
            written,
            via_self: false,
            access,
            read: None,
            awaits_between: Vec::new(),
            closure: self.closure,
            context: self.context,
        };
        self.model.functions[self.current].state_writes.push(write);
    }

    /// `if !FLAG.load(..) { FLAG.store(..) }`: an atomic loaded, then written in the branch
    /// taken on what was loaded (IL403).
    pub(super) fn atomic_check_then_act(&mut self, expr: &syn::ExprIf) {
        let mut checks = OwnMethodCalls::default();
        checks.visit_expr(&expr.cond);
        let loaded = checks
            .0
            .into_iter()
            .find(|c| c.method == "load" && self.is_atomic(&c.receiver))
            .map(|load| {
                let span =
                    expr_start(&load.receiver)..load.paren_token.span.close().byte_range().end;
                (written(&load.receiver), span, false)
            })
            // `let n = COUNT.load(..); if n < MAX { COUNT.fetch_add(1, ..); }`
            .or_else(|| {
                self.atomic_locals
                    .iter()
                    .rev()
                    .find(|(local, _, _, _)| names_path(&expr.cond, local))
                    .map(|(_, atomic, span, rmw)| (atomic.clone(), span.clone(), *rmw))
            });
        let Some((atomic, check, rmw)) = loaded else {
            return;
        };
        // Through `self` taken by value or `&mut`: nobody else can see it.
        if self.exclusive_self && atomic.starts_with("self.") {
            return;
        }
        let mut acts = OwnMethodCalls::default();
        acts.visit_block(&expr.then_branch);
        let same = |c: &&&syn::ExprMethodCall| written(&c.receiver) == atomic;
        // A compare-and-swap in the branch decides who acts: that is the right pattern.
        let settled = acts.0.iter().filter(same).any(|c| {
            matches!(
                c.method.to_string().as_str(),
                "compare_exchange" | "compare_exchange_weak" | "compare_and_swap" | "fetch_update"
            )
        });
        // After `let old = COUNT.fetch_add(1, ..)`, only a plain `store` loses what other
        // threads did in between (`if old == 0 { COUNT.store(0, ..) }` wipes their increments);
        // another read-modify-write keeps them.
        let act = acts.0.iter().filter(same).find(|c| {
            let method = c.method.to_string();
            method == "store" || (!rmw && (method == "swap" || method.starts_with("fetch_")))
        });
        let act = act.filter(|_| !settled);
        if let Some(act) = act {
            if self.caches_computed_value(act, &expr.then_branch) {
                return;
            }
            let act = expr_start(&act.receiver)..act.paren_token.span.close().byte_range().end;
            let state = (atomic.clone(), atomic.clone(), atomic.starts_with("self."));
            self.push_check_then_act(check, act, state, true, ActKind::Create);
        }
    }

    /// `if f == 0 { query(&mut f); FREQUENCY.store(f, ..) }`: the branch computes a value and
    /// stores it in a number atomic, a cache every thread fills with the same value (two
    /// threads computing it race to no harm). Not a pointer, whose two fills are two objects.
    fn caches_computed_value(&self, store: &syn::ExprMethodCall, branch: &syn::Block) -> bool {
        let pointer = matches!(self.semantic.type_of(&store.receiver),
            Some(Returns::One(ty)) if ty.ends_with("AtomicPtr"));
        let Some(Expr::Path(value)) = store.args.first() else {
            return false;
        };
        let Some(name) = value.path.get_ident() else {
            return false;
        };
        if pointer || store.method != "store" {
            return false;
        }
        // Bound, assigned or filled through `&mut` in the branch.
        struct Computed<'n> {
            name: &'n syn::Ident,
            found: bool,
        }
        impl<'ast> Visit<'ast> for Computed<'_> {
            fn visit_local(&mut self, local: &'ast syn::Local) {
                self.found |= local.init.is_some()
                    && matches!(&local.pat, syn::Pat::Ident(p) if p.ident == *self.name);
                syn::visit::visit_local(self, local);
            }
            fn visit_expr_assign(&mut self, assign: &'ast syn::ExprAssign) {
                self.found |= matches!(&*assign.left, Expr::Path(p) if p.path.is_ident(self.name));
                syn::visit::visit_expr_assign(self, assign);
            }
            fn visit_expr_reference(&mut self, reference: &'ast syn::ExprReference) {
                self.found |= reference.mutability.is_some()
                    && matches!(&*reference.expr, Expr::Path(p) if p.path.is_ident(self.name));
                syn::visit::visit_expr_reference(self, reference);
            }
        }
        let mut computed = Computed { name, found: false };
        computed.visit_block(branch);
        computed.found
    }

    /// `if !CACHE.read().unwrap().contains_key(k) { CACHE.write().unwrap().insert(k, v); }`:
    /// a collection behind a lock checked through one guard, then filled through another guard
    /// of the same lock taken after the first was dropped, with no check under the second
    /// (IL403): another thread can take the lock in between and fill it too.
    ///
    /// From edition 2024 the temporaries of an `if let` are dropped before its `else` runs, so
    /// `if let Some(v) = CACHE.read().get(k) { .. } else { CACHE.write().insert(k, v) }` is the
    /// same race (before 2024 the read guard lives through the `else`: a double lock, IL202).
    pub(super) fn relocked_check_then_act(&mut self, expr: &syn::ExprIf) {
        if let Some((check, lock)) = self.membership_check(&expr.cond, true) {
            if let Some(act) = self.relocked_fill(&lock, &expr.then_branch.stmts) {
                self.push_relocked(check, act, lock);
            }
            return;
        }
        let Some((_, otherwise)) = &expr.else_branch else {
            return;
        };
        let Expr::Block(otherwise) = &**otherwise else {
            return;
        };
        // `if M.read().unwrap().contains_key(k) { .. } else { M.write().unwrap().insert(..) }`:
        // a condition's guard is gone before either branch runs; an `if let`'s only from
        // edition 2024.
        let dropped_before_else =
            !has_let(&expr.cond) || self.edition >= 2024 && matches!(&*expr.cond, Expr::Let(_));
        if let Some((check, lock)) = self.membership_check(&expr.cond, false)
            && (dropped_before_else || lock.self_locking)
            && let Some(act) = self.relocked_fill(&lock, &otherwise.block.stmts)
        {
            self.push_relocked(check, act, lock);
        }
    }

    /// The guard-clause form of IL403's Rust shapes: statement `i` leaves when the check finds
    /// the state set (`if CACHE.read().unwrap().contains_key(k) { return; }`, `if
    /// READY.load(..) { bail!(..) }`, also `continue`/`break`), and a later statement of the
    /// block acts as if it were not (`CACHE.write().unwrap().insert(k, v)`, `READY.store(..)`).
    /// The clause may sit at the end of a block that binds the guard it checks through
    /// (`{ let g = M.read(); if let Some(v) = g.get(k) { return v.clone(); } }`), or check
    /// through a guard bound before it and dropped after it (`drop(g)`), the act coming after.
    pub(super) fn guard_clause_check_then_act(&mut self, stmts: &[syn::Stmt], i: usize) {
        let rest = &stmts[i + 1..];
        // The clause ends a block that binds its guard, dropped when the block ends.
        if let syn::Stmt::Expr(Expr::Block(block), _) = &stmts[i]
            && block.label.is_none()
            && let Some(syn::Stmt::Expr(Expr::If(clause), _)) = block.block.stmts.last()
            && clause.else_branch.is_none()
            && leaves(&clause.then_branch)
        {
            let bound = self.bound_guards(&block.block.stmts);
            if let Some((check, lock)) = self.membership_check_in(&clause.cond, false, &bound)
                && let Some(act) = self.relocked_fill(&lock, rest)
            {
                self.push_relocked(check, act, lock);
            }
            return;
        }
        let syn::Stmt::Expr(Expr::If(clause), _) = &stmts[i] else {
            return;
        };
        if clause.else_branch.is_some() || !leaves(&clause.then_branch) {
            return;
        }
        if let Some((check, lock)) = self.membership_check(&clause.cond, false) {
            if let Some(act) = self.relocked_fill(&lock, rest) {
                self.push_relocked(check, act, lock);
            }
            return;
        }
        // Through a guard bound before the clause and dropped after it: the act counts only
        // after the `drop` (before it, taking the lock again waits for this thread itself).
        let bound = self.bound_guards(&stmts[..i]);
        if let Some((check, lock)) = self.membership_check_in(&clause.cond, false, &bound)
            && let Some(name) = guard_name_of(&clause.cond, &bound)
            && let Some(dropped) = rest.iter().position(|stmt| drops(stmt, &name))
        {
            if let Some(act) = self.relocked_fill(&lock, &rest[dropped + 1..]) {
                self.push_relocked(check, act, lock);
            }
            return;
        }
        // `if READY.load(..) { return; }` … `READY.store(true, ..)`: the act claims what the
        // check found unclaimed (a flag cleared again, `store(false)`, stops work twice at worst).
        let Expr::MethodCall(load) = &*clause.cond else {
            return;
        };
        if load.method != "load" || !self.is_atomic(&load.receiver) {
            return;
        }
        let atomic = written(&load.receiver);
        if self.exclusive_self && atomic.starts_with("self.") {
            return;
        }
        let mut acts = OwnMethodCalls::default();
        for stmt in rest {
            acts.visit_stmt(stmt);
        }
        let mut same = acts.0.iter().filter(|c| written(&c.receiver) == atomic);
        // The first use after the clause: a store of `true` acts; anything else (a
        // compare-and-swap, a `swap` whose answer is used, a new load) settles it.
        let Some(act) = same.next() else {
            return;
        };
        let claims = act.method == "store"
            && matches!(act.args.first(), Some(Expr::Lit(syn::ExprLit { lit: syn::Lit::Bool(b), .. })) if b.value);
        // A store the code makes only on some outcome of its work (`if errno == ENOSYS {
        // NO_SUPPORT.store(true) }`) records a fact any thread finds the same: two threads
        // storing it race to no harm. A claim is made whatever happens next.
        let at = act.method.span().byte_range().start;
        let unconditional = !rest.iter().any(|stmt| {
            use syn::spanned::Spanned;
            matches!(stmt, syn::Stmt::Expr(Expr::If(_) | Expr::Match(_), _))
                && stmt.span().byte_range().contains(&at)
        });
        if claims && unconditional {
            let check = expr_start(&load.receiver)..load.paren_token.span.close().byte_range().end;
            let act = expr_start(&act.receiver)..act.paren_token.span.close().byte_range().end;
            let state = (atomic.clone(), atomic.clone(), atomic.starts_with("self."));
            self.push_check_then_act(check, act, state, true, ActKind::Create);
        }
    }

    /// Records the function's [`crate::model::Function::unchecked_fills`].
    pub(super) fn note_unchecked_fills(&mut self, block: &syn::Block) {
        if self.model.functions[self.current].lock_holds.is_empty() {
            return;
        }
        let bound = self.bound_guards(&block.stmts);
        let mut calls = OwnMethodCalls::default();
        calls.visit_block(block);
        let named = |call: &&syn::ExprMethodCall, methods: &[&str]| {
            methods.contains(&call.method.to_string().as_str())
        };
        let rechecked: Vec<String> = calls
            .0
            .iter()
            .filter(|call| named(call, RECHECKS))
            .filter_map(|call| self.guarded_lock_in(&call.receiver, &bound))
            .map(|lock| lock.identity)
            .collect();
        let fills: Vec<StateUse> = calls
            .0
            .iter()
            .filter(|call| named(call, FILLS))
            .filter_map(|call| {
                let lock = self.guarded_lock_in(&call.receiver, &bound)?;
                let span =
                    expr_start(&call.receiver)..call.paren_token.span.close().byte_range().end;
                (!rechecked.contains(&lock.identity)).then(|| StateUse {
                    extent: span.clone(),
                    span,
                    state: lock.identity,
                    written: lock.written,
                    via_self: lock.via_self,
                })
            })
            .collect();
        self.model.functions[self.current]
            .unchecked_fills
            .extend(fills);
    }

    /// Where `stmts` fill a collection behind `lock` through a guard of it (taken there, or
    /// bound there: `let mut map = CACHE.write().unwrap(); map.insert(..)`), with no check
    /// under that guard before (`contains_key`, `get`) and no `entry(..)`, which only fills
    /// what is missing. Or, when they do not, where they call a method of the same object
    /// that may (the project phase finds whether one fills it: see
    /// [`crate::model::Function::unchecked_fills`]), with `true`.
    fn relocked_fill(&self, lock: &GuardedLock, stmts: &[syn::Stmt]) -> Option<(Span, bool)> {
        let bound = self.bound_guards(stmts);
        let through_lock = |call: &syn::ExprMethodCall| {
            self.guarded_lock_in(&call.receiver, &bound)
                .is_some_and(|other| other.identity == lock.identity)
        };
        let mut calls = OwnMethodCalls::default();
        for stmt in stmts {
            calls.visit_stmt(stmt);
        }
        // Checked again under the second guard, or filled by `entry` (double-checked locking).
        let rechecked = calls
            .0
            .iter()
            .any(|call| RECHECKS.contains(&call.method.to_string().as_str()) && through_lock(call));
        if rechecked {
            return None;
        }
        let act = calls
            .0
            .iter()
            .find(|call| FILLS.contains(&call.method.to_string().as_str()) && through_lock(call));
        if let Some(act) = act {
            let span = expr_start(&act.receiver)..act.paren_token.span.close().byte_range().end;
            return Some((span, false));
        }
        // `*slot.write().await = Some(v)`: the value under the lock replaced.
        let replaced = calls.1.iter().find(|assign| {
            let Expr::Unary(deref) = &*assign.left else {
                return false;
            };
            // (Emptying it, `= None`, stores the same whichever thread wins.)
            let emptied = matches!(&*assign.right, Expr::Path(p) if p.path.is_ident("None"));
            !emptied
                && self
                    .guarded_lock_in(&deref.expr, &bound)
                    .is_some_and(|other| other.identity == lock.identity)
        });
        if let Some(assign) = replaced {
            let span = byte_span(syn::spanned::Spanned::span(*assign));
            return Some((span, false));
        }
        // `self.new_child(k)`: a method of the lock's object, which may fill it.
        let on_object = |call: &&&syn::ExprMethodCall| {
            lock.via_self && matches!(&*call.receiver, Expr::Path(p) if p.path.is_ident("self"))
        };
        let helpers: Vec<_> = calls.0.iter().filter(on_object).collect();
        let (first, last) = (helpers.first()?, helpers.last()?);
        Some((
            expr_start(&first.receiver)..last.paren_token.span.close().byte_range().end,
            true,
        ))
    }

    /// Records a check-then-act on a collection behind `lock`, checked and changed through two
    /// guards; the act is a region of calls one of which may fill it when `act` says so.
    fn push_relocked(
        &mut self,
        check: Span,
        (act, act_in_callee): (Span, bool),
        lock: GuardedLock,
    ) {
        let self_locking = lock.self_locking;
        let state = (lock.identity, lock.written, lock.via_self);
        self.push_check_then_act(check, act, state, false, ActKind::Create);
        if let Some(found) = self.model.functions[self.current]
            .check_then_acts
            .last_mut()
        {
            found.act_in_callee = act_in_callee;
            found.self_locking = self_locking;
        }
    }

    /// Records a check-then-act of the current function on `state` (identity, as written,
    /// through `self`): on an atomic, or (`atomic` false) on a collection behind a lock, checked
    /// and changed through two guards.
    fn push_check_then_act(
        &mut self,
        check: Span,
        act: Span,
        (state, written, via_self): (String, String, bool),
        atomic: bool,
        act_kind: ActKind,
    ) {
        let found = CheckThenAct {
            check,
            act,
            via_self,
            state,
            written,
            atomic,
            relocked: !atomic,
            self_locking: false,
            act_kind,
            act_in_callee: false,
            keeps: crate::model::Keeps::Nothing,
            closure: self.closure,
        };
        self.model.functions[self.current]
            .check_then_acts
            .push(found);
    }

    /// The guards of locks that `stmts` bind (`let map = CACHE.write().unwrap();`), by name.
    fn bound_guards(&self, stmts: &[syn::Stmt]) -> Vec<(String, GuardedLock)> {
        stmts
            .iter()
            .filter_map(|stmt| match stmt {
                syn::Stmt::Local(local) => {
                    let lock = self.guarded_lock(&local.init.as_ref()?.expr)?;
                    Some((bound_name(&local.pat)?, lock))
                }
                _ => None,
            })
            .collect()
    }

    /// Remembers a local that holds what a membership check through a guard found (`let new =
    /// !M.read().unwrap().contains_key(k);`, also a block that binds the guard and ends in the
    /// check), for a later `if new { M.write().unwrap().insert(..) }`; a rebinding forgets it.
    pub(super) fn track_membership_check(&mut self, local: &syn::Local) {
        let Some(name) = bound_name(&local.pat) else {
            return;
        };
        self.membership_locals.retain(|known| known.name != name);
        let Some(init) = &local.init else {
            return;
        };
        let (value, bound) = match &*init.expr {
            Expr::Block(block) if block.label.is_none() => {
                let Some(value) = syntax::block_value(&block.block) else {
                    return;
                };
                (value, self.bound_guards(&block.block.stmts))
            }
            value => (value, Vec::new()),
        };
        // `let fresh = !m.contains_key(k) && other;`: `!fresh` does not say the key is there.
        if matches!(value, Expr::Binary(_)) {
            return;
        }
        for missing in [true, false] {
            if let Some((check, lock)) = self.membership_check_in(value, missing, &bound) {
                let found = MembershipLocal {
                    name,
                    missing,
                    check,
                    lock,
                };
                self.membership_locals.push(found);
                return;
            }
        }
    }

    /// A condition that finds a key or element missing (`missing`) or present in a collection
    /// through a temporary guard (`!m.read().contains_key(k)`, `m.lock().get(k).is_none()`;
    /// `m.read().contains_key(k)`, `.get(k).is_some()`), also one operand of an `&&`, or a
    /// local that holds such a check's answer (`if new_key`): the check's span and the lock.
    fn membership_check(&self, cond: &Expr, missing: bool) -> Option<(Span, GuardedLock)> {
        self.membership_check_in(cond, missing, &[])
    }

    /// [`Self::membership_check`], also through the guards `bound` names.
    fn membership_check_in(
        &self,
        cond: &Expr,
        missing: bool,
        bound: &[(String, GuardedLock)],
    ) -> Option<(Span, GuardedLock)> {
        let answer = |name: &syn::Path, missing: bool| {
            let name = name.get_ident()?;
            let local = self
                .membership_locals
                .iter()
                .rev()
                .find(|l| name == &l.name)?;
            (local.missing == missing).then(|| (local.check.clone(), local.lock.clone()))
        };
        // The check from the condition's start to the end of `call`, on `collection`.
        let checked = |collection: &Expr, call: &syn::ExprMethodCall| {
            let lock = self.guarded_lock_in(collection, bound)?;
            Some((
                expr_start(cond)..call.paren_token.span.close().byte_range().end,
                lock,
            ))
        };
        let found = |call: &syn::ExprMethodCall| checked(&call.receiver, call);
        match cond {
            // `if let Some(v) = m.read().get(k)`, also `.get(k).cloned()`: the key is there.
            Expr::Let(found_value) if !missing && is_some_pattern(&found_value.pat) => {
                let mut value = &*found_value.expr;
                while let Expr::MethodCall(call) = value
                    && VALUE_ADAPTERS.contains(&call.method.to_string().as_str())
                {
                    value = &call.receiver;
                }
                let Expr::MethodCall(get) = value else {
                    return None;
                };
                if get.method != "get" {
                    return None;
                }
                found(get)
            }
            Expr::Binary(binary) if matches!(binary.op, syn::BinOp::And(_)) => self
                .membership_check_in(&binary.left, missing, bound)
                .or_else(|| self.membership_check_in(&binary.right, missing, bound)),
            Expr::Paren(inner) => self.membership_check_in(&inner.expr, missing, bound),
            Expr::Path(local) => answer(&local.path, missing),
            Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Not(_)) => match &*unary.expr {
                Expr::MethodCall(call)
                    if missing && CONTAINS.contains(&call.method.to_string().as_str()) =>
                {
                    found(call)
                }
                Expr::MethodCall(call)
                    if missing && contains_through_option(&unary.expr).is_some() =>
                {
                    checked(contains_through_option(&unary.expr)?, call)
                }
                Expr::Path(local) => answer(&local.path, !missing),
                _ => None,
            },
            Expr::MethodCall(call)
                if !missing && CONTAINS.contains(&call.method.to_string().as_str()) =>
            {
                found(call)
            }
            Expr::MethodCall(call) if !missing && contains_through_option(cond).is_some() => {
                checked(contains_through_option(cond)?, call)
            }
            Expr::MethodCall(call)
                if call.method == if missing { "is_none" } else { "is_some" } =>
            {
                match &*call.receiver {
                    Expr::MethodCall(get) if get.method == "get" => checked(&get.receiver, call),
                    // `slot.read().await.is_none()`: the `Option` under the lock is empty.
                    guard => checked(guard, call),
                }
            }
            _ => None,
        }
    }

    /// [`Self::guarded_lock`], also a guard `bound` names (`map` after `let map =
    /// M.write().unwrap();`).
    fn guarded_lock_in(&self, expr: &Expr, bound: &[(String, GuardedLock)]) -> Option<GuardedLock> {
        let expr = without_deref(expr);
        if let Expr::Path(local) = expr
            && let Some(name) = local.path.get_ident()
            && let Some((_, lock)) = bound.iter().rev().find(|(bound, _)| name == bound)
        {
            return Some(lock.clone());
        }
        self.guarded_lock(expr)
            .or_else(|| self.self_locking_collection(expr))
    }

    /// The lock whose guard an expression is (`m.lock().unwrap()`, `m.write()`, also through
    /// an explicit `.deref()`), a lock that makes threads wait (not a `RefCell`) and that is
    /// not a function's own local.
    fn guarded_lock(&self, expr: &Expr) -> Option<GuardedLock> {
        let expr = without_deref(expr);
        let (call, kind) = self.guard_call(expr)?;
        if !self.tables.lock(&kind).is_some_and(|lock| lock.excludes()) {
            return None;
        }
        let lock = self.lock_identity(&call.receiver)?;
        // Through `self` taken by value or `&mut`: no other thread can reach it meanwhile
        // (unless the field is an `Arc` that the struct's clones share).
        let counted = match &*call.receiver {
            Expr::Field(field) if matches!(&*field.base, Expr::Path(p) if p.path.is_ident("self")) => {
                self.semantic
                    .is_counted_self_field(&member_name(&field.member))
            }
            _ => false,
        };
        if lock.via_self && self.exclusive_self && !counted {
            return None;
        }
        (lock.scope != crate::model::LockScope::Local).then(|| GuardedLock {
            identity: lock.identity,
            written: written(&call.receiver),
            via_self: lock.via_self,
            self_locking: false,
        })
    }

    /// A sharded collection field or `static` that locks itself for each call (a `DashMap`,
    /// whose `insert` takes and gives back a shard's lock: `transient` in `rules/locks.toml`):
    /// each lookup and each change is atomic, but not the two together.
    fn self_locking_collection(&self, expr: &Expr) -> Option<GuardedLock> {
        let Some(Returns::One(ty)) = self.semantic.type_of(expr) else {
            return None;
        };
        let ty = crate::model::sharded_lock_type(&ty)?;
        let inserts = self.tables.lock(&crate::model::concat(&[ty, "::insert"]))?;
        if !inserts.transient {
            return None;
        }
        let lock = self.lock_identity(expr)?;
        if lock.scope == crate::model::LockScope::Local || lock.via_self && self.exclusive_self {
            return None;
        }
        Some(GuardedLock {
            identity: lock.identity,
            written: written(expr),
            via_self: lock.via_self,
            self_locking: true,
        })
    }

    /// Drops the check-then-acts of the current function on an atomic it makes itself (`let
    /// epoch = AtomicU64::new(0);`) and only ever calls methods on, outside closures: no other
    /// thread can reach it (a test of the atomic's own arithmetic).
    pub(super) fn forget_unshared_atomics(&mut self, block: &syn::Block) {
        let function = &self.model.functions[self.current];
        if !function.check_then_acts.iter().any(|c| c.atomic) {
            return;
        }
        let mut owned = Vec::new();
        for stmt in &block.stmts {
            if let syn::Stmt::Local(local) = stmt
                && let (Some(name), Some(init)) = (bound_name(&local.pat), &local.init)
                && let Expr::Call(call) = &*init.expr
                && let Expr::Path(ctor) = &*call.func
                && ctor.path.segments.len() >= 2
                && ctor.path.segments.last().is_some_and(|s| s.ident == "new")
                && ctor.path.segments[ctor.path.segments.len() - 2]
                    .ident
                    .to_string()
                    .starts_with("Atomic")
            {
                owned.push(name);
            }
        }
        owned.retain(|name| !escapes(block, name));
        if owned.is_empty() {
            return;
        }
        self.model.functions[self.current]
            .check_then_acts
            .retain(|c| !(c.atomic && owned.contains(&c.state)));
    }

    /// Whether an expression is an atomic (`AtomicBool`, `AtomicUsize`…), by its type.
    pub(super) fn is_atomic(&self, expr: &Expr) -> bool {
        matches!(self.semantic.type_of(expr), Some(Returns::One(ty)) if !is_deferred(&ty) && ty.rsplit("::").next().is_some_and(|t| t.starts_with("Atomic")))
    }

    /// Remembers a local that holds an atomic's loaded value or one operators compute from it
    /// (`let n = COUNT.load(..)`, `let was = BITS.load(..) & bit > 0`), for
    /// [`Self::atomic_check_then_act`] and [`Self::stale_atomic_result`]; a rebinding of the
    /// name forgets it.
    pub(super) fn track_atomic_load(&mut self, local: &syn::Local) {
        if let (Some(init), Some(name)) = (&local.init, bound_name(&local.pat)) {
            self.atomic_locals.retain(|(local, _, _, _)| *local != name);
            if let Some(load) = self.operand_load(&init.expr) {
                let span =
                    expr_start(&load.receiver)..load.paren_token.span.close().byte_range().end;
                let rmw = load.method != "load";
                self.atomic_locals
                    .push((name, written(&load.receiver), span, rmw));
            }
        }
    }

    /// The atomic `load` a value is computed from by operators only (`A.load(..)`, `A.load(..)
    /// & bit > 0`, `(A.load(..) as usize) + 1`), not through a call that may make anything of
    /// it.
    fn operand_load<'e>(&self, value: &'e Expr) -> Option<&'e syn::ExprMethodCall> {
        match value {
            Expr::MethodCall(load) if load.method == "load" && self.is_atomic(&load.receiver) => {
                Some(load)
            }
            // The value a read-modify-write replaced (`let old = N.fetch_add(1, ..)`).
            Expr::MethodCall(rmw)
                if (rmw.method == "swap" || rmw.method.to_string().starts_with("fetch_"))
                    && rmw.method != "fetch_update"
                    && self.is_atomic(&rmw.receiver) =>
            {
                Some(rmw)
            }
            Expr::Binary(binary) => self
                .operand_load(&binary.left)
                .or_else(|| self.operand_load(&binary.right)),
            Expr::Unary(unary) => self.operand_load(&unary.expr),
            Expr::Paren(paren) => self.operand_load(&paren.expr),
            Expr::Cast(cast) => self.operand_load(&cast.expr),
            _ => None,
        }
    }

    /// `let was = A.load(..) & bit > 0; A.fetch_or(bit, ..); was`: statement `i` changes an
    /// atomic by a `swap`/`fetch_*` whose result, the value it replaced, is thrown away, while
    /// a value loaded from that atomic before is used after it (IL403): two threads can both
    /// load the old value, and both act on it.
    pub(super) fn stale_atomic_result(&mut self, stmts: &[syn::Stmt], i: usize) {
        let discarded = match &stmts[i] {
            syn::Stmt::Expr(expr, Some(_)) => Some(expr),
            syn::Stmt::Local(local) if matches!(local.pat, syn::Pat::Wild(_)) => {
                local.init.as_ref().map(|init| &*init.expr)
            }
            _ => None,
        };
        let Some(Expr::MethodCall(call)) = discarded else {
            return;
        };
        let method = call.method.to_string();
        // `let previous = l.load(..); l.store(1, ..); if previous != 1 { .. }`: a test-and-set
        // split in two, as a `store` of a constant whose old value a test then reads.
        let store = method == "store"
            && call
                .args
                .first()
                .is_some_and(|value| matches!(value, Expr::Lit(_) | Expr::Path(_)));
        if !(store || method == "swap" || method.starts_with("fetch_")) || method == "fetch_update"
        {
            return;
        }
        let atomic = written(&call.receiver);
        let loaded = self
            .atomic_locals
            .iter()
            .rev()
            .find(|(_, a, _, rmw)| *a == atomic && !rmw);
        let Some((local, _, check, _)) = loaded else {
            return;
        };
        // Through `self` taken by value or `&mut`: nobody else can see it.
        if self.exclusive_self && atomic.starts_with("self.") {
            return;
        }
        let used = match store {
            true => stmts[i + 1..].iter().any(|s| tests(s, local)),
            false => stmts[i + 1..].iter().any(|s| stmt_names(s, local)),
        };
        if !used {
            return;
        }
        let act = expr_start(&call.receiver)..call.paren_token.span.close().byte_range().end;
        let state = (atomic.clone(), atomic.clone(), atomic.starts_with("self."));
        self.push_check_then_act(check.clone(), act, state, true, ActKind::StaleLoad);
    }

    /// `COUNT += 1` and the other compound assignments of a `static mut`.
    pub(super) fn compound_assignment(&mut self, expr: &syn::ExprBinary) {
        let compound = super::guards::is_compound_assignment(&expr.op);
        if compound {
            self.static_write(&expr.left, None, expr_start(&expr.left));
        }
    }
}

/// Whether a statement is an `if` or `while` whose condition reads a local.
fn tests(stmt: &syn::Stmt, local: &str) -> bool {
    match stmt {
        syn::Stmt::Expr(Expr::If(branch), _) => names_path(&branch.cond, local),
        syn::Stmt::Expr(Expr::While(repeat), _) => names_path(&repeat.cond, local),
        _ => false,
    }
}

/// Whether a statement reads a local (also as a macro's argument: `assert!(was)`).
fn stmt_names(stmt: &syn::Stmt, local: &str) -> bool {
    match stmt {
        syn::Stmt::Expr(expr, _) => names_path(expr, local),
        syn::Stmt::Local(binding) => binding.init.as_ref().is_some_and(|init| {
            names_path(&init.expr, local)
                || init
                    .diverge
                    .as_ref()
                    .is_some_and(|(_, d)| names_path(d, local))
        }),
        syn::Stmt::Macro(mac) => tokens_name(mac.mac.tokens.clone(), local),
        syn::Stmt::Item(_) => false,
    }
}

/// Whether a local is used other than as the receiver of a method call of the block's own code
/// (named in a closure, borrowed, moved, returned): then code elsewhere may reach it.
fn escapes(block: &syn::Block, name: &str) -> bool {
    struct Uses<'n> {
        name: &'n str,
        receivers: usize,
        all: usize,
        in_closure: bool,
    }
    impl<'ast> syn::visit::Visit<'ast> for Uses<'_> {
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            if !self.in_closure
                && matches!(&*call.receiver, Expr::Path(p) if p.path.is_ident(self.name))
            {
                self.receivers += 1;
            }
            syn::visit::visit_expr_method_call(self, call);
        }
        fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
            let outer = std::mem::replace(&mut self.in_closure, true);
            syn::visit::visit_expr_closure(self, closure);
            self.in_closure = outer;
        }
        fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
            if path.path.is_ident(self.name) {
                self.all += 1;
            }
        }
        // (A macro's tokens are not expressions: see `mentions_in_macros`.)
    }
    let mut uses = Uses {
        name,
        receivers: 0,
        all: 0,
        in_closure: false,
    };
    syn::visit::Visit::visit_block(&mut uses, block);
    uses.all != uses.receivers || mentions_in_macros(block, name)
}

/// Whether a macro of the block names the local other than to call a method on it
/// (`assert!(flag.load(..))` calls one; `spawn_with!(flag)` hands it on).
fn mentions_in_macros(block: &syn::Block, name: &str) -> bool {
    fn hands_on(tokens: proc_macro2::TokenStream, name: &str) -> bool {
        let tokens: Vec<proc_macro2::TokenTree> = tokens.into_iter().collect();
        tokens.iter().enumerate().any(|(i, token)| match token {
            proc_macro2::TokenTree::Ident(ident) => {
                let called = matches!(tokens.get(i + 1),
                    Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == '.');
                let field = i > 0
                    && matches!(&tokens[i - 1],
                        proc_macro2::TokenTree::Punct(p) if p.as_char() == '.');
                ident == name && !called && !field
            }
            proc_macro2::TokenTree::Group(group) => hands_on(group.stream(), name),
            _ => false,
        })
    }
    struct Macros<'n> {
        name: &'n str,
        found: bool,
    }
    impl<'ast> syn::visit::Visit<'ast> for Macros<'_> {
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            self.found |= hands_on(mac.tokens.clone(), self.name);
        }
    }
    let mut macros = Macros { name, found: false };
    syn::visit::Visit::visit_block(&mut macros, block);
    macros.found
}

/// A lock reached through one of its guards, as [`Lowerer::relocked_check_then_act`] needs it.
#[derive(Clone)]
struct GuardedLock {
    identity: String,
    written: String,
    via_self: bool,
    /// A collection that locks itself in each call (`DashMap`): `get` gives an `Option` of a
    /// guard, so no guard is left in an `if let`'s `else`, whatever the edition.
    self_locking: bool,
}

/// A local holding a membership check's answer (see [`Lowerer::track_membership_check`]).
pub(super) struct MembershipLocal {
    name: String,
    /// The answer is "missing" (`!g.contains_key(k)`), not "there".
    missing: bool,
    check: Span,
    lock: GuardedLock,
}

/// `g.deref()`, `g.deref_mut()`: what the guard derefs to, as `g` itself.
fn without_deref(expr: &Expr) -> &Expr {
    match expr {
        Expr::MethodCall(call)
            if call.args.is_empty() && (call.method == "deref" || call.method == "deref_mut") =>
        {
            without_deref(&call.receiver)
        }
        // A collection in an `Option` behind the lock: `g.as_mut().unwrap()`,
        // `g.get_or_insert_with(HashSet::new)` reach the collection the guard holds.
        Expr::MethodCall(call) if OPTION_ADAPTERS.contains(&call.method.to_string().as_str()) => {
            without_deref(&call.receiver)
        }
        Expr::MethodCall(call)
            if (call.method == "unwrap" || call.method == "expect")
                && matches!(&*call.receiver, Expr::MethodCall(inner)
                    if OPTION_ADAPTERS.contains(&inner.method.to_string().as_str())) =>
        {
            without_deref(&call.receiver)
        }
        _ => expr,
    }
}

/// Methods that reach the value of an `Option` a guard holds.
const OPTION_ADAPTERS: &[&str] = &[
    "as_ref",
    "as_mut",
    "as_deref",
    "as_deref_mut",
    "get_or_insert_with",
    "get_or_insert_default",
    "get_or_insert",
];

/// `g.as_ref().map(|set| set.contains(k)).unwrap_or(false)`, `g.as_ref().is_some_and(|set|
/// set.contains(k))`: a membership check of the collection in an `Option`, as the collection
/// (`g.as_ref()`) whose element the closure checks.
fn contains_through_option(expr: &Expr) -> Option<&Expr> {
    let Expr::MethodCall(outer) = expr else {
        return None;
    };
    let (mapped, closure) = match outer.method.to_string().as_str() {
        "unwrap_or" if matches!(outer.args.first(), Some(Expr::Lit(syn::ExprLit { lit: syn::Lit::Bool(b), .. })) if !b.value) =>
        {
            let Expr::MethodCall(map) = &*outer.receiver else {
                return None;
            };
            if map.method != "map" {
                return None;
            }
            (&*map.receiver, map.args.first()?)
        }
        "is_some_and" => (&*outer.receiver, outer.args.first()?),
        _ => return None,
    };
    let Expr::Closure(closure) = closure else {
        return None;
    };
    let [syn::Pat::Ident(parameter)] = closure.inputs.iter().collect::<Vec<_>>().as_slice() else {
        return None;
    };
    let Expr::MethodCall(check) = &*closure.body else {
        return None;
    };
    let on_parameter =
        matches!(&*check.receiver, Expr::Path(p) if p.path.is_ident(&parameter.ident));
    (on_parameter && CONTAINS.contains(&check.method.to_string().as_str())).then_some(mapped)
}

/// Methods that fill a collection with what a check found missing.
const FILLS: &[&str] = &[
    "insert",
    "push",
    "push_back",
    "push_front",
    "extend",
    "append",
];

/// Methods that tell whether a collection holds a key or element.
const CONTAINS: &[&str] = &["contains_key", "contains"];

/// Whether a block ends by leaving what encloses it: `return`, `continue`, `break`, or a macro
/// that returns an error or panics (`bail!`, `panic!`).
fn leaves(block: &syn::Block) -> bool {
    let exits = |mac: &syn::Macro| {
        mac.path.segments.last().is_some_and(|last| {
            matches!(
                last.ident.unraw().to_string().as_str(),
                "bail" | "panic" | "unreachable" | "todo" | "unimplemented"
            )
        })
    };
    match block.stmts.last() {
        Some(syn::Stmt::Expr(expr, _)) => match expr {
            Expr::Return(_) | Expr::Continue(_) | Expr::Break(_) => true,
            Expr::Macro(mac) => exits(&mac.mac),
            _ => false,
        },
        Some(syn::Stmt::Macro(mac)) => exits(&mac.mac),
        _ => false,
    }
}

/// Whether a pattern matches only a found value (`Some(v)`, `Some(_)`).
fn is_some_pattern(pat: &syn::Pat) -> bool {
    matches!(pat, syn::Pat::TupleStruct(found) if found.path.is_ident("Some"))
}

/// Methods that keep whether a lookup found a value (`map.get(k).cloned()`).
const VALUE_ADAPTERS: &[&str] = &["cloned", "copied", "as_ref", "as_deref"];

/// The name of the bound guard a membership check goes through, if it goes through one.
fn guard_name_of(cond: &Expr, bound: &[(String, GuardedLock)]) -> Option<String> {
    struct Names<'b>(&'b [(String, GuardedLock)], Option<String>);
    impl<'ast> Visit<'ast> for Names<'_> {
        fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
            if let Some(name) = path.path.get_ident()
                && let Some((bound, _)) = self.0.iter().rev().find(|(bound, _)| name == bound)
            {
                self.1 = Some(bound.clone());
            }
        }
    }
    let mut names = Names(bound, None);
    names.visit_expr(cond);
    names.1
}

/// Whether a statement is `drop(name);`.
fn drops(stmt: &syn::Stmt, name: &str) -> bool {
    let syn::Stmt::Expr(Expr::Call(call), _) = stmt else {
        return false;
    };
    let dropped = matches!(&*call.func, Expr::Path(f) if f.path.is_ident("drop"));
    dropped && matches!(call.args.first(), Some(Expr::Path(arg)) if arg.path.is_ident(name))
}

/// Methods that check a collection again, or fill it only where missing (`entry`).
const RECHECKS: &[&str] = &[
    "contains_key",
    "contains",
    "get",
    "get_mut",
    "entry",
    "is_none",
    "is_some",
];
