//! Pure helpers over `syn` syntax: where expressions and statements start and end, how an
//! expression is written, which names and awaits a piece of code mentions. No scope, type or
//! model knowledge here.

use proc_macro2::Span as TokenSpan;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Expr, Pat};

use crate::model::Span;

pub(super) fn byte_span(span: TokenSpan) -> Span {
    span.byte_range()
}

/// Where an expression starts. Walks down receivers and callees instead of calling
/// `Spanned::span`, which re-tokenizes the whole expression; the walk is bounded so that very
/// long method chains stay linear (their calls then start at the bounded walk's end).
pub(super) fn expr_start(mut expr: &Expr) -> usize {
    for _ in 0..64 {
        expr = match expr {
            Expr::MethodCall(e) => &e.receiver,
            Expr::Call(e) => &e.func,
            Expr::Field(e) => &e.base,
            Expr::Try(e) => &e.expr,
            Expr::Await(e) => &e.base,
            Expr::Index(e) => &e.expr,
            Expr::Cast(e) => &e.expr,
            Expr::Binary(e) => &e.left,
            Expr::Range(e) => match &e.start {
                Some(start) => start,
                None => return e.limits.span().byte_range().start,
            },
            Expr::Paren(e) => return e.paren_token.span.open().byte_range().start,
            Expr::Path(e) if e.qself.is_none() && e.attrs.is_empty() => match &e.path.leading_colon
            {
                Some(colon) => return colon.span().byte_range().start,
                None => {
                    return e
                        .path
                        .segments
                        .first()
                        .map_or(0, |s| s.ident.span().byte_range().start);
                }
            },
            Expr::Macro(e) if e.attrs.is_empty() => match e.mac.path.segments.first() {
                Some(segment) => return segment.ident.span().byte_range().start,
                None => return e.mac.bang_token.span().byte_range().start,
            },
            other => return other.span().byte_range().start,
        };
    }
    match expr {
        Expr::MethodCall(e) => e.method.span().byte_range().start,
        Expr::Field(e) => e.dot_token.span().byte_range().start,
        Expr::Call(e) => e.paren_token.span.open().byte_range().start,
        Expr::Index(e) => e.bracket_token.span.open().byte_range().start,
        Expr::Try(e) => e.question_token.span().byte_range().start,
        Expr::Await(e) => e.dot_token.span().byte_range().start,
        other => other.span().byte_range().start,
    }
}

/// The name a `let` pattern binds the whole value to (`guard`, `mut guard`), not `_`.
pub(super) fn bound_name(pat: &Pat) -> Option<String> {
    match pat {
        Pat::Ident(ident) => Some(ident.ident.unraw().to_string()),
        Pat::Type(typed) => bound_name(&typed.pat),
        _ => None,
    }
}

/// The name a `let` binds a guard to: a plain name, or the one a `Some(g)`/`Ok(g)` pattern
/// takes out of an `Option`/`Result` of a guard (`let Some(g) = self.try_view() else {..}`).
pub(super) fn guard_binding(pat: &Pat) -> Option<String> {
    match pat {
        Pat::TupleStruct(tuple)
            if tuple.elems.len() == 1
                && tuple
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "Some" || s.ident == "Ok") =>
        {
            bound_name(&tuple.elems[0])
        }
        other => bound_name(other),
    }
}

/// An expression without the `.unwrap()`, `.expect(..)`, `?` and parentheses around it
/// (`thread::spawn(f)` of `thread::spawn(f).expect("spawn")`).
pub(super) fn strip_unwraps(expr: &Expr) -> &Expr {
    match expr {
        Expr::MethodCall(call) if call.method == "unwrap" || call.method == "expect" => {
            strip_unwraps(&call.receiver)
        }
        Expr::Try(tried) => strip_unwraps(&tried.expr),
        Expr::Paren(paren) => strip_unwraps(&paren.expr),
        other => other,
    }
}

/// Every name a pattern binds (`Inited(store)`, `(a, Some(b))`).
pub(super) fn bound_names(pat: &Pat) -> Vec<String> {
    struct Names(Vec<String>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_pat_ident(&mut self, ident: &'ast syn::PatIdent) {
            self.0.push(ident.ident.unraw().to_string());
            visit::visit_pat_ident(self, ident);
        }
    }
    let mut names = Names(Vec::new());
    names.visit_pat(pat);
    names.0
}

