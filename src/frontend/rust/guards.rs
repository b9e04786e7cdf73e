//! Guards: how long each lock guard lives. A `let` guard until the end of its block, its
//! `drop` or its move into a call; a temporary guard until the end of its statement, or
//! earlier in `if`/`while` conditions and (edition 2024) `if let` scrutinees. Also guards
//! that are never dropped (`mem::forget`, IL204) and guards dropped at once (IL205).

use rustc_hash::FxHashMap as HashMap;
use rustc_hash::FxHashSet as HashSet;
use syn::ext::IdentExt;

use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Expr, Pat};

use super::Lowerer;
use super::locks::{GuardUse, unwraps_lock_result};
use super::syntax::{
    self, awaits_in, bound_name, expr_start, guard_binding, has_let, stmt_end, stmt_start, written,
};
use super::traverse::select_branches;
use crate::knowledge::Returns;
use crate::model::{Leak, LeakedLock, LockName, LockScope, Pointless, Span};

/// How long the guard bound to `name` by statement `i` lives: the statement that moves it
/// (`drop(guard)`, a call it is given), where its region ends (at that statement or at the end
/// of the block, `block_end`), and the holes in it: a move in a branch that returns (`if bad
/// { drop(guard); return; }`) ends the guard on that branch only. A move on some other path
/// only (`if … { drop(guard) }`, then code both paths run) ends what can be told.
fn bound_region(
    stmts: &[syn::Stmt],
    i: usize,
    block_end: usize,
    moves: &BlockMoves,
    name: &str,
    optional: bool,
) -> (usize, usize, Vec<Span>) {
    let (moved_by, first_move, mut holes) = moves.after(stmts, name, i, optional);
    if optional {
        holes.extend(emptied_branches(&stmts[i + 1..], name));
    }
    let region_end = stmts
        .get(moved_by)
        .map_or(block_end, |s| stmt_start(s, block_end));
    (
        moved_by,
        first_move.map_or(region_end, |m| m.min(region_end)),
        holes,
    )
}

