//! Pure syntax helpers: spans, names as written, and the shapes of a few statements.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_text_size::Ranged;

use crate::model::{Span, concat};

/// What an attribute chain is taken from (`self` in `self.state.lock`, `f()` in `f().x`).
pub(super) fn attribute_root(expr: &Expr) -> &Expr {
    let mut root = expr;
    while let Expr::Attribute(attribute) = root {
        root = &attribute.value;
    }
    root
}

/// Whether an expression is a name or an attribute path on one (`_lock`, `self.state.lock`).
pub(super) fn is_attribute_path(expr: &Expr) -> bool {
    attribute_root(expr).is_name_expr()
}

/// The name an attribute path starts from (`self` in `self.state.lock`).
pub(super) fn root_name(expr: &Expr) -> Option<&str> {
    match attribute_root(expr) {
        Expr::Name(name) => Some(name.id.as_str()),
        _ => None,
    }
}

/// What a `yield` or `yield from` expression gives up.
pub(super) fn yielded(expr: &Expr) -> Option<&Expr> {
    match expr {
        Expr::Yield(y) => y.value.as_deref(),
        Expr::YieldFrom(y) => Some(&y.value),
        _ => None,
    }
}

/// An expression as a dotted name for messages (`self.lock`, `get_lock()`), or `the lock`.
pub(super) fn dotted(expr: &Expr) -> String {
    match expr {
        Expr::Name(name) => name.id.to_string(),
        Expr::Attribute(attr) => concat(&[&dotted(&attr.value), ".", attr.attr.id.as_str()]),
        // A lock's getter (`get_lock()`).
        Expr::Call(call)
            if call.arguments.is_empty()
                && matches!(&*call.func, Expr::Name(_) | Expr::Attribute(_)) =>
        {
            concat(&[&dotted(&call.func), "()"])
        }
        _ => "the lock".to_string(),
    }
}

/// Whether an expression reads the name or attribute written `written` (`self.hits`, `v`).
pub(super) fn reads(expr: &Expr, written: &str) -> bool {
    struct Finder<'w>(&'w str, bool);
    impl<'b> Visitor<'b> for Finder<'_> {
        fn visit_expr(&mut self, expr: &'b Expr) {
            if self.1 {
                return;
            }
            // The last name first: most nodes differ there, and `dotted` allocates.
            let last = self.0.rsplit('.').next().unwrap_or(self.0);
            let candidate = match expr {
                Expr::Name(name) => name.id.as_str() == self.0,
                Expr::Attribute(attr) => attr.attr.id.as_str() == last,
                _ => false,
            };
            match expr {
                Expr::Name(_) | Expr::Attribute(_) if candidate && dotted(expr) == self.0 => {
                    self.1 = true
                }
                Expr::Lambda(_) => {}
                _ => stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_expr(self, expr)
                }),
            }
        }
    }
    let mut finder = Finder(written, false);
    finder.visit_expr(expr);
    finder.1
}

/// An expression for messages: names, attributes and calls as written (`Local().run`), or
/// `this value`.
pub(super) fn written(expr: &Expr) -> String {
    match expr {
        Expr::Name(name) => name.id.to_string(),
        Expr::Attribute(attr) => concat(&[&written(&attr.value), ".", attr.attr.id.as_str()]),
        Expr::Call(call) => concat(&[&written(&call.func), "()"]),
        _ => "this value".to_string(),
    }
}

/// `__name__ == "__main__"`, in either order.
pub(super) fn is_main_guard(test: &Expr) -> bool {
    let Expr::Compare(compare) = test else {
        return false;
    };
    let ([op], [right]) = (&*compare.ops, &*compare.comparators) else {
        return false;
    };
    let is_name = |e: &Expr| matches!(e, Expr::Name(n) if n.id.as_str() == "__name__");
    let is_main = |e: &Expr| matches!(e, Expr::StringLiteral(s) if s.value.to_str() == "__main__");
    *op == ast::CmpOp::Eq
        && ((is_name(&compare.left) && is_main(right))
            || (is_main(&compare.left) && is_name(right)))
}

