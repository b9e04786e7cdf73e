//! Python front end: the one adapter around `ruff_python_parser`, and the lowering of its AST
//! into the language-neutral model.
//!
//! Names are resolved through imports and aliases (`from time import sleep as nap`), locally
//! bound names shadow library ones, and simple type evidence (constructor assignments,
//! annotations, `with … as x`, `self.x = Ctor()`) turns `q.get()` into `queue.Queue.get`.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::path::Path;
use std::time::Duration;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_text_size::Ranged;

use super::FrontendError;
use crate::knowledge::{LanguageTables, ProcessTarget, Returns};
use crate::model::{
    Access, Call, CheckThenAct, Class, ConditionOp, ConditionUse, Context, FileModel, Function,
    FunctionKind, Handoff, Language, Leak, LeakedLock, LockDefinition, LockHold, LockScope,
    Pointless, PointlessLock, ProcessHandoff, ResultUse, Span, StateCheck, StateWrite, ThreadEntry,
    concat, name_hash,
};
use crate::project::ModuleName;

/// A lock's identity, where it lives, and whether it is reached through `self`.
type LockName = (String, LockScope, bool);

/// Parses and lowers one Python file.
pub fn lower(
    path: &Path,
    text: &str,
    tables: &LanguageTables,
    module: &ModuleName,
) -> Result<(FileModel, Duration), FrontendError> {
    let parse_started = std::time::Instant::now();
    let parsed = ruff_python_parser::parse_module(text).map_err(|error| FrontendError {
        span: error.location.start().to_usize()..error.location.end().to_usize(),
        message: format!("syntax error: {}", error.error),
    })?;
    let parse_time = parse_started.elapsed();
    let syntax = parsed.syntax();
    let mut lowerer = Lowerer {
        tables,
        model: FileModel::new(path.to_path_buf(), Language::Python, module.path.clone()),
        package: if module.is_package {
            module.path.clone()
        } else {
            module
                .path
                .rsplit_once('.')
                .map_or(String::new(), |(parent, _)| parent.to_string())
        },
        next_result: ResultUse::Used,
        local_locks: Vec::new(),
        condition_locks: HashMap::default(),
        loop_depth: 0,
        opaque_with_depth: 0,
        closure: 0,
        closures: 0,
        repeat_depth: 0,
        state_locals: Vec::new(),
        scopes: vec![Scope::new(ScopeKind::Module, "")],
        current: 0,
        context: Context::Sync,
    };
    lowerer.model.functions[0].span = 0..text.len().min(1);
    lowerer.bind_locals(&syntax.body, &[]);
    lowerer.visit_body(&syntax.body);
    Ok((lowerer.model, parse_time))
}

/// How many calls and attributes deep name and type resolution looks.
const MAX_RESOLUTION_DEPTH: usize = 16;

/// What a name is bound to in a scope.
#[derive(Clone, Debug)]
enum Binding {
    /// An alias of a canonical name: an import, or `nap = time.sleep`.
    Alias(String),
    /// A local variable, function or class, with its type when known.
    Local(Option<Returns>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScopeKind {
    Module,
    Class,
    Function,
}

#[derive(Debug)]
struct Scope {
    kind: ScopeKind,
    /// Qualified name prefix for definitions inside this scope.
    prefix: String,
    bindings: HashMap<String, Binding>,
    /// Names declared `global`/`nonlocal` here.
    outer_names: HashSet<String>,
    /// Names declared `global` here.
    global_names: HashSet<String>,
    /// In a method: the name of its first parameter (`self`) and its class's attribute types.
    self_name: Option<String>,
    attribute_types: HashMap<String, String>,
    /// In a class body or method: the class's canonical bases (for `super()`).
    bases: Vec<String>,
}

impl Scope {
    fn new(kind: ScopeKind, prefix: &str) -> Self {
        Scope {
            kind,
            prefix: prefix.to_string(),
            bindings: HashMap::default(),
            outer_names: HashSet::default(),
            global_names: HashSet::default(),
            self_name: None,
            attribute_types: HashMap::default(),
            bases: Vec::new(),
        }
    }
}

struct Lowerer<'a> {
    tables: &'a LanguageTables,
    model: FileModel,
    /// The package that relative imports start from.
    package: String,
    /// What the statement being lowered does with the result of its outermost call.
    next_result: ResultUse,
    /// Locks assigned to local names in the function being lowered (`lock = threading.Lock()`).
    local_locks: Vec<(String, Span)>,
    /// Conditions built on a given lock (`Condition(self.lock)`): condition identity → the
    /// lock's identity and type.
    condition_locks: HashMap<String, (String, String)>,
    /// How many `while` loops of the current function enclose the code being lowered.
    loop_depth: usize,
    /// How many `with` blocks over context managers that are not known locks enclose it.
    opaque_with_depth: usize,
    /// The lambda whose body is being lowered (0: none), numbered in the file.
    closure: u32,
    /// How many lambdas have been numbered.
    closures: u32,
    /// How many loops or comprehensions of the current function enclose the code.
    repeat_depth: usize,
    /// Locals of the function being lowered that hold a value read from shared state
    /// (`v = self.stock`): (local, state identity, where it was read).
    state_locals: Vec<(String, String, Span)>,
    scopes: Vec<Scope>,
    /// Index of the function whose code is being lowered.
    current: usize,
    context: Context,
}

/// The byte range of a node.
fn span(node: &impl Ranged) -> Span {
    let range = node.range();
    range.start().to_usize()..range.end().to_usize()
}

impl<'a> Lowerer<'a> {
    /// `L.acquire()` (or `await L.acquire()`) as a statement: `L` is held until a later
    /// `L.release()` in the same body (also one in the `finally` of a following `try`), or to
    /// the end of the body. A `release()` that an exception or an early exit can skip is a leak.
    fn acquire_release(
        &mut self,
        body: &[Stmt],
        index: usize,
        releases: &std::cell::OnceCell<BodyReleases>,
    ) {
        let (stmt, rest) = (&body[index], &body[index + 1..]);
        let Stmt::Expr(statement) = stmt else { return };
        let value = match statement.value.as_ref() {
            Expr::Await(awaited) => awaited.value.as_ref(),
            value => value,
        };
        let Expr::Call(call) = value else {
            return;
        };
        let Expr::Attribute(attr) = call.func.as_ref() else {
            return;
        };
        if attr.attr.id.as_str() != "acquire" || asks_not_to_block(call, Some("acquire")) {
            return;
        }
        let lock = dotted(&attr.value);
        let releases = releases.get_or_init(|| BodyReleases::of(body));
        // The region runs up to the release, or through a `try` whose `finally` releases.
        let (end, guaranteed, nested_release) = releases.after(&lock, index, body.len());
        let region_end = match rest.get(end) {
            Some(release) if !guaranteed => span(release).start,
            _ => rest[..end].last().map_or(span(stmt).end, |s| span(s).end),
        };
        // A release on some path only (`if …: lock.release()`) ends what can be told.
        let unreleased = end == rest.len() && nested_release.is_none();
        let region_end = nested_release.map_or(region_end, |r| r.min(region_end));
        let known = self.lock_kind(&attr.value).is_some();
        if known && end < rest.len() && !guaranteed {
            let why = match early_exit(&rest[..end]) {
                Some(exit) => Some(Leak::EarlyExit(exit)),
                None => first_call(&rest[..end]).map(Leak::MayRaise),
            };
            if let Some(why) = why {
                let leak = LeakedLock {
                    span: span(call),
                    lock: lock.clone(),
                    why,
                };
                self.model.functions[self.current].leaked_locks.push(leak);
            }
        }
        let start = span(call).start;
        self.hold_lock(span(call), &attr.value, start..region_end, &rest[..end]);
        if unreleased && let Some(hold) = self.model.functions[self.current].lock_holds.last_mut() {
            hold.unreleased = true;
        }
    }

    /// The lock type of an expression (`threading.Lock`), looking through conditions built on
    /// a given lock.
    fn lock_kind(&self, expr: &Expr) -> Option<String> {
        self.lock_facts(expr).0
    }

    /// The lock type and identity of an expression, each resolved once: a condition built on
    /// a lock (`Condition(self.lock)`) is that lock, with its type.
    fn lock_facts(&self, expr: &Expr) -> (Option<String>, Option<LockName>) {
        let named = self.written_lock_identity(expr);
        if let Some((identity, scope, via_self)) = &named
            && let Some((lock, kind)) = self.condition_locks.get(identity)
        {
            let kind = if kind.is_empty() {
                self.lock_type_of(expr)
            } else {
                Some(kind.clone())
            };
            return (kind, Some((lock.clone(), *scope, *via_self)));
        }
        (self.lock_type_of(expr), named)
    }

