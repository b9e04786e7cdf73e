//! Loops: busy-wait loops that only poll a condition and sleep, and condition waits a loop
//! does not re-check.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Stmt};

use super::Lowerer;
use crate::model::Context;

/// Whether an expression awaits something.
fn awaits(expr: &Expr) -> bool {
    ruff_python_ast::helpers::any_over_expr(expr, |e| matches!(e, Expr::Await(_)))
}

impl<'a> Lowerer<'a> {
    /// A `while` loop that only polls a condition and sleeps: `while not done: await
    /// asyncio.sleep(..)`, or `while True:` with an `if …: break` (or `return`) and the sleep.
    pub(super) fn is_busy_wait(&self, while_stmt: &ast::StmtWhile) -> bool {
        let constant_true = matches!(while_stmt.test.as_ref(), Expr::BooleanLiteral(b) if b.value);
        // A condition that awaits (`while not await self.agreed():`) asks something remote on
        // every round: only polling can tell.
        if !while_stmt.orelse.is_empty() || awaits(&while_stmt.test) {
            return false;
        }
        let (mut sleeps, mut exits) = (0, 0);
        for stmt in &while_stmt.body {
            match stmt {
                Stmt::Pass(_) | Stmt::Continue(_) => {}
                Stmt::Expr(e) if self.is_async_sleep(&e.value) => sleeps += 1,
                Stmt::If(branch)
                    if constant_true
                        && branch.elif_else_clauses.is_empty()
                        && !awaits(&branch.test) =>
                {
                    match branch.body.as_slice() {
                        [Stmt::Break(_) | Stmt::Return(_)] => exits += 1,
                        _ => return false,
                    }
                }
                _ => return false,
            }
        }
        sleeps > 0 && if constant_true { exits > 0 } else { exits == 0 }
    }

    pub(super) fn is_async_sleep(&self, expr: &Expr) -> bool {
        // `yield from asyncio.sleep(..)` in a generator-based coroutine.
        let suspended = match expr {
            Expr::Await(await_expr) => Some(await_expr.value.as_ref()),
            Expr::Yield(_) | Expr::YieldFrom(_) if self.context == Context::Async => {
                super::syntax::yielded(expr)
            }
            _ => None,
        };
        let Some(Expr::Call(call)) = suspended else {
            return false;
        };
        matches!(
            self.semantic.resolve(&call.func).as_deref(),
            Some(
                "asyncio.sleep"
                    | "trio.sleep"
                    | "trio.sleep_until"
                    | "trio.lowlevel.checkpoint"
                    | "anyio.sleep"
                    | "anyio.sleep_until"
                    | "anyio.lowlevel.checkpoint"
                    | "tornado.gen.sleep"
            )
        )
    }
}

/// The starts of the `wait()` calls in a `while` loop's body that sit in an `if` (maybe
/// inside a `with`) whose test nothing after it in the body tests again: `while active: with
/// cv: if paused: cv.wait()` and then `recv()`. After the wait that code runs whether or not
/// the predicate holds, so the loop is no re-check of it (IL206). An `if` that leaves the
/// round (`continue`, `break`, `return`, `raise`) after the wait is re-checked by the loop.
pub(super) fn waits_not_rechecked(body: &[Stmt]) -> Vec<usize> {
    let mut found = Vec::new();
    for (i, stmt) in body.iter().enumerate() {
        if may_wait_unchecked(stmt) {
            let rest: Vec<&Stmt> = body[i + 1..].iter().collect();
            unrechecked_waits(stmt, &rest, &mut found);
        }
    }
    found
}

/// The statements [`unrechecked_waits`] looks into.
fn may_wait_unchecked(stmt: &Stmt) -> bool {
    matches!(stmt, Stmt::With(_) | Stmt::If(_))
}

fn unrechecked_waits(stmt: &Stmt, rest: &[&Stmt], found: &mut Vec<usize>) {
    match stmt {
        Stmt::With(with) => {
            for (j, inner) in with.body.iter().enumerate() {
                if !may_wait_unchecked(inner) {
                    continue;
                }
                let after: Vec<&Stmt> = with.body[j + 1..]
                    .iter()
                    .chain(rest.iter().copied())
                    .collect();
                unrechecked_waits(inner, &after, found);
            }
        }
        Stmt::If(branch) if branch.elif_else_clauses.is_empty() => {
            let leaves = matches!(
                branch.body.last(),
                Some(Stmt::Continue(_) | Stmt::Break(_) | Stmt::Return(_) | Stmt::Raise(_))
            );
            if leaves || rest.is_empty() {
                return;
            }
            let waits: Vec<usize> = branch
                .body
                .iter()
                .filter_map(|stmt| match stmt {
                    Stmt::Expr(statement) => match statement.value.as_ref() {
                        Expr::Call(call) if is_wait(call) => Some(super::syntax::span(call).start),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            if waits.is_empty() {
                return;
            }
            let mut tested = Vec::new();
            names_in(&branch.test, &mut tested);
            if !rest.iter().any(|stmt| tests_any(stmt, &tested)) {
                found.extend(waits);
            }
        }
        _ => {}
    }
}

fn is_wait(call: &ast::ExprCall) -> bool {
    matches!(call.func.as_ref(), Expr::Attribute(method) if method.attr.id.as_str() == "wait")
}

/// The names and attributes an expression reads, as written and whole (`self._paused`, not
/// also `self`, which every method's test reads).
fn names_in(expr: &Expr, out: &mut Vec<String>) {
    struct Names<'o>(&'o mut Vec<String>);
    impl<'a> Visitor<'a> for Names<'_> {
        fn visit_expr(&mut self, expr: &'a Expr) {
            match expr {
                Expr::Name(_) | Expr::Attribute(_) => self.0.push(super::syntax::dotted(expr)),
                _ => visitor::walk_expr(self, expr),
            }
        }
    }
    Names(out).visit_expr(expr);
}

/// Whether a statement (or one nested in it) tests one of `names` in an `if`, `while` or
/// `assert`.
fn tests_any(stmt: &Stmt, names: &[String]) -> bool {
    let reads = |test: &Expr| {
        let mut read = Vec::new();
        names_in(test, &mut read);
        read.iter().any(|name| names.contains(name))
    };
    let body = |stmts: &[Stmt]| stmts.iter().any(|stmt| tests_any(stmt, names));
    match stmt {
        Stmt::If(branch) => {
            reads(&branch.test)
                || body(&branch.body)
                || branch
                    .elif_else_clauses
                    .iter()
                    .any(|clause| clause.test.as_ref().is_some_and(reads) || body(&clause.body))
        }
        Stmt::While(l) => reads(&l.test) || body(&l.body) || body(&l.orelse),
        Stmt::Assert(assert) => reads(&assert.test),
        Stmt::For(l) => body(&l.body) || body(&l.orelse),
        Stmt::With(with) => body(&with.body),
        Stmt::Try(attempt) => {
            body(&attempt.body)
                || body(&attempt.orelse)
                || body(&attempt.finalbody)
                || attempt.handlers.iter().any(|h| match h {
                    ast::ExceptHandler::ExceptHandler(h) => body(&h.body),
                })
        }
        _ => false,
    }
}
