//! Loops: busy-wait loops that only sleep and poll a condition (IL503).

use syn::Expr;
use syn::spanned::Spanned;

use super::Lowerer;
use super::syntax::byte_span;

/// Whether a loop body retries a lock (`if let Some(g) = lock.try_lock() { return g; }`):
/// its sleeps are a spin lock's backoff, a wait for the lock rather than a sleep.
pub(super) fn spins_on_lock(body: &syn::Block) -> bool {
    struct FindTryLock(bool);
    impl<'ast> syn::visit::Visit<'ast> for FindTryLock {
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            let method = call.method.to_string();
            if matches!(method.as_str(), "try_lock" | "try_read" | "try_write") {
                self.0 = true;
            }
            syn::visit::visit_expr_method_call(self, call);
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    }
    let mut finder = FindTryLock(false);
    syn::visit::visit_block(&mut finder, body);
    finder.0
}

/// Whether a loop's body can decide anything: an `if`, `match`, `while`, `break` or `?` in it
/// (closures and async blocks aside).
pub(super) fn branches(body: &syn::Block) -> bool {
    struct FindBranch(bool);
    impl<'ast> syn::visit::Visit<'ast> for FindBranch {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::If(_) | Expr::Match(_) | Expr::While(_) | Expr::Break(_) | Expr::Try(_) => {
                    self.0 = true;
                }
                Expr::Closure(_) | Expr::Async(_) => {}
                _ => syn::visit::visit_expr(self, expr),
            }
        }
        fn visit_local(&mut self, local: &'ast syn::Local) {
            // `let Some(x) = .. else { break };`
            self.0 |= local
                .init
                .as_ref()
                .is_some_and(|init| init.diverge.is_some());
            syn::visit::visit_local(self, local);
        }
    }
    let mut finder = FindBranch(false);
    syn::visit::visit_block(&mut finder, body);
    finder.0
}

/// Whether an expression awaits something (closures and async blocks in it aside).
fn awaits(expr: &Expr) -> bool {
    struct FindAwait(bool);
    impl<'ast> syn::visit::Visit<'ast> for FindAwait {
        fn visit_expr_await(&mut self, _: &'ast syn::ExprAwait) {
            self.0 = true;
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    }
    let mut finder = FindAwait(false);
    syn::visit::visit_expr(&mut finder, expr);
    finder.0
}

impl Lowerer<'_> {
    /// A `while` loop whose condition is not a constant and whose body only sleeps.
    pub(super) fn busy_wait_while(&mut self, expr: &syn::ExprWhile) {
        let constant = matches!(expr.cond.as_ref(), Expr::Lit(_));
        // A condition that awaits (`while !self.agreed().await? {`) asks something remote on
        // every round: only polling can tell.
        if !constant && !awaits(&expr.cond) && self.only_polls(&expr.body, false) {
            let span = byte_span(expr.while_token.span());
            self.model.functions[self.current].busy_waits.push(span);
        }
    }

    /// A `loop` whose body only sleeps and checks a condition to leave.
    pub(super) fn busy_wait_loop(&mut self, expr: &syn::ExprLoop) {
        if self.only_polls(&expr.body, true) {
            let span = byte_span(expr.loop_token.span());
            self.model.functions[self.current].busy_waits.push(span);
        }
    }

    /// A loop body that only sleeps (`tokio::time::sleep(..).await`) and, for `loop`, checks a
    /// condition to leave (`if ready { break; }`): a busy-wait.
    fn only_polls(&self, body: &syn::Block, needs_exit: bool) -> bool {
        let (mut sleeps, mut exits) = (0, 0);
        for stmt in &body.stmts {
            let syn::Stmt::Expr(expr, _) = stmt else {
                return false;
            };
            match expr {
                Expr::Await(await_expr) if self.is_async_sleep(&await_expr.base) => sleeps += 1,
                Expr::If(branch)
                    if needs_exit && branch.else_branch.is_none() && !awaits(&branch.cond) =>
                {
                    match branch.then_branch.stmts.as_slice() {
                        [syn::Stmt::Expr(Expr::Break(_) | Expr::Return(_), _)] => exits += 1,
                        _ => return false,
                    }
                }
                Expr::Continue(_) => {}
                _ => return false,
            }
        }
        sleeps > 0 && (exits > 0) == needs_exit
    }

    fn is_async_sleep(&self, expr: &Expr) -> bool {
        let Expr::Call(call) = expr else { return false };
        let Expr::Path(func) = call.func.as_ref() else {
            return false;
        };
        matches!(
            self.semantic.resolve_qualified_name(&func.path).as_deref(),
            Some("tokio::time::sleep" | "async_std::task::sleep" | "smol::Timer::after")
        )
    }
}