impl Lowerer<'_> {
    /// Gives the holds recorded from index `first` on their holes: the guard is gone there, and
    /// so are the awaits there.
    fn punch_holes(&mut self, first: usize, holes: Vec<Span>) {
        if holes.is_empty() {
            return;
        }
        for hold in &mut self.model.functions[self.current].lock_holds[first..] {
            hold.awaits
                .retain(|a| !holes.iter().any(|hole| hole.contains(&a.start)));
            hold.holes = holes.iter().cloned().collect();
        }
    }

    /// The guard a temporary lock call makes, if it is one: an async lock's only once awaited
    /// (its future alone holds nothing).
    fn temporary_guard_kind(
        &self,
        call: &syn::ExprMethodCall,
        temporaries: &Temporaries,
    ) -> Option<String> {
        let used = if temporaries.awaited.iter().any(|a| std::ptr::eq(*a, call)) {
            GuardUse::Awaited
        } else if temporaries.unwrapped.iter().any(|u| std::ptr::eq(*u, call)) {
            GuardUse::Unwrapped
        } else {
            GuardUse::Other
        };
        self.guard_kind(call)
            .or_else(|| self.candidate_kind(call, used))
            .filter(|kind| used == GuardUse::Awaited || !self.is_async_lock(kind))
    }

    /// Records the lock guards of a block's statement with the region each is held over: a
    /// `let` guard until the end of the block (`block_end`), its `drop(guard)` or its move into
    /// a call; a temporary guard until the end of its statement, except in an `if` or `while`
    /// condition (dropped before the body) and in an `if let` scrutinee under edition 2024
    /// (dropped before the `else`).
    ///
    /// Called for statement `i` just before it is lowered, so the locals of the statements
    /// before it are bound; `bound_guards` collects the block's `let` guards (name, lock).
    pub(super) fn guards_at(
        &mut self,
        stmts: &[syn::Stmt],
        i: usize,
        block_end: usize,
        moves: &BlockMoves,
        bound_guards: &mut Vec<(String, String)>,
    ) {
        let stmt = &stmts[i];
        {
            self.leaks_in(stmt, bound_guards);
            // A guard dropped at once: `let _ = m.lock();`, `m.lock().unwrap();`. Not as the
            // block's last statement: with no code after it to protect, it waits until the
            // lock is free (`async move { m.lock().await; }`).
            let last = i + 1 == stmts.len();
            let discarded = match stmt {
                _ if last => None,
                syn::Stmt::Local(local) if matches!(local.pat, Pat::Wild(_)) => {
                    local.init.as_ref().map(|i| &*i.expr)
                }
                syn::Stmt::Expr(expr, Some(_)) => Some(expr),
                _ => None,
            };
            // (`map.entry(k).or_insert_with(..);` is an insertion, not a lock taken to protect.)
            let discarded = discarded.filter(|expr| {
                !matches!(expr, Expr::MethodCall(call)
                    if super::locks::ENTRY_REFERENCES.contains(&call.method.to_string().as_str()))
            });
            // Not for a guard method the project may add (confirmed only in the project phase).
            // Nor for an async lock of `()` awaited and let go: a gate that waits until whoever
            // holds it is done (`let _ = self.global.lock().await;`).
            // `if m.try_lock().is_ok() { .. }`: the guard is gone before the branch runs.
            let tested = match stmt {
                syn::Stmt::Expr(Expr::If(branch), _) => match &*branch.cond {
                    Expr::MethodCall(test)
                        if test.args.is_empty()
                            && matches!(test.method.to_string().as_str(), "is_ok" | "is_some") =>
                    {
                        Some(&*test.receiver)
                    }
                    _ => None,
                },
                _ => None,
            };
            for (expr, why) in [
                (discarded, Pointless::GuardDiscarded),
                (tested, Pointless::GuardTested),
            ] {
                if let Some((call, kind)) = expr.and_then(|expr| self.guard_call(expr))
                    && !super::syntax::constructs(&call.receiver)
                    && let Some(lock) = self.tables.lock(&kind)
                    && !lock.transient
                    && !(lock.is_async && self.semantic.guards_nothing(call))
                    // `if map.get(&k).is_some()` asks a sharded map whether it holds a key.
                    && !(why == Pointless::GuardTested && is_sharded_map_method(&kind))
                {
                    self.pointless(call, why);
                }
            }
            if self.awaited_guard(stmts, i, block_end, moves, bound_guards) {
                return;
            }
            let bound = match stmt {
                syn::Stmt::Local(local) => local.init.as_ref().and_then(|init| {
                    let (call, kind) = self.bound_guard_call(&init.expr)?;
                    Some((call, kind, guard_binding(&local.pat)?))
                }),
                _ => None,
            };
            if let Some((call, kind, name)) = bound {
                // `let lv2 = &mut *x.write();`: the guard is a temporary extended to the end
                // of the block, and the name only borrows it: passing the name on (or
                // dropping it) leaves the guard held.
                let borrowed = matches!(stmt, syn::Stmt::Local(syn::Local {
                    init: Some(init),
                    ..
                }) if matches!(&*init.expr, Expr::Reference(_)));
                // `let mut held = Some(m.lock());`: `held.take();` drops the guard; so does
                // `found.unwrap()` of `let found = map.get(&key);` (a sharded map's `Option`
                // of a reference guard), its result a temporary.
                let optional = matches!(stmt, syn::Stmt::Local(syn::Local {
                    init: Some(init),
                    ..
                }) if match &*init.expr {
                    Expr::Call(c) => matches!(&*c.func, Expr::Path(f) if f.path.is_ident("Some")),
                    Expr::MethodCall(c) => c.method == "get" || c.method == "get_mut",
                    _ => false,
                });
                let (moved_by, region_end, holes) = match borrowed {
                    true => (stmts.len(), block_end, Vec::new()),
                    false => bound_region(stmts, i, block_end, moves, &name, optional),
                };
                bound_guards.push((name, written(&call.receiver)));
                let body_awaits = || moves.awaits(stmts, i + 1, moved_by);
                let first = self.model.functions[self.current].lock_holds.len();
                self.hold(call, kind, region_end, body_awaits);
                self.punch_holes(first, holes);
                return;
            }
            if let syn::Stmt::Local(local) = stmt
                && let (Some(init), Some(name)) = (&local.init, guard_binding(&local.pat))
            {
                // A guard a function returns: of a `static`, or of a lock it is given. A
                // function of another file may be either: both candidates are kept, for the
                // project phase to keep the one it confirms.
                let returned: Vec<_> = match self.guard_function_call(&init.expr) {
                    Some(known) if !known.1.starts_with("?guard:") => vec![known],
                    candidate => candidate
                        .into_iter()
                        .chain(self.argument_guard_call(&init.expr))
                        .collect(),
                };
                if !returned.is_empty() {
                    let (moved_by, region_end, holes) =
                        bound_region(stmts, i, block_end, moves, &name, false);
                    let first = self.model.functions[self.current].lock_holds.len();
                    for (span, kind, lock, as_written) in returned {
                        // A function of another module returns a guard only if the project
                        // phase finds it does: its result forgotten is no leak until then.
                        let candidate = kind.starts_with("?guard:") || kind.starts_with("?>");
                        if !candidate {
                            bound_guards.push((name.clone(), as_written.clone()));
                        }
                        // (A candidate's awaits are kept: IL203 reports them once the project
                        // finds the function returns a sync lock's guard.)
                        let sync = match self.tables.lock(&kind) {
                            Some(lock) => !lock.is_async,
                            None => candidate,
                        };
                        let awaits = match sync {
                            true => moves.awaits(stmts, i + 1, moved_by),
                            false => Vec::new(),
                        };
                        self.record_hold(span, region_end, Some(lock), as_written, kind, awaits);
                    }
                    self.punch_holes(first, holes);
                    return;
                }
            }
            let statement_end = stmt_end(stmt, block_end);
            let mut temporaries = Temporaries {
                edition: self.edition,
                ..Temporaries::default()
            };
            temporaries.visit_stmt(stmt);
            let mut guards = Vec::new();
            for &(call, extent) in &temporaries.calls {
                if let Some(kind) = self.temporary_guard_kind(call, &temporaries) {
                    guards.push((call, kind, extent));
                }
            }
            // `*self.b.write() = self.a.read().len();`: the right side runs first, so its
            // guards are taken before the left side's (and held while it is taken).
            let assignment = match stmt {
                syn::Stmt::Expr(Expr::Assign(assign), _) => Some((
                    expr_start(&assign.left),
                    assign.eq_token.span.byte_range().start,
                )),
                syn::Stmt::Expr(Expr::Binary(binary), _) if is_compound_assignment(&binary.op) => {
                    Some((expr_start(&binary.left), op_start(&binary.op)))
                }
                _ => None,
            };
            let left_guarded = assignment.is_some_and(|(_, eq)| {
                guards
                    .iter()
                    .any(|(call, _, _)| expr_start(&call.receiver) < eq)
            });
            for &(call, extent) in &temporaries.local_calls {
                self.closure_guard_call(call, extent.unwrap_or(statement_end));
            }
            // `*m.lock().unwrap() = fetch().await;`: the value is computed (and awaited)
            // before the place is, so the left side's guard is not held across that await.
            let assigned = match stmt {
                syn::Stmt::Expr(Expr::Assign(assign), _) => Some(&*assign.right),
                _ => None,
            };
            let assigned_from = assigned.map(expr_start);
            for (call, kind, extent) in guards {
                let start = match assignment {
                    Some((left, eq)) if left_guarded && expr_start(&call.receiver) > eq => left,
                    _ => expr_start(&call.receiver),
                };
                let end = self.guard_end(call, &kind, extent.unwrap_or(statement_end));
                let end = temporaries.moved_end(call, end);
                if self.is_transient(&kind) {
                    self.transient_hold(call, kind, end);
                    continue;
                }
                let value_start = assigned_from.filter(|&value| expr_start(&call.receiver) < value);
                let awaits = || {
                    let mut awaits = awaits_in(std::slice::from_ref(stmt));
                    if let Some(value) = value_start {
                        awaits.retain(|a| a.start < value);
                    }
                    awaits
                };
                let first = self.model.functions[self.current].lock_holds.len();
                self.hold_from(call, kind, end, awaits, start);
                if let Some((_, empty)) = temporaries
                    .empty_arms
                    .iter()
                    .find(|(scrutinee, _)| std::ptr::eq(*scrutinee, call))
                {
                    for hold in &mut self.model.functions[self.current].lock_holds[first..] {
                        hold.awaits
                            .retain(|a| !empty.iter().any(|hole| hole.contains(&a.start)));
                        hold.holes.extend(empty.iter().cloned());
                    }
                }
                // `*self.max.write() = self.compute();`: the guard is taken once the value is
                // computed, so the calls there do not run under it.
                if let (Some(value), Some(value_start)) = (assigned, value_start)
                    && let Some(value_end) = syntax::expr_end(value)
                {
                    for hold in &mut self.model.functions[self.current].lock_holds[first..] {
                        hold.holes.push(value_start..value_end);
                    }
                }
            }
        }
    }

    /// `let g = prepare.await;` of an `async` block of this block that takes a guard and gives
    /// it (alone or in a tuple: `async { let g = m.lock().await; (g, permit) }`), `let g =
    /// select! { g = m.lock() => g, _ = stop.cancelled() => return }`, also with such a block
    /// as the branch's future, and `let r = RwLockWriteGuard::downgrade(w);` of a guard bound
    /// in this block: the guard is held from there like a `let` guard. Whether one was
    /// recorded.
    fn awaited_guard(
        &mut self,
        stmts: &[syn::Stmt],
        i: usize,
        block_end: usize,
        moves: &BlockMoves,
        bound_guards: &mut Vec<(String, String)>,
    ) -> bool {
        let syn::Stmt::Local(local) = &stmts[i] else {
            return false;
        };
        let Some(init) = &local.init else {
            return false;
        };
        let start = expr_start(&init.expr);
        let at = start..syntax::expr_end(&init.expr).unwrap_or(start + 1);
        let branches;
        // The guard's lock call, its kind, its place in the value, and where it is obtained.
        let found = match &*init.expr {
            Expr::Await(awaited) => {
                let Expr::Path(block) = &*awaited.base else {
                    return false;
                };
                let Some(name) = block.path.get_ident() else {
                    return false;
                };
                self.async_block_guard(&stmts[..i], &name.to_string())
                    .map(|(call, kind, slot)| (call, kind, slot, at))
            }
            // `let meta = RwLockWriteGuard::downgrade(data);`: a read guard of the same lock.
            Expr::Call(call)
                if call.args.len() == 1
                    && matches!(&*call.func, Expr::Path(f)
                        if f.path.segments.last().is_some_and(|s| s.ident == "downgrade")) =>
            {
                let Expr::Path(guard) = &call.args[0] else {
                    return false;
                };
                let Some(name) = guard.path.get_ident().map(ToString::to_string) else {
                    return false;
                };
                bound_value(&stmts[..i], &name)
                    .flatten()
                    .and_then(|init| self.bound_guard_call(init))
                    .map(|(call, kind)| {
                        let kind = match kind.rsplit_once("::") {
                            Some((lock, _)) => format!("{lock}::read"),
                            None => kind,
                        };
                        (call, kind, None, at)
                    })
            }
            Expr::Macro(mac)
                if mac
                    .mac
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "select") =>
            {
                let Ok(parsed) = mac.mac.parse_body_with(select_branches) else {
                    return false;
                };
                branches = parsed;
                branches.iter().find_map(|branch| {
                    let output = bound_name(branch.pattern.as_ref()?)?;
                    if !gives_binding(&branch.handler, &output) {
                        return None;
                    }
                    match branch.future.as_ref()? {
                        Expr::Path(block) => {
                            let name = block.path.get_ident()?.to_string();
                            self.async_block_guard(&stmts[..i], &name)
                                .map(|(call, kind, slot)| (call, kind, slot, at.clone()))
                        }
                        future => {
                            let (call, kind) =
                                self.guard_call_awaited(future, true, GuardUse::Awaited)?;
                            let site = expr_start(&call.receiver)
                                ..call.paren_token.span.close().byte_range().end;
                            Some((call, kind, None, site))
                        }
                    }
                })
            }
            _ => None,
        };
        let Some((call, kind, slot, site)) = found else {
            return false;
        };
        let pattern = match (slot, &local.pat) {
            (None, pattern) => Some(pattern),
            (Some(k), Pat::Tuple(tuple)) => tuple.elems.iter().nth(k),
            _ => None,
        };
        let Some(name) = pattern.and_then(bound_name) else {
            return false;
        };
        let (moved_by, region_end, holes) = bound_region(stmts, i, block_end, moves, &name, false);
        bound_guards.push((name, written(&call.receiver)));
        let first = self.model.functions[self.current].lock_holds.len();
        let awaits = || moves.awaits(stmts, i + 1, moved_by);
        self.hold_at(call, kind, region_end, awaits, site);
        self.punch_holes(first, holes);
        true
    }

    /// The guard an `async` block bound to `name` among `stmts` gives when awaited: its lock
    /// call and kind, and its place in a tuple the block gives (`None`: the block's value).
    fn async_block_guard<'s>(
        &self,
        stmts: &'s [syn::Stmt],
        name: &str,
    ) -> Option<(&'s syn::ExprMethodCall, String, Option<usize>)> {
        let Some(Expr::Async(block)) = bound_value(stmts, name)? else {
            return None;
        };
        let block = &block.block;
        let (given, slot) = match syntax::block_value(block)? {
            Expr::Path(path) => (path.path.get_ident()?.to_string(), None),
            Expr::Tuple(tuple) => tuple.elems.iter().enumerate().find_map(|(k, e)| match e {
                Expr::Path(path) => Some((path.path.get_ident()?.to_string(), Some(k))),
                _ => None,
            })?,
            _ => return None,
        };
        let (call, kind) = self.bound_guard_call(bound_value(&block.stmts, &given)??)?;
        Some((call, kind, slot))
    }

    /// `let dict = main_dict();` of a function that returns a guard of a `static` lock: one of
    /// this file's (that lock, as the function writes it), or a free function of another module
    /// of the crate, kept as a candidate of kind `?guard:callee` that the project phase keeps
    /// where that function returns a static's guard (see `FileModel::guard_functions`).
    fn guard_function_call(&self, init: &Expr) -> Option<(Span, String, LockName, String)> {
        let Expr::Call(call) = init else {
            return None;
        };
        let Expr::Path(func) = &*call.func else {
            return None;
        };
        let callee = self.semantic.resolve_qualified_name(&func.path)?;
        let span = expr_start(init)..call.paren_token.span.close().byte_range().end;
        if let Some((kind, lock, as_written)) = self.guard_functions.get(&callee) {
            return Some((span, kind.clone(), lock.clone(), as_written.clone()));
        }
        let module = self.semantic.module();
        let (owner, name) = callee.rsplit_once("::")?;
        let same_crate = owner.split("::").next() == module.split("::").next();
        let upper = |s: &str| s.starts_with(|c: char| c.is_ascii_uppercase());
        if !same_crate || owner == module || upper(name) || upper(owner.rsplit("::").next()?) {
            return None;
        }
        let lock = LockName {
            identity: callee.clone(),
            scope: LockScope::Global,
            via_self: false,
        };
        Some((
            span,
            format!("?guard:{callee}"),
            lock,
            format!("{}()", written(&call.func)),
        ))
    }

    /// `let tree = ITree::read_lock(&self.tree)?;` of a function that returns a guard of the
    /// lock it is given: this file's (its guard method), or another file's, kept as a candidate
    /// of kind `?>callee#index` for the first lock it is given, which the project phase keeps
    /// where that function returns that parameter's guard (`FileModel::parameter_locks`).
    fn argument_guard_call(&self, init: &Expr) -> Option<(Span, String, LockName, String)> {
        let mut value = init;
        loop {
            value = match value {
                Expr::Try(inner) => &inner.expr,
                Expr::Paren(inner) => &inner.expr,
                Expr::MethodCall(call) if unwraps_lock_result(call) => &call.receiver,
                _ => break,
            };
        }
        let Expr::Call(call) = value else {
            return None;
        };
        let Expr::Path(func) = &*call.func else {
            return None;
        };
        let callee = self.semantic.resolve_qualified_name(&func.path)?;
        let (index, kind) = match self.argument_guards.get(&callee) {
            Some((index, kind)) => (*index, kind.clone()),
            // This file's function that returns no guard of what it is given, a library's, or
            // a constructor.
            None if self.file_functions.contains(&callee) => return None,
            None if callee.split("::").next() != self.semantic.module().split("::").next()
                || callee.ends_with("::new")
                || callee.ends_with("::default")
                || callee.ends_with("::from") =>
            {
                return None;
            }
            // The lock given: one of known lock type, else the first field given (of a struct
            // of another file: `&self.network.tree`).
            None => {
                let is_lock = |arg: &Expr| {
                    matches!(self.semantic.type_of(arg),
                        Some(Returns::One(ty)) if self.semantic.is_waiting_lock_type(&ty))
                };
                let field = |arg: &Expr| matches!(syntax::without_refs(arg), Expr::Field(_));
                let index = call
                    .args
                    .iter()
                    .position(is_lock)
                    .or_else(|| call.args.iter().position(field))?;
                (index, format!("?>{callee}#{index}"))
            }
        };
        let given = call.args.iter().nth(index)?;
        let lock = self.lock_identity(given)?;
        let span = expr_start(value)..call.paren_token.span.close().byte_range().end;
        Some((span, kind, lock, written(syntax::without_refs(given))))
    }

    /// `let get_guard = || m.lock().unwrap();`: calling the closure takes `m`.
    pub(super) fn closure_returning_guard(&mut self, local: &syn::Local) {
        let (Some(init), Some(name)) = (&local.init, bound_name(&local.pat)) else {
            return;
        };
        let Expr::Closure(closure) = &*init.expr else {
            return;
        };
        if closure.asyncness.is_some() || !closure.inputs.is_empty() {
            return;
        }
        let body = match &*closure.body {
            Expr::Block(block) => match block.block.stmts.last() {
                Some(syn::Stmt::Expr(tail, None)) if block.block.stmts.len() == 1 => tail,
                _ => return,
            },
            body => body,
        };
        if let Some((call, kind)) = self.guard_call(body) {
            let lock = self.lock_identity(&call.receiver);
            let guard = (kind, lock, written(&call.receiver));
            self.closure_guards.insert((self.current, name), guard);
        }
    }

    /// A call of a closure that returns a guard: the guard lives until `end`.
    fn closure_guard_call(&mut self, call: &syn::ExprCall, end: usize) {
        let Expr::Path(func) = &*call.func else {
            return;
        };
        let Some(name) = func.path.get_ident() else {
            return;
        };
        let Some((kind, lock, written)) = self
            .closure_guards
            .get(&(self.current, name.to_string()))
            .cloned()
        else {
            return;
        };
        let span = expr_start(&call.func)..call.paren_token.span.close().byte_range().end;
        self.record_hold(span, end, lock, written, kind, Vec::new());
    }

    /// The temporary guards of a macro's arguments (`println!("{}", m.lock().unwrap())`): each
    /// lives until the end of the macro's own statement (`end`) or, in a condition, earlier.
    pub(super) fn macro_guards(&mut self, args: &Punctuated<Expr, syn::Token![,]>, end: usize) {
        self.expression_guards(args.iter(), end);
    }

    /// The temporary guards of expressions that are not statements of a block (a macro's
    /// arguments, the body of a closure run inline): each lives until `end`, or earlier in a
    /// condition.
    pub(super) fn expression_guards<'e>(
        &mut self,
        exprs: impl Iterator<Item = &'e Expr>,
        end: usize,
    ) {
        let mut temporaries = Temporaries {
            edition: self.edition,
            ..Temporaries::default()
        };
        for expr in exprs {
            temporaries.visit_expr(expr);
        }
        for &(call, extent) in &temporaries.calls {
            if let Some(kind) = self.temporary_guard_kind(call, &temporaries) {
                let end = self.guard_end(call, &kind, extent.unwrap_or(end));
                let end = temporaries.moved_end(call, end);
                match self.is_transient(&kind) {
                    true => self.transient_hold(call, kind, end),
                    false => self.hold(call, kind, end, Vec::new),
                }
            }
        }
    }

    /// The hold of a call that takes and gives back its lock itself: held from when the call
    /// runs, once its arguments are evaluated (`m.insert(k, m.remove(&j)…)` is not nested), to
    /// its end.
    fn transient_hold(&mut self, call: &syn::ExprMethodCall, kind: String, end: usize) {
        self.hold(call, kind, end, Vec::new);
        if let Some(hold) = self.model.functions[self.current].lock_holds.last_mut() {
            hold.region.start = call.paren_token.span.close().byte_range().start;
        }
    }

    /// Whether a guard method takes and gives back its lock inside the call (see
    /// [`crate::knowledge::LockType::transient`]).
    pub(super) fn is_transient(&self, kind: &str) -> bool {
        self.tables.lock(kind).is_some_and(|lock| lock.transient)
    }

    /// Where a temporary guard's hold ends: at the end of its call for a lock the call takes
    /// and gives back itself, else at `end` (its statement's, or its condition's).
    fn guard_end(&self, call: &syn::ExprMethodCall, kind: &str, end: usize) -> usize {
        match self.is_transient(kind) {
            true => call.paren_token.span.close().byte_range().end,
            false => end,
        }
    }

    /// `std::mem::forget(guard)` and `ManuallyDrop::new(guard)`: a guard that is never dropped
    /// keeps its lock taken forever (IL204).
    pub(super) fn leaks_in(&mut self, stmt: &syn::Stmt, bound_guards: &[(String, String)]) {
        #[derive(Default)]
        struct Calls<'ast>(Vec<&'ast syn::ExprCall>);
        impl<'ast> Visit<'ast> for Calls<'ast> {
            fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
                self.0.push(call);
                visit::visit_expr_call(self, call);
            }
            fn visit_block(&mut self, _: &'ast syn::Block) {}
            fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
            fn visit_item(&mut self, _: &'ast syn::Item) {}
            fn visit_expr(&mut self, expr: &'ast Expr) {
                stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || visit::visit_expr(self, expr));
            }
        }
        let mut calls = Calls::default();
        calls.visit_stmt(stmt);
        for call in calls.0 {
            let Expr::Path(func) = call.func.as_ref() else {
                continue;
            };
            let segments = syntax::segment_names(&func.path);
            let why = match segments
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice()
            {
                [.., "mem", "forget"] | ["forget"] => Leak::Forgotten,
                [.., "ManuallyDrop", "new"] => Leak::ManuallyDropped,
                _ => continue,
            };
            let Some(argument) = call.args.first() else {
                continue;
            };
            let lock = match argument {
                Expr::Path(p) => p.path.get_ident().and_then(|ident| {
                    bound_guards
                        .iter()
                        .find(|(name, _)| ident == name)
                        .map(|(_, lock)| lock.clone())
                }),
                other => self
                    .guard_call(other)
                    .map(|(guard, _)| written(&guard.receiver)),
            };
            if let Some(lock) = lock {
                let span = expr_start(&call.func)..call.paren_token.span.close().byte_range().end;
                let leak = LeakedLock {
                    span,
                    lock,
                    why,
                    through: None,
                };
                self.model.functions[self.current].leaked_locks.push(leak);
            }
        }
    }
}

