//! The semantic model of a Python file: scopes and their bindings (imports, aliases, locals
//! with their types), and the queries the concerns ask it: what canonical name an expression
//! refers to (`resolve`), what type it has (`type_of`), what an annotation names, and which
//! scope a name lives in.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::rc::Rc;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Stmt};

use super::back_references::BackReferences;
use super::syntax::{attribute_root, first_param, is_super_call};
use crate::knowledge::{LanguageTables, Returns};
use crate::model::condition::key;
use crate::model::{Language, Receiver, concat, join_path};

/// How many calls and attributes deep name and type resolution looks.
pub(super) const MAX_RESOLUTION_DEPTH: usize = 16;

/// What a name is bound to in a scope.
#[derive(Clone, Debug)]
pub(super) enum Binding {
    /// An alias of a canonical name: an import, or `nap = time.sleep`.
    Alias(String),
    /// A local variable, function or class, with its type when known.
    Local(Option<Returns>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ScopeKind {
    Module,
    Class,
    Function,
    /// A lambda's parameters: it sees the enclosing method's `self`.
    Lambda,
}

#[derive(Debug)]
pub(super) struct Scope {
    pub(super) kind: ScopeKind,
    /// Qualified name prefix for definitions inside this scope.
    pub(super) prefix: String,
    pub(super) bindings: HashMap<String, Binding>,
    /// Names declared `global`/`nonlocal` here.
    pub(super) outer_names: HashSet<String>,
    /// Names declared `global` here.
    pub(super) global_names: HashSet<String>,
    /// In a method: the name of its first parameter (`self`) and its class's attribute types.
    pub(super) self_name: Option<String>,
    /// In a `@classmethod`: `self_name` names the class, not an instance.
    pub(super) class_method: bool,
    /// In a class body: the class's docstring says its objects may be used from several
    /// threads.
    pub(super) thread_safe_contract: bool,
    pub(super) attribute_types: Rc<HashMap<String, String>>,
    /// In a method: the attributes of `self` assigned so far in its body, with the type of
    /// the value (`None`: a value of no known type). They win over the class's types until
    /// the method ends (`if fork: self.q = multiprocessing.Queue() … Process(args=(self.q,))`).
    pub(super) assigned_attributes: HashMap<String, Option<String>>,
    /// In a class body or method: the class's canonical bases (for `super()`).
    pub(super) bases: Rc<[String]>,
    /// Names bound here to what a blocking call returned (`with open(p) as f`), with that
    /// call's index in the function's calls: it is where the blocking is reported, not at each
    /// use of the object.
    pub(super) opened: HashMap<String, u32>,
    /// Locals bound to the result of a call on an input of unknown type, with that call's
    /// shape as written (`channel = bot.get_channel(id)`: `bot.get_channel()`; see
    /// [`crate::model::Function::unknown_calls`]).
    pub(super) shapes: HashMap<String, String>,
    /// Names and attributes (as written: `sock`, `self._sock`) made non-blocking here so far
    /// (`sock.setblocking(False)`): their calls do not wait.
    pub(super) non_blocking: HashSet<String>,
    /// Locals bound to a datagram socket (`socket.socket(family, socket.SOCK_DGRAM)`): their
    /// `connect()` only sets the default peer, and `send()`/`sendto()` hand a datagram to the
    /// kernel without waiting for anyone (only receiving waits).
    pub(super) datagram_sockets: HashSet<String>,
    /// Queues (as written: `q`, `self.q`) with the items this function has put in them and not
    /// taken out yet: a `get()` that takes one of them does not wait for another thread.
    pub(super) own_items: HashMap<String, u32>,
    /// Names given a type by an annotation (a parameter's, `x: T = …`): what a type checker
    /// holds every later assignment to, so a value this file cannot type keeps it.
    pub(super) declared: HashMap<String, String>,
    /// Names annotated as a collection of one type (`nodes: list[Action]`), with that type:
    /// what iterating over them gives.
    pub(super) element_types: HashMap<String, String>,
    /// In a function: the functions defined in its body that leave it as values (returned,
    /// passed on, stored), not only called: each of their calls shares this call's variables.
    pub(super) escaping: HashSet<String>,
}

impl Scope {
    pub(super) fn new(kind: ScopeKind, prefix: &str) -> Self {
        Scope {
            kind,
            prefix: prefix.to_string(),
            bindings: HashMap::default(),
            outer_names: HashSet::default(),
            global_names: HashSet::default(),
            declared: HashMap::default(),
            element_types: HashMap::default(),
            self_name: None,
            class_method: false,
            thread_safe_contract: false,
            escaping: HashSet::default(),
            attribute_types: Rc::default(),
            assigned_attributes: HashMap::default(),
            bases: Rc::from([]),
            opened: HashMap::default(),
            shapes: HashMap::default(),
            non_blocking: HashSet::default(),
            datagram_sockets: HashSet::default(),
            own_items: HashMap::default(),
        }
    }
}

/// What the semantic model knows of a class of the file.
#[derive(Debug, Default)]
pub(super) struct ClassInfo {
    /// Attribute → type: class-level assignments and annotations, `self.x = …` in methods.
    pub(super) attributes: Rc<HashMap<String, String>>,
    /// Canonical names of its bases.
    pub(super) bases: Vec<String>,
    /// The methods its body defines.
    pub(super) methods: HashSet<String>,
    /// Its `@property` (and `@functools.cached_property`) getters: reading the attribute
    /// calls them.
    pub(super) properties: HashSet<String>,
    /// Attributes assigned a lambda (`self.colormap = lambda x: ..`), sorted: an object of
    /// the class cannot be pickled.
    pub(super) lambda_attributes: Vec<String>,
    /// Containers its body creates (`_locks = {}`) that no method rebinds through `self`: one
    /// object shared by every instance, like a module global.
    pub(super) shared_containers: HashSet<String>,
    /// Method → the attributes it assigns through `self`.
    pub(super) assigned_by: HashMap<String, HashSet<String>>,
    /// Attributes the methods lowered so far make non-blocking (`self._sock.setblocking(False)`
    /// in the constructor).
    pub(super) non_blocking: Vec<String>,
}

/// What a class's body and methods say about its attributes.
pub(super) struct ClassAttributes<'c> {
    /// Attribute → type.
    pub(super) types: HashMap<String, String>,
    /// Attribute → each value assigned to it.
    pub(super) assignments: Vec<(String, &'c Expr)>,
    /// Method → the attributes it assigns through `self`.
    pub(super) assigned_by: HashMap<String, HashSet<String>>,
    /// Attribute of no known type → the function whose result it holds (`self._lock =
    /// make_lock()` with `make_lock` from another module).
    pub(super) returned_by: HashMap<String, String>,
    /// Attribute of no known type → the method parameters it is set from (`self.storage =
    /// storage`): method name, position counting `self` (`u32::MAX`: keyword-only), name.
    /// The last item: the type the method itself gives the parameter when it rebinds it (`if
    /// manager is None: manager = BaseManager()`), one more type the attribute may have.
    pub(super) given_by: Vec<(String, String, u32, u32, Option<String>)>,
    /// Attribute → the one function (or other named object) every assignment stores in it
    /// (`self._load = LoadCalc.get_load`): `self._load(..)` calls it. `None`: several.
    pub(super) named_values: HashMap<String, Option<String>>,
    /// Attribute of no known type → the path, from `self`, of the one attribute of another
    /// object every assignment copies into it (`self.lock = self.adb.lock`: `adb.lock`), for
    /// the project to type. `None`: several.
    pub(super) copied: HashMap<String, Option<String>>,
}

/// Scopes and bindings of the file being lowered, with the queries that resolve names and
/// types through them.
pub(super) struct SemanticModel<'a> {
    pub(super) tables: &'a LanguageTables,
    /// Whether an annotation of the file named a union of several types (see [`UNION`]): only
    /// then can a receiver be one, and calls look for the other members' methods.
    pub(super) has_unions: std::cell::Cell<bool>,
    /// Library names other modules of the project re-export.
    pub(super) reexports: &'a super::ProjectReexports,
    /// The module's canonical name (`shop.orders`).
    pub(super) module: String,
    /// The package that relative imports start from.
    pub(super) package: String,
    /// Innermost last; index 0 is the module.
    pub(super) scopes: Vec<Scope>,
    /// The file's classes by canonical name, each recorded before its body is lowered.
    pub(super) classes: HashMap<String, ClassInfo>,
    /// What the file's functions return, by canonical name: their return annotation, or the
    /// one type all their `return` statements give (`def make_lock(): return
    /// threading.Lock()`), recorded at their definition.
    pub(super) function_returns: HashMap<String, String>,
    /// Module-level objects and class attributes of no type the file tells → the function
    /// whose result they hold, for the project to type (see [`FileModel::returned_by`]).
    ///
    /// [`FileModel::returned_by`]: crate::model::FileModel::returned_by
    pub(super) returned_by: HashMap<String, String>,
    /// Attributes of the file's classes that hold their creator or a child created with
    /// `self` (see [`super::back_references`]).
    pub(super) back_references: BackReferences,
}

impl SemanticModel<'_> {
    /// Whether the code being lowered is the module's top-level code (not in a class or
    /// function body).
    pub(super) fn at_module_scope(&self) -> bool {
        self.scopes.len() == 1
    }