    /// The lock type an expression's type evidence gives.
    fn lock_type_of(&self, expr: &Expr) -> Option<String> {
        match self.type_of(expr) {
            Some(Returns::One(ty)) if self.tables.lock(&ty).is_some() => Some(ty),
            _ => None,
        }
    }

    /// Whether a type is a lock of any kind.
    fn is_lock_type(&self, ty: Option<&Returns>) -> bool {
        matches!(ty, Some(Returns::One(ty)) if self.tables.lock(ty).is_some())
    }

    /// The project-wide identity of a lock expression, where the lock lives, and whether it is
    /// reached through the method's own object; conditions built on a lock are that lock.
    fn lock_identity(&self, expr: &Expr) -> Option<LockName> {
        self.lock_facts(expr).1
    }

    /// [`Self::lock_identity`] of the lock as written, before conditions are looked through.
    fn written_lock_identity(&self, expr: &Expr) -> Option<LockName> {
        Some(match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                let (depth, binding) = self.lookup_with_depth(id)?;
                match binding {
                    Binding::Alias(canonical) if depth == 0 => {
                        (canonical.clone(), LockScope::Global, false)
                    }
                    // `l = self.lock`: whose object is not known here.
                    Binding::Alias(canonical) => (canonical.clone(), LockScope::Field, false),
                    Binding::Local(_) if depth == 0 => {
                        (self.model.join(id), LockScope::Global, false)
                    }
                    Binding::Local(_) => {
                        let function = &self.model.functions[self.current].canonical;
                        (concat(&[function, ".", id]), LockScope::Local, false)
                    }
                }
            }
            Expr::Attribute(attr) => {
                let self_name = self.method_scope().and_then(|s| s.self_name.as_deref());
                let via_self = matches!(attr.value.as_ref(), Expr::Name(n) if Some(n.id.as_str()) == self_name);
                let scope = if self.type_of(&attr.value).is_some() {
                    LockScope::Field
                } else {
                    LockScope::Global
                };
                (self.resolve(expr)?, scope, via_self)
            }
            _ => return None,
        })
    }

    /// Records a lock held over `region`; `body` is the code that runs while it is held (for
    /// its awaits). A lock whose type is unknown is kept when it can be named: the project's
    /// lock definitions decide later whether it is one.
    fn hold_lock(&mut self, span: Span, lock: &Expr, region: Span, body: &[Stmt]) {
        let facts = self.lock_facts(lock);
        self.hold_lock_with(span, lock, facts, region, || awaits_in(body));
    }

    /// [`Self::hold_lock`] with the lock's facts already resolved; `body_awaits` gives the
    /// awaits of the code that runs while it is held (asked only for a thread-blocking lock in
    /// async code).
    fn hold_lock_with(
        &mut self,
        span: Span,
        lock: &Expr,
        (kind, named): (Option<String>, Option<LockName>),
        region: Span,
        body_awaits: impl FnOnce() -> Vec<Span>,
    ) {
        let kind = kind.unwrap_or_default();
        let (identity, scope, via_self) = match named {
            Some(named) => named,
            None if !kind.is_empty() => (String::new(), LockScope::Local, false),
            None => return,
        };
        let blocks_thread = self.tables.lock(&kind).is_some_and(|l| !l.is_async);
        let awaits = if blocks_thread && self.context == Context::Async {
            body_awaits()
        } else {
            Vec::new()
        };
        let hold = LockHold {
            span,
            lock: dotted(lock),
            kind,
            identity,
            scope,
            via_self,
            region,
            awaits,
            context: self.context,
            unreleased: false,
            closure: self.closure,
        };
        self.model.functions[self.current].lock_holds.push(hold);
    }

    /// Records a module-level lock (`X = threading.Lock()`), or the lock a module-level
    /// condition is built on (`ready = threading.Condition(X)`).
    fn define_module_lock(&mut self, name: &str, value: &Expr, at: Span) {
        let Some(Returns::One(kind)) = self.type_of(value) else {
            return;
        };
        if self.tables.lock(&kind).is_none() {
            return;
        }
        let identity = self.model.join(name);
        if self.tables.conditions.contains(&kind)
            && let Expr::Call(call) = value
            && let Some(inner) = call.arguments.args.first()
            && let Some((lock, _, _)) = self.lock_identity(inner)
        {
            let inner_kind = self.lock_kind(inner).unwrap_or_default();
            self.condition_locks.insert(identity, (lock, inner_kind));
            return;
        }
        self.model.lock_definitions.push(LockDefinition {
            identity,
            kind,
            span: at,
        });
    }

    /// Records the locks a class defines: class attributes and attributes its methods set
    /// (`self.lock = threading.Lock()`); a condition built on another attribute's lock
    /// (`Condition(self.lock)`) is that lock.
    fn define_class_locks(
        &mut self,
        class: &str,
        assignments: &[(String, &Expr)],
        types: &HashMap<String, String>,
    ) {
        for (attr, value) in assignments {
            let Some(kind) = types.get(attr) else {
                continue;
            };
            if self.tables.lock(kind).is_none() {
                continue;
            }
            let identity = concat(&[class, ".", attr]);
            if self
                .model
                .lock_definitions
                .iter()
                .any(|d| d.identity == identity)
                || self.condition_locks.contains_key(&identity)
            {
                continue;
            }
            let shared = match value {
                Expr::Call(call) if self.tables.conditions.contains(kind) => {
                    match call.arguments.args.first() {
                        Some(Expr::Attribute(inner)) if inner.value.is_name_expr() => {
                            Some(inner.attr.id.as_str())
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            if let Some(inner) = shared {
                let lock = concat(&[class, ".", inner]);
                let inner_kind = types.get(inner).cloned().unwrap_or_default();
                self.condition_locks.insert(identity, (lock, inner_kind));
                continue;
            }
            self.model.lock_definitions.push(LockDefinition {
                identity,
                kind: kind.clone(),
                span: span(*value),
            });
        }
    }

    // ----- scopes and bindings -----

    /// Binds, in the innermost scope, every name the body assigns (not descending into nested
    /// functions or classes), plus `params`. Runs before the body is lowered, so a local
    /// definition shadows a library name wherever it is used.
    fn bind_locals(&mut self, body: &[Stmt], params: &[&str]) {
        let mut collector = BoundNames::default();
        for stmt in body {
            collector.visit_stmt(stmt);
        }
        let scope = self.scopes.last_mut().expect("a scope");
        for name in params {
            scope
                .bindings
                .insert(name.to_string(), Binding::Local(None));
        }
        let prefix = scope.prefix.clone();
        for (name, is_definition) in collector.names {
            let binding = if is_definition {
                let qualified = if prefix.is_empty() {
                    name.clone()
                } else {
                    concat(&[&prefix, ".", &name])
                };
                Binding::Alias(self.model.join(&qualified))
            } else {
                Binding::Local(None)
            };
            let scope = self.scopes.last_mut().expect("a scope");
            scope.bindings.entry(name).or_insert(binding);
        }
        let scope = self.scopes.last_mut().expect("a scope");
        scope.outer_names = collector.outer_names;
        scope.global_names = collector.global_names;
        for name in &scope.outer_names {
            scope.bindings.remove(name);
        }
    }

    fn lookup(&self, name: &str) -> Option<&Binding> {
        self.lookup_with_depth(name).map(|(_, binding)| binding)
    }

    /// The binding of a name and the index of the scope that holds it (0: the module).
    fn lookup_with_depth(&self, name: &str) -> Option<(usize, &Binding)> {
        let innermost = self.scopes.len() - 1;
        self.scopes.iter().enumerate().rev().find_map(|(i, scope)| {
            // Class bodies are not visible from the functions nested in them.
            if scope.kind == ScopeKind::Class && i != innermost {
                return None;
            }
            scope.bindings.get(name).map(|binding| (i, binding))
        })
    }

    /// The absolute module a `from` import names (`from ..a import b` → `pkg.a`).
    fn absolute_module(&self, module: &str, level: u32) -> String {
        if level == 0 {
            return module.to_string();
        }
        let mut base: Vec<&str> = self.package.split('.').filter(|s| !s.is_empty()).collect();
        for _ in 1..level {
            base.pop();
        }
        if !module.is_empty() {
            base.push(module);
        }
        base.join(".")
    }

    /// Binds an imported name; at module level it is also a re-export of the module.
    fn bind_import(&mut self, name: &str, canonical: String) {
        if self.scopes.len() == 1 {
            self.model
                .aliases
                .push((self.model.join(name), canonical.clone()));
        }
        self.bind(name, Binding::Alias(canonical));
    }

    /// Records a binding made by an assignment, in the scope that owns the name.
    fn bind(&mut self, name: &str, binding: Binding) {
        let declared_outer = self
            .scopes
            .last()
            .is_some_and(|s| s.outer_names.contains(name));
        let scope = if declared_outer {
            &mut self.scopes[0]
        } else {
            self.scopes.last_mut().expect("a scope")
        };
        scope.bindings.insert(name.to_string(), binding);
    }

    /// The canonical dotted name an expression refers to (`t.sleep` → `time.sleep`).
    fn resolve(&self, expr: &Expr) -> Option<String> {
        self.resolve_within(expr, MAX_RESOLUTION_DEPTH)
    }

    /// [`Self::resolve`], looking at most `depth` calls and attributes deep (long method chains
    /// would otherwise make lowering quadratic).
    fn resolve_within(&self, expr: &Expr, depth: usize) -> Option<String> {
        let depth = depth.checked_sub(1)?;
        match expr {
            Expr::Name(name) => match self.lookup(name.id.as_str()) {
                Some(Binding::Alias(canonical)) => Some(canonical.clone()),
                Some(Binding::Local(_)) => None,
                // Unbound names are builtins (`open`, `input`) and resolve to themselves.
                None => Some(name.id.to_string()),
            },
            Expr::Attribute(attr) => {
                if let Some(Returns::One(ty)) = self.type_within(&attr.value, depth) {
                    return Some(concat(&[&ty, ".", attr.attr.id.as_str()]));
                }
                let base = self.resolve_within(&attr.value, depth)?;
                Some(concat(&[&base, ".", attr.attr.id.as_str()]))
            }
            _ => None,
        }
    }

    /// The type of an expression, when the syntax gives evidence for it.
    fn type_of(&self, expr: &Expr) -> Option<Returns> {
        self.type_within(expr, MAX_RESOLUTION_DEPTH)
    }

    fn type_within(&self, expr: &Expr, depth: usize) -> Option<Returns> {
        let depth = depth.checked_sub(1)?;
        match expr {
            Expr::Name(name) => match self.lookup(name.id.as_str()) {
                Some(Binding::Local(ty)) => ty.clone(),
                _ => None,
            },
            Expr::Call(call) if is_super_call(call) && self.lookup("super").is_none() => {
                let scope = self
                    .scopes
                    .iter()
                    .rev()
                    .find(|s| s.kind != ScopeKind::Module)?;
                scope.bases.first().cloned().map(Returns::One)
            }
            Expr::Call(call) => {
                let callee = self.resolve_within(&call.func, depth)?;
                if let Some(returns) = self.tables.returns.get(&callee) {
                    return Some(returns.clone());
                }
                let last = callee.rsplit('.').next().unwrap_or(&callee);
                last.starts_with(|c: char| c.is_ascii_uppercase())
                    .then(|| Returns::One(callee.clone()))
            }
            Expr::Attribute(attr) => {
                let Expr::Name(base) = attr.value.as_ref() else {
                    return None;
                };
                let scope = self.method_scope()?;
                if scope.self_name.as_deref() != Some(base.id.as_str()) {
                    return None;
                }
                scope
                    .attribute_types
                    .get(attr.attr.id.as_str())
                    .cloned()
                    .map(Returns::One)
            }
            Expr::BinOp(binop) if binop.op == ast::Operator::Div => {
                let left = self.type_within(&binop.left, depth)?;
                (left == Returns::One("pathlib.Path".into())).then_some(left)
            }
            _ => None,
        }
    }

    /// The innermost function scope, if it is a method.
    fn method_scope(&self) -> Option<&Scope> {
        self.scopes
            .iter()
            .rev()
            .find(|s| s.kind == ScopeKind::Function)
            .filter(|s| s.self_name.is_some())
    }

    /// The type an annotation names (`queue.Queue`, `"queue.Queue"`, `Optional[Path]`, `X | None`).
    fn annotation_type(&self, annotation: &Expr) -> Option<String> {
        match annotation {
            Expr::Name(_) | Expr::Attribute(_) => self.resolve(annotation),
            Expr::StringLiteral(literal) => {
                let text = literal.value.to_str();
                let parsed = ruff_python_parser::parse_expression(text).ok()?;
                self.annotation_type(parsed.expr())
            }
            Expr::Subscript(sub) => {
                let base = self.resolve(&sub.value)?;
                if base == "typing.Optional" {
                    self.annotation_type(&sub.slice)
                } else {
                    Some(base)
                }
            }
            Expr::BinOp(binop) if binop.op == ast::Operator::BitOr => {
                if binop.right.is_none_literal_expr() {
                    self.annotation_type(&binop.left)
                } else if binop.left.is_none_literal_expr() {
                    self.annotation_type(&binop.right)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// Binds assignment targets to the value's type or alias.
    fn assign(&mut self, target: &Expr, value: Option<&Expr>, ty: Option<Returns>) {
        match target {
            Expr::Name(name) => {
                let alias = value
                    .filter(|v| matches!(v, Expr::Attribute(_) | Expr::Name(_)))
                    .and_then(|v| self.resolve(v));
                let binding = match alias {
                    Some(canonical) => Binding::Alias(canonical),
                    None => Binding::Local(ty),
                };
                self.bind(name.id.as_str(), binding);
            }
            Expr::Tuple(ast::ExprTuple { elts, .. }) | Expr::List(ast::ExprList { elts, .. }) => {
                let element_types = match ty {
                    Some(Returns::Tuple(types)) if types.len() == elts.len() => types,
                    _ => Vec::new(),
                };
                for (i, element) in elts.iter().enumerate() {
                    let ty = element_types.get(i).cloned().map(Returns::One);
                    self.assign(element, None, ty);
                }
            }
            _ => {}
        }
    }

    /// Class attribute types: class-level annotations and `self.x = Ctor()` / `self.x: T` in
    /// its methods.
    fn class_attribute_types(
        &self,
        class: &'a ast::StmtClassDef,
    ) -> (HashMap<String, String>, Vec<(String, &'a Expr)>) {
        let mut types = HashMap::default();
        let mut assignments = Vec::new();
        for stmt in &class.body {
            match stmt {
                Stmt::Assign(assign) => {
                    if let ([Expr::Name(name)], Some(Returns::One(ty))) =
                        (assign.targets.as_slice(), self.type_of(&assign.value))
                    {
                        types.insert(name.id.to_string(), ty);
                        assignments.push((name.id.to_string(), assign.value.as_ref()));
                    }
                }
                Stmt::AnnAssign(ann) => {
                    if let (Expr::Name(name), Some(ty)) =
                        (ann.target.as_ref(), self.annotation_type(&ann.annotation))
                    {
                        types.insert(name.id.to_string(), ty);
                    }
                }
                Stmt::FunctionDef(method) => {
                    let Some(self_name) = first_param(method) else {
                        continue;
                    };
                    let mut finder = SelfAssignments {
                        self_name,
                        found: Vec::new(),
                    };
                    finder.visit_body(&method.body);
                    for (attr, value, annotation) in finder.found {
                        if let Some(value) = value {
                            assignments.push((attr.clone(), value));
                        }
                        let ty = annotation
                            .and_then(|a| self.annotation_type(a))
                            .or_else(|| match value.and_then(|v| self.type_of(v)) {
                                Some(Returns::One(ty)) => Some(ty),
                                _ => None,
                            });
                        if let Some(ty) = ty {
                            types.insert(attr, ty);
                        }
                    }
                }
                _ => {}
            }
        }
        (types, assignments)
    }

    // ----- functions and calls -----

    fn qualified(&self, name: &str) -> String {
        let prefix = &self.scopes.last().expect("a scope").prefix;
        if prefix.is_empty() {
            name.to_string()
        } else {
            concat(&[prefix, ".", name])
        }
    }

    fn function_def(&mut self, def: &'a ast::StmtFunctionDef) {
        for decorator in &def.decorator_list {
            self.visit_expr(&decorator.expression);
        }
        for param in def.parameters.iter_non_variadic_params() {
            if let Some(default) = &param.default {
                self.visit_expr(default);
            }
        }
        let name = self.qualified(def.name.id.as_str());
        let in_class = self
            .scopes
            .last()
            .is_some_and(|s| s.kind == ScopeKind::Class);
        let index = self.model.functions.len();
        self.model.functions.push(Function::new(
            name.clone(),
            self.model.join(&name),
            FunctionKind::Function,
            def.is_async,
            span(&def.name),
            Some(self.current),
        ));

        let mut scope = Scope::new(ScopeKind::Function, &name);
        let mut self_type = None;
        if in_class && !is_staticmethod(def) {
            let class = self.scopes.last().expect("a class scope");
            scope.self_name = first_param(def).map(str::to_string);
            scope.attribute_types = class.attribute_types.clone();
            scope.bases = class.bases.clone();
            self_type = Some(self.model.join(&class.prefix));
        }
        self.scopes.push(scope);
        let params: Vec<&str> = def
            .parameters
            .iter()
            .map(|p| p.name().id.as_str())
            .collect();
        self.bind_locals(&def.body, &params);
        if let (Some(self_name), Some(self_type)) = (first_param(def), self_type) {
            self.bind(self_name, Binding::Local(Some(Returns::One(self_type))));
        }
        for param in def.parameters.iter() {
            let ty = param.annotation().and_then(|a| self.annotation_type(a));
            if let Some(ty) = ty {
                self.bind(
                    param.name().id.as_str(),
                    Binding::Local(Some(Returns::One(ty))),
                );
            }
        }
        let saved = (
            self.current,
            self.context,
            std::mem::take(&mut self.local_locks),
            std::mem::take(&mut self.loop_depth),
            std::mem::take(&mut self.opaque_with_depth),
            std::mem::take(&mut self.state_locals),
            std::mem::take(&mut self.repeat_depth),
        );
        self.current = index;
        self.context = if def.is_async {
            Context::Async
        } else {
            Context::Sync
        };
        self.visit_body(&def.body);
        for (name, span) in std::mem::take(&mut self.local_locks) {
            let mut uses = LockUses {
                name: &name,
                acquisitions: 0,
                escapes: false,
                nested: false,
            };
            uses.visit_body(&def.body);
            if uses.acquisitions > 0 && !uses.escapes {
                let lock = PointlessLock {
                    span,
                    lock: name,
                    why: Pointless::LocalNeverEscapes,
                };
                self.model.functions[index].pointless_locks.push(lock);
            }
        }
        (
            self.current,
            self.context,
            self.local_locks,
            self.loop_depth,
            self.opaque_with_depth,
            self.state_locals,
            self.repeat_depth,
        ) = saved;
        self.scopes.pop();
    }

    fn class_def(&mut self, class: &'a ast::StmtClassDef) {
        for decorator in &class.decorator_list {
            self.visit_expr(&decorator.expression);
        }
        if let Some(arguments) = &class.arguments {
            self.visit_arguments(arguments);
        }
        let name = self.qualified(class.name.id.as_str());
        let (attribute_types, assignments) = self.class_attribute_types(class);
        let class_identity = self.model.join(&name);
        self.define_class_locks(&class_identity, &assignments, &attribute_types);
        let bases: Vec<String> = class
            .bases()
            .iter()
            .filter_map(|base| self.resolve(base))
            .collect();
        self.model.classes.push(Class {
            name: self.model.join(&name),
            bases: bases.clone(),
        });
        let mut scope = Scope::new(ScopeKind::Class, &name);
        scope.attribute_types = attribute_types;
        scope.bases = bases;
        self.scopes.push(scope);
        self.bind_locals(&class.body, &[]);
        self.visit_body(&class.body);
        self.scopes.pop();
    }

    fn call(&mut self, call: &'a ast::ExprCall, awaited: bool) {
        let result = std::mem::take(&mut self.next_result);
        let callee = self.resolve(&call.func);
        let method = match call.func.as_ref() {
            Expr::Attribute(attr) => Some(attr.attr.id.to_string()),
            _ => None,
        };
        let offloads = self.tables.offloads(callee.as_deref(), method.as_deref());
        let schedules = self
            .tables
            .consumes_awaitables(callee.as_deref(), method.as_deref());
        let non_blocking = asks_not_to_block(call, method.as_deref());
        let blocking = self
            .tables
            .blocking_api(callee.as_deref(), method.as_deref())
            .cloned()
            .map(Box::new);
        let receiver = match call.func.as_ref() {
            Expr::Attribute(attr) => Some(attr.value.as_ref()),
            _ => None,
        };
        let tables = self.tables;
        if let Some(api) = callee.as_deref()
            && let Some(target) = tables.process_targets.get(api)
        {
            self.process_handoffs(call, api, target);
        }
        if let Some(entry) = tables.thread_entry(callee.as_deref(), method.as_deref()) {
            let arguments = &call.arguments;
            let callable = arguments
                .keywords
                .iter()
                .find(|k| {
                    k.arg
                        .as_ref()
                        .is_some_and(|a| a.id.as_str() == entry.callable)
                })
                .map(|k| &k.value)
                .or_else(|| arguments.args.get(entry.position));
            if let Some(callable @ (Expr::Name(_) | Expr::Attribute(_))) = callable {
                let started = ThreadEntry {
                    span: span(callable),
                    target: self.resolve(callable),
                    closure: 0,
                    function: None,
                    repeated: entry.pool || self.repeat_depth > 0,
                    if_thread_subclass: false,
                };
                self.model.functions[self.current]
                    .thread_entries
                    .push(started);
            }
        }
        // `Worker(...).start()`: runs `Worker.run` on a thread if `Worker` is a `Thread`.
        if method.as_deref() == Some("start")
            && let Some(receiver) = receiver
            && let Some(Returns::One(class)) = self.type_of(receiver)
            && tables.lock(&class).is_none()
        {
            let started = ThreadEntry {
                span: span(call),
                target: Some(concat(&[&class, ".run"])),
                closure: 0,
                function: None,
                repeated: self.repeat_depth > 0,
                if_thread_subclass: true,
            };
            self.model.functions[self.current]
                .thread_entries
                .push(started);
        }
        let self_name = self.method_scope().and_then(|s| s.self_name.as_deref());
        let on_self = match receiver {
            Some(Expr::Name(n)) => Some(n.id.as_str()) == self_name,
            // `super().helper()` runs on the same object.
            Some(Expr::Call(inner)) => is_super_call(inner),
            _ => false,
        };
        if let (Some(receiver), Some(method)) = (receiver, method.as_deref()) {
            self.condition_use(call, receiver, method);
        }
        self.model.functions[self.current].calls.push(Call {
            callee,
            method,
            span: span(call),
            context: self.context,
            non_blocking,
            alternatives: thin_vec::ThinVec::new(),
            on_self,
            scheduled: false,
            closure: self.closure,
            awaited,
            result,
            blocking,
        });
        self.visit_expr(&call.func);
        let arguments = call
            .arguments
            .args
            .iter()
            .chain(call.arguments.keywords.iter().map(|k| &k.value));
        for argument in arguments {
            match argument {
                Expr::Lambda(lambda) if offloads => {
                    let saved = std::mem::replace(&mut self.context, Context::Offloaded);
                    self.lambda(lambda);
                    self.context = saved;
                }
                Expr::Call(inner) if schedules => {
                    let index = self.model.functions[self.current].calls.len();
                    self.call(inner, true);
                    self.model.functions[self.current].calls[index].scheduled = true;
                }
                _ => self.visit_expr(argument),
            }
        }
    }

    /// Records what a call hands to another process that cannot go there: a lambda, a nested
    /// function or a local class's method as the callable (not picklable), and threading or
    /// asyncio primitives among its arguments (IL302, IL303).
    fn process_handoffs(&mut self, call: &ast::ExprCall, api: &str, target: &ProcessTarget) {
        let arguments = &call.arguments;
        let keyword = |name: &str| {
            arguments
                .keywords
                .iter()
                .find(|k| k.arg.as_ref().is_some_and(|a| a.id.as_str() == name))
                .map(|k| &k.value)
        };
        let mut found = Vec::new();
        let callable = keyword(&target.callable).or_else(|| arguments.args.get(target.position));
        let mut passed: Vec<&Expr> = Vec::new();
        if let Some(callable) = callable {
            // `functools.partial(f, lock)`: `f` is the callable, `lock` an argument.
            let callable = match callable {
                Expr::Call(partial)
                    if self.resolve(&partial.func).as_deref() == Some("functools.partial") =>
                {
                    passed.extend(partial.arguments.args.iter().skip(1));
                    passed.extend(partial.arguments.keywords.iter().map(|k| &k.value));
                    partial.arguments.args.first()
                }
                other => Some(other),
            };
            if let Some(callable) = callable
                && let Some(what) = self.unpicklable(callable)
            {
                found.push((span(callable), what));
            }
        }
        let tuple = target
            .args
            .as_deref()
            .and_then(keyword)
            .or_else(|| target.args_position.and_then(|p| arguments.args.get(p)));
        if let Some(
            Expr::Tuple(ast::ExprTuple { elts, .. }) | Expr::List(ast::ExprList { elts, .. }),
        ) = tuple
        {
            passed.extend(elts.iter());
        }
        if let Some(Expr::Dict(dict)) = target.kwargs.as_deref().and_then(keyword) {
            passed.extend(dict.items.iter().map(|item| &item.value));
        }
        if target.rest {
            passed.extend(arguments.args.iter().skip(target.position + 1));
        }
        for value in passed {
            if let Some(Returns::One(kind)) = self.type_of(value)
                && self.tables.thread_primitives.contains(&kind)
            {
                let what = Handoff::ThreadPrimitive {
                    value: written(value),
                    kind,
                };
                found.push((span(value), what));
            }
        }
        for (span, what) in found {
            let handoff = ProcessHandoff {
                span,
                api: api.to_string(),
                what,
            };
            self.model.functions[self.current]
                .process_handoffs
                .push(handoff);
        }
    }

    /// Why a callable cannot be pickled for another process, if it cannot.
    fn unpicklable(&self, callable: &Expr) -> Option<Handoff> {
        match callable {
            Expr::Lambda(_) => Some(Handoff::Lambda),
            Expr::Name(name) => {
                let (depth, binding) = self.lookup_with_depth(name.id.as_str())?;
                let scope = &self.scopes[depth];
                let Binding::Alias(canonical) = binding else {
                    return None;
                };
                // A `def` in a function's body is bound to its qualified name there.
                let qualified = concat(&[&scope.prefix, ".", name.id.as_str()]);
                let nested =
                    scope.kind == ScopeKind::Function && *canonical == self.model.join(&qualified);
                nested.then(|| Handoff::NestedFunction(name.id.to_string()))
            }
            Expr::Attribute(attr) => {
                let Some(Returns::One(class)) = self.type_of(&attr.value) else {
                    return None;
                };
                let (owner, _) = class.rsplit_once('.')?;
                let local = self
                    .model
                    .functions
                    .iter()
                    .any(|f| f.kind == FunctionKind::Function && f.canonical == owner);
                local.then(|| Handoff::LocalClassMethod(written(callable)))
            }
            _ => None,
        }
    }

    /// Shared state an expression names: a module global (read anywhere, or assigned in a
    /// function that declares it `global`) or an attribute through `self`: its identity, the
    /// text as written, and whether it goes through `self`.
    fn shared_state(&self, expr: &Expr) -> Option<(String, String, bool)> {
        match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                let declared_global = self
                    .scopes
                    .last()
                    .is_some_and(|s| s.global_names.contains(id));
                let module_level =
                    matches!(self.lookup_with_depth(id), Some((0, Binding::Local(_))));
                (declared_global || module_level)
                    .then(|| (self.model.join(id), id.to_string(), false))
            }
            Expr::Attribute(attr) => {
                let self_name = self.method_scope()?.self_name.as_deref()?;
                let Expr::Name(base) = attr.value.as_ref() else {
                    return None;
                };
                (base.id.as_str() == self_name).then_some(())?;
                Some((self.resolve(expr)?, dotted(expr), true))
            }
            _ => None,
        }
    }

    /// Records a write of shared state (`counter += 1`, `self.hits = self.hits + 1`,
    /// `self.stock = v - n` after `v = self.stock`), in a function (not module-level code).
    fn state_write(&mut self, target: &Expr, value: Option<&Expr>, at: Span) {
        // A bare name is module state at the top level, or where a function declares it
        // `global`.
        let at_top_level = self.current == 0 && self.scopes.len() == 1;
        if let Expr::Name(name) = target
            && !at_top_level
            && !self
                .scopes
                .last()
                .is_some_and(|s| s.global_names.contains(name.id.as_str()))
        {
            return;
        }
        if self.current == 0 && !at_top_level {
            return;
        }
        // At the top level only read-modify-writes matter (IL401's "written alongside a
        // thread"): skip plain assignments before building anything.
        if at_top_level
            && let (Expr::Name(name), Some(value)) = (target, value)
            && !reads(value, name.id.as_str())
        {
            return;
        }
        let Some((state, written, via_self)) = self.shared_state(target) else {
            return;
        };
        let (access, read) = match value {
            None => (Access::ReadModifyWrite, None),
            Some(value) if reads(value, &written) => (Access::ReadModifyWrite, None),
            Some(value) => match self
                .state_locals
                .iter()
                .rev()
                .find(|(local, read_state, _)| *read_state == state && reads(value, local))
            {
                Some((_, _, read)) => (Access::ReadModifyWrite, Some(read.clone())),
                None => (Access::Write, None),
            },
        };
        let awaits_between = match &read {
            Some(read) => self.model.functions[self.current]
                .awaits
                .iter()
                .filter(|a| a.start > read.end && a.start < at.start)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let write = StateWrite {
            span: at,
            state,
            written,
            via_self,
            access,
            read,
            awaits_between,
            closure: self.closure,
            context: self.context,
        };
        self.model.functions[self.current].state_writes.push(write);
    }

    /// Records the shared state an `if` condition reads (in functions, not top-level code).
    fn state_checks(&mut self, test: &Expr) {
        if self.current == 0 {
            return;
        }
        struct Reads<'e>(Vec<&'e Expr>);
        impl<'e> Visitor<'e> for Reads<'e> {
            fn visit_expr(&mut self, expr: &'e Expr) {
                match expr {
                    Expr::Name(_) | Expr::Attribute(_) => self.0.push(expr),
                    Expr::Call(_) | Expr::Lambda(_) => {}
                    _ => stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                        visitor::walk_expr(self, expr)
                    }),
                }
            }
        }
        let mut reads = Reads(Vec::new());
        reads.visit_expr(test);
        for read in reads.0 {
            if let Some((state, written, via_self)) = self.shared_state(read) {
                let check = StateCheck {
                    span: span(read),
                    state,
                    written,
                    via_self,
                };
                self.model.functions[self.current].state_checks.push(check);
            }
        }
    }

    /// Whether the function being lowered is a constructor: no rule reads its state facts.
    fn in_constructor(&self) -> bool {
        self.model.functions[self.current].is_constructor()
    }

    /// `v = self.stock`: remembers that the local holds a value read from shared state.
    fn state_read_into_local(&mut self, target: &Expr, value: &Expr) {
        let Expr::Name(local) = target else { return };
        if !self.state_locals.is_empty() {
            self.state_locals
                .retain(|(name, _, _)| name != local.id.as_str());
        }
        // Only `self.x` and declared globals can be written back (see `state_write`).
        let writable = match value {
            Expr::Attribute(attr) => attr.value.is_name_expr(),
            Expr::Name(name) => self
                .scopes
                .last()
                .is_some_and(|s| s.global_names.contains(name.id.as_str())),
            _ => false,
        };
        if self.current == 0 || !writable {
            return;
        }
        if let Some((state, _, _)) = self.shared_state(value) {
            self.state_locals
                .push((local.id.to_string(), state, span(value)));
        }
    }

    /// `if key not in self.cache: self.cache[key] = …`, `if inst is None: inst = …` (IL403).
    fn check_then_act(&mut self, branch: &ast::StmtIf) {
        if self.current == 0 {
            return;
        }
        let checked = match branch.test.as_ref() {
            Expr::Compare(compare) => match (&*compare.ops, &*compare.comparators) {
                ([ast::CmpOp::NotIn], [container]) => Some((container, true)),
                ([ast::CmpOp::Is], [none]) if none.is_none_literal_expr() => {
                    Some((compare.left.as_ref(), false))
                }
                _ => None,
            },
            Expr::UnaryOp(not) if not.op == ast::UnaryOp::Not => {
                Some((not.operand.as_ref(), false))
            }
            _ => None,
        };
        let Some((checked, subscript)) = checked else {
            return;
        };
        let Some((_, written, _)) = self.shared_state(checked) else {
            return;
        };
        let declared_global = |name: &str| {
            self.scopes
                .last()
                .is_some_and(|s| s.global_names.contains(name))
        };
        let act = branch.body.iter().find_map(|stmt| {
            let Stmt::Assign(assign) = stmt else {
                return None;
            };
            let [target] = assign.targets.as_slice() else {
                return None;
            };
            let acts = match target {
                Expr::Subscript(sub) if subscript => dotted(&sub.value) == written,
                Expr::Name(name) if !subscript => {
                    name.id.as_str() == written && declared_global(&written)
                }
                Expr::Attribute(_) if !subscript => dotted(target) == written,
                _ => false,
            };
            acts.then(|| span(stmt))
        });
        if let Some(act) = act {
            let found = CheckThenAct {
                check: span(branch.test.as_ref()),
                act,
                written,
                atomic: false,
                closure: self.closure,
            };
            self.model.functions[self.current]
                .check_then_acts
                .push(found);
        }
    }

    /// Records `cond.wait()`, `cond.wait_for()` and `cond.notify()` on a condition variable.
    fn condition_use(&mut self, call: &ast::ExprCall, receiver: &Expr, method: &str) {
        let op = match method {
            "wait" => ConditionOp::Wait,
            "wait_for" => ConditionOp::WaitFor,
            "notify" | "notify_all" | "notifyAll" => ConditionOp::Notify,
            _ => return,
        };
        let is_condition = matches!(self.type_of(receiver), Some(Returns::One(ty)) if self.tables.conditions.contains(&ty));
        if !is_condition {
            return;
        }
        let identity = self
            .lock_identity(receiver)
            .map(|(identity, _, _)| identity)
            .unwrap_or_default();
        let timeout_position = usize::from(op == ConditionOp::WaitFor);
        let timed = call.arguments.args.len() > timeout_position
            || call
                .arguments
                .keywords
                .iter()
                .any(|k| k.arg.as_ref().is_some_and(|a| a.id.as_str() == "timeout"));
        let used = ConditionUse {
            span: span(call),
            condition: dotted(receiver),
            identity,
            op,
            in_loop: self.loop_depth > 0,
            timed,
            maybe_held: self.opaque_with_depth > 0,
        };
        self.model.functions[self.current].condition_uses.push(used);
    }

    /// A `while` loop that only polls a condition and sleeps: `while not done: await
    /// asyncio.sleep(..)`, or `while True:` with an `if …: break` (or `return`) and the sleep.
    fn is_busy_wait(&self, while_stmt: &ast::StmtWhile) -> bool {
        let constant_true = matches!(while_stmt.test.as_ref(), Expr::BooleanLiteral(b) if b.value);
        if !while_stmt.orelse.is_empty() {
            return false;
        }
        let (mut sleeps, mut exits) = (0, 0);
        for stmt in &while_stmt.body {
            match stmt {
                Stmt::Pass(_) | Stmt::Continue(_) => {}
                Stmt::Expr(e) if self.is_async_sleep(&e.value) => sleeps += 1,
                Stmt::If(branch) if constant_true && branch.elif_else_clauses.is_empty() => {
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

    fn is_async_sleep(&self, expr: &Expr) -> bool {
        let Expr::Await(await_expr) = expr else {
            return false;
        };
        let Expr::Call(call) = await_expr.value.as_ref() else {
            return false;
        };
        matches!(
            self.resolve(&call.func).as_deref(),
            Some("asyncio.sleep" | "trio.sleep" | "anyio.sleep")
        )
    }

    fn lambda(&mut self, lambda: &'a ast::ExprLambda) {
        let loop_depth = std::mem::take(&mut self.loop_depth);
        // A lambda may run later, without the locks held where it is written.
        self.closures += 1;
        let closure = std::mem::replace(&mut self.closure, self.closures);
        let mut scope = Scope::new(
            ScopeKind::Function,
            &self.scopes.last().expect("a scope").prefix,
        );
        if let Some(parameters) = &lambda.parameters {
            for param in parameters.iter_non_variadic_params() {
                if let Some(default) = &param.default {
                    self.visit_expr(default);
                }
            }
            for param in parameters.iter() {
                scope
                    .bindings
                    .insert(param.name().id.to_string(), Binding::Local(None));
            }
        }
        self.scopes.push(scope);
        self.visit_expr(&lambda.body);
        self.scopes.pop();
        (self.loop_depth, self.closure) = (loop_depth, closure);
    }
}

impl<'a> Visitor<'a> for Lowerer<'a> {
    fn visit_body(&mut self, body: &'a [Stmt]) {
        let releases = std::cell::OnceCell::new();
        for (i, stmt) in body.iter().enumerate() {
            self.acquire_release(body, i, &releases);
            self.visit_stmt(stmt);
        }
    }

    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || match stmt {
            Stmt::FunctionDef(def) => self.function_def(def),
            Stmt::ClassDef(class) => self.class_def(class),
            Stmt::Import(import) => {
                for alias in &import.names {
                    let full = alias.name.id.as_str();
                    match &alias.asname {
                        Some(asname) => self.bind_import(asname.id.as_str(), full.to_string()),
                        None => {
                            let root = full.split('.').next().unwrap_or(full);
                            self.bind_import(root, root.to_string());
                        }
                    }
                }
            }
            Stmt::ImportFrom(import) => {
                let module = import.module.as_ref().map(|m| m.id.as_str()).unwrap_or("");
                let base = self.absolute_module(module, import.level);
                for alias in &import.names {
                    let name = alias.name.id.as_str();
                    if name == "*" {
                        continue;
                    }
                    let bound = alias.asname.as_ref().unwrap_or(&alias.name).id.as_str();
                    let canonical = if base.is_empty() {
                        name.to_string()
                    } else {
                        concat(&[&base, ".", name])
                    };
                    self.bind_import(bound, canonical);
                }
            }
            Stmt::Assign(assign) => {
                // Constructors set state up before it is shared: no rule reads their writes.
                if let [target] = assign.targets.as_slice()
                    && !self.in_constructor()
                {
                    self.state_write(target, Some(&assign.value), span(stmt));
                    self.state_read_into_local(target, &assign.value);
                }
                let bound_call = match (assign.targets.as_slice(), assign.value.as_ref()) {
                    ([Expr::Name(name)], Expr::Call(_)) => Some(name),
                    _ => None,
                };
                if let Some(name) = bound_call {
                    self.next_result = ResultUse::Bound(name.id.as_str().into());
                }
                self.visit_expr(&assign.value);
                let ty = self.type_of(&assign.value);
                if let Some(name) = bound_call
                    && self.is_lock_type(ty.as_ref())
                    && self.scopes.last().is_some_and(|s| {
                        s.kind == ScopeKind::Function && !s.outer_names.contains(name.id.as_str())
                    })
                {
                    self.local_locks.push((name.id.to_string(), span(assign)));
                }
                if let ([Expr::Name(name)], true) =
                    (assign.targets.as_slice(), self.scopes.len() == 1)
                {
                    self.define_module_lock(name.id.as_str(), &assign.value, span(assign));
                }
                for target in &assign.targets {
                    self.visit_expr(target);
                    self.assign(target, Some(&assign.value), ty.clone());
                }
            }
            Stmt::AnnAssign(ann) => {
                if let Some(value) = &ann.value {
                    self.visit_expr(value);
                }
                self.visit_expr(&ann.target);
                let ty = self.annotation_type(&ann.annotation).map(Returns::One);
                let ty = ty.or_else(|| ann.value.as_ref().and_then(|v| self.type_of(v)));
                self.assign(&ann.target, None, ty);
            }
            Stmt::With(with) => {
                let facts: Vec<_> = with
                    .items
                    .iter()
                    .map(|item| self.lock_facts(&item.context_expr))
                    .collect();
                let opaque = facts.iter().any(|(kind, _)| kind.is_none());
                self.opaque_with_depth += usize::from(opaque);
                // Every item holds its lock over the same body: find its awaits once.
                let body_awaits = std::cell::OnceCell::new();
                for (item, facts) in with.items.iter().zip(facts) {
                    if item.context_expr.is_call_expr() && facts.0.is_some() {
                        let lock = PointlessLock {
                            span: span(&item.context_expr),
                            lock: "a new lock".to_string(),
                            why: Pointless::CreatedWhereAcquired,
                        };
                        self.model.functions[self.current]
                            .pointless_locks
                            .push(lock);
                    }
                    let lock = &item.context_expr;
                    if matches!(lock, Expr::Name(_) | Expr::Attribute(_)) || facts.0.is_some() {
                        let region = span(lock).start..span(with).end;
                        let awaits = || body_awaits.get_or_init(|| awaits_in(&with.body)).clone();
                        self.hold_lock_with(span(lock), lock, facts, region, awaits);
                    }
                    self.visit_expr(&item.context_expr);
                    if let Some(vars) = &item.optional_vars {
                        let ty = self.type_of(&item.context_expr);
                        self.assign(vars, None, ty);
                    }
                }
                self.visit_body(&with.body);
                self.opaque_with_depth -= usize::from(opaque);
            }
            Stmt::Expr(statement) => {
                if statement.value.is_call_expr() {
                    self.next_result = ResultUse::Discarded;
                }
                self.visit_expr(&statement.value);
            }
            Stmt::If(branch)
                if self.current == 0 && self.scopes.len() == 1 && is_main_guard(&branch.test) =>
            {
                if let (Some(first), Some(last)) = (branch.body.first(), branch.body.last()) {
                    self.model
                        .main_guards
                        .push(span(first).start..span(last).end);
                }
                visitor::walk_stmt(self, stmt);
            }
            Stmt::If(branch) => {
                if !self.in_constructor() {
                    self.check_then_act(branch);
                    self.state_checks(&branch.test);
                }
                visitor::walk_stmt(self, stmt);
            }
            Stmt::For(for_stmt) => {
                self.visit_expr(&for_stmt.iter);
                self.visit_expr(&for_stmt.target);
                self.repeat_depth += 1;
                self.visit_body(&for_stmt.body);
                self.repeat_depth -= 1;
                self.visit_body(&for_stmt.orelse);
            }
            Stmt::AugAssign(aug) => {
                self.state_write(&aug.target, None, span(stmt));
                visitor::walk_stmt(self, stmt);
            }
            Stmt::While(while_stmt) => {
                if self.is_busy_wait(while_stmt) {
                    let start = while_stmt.range.start().to_usize();
                    self.model.functions[self.current]
                        .busy_waits
                        .push(start..start + "while".len());
                }
                self.visit_expr(&while_stmt.test);
                self.loop_depth += 1;
                self.repeat_depth += 1;
                self.visit_body(&while_stmt.body);
                self.repeat_depth -= 1;
                self.loop_depth -= 1;
                self.visit_body(&while_stmt.orelse);
            }
            _ => visitor::walk_stmt(self, stmt),
        })
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || match expr {
            Expr::Name(name) => {
                if name.ctx == ast::ExprContext::Load {
                    self.model.functions[self.current]
                        .reads
                        .insert(name_hash(name.id.as_str()));
                }
            }
            Expr::Call(call) => self.call(call, false),
            Expr::Lambda(lambda) => self.lambda(lambda),
            Expr::ListComp(_) | Expr::SetComp(_) | Expr::DictComp(_) | Expr::Generator(_) => {
                self.repeat_depth += 1;
                visitor::walk_expr(self, expr);
                self.repeat_depth -= 1;
            }
            Expr::Await(await_expr) => {
                self.model.functions[self.current].awaits.push(span(expr));
                match await_expr.value.as_ref() {
                    Expr::Call(call) => self.call(call, true),
                    value => self.visit_expr(value),
                }
            }
            _ => visitor::walk_expr(self, expr),
        })
    }
}

/// How a function-local lock is used: acquired (`with lock:`, `lock.acquire()`), or escaping
/// the function (returned, stored, passed on, captured by a nested function).
struct LockUses<'n> {
    name: &'n str,
    acquisitions: usize,
    escapes: bool,
    /// Inside a nested function or lambda: any use there is a capture, which escapes.
    nested: bool,
}

impl LockUses<'_> {
    fn is_the_lock(&self, expr: &Expr) -> bool {
        matches!(expr, Expr::Name(n) if n.id.as_str() == self.name)
    }
}

impl<'b> Visitor<'b> for LockUses<'_> {
    fn visit_stmt(&mut self, stmt: &'b Stmt) {
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || match stmt {
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {
                let outer = std::mem::replace(&mut self.nested, true);
                visitor::walk_stmt(self, stmt);
                self.nested = outer;
            }
            Stmt::With(with) => {
                for item in &with.items {
                    if self.is_the_lock(&item.context_expr) && !self.nested {
                        self.acquisitions += 1;
                    } else {
                        self.visit_expr(&item.context_expr);
                    }
                    if let Some(vars) = &item.optional_vars {
                        self.visit_expr(vars);
                    }
                }
                self.visit_body(&with.body);
            }
            _ => visitor::walk_stmt(self, stmt),
        })
    }

    fn visit_expr(&mut self, expr: &'b Expr) {
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || match expr {
            Expr::Call(call) => match call.func.as_ref() {
                Expr::Attribute(attr)
                    if !self.nested
                        && self.is_the_lock(&attr.value)
                        && matches!(attr.attr.id.as_str(), "acquire" | "release" | "locked") =>
                {
                    self.acquisitions += usize::from(attr.attr.id.as_str() == "acquire");
                    self.visit_arguments(&call.arguments);
                }
                _ => visitor::walk_expr(self, expr),
            },
            Expr::Name(name)
                if name.id.as_str() == self.name && name.ctx == ast::ExprContext::Load =>
            {
                self.escapes = true;
            }
            Expr::Lambda(_) => {
                let outer = std::mem::replace(&mut self.nested, true);
                visitor::walk_expr(self, expr);
                self.nested = outer;
            }
            _ => visitor::walk_expr(self, expr),
        })
    }
}