/// Whether an expression mentions the path written `written` (`COUNT` in `COUNT + 1`).
pub(super) fn names_path(expr: &Expr, written_path: &str) -> bool {
    struct Finder<'w>(&'w str, bool);
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
            if written(&Expr::Path(path.clone())) == self.0 {
                self.1 = true;
            }
        }
        fn visit_expr(&mut self, expr: &'ast Expr) {
            if !self.1 {
                stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || visit::visit_expr(self, expr));
            }
        }
    }
    let mut finder = Finder(written_path, false);
    finder.visit_expr(expr);
    finder.1
}

/// Where a statement starts (for the end of a region that stops before it).
pub(super) fn stmt_start(stmt: &syn::Stmt, fallback: usize) -> usize {
    match stmt {
        syn::Stmt::Local(local) => local.let_token.span.byte_range().start,
        syn::Stmt::Expr(expr, _) => expr_start(expr),
        syn::Stmt::Macro(mac) => mac
            .mac
            .path
            .segments
            .first()
            .map_or(fallback, |s| s.ident.span().byte_range().start),
        syn::Stmt::Item(_) => fallback,
    }
}

/// Where a statement ends; `fallback` (the end of its block) when its syntax does not tell.
pub(super) fn stmt_end(stmt: &syn::Stmt, fallback: usize) -> usize {
    match stmt {
        syn::Stmt::Local(local) => local.semi_token.span.byte_range().end,
        syn::Stmt::Expr(_, Some(semi)) => semi.span.byte_range().end,
        syn::Stmt::Expr(expr, None) => expr_end(expr).unwrap_or(fallback),
        syn::Stmt::Macro(mac) => match &mac.semi_token {
            Some(semi) => semi.span.byte_range().end,
            None => fallback,
        },
        syn::Stmt::Item(_) => fallback,
    }
}

/// Where an expression ends, for the shapes whose last token is at hand.
pub(super) fn expr_end(expr: &Expr) -> Option<usize> {
    let close = |b: &syn::Block| b.brace_token.span.close().byte_range().end;
    Some(match expr {
        Expr::If(e) => match &e.else_branch {
            Some((_, else_branch)) => expr_end(else_branch)?,
            None => close(&e.then_branch),
        },
        Expr::Match(e) => e.brace_token.span.close().byte_range().end,
        Expr::While(e) => close(&e.body),
        Expr::ForLoop(e) => close(&e.body),
        Expr::Loop(e) => close(&e.body),
        Expr::Block(e) => close(&e.block),
        Expr::Unsafe(e) => close(&e.block),
        Expr::MethodCall(e) => e.paren_token.span.close().byte_range().end,
        Expr::Call(e) => e.paren_token.span.close().byte_range().end,
        Expr::Try(e) => e.question_token.span.byte_range().end,
        Expr::Await(e) => e.await_token.span.byte_range().end,
        _ => return None,
    })
}

/// A field's name as an access writes it: `inner`, or `0` in a tuple struct.
pub(super) fn member_name(member: &syn::Member) -> String {
    match member {
        syn::Member::Named(name) => name.to_string(),
        syn::Member::Unnamed(index) => index.index.to_string(),
    }
}

/// The name of the `position`th field of a struct as accesses write it (`0` when unnamed).
pub(super) fn field_name(field: &syn::Field, position: usize) -> String {
    field
        .ident
        .as_ref()
        .map_or_else(|| position.to_string(), ToString::to_string)
}

/// A signature's parameters bound to a plain name: index (counting `self`), name and type.
pub(super) fn named_parameters(
    sig: &syn::Signature,
) -> impl Iterator<Item = (usize, String, &syn::Type)> {
    sig.inputs
        .iter()
        .enumerate()
        .filter_map(|(index, input)| match input {
            syn::FnArg::Typed(typed) => match &*typed.pat {
                syn::Pat::Ident(ident) => {
                    Some((index, ident.ident.unraw().to_string(), &*typed.ty))
                }
                _ => None,
            },
            syn::FnArg::Receiver(_) => None,
        })
}