    /// Whether the innermost scope declares `name` `global`.
    pub(super) fn declared_global(&self, name: &str) -> bool {
        self.scopes
            .last()
            .is_some_and(|s| s.global_names.contains(name))
    }

    /// Whether the current scope declares a name `nonlocal` (an enclosing function's).
    pub(super) fn declared_nonlocal(&self, name: &str) -> bool {
        self.scopes
            .last()
            .is_some_and(|s| s.outer_names.contains(name) && !s.global_names.contains(name))
    }

    /// Whether the current function is a closure that leaves its enclosing function as a
    /// value (a decorator's `wrapper`, a callback handed to a pool), so its `nonlocal`
    /// variables are shared by all its calls.
    pub(super) fn closure_escapes(&self) -> bool {
        let [.., enclosing, current] = self.scopes.as_slice() else {
            return false;
        };
        let name = current.prefix.rsplit('.').next().unwrap_or_default();
        enclosing.kind == ScopeKind::Function && enclosing.escaping.contains(name)
    }

    /// Whether the current scope declares a name `global` or `nonlocal`: assigning it writes
    /// state that outlives the call.
    pub(super) fn declared_outer(&self, name: &str) -> bool {
        self.scopes
            .last()
            .is_some_and(|s| s.outer_names.contains(name))
    }

    /// In a method: the canonical name of its class (the type of `self`).
    pub(super) fn self_type(&self) -> Option<&str> {
        match self.lookup(self.self_name()?) {
            Some(Binding::Local(Some(Returns::One(class)))) => Some(class),
            _ => None,
        }
    }

    /// In a method of a class of this file: what the model knows of it.
    pub(super) fn self_class(&self) -> Option<&ClassInfo> {
        self.classes.get(self.self_type()?)
    }

    /// Which object a method call on `receiver` runs on, seen from the method being lowered:
    /// its own (`self`, `super()`), its creator's or a child's (`self.owner`, `self.subs`: see
    /// [`super::back_references`]), or another.
    pub(super) fn receiver(&self, receiver: &Expr) -> Receiver {
        let self_name = self.self_name();
        let is_self = |e: &Expr| matches!(e, Expr::Name(n) if Some(n.id.as_str()) == self_name);
        match receiver {
            _ if is_self(receiver) => Receiver::Own,
            Expr::Call(inner) if is_super_call(inner) => Receiver::Own,
            Expr::Attribute(attr) if is_self(&attr.value) => {
                let Some(class) = self.self_type() else {
                    return Receiver::Other;
                };
                self.back_references
                    .get(class)
                    .and_then(|attributes| attributes.get(attr.attr.id.as_str()))
                    .map_or(Receiver::Other, |(receiver, _)| *receiver)
            }
            _ => Receiver::Other,
        }
    }

    /// [`Self::self_class`], to update.
    pub(super) fn self_class_mut(&mut self) -> Option<&mut ClassInfo> {
        let class = self.self_type()?.to_string();
        self.classes.get_mut(&class)
    }

    /// In a method: the name of its own object (`self`).
    pub(super) fn self_name(&self) -> Option<&str> {
        self.method_scope().and_then(|s| s.self_name.as_deref())
    }

    /// Joins a name to the module's canonical name.
    pub(super) fn join(&self, name: &str) -> String {
        join_path(&self.module, name, Language::Python)
    }
}