/// An expression as a dotted name for messages (`self.lock`), or `the lock`.
fn dotted(expr: &Expr) -> String {
    match expr {
        Expr::Name(name) => name.id.to_string(),
        Expr::Attribute(attr) => concat(&[&dotted(&attr.value), ".", attr.attr.id.as_str()]),
        _ => "the lock".to_string(),
    }
}

/// Whether an expression reads the name or attribute written `written` (`self.hits`, `v`).
fn reads(expr: &Expr, written: &str) -> bool {
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
fn written(expr: &Expr) -> String {
    match expr {
        Expr::Name(name) => name.id.to_string(),
        Expr::Attribute(attr) => concat(&[&written(&attr.value), ".", attr.attr.id.as_str()]),
        Expr::Call(call) => concat(&[&written(&call.func), "()"]),
        _ => "this value".to_string(),
    }
}

/// The first statement that leaves a block early: `return`, `raise`, or a `break`/`continue`
/// of an enclosing loop (not counting nested functions, classes and loops).
fn early_exit(body: &[Stmt]) -> Option<Span> {
    fn find(stmt: &Stmt, in_loop: bool) -> Option<Span> {
        let all = |body: &[Stmt], in_loop: bool| body.iter().find_map(|s| find(s, in_loop));
        match stmt {
            Stmt::Return(_) | Stmt::Raise(_) => Some(span(stmt)),
            Stmt::Break(_) | Stmt::Continue(_) if !in_loop => Some(span(stmt)),
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => None,
            Stmt::If(branch) => all(&branch.body, in_loop).or_else(|| {
                branch
                    .elif_else_clauses
                    .iter()
                    .find_map(|c| all(&c.body, in_loop))
            }),
            Stmt::With(with) => all(&with.body, in_loop),
            Stmt::For(l) => all(&l.body, true).or_else(|| all(&l.orelse, in_loop)),
            Stmt::While(l) => all(&l.body, true).or_else(|| all(&l.orelse, in_loop)),
            Stmt::Try(t) => all(&t.body, in_loop)
                .or_else(|| {
                    t.handlers.iter().find_map(|h| match h {
                        ast::ExceptHandler::ExceptHandler(h) => all(&h.body, in_loop),
                    })
                })
                .or_else(|| all(&t.orelse, in_loop))
                .or_else(|| all(&t.finalbody, in_loop)),
            Stmt::Match(m) => m.cases.iter().find_map(|c| all(&c.body, in_loop)),
            _ => None,
        }
    }
    body.iter().find_map(|s| find(s, false))
}

/// The `L.release()` calls of a body, found in one pass (on the body's first `acquire()`) so
/// that each acquisition finds its release without scanning the rest of the body again.
#[derive(Default)]
struct BodyReleases {
    /// Lock → the statements (by index) that release it: `L.release()` itself (`false`), or a
    /// `try` whose `finally` does (`true`).
    statements: HashMap<String, Vec<(usize, bool)>>,
    /// Lock → (statement index, where) of releases at any depth, in order.
    nested: HashMap<String, Vec<(usize, usize)>>,
}

impl BodyReleases {
    fn of(body: &[Stmt]) -> BodyReleases {
        struct Releases<'r>(&'r mut HashMap<String, Vec<(usize, usize)>>, usize);
        impl<'b> Visitor<'b> for Releases<'_> {
            fn visit_stmt(&mut self, stmt: &'b Stmt) {
                stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_stmt(self, stmt)
                });
            }
            fn visit_expr(&mut self, expr: &'b Expr) {
                if let Expr::Call(call) = expr
                    && let Expr::Attribute(attr) = call.func.as_ref()
                    && attr.attr.id.as_str() == "release"
                {
                    let lock = dotted(&attr.value);
                    self.0
                        .entry(lock)
                        .or_default()
                        .push((self.1, span(expr).start));
                }
                stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_expr(self, expr)
                });
            }
        }
        let released = |stmt: &Stmt| match stmt {
            Stmt::Expr(e) => match e.value.as_ref() {
                Expr::Call(call) => match call.func.as_ref() {
                    Expr::Attribute(attr) if attr.attr.id.as_str() == "release" => {
                        Some(dotted(&attr.value))
                    }
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        };
        let mut releases = BodyReleases::default();
        for (index, stmt) in body.iter().enumerate() {
            if let Some(lock) = released(stmt) {
                releases
                    .statements
                    .entry(lock)
                    .or_default()
                    .push((index, false));
            } else if let Stmt::Try(t) = stmt {
                let mut locks: Vec<String> = t.finalbody.iter().filter_map(released).collect();
                locks.dedup();
                for lock in locks {
                    releases
                        .statements
                        .entry(lock)
                        .or_default()
                        .push((index, true));
                }
            }
            Releases(&mut releases.nested, index).visit_stmt(stmt);
        }
        releases
    }

    /// For `lock` acquired by statement `acquired` of a body of `len` statements, counting in
    /// the statements after it: where the held region ends (the release statement, or just
    /// after a `try` whose `finally` releases; the end if neither), whether the release is
    /// guaranteed (that `finally`), and where the first release at any depth inside the region
    /// starts (a release on some path only).
    fn after(&self, lock: &str, acquired: usize, len: usize) -> (usize, bool, Option<usize>) {
        let (end, guaranteed) = self
            .statements
            .get(lock)
            .and_then(|list| list.iter().find(|(i, _)| *i > acquired))
            .map_or((len, false), |&(i, in_finally)| {
                (if in_finally { i + 1 } else { i }, in_finally)
            });
        let nested = self.nested.get(lock).and_then(|list| {
            list.iter()
                .find(|&&(i, _)| i > acquired && i < end)
                .map(|&(_, at)| at)
        });
        (end - (acquired + 1), guaranteed, nested)
    }
}

