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
            let (next_closure, next_function) = (self.closures + 1, self.model.functions.len());
            self.argument(arg, offloads);
            let mut started = ThreadEntry {
                span: expr_start(arg)..expr_start(arg) + 1,
                target: None,
                closure: 0,
                function: None,
                repeated,
                if_thread_subclass: false,
            };
            match arg {
                Expr::Closure(closure) if closure.asyncness.is_none() => {
                    started.closure = next_closure
                }
                Expr::Closure(_) | Expr::Async(_) => started.function = Some(next_function),
                Expr::Path(path) => {
                    started.target = self.semantic.resolve_qualified_name(&path.path)
                }
                Expr::Call(call) => match call.func.as_ref() {
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

    /// Marks the thread entries recorded since `from` as started many times at once (a rayon
    /// parallel iterator's closures run on the pool's threads).
    pub(super) fn mark_repeated(&mut self, from: usize) {
        for started in &mut self.model.functions[self.current].thread_entries[from..] {
            started.repeated = true;
        }
    }
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