impl SemanticModel<'_> {
    /// Binds, in the innermost scope, every name the body assigns (not descending into nested
    /// functions or classes), plus `params`. Runs before the body is lowered, so a local
    /// definition shadows a library name wherever it is used. Returns the `params` the body
    /// binds again.
    pub(super) fn bind_locals<'p>(&mut self, body: &[Stmt], params: &[&'p str]) -> Vec<&'p str> {
        let mut collector = BoundNames::default();
        for stmt in body {
            collector.visit_stmt(stmt);
        }
        let rebound = params
            .iter()
            .copied()
            .filter(|param| collector.names.iter().any(|(name, _)| name == param))
            .collect();
        let scope = self.scopes.last_mut().expect("a scope");
        scope.bindings.reserve(params.len() + collector.names.len());
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
                Binding::Alias(self.join(&qualified))
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
        rebound
    }

    pub(super) fn lookup(&self, name: &str) -> Option<&Binding> {
        self.lookup_with_depth(name).map(|(_, binding)| binding)
    }

    /// Whether the module imports a test framework (`unittest`, `pytest`): test code, where
    /// lock objects are made and handed around to exercise the lock types themselves.
    pub(super) fn imports_test_framework(&self) -> bool {
        self.scopes.first().is_some_and(|module| {
            module.bindings.values().any(|binding| {
                matches!(binding, Binding::Alias(canonical)
                    if ["unittest", "pytest"].iter().any(|framework| {
                        canonical == framework
                            || canonical.strip_prefix(framework).is_some_and(|rest| rest.starts_with('.'))
                    }))
            })
        })
    }

    /// The binding of a name and the index of the scope that holds it (0: the module).
    pub(super) fn lookup_with_depth(&self, name: &str) -> Option<(usize, &Binding)> {
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
    pub(super) fn absolute_module(&self, module: &str, level: u32) -> String {
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

    /// The type an annotation declared for a name of scope `scope` (see [`Scope::declared`]).
    fn declared_type(&self, scope: usize, name: &str) -> Option<Returns> {
        self.scopes[scope]
            .declared
            .get(name)
            .map(|ty| Returns::One(ty.clone()))
    }

    /// Records the element type of a collection annotation (`list[Action]`, `Sequence[Job]`,
    /// `tuple[Task, ...]`) for a name of the innermost scope.
    pub(super) fn declare_elements(&mut self, name: &str, annotation: &Expr) {
        if let Some(element) = self.collection_element_type(annotation) {
            let scope = self.scopes.last_mut().expect("a scope");
            scope.element_types.insert(name.to_string(), element);
        }
    }

    /// What iterating over a name gives, when an annotation declared it a collection of one
    /// type.
    pub(super) fn element_type_of(&self, name: &str) -> Option<String> {
        self.scopes
            .iter()
            .rev()
            .find(|scope| scope.bindings.contains_key(name))?
            .element_types
            .get(name)
            .cloned()
    }

    /// The element type of a collection annotation.
    fn collection_element_type(&self, annotation: &Expr) -> Option<String> {
        let Expr::Subscript(sub) = annotation else {
            return None;
        };
        let base = self.resolve(&sub.value)?;
        let element = match base.as_str() {
            "typing.Optional" => return self.collection_element_type(&sub.slice),
            "list"
            | "set"
            | "frozenset"
            | "typing.List"
            | "typing.Set"
            | "typing.FrozenSet"
            | "typing.Sequence"
            | "typing.MutableSequence"
            | "typing.Iterable"
            | "typing.Iterator"
            | "typing.Collection"
            | "typing.Deque"
            | "collections.deque"
            | "collections.abc.Sequence"
            | "collections.abc.MutableSequence"
            | "collections.abc.Iterable"
            | "collections.abc.Iterator"
            | "collections.abc.Collection"
            | "collections.abc.Set" => sub.slice.as_ref(),
            // `tuple[Task, ...]`: a tuple of any length of one type.
            "tuple" | "typing.Tuple" => match sub.slice.as_ref() {
                Expr::Tuple(t) if matches!(&t.elts[..], [_, Expr::EllipsisLiteral(_)]) => {
                    &t.elts[0]
                }
                _ => return None,
            },
            _ => return None,
        };
        self.annotation_type(element)
    }

    /// Records the type an annotation declares for a name of the innermost scope.
    pub(super) fn declare(&mut self, name: &str, ty: String) {
        let scope = self.scopes.last_mut().expect("a scope");
        scope.declared.insert(name.to_string(), ty);
    }

    /// Records a binding made by an assignment, in the scope that owns the name.
    pub(super) fn bind(&mut self, name: &str, binding: Binding) {
        let declared_outer = self
            .scopes
            .last()
            .is_some_and(|s| s.outer_names.contains(name));
        let scope = if declared_outer {
            &mut self.scopes[0]
        } else {
            self.scopes.last_mut().expect("a scope")
        };
        scope.opened.remove(name);
        scope.shapes.remove(name);
        scope.bindings.insert(name.to_string(), binding);
    }

    /// The names an `if` test proves to be instances of one class, in its body:
    /// `isinstance(x, T)`, also as one operand of `and` (`isinstance(x, T) and x.ready`).
    pub(super) fn narrowed_by(&self, test: &Expr) -> Vec<(String, String)> {
        match test {
            Expr::BoolOp(op) if op.op == ast::BoolOp::And => op
                .values
                .iter()
                .flat_map(|value| self.narrowed_by(value))
                .collect(),
            Expr::Call(call)
                if call.arguments.keywords.is_empty()
                    && self.resolve(&call.func).as_deref() == Some("isinstance") =>
            {
                match &*call.arguments.args {
                    [Expr::Name(name), class] => self
                        .resolve(class)
                        .map(|class| vec![(name.id.to_string(), class)])
                        .unwrap_or_default(),
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        }
    }

    /// Binds `name` in the innermost scope as an instance of `class` (inside a branch that
    /// proved it), returning the binding to put back when the branch ends.
    pub(super) fn narrow(&mut self, name: &str, class: String) -> Option<Binding> {
        let scope = self.scopes.last_mut().expect("a scope");
        scope
            .bindings
            .insert(name.to_string(), Binding::Local(Some(Returns::One(class))))
    }

    /// Puts back the binding [`Self::narrow`] replaced.
    pub(super) fn widen(&mut self, name: &str, previous: Option<Binding>) {
        let scope = self.scopes.last_mut().expect("a scope");
        match previous {
            Some(binding) => scope.bindings.insert(name.to_string(), binding),
            None => scope.bindings.remove(name),
        };
    }

    /// The call (its index in the function's calls) whose blocking result `name` is bound to
    /// in the innermost scope.
    pub(super) fn opened_by(&self, name: &str) -> Option<u32> {
        self.scopes.last()?.opened.get(name).copied()
    }

    /// Whether an expression is a name bound by an import (`from .state import jobs_lock`).
    pub(super) fn is_imported(&self, expr: &Expr) -> bool {
        matches!(expr, Expr::Name(name)
            if matches!(self.lookup(name.id.as_str()), Some(Binding::Alias(_))))
    }

    /// The canonical dotted name an expression refers to (`t.sleep` → `time.sleep`).
    /// Whether an expression names something defined or imported at module level (a
    /// function, a class's method: `LoadCalc.get_load`), not a local or a builtin.
    fn names_a_definition(&self, expr: &Expr) -> bool {
        matches!(attribute_root(expr), Expr::Name(name)
            if matches!(self.lookup(name.id.as_str()), Some(Binding::Alias(_))))
    }

    pub(super) fn resolve(&self, expr: &Expr) -> Option<String> {
        self.resolve_within(expr, MAX_RESOLUTION_DEPTH)
    }

    /// [`Self::resolve`], looking at most `depth` calls and attributes deep (long method chains
    /// would otherwise make lowering quadratic).
    pub(super) fn resolve_within(&self, expr: &Expr, depth: usize) -> Option<String> {
        let depth = depth.checked_sub(1)?;
        match expr {
            Expr::Name(name) => match self.lookup(name.id.as_str()) {
                Some(Binding::Alias(canonical)) => Some(canonical.clone()),
                // A `@classmethod`'s `cls` is its class (`cls(...)` makes one).
                Some(Binding::Local(Some(Returns::One(class))))
                    if self.method_scope().is_some_and(|scope| {
                        scope.class_method && scope.self_name.as_deref() == Some(&name.id)
                    }) =>
                {
                    Some(class.clone())
                }
                Some(Binding::Local(_)) => None,
                // Unbound names are builtins (`open`, `input`) and resolve to themselves.
                None => Some(name.id.to_string()),
            },
            Expr::Attribute(attr) => {
                if let Some(Returns::One(ty)) = self.type_within(&attr.value, depth) {
                    let first = union_members(&ty).next().unwrap_or_default();
                    return Some(concat(&[first, ".", attr.attr.id.as_str()]));
                }
                let base = self.resolve_within(&attr.value, depth)?;
                if base == "builtins" {
                    // `builtins.open` is the builtin `open`.
                    return Some(attr.attr.id.to_string());
                }
                let name = concat(&[&base, ".", attr.attr.id.as_str()]);
                // `threadutil.Lock` of a module that star-imports `threading`.
                Some(self.library_name(&name).unwrap_or(name))
            }
            // Calling an object calls its class's `__call__` (`sync_to_async(f)()`).
            Expr::Call(_) => match self.type_within(expr, depth) {
                Some(Returns::One(ty)) => Some(concat(&[&ty, ".__call__"])),
                _ => None,
            },
            _ => None,
        }
    }

    /// The library name a name of another module of the project stands for, when that module
    /// re-exports it (see [`super::ProjectReexports`]).
    pub(super) fn library_name(&self, name: &str) -> Option<String> {
        self.reexports.library_name(name, self.tables)
    }

    /// The type of an expression, when the syntax gives evidence for it.
    pub(super) fn type_of(&self, expr: &Expr) -> Option<Returns> {
        self.type_within(expr, MAX_RESOLUTION_DEPTH)
    }

    /// The type of those `alternatives` that have one, when they all agree.
    fn agreed_type<'e>(
        &self,
        alternatives: impl Iterator<Item = &'e Expr>,
        depth: usize,
    ) -> Option<Returns> {
        let mut agreed: Option<Returns> = None;
        for alternative in alternatives {
            match (self.type_within(alternative, depth), &agreed) {
                (None, _) => {}
                (Some(ty), None) => agreed = Some(ty),
                (Some(ty), Some(known)) if ty == *known => {}
                (Some(_), Some(_)) => return None,
            }
        }
        agreed
    }

    pub(super) fn type_within(&self, expr: &Expr, depth: usize) -> Option<Returns> {
        let depth = depth.checked_sub(1)?;
        match expr {
            Expr::Name(name) => match self.lookup_with_depth(name.id.as_str()) {
                Some((scope, Binding::Local(ty))) => ty
                    .clone()
                    .or_else(|| self.declared_type(scope, name.id.as_str())),
                // `lock = self._lock`, `lock = Pool.lock`: the attribute's type.
                Some((scope, Binding::Alias(canonical))) => canonical
                    .rsplit_once('.')
                    .and_then(|(owner, member)| self.attribute_type(owner, member, depth))
                    .map(|ty| Returns::One(ty.to_string()))
                    .or_else(|| self.declared_type(scope, name.id.as_str())),
                None => None,
            },
            // What a coroutine function's table or annotation gives is what awaiting it gives.
            Expr::Await(awaited) => self.type_within(&awaited.value, depth),
            // `loop or asyncio.get_event_loop()`, `lock if lock is not None else Lock()`: the
            // one type the alternatives that have one agree on (a parameter defaulting to
            // `None` has none).
            Expr::BoolOp(either) if either.op == ast::BoolOp::Or => {
                self.agreed_type(either.values.iter(), depth)
            }
            Expr::If(choice) => {
                self.agreed_type([&*choice.body, &*choice.orelse].into_iter(), depth)
            }
            Expr::Call(call) if is_super_call(call) && self.lookup("super").is_none() => {
                let scope = self
                    .scopes
                    .iter()
                    .rev()
                    .find(|s| !matches!(s.kind, ScopeKind::Module | ScopeKind::Lambda))?;
                scope.bases.first().cloned().map(Returns::One)
            }
            Expr::Call(call) => {
                let callee = self.resolve_within(&call.func, depth)?;
                // `get_context("fork")`: a context whose children are forked, not spawned.
                if callee == "multiprocessing.get_context"
                    && matches!(call.arguments.args.first(),
                        Some(Expr::StringLiteral(s)) if s.value.to_str() == "fork")
                {
                    return Some(Returns::One("multiprocessing.context.ForkContext".into()));
                }
                // `PrivateAttr(default=threading.Lock())`, `field(default_factory=Queue)`: a
                // field declaration is what it declares.
                if self.tables.wrappers.contains(&callee) {
                    let keyword = |name: &str| call.arguments.find_keyword(name).map(|k| &k.value);
                    if let Some(value) = keyword("default").or(call.arguments.args.first()) {
                        return self.type_within(value, depth);
                    }
                    let factory = keyword("default_factory").or_else(|| keyword("factory"))?;
                    return self.call_result(&self.resolve_within(factory, depth)?);
                }
                self.call_result(&callee)
            }
            Expr::Attribute(attr) => {
                let member = attr.attr.id.as_str();
                if let Expr::Name(base) = attr.value.as_ref()
                    && let Some(scope) = self.method_scope()
                    && scope.self_name.as_deref() == Some(base.id.as_str())
                {
                    let assigned = scope.assigned_attributes.get(member);
                    if let Some(ty) =
                        assigned.map_or(scope.attribute_types.get(member), Option::as_ref)
                    {
                        return Some(Returns::One(ty.clone()));
                    }
                }
                // An attribute of an object of a class of this file (`repo.lock` with `repo:
                // Repo`, `self.index.counter`, one set in a base class), or of the class itself
                // (`Pool.lock`).
                let owner = match self.type_within(&attr.value, depth) {
                    Some(Returns::One(ty)) => ty,
                    // A class reached by its name only (resolving longer chains again at each
                    // level would make long attribute chains exponential).
                    _ if attr.value.is_name_expr() => self.resolve_within(&attr.value, depth)?,
                    _ => return None,
                };
                self.attribute_type(&owner, member, depth)
                    .or_else(|| self.property_type(&owner, member, depth))
                    .map(|ty| Returns::One(ty.to_string()))
                    // A library type's attribute the tables type (`Path(p).parent`).
                    .or_else(|| {
                        let attribute = concat(&[&owner, ".", member]);
                        self.tables.returns.get(&attribute).cloned()
                    })
            }
            Expr::BinOp(binop) if binop.op == ast::Operator::Div => {
                let left = self.type_within(&binop.left, depth)?;
                (left == Returns::One("pathlib.Path".into())).then_some(left)
            }
            _ => None,
        }
    }

    /// What calling `callee` gives: the tables' or this file's return type, or an instance of
    /// a class named by the naming convention (`Pool`, `_Subscription`).
    fn call_result(&self, callee: &str) -> Option<Returns> {
        if let Some(returns) = self.tables.returns.get(callee) {
            return Some(returns.clone());
        }
        if let Some(returns) = self.function_returns.get(callee) {
            return Some(Returns::One(returns.clone()));
        }
        let last = callee.rsplit('.').next().unwrap_or(callee);
        last.trim_start_matches('_')
            .starts_with(|c: char| c.is_ascii_uppercase())
            .then(|| Returns::One(callee.to_string()))
    }

    /// The type of attribute `member` of the class `class` of this file, set in the class or
    /// inherited from one of its bases (looking at most `depth` bases up).
    pub(super) fn attribute_type(&self, class: &str, member: &str, depth: usize) -> Option<&str> {
        let depth = depth.checked_sub(1)?;
        let info = self.classes.get(class)?;
        if let Some(ty) = info.attributes.get(member) {
            return Some(ty);
        }
        info.bases
            .iter()
            .find_map(|base| self.attribute_type(base, member, depth))
    }

    /// What reading `member` of an object of the class `class` of this file gives when it is
    /// a `@property` of the class or of a base: what its getter returns, if known.
    fn property_type(&self, class: &str, member: &str, depth: usize) -> Option<&str> {
        let depth = depth.checked_sub(1)?;
        let info = self.classes.get(class)?;
        if info.properties.contains(member) {
            return self
                .function_returns
                .get(&concat(&[class, ".", member]))
                .map(String::as_str);
        }
        info.bases
            .iter()
            .find_map(|base| self.property_type(base, member, depth))
    }

    /// For `Class.method` of a class of this file that does not define `method` itself: the
    /// same method of its first base that is not a class of this file either (a library
    /// class: `class ChannelQueue(queue.Queue)` makes `self.get()` `queue.Queue.get`).
    /// The first library class among the bases of a class of this file (through its bases of
    /// this file) that `wanted` accepts.
    pub(super) fn library_base_among(
        &self,
        class: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> Option<String> {
        // Most callees are not classes of this file: no search to set up.
        if !self.classes.contains_key(class) {
            return None;
        }
        let mut pending = vec![class];
        for _ in 0..MAX_RESOLUTION_DEPTH {
            let class = pending.pop()?;
            let info = self.classes.get(class)?;
            for base in info.bases.iter() {
                if wanted(base) {
                    return Some(base.clone());
                }
                if self.classes.contains_key(base.as_str()) {
                    pending.push(base);
                }
            }
        }
        None
    }

    /// For `Class.method` of a class of this file: the method of the class that defines it,
    /// the class itself or the nearest of its bases of this file (`Sub.lock` → `Base.lock`).
    pub(super) fn defining_method(&self, callee: &str) -> Option<String> {
        let (class, method) = callee.rsplit_once('.')?;
        let mut pending = vec![class];
        for _ in 0..MAX_RESOLUTION_DEPTH {
            let class = pending.pop()?;
            let Some(info) = self.classes.get(class) else {
                continue;
            };
            if info.methods.contains(method) {
                return Some(concat(&[class, ".", method]));
            }
            pending.extend(info.bases.iter().rev().map(String::as_str));
        }
        None
    }

    pub(super) fn inherited_from_library(&self, callee: &str) -> Option<String> {
        let (class, method) = callee.rsplit_once('.')?;
        let mut class = class;
        for _ in 0..MAX_RESOLUTION_DEPTH {
            let info = self.classes.get(class)?;
            if info.methods.contains(method) {
                return None;
            }
            let base = info.bases.first()?;
            if !self.classes.contains_key(base.as_str()) {
                return Some(concat(&[base, ".", method]));
            }
            class = base;
        }
        None
    }

    /// The types the file gives its module-level objects and its classes' attributes, by
    /// canonical name, sorted (for [`crate::model::FileModel::types`]).
    pub(super) fn exported_types(&self) -> Vec<(String, String)> {
        let module = self.scopes[0]
            .bindings
            .iter()
            .filter_map(|(name, binding)| match binding {
                Binding::Local(Some(Returns::One(ty))) => Some((self.join(name), ty.clone())),
                _ => None,
            });
        let attributes = self.classes.iter().flat_map(|(class, info)| {
            info.attributes
                .iter()
                .map(move |(attribute, ty)| (concat(&[class, ".", attribute]), ty.clone()))
        });
        // A property reads as an attribute of the type its getter returns.
        let properties = self.classes.iter().flat_map(|(class, info)| {
            info.properties
                .iter()
                .filter(|property| !info.attributes.contains_key(*property))
                .filter_map(move |property| {
                    let getter = concat(&[class, ".", property]);
                    let ty = self.function_returns.get(&getter)?;
                    Some((getter, ty.clone()))
                })
        });
        let mut types: Vec<(String, String)> = module.chain(attributes).chain(properties).collect();
        types.sort();
        types
    }

    /// A name → name map as sorted pairs, for the file's model ([`Self::returned_by`],
    /// [`Self::function_returns`]).
    pub(super) fn sorted(map: &HashMap<String, String>) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> =
            map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        pairs.sort();
        pairs
    }

    /// Records what `def` returns, if its annotation or its `return` statements tell; asked at
    /// the definition, where the names it uses are bound.
    pub(super) fn note_returns(&mut self, canonical: String, def: &ast::StmtFunctionDef) {
        let annotated = def.returns.as_deref().and_then(|a| self.annotation_type(a));
        let returned = || {
            let mut types =
                returned_values(&def.body)
                    .into_iter()
                    .map(|value| match self.type_of(value) {
                        Some(Returns::One(ty)) => Some(ty),
                        _ => None,
                    });
            let first = types.next()??;
            types
                .all(|ty| ty.as_deref() == Some(first.as_str()))
                .then_some(first)
        };
        if let Some(ty) = annotated.or_else(returned) {
            self.function_returns.insert(canonical, ty);
        }
    }

    /// The innermost function scope, if it is a method.
    pub(super) fn method_scope(&self) -> Option<&Scope> {
        let mut scopes = self.scopes.iter().rev();
        let method = scopes.find(|s| s.kind != ScopeKind::Lambda)?;
        let self_name = method.self_name.as_deref()?;
        // `lambda self: …` names another object.
        let rebound = self
            .scopes
            .iter()
            .rev()
            .take_while(|s| s.kind == ScopeKind::Lambda)
            .any(|s| s.bindings.contains_key(self_name));
        (method.kind == ScopeKind::Function && !rebound).then_some(method)
    }

    /// The type an annotation names (`queue.Queue`, `"queue.Queue"`, `Optional[Path]`, `X | None`,
    /// `ClassVar[threading.Lock]`).
    pub(super) fn annotation_type(&self, annotation: &Expr) -> Option<String> {
        match annotation {
            // A bare qualifier (`lock: Final = Lock()`) says nothing of the type, nor does
            // `Any` or a bare `Callable` (what the project passes there does).
            Expr::Name(_) | Expr::Attribute(_) => self.resolve(annotation).filter(|name| {
                !TYPE_QUALIFIERS.contains(&name.as_str()) && !UNTYPED.contains(&name.as_str())
            }),
            Expr::StringLiteral(literal) => {
                let text = literal.value.to_str();
                let parsed = ruff_python_parser::parse_expression(text).ok()?;
                self.annotation_type(parsed.expr())
            }
            Expr::Subscript(sub) => {
                let base = self.resolve(&sub.value)?;
                match base.as_str() {
                    // Qualifiers of the type they wrap (`__lock: ClassVar[threading.Lock]`).
                    "typing.Optional" => self.annotation_type(&sub.slice),
                    qualifier if TYPE_QUALIFIERS.contains(&qualifier) => {
                        self.annotation_type(&sub.slice)
                    }
                    // `Annotated[queue.Queue, "jobs"]`: the first element is the type.
                    "typing.Annotated" | "typing_extensions.Annotated" => {
                        match sub.slice.as_ref() {
                            Expr::Tuple(tuple) => self.annotation_type(tuple.elts.first()?),
                            _ => None,
                        }
                    }
                    // Says nothing of what calling it runs: what the project passes there does
                    // (see `FileModel::parameter_attributes`).
                    "typing.Callable" | "collections.abc.Callable" => None,
                    "typing.Union" | "typing_extensions.Union" => match sub.slice.as_ref() {
                        Expr::Tuple(tuple) => self.union_type(tuple.elts.iter()),
                        one => self.annotation_type(one),
                    },
                    _ => Some(base),
                }
            }
            Expr::BinOp(binop) if binop.op == ast::Operator::BitOr => {
                self.union_type([&*binop.left, &*binop.right].into_iter())
            }
            _ => None,
        }
    }

    /// The type a union annotation names (`Union[A, B]`, `A | B | None`): its one type other
    /// than `None`, or its members joined by [`UNION`] (see [`union_members`]); `None` if a
    /// member names no type.
    fn union_type<'e>(&self, members: impl Iterator<Item = &'e Expr>) -> Option<String> {
        let mut types: Vec<String> = Vec::new();
        for member in members.filter(|member| !member.is_none_literal_expr()) {
            for ty in union_members(&self.annotation_type(member)?) {
                if !types.iter().any(|known| known == ty) {
                    types.push(ty.to_string());
                }
            }
        }
        if types.len() > 1 {
            self.has_unions.set(true);
        }
        (!types.is_empty()).then(|| types.join("|"))
    }

    /// Binds assignment targets to the value's type or alias.
    pub(super) fn assign(&mut self, target: &Expr, value: Option<&Expr>, ty: Option<Returns>) {
        match target {
            // `Point = namedtuple(…)`: the class `bind_locals` bound it to stays.
            Expr::Name(_) if matches!(value, Some(Expr::Call(call)) if makes_class(&call.func)) => {
            }
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
            // `self.q = multiprocessing.Queue(n)` in a method.
            Expr::Attribute(attr)
                if matches!(attr.value.as_ref(), Expr::Name(base)
                if self.method_scope().and_then(|s| s.self_name.as_deref()) == Some(base.id.as_str())) =>
            {
                let ty = match ty {
                    Some(Returns::One(ty)) => Some(ty),
                    _ => None,
                };
                let method = self
                    .scopes
                    .iter_mut()
                    .rev()
                    .find(|s| s.kind != ScopeKind::Lambda);
                if let Some(method) = method {
                    method
                        .assigned_attributes
                        .insert(attr.attr.id.to_string(), ty);
                }
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

    /// The type of an unannotated parameter: that of the object its default makes
    /// (`lock=threading.Lock()`, made once when the function is defined), or the one its name
    /// gives by convention (`loop`: an `asyncio.AbstractEventLoop`, the `[parameter-names]`
    /// table) when its default, if any, is `None`.
    pub(super) fn unannotated_parameter_type(
        &self,
        name: &str,
        default: Option<&Expr>,
    ) -> Option<String> {
        match default {
            Some(made @ Expr::Call(_)) => match self.type_of(made) {
                Some(Returns::One(ty)) => Some(ty),
                _ => None,
            },
            Some(other) if !other.is_none_literal_expr() => None,
            _ => self.tables.parameter_names.get(name).cloned(),
        }
    }

    /// Class attribute types: class-level annotations and `self.x = Ctor()` / `self.x: T` in
    /// its methods.
    pub(super) fn class_attribute_types<'c>(
        &mut self,
        class: &'c ast::StmtClassDef,
    ) -> ClassAttributes<'c> {
        let mut types = HashMap::default();
        let mut assignments = Vec::new();
        let mut assigned_by: HashMap<String, HashSet<String>> = HashMap::default();
        let mut returned_by: HashMap<String, String> = HashMap::default();
        let mut given_by = Vec::new();
        let mut named_values: HashMap<String, Option<String>> = HashMap::default();
        let mut copied: HashMap<String, Option<String>> = HashMap::default();
        let mut method_results = Vec::new();
        // One value per attribute, or `None` when two assignments disagree.
        let agree = |values: &mut HashMap<String, Option<String>>, attr: String, value: String| {
            values
                .entry(attr)
                .and_modify(|known| {
                    if known.as_ref() != Some(&value) {
                        *known = None;
                    }
                })
                .or_insert(Some(value));
        };
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
                    // The annotation, else the value (`_lock: ClassVar = threading.Lock()`).
                    let value_type = || match ann.value.as_deref().map(|v| self.type_of(v)) {
                        Some(Some(Returns::One(ty))) => Some(ty),
                        _ => None,
                    };
                    if let (Expr::Name(name), Some(ty)) = (
                        ann.target.as_ref(),
                        self.annotation_type(&ann.annotation).or_else(value_type),
                    ) {
                        types.insert(name.id.to_string(), ty);
                    }
                }
                Stmt::FunctionDef(method) => {
                    let Some(self_name) = first_param(method) else {
                        continue;
                    };
                    let mut finder = SelfAssignments {
                        self_name,
                        class_body: &class.body,
                        found: Vec::new(),
                    };
                    finder.visit_body(&method.body);
                    // `m = Manager()` then `self._lock = m.Lock()`: the method's locals type
                    // what it stores, while its attributes are read.
                    let locals = finder.found.iter().any(|(_, value, annotation)| {
                        annotation.is_none()
                            && value.is_some_and(|value| {
                                matches!(local_root(value), Some(name) if name != self_name
                                    && named_parameter(&method.parameters, name).is_none())
                            })
                    });
                    if locals {
                        self.push_local_types(&method.body);
                    }
                    // Closures in the method assign through the same `self`.
                    let mut assigned = SelfAssignedNames {
                        self_name,
                        names: HashSet::default(),
                    };
                    assigned.visit_body(&method.body);
                    assigned_by.insert(method.name.id.to_string(), assigned.names);
                    // `def __init__(self, loop: asyncio.AbstractEventLoop): self.loop = loop`.
                    let parameter_type = |value: &Expr| {
                        let Expr::Name(name) = value else {
                            return None;
                        };
                        let parameter = named_parameter(&method.parameters, name.id.as_str())?;
                        match parameter.parameter.annotation.as_deref() {
                            Some(annotation) => self.annotation_type(annotation),
                            None => self.unannotated_parameter_type(
                                name.id.as_str(),
                                parameter.default.as_deref(),
                            ),
                        }
                    };
                    // A parameter, or an attribute of one (`self.lock = store.lock`).
                    let is_parameter = |value: &Expr| {
                        let Expr::Name(name) = attribute_root(value) else {
                            return false;
                        };
                        let parameters = &method.parameters;
                        named_parameter(parameters, name.id.as_str()).is_some()
                            || [&parameters.vararg, &parameters.kwarg]
                                .into_iter()
                                .flatten()
                                .any(|p| p.name.id == name.id)
                    };
                    // `self.storage = storage` from an unannotated parameter.
                    let untyped_parameter = |value: &Expr| {
                        let Expr::Name(name) = value else {
                            return None;
                        };
                        let parameters = &method.parameters;
                        let positional = parameters.posonlyargs.iter().chain(&parameters.args);
                        let (position, parameter) = positional
                            .enumerate()
                            .map(|(i, p)| (u32::try_from(i).unwrap_or(u32::MAX), p))
                            .chain(parameters.kwonlyargs.iter().map(|p| (u32::MAX, p)))
                            .find(|(_, p)| p.parameter.name.id == name.id)?;
                        (parameter.parameter.annotation.is_none() && position != 0)
                            .then(|| (position, key(name.id.as_str())))
                    };
                    for (attr, value, annotation) in finder.found {
                        if let Some(value) = value {
                            assignments.push((attr.clone(), value));
                        }
                        if annotation.is_none()
                            && let Some((position, keyword)) = value.and_then(untyped_parameter)
                            && let Some(Expr::Name(parameter)) = value
                            && let Some(fallback) = self.rebound_type(&method.body, parameter)
                        {
                            let method = method.name.id.to_string();
                            given_by.push((attr.clone(), method, position, keyword, fallback));
                        }
                        let ty = annotation
                            .and_then(|a| self.annotation_type(a))
                            .or_else(|| value.and_then(parameter_type))
                            .or_else(|| match value.and_then(|v| self.type_of(v)) {
                                Some(Returns::One(ty)) => Some(ty),
                                _ => None,
                            });
                        match (ty, value) {
                            (Some(ty), _) => {
                                types.insert(attr, ty);
                            }
                            (None, Some(Expr::Call(call))) => {
                                if let Some(callee) = self.resolve(&call.func) {
                                    returned_by.insert(attr, callee);
                                } else if let Some(chain) = self.method_of_result(call, method) {
                                    method_results.push(chain.1.clone());
                                    returned_by.insert(attr, concat(&[&chain.0, "().", &chain.1]));
                                }
                            }
                            // (What a parameter or a local gives is not known: the one named
                            // value is what the call may reach.)
                            (None, Some(named @ (Expr::Attribute(_) | Expr::Name(_))))
                                if !is_parameter(named) && self.names_a_definition(named) =>
                            {
                                if let Some(target) = self.resolve(named) {
                                    agree(&mut named_values, attr, target);
                                }
                            }
                            // `self.lock = self.adb.lock`: the other object's attribute.
                            (None, Some(Expr::Attribute(copy))) => {
                                if let Some(path) = self_path(copy, self_name)
                                    && path.split('.').next() != Some(attr.as_str())
                                {
                                    agree(&mut copied, attr, path);
                                }
                            }
                            _ => {}
                        }
                    }
                    if locals {
                        self.scopes.pop();
                    }
                }
                _ => {}
            }
        }
        returned_by.retain(|attr, _| !types.contains_key(attr));
        for method in method_results {
            self.export_method_returns(&method);
        }
        given_by.retain(|(attr, ..)| !types.contains_key(attr) && !returned_by.contains_key(attr));
        named_values.retain(|attr, _| !types.contains_key(attr));
        copied.retain(|attr, _| !types.contains_key(attr) && !returned_by.contains_key(attr));
        ClassAttributes {
            types,
            assignments,
            assigned_by,
            returned_by,
            given_by,
            named_values,
            copied,
        }
    }

    pub(super) fn qualified(&self, name: &str) -> String {
        let prefix = &self.scopes.last().expect("a scope").prefix;
        if prefix.is_empty() {
            name.to_string()
        } else {
            concat(&[prefix, ".", name])
        }
    }
}