/// The first call in a block of statements (not in nested functions): code that may raise.
fn first_call(body: &[Stmt]) -> Option<Span> {
    #[derive(Default)]
    struct FirstCall(Option<Span>);
    impl<'b> Visitor<'b> for FirstCall {
        fn visit_stmt(&mut self, stmt: &'b Stmt) {
            if self.0.is_none() && !matches!(stmt, Stmt::FunctionDef(_) | Stmt::ClassDef(_)) {
                stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_stmt(self, stmt)
                });
            }
        }
        fn visit_expr(&mut self, expr: &'b Expr) {
            match expr {
                _ if self.0.is_some() => {}
                Expr::Call(_) => self.0 = Some(span(expr)),
                Expr::Lambda(_) => {}
                _ => stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_expr(self, expr)
                }),
            }
        }
    }
    let mut finder = FirstCall::default();
    finder.visit_body(body);
    finder.0
}

/// The await points of a block of statements (`await`, `async with`, `async for`), not counting
/// nested functions, classes and lambdas (they run at another time).
fn awaits_in(body: &[Stmt]) -> Vec<Span> {
    #[derive(Default)]
    struct Awaits(Vec<Span>);
    impl<'b> Visitor<'b> for Awaits {
        fn visit_stmt(&mut self, stmt: &'b Stmt) {
            stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || match stmt {
                Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
                Stmt::With(with) if with.is_async => {
                    let start = with.range.start().to_usize();
                    self.0.push(start..start + "async with".len());
                    visitor::walk_stmt(self, stmt);
                }
                Stmt::For(for_stmt) if for_stmt.is_async => {
                    let start = for_stmt.range.start().to_usize();
                    self.0.push(start..start + "async for".len());
                    visitor::walk_stmt(self, stmt);
                }
                _ => visitor::walk_stmt(self, stmt),
            })
        }
        fn visit_expr(&mut self, expr: &'b Expr) {
            stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || match expr {
                Expr::Lambda(_) => {}
                Expr::Await(_) => {
                    self.0.push(span(expr));
                    visitor::walk_expr(self, expr);
                }
                _ => visitor::walk_expr(self, expr),
            })
        }
    }
    let mut awaits = Awaits::default();
    for stmt in body {
        awaits.visit_stmt(stmt);
    }
    awaits.0
}

