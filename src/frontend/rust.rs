//! Rust front end: parses with `syn` and lowers into the language-neutral model.
//!
//! Paths are resolved through `use` items (groups, renames, `self`), `Self` and simple type
//! evidence (annotated parameters and lets, constructor calls, tuple-returning channel
//! constructors, struct fields), so `rx.recv()` becomes `std::sync::mpsc::Receiver::recv` only
//! when `rx` comes from std's channel.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use proc_macro2::Span as TokenSpan;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Expr, Pat, Type, UseTree};

use super::FrontendError;
use crate::knowledge::{LanguageTables, Returns};
use crate::model::{
    Access, Call, CheckThenAct, Class, ConditionOp, ConditionUse, Context, FileModel, Function,
    FunctionKind, Language, Leak, LeakedLock, LockDefinition, LockHold, LockScope, Pointless,
    PointlessLock, Span, StateWrite, ThreadEntry,
};
use crate::project::ModuleName;

/// Files nested deeper than this (brackets, or runs of prefix operators) are refused: `syn`
/// recurses on nesting and would overflow the stack.
pub const MAX_NESTING: usize = 256;

/// Longest stretch of code without a `;`, `,`, `{` or `}` that is parsed: `syn` may recurse
/// once per token of such a stretch (`return return …`, `|| || …`, `*const *const …`,
/// `Vec<Vec<…>>`), and no hand-written statement comes near it.
pub const MAX_STATEMENT_BYTES: usize = 32 * 1024;

/// Most tokens a Rust file may have: parsing and lowering cost a few hundred bytes of memory
/// per token, so this bounds one file at about half a GiB. Real code has a token every 5–8
/// bytes, so only generated files of 10 MB and more come near it.
pub const MAX_TOKENS: usize = 2_000_000;

/// Parses and lowers one Rust file.
pub fn lower(
    path: &Path,
    text: &str,
    tables: &LanguageTables,
    module: &ModuleName,
) -> Result<(FileModel, Duration), FrontendError> {
    // proc-macro2 keeps every parsed file's text in a per-thread map unless told otherwise:
    // forget it however this function returns, or a long-lived server grows with every edit.
    struct ForgetSpans;
    impl Drop for ForgetSpans {
        fn drop(&mut self) {
            proc_macro2::extra::invalidate_current_thread_spans();
        }
    }
    let _forget_spans = ForgetSpans;
    let parse_started = std::time::Instant::now();
    let file = parse(text)?;
    let parse_time = parse_started.elapsed();
    let mut lowerer = Lowerer {
        tables,
        model: FileModel::new(path.to_path_buf(), Language::Rust, module.path.clone()),
        names: Vec::new(),
        modules: vec![module.path.clone()],
        locals: vec![HashMap::new()],
        lock_aliases: vec![HashMap::new()],
        fields: HashMap::new(),
        statics: HashMap::new(),
        lock_types: tables
            .locks
            .keys()
            .filter_map(|guard| guard.rsplit_once("::").map(|(ty, _)| ty.to_string()))
            .collect(),
        edition: module.edition,
        loop_depth: 0,
        for_depth: 0,
        exclusive_self: false,
        atomic_locals: Vec::new(),
        closure: 0,
        closures: 0,
        self_type: None,
        prefix: Vec::new(),
        current: 0,
        context: Context::Sync,
        next_call_awaited: false,
    };
    lowerer.model.functions[0].span = 0..text.len().min(1);
    lowerer.enter_module_scope(&file.items);
    lowerer.fields = lowerer.struct_fields(&file.items);
    lowerer.statics = lowerer.static_types(&file.items);
    lowerer.define_locks(&file.items);
    lowerer.visit_file(&file);
    let model = lowerer.model;
    drop(file);
    Ok((model, parse_time))
}

fn byte_span(span: TokenSpan) -> Span {
    span.byte_range()
}

/// Where an expression starts. Walks down receivers and callees instead of calling
/// `Spanned::span`, which re-tokenizes the whole expression; the walk is bounded so that very
/// long method chains stay linear (their calls then start at the bounded walk's end).
fn expr_start(mut expr: &Expr) -> usize {
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

struct Lowerer<'t> {
    tables: &'t LanguageTables,
    model: FileModel,
    /// Names in scope (items and `use`s), innermost last.
    names: Vec<NameScope>,
    /// Canonical path of the module being lowered (the file's, then inline `mod`s).
    modules: Vec<String>,
    /// Local variables, innermost last: name → type when known.
    locals: Vec<HashMap<String, Option<Returns>>>,
    /// Locals that name another lock (`let m2 = Arc::clone(&m)`), scoped like `locals`.
    lock_aliases: Vec<HashMap<String, LockName>>,
    /// Struct name → field name → canonical field type.
    fields: HashMap<String, HashMap<String, String>>,
    /// The file's top-level `static`s: name → canonical type.
    statics: HashMap<String, String>,
    /// Types with a guard method in the lock table (`std::sync::Mutex`).
    lock_types: rustc_hash::FxHashSet<String>,
    /// The crate's edition: 2024 drops `if let` scrutinee temporaries before the `else`.
    edition: u16,
    /// How many loops of the current function enclose the code being lowered.
    loop_depth: usize,
    /// How many `for` loops enclose it.
    for_depth: usize,
    /// The current method takes `self` by value or `&mut`: its fields are not shared.
    exclusive_self: bool,
    /// Locals holding an atomic's loaded value (`let n = COUNT.load(..)`): (local, atomic, load).
    atomic_locals: Vec<(String, String, Span)>,
    /// The closure whose body is being lowered (0: none), numbered in the file.
    closure: u32,
    /// How many closures have been numbered.
    closures: u32,
    /// The `Self` type inside an `impl` block.
    self_type: Option<String>,
    /// Module and type names enclosing the current item.
    prefix: Vec<String>,
    current: usize,
    context: Context,
    /// The next recorded call is awaited (set while visiting the base of `.await`).
    next_call_awaited: bool,
}

/// A lock's identity, where it lives, and whether it is reached through `self`.
type LockName = (String, LockScope, bool);

/// The names a module or block brings into scope: its own items and its `use`s.
#[derive(Debug, Default)]
struct NameScope {
    /// Bound name → canonical path.
    names: HashMap<String, String>,
    /// Canonical paths of glob imports (`use super::*`).
    globs: Vec<String>,
}

/// Flattens a `use` tree into `(bound name, path as written)` pairs and glob prefixes.
fn flatten_use(
    tree: &UseTree,
    prefix: String,
    out: &mut Vec<(String, String)>,
    globs: &mut Vec<String>,
) {
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}::{name}")
        }
    };
    match tree {
        UseTree::Path(path) => flatten_use(&path.tree, join(&path.ident.to_string()), out, globs),
        UseTree::Name(name) => {
            let ident = name.ident.to_string();
            if ident == "self" {
                if let Some(last) = prefix.rsplit("::").next() {
                    out.push((last.to_string(), prefix.clone()));
                }
            } else {
                out.push((ident.clone(), join(&ident)));
            }
        }
        UseTree::Rename(rename) => {
            let ident = rename.ident.to_string();
            let target = if ident == "self" {
                prefix.clone()
            } else {
                join(&ident)
            };
            out.push((rename.rename.to_string(), target));
        }
        UseTree::Group(group) => {
            for tree in &group.items {
                flatten_use(tree, prefix.clone(), out, globs);
            }
        }
        UseTree::Glob(_) => globs.push(prefix),
    }
}

/// The name an item binds in its module, if any.
fn item_name(item: &syn::Item) -> Option<String> {
    let ident = match item {
        syn::Item::Fn(i) => &i.sig.ident,
        syn::Item::Struct(i) => &i.ident,
        syn::Item::Enum(i) => &i.ident,
        syn::Item::Trait(i) => &i.ident,
        syn::Item::Mod(i) => &i.ident,
        syn::Item::Type(i) => &i.ident,
        syn::Item::Union(i) => &i.ident,
        syn::Item::Const(i) => &i.ident,
        syn::Item::Static(i) => &i.ident,
        _ => return None,
    };
    Some(ident.to_string())
}

/// How many expressions deep type resolution looks.
const MAX_RESOLUTION_DEPTH: usize = 16;