/// The expression inside `&`, `&mut`, `*` and parentheses (`&*tree` → `tree`).
pub(super) fn without_refs(mut expr: &Expr) -> &Expr {
    loop {
        expr = match expr {
            Expr::Reference(inner) => &inner.expr,
            Expr::Paren(inner) => &inner.expr,
            Expr::Unary(inner) if matches!(inner.op, syn::UnOp::Deref(_)) => &inner.expr,
            _ => return expr,
        };
    }
}

/// Methods that give what their receiver holds (an `Option`'s or `Result`'s value, a borrow),
/// named as the receiver in messages.
const UNWRAPPING_METHODS: &[&str] = &["unwrap", "expect", "as_ref", "as_mut", "as_deref"];

/// An expression as written, for messages (`self.state`, `cache`), or `the lock`.
pub(super) fn written(expr: &Expr) -> String {
    match expr {
        Expr::Path(path) => path
            .path
            .segments
            .iter()
            .map(|s| s.ident.unraw().to_string())
            .collect::<Vec<_>>()
            .join("::"),
        Expr::Field(field) => format!("{}.{}", written(&field.base), member_name(&field.member)),
        Expr::Reference(inner) => written(&inner.expr),
        Expr::Paren(inner) => written(&inner.expr),
        // `self.slots[i]`: the index as written, so that `slots[i]` and `slots[j]` differ.
        Expr::Index(index) => {
            let position = quote::ToTokens::to_token_stream(&index.index).to_string();
            format!("{}[{position}]", written(&index.expr))
        }
        // `self.connection.as_ref().unwrap()`, `self.conn.lock()?`: what they unwrap.
        Expr::MethodCall(call)
            if UNWRAPPING_METHODS.contains(&call.method.to_string().as_str()) =>
        {
            written(&call.receiver)
        }
        Expr::Try(inner) => written(&inner.expr),
        // `m.clone()`, `Arc::clone(&m)`: `m`.
        _ => object_written(expr).unwrap_or_else(|| "the lock".to_string()),
    }
}

/// The object an argument or receiver names, as written (`region` for `region`, `&region`,
/// `&*region`, `region.clone()`, `Arc::clone(&region)`, `region.as_ref()`; `self.inner`), when
/// it is a name or a field path.
pub(super) fn object_written(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(path) if path.qself.is_none() && path.path.segments.len() == 1 => {
            Some(path.path.segments[0].ident.unraw().to_string())
        }
        Expr::Field(field) => Some(format!(
            "{}.{}",
            object_written(&field.base)?,
            member_name(&field.member)
        )),
        Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => {
            object_written(&unary.expr)
        }
        Expr::MethodCall(call) if call.args.is_empty() && call.method == "as_ref" => {
            object_written(&call.receiver)
        }
        _ => {
            let inner = cloned_from(expr);
            (!std::ptr::eq(inner, expr))
                .then(|| object_written(inner))
                .flatten()
        }
    }
}

/// The expression a clone is taken of (`m` in `m.clone()`, `Arc::clone(&m)`, `&m`), or the
/// expression itself.
pub(super) fn cloned_from(expr: &Expr) -> &Expr {
    match expr {
        Expr::Reference(inner) => cloned_from(&inner.expr),
        Expr::Paren(inner) => cloned_from(&inner.expr),
        Expr::MethodCall(call) if call.args.is_empty() && call.method == "clone" => {
            cloned_from(&call.receiver)
        }
        Expr::Call(call) if call.args.len() == 1 => match call.func.as_ref() {
            // `Arc::clone`, also written in full (`std::sync::Arc::clone`).
            Expr::Path(path)
                if path.path.segments.len() >= 2
                    && matches!(
                        path.path.segments[path.path.segments.len() - 2]
                            .ident
                            .to_string()
                            .as_str(),
                        "Arc" | "Rc"
                    )
                    && path
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "clone") =>
            {
                cloned_from(&call.args[0])
            }
            _ => expr,
        },
        _ => expr,
    }
}