/// A call that takes a name by value at any depth of a block's statement: the statement's
/// index, where the call starts, and the end of the branch it is in when that branch returns.
type NestedMove = (usize, usize, Option<usize>);

/// The calls of a block's statements that take a plain name by value (`drop(guard)`,
/// `self.grow(guard)`), found in one pass over the block so that each guard's region is found
/// without scanning the rest of the block again (a block of thousands of guards stays linear).
#[derive(Default)]
pub(super) struct BlockMoves {
    /// Name → the statements (by index) that are themselves such a call: `drop(g);`,
    /// `let x = f(g);`.
    statements: HashMap<String, Vec<usize>>,
    /// Name → such calls at any depth, in order.
    nested: HashMap<String, Vec<NestedMove>>,
    /// Name → its `name.take()` calls (an `Option` emptied: the guard it held is dropped), as
    /// `statements` and `nested` are for calls that take the name.
    taken_out: HashMap<String, (Vec<usize>, Vec<NestedMove>)>,
    /// Name → the statements (by index) that bind it again (`let lv2 = Arc::make_mut(lv2);`):
    /// the name means the new binding after them, and a shadowed guard lives on.
    rebound: HashMap<String, Vec<usize>>,
    /// The block's await points with their statement's index, found on first use.
    awaits: std::cell::OnceCell<Vec<(usize, Span)>>,
}