/// Methods that keep the type of their receiver (`?`-like unwrapping and borrowing).
const TRANSPARENT_METHODS: &[&str] = &[
    "unwrap",
    "expect",
    "clone",
    "as_ref",
    "as_mut",
    "borrow",
    "borrow_mut",
    "to_owned",
    "by_ref",
];
/// Smart pointers whose constructor keeps the type of what they wrap.
const WRAPPERS: &[&str] = &[
    "Arc",
    "Rc",
    "Box",
    "std::sync::Arc",
    "std::rc::Rc",
    "std::boxed::Box",
];

impl<'t> Lowerer<'t> {
    // ----- names and types -----

    fn use_of(&self, name: &str) -> Option<&String> {
        self.names
            .iter()
            .rev()
            .find_map(|scope| scope.names.get(name))
    }

    fn module(&self) -> &str {
        self.modules.last().expect("a module")
    }

    /// The crate's name: the first segment of the file's module path.
    fn crate_name(&self) -> &str {
        self.modules[0].split("::").next().unwrap_or("")
    }

    /// Rewrites the head of a path as written in a `use` (`crate`, `self`, `super`, an item of
    /// this module) to a canonical path.
    fn canonical_use_path(&self, written: &str, local: &HashMap<String, String>) -> String {
        let mut segments: Vec<&str> = written.split("::").collect();
        let mut base: Vec<String> = match segments.first().copied() {
            Some("crate") => {
                segments.remove(0);
                vec![self.crate_name().to_string()]
            }
            Some("self") => {
                segments.remove(0);
                vec![self.module().to_string()]
            }
            Some("super") => {
                let mut module: Vec<&str> = self.module().split("::").collect();
                while segments.first() == Some(&"super") {
                    segments.remove(0);
                    module.pop();
                }
                vec![module.join("::")]
            }
            Some(head) => match local.get(head) {
                Some(canonical) => {
                    segments.remove(0);
                    vec![canonical.clone()]
                }
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        base.extend(segments.iter().map(|s| s.to_string()));
        base.retain(|s| !s.is_empty());
        base.join("::")
    }

    /// Brings a list of items into scope: their names (under `item_prefix`) and their `use`s.
    /// At module level the `use`s are also recorded as the module's aliases (re-exports).
    fn push_scope<'a>(
        &mut self,
        items: impl Iterator<Item = &'a syn::Item> + Clone,
        item_prefix: &str,
        is_module: bool,
    ) {
        let local: HashMap<String, String> = items
            .clone()
            .filter_map(item_name)
            .map(|name| {
                let canonical = if item_prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{item_prefix}::{name}")
                };
                (name, canonical)
            })
            .collect();
        let (mut written, mut globs) = (Vec::new(), Vec::new());
        for item in items {
            if let syn::Item::Use(item_use) = item {
                flatten_use(&item_use.tree, String::new(), &mut written, &mut globs);
            }
        }
        let mut scope = NameScope {
            names: local.clone(),
            globs: Vec::new(),
        };
        for (bound, path) in written {
            let canonical = self.canonical_use_path(&path, &local);
            if is_module {
                let alias = format!("{}::{bound}", self.module());
                self.model.aliases.push((alias, canonical.clone()));
            }
            scope.names.insert(bound, canonical);
        }
        scope.globs = globs
            .iter()
            .map(|g| self.canonical_use_path(g, &local))
            .collect();
        self.names.push(scope);
    }

    fn enter_module_scope(&mut self, items: &[syn::Item]) {
        let module = self.module().to_string();
        self.push_scope(items.iter(), &module, true);
    }

    fn local(&self, name: &str) -> Option<&Option<Returns>> {
        self.locals.iter().rev().find_map(|map| map.get(name))
    }

    fn bind_local(&mut self, name: String, ty: Option<Returns>) {
        self.locals
            .last_mut()
            .expect("a local scope")
            .insert(name, ty);
    }

    /// The canonical name of a path (`thread::sleep` → `std::thread::sleep`,
    /// `crate::db::query` → `ledger::db::query`).
    fn resolve_path(&self, path: &syn::Path) -> Option<String> {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let (first, rest) = segments.split_first()?;
        if path.leading_colon.is_some() {
            return Some(segments.join("::"));
        }
        let head = match first.as_str() {
            "Self" => self.self_type.clone()?,
            "crate" => self.crate_name().to_string(),
            "self" => self.module().to_string(),
            "super" => {
                let mut module: Vec<&str> = self.module().split("::").collect();
                let mut rest = rest;
                module.pop();
                while rest.first().is_some_and(|s| s == "super") {
                    module.pop();
                    rest = &rest[1..];
                }
                let joined: Vec<String> = module
                    .iter()
                    .map(|s| s.to_string())
                    .chain(rest.iter().cloned())
                    .collect();
                return Some(joined.join("::"));
            }
            _ if segments.len() == 1 && self.local(first).is_some() => return None,
            _ => match self.use_of(first) {
                Some(full) => full.clone(),
                None if segments.len() == 1 => return None,
                None => first.clone(),
            },
        };
        Some(
            std::iter::once(head)
                .chain(rest.iter().cloned())
                .collect::<Vec<_>>()
                .join("::"),
        )
    }

    /// Where a path that names nothing in scope may come from: each glob import in scope.
    fn glob_candidates(&self, path: &syn::Path) -> Vec<String> {
        let first = path
            .segments
            .first()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if path.leading_colon.is_some()
            || self.use_of(&first).is_some()
            || self.local(&first).is_some()
        {
            return Vec::new();
        }
        let written: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let written = written.join("::");
        self.names
            .iter()
            .rev()
            .flat_map(|scope| scope.globs.iter())
            .map(|glob| format!("{glob}::{written}"))
            .collect()
    }

    /// The canonical name of a type, looking through references and smart pointers.
    fn resolve_type(&self, ty: &Type) -> Option<String> {
        match ty {
            Type::Reference(reference) => self.resolve_type(&reference.elem),
            Type::Paren(paren) => self.resolve_type(&paren.elem),
            Type::Path(type_path) => {
                let last = type_path.path.segments.last()?;
                let name = last.ident.to_string();
                if matches!(
                    name.as_str(),
                    "Arc" | "Rc" | "Box" | "LazyLock" | "Lazy" | "LazyCell"
                ) && let syn::PathArguments::AngleBracketed(args) = &last.arguments
                    && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
                {
                    return self.resolve_type(inner);
                }
                if type_path.path.segments.len() == 1 && self.use_of(&name).is_none() {
                    // A type of this crate, or from the prelude: keep its bare name.
                    return Some(name);
                }
                self.resolve_path(&type_path.path)
            }
            _ => None,
        }
    }

    /// The type of an expression, when the syntax gives evidence for it.
    fn type_of(&self, expr: &Expr) -> Option<Returns> {
        self.type_within(expr, MAX_RESOLUTION_DEPTH)
    }