/// `super()` (or `super(Class, self)`).
pub(super) fn is_super_call(call: &ast::ExprCall) -> bool {
    matches!(call.func.as_ref(), Expr::Name(name) if name.id.as_str() == "super")
}

/// The first positional parameter of a function (`self` of a method).
pub(super) fn first_param(def: &ast::StmtFunctionDef) -> Option<&str> {
    let params = &def.parameters;
    params
        .posonlyargs
        .iter()
        .chain(params.args.iter())
        .next()
        .map(|p| p.parameter.name.id.as_str())
}

pub(super) fn is_staticmethod(def: &ast::StmtFunctionDef) -> bool {
    decorated_by(def, "staticmethod")
}

/// Whether a method is a `@classmethod`: its first parameter is the class.
pub(super) fn is_classmethod(def: &ast::StmtFunctionDef) -> bool {
    decorated_by(def, "classmethod")
}

/// Whether a method is only a placeholder for its subclasses' overrides: its body (after any
/// docstring) only raises `NotImplementedError`, or is `...` or `pass` under
/// `@abstractmethod` (`abstract`: its decorators name `abc.abstractmethod`).
pub(super) fn is_abstract_stub(def: &ast::StmtFunctionDef, abstract_: bool) -> bool {
    let body = match def.body.as_slice() {
        [Stmt::Expr(doc), rest @ ..]
            if matches!(doc.value.as_ref(), Expr::StringLiteral(_)) && !rest.is_empty() =>
        {
            rest
        }
        body => body,
    };
    match body {
        [Stmt::Raise(raise)] => raise.exc.as_deref().is_some_and(|exc| {
            let raised = match exc {
                Expr::Call(call) => call.func.as_ref(),
                exc => exc,
            };
            // (`raise NotImplemented`, a common slip, says the same.)
            matches!(raised, Expr::Name(n)
                if matches!(n.id.as_str(), "NotImplementedError" | "NotImplemented"))
        }),
        [Stmt::Pass(_)] => abstract_,
        [Stmt::Expr(e)] => abstract_ && matches!(e.value.as_ref(), Expr::EllipsisLiteral(_)),
        _ => false,
    }
}

fn decorated_by(def: &ast::StmtFunctionDef, builtin: &str) -> bool {
    def.decorator_list
        .iter()
        .any(|d| matches!(&d.expression, Expr::Name(n) if n.id.as_str() == builtin))
}

/// The byte range of a node.
pub(super) fn span(node: &impl Ranged) -> Span {
    let range = node.range();
    range.start().to_usize()..range.end().to_usize()
}

/// Whether an `except` clause names one of `exceptions` (`except ImportError:`, `except
/// (ImportError, OSError):`, `except builtins.ImportError:`).
pub(super) fn catches(handler: &ast::ExceptHandler, exceptions: &[&str]) -> bool {
    fn names(expr: &Expr, exceptions: &[&str]) -> bool {
        match expr {
            Expr::Tuple(tuple) => tuple.elts.iter().any(|e| names(e, exceptions)),
            Expr::Name(name) => exceptions.contains(&name.id.as_str()),
            Expr::Attribute(attr) => exceptions.contains(&attr.attr.id.as_str()),
            _ => false,
        }
    }
    let ast::ExceptHandler::ExceptHandler(handler) = handler;
    handler
        .type_
        .as_deref()
        .is_some_and(|ty| names(ty, exceptions))
}

/// The locks (as written) that a `try`'s catch-all handlers (`except:`, `except
/// BaseException:`) release: every exception raised in its body releases them.
pub(super) fn released_on_exceptions(handlers: &[ast::ExceptHandler]) -> Vec<String> {
    let mut released = Vec::new();
    for handler in handlers {
        let ast::ExceptHandler::ExceptHandler(clause) = handler;
        if clause.type_.is_some() && !catches(handler, &["BaseException"]) {
            continue;
        }
        for stmt in &clause.body {
            if let ast::Stmt::Expr(statement) = stmt
                && let Expr::Call(call) = statement.value.as_ref()
                && let Expr::Attribute(attr) = call.func.as_ref()
                && attr.attr.id.as_str() == "release"
                && call.arguments.is_empty()
            {
                released.push(dotted(&attr.value));
            }
        }
    }
    released
}