impl BlockMoves {
    pub(super) fn of(stmts: &[syn::Stmt]) -> BlockMoves {
        /// The moves found, the statement they are in, and the blocks around the visit: each
        /// block's end if it returns there, `None` if not, and a closure or async block as a
        /// barrier (its `return` leaves only itself).
        struct Moves<'m, 'ast> {
            found: &'m mut HashMap<String, Vec<NestedMove>>,
            taken_out: &'m mut HashMap<String, (Vec<usize>, Vec<NestedMove>)>,
            statement: usize,
            blocks: Vec<Option<Option<usize>>>,
            /// The value of the `let` being visited and where the `let` starts: a call that is
            /// that value moves its arguments before anything the `let` binds is taken (`let
            /// s = self.settle(dev, state);` in a branch, returning a new guard).
            let_value: Option<(&'ast Expr, usize)>,
        }
        impl<'ast> Moves<'_, 'ast> {
            /// Where a call that moves its arguments counts as made: at its `let` when it is
            /// the `let`'s value, else at `at`.
            fn made_at(&self, call: &Expr, at: usize) -> usize {
                match self.let_value {
                    Some((value, start)) if std::ptr::eq(value, call) => start,
                    _ => at,
                }
            }
            /// The innermost enclosing block that returns: every block inside it flows into
            /// its end.
            fn returns_at(&self) -> Option<usize> {
                self.blocks
                    .iter()
                    .rev()
                    .map_while(|block| *block)
                    .find_map(|end| end)
            }
            /// The names a call given `args` takes by value, made at `at` and returning at
            /// `end`: a plain name, or what a `move` closure captures (`self.with_driver(move
            /// |d| inner.join(d))`), which the call drops or hands on by its end.
            /// `self.fail(held.take().unwrap())`: the guard goes to the callee when the call
            /// starts (`start`, the call expression's).
            fn taken_out_into(&mut self, args: &Punctuated<Expr, syn::Token![,]>, start: usize) {
                for arg in args {
                    if let Expr::MethodCall(take) = syntax::strip_unwraps(arg)
                        && let Some(name) = taken_out(take)
                    {
                        let returns_at = self.returns_at();
                        let found = self.taken_out.entry(name).or_default();
                        found.1.push((self.statement, start, returns_at));
                    }
                }
            }
            fn taken(&mut self, args: &Punctuated<Expr, syn::Token![,]>, at: usize, end: usize) {
                let returns_at = self.returns_at();
                for arg in args {
                    match arg {
                        Expr::Path(p) if let Some(ident) = p.path.get_ident() => {
                            self.found
                                .entry(ident.unraw().to_string())
                                .or_default()
                                .push((self.statement, at, returns_at));
                        }
                        Expr::Closure(closure) if closure.capture.is_some() => {
                            for name in captured_names(closure) {
                                let moves = self.found.entry(name).or_default();
                                moves.push((self.statement, end, returns_at));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        impl<'ast> Visit<'ast> for Moves<'_, 'ast> {
            fn visit_local(&mut self, local: &'ast syn::Local) {
                let value = local
                    .init
                    .as_ref()
                    .map(|init| syntax::strip_unwraps(&init.expr));
                let start = local.let_token.span.byte_range().start;
                let saved = std::mem::replace(&mut self.let_value, value.map(|v| (v, start)));
                visit::visit_local(self, local);
                self.let_value = saved;
            }
            fn visit_block(&mut self, block: &'ast syn::Block) {
                let end = block.brace_token.span.close().byte_range().end;
                self.blocks.push(Some(returns(block).then_some(end)));
                visit::visit_block(self, block);
                self.blocks.pop();
            }
            fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
                self.blocks.push(None);
                visit::visit_expr_closure(self, closure);
                self.blocks.pop();
            }
            fn visit_expr_async(&mut self, block: &'ast syn::ExprAsync) {
                self.blocks.push(None);
                visit::visit_expr_async(self, block);
                self.blocks.pop();
            }
            fn visit_expr(&mut self, expr: &'ast Expr) {
                match expr {
                    Expr::Call(call) => {
                        let at = call.paren_token.span.open().byte_range().start;
                        let end = call.paren_token.span.close().byte_range().end;
                        self.taken(&call.args, self.made_at(expr, at), end);
                        self.taken_out_into(&call.args, expr_start(&call.func));
                    }
                    Expr::MethodCall(call) => {
                        let at = self.made_at(expr, call.method.span().byte_range().start);
                        let end = call.paren_token.span.close().byte_range().end;
                        self.taken(&call.args, at, end);
                        self.taken_out_into(&call.args, expr_start(&call.receiver));
                        if let Some(name) = taken_out(call) {
                            let returns_at = self.returns_at();
                            let found = self.taken_out.entry(name).or_default();
                            found.1.push((self.statement, at, returns_at));
                        }
                    }
                    _ => {}
                }
                stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || visit::visit_expr(self, expr));
            }
            fn visit_item(&mut self, _: &'ast syn::Item) {}
            // `assert_eq!(found.unwrap().value(), ..)`: what a macro of comma-separated
            // expressions does with them.
            fn visit_macro(&mut self, mac: &'ast syn::Macro) {
                if !names_a_move(mac.tokens.clone()) {
                    return;
                }
                let parser = Punctuated::<Expr, syn::Token![,]>::parse_terminated;
                let Ok(args) = mac.parse_body_with(parser) else {
                    return;
                };
                let mut inner = Moves {
                    found: &mut *self.found,
                    taken_out: &mut *self.taken_out,
                    statement: self.statement,
                    blocks: self.blocks.clone(),
                    let_value: None,
                };
                for arg in &args {
                    inner.visit_expr(arg);
                }
            }
        }
        let mut moves = BlockMoves::default();
        for (index, stmt) in stmts.iter().enumerate() {
            if let syn::Stmt::Local(local) = stmt {
                for name in syntax::bound_names(&local.pat) {
                    // `let entry = entry.insert_entry(2);` may take the guard itself (a method
                    // taking `self`): the old binding ends there. Only a borrow (`let lv2 =
                    // Arc::make_mut(&mut *lv2);`) surely leaves it alive.
                    if local
                        .init
                        .as_ref()
                        .is_some_and(|init| uses_by_value(&init.expr, &name))
                    {
                        moves
                            .statements
                            .entry(name.clone())
                            .or_default()
                            .push(index);
                    }
                    moves.rebound.entry(name).or_default().push(index);
                }
            }
            // `drop(g);`, `let x = f(g)?;`, `let s = self.settle(dev, g);`.
            let value = match stmt {
                syn::Stmt::Expr(expr, _) => Some(expr),
                syn::Stmt::Local(local) => local.init.as_ref().map(|i| &*i.expr),
                _ => None,
            };
            let args = match value.map(syntax::strip_unwraps) {
                Some(Expr::Call(call)) => Some(&call.args),
                Some(Expr::MethodCall(call)) => Some(&call.args),
                _ => None,
            };
            for arg in args.into_iter().flatten() {
                if let Expr::Path(p) = arg
                    && let Some(ident) = p.path.get_ident()
                {
                    moves
                        .statements
                        .entry(ident.unraw().to_string())
                        .or_default()
                        .push(index);
                }
            }
            if let syn::Stmt::Expr(Expr::MethodCall(call), _) = stmt
                && let Some(name) = taken_out(call)
            {
                moves.taken_out.entry(name).or_default().0.push(index);
            }
            Moves {
                found: &mut moves.nested,
                taken_out: &mut moves.taken_out,
                statement: index,
                blocks: Vec::new(),
                let_value: None,
            }
            .visit_stmt(stmt);
        }
        moves
    }

    /// The await points of statements `from..to` of the block `stmts` this was built from.
    fn awaits(&self, stmts: &[syn::Stmt], from: usize, to: usize) -> Vec<Span> {
        let all = self.awaits.get_or_init(|| {
            let mut all = Vec::new();
            for (index, stmt) in stmts.iter().enumerate() {
                let awaits = awaits_in(std::slice::from_ref(stmt));
                all.extend(awaits.into_iter().map(|span| (index, span)));
            }
            all
        });
        let first = all.partition_point(|(i, _)| *i < from);
        let last = all.partition_point(|(i, _)| *i < to);
        all[first..last]
            .iter()
            .map(|(_, span)| span.clone())
            .collect()
    }

    /// For a guard `name` bound by statement `bound`: the first later statement that moves it
    /// (the block's length if none), where the first move at any depth before that statement
    /// starts (a move on some path only, such as `if … { drop(guard) }`), and before it the
    /// moves in branches that return, each from the move to the branch's end.
    fn after(
        &self,
        stmts: &[syn::Stmt],
        name: &str,
        bound: usize,
        optional: bool,
    ) -> (usize, Option<usize>, Vec<Span>) {
        // Past a `let` that binds the name again, the name is that binding (its own
        // initializer still means the guard).
        let rebound = self
            .rebound
            .get(name)
            .and_then(|list| list.iter().find(|&&i| i > bound))
            .copied()
            .unwrap_or(stmts.len());
        let taken_out = self.taken_out.get(name).filter(|_| optional);
        let moved_by = self
            .statements
            .get(name)
            .into_iter()
            .chain(taken_out.map(|(statements, _)| statements))
            .flatten()
            .filter(|&&i| i > bound && i <= rebound)
            .min()
            .copied()
            .unwrap_or(stmts.len());
        let own = self.nested.get(name).map_or(&[][..], Vec::as_slice);
        let nested: std::borrow::Cow<[NestedMove]> = match taken_out {
            Some((_, more)) => {
                let mut all = [own, more].concat();
                all.sort_unstable();
                all.into()
            }
            None => own.into(),
        };
        let nested = &*nested;
        let mut holes = Vec::new();
        let mut first = None;
        let mut kept_past = None;
        for &(i, at, returns_at) in nested {
            if i <= bound || i >= moved_by || i > rebound || kept_past == Some(i) {
                continue;
            }
            if let Some(end) = returns_at {
                holes.push(at..end);
                continue;
            }
            // `match r { A => { drop(g); … } B => { … } }`: kept on the paths through `B`.
            let moves: Vec<usize> = nested
                .iter()
                .filter(|m| m.0 == i && m.2.is_none())
                .map(|m| m.1)
                .collect();
            match kept_on_some_branch(&stmts[i], &moves) {
                Some(branch_holes) => {
                    holes.extend(branch_holes);
                    kept_past = Some(i);
                }
                None => {
                    first = Some(at);
                    break;
                }
            }
        }
        (moved_by, first, holes)
    }
}

/// Whether `expr` uses the local `name` other than through a borrow (`&name`, `&mut *name`).
/// The plain names a closure's body uses, but for its parameters: what a `move` closure
/// captures.
fn captured_names(closure: &syn::ExprClosure) -> HashSet<String> {
    struct Names(HashSet<String>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
            if let Some(ident) = path.path.get_ident() {
                self.0.insert(ident.unraw().to_string());
            }
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut names = Names(HashSet::default());
    names.visit_expr(&closure.body);
    for input in &closure.inputs {
        for name in syntax::bound_names(input) {
            names.0.remove(&name);
        }
    }
    names.0
}

fn uses_by_value(expr: &Expr, name: &str) -> bool {
    struct Uses<'n> {
        name: &'n str,
        found: bool,
    }
    impl<'ast> Visit<'ast> for Uses<'_> {
        fn visit_expr_reference(&mut self, _: &'ast syn::ExprReference) {}
        // `let g = g.as_mut().unwrap();`: a method that borrows its receiver (by its name's
        // convention) leaves the guard where it is.
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            let method = call.method.to_string();
            let borrows = ["as_", "get", "iter", "borrow", "deref", "to_", "is_"]
                .iter()
                .any(|prefix| method.starts_with(prefix))
                || matches!(
                    method.as_str(),
                    "len" | "clone" | "contains_key" | "contains"
                );
            if !(borrows && matches!(&*call.receiver, Expr::Path(_))) {
                self.visit_expr(&call.receiver);
            }
            for arg in &call.args {
                self.visit_expr(arg);
            }
        }
        fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
            self.found |= path.path.is_ident(self.name);
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_expr(&mut self, expr: &'ast Expr) {
            stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || visit::visit_expr(self, expr));
        }
    }
    let mut uses = Uses { name, found: false };
    uses.visit_expr(expr);
    uses.found
}

/// The local `x.take()` empties (`held.take();`), if the call is one.
/// Whether a macro's tokens may take an `Option` guard out (`take`, `unwrap`, `expect`): only
/// then are its arguments parsed again for the moves they make.
fn names_a_move(tokens: proc_macro2::TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => {
            ident == "unwrap" || ident == "expect" || ident == "take"
        }
        proc_macro2::TokenTree::Group(group) => names_a_move(group.stream()),
        _ => false,
    })
}

fn taken_out(call: &syn::ExprMethodCall) -> Option<String> {
    let takes = match call.method.to_string().as_str() {
        "take" | "unwrap" => call.args.is_empty(),
        "expect" => call.args.len() == 1,
        _ => false,
    };
    if !takes {
        return None;
    }
    match &*call.receiver {
        Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
        _ => None,
    }
}

/// A closure that copies a value out of the guard it is given and drops the guard: `|q|
/// q.clone()`, `|e| e.value().len()`, `|v| *v`, `|s| s.name.to_string()`.
fn copies_out(arg: &Expr) -> bool {
    let Expr::Closure(closure) = arg else {
        return false;
    };
    let Some(Pat::Ident(param)) = closure.inputs.first() else {
        return false;
    };
    let mut value = &*closure.body;
    let copied = match value {
        Expr::MethodCall(call) => matches!(
            call.method.to_string().as_str(),
            "clone"
                | "to_owned"
                | "to_string"
                | "to_vec"
                | "len"
                | "is_empty"
                | "cloned"
                | "copied"
        ),
        Expr::Unary(unary) => matches!(unary.op, syn::UnOp::Deref(_)),
        Expr::Field(_) => true,
        _ => false,
    };
    // Down to the parameter through method calls, fields and dereferences.
    loop {
        value = match value {
            Expr::MethodCall(call) => &call.receiver,
            Expr::Field(field) => &field.base,
            Expr::Unary(unary) => &unary.expr,
            Expr::Paren(inner) => &inner.expr,
            Expr::Path(path) => return copied && path.path.is_ident(&param.ident),
            _ => return false,
        };
    }
}

/// `Option`/`Result` methods that take the value and run a closure on it: a guard inside is
/// the closure's to drop.
const CONSUMING_ADAPTERS: &[&str] = &[
    "map",
    "and_then",
    "map_or",
    "map_or_else",
    "is_some_and",
    "is_none_or",
    "is_ok_and",
];

/// Method calls of a statement's own expression whose result is a temporary: not inside nested
/// blocks, closures or async blocks (those have their own statements and scopes). Each comes
/// with where its temporaries are dropped when that is before the statement's end: an `if` or
/// `while` condition drops them before the body, and under edition 2024 an `if let` scrutinee
/// drops them before the `else`.
#[derive(Default)]
pub(super) struct Temporaries<'ast> {
    pub(super) calls: Vec<(&'ast syn::ExprMethodCall, Option<usize>)>,
    /// Calls of a local by name without arguments (`get_guard()`): perhaps a closure that
    /// returns a guard.
    local_calls: Vec<(&'ast syn::ExprCall, Option<usize>)>,
    /// The method calls whose result is awaited (`m.lock().await`).
    awaited: Vec<&'ast syn::ExprMethodCall>,
    /// The method calls whose result is unwrapped (`m.lock().unwrap()`).
    unwrapped: Vec<&'ast syn::ExprMethodCall>,
    edition: u16,
    extent: Option<usize>,
    /// Lock calls that are a `match`'s scrutinee, with the bodies of its arms that match no
    /// guard (`None`, `Err(_)`): `match map.get(k) { Some(v) => v, None => { map.insert(..) } }`
    /// holds nothing in the `None` arm.
    empty_arms: Vec<(&'ast syn::ExprMethodCall, Vec<Span>)>,
    /// Lock calls whose guard is handed by value to a method of `self` or a function
    /// (`self.claim(self.state.lock().unwrap(), ..)`), with where that argument ends: the
    /// callee owns the guard from there and drops it when it likes.
    moved: Vec<(&'ast syn::ExprMethodCall, usize)>,
}

impl<'ast> Temporaries<'ast> {
    /// Notes the lock calls among `args` whose guards the call takes by value.
    fn note_moved(&mut self, args: &'ast Punctuated<Expr, syn::Token![,]>) {
        for arg in args {
            if let Expr::MethodCall(lock) = syntax::strip_unwraps(arg)
                && let Some(end) = syntax::expr_end(arg)
            {
                self.moved.push((lock, end));
            }
        }
    }

    /// The end of the guard a lock call makes, given it would otherwise live until `end`.
    fn moved_end(&self, call: &syn::ExprMethodCall, end: usize) -> usize {
        match self
            .moved
            .iter()
            .find(|(lock, _)| std::ptr::eq(*lock, call))
        {
            Some(&(_, moved)) => end.min(moved),
            None => end,
        }
    }

    fn within(&mut self, extent: Option<usize>, expr: &'ast Expr) {
        let saved = std::mem::replace(&mut self.extent, extent);
        self.visit_expr(expr);
        self.extent = saved;
    }
}

impl<'ast> Visit<'ast> for Temporaries<'ast> {
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        self.calls.push((call, self.extent));
        if matches!(&*call.receiver, Expr::Path(p) if p.path.is_ident("self")) {
            self.note_moved(&call.args);
        }
        // `map.get(&k).map(|q| q.clone())`: the `Option` of the guard is moved into the
        // adapter, whose closure gets the guard and drops it (unless it hands it back whole).
        if CONSUMING_ADAPTERS.contains(&call.method.to_string().as_str())
            && let Expr::MethodCall(lock) = syntax::strip_unwraps(&call.receiver)
            && !lock.method.to_string().starts_with("iter")
            && call.args.iter().any(copies_out)
        {
            let end = call.paren_token.span.close().byte_range().end;
            self.moved.push((lock, end));
        }
        if unwraps_lock_result(call)
            && let Expr::MethodCall(inner) = &*call.receiver
        {
            self.unwrapped.push(inner);
        }
        visit::visit_expr_method_call(self, call);
    }
    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if call.args.is_empty()
            && let Expr::Path(func) = &*call.func
            && func.path.get_ident().is_some()
        {
            self.local_calls.push((call, self.extent));
        }
        // A function, not a tuple struct or variant that keeps the guard (`Some(guard)`).
        if let Expr::Path(func) = &*call.func
            && func.path.segments.last().is_some_and(|last| {
                last.ident
                    .to_string()
                    .starts_with(|c: char| c.is_ascii_lowercase())
            })
        {
            self.note_moved(&call.args);
        }
        visit::visit_expr_call(self, call);
    }
    fn visit_expr_if(&mut self, e: &'ast syn::ExprIf) {
        let then_open = e.then_branch.brace_token.span.open().byte_range().start;
        let then_close = e.then_branch.brace_token.span.close().byte_range().end;
        // `if let Some(v) = map.get(k) { .. } else { .. }`: the `else` runs on `None`, which
        // holds no guard (a guard the scrutinee only reads through lives on before 2024).
        if let Expr::Let(scrutinee) = &*e.cond
            && let Expr::MethodCall(call) = syntax::strip_unwraps(&scrutinee.expr)
            && let Pat::TupleStruct(pattern) = &*scrutinee.pat
            && (pattern.path.is_ident("Some")
                || pattern.path.is_ident("Ok") && call.method.to_string().starts_with("try_"))
            && let Some((_, otherwise)) = &e.else_branch
            && let Some(end) = syntax::expr_end(otherwise)
        {
            self.empty_arms
                .push((call, std::iter::once(then_close..end).collect()));
        }
        let extent = if !has_let(&e.cond) {
            Some(then_open)
        } else if self.edition >= 2024 {
            Some(then_close)
        } else {
            self.extent
        };
        self.within(extent, &e.cond);
        if let Some((_, else_branch)) = &e.else_branch {
            self.visit_expr(else_branch);
        }
    }
    fn visit_expr_binary(&mut self, e: &'ast syn::ExprBinary) {
        // Each operand of `&&` and `||` is a temporary scope of its own: the left operand's
        // guards are dropped before the right one runs (`let` chains aside).
        let lazy = matches!(e.op, syn::BinOp::And(_) | syn::BinOp::Or(_));
        if lazy && !has_let(&e.left) && !has_let(&e.right) {
            self.within(Some(expr_start(&e.right)), &e.left);
            self.visit_expr(&e.right);
        } else {
            visit::visit_expr_binary(self, e);
        }
    }
    fn visit_expr_while(&mut self, e: &'ast syn::ExprWhile) {
        if !has_let(&e.cond) {
            let body_open = e.body.brace_token.span.open().byte_range().start;
            self.within(Some(body_open), &e.cond);
        } else {
            self.visit_expr(&e.cond);
        }
    }
    fn visit_expr_await(&mut self, e: &'ast syn::ExprAwait) {
        if let Expr::MethodCall(call) = e.base.as_ref() {
            self.awaited.push(call);
        }
        visit::visit_expr_await(self, e);
    }
    fn visit_expr_match(&mut self, e: &'ast syn::ExprMatch) {
        self.visit_expr(&e.expr);
        // An arm's body drops its temporaries at its end (here: where the next arm's `=>` is).
        let close = e.brace_token.span.close().byte_range().start;
        let scrutinee = match syntax::strip_unwraps(&e.expr) {
            Expr::MethodCall(call) => Some(call),
            _ => None,
        };
        let mut empty = Vec::new();
        for (i, arm) in e.arms.iter().enumerate() {
            let end = e.arms.get(i + 1).map_or(close, |next| {
                next.fat_arrow_token.spans[0].byte_range().start
            });
            if scrutinee.is_some_and(|call| matches_no_guard(&arm.pat, call)) {
                empty.push(expr_start(&arm.body)..end);
            }
            self.within(Some(end), &arm.body);
        }
        if let Some(call) = scrutinee
            && !empty.is_empty()
        {
            self.empty_arms.push((call, empty));
        }
    }
    fn visit_block(&mut self, _: &'ast syn::Block) {}
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_local(&mut self, local: &'ast syn::Local) {
        // `let g = m.lock()…` is a bound guard, handled separately; look only at other lets.
        if let Some(init) = &local.init {
            self.visit_expr(&init.expr);
        }
    }
    fn visit_expr(&mut self, expr: &'ast Expr) {
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || visit::visit_expr(self, expr));
    }
}

/// Whether an arm's pattern matches what a lock call gives without a guard: `None` (of
/// `DashMap::get`, `try_lock`), or `Err(..)` of a `try_` method (a poisoned `lock()`'s error
/// still holds the guard).
fn matches_no_guard(pat: &Pat, call: &syn::ExprMethodCall) -> bool {
    match pat {
        Pat::Ident(ident) => ident.ident == "None" && ident.subpat.is_none(),
        Pat::Path(path) => path.path.is_ident("None"),
        Pat::TupleStruct(tuple) => {
            tuple.path.is_ident("Err") && call.method.to_string().starts_with("try_")
        }
        _ => false,
    }
}

/// `+=`, `-=` and the other compound assignments.
pub(super) fn is_compound_assignment(op: &syn::BinOp) -> bool {
    matches!(
        op,
        syn::BinOp::AddAssign(_)
            | syn::BinOp::SubAssign(_)
            | syn::BinOp::MulAssign(_)
            | syn::BinOp::DivAssign(_)
            | syn::BinOp::RemAssign(_)
            | syn::BinOp::BitOrAssign(_)
            | syn::BinOp::BitAndAssign(_)
            | syn::BinOp::BitXorAssign(_)
            | syn::BinOp::ShlAssign(_)
            | syn::BinOp::ShrAssign(_)
    )
}

/// Where a binary operator is written.
fn op_start(op: &syn::BinOp) -> usize {
    use syn::spanned::Spanned;
    op.span().byte_range().start
}

/// Whether a block ends by leaving the function: `return`, or a macro that panics
/// (`panic!`, `unreachable!`, `todo!`, `unimplemented!`).
fn returns(block: &syn::Block) -> bool {
    let last = match block.stmts.last() {
        Some(syn::Stmt::Expr(expr, _)) => expr,
        Some(syn::Stmt::Macro(mac)) => return panics(&mac.mac),
        _ => return false,
    };
    match last {
        Expr::Return(_) => true,
        Expr::Macro(mac) => panics(&mac.mac),
        _ => false,
    }
}

fn panics(mac: &syn::Macro) -> bool {
    mac.path.segments.last().is_some_and(|last| {
        matches!(
            last.ident.unraw().to_string().as_str(),
            "panic" | "unreachable" | "todo" | "unimplemented"
        )
    })
}

/// For a statement that branches (`if`/`else`, `match`, also as a `let` initialiser) where the
/// guard is moved at `moves` on some branches and another branch neither moves it nor returns:
/// the guard may still be held after the statement. Gives the holes, from each move to the end
/// of its branch; `None` when every branch moves it or returns (or the statement is no branch).
fn kept_on_some_branch(stmt: &syn::Stmt, moves: &[usize]) -> Option<Vec<Span>> {
    let expr = match stmt {
        syn::Stmt::Expr(expr, _) => expr,
        syn::Stmt::Local(local) => local.init.as_ref().map(|init| &*init.expr)?,
        _ => return None,
    };
    // Each branch: its extent, and whether it leaves the function at its end.
    let mut branches: Vec<(Span, bool)> = Vec::new();
    let mut implicit_else = false;
    match expr {
        Expr::If(branch) => {
            let mut branch = branch;
            loop {
                let block = &branch.then_branch;
                branches.push((block_extent(block), returns(block)));
                match branch.else_branch.as_ref().map(|(_, e)| &**e) {
                    Some(Expr::If(next)) => branch = next,
                    Some(Expr::Block(block)) => {
                        branches.push((block_extent(&block.block), returns(&block.block)));
                        break;
                    }
                    Some(_) => return None,
                    None => {
                        implicit_else = true;
                        break;
                    }
                }
            }
        }
        Expr::Match(matched) => {
            // An arm's body reaches to the next arm's body (or the `match`'s end).
            let close = matched.brace_token.span.close().byte_range().start;
            let starts: Vec<usize> = matched.arms.iter().map(|a| expr_start(&a.body)).collect();
            for (index, arm) in matched.arms.iter().enumerate() {
                let end = starts.get(index + 1).copied().unwrap_or(close);
                let leaves = match &*arm.body {
                    Expr::Block(block) => returns(&block.block),
                    Expr::Return(_) => true,
                    Expr::Macro(mac) => panics(&mac.mac),
                    _ => false,
                };
                branches.push((starts[index]..end, leaves));
            }
        }
        _ => return None,
    }
    let moved = |extent: &Span| moves.iter().any(|at| extent.contains(at));
    let kept = implicit_else
        || branches
            .iter()
            .any(|(extent, leaves)| !leaves && !moved(extent));
    if !kept {
        return None;
    }
    let holes = moves
        .iter()
        .filter_map(|&at| {
            let (extent, _) = branches.iter().find(|(extent, _)| extent.contains(&at))?;
            Some(at..extent.end)
        })
        .collect::<Vec<_>>();
    // A move outside every branch (in the condition or scrutinee): no telling.
    (holes.len() == moves.len()).then_some(holes)
}

/// The branches that run only once the `Option` bound to `name` is empty: `if held.is_none() {
/// held = Some(m.lock()); }` in a loop that hands the guard on with `held.take()`.
fn emptied_branches(stmts: &[syn::Stmt], name: &str) -> Vec<Span> {
    struct Branches<'n> {
        name: &'n str,
        found: Vec<Span>,
    }
    impl<'ast> Visit<'ast> for Branches<'_> {
        fn visit_expr_if(&mut self, branch: &'ast syn::ExprIf) {
            if let Expr::MethodCall(test) = &*branch.cond
                && test.method == "is_none"
                && test.args.is_empty()
                && matches!(&*test.receiver, Expr::Path(p) if p.path.is_ident(self.name))
            {
                self.found.push(block_extent(&branch.then_branch));
            }
            visit::visit_expr_if(self, branch);
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut branches = Branches {
        name,
        found: Vec::new(),
    };
    for stmt in stmts {
        branches.visit_stmt(stmt);
    }
    branches.found
}

fn block_extent(block: &syn::Block) -> Span {
    let braces = block.brace_token.span;
    braces.open().byte_range().start..braces.close().byte_range().end
}

/// What the last `let` among `stmts` that binds `name` gives it (`Some(None)`: a `let`
/// without a value).
fn bound_value<'s>(stmts: &'s [syn::Stmt], name: &str) -> Option<Option<&'s Expr>> {
    stmts.iter().rev().find_map(|stmt| match stmt {
        syn::Stmt::Local(local) if bound_name(&local.pat).as_deref() == Some(name) => {
            Some(local.init.as_ref().map(|init| &*init.expr))
        }
        _ => None,
    })
}

/// Whether a `select!` handler's value is the branch's output `name` (`g => g`, `t => { t }`).
fn gives_binding(handler: &Expr, name: &str) -> bool {
    match handler {
        Expr::Path(path) => path.path.is_ident(name),
        Expr::Block(block) => {
            syntax::block_value(&block.block).is_some_and(|v| gives_binding(v, name))
        }
        _ => false,
    }
}

/// Whether a guard method is a sharded map's (`dashmap::DashMap::get`), whose shard lock is
/// the map's business, not one taken to protect code.
fn is_sharded_map_method(kind: &str) -> bool {
    kind.rsplit_once("::")
        .is_some_and(|(ty, _)| crate::model::SHARDED_LOCK_TYPES.contains(&ty))
}