/// Whether tokens mention an identifier (in any group): a macro's arguments, a statement.
pub(super) fn tokens_name(tokens: proc_macro2::TokenStream, name: &str) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident == name,
        proc_macro2::TokenTree::Group(group) => tokens_name(group.stream(), name),
        _ => false,
    })
}

/// The `.await` points of statements, not counting closures, async blocks and items (they run
/// at another time).
pub(super) fn awaits_in(stmts: &[syn::Stmt]) -> Vec<Span> {
    #[derive(Default)]
    struct Awaits(Vec<Span>);
    impl<'ast> Visit<'ast> for Awaits {
        fn visit_expr_await(&mut self, expr: &'ast syn::ExprAwait) {
            self.0.push(byte_span(expr.await_token.span()));
            visit::visit_expr_await(self, expr);
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_expr(&mut self, expr: &'ast Expr) {
            stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || visit::visit_expr(self, expr));
        }
    }
    let mut awaits = Awaits::default();
    for stmt in stmts {
        awaits.visit_stmt(stmt);
    }
    awaits.0
}

/// The method calls of some code, in source order, and its assignments through a dereference
/// (`*slot.write().await = Some(v)`), not counting closures, async blocks and items (they run
/// at another time): collect them with `visit_expr`/`visit_block`.
#[derive(Default)]
pub(super) struct OwnMethodCalls<'ast>(
    pub(super) Vec<&'ast syn::ExprMethodCall>,
    pub(super) Vec<&'ast syn::ExprAssign>,
);

impl<'ast> Visit<'ast> for OwnMethodCalls<'ast> {
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        self.0.push(call);
        visit::visit_expr_method_call(self, call);
    }
    fn visit_expr_assign(&mut self, assign: &'ast syn::ExprAssign) {
        if matches!(&*assign.left, Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_))) {
            self.1.push(assign);
        }
        visit::visit_expr_assign(self, assign);
    }
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_expr(&mut self, expr: &'ast Expr) {
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || visit::visit_expr(self, expr));
    }
}

/// Whether a condition binds with `let` (`if let`, or a 2024 let chain).
pub(super) fn has_let(cond: &Expr) -> bool {
    match cond {
        Expr::Let(_) => true,
        Expr::Binary(b) => has_let(&b.left) || has_let(&b.right),
        _ => false,
    }
}

/// Tokens of an edition before 2021 for `syn`, which parses the 2021 language. Bare trait
/// objects of the closure traits (`Box<Fn(u32) -> u8 + Send>`, `&mut FnMut()`, `type Hook =
/// for<'a> Fn(&'a u8);`) get their `dyn`, which was optional then. Under edition 2015,
/// `async`, `await` and `try` were identifiers (`let async = ..`, `try!(..)`), so they become
/// raw identifiers (`r#async`) with the same spans, and a trait method's parameters could be
/// types alone (`fn sign(&self, &Message);`), which get the name `_`. Called on token trees
/// whose nesting is already bounded.
pub(super) fn legacy_edition_tokens(
    tokens: proc_macro2::TokenStream,
    edition: u16,
) -> proc_macro2::TokenStream {
    use proc_macro2::{Delimiter, Group, Ident, TokenTree};
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(ident)
                if edition == 2015 && (ident == "async" || ident == "await" || ident == "try") =>
            {
                out.push(TokenTree::Ident(Ident::new_raw(
                    &ident.unraw().to_string(),
                    ident.span(),
                )));
            }
            TokenTree::Ident(ident)
                if (ident == "Fn" || ident == "FnMut" || ident == "FnOnce")
                    && matches!(trees.get(i + 1), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis)
                    && i.checked_sub(1)
                        .is_some_and(|before| starts_trait_object(&trees, before)) =>
            {
                out.push(TokenTree::Ident(Ident::new("dyn", ident.span())));
                out.push(tree.clone());
            }
            // `type Append = for<'a> Fn(&'a mut Context);`: a higher-ranked bare trait object.
            TokenTree::Ident(ident)
                if ident == "for"
                    && matches!(trees.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '<')
                    && i.checked_sub(1).is_some_and(|before| {
                        matches!(&trees[before], TokenTree::Punct(p) if p.as_char() == '=')
                    }) =>
            {
                out.push(TokenTree::Ident(Ident::new("dyn", ident.span())));
                out.push(tree.clone());
            }
            TokenTree::Group(group) => {
                let stream = stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    legacy_edition_tokens(group.stream(), edition)
                });
                let stream = if edition == 2015
                    && group.delimiter() == Delimiter::Parenthesis
                    && is_named_function_parameters(&trees, i)
                {
                    name_anonymous_parameters(stream)
                } else {
                    stream
                };
                let mut rebuilt = Group::new(group.delimiter(), stream);
                rebuilt.set_span(group.span());
                out.push(TokenTree::Group(rebuilt));
            }
            other => out.push(other.clone()),
        }
    }
    out.into_iter().collect()
}