/// Whether one of a `try`'s handlers catches the error a non-blocking operation raises when it
/// would block (`except BlockingIOError:`, `except (ssl.SSLWantReadError, …):`): the `try` body
/// is an attempt that does not wait.
pub(super) fn catches_would_block(handlers: &[ast::ExceptHandler]) -> bool {
    let would_block = ["BlockingIOError", "SSLWantReadError", "SSLWantWriteError"];
    handlers
        .iter()
        .any(|handler| catches(handler, &would_block))
}

/// `sock.setblocking(False)`, `sock.settimeout(0)`: the receiver (as written) of a call that
/// makes a socket non-blocking.
pub(super) fn made_non_blocking(call: &ast::ExprCall) -> Option<&Expr> {
    let Expr::Attribute(attr) = call.func.as_ref() else {
        return None;
    };
    let [argument] = &*call.arguments.args else {
        return None;
    };
    let off = is_false_literal(argument) || is_zero_literal(argument);
    (off && matches!(attr.attr.id.as_str(), "setblocking" | "settimeout")).then_some(&attr.value)
}

/// `False`.
pub(super) fn is_false_literal(expr: &Expr) -> bool {
    matches!(expr, Expr::BooleanLiteral(b) if !b.value)
}

/// `0` or `0.0`.
pub(super) fn is_zero_literal(expr: &Expr) -> bool {
    match expr {
        Expr::NumberLiteral(n) => match &n.value {
            ast::Number::Int(i) => i.as_u64() == Some(0),
            ast::Number::Float(f) => *f == 0.0,
            _ => false,
        },
        _ => false,
    }
}

/// Whether an expression creates a new mutable container: a dict, list or set display or
/// comprehension, or `dict()`/`list()`/`set()`/`collections.defaultdict(..)` and the like.
pub(super) fn is_new_container(value: &Expr) -> bool {
    match value {
        Expr::Dict(_)
        | Expr::List(_)
        | Expr::Set(_)
        | Expr::DictComp(_)
        | Expr::ListComp(_)
        | Expr::SetComp(_) => true,
        Expr::Call(call) => {
            matches!(
                call.func.as_ref(),
                Expr::Name(name) if matches!(name.id.as_str(), "dict" | "list" | "set")
            ) || matches!(
                call.func.as_ref(),
                Expr::Attribute(attr) if matches!(attr.attr.id.as_str(), "defaultdict" | "OrderedDict" | "deque")
            ) || matches!(
                call.func.as_ref(),
                Expr::Name(name) if matches!(name.id.as_str(), "defaultdict" | "OrderedDict" | "deque")
            )
        }
        _ => false,
    }
}

/// Whether a body's docstring says, in a sentence of its own, that it may be used from several
/// threads at once ("Thread-safe.", "Safe to call from any thread.", "This class is
/// thread-safe."). A sentence that limits or conditions the claim ("not reentrant", "only from
/// the loop's thread", "if the backend is thread-safe") does not count, and any "not
/// thread-safe" in the docstring cancels it.
pub(super) fn claims_thread_safety(body: &[Stmt]) -> bool {
    let Some(Stmt::Expr(doc)) = body.first() else {
        return false;
    };
    let Expr::StringLiteral(doc) = doc.value.as_ref() else {
        return false;
    };
    let text = doc.value.to_str();
    // Every claim names threads: most docstrings are done with at once.
    if !text.contains("hread") && !text.contains("HREAD") {
        return false;
    }
    let text = text.to_lowercase();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    const CLAIMS: [&str; 7] = [
        "thread-safe",
        "thread safe",
        "threadsafe",
        "from any thread",
        "from multiple threads",
        "from several threads",
        "from many threads",
    ];
    const LIMITS: [&str; 9] = [
        "not", "non-", "non ", "unsafe", "only", "if ", "whether", "unless", "n't",
    ];
    let claims = |sentence: &str| {
        CLAIMS.iter().any(|claim| sentence.contains(claim))
            && !LIMITS.iter().any(|limit| sentence.contains(limit))
    };
    !text.contains("not thread")
        && !text.contains("thread-unsafe")
        && text.split(['.', ';', ':']).any(claims)
}

