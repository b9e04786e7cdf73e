//! Threads: the closures, functions and futures a call starts on other threads
//! (`thread::spawn`, `tokio::spawn`, rayon's parallel iterators), recorded as thread entry
//! points for the project's thread graph.

use syn::Expr;
use syn::punctuated::Punctuated;

use super::Lowerer;
use super::semantic::MAX_RESOLUTION_DEPTH;
use super::syntax::expr_start;
use crate::model::ThreadEntry;

impl Lowerer<'_> {
    /// [`Self::arguments`] of a call that may start its closures, functions and futures on
    /// other threads (`thread::spawn`, `tokio::spawn`): records them as thread entry points.
    pub(super) fn arguments_of(
        &mut self,
        args: &Punctuated<Expr, syn::Token![,]>,
        offloads: (bool, bool),
        entry: bool,
    ) {
        if !entry {
            self.arguments(args, offloads);
            return;
        }
        let repeated = self.loop_depth > 0
            || self.for_depth > 0
            || self.closure != 0
            || self.inline_closures > 0;
        for arg in args {
            let handed = handed_over(arg);
            let key = handed.map_or(usize::MAX, handed_over_key);
            let outer = std::mem::replace(&mut self.handed_over, (key, None));
            self.argument(arg, offloads);
            let found = std::mem::replace(&mut self.handed_over, outer).1;
            let mut started = ThreadEntry {
                span: expr_start(arg)..expr_start(arg) + 1,
                target: None,
                closure: 0,
                function: None,
                repeated,
                if_thread_subclass: false,
                executor: None,
                fresh_object: false,
                shared_arguments: Default::default(),
                parameter: None,
            };
            match (handed.unwrap_or(arg), found) {
                (_, Some(HandedOver::Closure(number))) => started.closure = number,
                (_, Some(HandedOver::Function(index))) => started.function = Some(index),
                (Expr::Path(path), None) => {
                    started.target = self.semantic.resolve_qualified_name(&path.path)
                }
                (Expr::Call(call), None) => match call.func.as_ref() {
                    Expr::Path(path) => {
                        started.target = self.semantic.resolve_qualified_name(&path.path)
                    }
                    _ => continue,
                },
                _ => continue,
            }
            self.model.functions[self.current]
                .thread_entries
                .push(started);
        }
    }

    /// Notes a closure or async block being entered (`key` as [`handed_over_key`] gives it):
    /// if it is the one a thread-starting call hands over, remembers which it is.
    pub(super) fn met_handed_over(&mut self, key: usize, found: HandedOver) {
        if self.handed_over.0 == key {
            self.handed_over.1 = Some(found);
        }
    }

    /// Marks the thread entries recorded since `from` as started many times at once (a rayon
    /// parallel iterator's closures run on the pool's threads).
    pub(super) fn mark_repeated(&mut self, from: usize) {
        for started in &mut self.model.functions[self.current].thread_entries[from..] {
            started.repeated = true;
        }
    }
}

/// What a thread-starting call's argument runs elsewhere: a sync closure by its number, an
/// async closure or block by its function.
#[derive(Clone, Copy)]
pub(super) enum HandedOver {
    Closure(u32),
    Function(usize),
}

/// The closure or async block an argument evaluates to, through parentheses and blocks:
/// `thread::spawn({ let rt = rt.clone(); move || rt.block_on(..) })`.
pub(super) fn handed_over(mut arg: &Expr) -> Option<&Expr> {
    for _ in 0..8 {
        arg = match arg {
            Expr::Closure(_) | Expr::Async(_) => return Some(arg),
            Expr::Paren(inner) => &inner.expr,
            Expr::Block(block) => match block.block.stmts.last()? {
                syn::Stmt::Expr(tail, None) => tail,
                _ => return None,
            },
            _ => return None,
        };
    }
    None
}

/// Where a closure or async block starts, as [`Lowerer::met_handed_over`] is told.
pub(super) fn handed_over_key(expr: &Expr) -> usize {
    match expr {
        Expr::Closure(closure) => closure_key(closure),
        Expr::Async(block) => async_block_key(block),
        _ => usize::MAX,
    }
}

/// [`handed_over_key`] of an async block: where its `async` keyword starts.
pub(super) fn async_block_key(block: &syn::ExprAsync) -> usize {
    block.async_token.span.byte_range().start
}

/// [`handed_over_key`] of a closure: where its parameter list starts.
pub(super) fn closure_key(closure: &syn::ExprClosure) -> usize {
    closure.inputs_begin.span.byte_range().start
}

/// Whether a method chain starts from a rayon parallel iterator (`v.par_iter().map(…)`).
pub(super) fn is_parallel_iterator(mut receiver: &Expr) -> bool {
    for _ in 0..MAX_RESOLUTION_DEPTH {
        let Expr::MethodCall(call) = receiver else {
            return false;
        };
        let method = call.method.to_string();
        if matches!(
            method.as_str(),
            "par_iter"
                | "par_iter_mut"
                | "into_par_iter"
                | "par_bridge"
                | "par_chunks"
                | "par_chunks_mut"
        ) {
            return true;
        }
        receiver = &call.receiver;
    }
    false
}