/// `__name__ == "__main__"`, in either order.
fn is_main_guard(test: &Expr) -> bool {
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
fn is_super_call(call: &ast::ExprCall) -> bool {
    matches!(call.func.as_ref(), Expr::Name(name) if name.id.as_str() == "super")
}

/// The first positional parameter of a function (`self` of a method).
fn first_param(def: &ast::StmtFunctionDef) -> Option<&str> {
    let params = &def.parameters;
    params
        .posonlyargs
        .iter()
        .chain(params.args.iter())
        .next()
        .map(|p| p.parameter.name.id.as_str())
}

fn is_staticmethod(def: &ast::StmtFunctionDef) -> bool {
    def.decorator_list
        .iter()
        .any(|d| matches!(&d.expression, Expr::Name(n) if n.id.as_str() == "staticmethod"))
}

/// `get(block=False)`, `get(False)`, `acquire(blocking=False)`, `put(x, False)`, `timeout=0`.
fn asks_not_to_block(call: &ast::ExprCall, method: Option<&str>) -> bool {
    let is_false = |e: &Expr| matches!(e, Expr::BooleanLiteral(b) if !b.value);
    let is_zero = |e: &Expr| match e {
        Expr::NumberLiteral(n) => match &n.value {
            ast::Number::Int(i) => i.as_u64() == Some(0),
            ast::Number::Float(f) => *f == 0.0,
            _ => false,
        },
        _ => false,
    };
    let keyword =
        call.arguments
            .keywords
            .iter()
            .any(|k| match k.arg.as_ref().map(|a| a.id.as_str()) {
                Some("block" | "blocking") => is_false(&k.value),
                Some("timeout") => is_zero(&k.value),
                _ => false,
            });
    let resolves_numeric_only = |e: &Expr| mentions(e, "NUMERIC");
    if call.arguments.keywords.iter().any(|k| {
        k.arg.as_ref().is_some_and(|a| a.id.as_str() == "flags") && resolves_numeric_only(&k.value)
    }) || call
        .arguments
        .args
        .get(5)
        .is_some_and(resolves_numeric_only)
    {
        // `getaddrinfo(..., flags=AI_NUMERICHOST)` never asks DNS.
        return true;
    }
    let position = match method {
        Some("get" | "acquire" | "wait") => 0,
        Some("put") => 1,
        _ => return keyword,
    };
    keyword || call.arguments.args.get(position).is_some_and(is_false)
}

/// Whether an expression names something containing `word` (`socket.AI_NUMERICHOST | X`).
fn mentions(expr: &Expr, word: &str) -> bool {
    match expr {
        Expr::Name(name) => name.id.as_str().contains(word),
        Expr::Attribute(attr) => {
            attr.attr.id.as_str().contains(word) || mentions(&attr.value, word)
        }
        Expr::BinOp(binop) => mentions(&binop.left, word) || mentions(&binop.right, word),
        _ => false,
    }
}

/// Collects the names a block of statements binds, without entering nested scopes.
#[derive(Default)]
struct BoundNames {
    /// Bound names, and whether each is a `def`/`class` (a project definition).
    names: Vec<(String, bool)>,
    outer_names: HashSet<String>,
    /// The names declared `global` (not `nonlocal`).
    global_names: HashSet<String>,
}

impl BoundNames {
    fn target(&mut self, target: &Expr) {
        match target {
            Expr::Name(name) => self.names.push((name.id.to_string(), false)),
            Expr::Tuple(ast::ExprTuple { elts, .. }) | Expr::List(ast::ExprList { elts, .. }) => {
                elts.iter().for_each(|e| self.target(e))
            }
            Expr::Starred(starred) => self.target(&starred.value),
            _ => {}
        }
    }
}

impl<'a> Visitor<'a> for BoundNames {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || match stmt {
            Stmt::FunctionDef(def) => self.names.push((def.name.id.to_string(), true)),
            Stmt::ClassDef(class) => self.names.push((class.name.id.to_string(), true)),
            Stmt::Assign(assign) => assign.targets.iter().for_each(|t| self.target(t)),
            Stmt::AnnAssign(ann) => self.target(&ann.target),
            Stmt::AugAssign(aug) => self.target(&aug.target),
            Stmt::For(for_stmt) => {
                self.target(&for_stmt.target);
                self.visit_body(&for_stmt.body);
                self.visit_body(&for_stmt.orelse);
            }
            Stmt::With(with) => {
                for item in &with.items {
                    if let Some(vars) = &item.optional_vars {
                        self.target(vars);
                    }
                }
                self.visit_body(&with.body);
            }
            Stmt::Global(global) => {
                let names = global.names.iter().map(|n| n.id.to_string());
                self.outer_names.extend(names.clone());
                self.global_names.extend(names);
            }
            Stmt::Nonlocal(nonlocal) => self
                .outer_names
                .extend(nonlocal.names.iter().map(|n| n.id.to_string())),
            // Imports are bound in source order while lowering.
            Stmt::Import(_) | Stmt::ImportFrom(_) => {}
            _ => visitor::walk_stmt(self, stmt),
        })
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Named(named) = expr {
            self.target(&named.target);
        }
        // Only walrus targets bind names inside expressions; no need to descend further.
    }
}

/// Finds `self.attr = value` and `self.attr: T = value` in a method body.
struct SelfAssignments<'a> {
    self_name: &'a str,
    found: Vec<(String, Option<&'a Expr>, Option<&'a Expr>)>,
}

impl<'a> SelfAssignments<'a> {
    fn self_attribute(&self, target: &Expr) -> Option<String> {
        let Expr::Attribute(attr) = target else {
            return None;
        };
        let Expr::Name(base) = attr.value.as_ref() else {
            return None;
        };
        (base.id.as_str() == self.self_name).then(|| attr.attr.id.to_string())
    }
}

impl<'a> Visitor<'a> for SelfAssignments<'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || match stmt {
            Stmt::Assign(assign) => {
                for target in &assign.targets {
                    if let Some(attr) = self.self_attribute(target) {
                        self.found.push((attr, Some(&assign.value), None));
                    }
                }
            }
            Stmt::AnnAssign(ann) => {
                if let Some(attr) = self.self_attribute(&ann.target) {
                    self.found
                        .push((attr, ann.value.as_deref(), Some(&ann.annotation)));
                }
            }
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            _ => visitor::walk_stmt(self, stmt),
        })
    }

    fn visit_expr(&mut self, _expr: &'a Expr) {}
}