/// The container a membership test looks in: `cache` for `key in cache.keys()` as for `key
/// in cache`.
pub(super) fn without_keys(container: &Expr) -> &Expr {
    match container {
        Expr::Call(call)
            if call.arguments.is_empty()
                && matches!(call.func.as_ref(), Expr::Attribute(a) if a.attr.id.as_str() == "keys") =>
        {
            match call.func.as_ref() {
                Expr::Attribute(keys) => &keys.value,
                _ => container,
            }
        }
        _ => container,
    }
}

/// A test that probes an attribute by name, rewritten as the test of the attribute it stands
/// for: `not hasattr(o, "a")` → `o.a is None`, `hasattr(o, "a")` → `o.a is not None`,
/// `getattr(o, "a", None)` → `o.a` (also inside `and`/`or`, `not` and comparisons). `None`
/// when the test probes nothing. The new nodes keep the probe's range.
pub(super) fn without_attribute_probes(test: &Expr) -> Option<Expr> {
    /// `hasattr(o, "a")` (`true`) or `getattr(o, "a", None)` (`false`) → `o.a`.
    fn probed(expr: &Expr) -> Option<(Expr, bool)> {
        let Expr::Call(call) = expr else {
            return None;
        };
        let Expr::Name(function) = call.func.as_ref() else {
            return None;
        };
        let has = match (function.id.as_str(), &*call.arguments.args) {
            ("hasattr", [_, _]) => true,
            ("getattr", [_, _, default]) if default.is_none_literal_expr() => false,
            _ => return None,
        };
        let [object, Expr::StringLiteral(name), ..] = &*call.arguments.args else {
            return None;
        };
        let name = name.value.to_str();
        if !call.arguments.keywords.is_empty() || !is_identifier(name) {
            return None;
        }
        let attribute = Expr::Attribute(ast::ExprAttribute {
            node_index: Default::default(),
            range: call.range(),
            value: Box::new(object.clone()),
            attr: ast::Identifier::new(name, call.range()),
            ctx: ast::ExprContext::Load,
        });
        Some((attribute, has))
    }
    fn none_test(left: Expr, op: ast::CmpOp, range: ruff_text_size::TextRange) -> Expr {
        Expr::Compare(ast::ExprCompare {
            node_index: Default::default(),
            range,
            left: Box::new(left),
            ops: Box::new([op]),
            comparators: Box::new([Expr::NoneLiteral(ast::ExprNoneLiteral {
                node_index: Default::default(),
                range,
            })]),
        })
    }
    match test {
        Expr::Call(_) => {
            let (attribute, has) = probed(test)?;
            Some(if has {
                none_test(attribute, ast::CmpOp::IsNot, test.range())
            } else {
                attribute
            })
        }
        Expr::UnaryOp(not) if not.op == ast::UnaryOp::Not => match probed(&not.operand) {
            Some((attribute, true)) => Some(none_test(attribute, ast::CmpOp::Is, test.range())),
            Some((attribute, false)) => Some(Expr::UnaryOp(ast::ExprUnaryOp {
                operand: Box::new(attribute),
                ..not.clone()
            })),
            None => None,
        },
        Expr::Compare(compare) => {
            let (left, _) = probed(&compare.left).filter(|(_, has)| !has)?;
            Some(Expr::Compare(ast::ExprCompare {
                left: Box::new(left),
                ..compare.clone()
            }))
        }
        Expr::BoolOp(both) => {
            let rewritten: Vec<Option<Expr>> =
                both.values.iter().map(without_attribute_probes).collect();
            rewritten.iter().any(Option::is_some).then(|| {
                Expr::BoolOp(ast::ExprBoolOp {
                    values: rewritten
                        .into_iter()
                        .zip(&both.values)
                        .map(|(new, old)| new.unwrap_or_else(|| old.clone()))
                        .collect(),
                    ..both.clone()
                })
            })
        }
        _ => None,
    }
}

/// Whether a string is a plain identifier (what `getattr` names can be written as).
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}