/// The path after `self` of an attribute of an attribute of `self` (`self.adb.lock`:
/// `adb.lock`).
fn self_path(attribute: &ast::ExprAttribute, self_name: &str) -> Option<String> {
    let mut names = vec![attribute.attr.id.as_str()];
    let mut value = attribute.value.as_ref();
    while let Expr::Attribute(owner) = value {
        names.push(owner.attr.id.as_str());
        value = &owner.value;
    }
    let from_self = matches!(value, Expr::Name(name) if name.id.as_str() == self_name);
    (from_self && names.len() > 1).then(|| {
        names.reverse();
        names.join(".")
    })
}

/// Collects the names a block of statements binds, without entering nested scopes.
#[derive(Default)]
pub(super) struct BoundNames {
    /// Bound names, and whether each is a `def`/`class` (a project definition).
    pub(super) names: Vec<(String, bool)>,
    pub(super) outer_names: HashSet<String>,
    /// The names declared `global` (not `nonlocal`).
    pub(super) global_names: HashSet<String>,
}

impl BoundNames {
    /// Notes the names an assignment or loop target binds (`x`, `a, (b, c)`, `*rest`).
    pub(super) fn target(&mut self, target: &Expr) {
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
            // `Point = namedtuple("Point", …)` defines a class, as a `class` statement does.
            Stmt::Assign(assign) => match (assign.targets.as_slice(), assign.value.as_ref()) {
                ([Expr::Name(name)], Expr::Call(call)) if makes_class(&call.func) => {
                    self.names.push((name.id.to_string(), true));
                }
                (targets, _) => targets.iter().for_each(|t| self.target(t)),
            },
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

/// Joins the members of a union type (`app.Gossip|app.Wallet` for `Union[Gossip, Wallet]`).
/// Name and type queries take a union's first member for it; a call on one may run the
/// method of any member (see [`crate::model::Call::alternatives`]).
/// (A `char`: searching for one is a `memchr`, for a one-byte `&str` a two-way search.)
pub(super) const UNION: char = '|';

/// The members of a type: itself, or each member of a union.
pub(super) fn union_members(ty: &str) -> impl Iterator<Item = &str> {
    ty.split(UNION)
}

/// Annotations that qualify the type they wrap (`ClassVar[threading.Lock]`); bare, they name
/// no type (`lock: Final = Lock()`).
const TYPE_QUALIFIERS: [&str; 4] = [
    "typing.ClassVar",
    "typing.Final",
    "typing_extensions.ClassVar",
    "typing_extensions.Final",
];

/// Annotations that say nothing of what a value is.
const UNTYPED: [&str; 5] = [
    "typing.Any",
    "typing_extensions.Any",
    "typing.Callable",
    "collections.abc.Callable",
    "builtins.object",
];

/// Finds `self.attr = value` and `self.attr: T = value` in a method body, also element by
/// element (`self.app, self.buffer = Application(), Buffer()`, or the tuple a method of the
/// class returns: `self.app, self.buffer = self._create()`).
pub(super) struct SelfAssignments<'a> {
    pub(super) self_name: &'a str,
    /// The body of the class whose method is searched.
    pub(super) class_body: &'a [Stmt],
    pub(super) found: Vec<(String, Option<&'a Expr>, Option<&'a Expr>)>,
}

impl<'a> SelfAssignments<'a> {
    /// The elements a tuple `value` has (`a, b`, or what `self.method()` of the class returns
    /// in each `return`, when those are tuples as long as `arity`).
    fn elements(&self, value: &'a Expr, arity: usize) -> Option<&'a [Expr]> {
        let elements = |value: &'a Expr| match value {
            Expr::Tuple(tuple) if tuple.elts.len() == arity => Some(&tuple.elts[..]),
            _ => None,
        };
        if let Some(elements) = elements(value) {
            return Some(elements);
        }
        let Expr::Call(call) = value else {
            return None;
        };
        let Expr::Attribute(attr) = call.func.as_ref() else {
            return None;
        };
        if !matches!(attr.value.as_ref(), Expr::Name(n) if n.id.as_str() == self.self_name) {
            return None;
        }
        let method = self.class_body.iter().find_map(|stmt| match stmt {
            Stmt::FunctionDef(def) if def.name.id == attr.attr.id => Some(def),
            _ => None,
        })?;
        let returned = returned_values(&method.body);
        let first = elements(returned.first()?)?;
        returned
            .iter()
            .all(|r| elements(r).is_some())
            .then_some(first)
    }

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
                    } else if let Expr::Tuple(targets) = target
                        && let Some(values) = self.elements(&assign.value, targets.elts.len())
                    {
                        for (target, value) in targets.elts.iter().zip(values) {
                            if let Some(attr) = self.self_attribute(target) {
                                self.found.push((attr, Some(value), None));
                            }
                        }
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

/// The values of a body's `return` statements (not in nested functions or classes); a bare
/// `return` or `return None` gives nothing a type.
pub(super) fn returned_values(body: &[Stmt]) -> Vec<&Expr> {
    #[derive(Default)]
    struct Returned<'b>(Vec<&'b Expr>, bool);
    impl<'b> Visitor<'b> for Returned<'b> {
        fn visit_stmt(&mut self, stmt: &'b Stmt) {
            match stmt {
                Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
                Stmt::Return(ret) => match ret.value.as_deref() {
                    Some(value) if !value.is_none_literal_expr() => self.0.push(value),
                    _ => self.1 = true,
                },
                _ => stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_stmt(self, stmt)
                }),
            }
        }
        fn visit_expr(&mut self, _: &'b Expr) {}
    }
    let mut found = Returned::default();
    found.visit_body(body);
    // A function that may return nothing is not typed by what it returns elsewhere.
    if found.1 { Vec::new() } else { found.0 }
}

