//! Loops: busy-wait loops that only poll a condition and sleep.

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