/// Whether the parenthesised group at `at` is the parameter list of a named function (`fn
/// name(..)`, also `fn name<T>(..)`), not of a function pointer type (`fn(u8)`).
fn is_named_function_parameters(trees: &[proc_macro2::TokenTree], at: usize) -> bool {
    use proc_macro2::TokenTree;
    // Back over generics (`<T: Into<u8>>`), then the name, then `fn`.
    let mut before = at;
    let mut depth = 0usize;
    loop {
        let Some(previous) = before.checked_sub(1) else {
            return false;
        };
        before = previous;
        match &trees[before] {
            TokenTree::Punct(p) if p.as_char() == '>' => depth += 1,
            TokenTree::Punct(p) if p.as_char() == '<' => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ if depth > 0 => {}
            TokenTree::Ident(_) => break,
            _ => return false,
        }
    }
    before
        .checked_sub(1)
        .is_some_and(|f| matches!(&trees[f], TokenTree::Ident(ident) if ident == "fn"))
}

/// A parameter list with `_: ` before each parameter written as a type alone (`&self,
/// &Message` becomes `&self, _: &Message`): receivers and named parameters stay as they are.
fn name_anonymous_parameters(stream: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    use proc_macro2::{Ident, Punct, Spacing, TokenTree};
    let trees: Vec<TokenTree> = stream.into_iter().collect();
    // Split at the commas outside angle brackets (`HashMap<K, V>` is one parameter).
    let mut parameters: Vec<Vec<TokenTree>> = vec![Vec::new()];
    let mut depth = 0usize;
    for (i, tree) in trees.iter().enumerate() {
        if let TokenTree::Punct(p) = tree {
            let arrow = p.as_char() == '>'
                && i.checked_sub(1).is_some_and(|b| {
                    matches!(&trees[b], TokenTree::Punct(q) if q.as_char() == '-' && q.spacing() == Spacing::Joint)
                });
            match p.as_char() {
                '<' => depth += 1,
                '>' if !arrow => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    parameters
                        .last_mut()
                        .expect("a parameter")
                        .push(tree.clone());
                    parameters.push(Vec::new());
                    continue;
                }
                _ => {}
            }
        }
        parameters
            .last_mut()
            .expect("a parameter")
            .push(tree.clone());
    }
    let mut out = Vec::with_capacity(trees.len());
    for parameter in parameters {
        let tokens: Vec<&TokenTree> = parameter
            .iter()
            .filter(|t| !matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
            .collect();
        let is_receiver = tokens
            .iter()
            .any(|t| matches!(t, TokenTree::Ident(ident) if ident == "self"));
        // A single `:` names it (a `::` is two joint colons of a path).
        let named = tokens.iter().enumerate().any(|(k, t)| {
            matches!(t, TokenTree::Punct(p) if p.as_char() == ':'
                && p.spacing() == Spacing::Alone
                && !(k > 0 && matches!(tokens[k - 1], TokenTree::Punct(q) if q.as_char() == ':')))
        });
        if let Some(first) = tokens.first()
            && !is_receiver
            && !named
            // Attributes start with `#`: leave such a parameter to the parser.
            && !matches!(first, TokenTree::Punct(p) if p.as_char() == '#')
        {
            let span = first.span();
            out.push(TokenTree::Ident(Ident::new("_", span)));
            let mut colon = Punct::new(':', Spacing::Alone);
            colon.set_span(span);
            out.push(TokenTree::Punct(colon));
        }
        out.extend(parameter);
    }
    out.into_iter().collect()
}