impl SemanticModel<'_> {
    /// What a method gives one of its parameters itself (`if manager is None: manager =
    /// BaseManager()`): `Some(None)` when it never rebinds it, `Some(Some(ty))` when every
    /// rebinding is of type `ty`, `None` when one is of another or unknown type.
    fn rebound_type(&self, body: &[Stmt], parameter: &ast::ExprName) -> Option<Option<String>> {
        let mut rebound = None;
        for value in assigned_values(body, parameter.id.as_str()) {
            let Some(Returns::One(ty)) = self.type_of(value) else {
                return None;
            };
            match &rebound {
                Some(other) if *other != ty => return None,
                _ => rebound = Some(ty),
            }
        }
        Some(rebound)
    }

    /// For `make().Lock()`, or `Lock()` of a local assigned once from `make()` in `function`:
    /// the function whose result the method is called on, and the method's name, when the
    /// function's return type is for the project to tell (`make` defined in another module).
    fn method_of_result(
        &self,
        call: &ast::ExprCall,
        function: &ast::StmtFunctionDef,
    ) -> Option<(String, String)> {
        let Expr::Attribute(method) = call.func.as_ref() else {
            return None;
        };
        let receiver = match method.value.as_ref() {
            Expr::Call(receiver) => receiver,
            Expr::Name(local) => match assigned_values(&function.body, local.id.as_str())[..] {
                [Expr::Call(receiver)] => receiver,
                _ => return None,
            },
            _ => return None,
        };
        let callee = self.resolve(&receiver.func)?;
        if self.call_result(&callee).is_some() {
            return None;
        }
        Some((callee, method.attr.id.to_string()))
    }

    /// Tells the project what the library methods named `method` return (`SyncManager.Lock`
    /// gives a `multiprocessing.Lock`), for a result the project types (see
    /// [`Self::method_of_result`]).
    fn export_method_returns(&mut self, method: &str) {
        for (callee, returns) in &self.tables.returns {
            if let Returns::One(ty) = returns
                && callee.rsplit_once('.').is_some_and(|(_, m)| m == method)
            {
                self.function_returns.insert(callee.clone(), ty.clone());
            }
        }
    }

    /// Pushes a function scope that binds the locals of `body` (a method read before it is
    /// lowered) to the type all their assignments agree on (`manager = Manager()`; `lock =
    /// manager.Lock()` after it). The caller pops it.
    fn push_local_types(&mut self, body: &[Stmt]) {
        let mut bound = BoundNames::default();
        bound.visit_body(body);
        let mut scope = Scope::new(ScopeKind::Function, "");
        for (name, _) in &bound.names {
            scope.bindings.insert(name.clone(), Binding::Local(None));
        }
        self.scopes.push(scope);
        let assigned = assignments(body, None);
        // Twice, so that a local typed from another one (assigned before it) gets its type.
        for _ in 0..2 {
            for (name, values) in &assigned {
                let mut agreed = None;
                for &value in values {
                    match (self.type_of(value), &agreed) {
                        (Some(ty), None) => agreed = Some(ty),
                        (Some(ty), Some(known)) if ty == *known => {}
                        _ => {
                            agreed = None;
                            break;
                        }
                    }
                }
                if let Some(ty) = agreed {
                    let scope = self.scopes.last_mut().expect("the pushed scope");
                    scope
                        .bindings
                        .insert(name.clone(), Binding::Local(Some(ty)));
                }
            }
        }
    }
}