    /// [`Self::type_of`], looking at most `depth` expressions deep (long method chains would
    /// otherwise make lowering quadratic).
    fn type_within(&self, expr: &Expr, depth: usize) -> Option<Returns> {
        let depth = depth.checked_sub(1)?;
        match expr {
            Expr::Path(path) if path.path.segments.len() == 1 => {
                let name = path.path.segments[0].ident.to_string();
                match self.local(&name) {
                    Some(ty) => ty.clone(),
                    None if self.statics.contains_key(&name) => {
                        self.statics.get(&name).cloned().map(Returns::One)
                    }
                    // A unit struct: `let sink = NullSink;`.
                    None if name.starts_with(|c: char| c.is_ascii_uppercase()) => {
                        self.use_of(&name).cloned().map(Returns::One)
                    }
                    None => None,
                }
            }
            // A struct literal: `TcpSink { target }`.
            Expr::Struct(literal) => {
                let last = literal.path.segments.last()?.ident.to_string();
                self.resolve_path(&literal.path)
                    .or(Some(last))
                    .map(Returns::One)
            }
            Expr::Call(call) => {
                let Expr::Path(func) = call.func.as_ref() else {
                    return None;
                };
                let callee = self.resolve_path(&func.path).or_else(|| {
                    // `Type::new()` of a type defined in this crate.
                    let segments = &func.path.segments;
                    (segments.len() == 2)
                        .then(|| format!("{}::{}", segments[0].ident, segments[1].ident))
                })?;
                if let Some(returns) = self.tables.returns.get(&callee) {
                    return Some(returns.clone());
                }
                let (owner, _) = callee.rsplit_once("::")?;
                if WRAPPERS.contains(&owner) {
                    return call
                        .args
                        .first()
                        .and_then(|arg| self.type_within(arg, depth));
                }
                let owner_name = owner.rsplit("::").next().unwrap_or(owner);
                owner_name
                    .starts_with(|c: char| c.is_ascii_uppercase())
                    .then(|| Returns::One(owner.to_string()))
            }
            Expr::MethodCall(call) => {
                let method = call.method.to_string();
                let receiver = self.type_within(&call.receiver, depth);
                if TRANSPARENT_METHODS.contains(&method.as_str()) {
                    return receiver;
                }
                let Some(Returns::One(ty)) = receiver else {
                    return None;
                };
                self.tables.returns.get(&format!("{ty}::{method}")).cloned()
            }
            Expr::Try(try_expr) => self.type_within(&try_expr.expr, depth),
            Expr::Paren(paren) => self.type_within(&paren.expr, depth),
            Expr::Reference(reference) => self.type_within(&reference.expr, depth),
            Expr::Field(field) => {
                let owner = match field.base.as_ref() {
                    Expr::Path(p) if p.path.is_ident("self") => self.self_type.clone()?,
                    base => match self.type_within(base, depth)? {
                        Returns::One(ty) => ty,
                        Returns::Tuple(_) => return None,
                    },
                };
                let syn::Member::Named(name) = &field.member else {
                    return None;
                };
                let owner = owner.rsplit("::").next().unwrap_or(&owner);
                self.fields
                    .get(owner)?
                    .get(&name.to_string())
                    .cloned()
                    .map(Returns::One)
            }
            _ => None,
        }
    }