/// Whether the identifier at `at` is a lifetime's name (`'` then its name).
fn is_lifetime_name(trees: &[proc_macro2::TokenTree], at: usize) -> bool {
    use proc_macro2::TokenTree;
    matches!(&trees[at], TokenTree::Ident(_))
        && at
            .checked_sub(1)
            .is_some_and(|b| matches!(&trees[b], TokenTree::Punct(p) if p.as_char() == '\''))
}

/// Whether the token at `before` ends what a type starts after: `<` (a generic argument), `&`,
/// `&mut`, `&'a`. Not `:` or `+`, where a bare `Fn(..)` is a bound (`F: Fn()`), not a type.
fn starts_trait_object(trees: &[proc_macro2::TokenTree], before: usize) -> bool {
    use proc_macro2::TokenTree;
    match &trees[before] {
        // `=` of a type alias (`type Hook = Fn(u8);`).
        TokenTree::Punct(punct) => matches!(punct.as_char(), '<' | '&' | '='),
        // `&mut`, `&'a mut`.
        TokenTree::Ident(ident) if ident == "mut" => before.checked_sub(1).is_some_and(|b| {
            matches!(&trees[b], TokenTree::Punct(p) if p.as_char() == '&')
                || is_lifetime_name(trees, b)
        }),
        // `&'a`.
        TokenTree::Ident(_) => is_lifetime_name(trees, before),
        _ => false,
    }
}

/// The single names a statement calls (`f(x)`, `callback()`), not looking into closures or
/// nested items.
pub(super) fn called_names(stmt: &syn::Stmt) -> Vec<String> {
    #[derive(Default)]
    struct Names(Vec<String>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
            if let Expr::Path(func) = &*call.func
                && let Some(name) = func.path.get_ident()
            {
                self.0.push(name.to_string());
            }
            visit::visit_expr_call(self, call);
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_expr(&mut self, expr: &'ast Expr) {
            stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || visit::visit_expr(self, expr));
        }
    }
    let mut names = Names::default();
    names.visit_stmt(stmt);
    names.0
}

/// The expression a block ends with (its value), if it has one.
pub(super) fn block_value(block: &syn::Block) -> Option<&Expr> {
    match block.stmts.last()? {
        syn::Stmt::Expr(expr, None) => Some(expr),
        _ => None,
    }
}

/// Whether a call's function only wraps its one argument (`Some(x)`, `Ok(x)`, `Box::new(x)`,
/// a tuple struct or variant: `ExclusiveGuard(x)`, `Self(x)`): the value holds the argument.
pub(super) fn wraps_its_argument(func: &Expr) -> bool {
    let Expr::Path(path) = func else {
        return false;
    };
    let names = segment_names(&path.path);
    match names.as_slice() {
        [.., owner, last] if owner == "Box" && last == "new" => true,
        [.., last] => last.starts_with(|c: char| c.is_ascii_uppercase()),
        [] => false,
    }
}

/// Whether an expression builds a new value (`Mutex::new(0)`, `Arc::new(..)`,
/// `RwLock::default()`), as opposed to reaching an existing one (`Arc::clone(&m)`, `lock_of(x)`).
pub(super) fn constructs(expr: &Expr) -> bool {
    let Expr::Call(call) = expr else {
        return false;
    };
    let Expr::Path(path) = &*call.func else {
        return false;
    };
    path.path.segments.last().is_some_and(|last| {
        let name = last.ident.unraw().to_string();
        matches!(name.as_str(), "new" | "default" | "from") || name.starts_with("new_")
    })
}

/// The type arguments written in a path segment's angle brackets (`HashMap<K, V>` → `K`, `V`);
/// none for a segment without them.
pub(super) fn type_arguments(arguments: &syn::PathArguments) -> Vec<&syn::Type> {
    match arguments {
        syn::PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|arg| match arg {
                syn::GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The identifiers of a path's segments (`tokio::time::sleep` → `["tokio", "time", "sleep"]`).
pub(super) fn segment_names(path: &syn::Path) -> Vec<String> {
    path.segments
        .iter()
        .map(|s| s.ident.unraw().to_string())
        .collect()
}