/// The name an expression is an attribute path or a call chain on (`m` of `m.Lock()`,
/// `lock`).
fn local_root(value: &Expr) -> Option<&str> {
    match value {
        Expr::Name(name) => Some(name.id.as_str()),
        Expr::Attribute(attribute) => local_root(&attribute.value),
        Expr::Call(call) => local_root(&call.func),
        _ => None,
    }
}

/// The values a block assigns to a local `name` (`name = value`), outside nested functions
/// and classes.
fn assigned_values<'b>(body: &'b [Stmt], name: &str) -> Vec<&'b Expr> {
    assignments(body, Some(name))
        .remove(name)
        .unwrap_or_default()
}

/// The values a block assigns to each local (or only to `only`) by a plain `name = value`,
/// outside nested functions and classes, in one walk.
fn assignments<'b>(body: &'b [Stmt], only: Option<&str>) -> HashMap<String, Vec<&'b Expr>> {
    struct Assignments<'n, 'b> {
        only: Option<&'n str>,
        values: HashMap<String, Vec<&'b Expr>>,
    }
    impl<'b> Visitor<'b> for Assignments<'_, 'b> {
        fn visit_stmt(&mut self, stmt: &'b Stmt) {
            match stmt {
                Stmt::FunctionDef(_) | Stmt::ClassDef(_) => return,
                Stmt::Assign(assign) => {
                    for target in &assign.targets {
                        if let Expr::Name(name) = target
                            && self.only.is_none_or(|only| only == name.id.as_str())
                        {
                            let values = self.values.entry(name.id.to_string()).or_default();
                            values.push(&assign.value);
                        }
                    }
                }
                _ => {}
            }
            stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                visitor::walk_stmt(self, stmt)
            });
        }
        fn visit_expr(&mut self, _: &'b Expr) {}
    }
    let mut found = Assignments {
        only,
        values: HashMap::default(),
    };
    found.visit_body(body);
    found.values
}