    /// Binds the names of a pattern, with the types the value gives them.
    fn bind_pattern(&mut self, pat: &Pat, ty: Option<Returns>) {
        match pat {
            Pat::Ident(ident) => self.bind_local(ident.ident.to_string(), ty),
            Pat::Type(typed) => {
                let ty = self.resolve_type(&typed.ty).map(Returns::One).or(ty);
                self.bind_pattern(&typed.pat, ty);
            }
            Pat::Tuple(tuple) => {
                let types = match ty {
                    Some(Returns::Tuple(types)) if types.len() == tuple.elems.len() => types,
                    _ => Vec::new(),
                };
                for (i, element) in tuple.elems.iter().enumerate() {
                    self.bind_pattern(element, types.get(i).cloned().map(Returns::One));
                }
            }
            Pat::Reference(reference) => self.bind_pattern(&reference.pat, ty),
            Pat::Paren(paren) => self.bind_pattern(&paren.pat, ty),
            Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|p| self.bind_pattern(p, None)),
            Pat::Struct(strukt) => strukt
                .fields
                .iter()
                .for_each(|f| self.bind_pattern(&f.pat, None)),
            Pat::Slice(slice) => slice.elems.iter().for_each(|p| self.bind_pattern(p, None)),
            Pat::Or(or) => or.cases.iter().for_each(|p| self.bind_pattern(p, None)),
            _ => {}
        }
    }

    /// Named fields of the structs declared at the top of the file.
    fn struct_fields(&self, items: &[syn::Item]) -> HashMap<String, HashMap<String, String>> {
        let mut out = HashMap::new();
        for item in items {
            if let syn::Item::Struct(strukt) = item {
                let fields = strukt
                    .fields
                    .iter()
                    .filter_map(|f| {
                        Some((f.ident.as_ref()?.to_string(), self.resolve_type(&f.ty)?))
                    })
                    .collect();
                out.insert(strukt.ident.to_string(), fields);
            }
        }
        out
    }

    /// The types of the file's top-level `static`s (`static M: Mutex<T>`,
    /// `static M: LazyLock<Mutex<T>>`).
    fn static_types(&self, items: &[syn::Item]) -> HashMap<String, String> {
        items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Static(s) => Some((s.ident.to_string(), self.resolve_type(&s.ty)?)),
                _ => None,
            })
            .collect()
    }

    /// Records the locks the file's top-level statics and struct fields define.
    fn define_locks(&mut self, items: &[syn::Item]) {
        for item in items {
            let found: Vec<(String, &syn::Ident, &Type)> = match item {
                syn::Item::Static(s) => {
                    vec![(self.model.join(&s.ident.to_string()), &s.ident, &*s.ty)]
                }
                syn::Item::Struct(strukt) => {
                    let owner = self.model.join(&strukt.ident.to_string());
                    strukt
                        .fields
                        .iter()
                        .filter_map(|f| {
                            let ident = f.ident.as_ref()?;
                            Some((format!("{owner}.{ident}"), ident, &f.ty))
                        })
                        .collect()
                }
                _ => continue,
            };
            for (identity, ident, ty) in found {
                if let Some(kind) = self
                    .resolve_type(ty)
                    .filter(|t| self.lock_types.contains(t))
                {
                    self.model.lock_definitions.push(LockDefinition {
                        identity,
                        kind,
                        span: byte_span(ident.span()),
                    });
                }
            }
        }
    }

    /// Enters a block scope for locals.
    fn push_locals(&mut self) {
        self.locals.push(HashMap::new());
        self.lock_aliases.push(HashMap::new());
    }

    fn pop_locals(&mut self) {
        self.locals.pop();
        self.lock_aliases.pop();
    }

    /// The identity of the lock an expression names: a field (`self.accounts`, `bank.accounts`),
    /// a `static`, or a local (looking through references, clones and local aliases).
    fn lock_identity(&self, expr: &Expr) -> Option<LockName> {
        match expr {
            Expr::Reference(inner) => self.lock_identity(&inner.expr),
            Expr::Paren(inner) => self.lock_identity(&inner.expr),
            Expr::Unary(inner) if matches!(inner.op, syn::UnOp::Deref(_)) => {
                self.lock_identity(&inner.expr)
            }
            Expr::MethodCall(call)
                if call.args.is_empty()
                    && matches!(
                        call.method.to_string().as_str(),
                        "clone" | "as_ref" | "deref"
                    ) =>
            {
                self.lock_identity(&call.receiver)
            }
            Expr::Call(call) if call.args.len() == 1 => {
                // `Arc::clone(&m)`.
                let Expr::Path(func) = call.func.as_ref() else {
                    return None;
                };
                let is_clone = func.path.segments.len() >= 2
                    && func
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "clone");
                is_clone
                    .then(|| self.lock_identity(&call.args[0]))
                    .flatten()
            }
            Expr::Field(field) => {
                let syn::Member::Named(name) = &field.member else {
                    return None;
                };
                let (owner, via_self) = match field.base.as_ref() {
                    Expr::Path(p) if p.path.is_ident("self") => (self.self_type.clone()?, true),
                    base => match self.type_of(base)? {
                        Returns::One(ty) => (ty, false),
                        Returns::Tuple(_) => return None,
                    },
                };
                Some((format!("{owner}.{name}"), LockScope::Field, via_self))
            }
            Expr::Path(path) if path.path.segments.len() == 1 && path.qself.is_none() => {
                let name = path.path.segments[0].ident.to_string();
                if let Some(alias) = self.lock_aliases.iter().rev().find_map(|a| a.get(&name)) {
                    return Some(alias.clone());
                }
                if self.local(&name).is_some() {
                    let function = &self.model.functions[self.current].canonical;
                    return Some((format!("{function}::{name}"), LockScope::Local, false));
                }
                let canonical = self.resolve_path(&path.path)?;
                Some((canonical, LockScope::Global, false))
            }
            Expr::Path(path) if path.qself.is_none() => {
                Some((self.resolve_path(&path.path)?, LockScope::Global, false))
            }
            _ => None,
        }
    }

    // ----- regions -----

    /// Lowers a function-like region (fn, async block, async closure) as a new model function.
    #[allow(clippy::too_many_arguments)]
    fn region(
        &mut self,
        name: String,
        canonical: String,
        kind: FunctionKind,
        is_async: bool,
        span: Span,
        body: impl FnOnce(&mut Self),
    ) {
        let index = self.model.functions.len();
        self.model.functions.push(Function::new(
            name,
            canonical,
            kind,
            is_async,
            span,
            Some(self.current),
        ));
        let saved = (self.current, self.context);
        self.current = index;
        self.context = if is_async {
            Context::Async
        } else {
            Context::Sync
        };
        let loop_depth = std::mem::take(&mut self.loop_depth);
        let for_depth = std::mem::take(&mut self.for_depth);
        let atomic_locals = std::mem::take(&mut self.atomic_locals);
        self.push_locals();
        body(self);
        self.pop_locals();
        (self.for_depth, self.atomic_locals) = (for_depth, atomic_locals);
        (self.current, self.context, self.loop_depth) = (saved.0, saved.1, loop_depth);
    }

    fn qualified(&self, name: &str) -> String {
        self.prefix
            .iter()
            .map(String::as_str)
            .chain([name])
            .collect::<Vec<_>>()
            .join("::")
    }

    fn function(&mut self, sig: &syn::Signature, block: &syn::Block) {
        let ident = sig.ident.to_string();
        let name = self.qualified(&ident);
        let canonical = match (&self.self_type, self.model.functions[self.current].kind) {
            (Some(owner), FunctionKind::Module) => format!("{owner}::{ident}"),
            (_, FunctionKind::Module) => format!("{}::{ident}", self.module()),
            _ => format!("{}::{ident}", self.model.functions[self.current].canonical),
        };
        let is_async = sig.asyncness.is_some();
        self.region(
            name,
            canonical,
            FunctionKind::Function,
            is_async,
            byte_span(sig.ident.span()),
            |this| {
                this.exclusive_self = false;
                for input in &sig.inputs {
                    if let syn::FnArg::Receiver(receiver) = input {
                        this.exclusive_self = matches!(
                            receiver.kind,
                            syn::ReceiverKind::Value | syn::ReceiverKind::Reference(_, _, Some(_))
                        );
                        let ty = this.self_type.clone().map(Returns::One);
                        this.bind_local("self".to_string(), ty);
                    }
                    if let syn::FnArg::Typed(typed) = input {
                        this.bind_pattern(&typed.pat, None);
                        let ty = this.resolve_type(&typed.ty).map(Returns::One);
                        this.bind_pattern(&typed.pat, ty);
                    }
                }
                this.visit_block(block);
            },
        );
    }

    /// Visits call arguments; closures given to an offloading call run in `Offloaded` context,
    /// and calls given to a scheduling call (`tokio::spawn(f())`) are awaitables.
    /// [`Self::arguments`] of a call that may start its closures, functions and futures on
    /// other threads (`thread::spawn`, `tokio::spawn`): records them as thread entry points.
    fn arguments_of(
        &mut self,
        args: &Punctuated<Expr, syn::Token![,]>,
        offloads: (bool, bool),
        entry: bool,
    ) {
        if !entry {
            self.arguments(args, offloads);
            return;
        }
        let repeated = self.loop_depth > 0 || self.for_depth > 0 || self.closure != 0;
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
                Expr::Path(path) => started.target = self.resolve_path(&path.path),
                Expr::Call(call) => match call.func.as_ref() {
                    Expr::Path(path) => started.target = self.resolve_path(&path.path),
                    _ => continue,
                },
                _ => continue,
            }
            self.model.functions[self.current]
                .thread_entries
                .push(started);
        }
    }

    fn arguments(&mut self, args: &Punctuated<Expr, syn::Token![,]>, offloads: (bool, bool)) {
        for arg in args {
            self.argument(arg, offloads);
        }
    }

    /// One argument of [`Self::arguments`].
    fn argument(&mut self, arg: &Expr, (offloads, schedules): (bool, bool)) {
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
                Expr::Closure(closure) if offloads && closure.asyncness.is_none() => {
                    let saved = std::mem::replace(&mut self.context, Context::Offloaded);
                    self.visit_expr_closure(closure);
                    self.context = saved;
                }
                _ => self.visit_expr(arg),
            }
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
                Expr::If(branch) if needs_exit && branch.else_branch.is_none() => {
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
            self.resolve_path(&func.path).as_deref(),
            Some("tokio::time::sleep" | "async_std::task::sleep" | "smol::Timer::after")
        )
    }

    /// Records the lock guards of a block's statement with the region each is held over: a
    /// `let` guard until the end of the block (`block_end`), its `drop(guard)` or its move into
    /// a call; a temporary guard until the end of its statement, except in an `if` or `while`
    /// condition (dropped before the body) and in an `if let` scrutinee under edition 2024
    /// (dropped before the `else`).
    ///
    /// Called for statement `i` just before it is lowered, so the locals of the statements
    /// before it are bound; `bound_guards` collects the block's `let` guards (name, lock).
    fn guards_at(
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
            // A guard dropped at once: `let _ = m.lock();`, `m.lock().unwrap();`.
            let discarded = match stmt {
                syn::Stmt::Local(local) if matches!(local.pat, Pat::Wild(_)) => {
                    local.init.as_ref().map(|i| &*i.expr)
                }
                syn::Stmt::Expr(expr, Some(_)) => Some(expr),
                _ => None,
            };
            if let Some((call, _)) = discarded.and_then(|expr| self.guard_call(expr))
                && !matches!(&*call.receiver, Expr::Call(_))
            {
                self.pointless(call, Pointless::GuardDiscarded);
            }
            let bound = match stmt {
                syn::Stmt::Local(local) => local.init.as_ref().and_then(|init| {
                    let (call, kind) = self.bound_guard_call(&init.expr)?;
                    Some((call, kind, bound_name(&local.pat)?))
                }),
                _ => None,
            };
            if let Some((call, kind, name)) = bound {
                let (moved_by, first_move) = moves.after(&name, i, stmts.len());
                let region_end = stmts
                    .get(moved_by)
                    .map_or(block_end, |s| stmt_start(s, block_end));
                // A move on some path only (`if … { drop(guard) }`) ends what can be told.
                let region_end = first_move.map_or(region_end, |m| m.min(region_end));
                bound_guards.push((name, written(&call.receiver)));
                let body_awaits = || moves.awaits(stmts, i + 1, moved_by);
                self.hold(call, kind, region_end, body_awaits);
                return;
            }
            let statement_end = stmt_end(stmt, block_end);
            let mut temporaries = Temporaries {
                edition: self.edition,
                ..Temporaries::default()
            };
            temporaries.visit_stmt(stmt);
            for (call, extent) in temporaries.calls {
                let awaited = temporaries.awaited.iter().any(|a| std::ptr::eq(*a, call));
                let kind = self
                    .guard_kind(call)
                    .or_else(|| self.candidate_kind(call))
                    .filter(|kind| awaited || !self.is_async_lock(kind));
                if let Some(kind) = kind {
                    self.hold(call, kind, extent.unwrap_or(statement_end), || {
                        awaits_in(std::slice::from_ref(stmt))
                    });
                }
            }
        }
    }

    /// `std::mem::forget(guard)` and `ManuallyDrop::new(guard)`: a guard that is never dropped
    /// keeps its lock taken forever (IL204).
    fn leaks_in(&mut self, stmt: &syn::Stmt, bound_guards: &[(String, String)]) {
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
            let segments: Vec<String> = func
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
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
                let leak = LeakedLock { span, lock, why };
                self.model.functions[self.current].leaked_locks.push(leak);
            }
        }
    }

    /// The guard-returning call at the core of `m.lock().unwrap()`, `m.write()?`, `&*c.borrow()`,
    /// `m.lock().await`.
    fn guard_call<'e>(&self, expr: &'e Expr) -> Option<(&'e syn::ExprMethodCall, String)> {
        self.guard_call_with(expr, false)
    }

    /// The guard a `let` keeps alive: `let g = m.lock().unwrap();`, `let r = &*c.borrow();`,
    /// but not `let v = *m.lock().unwrap();`, which copies the value out and drops the guard.
    fn bound_guard_call<'e>(&self, init: &'e Expr) -> Option<(&'e syn::ExprMethodCall, String)> {
        match init {
            Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => None,
            _ => self.guard_call_with(init, true),
        }
    }

    /// [`Self::guard_call`]; with `candidates`, also a `lock()`/`read()`/`write()` on a named
    /// lock of unknown type (a `static` or field defined in another file), kind `::method`.
    fn guard_call_with<'e>(
        &self,
        expr: &'e Expr,
        candidates: bool,
    ) -> Option<(&'e syn::ExprMethodCall, String)> {
        self.guard_call_awaited(expr, candidates, false)
    }

    /// [`Self::guard_call_with`]; `awaited` tells whether `expr` is awaited (an async lock's
    /// `lock()` only takes the lock when its future is awaited).
    fn guard_call_awaited<'e>(
        &self,
        expr: &'e Expr,
        candidates: bool,
        awaited: bool,
    ) -> Option<(&'e syn::ExprMethodCall, String)> {
        match expr {
            Expr::MethodCall(call)
                if matches!(
                    call.method.to_string().as_str(),
                    "unwrap" | "expect" | "unwrap_or_else"
                ) =>
            {
                self.guard_call_awaited(&call.receiver, candidates, false)
            }
            Expr::Try(inner) => self.guard_call_awaited(&inner.expr, candidates, false),
            Expr::Await(inner) => self.guard_call_awaited(&inner.base, candidates, true),
            Expr::Paren(inner) => self.guard_call_awaited(&inner.expr, candidates, awaited),
            Expr::Reference(inner) => self.guard_call_awaited(&inner.expr, candidates, false),
            Expr::Unary(inner) => self.guard_call_awaited(&inner.expr, candidates, false),
            Expr::MethodCall(call) => {
                let kind = match self.guard_kind(call) {
                    None if candidates => self.candidate_kind(call),
                    kind => kind,
                };
                kind.filter(|kind| awaited || !self.is_async_lock(kind))
                    .map(|kind| (call, kind))
            }
            _ => None,
        }
    }

    /// Whether a guard method is an async lock's (its future must be awaited to lock).
    fn is_async_lock(&self, kind: &str) -> bool {
        self.tables.lock(kind).is_some_and(|l| l.is_async)
    }

    /// `std::sync::Mutex::lock` when `call` takes a lock's guard.
    fn guard_kind(&self, call: &syn::ExprMethodCall) -> Option<String> {
        let method = call.method.to_string();
        if !matches!(
            method.as_str(),
            "lock" | "read" | "write" | "borrow" | "borrow_mut"
        ) {
            return None;
        }
        let Some(Returns::One(ty)) = self.type_of(&call.receiver) else {
            return None;
        };
        let kind = format!("{ty}::{method}");
        self.tables.lock(&kind).is_some().then_some(kind)
    }

    /// `::lock` for a `lock()`/`read()`/`write()` whose receiver's type is unknown here but
    /// that names a lock elsewhere (a `static` or a field); the project's lock definitions tell.
    fn candidate_kind(&self, call: &syn::ExprMethodCall) -> Option<String> {
        let method = call.method.to_string();
        if !matches!(method.as_str(), "lock" | "read" | "write") {
            return None;
        }
        let (_, scope, _) = self.lock_identity(&call.receiver)?;
        (scope != LockScope::Local).then(|| format!("::{method}"))
    }

    fn pointless(&mut self, call: &syn::ExprMethodCall, why: Pointless) {
        let span = expr_start(&call.receiver)..call.paren_token.span.close().byte_range().end;
        let lock = PointlessLock {
            span,
            lock: written(&call.receiver),
            why,
        };
        self.model.functions[self.current]
            .pointless_locks
            .push(lock);
    }

    /// Records a guard held from its acquisition to `region_end`; `body_awaits` gives the
    /// awaits of the code that runs while it is held (asked only for a thread-blocking lock in
    /// async code).
    fn hold(
        &mut self,
        call: &syn::ExprMethodCall,
        kind: String,
        region_end: usize,
        body_awaits: impl FnOnce() -> Vec<Span>,
    ) {
        if matches!(&*call.receiver, Expr::Call(_)) {
            // `Mutex::new(x).lock()`: a lock nobody else can ever see.
            self.pointless(call, Pointless::CreatedWhereAcquired);
        }
        let span = expr_start(&call.receiver)..call.paren_token.span.close().byte_range().end;
        let blocks_thread = self.tables.lock(&kind).is_some_and(|l| !l.is_async);
        let awaits = if blocks_thread && self.context == Context::Async {
            body_awaits()
                .into_iter()
                .filter(|a| a.start > span.end && a.start < region_end)
                .collect()
        } else {
            Vec::new()
        };
        let (identity, scope, via_self) =
            self.lock_identity(&call.receiver)
                .unwrap_or((String::new(), LockScope::Local, false));
        let hold = LockHold {
            region: span.start..region_end.max(span.end),
            span,
            lock: written(&call.receiver),
            kind,
            identity,
            scope,
            via_self,
            awaits,
            context: self.context,
            unreleased: false,
            closure: self.closure,
        };
        self.model.functions[self.current].lock_holds.push(hold);
    }

    /// The identities of the locks a temporary guard in this expression takes
    /// (`*m.lock().unwrap()`), with the lock as written.
    fn temporary_locks(&self, expr: &Expr) -> Vec<(String, String)> {
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
                let (identity, _, _) = self.lock_identity(&call.receiver)?;
                Some((identity, written(&call.receiver)))
            })
            .collect()
    }

    /// `let v = *m.lock().unwrap();` … `*m.lock().unwrap() = v + 1;`: a value read in one
    /// critical section and written back from another (IL404).
    fn split_update(&mut self, stmt: &syn::Stmt, reads: &mut Vec<(String, String, Span)>) {
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
    fn static_write(&mut self, target: &Expr, value: Option<&Expr>, start: usize) {
        let Expr::Path(path) = target else { return };
        if path.qself.is_some() {
            return;
        }
        let written = written(target);
        let is_static = path.path.segments.last().is_some_and(|s| {
            let name = s.ident.to_string();
            name.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        });
        if !is_static || (path.path.segments.len() == 1 && self.local(&written).is_some()) {
            return;
        }
        let Some(state) = self.resolve_path(&path.path) else {
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
    fn atomic_check_then_act(&mut self, expr: &syn::ExprIf) {
        #[derive(Default)]
        struct Methods<'ast>(Vec<&'ast syn::ExprMethodCall>);
        impl<'ast> Visit<'ast> for Methods<'ast> {
            fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
                self.0.push(call);
                visit::visit_expr_method_call(self, call);
            }
            fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
            fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
            fn visit_item(&mut self, _: &'ast syn::Item) {}
            fn visit_expr(&mut self, expr: &'ast Expr) {
                stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || visit::visit_expr(self, expr));
            }
        }
        let mut checks = Methods::default();
        checks.visit_expr(&expr.cond);
        let loaded = checks
            .0
            .into_iter()
            .find(|c| c.method == "load" && self.is_atomic(&c.receiver))
            .map(|load| {
                let span =
                    expr_start(&load.receiver)..load.paren_token.span.close().byte_range().end;
                (written(&load.receiver), span)
            })
            // `let n = COUNT.load(..); if n < MAX { COUNT.fetch_add(1, ..); }`
            .or_else(|| {
                self.atomic_locals
                    .iter()
                    .rev()
                    .find(|(local, _, _)| names_path(&expr.cond, local))
                    .map(|(_, atomic, span)| (atomic.clone(), span.clone()))
            });
        let Some((atomic, check)) = loaded else {
            return;
        };
        // Through `self` taken by value or `&mut`: nobody else can see it.
        if self.exclusive_self && atomic.starts_with("self.") {
            return;
        }
        let mut acts = Methods::default();
        acts.visit_block(&expr.then_branch);
        let same = |c: &&&syn::ExprMethodCall| written(&c.receiver) == atomic;
        // A compare-and-swap in the branch decides who acts: that is the right pattern.
        let settled = acts.0.iter().filter(same).any(|c| {
            matches!(
                c.method.to_string().as_str(),
                "compare_exchange" | "compare_exchange_weak" | "compare_and_swap" | "fetch_update"
            )
        });
        let act = acts.0.iter().filter(same).find(|c| {
            let method = c.method.to_string();
            method == "store" || method == "swap" || method.starts_with("fetch_")
        });
        let act = act.filter(|_| !settled);
        if let Some(act) = act {
            let act = expr_start(&act.receiver)..act.paren_token.span.close().byte_range().end;
            let found = CheckThenAct {
                check,
                act,
                written: atomic,
                atomic: true,
                closure: self.closure,
            };
            self.model.functions[self.current]
                .check_then_acts
                .push(found);
        }
    }

    /// Whether an expression is an atomic (`AtomicBool`, `AtomicUsize`…), by its type.
    fn is_atomic(&self, expr: &Expr) -> bool {
        matches!(self.type_of(expr), Some(Returns::One(ty)) if ty.rsplit("::").next().is_some_and(|t| t.starts_with("Atomic")))
    }

    /// Records `cvar.wait(guard)`, `wait_timeout`, `wait_while` and `notify_*` on a condition
    /// variable.
    fn condition_use(&mut self, call: &syn::ExprMethodCall, method: &str, span: &Span) {
        let op = match method {
            "wait" | "wait_timeout" | "wait_for" | "wait_until" => ConditionOp::Wait,
            "wait_while" | "wait_timeout_while" | "wait_while_for" | "wait_while_until" => {
                ConditionOp::WaitFor
            }
            "notify_one" | "notify_all" => ConditionOp::Notify,
            _ => return,
        };
        let is_condition = matches!(self.type_of(&call.receiver), Some(Returns::One(ty)) if self.tables.conditions.contains(&ty));
        if !is_condition {
            return;
        }
        let used = ConditionUse {
            span: span.clone(),
            condition: written(&call.receiver),
            identity: String::new(),
            op,
            in_loop: self.loop_depth > 0,
            timed: method != "wait" && method != "wait_while",
            maybe_held: false,
        };
        self.model.functions[self.current].condition_uses.push(used);
    }

    /// Records a call; returns `(offloads, schedules)`: whether its closure arguments run on
    /// another thread (an offloading API, or any call awaited at once: a future-returning
    /// function that takes a sync closure runs it elsewhere), and whether its arguments are
    /// awaitables.
    fn record_call(
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
        let blocking = self
            .tables
            .blocking_api(callee.as_deref(), method.as_deref())
            .cloned()
            .map(Box::new);
        self.model.functions[self.current].calls.push(Call {
            callee,
            method,
            span,
            context: self.context,
            non_blocking: false,
            alternatives: alternatives.into(),
            on_self,
            scheduled: false,
            closure: self.closure,
            awaited,
            result: Default::default(),
            blocking,
        });
        (offloads, schedules)
    }
}

