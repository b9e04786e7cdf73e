//! Calls: every call site with its canonical callee (resolved by the semantic model), the
//! context it runs in, whether it is awaited or scheduled, and the blocking API it is. Its
//! arguments are visited in the context the callee gives them (offloaded closures, scheduled
//! futures).

use syn::Expr;
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::visit::Visit;

use super::Lowerer;
use super::semantic::{Collection, is_deferred};
use super::syntax::{self, expr_start};
use super::threads::{closure_key, handed_over, is_parallel_iterator};
use crate::codes::Code;
use crate::knowledge::Returns;
use crate::model::{Call, Receiver, ResultUse, Span};

/// Future and stream combinators (`futures::StreamExt`, `FutureExt`, `TryStreamExt`): the
/// closure they are given runs when the future they return is polled — on the async executor,
/// when that future is awaited or spawned.
const FUTURE_COMBINATORS: &[&str] = &[
    "for_each",
    "for_each_concurrent",
    "try_for_each",
    "try_for_each_concurrent",
    "then",
    "map",
    "map_ok",
    "map_err",
    "and_then",
    "or_else",
    "filter",
    "filter_map",
    "try_filter",
    "try_filter_map",
    "inspect",
    "inspect_ok",
    "inspect_err",
    "fold",
    "try_fold",
    "scan",
    "take_while",
    "skip_while",
    "flat_map",
];

/// Methods that run the closure they are given before they return, on the caller's thread
/// (iterator adapters consumed in the same expression, `Option`/`Result` combinators): what
/// the closure does happens while the caller's locks are held.
const INLINE_ADAPTERS: &[&str] = &[
    "map",
    "filter",
    "filter_map",
    "flat_map",
    "for_each",
    "try_for_each",
    "any",
    "all",
    "find",
    "find_map",
    "position",
    "fold",
    "try_fold",
    "inspect",
    "take_while",
    "skip_while",
    "map_or",
    "map_or_else",
    "and_then",
    "unwrap_or_else",
    "or_else",
    "ok_or_else",
    "get_or_insert_with",
    "or_insert_with",
    "or_insert_with_key",
    "is_some_and",
    "is_none_or",
    "is_ok_and",
    "retain",
    "sort_by",
    "sort_by_key",
    "max_by",
    "max_by_key",
    "min_by",
    "min_by_key",
    "map_while",
    // `thread_local!` keys (`LocalKey`) run the closure on the calling thread, at once.
    "with",
    "try_with",
    "with_borrow",
    "with_borrow_mut",
];

/// Whether a path names a type's constructor (`Type::new`, `module::Type::new`), or a
/// function named as one (`notify_debouncer_mini::new_debouncer`).
fn is_constructor(path: &syn::Path) -> bool {
    let segments: Vec<_> = path.segments.iter().collect();
    match segments.as_slice() {
        [.., last] if last.ident.unraw().to_string().starts_with("new_") => true,
        [.., ty, last] => {
            last.ident == "new"
                && ty
                    .ident
                    .unraw()
                    .to_string()
                    .starts_with(|c: char| c.is_ascii_uppercase())
        }
        _ => false,
    }
}