/// The attributes `self.x = …` assigns in a method, nested functions included.
struct SelfAssignedNames<'a> {
    self_name: &'a str,
    names: HashSet<String>,
}

impl<'b> Visitor<'b> for SelfAssignedNames<'_> {
    fn visit_stmt(&mut self, stmt: &'b Stmt) {
        let targets: &[Expr] = match stmt {
            Stmt::Assign(assign) => &assign.targets,
            Stmt::AnnAssign(ann) => std::slice::from_ref(ann.target.as_ref()),
            Stmt::AugAssign(aug) => std::slice::from_ref(aug.target.as_ref()),
            Stmt::ClassDef(_) => return,
            _ => &[],
        };
        for target in targets {
            if let Expr::Attribute(attr) = target
                && matches!(attr.value.as_ref(), Expr::Name(n) if n.id.as_str() == self.self_name)
            {
                self.names.insert(attr.attr.id.to_string());
            }
        }
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
            visitor::walk_stmt(self, stmt)
        });
    }

    fn visit_expr(&mut self, _: &'b Expr) {}
}

/// Whether a callee makes a class (`collections.namedtuple`, `typing.NamedTuple`), by its name
/// as written.
fn makes_class(func: &Expr) -> bool {
    let name = match func {
        Expr::Name(name) => name.id.as_str(),
        Expr::Attribute(attr) => attr.attr.id.as_str(),
        _ => return false,
    };
    matches!(name, "namedtuple" | "NamedTuple")
}

