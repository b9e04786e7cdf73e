//! The traversal core: walks statements and expressions in order, pushes and pops scopes at
//! definitions, binds imports, and dispatches each node to the concern that lowers it.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Stmt};
use std::rc::Rc;

use super::Lowerer;
use super::conditions::{always_leaves, raises, single_return};
use super::locks::{LockUses, awaits_in};
use super::semantic::{Binding, BoundNames, ClassAttributes, ClassInfo, Scope, ScopeKind};
use super::syntax::{
    catches, catches_would_block, claims_thread_safety, first_param, is_abstract_stub,
    is_classmethod, is_main_guard, is_new_container, is_staticmethod, released_on_exceptions, span,
};
use crate::knowledge::Returns;
use crate::model::{
    Class, Context, Function, FunctionKind, ParameterAttribute, Pointless, PointlessLock, RETURNED,
    Receiver, ResultUse, concat, name_hash, parts_hash, read_position,
};

/// The methods of a task or future that register or remove a callback with it: calling one
/// neither inspects the task nor keeps a reference to it.
const TASK_CALLBACK_METHODS: &[&str] = &["add_done_callback", "remove_done_callback"];

/// The attributes of a coroutine object: reading one (`coro.close()`) uses the coroutine.
const COROUTINE_ATTRIBUTES: &[&str] = &[
    "send",
    "throw",
    "close",
    "cr_await",
    "cr_code",
    "cr_frame",
    "cr_running",
    "cr_origin",
    "cr_suspended",
    "__await__",
    "__name__",
    "__qualname__",
    "__class__",
];