impl Lowerer<'_> {
    /// A closure run inline by the call it is given to: lowered as part of the enclosing
    /// code (same closure number, same loop depth), its expression body's guards held until
    /// its end.
    fn inline_closure(&mut self, closure: &syn::ExprClosure, element: Option<Returns>) {
        self.semantic.push_locals();
        self.inline_closures += 1;
        // `conns.iter().for_each(|c| ..)`: the one parameter is an element of what is iterated.
        match closure.inputs.first() {
            Some(input) if closure.inputs.len() == 1 => {
                self.semantic.bind_element_pattern(input, element)
            }
            _ => closure
                .inputs
                .iter()
                .for_each(|input| self.semantic.bind_pattern(input, None)),
        }
        self.closure_body_guards(&closure.body);
        self.visit_expr(&closure.body);
        self.inline_closures -= 1;
        self.semantic.pop_locals();
    }

    /// `|| self.m.lock().unwrap().clear()`: the guards of a closure's expression body live to
    /// its end (a block body's statements hold theirs as any block's do).
    pub(super) fn closure_body_guards(&mut self, body: &Expr) {
        if !matches!(body, Expr::Block(_)) {
            let end = syntax::expr_end(body).unwrap_or_else(|| expr_start(body) + 1);
            self.expression_guards(std::iter::once(body), end);
        }
    }

    /// A call of a path (`thread::sleep(d)`, `Store::load(&s)`) or of another expression:
    /// records it with its resolved callee, then visits the callee and its arguments.
    pub(super) fn call(&mut self, call: &syn::ExprCall) {
        let (callee, alternatives) = match call.func.as_ref() {
            // `Conn::open()` with `Conn` a type a glob import brings (`use common::*;`): that
            // module's, so that what it returns is typed too.
            Expr::Path(path) if let Some(callee) = self.semantic.globbed_function(&path.path) => {
                (Some(callee), Vec::new())
            }
            Expr::Path(path) => (
                self.semantic
                    .resolve_qualified_name(&path.path)
                    .map(|name| self.semantic.unalias_path(name)),
                self.semantic.glob_candidates(&path.path),
            ),
            _ => (None, Vec::new()),
        };
        // `PrivateKeyDer::from_pem_file(p)`: another crate's type calling a method of a trait
        // the file imports (`use rustls::pki_types::pem::PemObject;`) is the trait's.
        let callee = match callee {
            Some(name)
                if !self.tables.blocking.contains_key(&name)
                    && name.split("::").next() != Some(self.semantic.crate_name()) =>
            {
                let method = name.rsplit("::").next().unwrap_or_default();
                self.imported_trait_method(method).or(Some(name))
            }
            other => other,
        };
        let span = expr_start(&call.func)..call.paren_token.span.close().byte_range().end;
        // `reload()` of `let reload = || ..;`: the closure's body runs here.
        if let Expr::Path(path) = call.func.as_ref()
            && let Some(name) = path.path.get_ident()
            && let Some(&(_, number)) = self.local_closures.iter().rev().find(|(n, _)| name == n)
        {
            let called = (number, span.clone(), self.closure);
            self.model.functions[self.current]
                .local_closure_calls
                .push(called);
        }
        let entry = self.tables.thread_entry(callee.as_deref(), None).is_some();
        if let Some(callee) = &callee {
            self.lock_through_arguments(callee, &call.args, &span, 0);
        }
        // The prelude's `drop` resolves to nothing (no `use` names it).
        let drops = match callee.as_deref() {
            None => matches!(call.func.as_ref(), Expr::Path(p) if p.path.is_ident("drop")),
            Some(callee) => matches!(callee, "std::mem::drop" | "core::mem::drop"),
        };
        let (offloads, schedules) =
            self.record_call(callee, alternatives, None, span.clone(), false);
        self.note_object_arguments(&call.args, 0);
        // `drop(inner)` runs the type's `Drop` impl, if the project has one: a call to it.
        // (Also of a type only the project phase knows: `let g = start_guard(); drop(g);`.)
        if drops
            && let Some(Returns::One(ty)) = call.args.first().and_then(|a| self.semantic.type_of(a))
        {
            self.record_call(Some(format!("{ty}::drop")), Vec::new(), None, span, false);
        }
        // A type's constructor (`Watcher::new(move |event| ..)`, `LazyLock::new(|| ..)`,
        // `new_debouncer(d, move |res| ..)`) keeps the closures it is given to call them later,
        // maybe on another thread: not now.
        let constructs =
            matches!(call.func.as_ref(), Expr::Path(path) if is_constructor(&path.path));
        self.visit_expr(&call.func);
        self.arguments_of(&call.args, (offloads || constructs, schedules), entry);
    }

    /// A method call: its callee is `Type::method` when the receiver's type is known.
    pub(super) fn method_call(&mut self, call: &syn::ExprMethodCall) {
        let method = call.method.to_string();
        let callee = match self.semantic.type_of(&call.receiver) {
            // A collection's own methods (`conns.iter()`) are std's: nothing to resolve.
            Some(Returns::One(ty)) if Collection::split(&ty).is_some() => {
                self.imported_trait_method(&method)
            }
            // (A type only the project phase knows, `g()` of an `async fn g`, whose method
            // is one of an imported trait's, `use pollster::FutureExt as _;`, is the trait's.)
            Some(Returns::One(ty))
                if !(is_library_type(&ty)
                    || is_deferred(&ty) && self.imported_trait_method(&method).is_some())
                    || self
                        .tables
                        .blocking
                        .contains_key(&format!("{ty}::{method}")) =>
            {
                Some(format!("{ty}::{method}"))
            }
            // A std value (`format!(..)`, a `String`) or one of unknown type: a method of a
            // trait the code imports is that trait's (`use std::net::ToSocketAddrs;` then
            // `addr.to_socket_addrs()`).
            known => self.imported_trait_method(&method).or_else(|| match known {
                Some(Returns::One(ty)) => Some(format!("{ty}::{method}")),
                _ => None,
            }),
        };
        let span = expr_start(&call.receiver)..call.paren_token.span.close().byte_range().end;
        self.condition_use(call, &method, &span);
        let on_self = matches!(&*call.receiver, Expr::Path(p) if p.path.is_ident("self"));
        // Closures given to a rayon parallel iterator run on the pool's threads, many at once.
        let parallel = is_parallel_iterator(&call.receiver);
        let entry = parallel
            || self
                .tables
                .thread_entry(callee.as_deref(), Some(&method))
                .is_some();
        if let Some(callee) = &callee {
            self.lock_through_arguments(callee, &call.args, &span, 1);
        }
        let locker = callee
            .clone()
            .filter(|c| self.closure_lockers.contains_key(c));
        // A combinator whose future is awaited or spawned, or one further down such a chain.
        let executor = std::mem::take(&mut self.executor_chain)
            || (self.next_call_awaited && FUTURE_COMBINATORS.contains(&method.as_str()));
        // On a value whose type the file cannot see: a method of a trait in scope for method
        // calls only (`fut.wait()` after `use util::FutureWaitExt as _;`).
        let alternatives = self
            .semantic
            .method_traits
            .iter()
            .map(|name| format!("{name}::{method}"))
            .collect();
        let mut offloads = self.record_call(callee, alternatives, Some(method), span, on_self);
        if self.on_non_blocking_receiver(call)
            && let Some(recorded) = self.model.functions[self.current].calls.last_mut()
        {
            recorded.non_blocking = true;
        }
        if executor {
            offloads.0 = false;
        }
        self.note_object_arguments(&call.args, 1);
        if !on_self {
            self.note_field_receiver(&call.receiver);
            let receiver = || syntax::written(&call.receiver);
            let object = self.held_objects.of_receiver(self.current, receiver);
            let on = self.object_receiver(&call.receiver);
            if let Some(recorded) = self.model.functions[self.current].calls.last_mut() {
                recorded.object = object;
                recorded.receiver = on;
            }
        }
        self.executor_chain = executor
            && matches!(&*call.receiver, Expr::MethodCall(inner)
                if FUTURE_COMBINATORS.contains(&inner.method.to_string().as_str()));
        let joined = self.model.functions[self.current].calls.len() - 1;
        let threads_before = self.model.functions[self.current].thread_entries.len();
        self.visit_expr(&call.receiver);
        self.executor_chain = false;
        self.join_of_fresh_thread(call, joined, threads_before);
        if executor {
            for arg in &call.args {
                let closure = handed_over(arg).and_then(|handed| match handed {
                    Expr::Closure(closure) if closure.asyncness.is_none() => Some(closure),
                    _ => None,
                });
                let outer = match closure {
                    Some(closure) => {
                        std::mem::replace(&mut self.executor_closure, closure_key(closure))
                    }
                    None => self.executor_closure,
                };
                self.argument(arg, offloads);
                self.executor_closure = outer;
            }
            return;
        }
        let entries = self.model.functions[self.current].thread_entries.len();
        // `self.lock(|inner| ..)` where `lock` runs the closure holding `self.0`.
        let under_lock = match (locker, entry || offloads.0) {
            (Some(locker), false) => self.closure_under_lock(&locker, call),
            _ => None,
        };
        if let Some(locked) = under_lock {
            for arg in &call.args {
                match arg {
                    Expr::Closure(closure) if std::ptr::eq(closure, locked) => {
                        self.inline_closure(closure, None)
                    }
                    _ => self.argument(arg, offloads),
                }
            }
            return;
        }
        if !entry && !offloads.0 && INLINE_ADAPTERS.contains(&call.method.to_string().as_str()) {
            let iterated = self.semantic.type_of(&call.receiver);
            for arg in &call.args {
                match arg {
                    Expr::Closure(closure) if closure.asyncness.is_none() => {
                        self.inline_closure(closure, iterated.clone())
                    }
                    _ => self.argument(arg, offloads),
                }
            }
            return;
        }
        self.arguments_of(&call.args, offloads, entry);
        if parallel {
            self.mark_repeated(entries);
        }
    }

    /// `Trait::method` for a blocking method of a library trait imported by name into scope.
    fn imported_trait_method(&self, method: &str) -> Option<String> {
        let owners = self.tables.blocking_owners.get(method)?;
        let traits = owners
            .iter()
            .filter(|owner| self.tables.traits.contains(*owner));
        traits.into_iter().find_map(|owner| {
            let name = owner.rsplit("::").next()?;
            (self.semantic.lookup_symbol(name) == Some(owner)).then(|| format!("{owner}::{method}"))
        })
    }

    /// `thread::spawn(move || ..).join()`: a thread started to run code out of the caller's
    /// context (another runtime's `block_on`) and waited for at once. The wait lasts as long
    /// as the closure's own work: when nothing in it blocks (IL101–IL105), neither does the
    /// join. `joined` is the join's index in the calls; the receiver was visited since
    /// `threads_before` thread starts were recorded.
    fn join_of_fresh_thread(
        &mut self,
        call: &syn::ExprMethodCall,
        joined: usize,
        threads_before: usize,
    ) {
        let function = &mut self.model.functions[self.current];
        let spawned_here = function.thread_entries.len() > threads_before
            && matches!(
                syntax::strip_unwraps(&call.receiver),
                Expr::Call(_) | Expr::MethodCall(_)
            );
        if call.method != "join" || !spawned_here {
            return;
        }
        let blocks = |c: &Call| {
            c.blocking.as_ref().is_some_and(|b| {
                matches!(
                    b.rule,
                    Code::IL101 | Code::IL102 | Code::IL103 | Code::IL104 | Code::IL105
                )
            })
        };
        if function.calls[joined + 1..].iter().any(blocks) {
            return;
        }
        if let Some(join) = function.calls.get_mut(joined)
            && join
                .blocking
                .as_ref()
                .is_some_and(|b| b.rule == Code::IL105)
        {
            join.non_blocking = true;
        }
    }

    /// `for msg in rx` (or `&rx`) over a value whose `into_iter` blocks (a channel receiver,
    /// which calls `recv()` for every item): the loop makes that call.
    pub(super) fn blocking_iteration(&mut self, iterated: &Expr, ty: Option<&Returns>) {
        let Some(Returns::One(ty)) = ty else {
            return;
        };
        let callee = format!("{ty}::into_iter");
        if self.tables.blocking.contains_key(&callee) {
            let span = syntax::byte_span(syn::spanned::Spanned::span(iterated));
            self.record_call(
                Some(callee),
                Vec::new(),
                Some("into_iter".into()),
                span,
                false,
            );
        }
    }

    /// Whether a method call's receiver was made non-blocking: by a call in its own chain
    /// (`OpenOptions::new().custom_flags(libc::O_NONBLOCK).open(p)`), or earlier in the
    /// function (`options.custom_flags(libc::O_NONBLOCK);` … `options.open(p)`,
    /// `listener.set_nonblocking(true)?;` … `listener.accept()`). A call that makes its chain's
    /// root so is noted here for the calls after it.
    fn on_non_blocking_receiver(&mut self, call: &syn::ExprMethodCall) -> bool {
        let mut root = &*call.receiver;
        let mut made = false;
        while let Expr::MethodCall(inner) = root {
            made |= makes_non_blocking(inner);
            root = &inner.receiver;
        }
        let makes = makes_non_blocking(call);
        let noted = |(function, _): &(usize, String)| *function == self.current;
        if made || !matches!(root, Expr::Path(_) | Expr::Field(_)) {
            return made;
        }
        if !makes && !self.non_blocking_receivers.iter().any(noted) {
            return false;
        }
        let root = syntax::written(root);
        if makes {
            self.non_blocking_receivers.push((self.current, root));
            return false;
        }
        self.non_blocking_receivers
            .iter()
            .any(|(function, written)| *function == self.current && *written == root)
    }

    /// Records a call; returns `(offloads, schedules)`: whether its closure arguments run on
    /// another thread (an offloading API, or any call awaited at once: a future-returning
    /// function that takes a sync closure runs it elsewhere), and whether its arguments are
    /// awaitables.
    pub(super) fn record_call(
        &mut self,
        callee: Option<String>,
        alternatives: Vec<String>,
        method: Option<String>,
        span: Span,
        on_self: bool,
    ) -> (bool, bool) {
        let offloads = self.tables.offloads(callee.as_deref(), method.as_deref());
        let schedules = self
            .tables
            .consumes_awaitables(callee.as_deref(), method.as_deref());
        let awaited = std::mem::take(&mut self.next_call_awaited);
        let offloads = offloads || awaited;
        let result = match self.discarded_call_end {
            Some(end) if end == span.end => {
                self.discarded_call_end = None;
                ResultUse::Discarded
            }
            _ => ResultUse::Used,
        };
        let blocking = self
            .tables
            .blocking_api(callee.as_deref(), method.as_deref())
            .cloned()
            .map(Box::new);
        // A spin lock's backoff sleep waits for the lock, as a mutex's `lock()` would.
        let non_blocking =
            self.spin_waits > 0 && blocking.as_ref().is_some_and(|b| b.rule == Code::IL101);
        self.model.functions[self.current].calls.push(Call {
            callee,
            method,
            span,
            context: self.context,
            non_blocking,
            alternatives: alternatives.into(),
            receiver: if on_self {
                Receiver::Own
            } else {
                Receiver::Other
            },
            scheduled: false,
            closure: self.closure,
            object: 0,
            awaited,
            result,
            blocking,
            positional_arguments: 0,
            object_arguments: thin_vec::ThinVec::new(),
        });
        (offloads, schedules)
    }

    /// Visits call arguments; closures given to an offloading call run in `Offloaded` context,
    /// and calls given to a scheduling call (`tokio::spawn(f())`) are awaitables.
    pub(super) fn arguments(
        &mut self,
        args: &Punctuated<Expr, syn::Token![,]>,
        offloads: (bool, bool),
    ) {
        for arg in args {
            self.argument(arg, offloads);
        }
    }

    /// One argument of [`Self::arguments`].
    pub(super) fn argument(&mut self, arg: &Expr, (offloads, schedules): (bool, bool)) {
        {
            match arg {
                Expr::Call(_) | Expr::MethodCall(_) if schedules => {
                    self.next_call_awaited = true;
                    let index = self.model.functions[self.current].calls.len();
                    self.visit_expr(arg);
                    if let Some(call) = self.model.functions[self.current].calls.get_mut(index) {
                        call.scheduled = true;
                    }
                }
                _ if offloads
                    && let Some(Expr::Closure(closure)) = handed_over(arg)
                    && closure.asyncness.is_none() =>
                {
                    let outer =
                        std::mem::replace(&mut self.offloaded_closure, closure_key(closure));
                    self.visit_expr(arg);
                    self.offloaded_closure = outer;
                }
                _ => self.visit_expr(arg),
            }
        }
    }
}

/// Whether a type is the standard library's (or a primitive), whose methods may come from a
/// trait in scope.
fn is_library_type(ty: &str) -> bool {
    !ty.contains("::") || crate::model::is_standard_path(ty)
}

/// `set_nonblocking(true)` (std's sockets, pipes) or `custom_flags(..O_NONBLOCK..)` (an
/// `OpenOptions`): what the receiver does next returns at once instead of waiting.
fn makes_non_blocking(call: &syn::ExprMethodCall) -> bool {
    match call.method.to_string().as_str() {
        "set_nonblocking" => matches!(call.args.first(),
            Some(Expr::Lit(syn::ExprLit { lit: syn::Lit::Bool(on), .. })) if on.value),
        "custom_flags" => call.args.first().is_some_and(|flags| {
            syntax::tokens_name(quote::ToTokens::to_token_stream(flags), "O_NONBLOCK")
        }),
        _ => false,
    }
}