/// The functions defined directly in `body` that it uses as values (`return wrapper`,
/// `pool.map(work, …)`, `self.cb = on_done`), not only calls.
pub(super) fn escaping_functions(body: &[Stmt]) -> HashSet<String> {
    struct Uses<'n> {
        defined: &'n HashSet<String>,
        escaping: HashSet<String>,
    }
    impl<'a> Visitor<'a> for Uses<'_> {
        fn visit_stmt(&mut self, stmt: &'a Stmt) {
            match stmt {
                // A nested function's own body is its own.
                Stmt::FunctionDef(def) => {
                    for decorator in &def.decorator_list {
                        self.visit_expr(&decorator.expression);
                    }
                }
                Stmt::ClassDef(_) => {}
                _ => stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_stmt(self, stmt)
                }),
            }
        }
        fn visit_expr(&mut self, expr: &'a Expr) {
            match expr {
                Expr::Call(call) => {
                    if !matches!(call.func.as_ref(), Expr::Name(_)) {
                        self.visit_expr(&call.func);
                    }
                    for argument in call.arguments.args.iter() {
                        self.visit_expr(argument);
                    }
                    for keyword in call.arguments.keywords.iter() {
                        self.visit_expr(&keyword.value);
                    }
                }
                Expr::Name(name) if self.defined.contains(name.id.as_str()) => {
                    self.escaping.insert(name.id.to_string());
                }
                _ => stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_expr(self, expr)
                }),
            }
        }
    }
    /// The functions the body defines, also inside its `for`, `if`, `with` and `try` blocks
    /// (not inside nested functions or classes).
    struct Defined(HashSet<String>);
    impl<'a> Visitor<'a> for Defined {
        fn visit_stmt(&mut self, stmt: &'a Stmt) {
            match stmt {
                Stmt::FunctionDef(def) => {
                    self.0.insert(def.name.id.to_string());
                }
                Stmt::ClassDef(_) => {}
                _ => stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_stmt(self, stmt)
                }),
            }
        }
        fn visit_expr(&mut self, _: &'a Expr) {}
    }
    let mut found = Defined(HashSet::default());
    found.visit_body(body);
    let defined = found.0;
    if defined.is_empty() {
        return HashSet::default();
    }
    let mut uses = Uses {
        defined: &defined,
        escaping: HashSet::default(),
    };
    for stmt in body {
        uses.visit_stmt(stmt);
    }
    uses.escaping
}

/// A function's parameter (positional or keyword-only) named `name`.
fn named_parameter<'p>(
    parameters: &'p ast::Parameters,
    name: &str,
) -> Option<&'p ast::ParameterWithDefault> {
    parameters
        .posonlyargs
        .iter()
        .chain(&parameters.args)
        .chain(&parameters.kwonlyargs)
        .find(|p| p.parameter.name.id.as_str() == name)
}