/// The name a `let` pattern binds the whole value to (`guard`, `mut guard`), not `_`.
fn bound_name(pat: &Pat) -> Option<String> {
    match pat {
        Pat::Ident(ident) => Some(ident.ident.to_string()),
        Pat::Type(typed) => bound_name(&typed.pat),
        _ => None,
    }
}

/// Whether a method chain starts from a rayon parallel iterator (`v.par_iter().map(…)`).
fn is_parallel_iterator(mut receiver: &Expr) -> bool {
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

/// Whether an expression mentions the path written `written` (`COUNT` in `COUNT + 1`).
fn names_path(expr: &Expr, written_path: &str) -> bool {
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

/// The calls of a block's statements that take a plain name by value (`drop(guard)`,
/// `self.grow(guard)`), found in one pass over the block so that each guard's region is found
/// without scanning the rest of the block again (a block of thousands of guards stays linear).
#[derive(Default)]
struct BlockMoves {
    /// Name → the statements (by index) that are themselves such a call: `drop(g);`,
    /// `let x = f(g);`.
    statements: HashMap<String, Vec<usize>>,
    /// Name → (statement index, where the call starts) of such calls at any depth, in order.
    nested: HashMap<String, Vec<(usize, usize)>>,
    /// The block's await points with their statement's index, found on first use.
    awaits: std::cell::OnceCell<Vec<(usize, Span)>>,
}

impl BlockMoves {
    fn of(stmts: &[syn::Stmt]) -> BlockMoves {
        struct Moves<'m>(&'m mut HashMap<String, Vec<(usize, usize)>>, usize);
        impl Moves<'_> {
            fn taken(&mut self, args: &Punctuated<Expr, syn::Token![,]>, at: usize) {
                for arg in args {
                    if let Expr::Path(p) = arg
                        && let Some(ident) = p.path.get_ident()
                    {
                        self.0
                            .entry(ident.to_string())
                            .or_default()
                            .push((self.1, at));
                    }
                }
            }
        }
        impl<'ast> Visit<'ast> for Moves<'_> {
            fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
                self.taken(&call.args, call.paren_token.span.open().byte_range().start);
                visit::visit_expr_call(self, call);
            }
            fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
                self.taken(&call.args, call.method.span().byte_range().start);
                visit::visit_expr_method_call(self, call);
            }
            fn visit_item(&mut self, _: &'ast syn::Item) {}
            fn visit_expr(&mut self, expr: &'ast Expr) {
                stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || visit::visit_expr(self, expr));
            }
        }
        let mut moves = BlockMoves::default();
        for (index, stmt) in stmts.iter().enumerate() {
            let call = match stmt {
                syn::Stmt::Expr(Expr::Call(call), _) => Some(call),
                syn::Stmt::Local(local) => match local.init.as_ref().map(|i| &*i.expr) {
                    Some(Expr::Call(call)) => Some(call),
                    _ => None,
                },
                _ => None,
            };
            for arg in call.iter().flat_map(|call| &call.args) {
                if let Expr::Path(p) = arg
                    && let Some(ident) = p.path.get_ident()
                {
                    moves
                        .statements
                        .entry(ident.to_string())
                        .or_default()
                        .push(index);
                }
            }
            Moves(&mut moves.nested, index).visit_stmt(stmt);
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
    /// (the block's length if none), and where the first move at any depth before that
    /// statement starts (a move on some path only, such as `if … { drop(guard) }`).
    fn after(&self, name: &str, bound: usize, len: usize) -> (usize, Option<usize>) {
        let moved_by = self
            .statements
            .get(name)
            .and_then(|list| list.iter().find(|&&i| i > bound))
            .copied()
            .unwrap_or(len);
        let first = self.nested.get(name).and_then(|list| {
            list.iter()
                .find(|&&(i, _)| i > bound && i < moved_by)
                .map(|&(_, at)| at)
        });
        (moved_by, first)
    }
}