impl<'a> Lowerer<'a> {
    /// Whether a test on what `os.fork()` returned is true in the child (`pid == 0`,
    /// `not pid`: `Some(true)`) or false there (`pid`, `pid != 0`, `pid > 0`: `Some(false)`).
    fn forked_child_test(&self, test: &Expr) -> Option<bool> {
        // What `os.fork()` returned: a local bound to it, or the call itself (`if os.fork() ==
        // 0:`).
        let is_pid = |expr: &Expr| match expr {
            Expr::Name(n) => self
                .fork_pids
                .iter()
                .any(|(f, pid)| *f == self.current && pid == n.id.as_str()),
            Expr::Call(call) => {
                call.arguments.is_empty()
                    && matches!(
                        self.semantic.resolve(&call.func).as_deref(),
                        Some("os.fork" | "os.fork1")
                    )
            }
            _ => false,
        };
        let is_zero = |expr: &Expr| matches!(expr, Expr::NumberLiteral(n) if n.value == ast::Number::Int(ast::Int::ZERO));
        match test {
            Expr::UnaryOp(not) if not.op == ast::UnaryOp::Not && is_pid(&not.operand) => Some(true),
            Expr::Name(_) if is_pid(test) => Some(false),
            Expr::Compare(compare) => {
                match (&*compare.left, &*compare.ops, &*compare.comparators) {
                    (left, [op], [right]) if is_zero(right) && is_pid(left) => match op {
                        ast::CmpOp::Eq => Some(true),
                        ast::CmpOp::NotEq | ast::CmpOp::Gt => Some(false),
                        _ => None,
                    },
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Binds an imported name; at module level it is also a re-export of the module.
    pub(super) fn bind_import(&mut self, name: &str, canonical: String) {
        if self.keeps_import(name) {
            return;
        }
        // `from compat import Lock` where `compat` re-exports `threading.Lock`.
        let canonical = self.semantic.library_name(&canonical).unwrap_or(canonical);
        if self.semantic.at_module_scope() {
            self.model
                .aliases
                .push((self.model.join(name), canonical.clone()));
        }
        self.semantic.bind(name, Binding::Alias(canonical));
    }

    /// Whether binding `name` here is a fallback that leaves its import in place (`except
    /// ImportError: import dummy_threading as threading`, or `threading = None`): the module
    /// the `try` body imported is the one the code is written for.
    fn keeps_import(&self, name: &str) -> bool {
        self.import_fallbacks > 0 && matches!(self.semantic.lookup(name), Some(Binding::Alias(_)))
    }

    /// Whether a method is a property getter (`@property`, `@functools.cached_property`).
    fn is_property(&self, method: &ast::StmtFunctionDef) -> bool {
        method.decorator_list.iter().any(|decorator| {
            matches!(
                self.semantic.resolve(&decorator.expression).as_deref(),
                Some("property" | "builtins.property" | "functools.cached_property")
            )
        })
    }

    /// Records that the current function reads a name's value.
    pub(super) fn read_name(&mut self, name: &ast::ExprName) {
        self.note_read(name_hash(name.id.as_str()), name.range.start().to_usize());
    }

    /// Records that the current function uses a name only as a call's result would be used
    /// (`x.size`, `for i in x`): see [`crate::model::Function::reads`].
    pub(super) fn read_as_result(&mut self, name: &ast::ExprName) {
        let hash = parts_hash(&[name.id.as_str(), "."]);
        self.note_read(hash, name.range.start().to_usize());
    }

    /// Records a read (see [`crate::model::Function::reads`]) at `at`.
    fn note_read(&mut self, hash: u64, at: usize) {
        let at = read_position(at, self.loop_end);
        let last = self.model.functions[self.current]
            .reads
            .entry(hash)
            .or_insert(at);
        *last = (*last).max(at);
    }

    /// Whether an expression makes a new object: a call of its class, or of a library
    /// factory the tables type (not a helper of the project, which may return a shared one).
    fn constructs(&self, value: &Expr) -> bool {
        let Expr::Call(call) = value else {
            return false;
        };
        let Some(Returns::One(ty)) = self.semantic.type_of(value) else {
            return false;
        };
        self.semantic
            .resolve(&call.func)
            .is_some_and(|callee| callee == ty || self.tables.returns.contains_key(&callee))
    }

    pub(super) fn function_def(&mut self, def: &'a ast::StmtFunctionDef) {
        for decorator in &def.decorator_list {
            self.visit_expr(&decorator.expression);
        }
        for param in def.parameters.iter_non_variadic_params() {
            if let Some(default) = &param.default {
                self.visit_expr(default);
            }
        }
        let name = self.semantic.qualified(def.name.id.as_str());
        let canonical = self.model.join(&name);
        self.note_lock_helper(&canonical, def);
        self.note_thread_id_helper(&canonical, &def.body);
        self.note_lock_decorator(&canonical, def);
        self.note_argument_returned(&canonical, def);
        // In the enclosing scope, where the decorators' arguments are evaluated.
        let decorator_locks = self.decorator_locks(def);
        let in_class = self
            .semantic
            .scopes
            .last()
            .is_some_and(|s| s.kind == ScopeKind::Class);
        let index = self.model.functions.len();
        self.model.functions.push(Function::new(
            name.clone(),
            canonical.clone(),
            FunctionKind::Function,
            def.is_async,
            span(&def.name),
            Some(self.current),
        ));
        self.model.functions[index].parameters = self.parameters(def, in_class);
        // Public: also the special methods (`__init__`, `__call__`), which the class's users
        // run through its syntax.
        let defined = def.name.id.as_str();
        let public = !defined.starts_with('_')
            || (defined.len() > 4 && defined.starts_with("__") && defined.ends_with("__"));
        let class_contract = in_class
            && public
            && self
                .semantic
                .scopes
                .last()
                .is_some_and(|class| class.thread_safe_contract);
        self.model.functions[index].thread_safe_contract =
            class_contract || claims_thread_safety(&def.body);

        let decorators = def
            .decorator_list
            .iter()
            .filter_map(|d| match &d.expression {
                Expr::Call(factory) => self.semantic.resolve(&factory.func),
                expression => self.semantic.resolve(expression),
            });
        self.model.functions[index].decorators = decorators.collect();
        let abstract_ = self.model.functions[index]
            .decorators
            .iter()
            .any(|d| d == "abc.abstractmethod");
        self.model.functions[index].abstract_stub = in_class && is_abstract_stub(def, abstract_);
        let mut scope = Scope::new(ScopeKind::Function, &name);
        scope.escaping = super::semantic::escaping_functions(&def.body);
        let mut self_type = None;
        if in_class && !is_staticmethod(def) {
            let class = self.semantic.scopes.last().expect("a class scope");
            scope.self_name = first_param(def).map(str::to_string);
            scope.class_method = is_classmethod(def);
            scope.attribute_types = Rc::clone(&class.attribute_types);
            scope.bases = Rc::clone(&class.bases);
            self_type = Some(self.model.join(&class.prefix));
        }
        self.semantic.scopes.push(scope);
        let params: Vec<&str> = def
            .parameters
            .iter()
            .map(|p| p.name().id.as_str())
            .collect();
        let rebound = self.semantic.bind_locals(&def.body, &params);
        if let (Some(self_name), Some(self_type)) = (first_param(def), self_type) {
            self.semantic
                .bind(self_name, Binding::Local(Some(Returns::One(self_type))));
        }
        for param in def.parameters.iter() {
            if let Some(annotation) = param.annotation()
                && !param.is_variadic()
            {
                self.semantic
                    .declare_elements(param.name().id.as_str(), annotation);
            }
            let ty = match param.annotation() {
                Some(annotation) => self.semantic.annotation_type(annotation),
                None if param.is_variadic() => None,
                None => self
                    .semantic
                    .unannotated_parameter_type(param.name().id.as_str(), param.default()),
            };
            if let Some(ty) = ty {
                self.semantic.declare(param.name().id.as_str(), ty.clone());
                self.semantic.bind(
                    param.name().id.as_str(),
                    Binding::Local(Some(Returns::One(ty))),
                );
            }
        }
        let saved = (
            self.current,
            self.context,
            std::mem::take(&mut self.local_locks),
            // A function defined inside a `while` loop runs in it: its condition waits are
            // re-checked by that loop (kept, not reset, for the nested body).
            self.loop_depth,
            std::mem::take(&mut self.opaque_with_depth),
            std::mem::take(&mut self.state_locals),
            std::mem::take(&mut self.looked_up),
            std::mem::take(&mut self.coroutine_checked),
            std::mem::take(&mut self.thread_keys),
            std::mem::take(&mut self.repeat_depth),
            std::mem::take(&mut self.loop_bound),
            std::mem::take(&mut self.non_blocking_attempts),
            std::mem::take(&mut self.exception_releases),
        );
        self.current = index;
        // `@sync_to_async`, textual's `@work(thread=True)` on a plain `def`: calling it hands
        // the body to a worker thread.
        let offloaded = !def.is_async
            && self.model.functions[index]
                .decorators
                .iter()
                .any(|decorator| self.tables.offloads(Some(decorator), None));
        // `@asyncio.coroutine`, `@tornado.gen.coroutine`: a generator the event loop drives,
        // whose `yield` / `yield from` are its awaits; so is an awaitable's `__await__`, which
        // runs inside the coroutine that awaits the object.
        let generator_coroutine = !def.is_async
            && ((in_class && def.name.as_str() == "__await__")
                || self.model.functions[index]
                    .decorators
                    .iter()
                    .any(|decorator| GENERATOR_COROUTINES.contains(&decorator.as_str())));
        // `data_received` of an `asyncio.Protocol`: the event loop calls it, on its thread.
        let protocol_callback = in_class
            && !def.is_async
            && crate::model::PROTOCOL_CALLBACKS.contains(&def.name.id.as_str())
            && canonical.rsplit_once('.').is_some_and(|(class, _)| {
                self.semantic
                    .library_base_among(class, |base| ASYNCIO_PROTOCOLS.contains(&base))
                    .is_some()
            });
        self.context = match (
            def.is_async || generator_coroutine || protocol_callback,
            offloaded,
        ) {
            (true, _) => Context::Async,
            (false, true) => Context::Offloaded,
            (false, false) => Context::Sync,
        };
        // `@synchronized(LOCK)`: the whole body runs with the lock held.
        if let (Some(first), Some(last)) = (def.body.first(), def.body.last()) {
            let region = span(first).start..span(last).end;
            let yields = self.yields_suspend();
            let awaits = || awaits_in(&def.body, yields);
            for (at, lock, facts) in decorator_locks.locks {
                self.hold_lock_with(at, lock, facts, region.clone(), awaits);
            }
            // `@synchronized` holding `self._lock`: the lock of the method's own object.
            if let Some(own) = self.semantic.self_name().map(str::to_string) {
                for (at, attribute) in decorator_locks.own {
                    let source = format!("{own}.{attribute}");
                    let Ok(parsed) = ruff_python_parser::parse_expression(&source) else {
                        continue;
                    };
                    let lock = parsed.expr();
                    let facts = self.lock_facts(lock);
                    self.hold_lock_with(at, lock, facts, region.clone(), awaits);
                }
            }
        }
        let inputs = self.enter_inputs(&def.body, &rebound);
        self.visit_body(&def.body);
        self.leave_inputs(inputs);
        // With the body's locals bound: `lock = threading.Lock(); …; return lock`.
        self.semantic.note_returns(canonical, def);
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
            self.looked_up,
            self.coroutine_checked,
            self.thread_keys,
            self.repeat_depth,
            self.loop_bound,
            self.non_blocking_attempts,
            self.exception_releases,
        ) = saved;
        self.semantic.scopes.pop();
    }

    /// Whether a statement raises when an event loop runs in the current thread: a `try`
    /// whose body asks for the running loop (see `[loop-probes]` in `rules/types.toml`) and
    /// whose `else` raises, or an `if` on one (`if asyncio._get_running_loop() is not None:`)
    /// whose body raises.
    fn refuses_event_loop(&self, stmt: &Stmt) -> bool {
        let probes = |expr: &Expr| {
            matches!(expr, Expr::Call(call) if self
                .semantic
                .resolve(&call.func)
                .is_some_and(|callee| self.tables.loop_probes.contains(&callee)))
        };
        match stmt {
            Stmt::Try(attempt) => {
                !attempt.handlers.is_empty()
                    && raises(&attempt.orelse)
                    && attempt.body.iter().any(|stmt| match stmt {
                        Stmt::Expr(expr) => probes(&expr.value),
                        Stmt::Assign(assign) => probes(&assign.value),
                        _ => false,
                    })
            }
            Stmt::If(branch) if branch.elif_else_clauses.is_empty() && raises(&branch.body) => {
                match branch.test.as_ref() {
                    Expr::Compare(compare) => {
                        matches!(&*compare.ops, [ast::CmpOp::IsNot])
                            && compare
                                .comparators
                                .first()
                                .is_some_and(Expr::is_none_literal_expr)
                            && probes(&compare.left)
                    }
                    test => probes(test),
                }
            }
            _ => false,
        }
    }

    pub(super) fn class_def(&mut self, class: &'a ast::StmtClassDef) {
        for decorator in &class.decorator_list {
            self.visit_expr(&decorator.expression);
        }
        if let Some(arguments) = &class.arguments {
            self.visit_arguments(arguments);
        }
        let name = self.semantic.qualified(class.name.id.as_str());
        let ClassAttributes {
            types: mut attribute_types,
            assignments,
            assigned_by,
            returned_by,
            given_by,
            named_values,
            copied,
        } = self.semantic.class_attribute_types(class);
        let class_identity = self.model.join(&name);
        // `self.owner = owner`, kept from a creator that passed itself: the creator's class.
        for (attribute, (receiver, class)) in self
            .semantic
            .back_references
            .get(&class_identity)
            .into_iter()
            .flatten()
        {
            if *receiver == Receiver::Creator {
                attribute_types
                    .entry(attribute.clone())
                    .or_insert_with(|| class.clone());
            }
        }
        for (attribute, method, position, keyword, rebound) in given_by {
            if attribute_types.contains_key(&attribute) {
                continue;
            }
            self.model.parameter_attributes.push(ParameterAttribute {
                attribute: concat(&[&class_identity, ".", &attribute]),
                method: concat(&[&class_identity, ".", &method]),
                position,
                keyword,
                rebound,
            });
        }
        // `self._load = LoadCalc.get_load`: `self._load(..)` calls `LoadCalc.get_load`.
        for (attribute, target) in named_values {
            if let Some(target) = target {
                let attribute = concat(&[&class_identity, ".", &attribute]);
                self.model.aliases.push((attribute, target));
            }
        }
        // `self.lock = self.adb.lock`: the attribute is `adb`'s, whose class this file may
        // tell (else the project follows `Class.adb`).
        for (attribute, path) in copied {
            let Some(path) = path else { continue };
            let (owner, rest) = path.split_once('.').unwrap_or((&path, ""));
            let target = match attribute_types.get(owner) {
                Some(ty) => concat(&[ty, ".", rest]),
                None => concat(&[&class_identity, ".", &path]),
            };
            let attribute = concat(&[&class_identity, ".", &attribute]);
            self.model.aliases.push((attribute, target));
        }
        for (attribute, callee) in returned_by {
            let attribute = concat(&[&class_identity, ".", &attribute]);
            self.semantic.returned_by.insert(attribute, callee);
        }
        // Methods may use a helper defined further down the class.
        for stmt in &class.body {
            if let Stmt::FunctionDef(method) = stmt {
                let canonical = concat(&[&class_identity, ".", method.name.id.as_str()]);
                self.note_lock_step(canonical.clone(), method);
                self.note_lock_helper(&canonical, method);
                self.note_lock_getter(&canonical, method, true);
            }
        }
        self.define_class_locks(&class_identity, &assignments, &attribute_types);
        let bases: Vec<String> = class
            .bases()
            .iter()
            .filter_map(|base| self.semantic.resolve(base))
            .collect();
        self.model.classes.push(Class {
            name: self.model.join(&name),
            bases: bases.clone(),
        });
        let methods = class.body.iter().filter_map(|stmt| match stmt {
            Stmt::FunctionDef(method) => Some(method.name.id.to_string()),
            _ => None,
        });
        let properties: rustc_hash::FxHashSet<String> = class
            .body
            .iter()
            .filter_map(|stmt| match stmt {
                Stmt::FunctionDef(method) if self.is_property(method) => {
                    Some(method.name.id.to_string())
                }
                _ => None,
            })
            .collect();
        self.property_names.extend(properties.iter().cloned());
        for stmt in &class.body {
            if let Stmt::FunctionDef(getter) = stmt
                && properties.contains(getter.name.id.as_str())
                && let Some(self_name) = first_param(getter)
                && let Some(returned) = single_return(&getter.body)
            {
                let canonical = concat(&[&class_identity, ".", getter.name.id.as_str()]);
                self.property_returns
                    .insert(canonical, (self_name.to_string(), returned));
            }
        }
        let rebound: rustc_hash::FxHashSet<&String> = assigned_by.values().flatten().collect();
        let shared_containers = class
            .body
            .iter()
            .filter_map(|stmt| match stmt {
                Stmt::Assign(ast::StmtAssign { targets, value, .. }) => match targets.as_slice() {
                    [Expr::Name(name)] if is_new_container(value) => Some(name.id.to_string()),
                    _ => None,
                },
                Stmt::AnnAssign(ast::StmtAnnAssign {
                    target,
                    value: Some(value),
                    ..
                }) => match target.as_ref() {
                    Expr::Name(name) if is_new_container(value) => Some(name.id.to_string()),
                    _ => None,
                },
                _ => None,
            })
            .filter(|name| !rebound.contains(name))
            .collect();
        let attributes = Rc::new(attribute_types);
        // A subclass's methods use what its bases' constructors made non-blocking
        // (`SSLIOStream(IOStream)`, with `self.socket.setblocking(False)` in `IOStream`).
        let non_blocking = bases
            .iter()
            .filter_map(|base| self.semantic.classes.get(base))
            .flat_map(|base| base.non_blocking.iter().cloned())
            .collect();
        let mut lambda_attributes: Vec<String> = assignments
            .iter()
            .filter(|(_, value)| value.is_lambda_expr())
            .map(|(attribute, _)| attribute.clone())
            .collect();
        lambda_attributes.sort();
        lambda_attributes.dedup();
        let info = ClassInfo {
            attributes: Rc::clone(&attributes),
            bases: bases.clone(),
            methods: methods.collect(),
            properties,
            lambda_attributes,
            shared_containers,
            assigned_by,
            non_blocking,
        };
        self.semantic.classes.insert(class_identity.clone(), info);
        self.servicer_methods(&class_identity, class, &bases);
        let mut scope = Scope::new(ScopeKind::Class, &name);
        scope.thread_safe_contract = claims_thread_safety(&class.body);
        scope.attribute_types = attributes;
        scope.bases = bases.into();
        self.semantic.scopes.push(scope);
        self.semantic.bind_locals(&class.body, &[]);
        self.visit_body(&class.body);
        self.semantic.scopes.pop();
        // `context_factory = Context.instance` in the class body: `self.context_factory()`
        // calls `Context.instance`, from this class and its subclasses.
        for stmt in &class.body {
            if let Stmt::Assign(assign) = stmt
                && let [Expr::Name(target)] = assign.targets.as_slice()
                && matches!(&*assign.value, Expr::Attribute(_) | Expr::Name(_))
                && let Some(named) = self.semantic.resolve(&assign.value)
                && self.same_package(&named)
            {
                let attribute = concat(&[&class_identity, ".", target.id.as_str()]);
                self.model.aliases.push((attribute, named));
            }
        }
    }

    /// Visits an `if`/`while` condition, noting the names it only tests for truth or against
    /// `None` (see [`Function::truth_tests`]) apart from the names it reads.
    pub(super) fn visit_condition(&mut self, test: &'a Expr) {
        match test {
            // `x is None`, `x is not None`: a test a coroutine object always passes one way.
            Expr::Compare(compare)
                if matches!(&*compare.ops, [ast::CmpOp::Is | ast::CmpOp::IsNot])
                    && matches!(&*compare.comparators, [Expr::NoneLiteral(_)])
                    && matches!(&*compare.left, Expr::Name(_) | Expr::Call(_)) =>
            {
                self.visit_condition(&compare.left);
            }
            Expr::Name(name) if name.ctx == ast::ExprContext::Load => {
                let hash = name_hash(name.id.as_str());
                let at = read_position(name.range.start().to_usize(), self.loop_end);
                let tests = &mut self.model.functions[self.current].truth_tests;
                match tests.iter_mut().find(|(tested, _)| *tested == hash) {
                    Some((_, last)) => *last = (*last).max(at),
                    None => tests.push((hash, at)),
                }
            }
            Expr::UnaryOp(op) if op.op == ast::UnaryOp::Not => self.visit_condition(&op.operand),
            Expr::BoolOp(op) => self.short_circuit(op, Self::visit_condition),
            Expr::Call(_) => {
                self.next_result = ResultUse::Tested;
                self.visit_expr(test);
            }
            _ => self.visit_expr(test),
        }
    }

    /// Visits the operands of `a and b` / `a or b`: each runs only when the ones before it
    /// were true (false for `or`).
    fn short_circuit(&mut self, op: &'a ast::ExprBoolOp, visit: fn(&mut Self, &'a Expr)) {
        let holds = op.op == ast::BoolOp::And;
        let mut entered = 0;
        for (i, value) in op.values.iter().enumerate() {
            if let Some(before) = i.checked_sub(1).map(|b| &op.values[b]) {
                let formula = self.formula(before);
                self.enter_branch(formula, before, holds);
                entered += 1;
            }
            visit(self, value);
        }
        self.leave_branches(entered);
    }

    pub(super) fn lambda(&mut self, lambda: &'a ast::ExprLambda) {
        let loop_depth = std::mem::take(&mut self.loop_depth);
        // A lambda may run later, without the locks held where it is written.
        self.closures += 1;
        if let Some((start, entry)) = self.started_lambda
            && start == lambda.range.start()
        {
            // The lambda a thread-starting call was given: its calls run on the thread.
            self.model.functions[self.current].thread_entries[entry].closure = self.closures;
            self.started_lambda = None;
        }
        let closure = std::mem::replace(&mut self.closure, self.closures);
        let mut scope = Scope::new(
            ScopeKind::Lambda,
            &self.semantic.scopes.last().expect("a scope").prefix,
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
        self.semantic.scopes.push(scope);
        // A lambda given to a call that drops what it returns (`loop.call_soon(lambda: …)`).
        let start = lambda.range.start();
        if let Some(at) = self
            .result_dropping_lambdas
            .iter()
            .position(|s| *s == start)
        {
            self.result_dropping_lambdas.swap_remove(at);
            if lambda.body.is_call_expr() {
                self.next_result = ResultUse::Discarded;
            }
        }
        self.visit_expr(&lambda.body);
        self.semantic.scopes.pop();
        (self.loop_depth, self.closure) = (loop_depth, closure);
    }
}

impl<'a> Lowerer<'a> {
    /// The iterable of a `for` or a comprehension. `for role in roles:` uses `roles` as the
    /// result of a call would be used, as reading one of its attributes does (see
    /// `visit_expr`): a coroutine bound to `roles` cannot be iterated.
    /// The type every element of a list, tuple or set display has, when they agree.
    fn element_type(&self, iter: &Expr) -> Option<String> {
        // `for child in nodes:` with `nodes: list[Action]`.
        if let Expr::Name(name) = iter {
            return self.semantic.element_type_of(name.id.as_str());
        }
        let (Expr::List(ast::ExprList { elts, .. })
        | Expr::Tuple(ast::ExprTuple { elts, .. })
        | Expr::Set(ast::ExprSet { elts, .. })) = iter
        else {
            return None;
        };
        let mut types = elts
            .iter()
            .map(|element| match self.semantic.type_of(element) {
                Some(Returns::One(ty)) => Some(ty),
                _ => None,
            });
        let first = types.next()??;
        types.all(|ty| ty.as_ref() == Some(&first)).then_some(first)
    }

    fn iterated(&mut self, iter: &'a Expr, is_async: bool) {
        match iter {
            Expr::Name(name) if !is_async && name.ctx == ast::ExprContext::Load => {
                self.read_as_result(name);
            }
            // `for row in fetch():`.
            Expr::Call(_) if !is_async => {
                self.next_result = ResultUse::Unpacked;
                self.visit_expr(iter);
            }
            iter => self.visit_expr(iter),
        }
    }
}

impl<'a> Visitor<'a> for Lowerer<'a> {
    fn visit_comprehension(&mut self, comprehension: &'a ast::Comprehension) {
        self.iterated(&comprehension.iter, comprehension.is_async);
        self.visit_expr(&comprehension.target);
        for condition in &comprehension.ifs {
            self.visit_expr(condition);
        }
    }

    fn visit_body(&mut self, body: &'a [Stmt]) {
        let releases = std::cell::OnceCell::new();
        let mut exits = 0;
        let context = self.context;
        for (i, stmt) in body.iter().enumerate() {
            self.acquire_release(body, i, &releases);
            if let Stmt::If(branch) = stmt {
                self.lock_attempt(branch, &body[i + 1..]);
                if !self.in_constructor() {
                    self.check_then_return(branch, &body[i + 1..]);
                }
            }
            self.visit_stmt(stmt);
            // `if not trust_env: return`: the rest of the block runs only when it is false.
            if let Stmt::If(branch) = stmt
                && branch.elif_else_clauses.is_empty()
                && always_leaves(&branch.body)
            {
                let formula = self.formula(&branch.test);
                if raises(&branch.body) {
                    self.enter_precondition(formula, &branch.test);
                } else {
                    self.enter_branch(formula, &branch.test, false);
                }
                exits += 1;
            }
            // `try: asyncio.get_running_loop() except RuntimeError: pass else: raise ..`: the
            // rest of the block never runs on an event loop.
            if self.context == Context::Sync && self.refuses_event_loop(stmt) {
                self.context = Context::OffLoop;
            }
        }
        self.context = context;
        self.leave_branches(exits);
    }

    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        // What a branch or a loop puts in a queue may not be there after it (see
        // `takes_own_item`).
        let own_items = matches!(
            stmt,
            Stmt::If(_) | Stmt::For(_) | Stmt::While(_) | Stmt::Try(_) | Stmt::Match(_)
        )
        .then(|| self.semantic.scopes.last().map(|s| s.own_items.clone()))
        .flatten();
        self.lower_stmt(stmt);
        if let Some(own_items) = own_items
            && let Some(scope) = self.semantic.scopes.last_mut()
        {
            scope.own_items = own_items;
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        self.lower_expr(expr);
    }
}

impl<'a> Lowerer<'a> {
    fn lower_stmt(&mut self, stmt: &'a Stmt) {
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
                let base = self.semantic.absolute_module(module, import.level);
                for alias in &import.names {
                    let name = alias.name.id.as_str();
                    if name == "*" {
                        // `from .client import *` in a package: every public name of the
                        // module is one of the package's too.
                        if self.semantic.at_module_scope() && !base.is_empty() {
                            self.model
                                .aliases
                                .push((self.model.join("*"), base.clone()));
                        }
                        continue;
                    }
                    let bound = alias.asname.as_ref().unwrap_or(&alias.name).id.as_str();
                    let canonical = if base.is_empty() || base == "builtins" {
                        name.to_string()
                    } else {
                        concat(&[&base, ".", name])
                    };
                    self.bind_import(bound, canonical);
                }
            }
            Stmt::Assign(assign) => {
                for target in &assign.targets {
                    self.registered_by_item(target, &assign.value);
                    self.note_queue_item(target, &assign.value);
                }
                // Constructors set state up before it is shared: no rule reads their writes.
                if let [target] = assign.targets.as_slice()
                    && !self.in_constructor()
                {
                    self.state_write(target, Some(&assign.value), span(stmt));
                    self.state_read_into_local(target, &assign.value);
                    self.entry_looked_up(target, &assign.value);
                    self.thread_key_bound(target, &assign.value);
                }
                // A local of this function (a `global`/`nonlocal` name outlives the call).
                let bound_call = match (assign.targets.as_slice(), assign.value.as_ref()) {
                    ([Expr::Name(name)], Expr::Call(_))
                        if !self
                            .semantic
                            .scopes
                            .last()
                            .is_some_and(|s| s.outer_names.contains(name.id.as_str())) =>
                    {
                        Some(name)
                    }
                    _ => None,
                };
                if let Some(name) = bound_call {
                    self.next_result = ResultUse::Bound(name.id.as_str().into());
                    if let Expr::Call(call) = assign.value.as_ref()
                        && matches!(
                            self.semantic.resolve(&call.func).as_deref(),
                            Some("os.fork" | "os.fork1")
                        )
                    {
                        self.fork_pids.push((self.current, name.id.to_string()));
                    }
                }
                // `rows, total = fetch()`.
                if let ([Expr::Tuple(_) | Expr::List(_)], Expr::Call(_)) =
                    (assign.targets.as_slice(), assign.value.as_ref())
                {
                    self.next_result = ResultUse::Unpacked;
                }
                self.visit_expr(&assign.value);
                if let [target] = assign.targets.as_slice() {
                    self.note_thread_target(target, &assign.value);
                    self.note_attribute_flows(target, &assign.value);
                }
                for target in &assign.targets {
                    if let Expr::Subscript(item) = target {
                        self.note_thread_keyed(&item.value, &item.slice);
                    }
                    self.note_thread_id_local(target, &assign.value);
                }
                let ty = self.semantic.type_of(&assign.value);
                // `waiter = threading.Condition(lock=LOCK)` in a function: that lock.
                let shares_lock = bound_call.is_some_and(|name| {
                    self.current != 0 && self.define_local_condition(name, &assign.value)
                });
                if let Some(name) = bound_call
                    && !shares_lock
                    && self.constructs(&assign.value)
                    && self.is_lock_type(ty.as_ref())
                    && !self.made_without_permits(ty.as_ref(), &assign.value)
                    && self.semantic.scopes.last().is_some_and(|s| {
                        s.kind == ScopeKind::Function && !s.outer_names.contains(name.id.as_str())
                    })
                {
                    self.local_locks.push((name.id.to_string(), span(assign)));
                }
                if let ([Expr::Name(name)], true) =
                    (assign.targets.as_slice(), self.semantic.at_module_scope())
                {
                    self.define_module_lock(name.id.as_str(), &assign.value, span(assign));
                    if ty.is_none()
                        && let Expr::Call(call) = assign.value.as_ref()
                        && let Some(callee) = self.semantic.resolve(&call.func)
                    {
                        let name = self.model.join(name.id.as_str());
                        self.semantic.returned_by.insert(name, callee);
                    }
                }
                if let [Expr::Name(name)] = assign.targets.as_slice() {
                    self.note_datagram_socket(name.id.as_str(), &assign.value);
                }
                for target in &assign.targets {
                    self.visit_expr(target);
                    if let Expr::Name(name) = target
                        && self.keeps_import(name.id.as_str())
                    {
                        continue;
                    }
                    self.semantic
                        .assign(target, Some(&assign.value), ty.clone());
                    self.note_opened(target, &assign.value);
                    self.note_shape(target, &assign.value);
                }
            }
            Stmt::AnnAssign(ann) => {
                if let Some(value) = &ann.value {
                    self.visit_expr(value);
                    self.note_thread_target(&ann.target, value);
                }
                self.visit_expr(&ann.target);
                let mut declared = self.semantic.annotation_type(&ann.annotation);
                // `q: queue.Queue = manager.Queue()`: an annotation that names a thread
                // primitive for a value known to be another type (a manager's proxy, which
                // works across processes) says how the value is used, not what it is.
                if let Some(annotated) = &declared
                    && self.tables.thread_primitives.contains(annotated)
                    && let Some(Returns::One(value_type)) =
                        ann.value.as_ref().and_then(|v| self.semantic.type_of(v))
                    && value_type != *annotated
                {
                    declared = Some(value_type);
                }
                if let (Expr::Name(name), Some(declared)) = (ann.target.as_ref(), &declared)
                    && self.current != 0
                {
                    self.semantic.declare(name.id.as_str(), declared.clone());
                }
                if let Expr::Name(name) = ann.target.as_ref()
                    && self.current != 0
                {
                    self.semantic
                        .declare_elements(name.id.as_str(), &ann.annotation);
                }
                let ty = declared.map(Returns::One);
                let ty = ty.or_else(|| ann.value.as_ref().and_then(|v| self.semantic.type_of(v)));
                self.semantic.assign(&ann.target, None, ty);
            }
            Stmt::With(with) => {
                if with.is_async {
                    let start = with.range.start().to_usize();
                    self.model.functions[self.current]
                        .awaits
                        .push(start..start + "async with".len());
                }
                // A context-manager helper that holds a lock while it yields holds it here,
                // and a function that hands its argument back gives the lock it is given.
                let mut passed_through = Vec::new();
                let locks: Vec<(&Expr, bool)> = with
                    .items
                    .iter()
                    .map(|item| {
                        let item = &item.context_expr;
                        if let Some(lock) = self.lock_held_by_helper(item) {
                            (lock, true)
                        } else if let Some((lock, kind)) = self.lock_passed_through(item) {
                            passed_through.push((span(lock).start, kind, None));
                            (lock, true)
                        } else if let Some((kind, named)) = self.lock_of_helper_elsewhere(item) {
                            passed_through.push((span(item).start, kind, Some(named)));
                            (item, true)
                        } else {
                            (item, false)
                        }
                    })
                    .collect();
                let facts: Vec<_> = locks
                    .iter()
                    .map(|(lock, _)| {
                        let (kind, named) = self.lock_facts(lock);
                        let start = span(*lock).start;
                        match passed_through.iter().find(|(at, _, _)| *at == start) {
                            Some((_, kind, given)) => (Some(kind.clone()), given.clone().or(named)),
                            None => (kind, named),
                        }
                    })
                    .collect();
                // A helper of another module that may hold a lock (`?guard:helper`) is a
                // context manager until the project phase finds it is one.
                let unknown = |kind: &Option<String>| {
                    kind.as_deref()
                        .is_none_or(|kind| kind.starts_with("?guard:"))
                };
                let opaque = facts.iter().any(|(kind, _)| unknown(kind));
                self.opaque_with_depth += usize::from(opaque);
                // Every item holds its lock over the same body: find its awaits once.
                let body_awaits = std::cell::OnceCell::new();
                // Items that are not locks run their `__enter__` and `__exit__`.
                let managers: Vec<bool> = facts.iter().map(|(kind, _)| unknown(kind)).collect();
                let items = with.items.iter().zip(facts).zip(locks).zip(&managers);
                for (((item, facts), (lock, by_helper)), &manager) in items {
                    if !by_helper && facts.0.is_some() && self.constructs(&item.context_expr) {
                        let lock = PointlessLock {
                            span: span(&item.context_expr),
                            lock: "a new lock".to_string(),
                            why: Pointless::CreatedWhereAcquired,
                        };
                        self.model.functions[self.current]
                            .pointless_locks
                            .push(lock);
                    }
                    if matches!(lock, Expr::Name(_) | Expr::Attribute(_)) || facts.0.is_some() {
                        let at = span(&item.context_expr);
                        let region = at.start..span(with).end;
                        let yields = self.yields_suspend();
                        let awaits = || {
                            body_awaits
                                .get_or_init(|| awaits_in(&with.body, yields))
                                .clone()
                        };
                        self.hold_lock_with(at, lock, facts, region, awaits);
                    }
                    self.visit_expr(&item.context_expr);
                    if manager {
                        let enter = if with.is_async {
                            "__aenter__"
                        } else {
                            "__enter__"
                        };
                        self.context_manager_call(&item.context_expr, enter, with.is_async);
                    }
                    if let Some(vars) = &item.optional_vars {
                        let ty = self.semantic.type_of(&item.context_expr);
                        self.semantic.assign(vars, None, ty);
                        self.note_opened(vars, &item.context_expr);
                    }
                }
                self.visit_body(&with.body);
                let exit = if with.is_async {
                    "__aexit__"
                } else {
                    "__exit__"
                };
                let managers = with.items.iter().zip(managers).filter(|(_, m)| *m);
                for (item, _) in managers.rev() {
                    self.context_manager_call(&item.context_expr, exit, with.is_async);
                }
                self.opaque_with_depth -= usize::from(opaque);
            }
            Stmt::Expr(statement) => match statement.value.as_ref() {
                // `[asyncio.create_task(f(x)) for x in xs]` as a statement: each result is
                // thrown away with the list.
                Expr::ListComp(ast::ExprListComp {
                    elt, generators, ..
                })
                | Expr::SetComp(ast::ExprSetComp {
                    elt, generators, ..
                }) if elt.is_call_expr() => {
                    self.repeat_depth += 1;
                    for generator in generators {
                        self.visit_comprehension(generator);
                    }
                    self.next_result = ResultUse::Discarded;
                    self.visit_expr(elt);
                    self.repeat_depth -= 1;
                }
                value => {
                    if value.is_call_expr() {
                        self.next_result = ResultUse::Discarded;
                    }
                    self.visit_expr(value);
                }
            },
            Stmt::Return(ret) => {
                if let Some(value) = &ret.value {
                    let function = &mut self.model.functions[self.current];
                    function.value_returns = function.value_returns.saturating_add(1);
                    if value.is_call_expr() {
                        self.next_result = ResultUse::Returned;
                    }
                    match value.as_ref() {
                        // `return data` from an async function: see `Function::reads`.
                        Expr::Name(name) if function.is_async => {
                            let returned = parts_hash(&[name.id.as_str(), RETURNED]);
                            self.note_read(returned, name.range.start().to_usize());
                        }
                        value => self.visit_expr(value),
                    }
                }
            }
            Stmt::If(branch)
                if self.current == 0
                    && self.semantic.at_module_scope()
                    && is_main_guard(&branch.test) =>
            {
                if let (Some(first), Some(last)) = (branch.body.first(), branch.body.last()) {
                    self.model
                        .main_guards
                        .push(span(first).start..span(last).end);
                }
                visitor::walk_stmt(self, stmt);
            }
            Stmt::If(branch) => {
                // Also in a constructor: its object's own state is left out by the rule, not
                // its class's or module's (`if self.__class__._loop is None:`).
                self.check_then_act(branch);
                self.state_checks(&branch.test, span(stmt));
                self.visit_condition(&branch.test);
                let first = self.formula(&branch.test);
                self.enter_branch(first.clone(), &branch.test, true);
                let narrowed: Vec<_> = self
                    .semantic
                    .narrowed_by(&branch.test)
                    .into_iter()
                    .map(|(name, class)| {
                        let previous = self.semantic.narrow(&name, class);
                        (name, previous)
                    })
                    .collect();
                // `if pid == 0:` after `pid = os.fork()`: the child's branch (or the `else`
                // of `if pid:`).
                let child = self.forked_child_test(&branch.test);
                let forked = usize::from(child == Some(true));
                self.forked_child += forked;
                self.visit_body(&branch.body);
                self.forked_child -= forked;
                for (name, previous) in narrowed.into_iter().rev() {
                    self.semantic.widen(&name, previous);
                }
                self.leave_branches(1);
                // Each clause runs when the tests before it were false.
                self.enter_branch(first, &branch.test, false);
                let mut entered = 1;
                for clause in &branch.elif_else_clauses {
                    if let Some(test) = &clause.test {
                        self.visit_condition(test);
                        let formula = self.formula(test);
                        self.in_branch(formula.clone(), test, true, |s| s.visit_body(&clause.body));
                        self.enter_branch(formula, test, false);
                        entered += 1;
                    } else {
                        let forked = usize::from(child == Some(false));
                        self.forked_child += forked;
                        self.visit_body(&clause.body);
                        self.forked_child -= forked;
                    }
                }
                self.leave_branches(entered);
            }
            Stmt::For(for_stmt) => {
                if for_stmt.is_async {
                    let start = for_stmt.range.start().to_usize();
                    self.model.functions[self.current]
                        .awaits
                        .push(start..start + "async for".len());
                }
                self.iteration(&for_stmt.iter);
                self.iterated(&for_stmt.iter, for_stmt.is_async);
                self.visit_expr(&for_stmt.target);
                // `for q in [self._cmdq, self._updateq]:` with both of one type: `q` is one.
                if let Some(ty) = self.element_type(&for_stmt.iter) {
                    self.semantic
                        .assign(&for_stmt.target, None, Some(Returns::One(ty)));
                }
                self.repeat_depth += 1;
                let outer_loop = self
                    .loop_end
                    .replace(self.loop_end.unwrap_or(span(stmt).end));
                let outer = self.loop_bound.len();
                let mut bound = BoundNames::default();
                bound.target(&for_stmt.target);
                bound.visit_body(&for_stmt.body);
                let names = bound.names.into_iter().map(|(name, _)| name);
                self.loop_bound.extend(names);
                let elements = match (for_stmt.target.as_ref(), for_stmt.iter.as_ref()) {
                    (Expr::Name(name), Expr::Tuple(ast::ExprTuple { elts, .. }))
                    | (Expr::Name(name), Expr::List(ast::ExprList { elts, .. })) => {
                        Some((name.id.as_str(), &elts[..]))
                    }
                    _ => None,
                };
                let enclosing = self.loop_elements.len();
                self.loop_elements.extend(elements);
                let registries = self.registry_loops.len();
                let registry = self.registry_loop(&for_stmt.target, &for_stmt.iter);
                self.registry_loops.extend(registry);
                self.visit_body(&for_stmt.body);
                self.registry_loops.truncate(registries);
                self.loop_elements.truncate(enclosing);
                self.loop_bound.truncate(outer);
                self.loop_end = outer_loop;
                self.repeat_depth -= 1;
                self.visit_body(&for_stmt.orelse);
            }
            Stmt::Try(try_stmt) => {
                // `try: sock.accept() except BlockingIOError: …`: a non-blocking attempt.
                let attempt = usize::from(catches_would_block(&try_stmt.handlers));
                self.non_blocking_attempts += attempt;
                let enclosing = self.exception_releases.len();
                let released = released_on_exceptions(&try_stmt.handlers);
                self.exception_releases.extend(released);
                self.visit_body(&try_stmt.body);
                self.exception_releases.truncate(enclosing);
                self.non_blocking_attempts -= attempt;
                for handler in &try_stmt.handlers {
                    // `except ImportError: import dummy_threading as threading`: a fallback.
                    let fallback =
                        usize::from(catches(handler, &["ImportError", "ModuleNotFoundError"]));
                    self.import_fallbacks += fallback;
                    self.visit_except_handler(handler);
                    self.import_fallbacks -= fallback;
                }
                self.visit_body(&try_stmt.orelse);
                self.visit_body(&try_stmt.finalbody);
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
                let outer_loop = self
                    .loop_end
                    .replace(self.loop_end.unwrap_or(span(stmt).end));
                self.visit_condition(&while_stmt.test);
                self.waits_not_rechecked
                    .extend(super::loops::waits_not_rechecked(&while_stmt.body));
                self.loop_depth += 1;
                self.repeat_depth += 1;
                self.visit_body(&while_stmt.body);
                self.loop_end = outer_loop;
                self.repeat_depth -= 1;
                self.loop_depth -= 1;
                self.visit_body(&while_stmt.orelse);
            }
            _ => visitor::walk_stmt(self, stmt),
        })
    }

    fn lower_expr(&mut self, expr: &'a Expr) {
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || match expr {
            // `f"failed: {result}"` only formats `result`: a coroutine there is never run, as
            // with a result's attribute read.
            Expr::FString(fstring) => {
                for element in fstring.value.elements() {
                    let ast::InterpolatedStringElement::Interpolation(interpolation) = element
                    else {
                        continue;
                    };
                    match interpolation.expression.as_ref() {
                        Expr::Name(name) if name.ctx == ast::ExprContext::Load => {
                            self.read_as_result(name)
                        }
                        formatted => self.visit_expr(formatted),
                    }
                    for spec in interpolation.format_spec.iter().flat_map(|s| &s.elements) {
                        self.visit_interpolated_string_element(spec);
                    }
                }
            }
            Expr::Name(name) => {
                if name.ctx == ast::ExprContext::Load {
                    self.read_name(name);
                }
            }
            Expr::Attribute(attribute) if attribute.ctx == ast::ExprContext::Load => {
                if self.property_names.contains(attribute.attr.id.as_str()) {
                    self.property_read(attribute);
                }
                match attribute.value.as_ref() {
                    // `coro.close()`, `coro.send(None)`: a coroutine's own attributes use it.
                    Expr::Name(name)
                        if COROUTINE_ATTRIBUTES.contains(&attribute.attr.id.as_str()) =>
                    {
                        self.read_name(name);
                    }
                    // `task.add_done_callback(report)`: registers a callback with the task,
                    // which keeps no reference to it anywhere (see IL502).
                    Expr::Name(_)
                        if TASK_CALLBACK_METHODS.contains(&attribute.attr.id.as_str()) => {}
                    // `grade.score`: only an attribute of the value is read.
                    Expr::Name(name) => self.read_as_result(name),
                    _ => visitor::walk_expr(self, expr),
                }
            }
            Expr::Call(call) => self.call(call, false),
            Expr::Subscript(subscript) => {
                let method = match subscript.ctx {
                    ast::ExprContext::Store => "__setitem__",
                    ast::ExprContext::Del => "__delitem__",
                    _ => "__getitem__",
                };
                if method != "__getitem__" {
                    self.container_change(&subscript.value, span(expr));
                }
                self.item_access(subscript, method);
                match subscript.value.as_ref() {
                    // `raw["id"]`: only an item of the value is read, as of a call's result.
                    Expr::Name(name) if method == "__getitem__" => {
                        self.read_as_result(name);
                        self.visit_expr(&subscript.slice);
                    }
                    // `fetch()["rows"]`, also `await resp.json()["data"]` (the subscript binds
                    // first): the call's result is used for its items.
                    Expr::Call(_) => {
                        self.next_result = ResultUse::Unpacked;
                        visitor::walk_expr(self, expr);
                    }
                    _ => visitor::walk_expr(self, expr),
                }
            }
            Expr::Lambda(lambda) => self.lambda(lambda),
            Expr::BoolOp(op) => self.short_circuit(op, Self::visit_expr),
            Expr::If(choice) => {
                self.visit_expr(&choice.test);
                let formula = self.formula(&choice.test);
                self.in_branch(formula.clone(), &choice.test, true, |s| {
                    s.visit_expr(&choice.body)
                });
                self.in_branch(formula, &choice.test, false, |s| {
                    s.visit_expr(&choice.orelse)
                });
            }
            Expr::Yield(_) | Expr::YieldFrom(_) => {
                let function = &mut self.model.functions[self.current];
                function.generator = true;
                // A generator-based coroutine's `yield` suspends it, as `await` does.
                let suspends = !function.is_async && self.context == Context::Async;
                if suspends {
                    function.awaits.push(span(expr));
                }
                match super::syntax::yielded(expr) {
                    Some(Expr::Call(call)) if suspends => self.call(call, true),
                    _ => visitor::walk_expr(self, expr),
                }
            }
            Expr::ListComp(ast::ExprListComp { generators, .. })
            | Expr::SetComp(ast::ExprSetComp { generators, .. })
            | Expr::DictComp(ast::ExprDictComp { generators, .. })
            | Expr::Generator(ast::ExprGenerator { generators, .. }) => {
                for generator in generators {
                    self.iteration(&generator.iter);
                }
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

/// Decorators that make a generator function a coroutine the event loop drives.
/// The `asyncio` protocol classes, whose callbacks the event loop calls on its own thread.
const ASYNCIO_PROTOCOLS: [&str; 5] = [
    "asyncio.BaseProtocol",
    "asyncio.Protocol",
    "asyncio.BufferedProtocol",
    "asyncio.DatagramProtocol",
    "asyncio.SubprocessProtocol",
];

const GENERATOR_COROUTINES: [&str; 4] = [
    "asyncio.coroutine",
    "types.coroutine",
    "tornado.gen.coroutine",
    "tornado.gen.engine",
];