/// Where a statement starts (for the end of a region that stops before it).
fn stmt_start(stmt: &syn::Stmt, fallback: usize) -> usize {
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
fn stmt_end(stmt: &syn::Stmt, fallback: usize) -> usize {
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
fn expr_end(expr: &Expr) -> Option<usize> {
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

/// An expression as written, for messages (`self.state`, `cache`), or `the lock`.
fn written(expr: &Expr) -> String {
    match expr {
        Expr::Path(path) => path
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect::<Vec<_>>()
            .join("::"),
        Expr::Field(field) => match &field.member {
            syn::Member::Named(name) => format!("{}.{name}", written(&field.base)),
            syn::Member::Unnamed(index) => format!("{}.{}", written(&field.base), index.index),
        },
        Expr::Reference(inner) => written(&inner.expr),
        Expr::Paren(inner) => written(&inner.expr),
        _ => "the lock".to_string(),
    }
}

/// The `.await` points of statements, not counting closures, async blocks and items (they run
/// at another time).
fn awaits_in(stmts: &[syn::Stmt]) -> Vec<Span> {
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

/// Method calls of a statement's own expression whose result is a temporary: not inside nested
/// blocks, closures or async blocks (those have their own statements and scopes). Each comes
/// with where its temporaries are dropped when that is before the statement's end: an `if` or
/// `while` condition drops them before the body, and under edition 2024 an `if let` scrutinee
/// drops them before the `else`.
#[derive(Default)]
struct Temporaries<'ast> {
    calls: Vec<(&'ast syn::ExprMethodCall, Option<usize>)>,
    /// The method calls whose result is awaited (`m.lock().await`).
    awaited: Vec<&'ast syn::ExprMethodCall>,
    edition: u16,
    extent: Option<usize>,
}

impl<'ast> Temporaries<'ast> {
    fn within(&mut self, extent: Option<usize>, expr: &'ast Expr) {
        let saved = std::mem::replace(&mut self.extent, extent);
        self.visit_expr(expr);
        self.extent = saved;
    }
}

/// Whether a condition binds with `let` (`if let`, or a 2024 let chain).
fn has_let(cond: &Expr) -> bool {
    match cond {
        Expr::Let(_) => true,
        Expr::Binary(b) => has_let(&b.left) || has_let(&b.right),
        _ => false,
    }
}

impl<'ast> Visit<'ast> for Temporaries<'ast> {
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        self.calls.push((call, self.extent));
        visit::visit_expr_method_call(self, call);
    }
    fn visit_expr_if(&mut self, e: &'ast syn::ExprIf) {
        let then_open = e.then_branch.brace_token.span.open().byte_range().start;
        let then_close = e.then_branch.brace_token.span.close().byte_range().end;
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
        for (i, arm) in e.arms.iter().enumerate() {
            let end = e.arms.get(i + 1).map_or(close, |next| {
                next.fat_arrow_token.spans[0].byte_range().start
            });

            self.within(Some(end), &arm.body);
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

/// Macros whose bodies are not code that runs where the macro stands.
const NON_CODE_MACROS: &[&str] = &[
    "quote",
    "quote_spanned",
    "parse_quote",
    "stringify",
    "concat",
    "include_str",
    "include_bytes",
    "macro_rules",
];

impl<'ast, 't> Visit<'ast> for Lowerer<'t> {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.function(&item.sig, &item.block);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.function(&item.sig, &item.block);
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(block) = &item.default {
            self.function(&item.sig, block);
        }
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        let self_type = self.resolve_type(&item.self_ty);
        let name = match item.self_ty.as_ref() {
            Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        if let (Some(owner), Some((trait_path, _))) = (&self_type, &item.trait_) {
            let bases = self.resolve_path(trait_path).into_iter().collect();
            self.model.classes.push(Class {
                name: owner.clone(),
                bases,
            });
        }
        let saved = std::mem::replace(&mut self.self_type, self_type);
        self.prefix
            .push(name.unwrap_or_else(|| "<impl>".to_string()));
        visit::visit_item_impl(self, item);
        self.prefix.pop();
        self.self_type = saved;
    }

    fn visit_item_trait(&mut self, item: &'ast syn::ItemTrait) {
        // Default methods are named after the trait: `ledger::db::Store::load`.
        let trait_path = format!("{}::{}", self.module(), item.ident);
        let saved = self.self_type.replace(trait_path);
        self.prefix.push(item.ident.to_string());
        visit::visit_item_trait(self, item);
        self.prefix.pop();
        self.self_type = saved;
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let Some((_, items)) = &item.content else {
            return;
        };
        let module = format!("{}::{}", self.module(), item.ident);
        self.prefix.push(item.ident.to_string());
        self.modules.push(module.clone());
        self.push_scope(items.iter(), &module, true);
        visit::visit_item_mod(self, item);
        self.names.pop();
        self.modules.pop();
        self.prefix.pop();
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        let items = block.stmts.iter().filter_map(|s| match s {
            syn::Stmt::Item(item) => Some(item),
            _ => None,
        });
        let item_prefix = self.model.functions[self.current].canonical.clone();
        self.push_scope(items, &item_prefix, false);
        self.push_locals();
        let end = block.brace_token.span.close().byte_range().end;
        let mut bound_guards = Vec::new();
        let mut reads_under_lock = Vec::new();
        let moves = BlockMoves::of(&block.stmts);
        for i in 0..block.stmts.len() {
            self.guards_at(&block.stmts, i, end, &moves, &mut bound_guards);
            self.split_update(&block.stmts[i], &mut reads_under_lock);
            self.visit_stmt(&block.stmts[i]);
        }
        self.pop_locals();
        self.names.pop();
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let Some(init) = &local.init {
            self.visit_expr(&init.expr);
            if let Some((_, diverge)) = &init.diverge {
                self.visit_expr(diverge);
            }
        }
        let ty = local
            .init
            .as_ref()
            .and_then(|init| self.type_of(&init.expr));
        let is_lock = matches!(&ty, Some(Returns::One(t)) if self.lock_types.contains(t));
        if let (Some(init), Some(name)) = (&local.init, bound_name(&local.pat)) {
            self.atomic_locals.retain(|(local, _, _)| *local != name);
            if let Expr::MethodCall(load) = init.expr.as_ref()
                && load.method == "load"
                && self.is_atomic(&load.receiver)
            {
                let span =
                    expr_start(&load.receiver)..load.paren_token.span.close().byte_range().end;
                self.atomic_locals
                    .push((name, written(&load.receiver), span));
            }
        }
        let alias = match (&local.init, bound_name(&local.pat)) {
            (Some(init), Some(name)) if is_lock => self
                .lock_identity(&init.expr)
                .map(|identity| (name, identity)),
            _ => None,
        };
        self.bind_pattern(&local.pat, ty);
        if let Some((name, identity)) = alias {
            self.lock_aliases
                .last_mut()
                .expect("a local scope")
                .insert(name, identity);
        }
    }

    fn visit_expr(&mut self, expr: &'ast Expr) {
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || visit::visit_expr(self, expr));
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        let (callee, alternatives) = match call.func.as_ref() {
            Expr::Path(path) => (
                self.resolve_path(&path.path),
                self.glob_candidates(&path.path),
            ),
            _ => (None, Vec::new()),
        };
        let span = expr_start(&call.func)..call.paren_token.span.close().byte_range().end;
        let entry = self.tables.thread_entry(callee.as_deref(), None).is_some();
        let offloads = self.record_call(callee, alternatives, None, span, false);
        self.visit_expr(&call.func);
        self.arguments_of(&call.args, offloads, entry);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let method = call.method.to_string();
        let callee = match self.type_of(&call.receiver) {
            Some(Returns::One(ty)) => Some(format!("{ty}::{method}")),
            _ => None,
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
        let offloads = self.record_call(callee, Vec::new(), Some(method), span, on_self);
        self.visit_expr(&call.receiver);
        let entries = self.model.functions[self.current].thread_entries.len();
        self.arguments_of(&call.args, offloads, entry);
        if parallel {
            for started in &mut self.model.functions[self.current].thread_entries[entries..] {
                started.repeated = true;
            }
        }
    }

    fn visit_expr_await(&mut self, expr: &'ast syn::ExprAwait) {
        self.next_call_awaited = matches!(expr.base.as_ref(), Expr::Call(_) | Expr::MethodCall(_));
        self.visit_expr(&expr.base);
        let span = byte_span(expr.await_token.span());
        self.model.functions[self.current].awaits.push(span);
    }

    fn visit_expr_for_loop(&mut self, expr: &'ast syn::ExprForLoop) {
        self.for_depth += 1;
        visit::visit_expr_for_loop(self, expr);
        self.for_depth -= 1;
    }

    fn visit_expr_assign(&mut self, expr: &'ast syn::ExprAssign) {
        self.static_write(&expr.left, Some(&expr.right), expr_start(&expr.left));
        visit::visit_expr_assign(self, expr);
    }

    fn visit_expr_binary(&mut self, expr: &'ast syn::ExprBinary) {
        let compound = matches!(
            expr.op,
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
        );
        if compound {
            self.static_write(&expr.left, None, expr_start(&expr.left));
        }
        visit::visit_expr_binary(self, expr);
    }

    fn visit_expr_if(&mut self, expr: &'ast syn::ExprIf) {
        self.atomic_check_then_act(expr);
        visit::visit_expr_if(self, expr);
    }

    fn visit_expr_while(&mut self, expr: &'ast syn::ExprWhile) {
        let constant = matches!(expr.cond.as_ref(), Expr::Lit(_));
        if !constant && self.only_polls(&expr.body, false) {
            let span = byte_span(expr.while_token.span());
            self.model.functions[self.current].busy_waits.push(span);
        }
        self.visit_expr(&expr.cond);
        self.loop_depth += 1;
        self.visit_block(&expr.body);
        self.loop_depth -= 1;
    }

    fn visit_expr_loop(&mut self, expr: &'ast syn::ExprLoop) {
        if self.only_polls(&expr.body, true) {
            let span = byte_span(expr.loop_token.span());
            self.model.functions[self.current].busy_waits.push(span);
        }
        self.loop_depth += 1;
        self.visit_block(&expr.body);
        self.loop_depth -= 1;
    }

    fn visit_expr_async(&mut self, block: &'ast syn::ExprAsync) {
        let name = self.qualified("<async block>");
        let canonical = format!(
            "{}::<async block>",
            self.model.functions[self.current].canonical
        );
        self.region(
            name,
            canonical,
            FunctionKind::AsyncBlock,
            true,
            byte_span(block.async_token.span),
            |this| {
                this.visit_block(&block.block);
            },
        );
    }

    fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
        let bind_params = |this: &mut Self| {
            for input in &closure.inputs {
                this.bind_pattern(input, None);
            }
            this.visit_expr(&closure.body);
        };
        if closure.asyncness.is_some() {
            let name = self.qualified("<async closure>");
            let canonical = format!(
                "{}::<async closure>",
                self.model.functions[self.current].canonical
            );
            let span = byte_span(closure.inputs_begin.span);
            self.region(
                name,
                canonical,
                FunctionKind::Closure,
                true,
                span,
                bind_params,
            );
        } else {
            let loop_depth = std::mem::take(&mut self.loop_depth);
            self.closures += 1;
            let closure = std::mem::replace(&mut self.closure, self.closures);
            self.push_locals();
            bind_params(self);
            self.pop_locals();
            (self.loop_depth, self.closure) = (loop_depth, closure);
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let name = mac
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if NON_CODE_MACROS.contains(&name.as_str()) {
            return;
        }
        // Most macros in expression position take comma-separated expressions (`println!`,
        // `vec!`, `assert!`, `join!`); lower those, and skip bodies of any other shape.
        let parser = Punctuated::<Expr, syn::Token![,]>::parse_terminated;
        if let Ok(exprs) = mac.parse_body_with(parser) {
            // `join!(a(), b())` polls the futures its arguments return: they are awaited.
            let joins = matches!(name.as_str(), "join" | "try_join");
            for expr in &exprs {
                self.next_call_awaited =
                    joins && matches!(expr, Expr::Call(_) | Expr::MethodCall(_));
                self.visit_expr(expr);
            }
            self.next_call_awaited = false;
        }
    }
}

/// Parses a file: lexes it with proc-macro2 (which does not recurse), refuses it when it is
/// too deep, too long in one statement or too large for `syn`, then parses the tokens. Spans
/// are byte offsets into `text`, also after a byte order mark or a `#!` line.
fn parse(text: &str) -> Result<syn::File, FrontendError> {
    let source = blank_bom_and_shebang(text);
    let tokens: proc_macro2::TokenStream =
        source
            .parse()
            .map_err(|error: proc_macro2::LexError| FrontendError {
                span: error.span().byte_range(),
                message: format!("syntax error: {error}"),
            })?;
    if let Some((offset, reason)) = too_costly(&tokens) {
        return Err(FrontendError {
            span: offset..offset + 1,
            message: format!("{reason}; the file is not analysed"),
        });
    }
    syn::parse2(tokens).map_err(|error| FrontendError {
        span: error.span().byte_range(),
        message: format!("syntax error: {error}"),
    })
}

/// `text` with a byte order mark and a `#!` interpreter line (not `#![attribute]`) replaced by
/// spaces of the same length, as `syn::parse_file` would skip them, so that offsets stay put.
fn blank_bom_and_shebang(text: &str) -> std::borrow::Cow<'_, str> {
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let rest = &text[bom..];
    let shebang = if rest.starts_with("#!") && !rest[2..].trim_start().starts_with('[') {
        rest.find('\n').unwrap_or(rest.len())
    } else {
        0
    };
    if bom + shebang == 0 {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut blanked = " ".repeat(bom + shebang);
    blanked.push_str(&text[bom + shebang..]);
    std::borrow::Cow::Owned(blanked)
}

/// Where and why a lexed file is refused: bracket nesting or a run of prefix operators deeper
/// than [`MAX_NESTING`], a statement longer than [`MAX_STATEMENT_BYTES`], more tokens than
/// [`MAX_TOKENS`]. Walks the token trees with an explicit stack, never recursing.
fn too_costly(tokens: &proc_macro2::TokenStream) -> Option<(usize, String)> {
    use proc_macro2::{Delimiter, TokenTree};
    // Each level: its tokens, and for a brace group where it closes (a `}` ends a statement).
    let mut stack = vec![(tokens.clone().into_iter(), None)];
    let (mut count, mut run, mut statement_start) = (0usize, 0usize, 0usize);
    while let Some((level, _)) = stack.last_mut() {
        let Some(tree) = level.next() else {
            if let Some((_, Some(close))) = stack.pop() {
                statement_start = close;
            }
            continue;
        };
        // A group is measured at its opening bracket; what it holds is measured token by token.
        let span = match &tree {
            TokenTree::Group(group) => group.span_open().byte_range(),
            other => other.span().byte_range(),
        };
        count += 1;
        if count > MAX_TOKENS {
            return Some((
                span.start,
                format!("more than {MAX_TOKENS} tokens (a generated file?)"),
            ));
        }
        let mut prefix_operator = false;
        match &tree {
            TokenTree::Group(group) => {
                if stack.len() >= MAX_NESTING {
                    return Some((
                        span.start,
                        format!("nesting deeper than {MAX_NESTING} levels of brackets"),
                    ));
                }
                let brace = group.delimiter() == Delimiter::Brace;
                if brace {
                    statement_start = span.end;
                }
                let close = brace.then(|| group.span_close().byte_range().end);
                stack.push((group.stream().into_iter(), close));
            }
            TokenTree::Punct(punct) => match punct.as_char() {
                ';' | ',' => statement_start = span.end,
                '-' | '!' | '*' | '&' => prefix_operator = true,
                _ => {}
            },
            TokenTree::Ident(_) | TokenTree::Literal(_) => {}
        }
        run = if prefix_operator { run + 1 } else { 0 };
        if run > MAX_NESTING {
            return Some((
                span.start,
                format!("nesting deeper than {MAX_NESTING} levels of prefix operators"),
            ));
        }
        if span.end.saturating_sub(statement_start) > MAX_STATEMENT_BYTES {
            return Some((
                span.start,
                format!(
                    "a statement longer than {} KiB without `;`, `,` or braces",
                    MAX_STATEMENT_BYTES / 1024
                ),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> Option<String> {
        let tokens: proc_macro2::TokenStream = text.parse().ok()?;
        too_costly(&tokens).map(|(_, reason)| reason)
    }

    #[test]
    fn nesting_is_measured_on_tokens_outside_strings_and_comments() {
        let deep = |n: usize| format!("fn f() {{ {}1{} }}", "(".repeat(n), ")".repeat(n));
        assert_eq!(refusal(&deep(200)), None);
        assert!(refusal(&deep(300)).unwrap().contains("nesting deeper"));
        let quoted = "(".repeat(1000);
        assert_eq!(refusal(&format!("// {quoted}\nfn f() {{}}")), None);
        assert_eq!(refusal(&format!("const S: &str = \"{quoted}\";")), None);
        assert_eq!(refusal(&format!("const S: &str = r#\"{quoted}\"#;")), None);
        assert_eq!(refusal("fn f<'a>(x: &'a str) -> char { '(' }"), None);
        assert!(refusal(&format!("fn f() {{ {}x }}", "-".repeat(300))).is_some());
        assert!(refusal(&format!("fn f() {{ {} }}", "return ".repeat(5000))).is_some());
        // A long function, or a long list, is fine: only one long statement is refused.
        let long_body = format!("fn f() {{ {} }}", "let x = g(1, 2);\n".repeat(5000));
        assert_eq!(refusal(&long_body), None);
        assert_eq!(
            refusal(&format!(
                "const A: [u8; 30000] = [{}0];",
                "1, ".repeat(30000)
            )),
            None
        );
    }

    #[test]
    fn a_raw_byte_string_ending_in_a_backslash_does_not_hide_nesting() {
        let text = format!(
            "fn main() {{ let a = br\"\\\"; let x = {}1{}; }}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        assert!(refusal(&text).unwrap().contains("nesting deeper"));
    }

    #[test]
    fn spans_are_offsets_into_the_text_after_a_bom_or_a_shebang() {
        for prefix in [
            "\u{feff}",
            "#!/usr/bin/env run-cargo-script\n",
            "\u{feff}#!x\n",
        ] {
            let text = format!("{prefix}fn f() {{ let x = ; }}");
            let Err(error) = parse(&text) else {
                panic!("parsed")
            };
            assert_eq!(&text[error.span.clone()], ";", "after {prefix:?}");
        }
        let Err(error) = parse("\u{feff}# x\n") else {
            panic!("parsed")
        };
        assert!(error.span.start >= 3, "{error:?}");
        assert!(parse("#![allow(unused)]\nfn f() {}").is_ok());
    }
}
