//! Locks: acquisitions (`with`, `acquire()`/`release()`), the region each is held over, lock
//! identities and definitions, conditions built on a lock, and locks that leak or protect nothing.

use std::sync::LazyLock;

use memchr::memmem;
use rustc_hash::FxHashMap as HashMap;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Stmt};

use super::Lowerer;
use super::calls::asks_not_to_block;
use super::conditions::always_leaves;
use super::semantic::{Binding, ScopeKind};
use super::syntax::{
    catches, dotted, is_attribute_path, released_on_exceptions, root_name, span, written,
};
use crate::knowledge::Returns;
use crate::model::{
    ConditionOp, ConditionUse, Context, Leak, LeakedLock, LockDefinition, LockHold, LockScope,
    Span, concat,
};
use crate::model::{LockName, RETURNS_ARGUMENT};

impl<'a> Lowerer<'a> {
    /// Records `def` as a lock helper if it is a `@contextmanager` that yields while it holds a
    /// lock (`with self._lock: yield`, or `acquire()` then `try: yield`).
    pub(super) fn note_lock_helper(&mut self, canonical: &str, def: &'a ast::StmtFunctionDef) {
        let is_context_manager = def.decorator_list.iter().any(|d| {
            matches!(
                self.semantic.resolve(&d.expression).as_deref(),
                Some("contextlib.contextmanager" | "contextlib.asynccontextmanager")
            )
        });
        if is_context_manager && let Some(lock) = lock_held_at_yield(&def.body) {
            self.lock_helpers.insert(canonical.to_string(), lock);
            self.lock_helper_parameters
                .insert(canonical.to_string(), &def.parameters);
        }
    }

    /// Records `def` as a lock getter if every `return` of it gives one lock as written, a
    /// name or an attribute path (`return _lock`, `return self._lock`), and it takes nothing
    /// but its object: `with get_lock():` holds that lock, as `with _lock:` would. What is
    /// returned is not checked to be a lock here: the hold is decided like the expression's
    /// own would be.
    pub(super) fn note_lock_getter(
        &mut self,
        canonical: &str,
        def: &'a ast::StmtFunctionDef,
        method: bool,
    ) {
        let takes = def.parameters.posonlyargs.len()
            + def.parameters.args.len()
            + def.parameters.kwonlyargs.len();
        // A decorated function may be a property, a class method or something else again.
        if def.is_async
            || !def.decorator_list.is_empty()
            || takes > usize::from(method)
            || def.parameters.vararg.is_some()
            || def.parameters.kwarg.is_some()
            || self.lock_helpers.contains_key(canonical)
        {
            return;
        }
        let returned = super::semantic::returned_values(&def.body);
        let Some((first, rest)) = returned.split_first() else {
            return;
        };
        let text = |e: &Expr| self.source.get(span(e)).unwrap_or_default();
        if !is_attribute_path(first) || rest.iter().any(|other| text(other) != text(first)) {
            return;
        }
        // A method's lock is one of its object's: reached through `self` alone.
        if method {
            let own = def
                .parameters
                .args
                .first()
                .map(|p| p.parameter.name.id.as_str());
            if root_name(first) != own {
                return;
            }
        }
        self.lock_helpers.insert(canonical.to_string(), *first);
    }

    /// [`Self::note_lock_getter`] for the module's functions, before any code uses them.
    pub(super) fn note_module_lock_getters(&mut self, body: &'a [Stmt]) {
        for stmt in body {
            if let Stmt::FunctionDef(def) = stmt {
                let canonical = self.model.join(def.name.id.as_str());
                self.note_lock_getter(&canonical, def, false);
            }
        }
    }

    /// Other files learn the module's lock helpers and getters of a module-level lock of known
    /// type in the project phase (as functions that hold a lock for their caller:
    /// `FileModel::guard_functions`). Asked once the module is lowered, where its locks'
    /// types are known.
    pub(super) fn export_lock_helpers(&mut self, body: &[Stmt]) {
        for stmt in body {
            let Stmt::FunctionDef(def) = stmt else {
                continue;
            };
            let canonical = self.model.join(def.name.id.as_str());
            let Some(lock) = self.lock_helpers.get(&canonical).copied() else {
                continue;
            };
            if let (Some(kind), Some(named)) = self.lock_facts(lock)
                && named.scope == LockScope::Global
            {
                let exported = (canonical, named.identity, kind);
                self.model.guard_functions.push(exported);
            }
        }
    }

    /// `with helper():` where `helper` is a function of another module of this package that
    /// takes no argument: maybe a lock helper or getter of that module (the kind
    /// `?guard:helper` until the project phase finds it is one).
    pub(super) fn lock_of_helper_elsewhere(&self, item: &Expr) -> Option<(String, LockName)> {
        let Expr::Call(call) = item else { return None };
        if !call.arguments.is_empty() || !matches!(&*call.func, Expr::Name(_) | Expr::Attribute(_))
        {
            return None;
        }
        let callee = self.semantic.resolve(&call.func)?;
        let here = self.model.join("");
        if callee.starts_with(&here) || !self.same_package(&callee) {
            return None;
        }
        let named = lock_name(callee.clone(), LockScope::Global, false);
        Some((format!("?guard:{callee}"), named))
    }

    /// Records `def` as a lock decorator if it is a decorator factory whose wrapper calls the
    /// decorated function while it holds a lock the factory is given (`def synchronized(lock):
    /// def wrap(func): def call(*a, **k): with lock: return func(*a, **k)`): the positions of
    /// those arguments; or if it is a bare decorator whose wrapper holds a lock of the module
    /// or of the decorated method's object (see [`held_by_bare_decorator`]).
    pub(super) fn note_lock_decorator(&mut self, canonical: &str, def: &'a ast::StmtFunctionDef) {
        let bare = held_by_bare_decorator(def);
        if !bare.is_empty() {
            // Other files learn a module lock's decorator in the project phase (as a function
            // that holds a lock for its caller: `FileModel::guard_functions`).
            for (held, _) in &bare {
                match held {
                    DecoratorLock::Module(lock) => {
                        if let (kind, Some(named)) = self.lock_facts(lock)
                            && named.scope == LockScope::Global
                        {
                            let kind = kind.unwrap_or_default();
                            let exported = (canonical.to_string(), named.identity, kind);
                            self.model.guard_functions.push(exported);
                        }
                    }
                    // Named after the decorated method's class in the project phase.
                    DecoratorLock::Own(attribute) => {
                        let identity = concat(&[crate::model::OWN_ATTRIBUTE, attribute]);
                        let exported = (canonical.to_string(), identity, String::new());
                        self.model.guard_functions.push(exported);
                    }
                }
            }
            self.bare_lock_decorators
                .insert(canonical.to_string(), bare);
        }
        let held = held_factory_arguments(def);
        if held.is_empty() {
            return;
        }
        // Other files' uses are decided in the project phase (see `decorator_locks`).
        for &index in &held {
            let exported = (canonical.to_string(), index as u32, String::new());
            self.model.parameter_locks.push(exported);
        }
        self.lock_decorators.insert(canonical.to_string(), held);
    }

    /// The locks a function's decorators hold while it runs, each with the decorator, the
    /// lock expression and its facts: `@synchronized(LOCK)` where the factory is a lock
    /// decorator (see `note_lock_decorator`), and `@locked` where the bare decorator's wrapper
    /// holds a lock of its module. A decorator of another file of this package is one if the
    /// project finds it is (its kind is `?factory#index` or `?guard:decorator` until then); a
    /// library's is not (`cachetools.cached(cache, lock)` holds its lock only around the
    /// cache). Also the attributes of the decorated method's own object that bare decorators
    /// hold (`@synchronized` holding `self._lock`), to resolve once `self` is bound.
    pub(super) fn decorator_locks(&self, def: &'a ast::StmtFunctionDef) -> DecoratorHolds<'a> {
        let mut locks = Vec::new();
        let mut own = Vec::new();
        let here = self.model.join("");
        for decorator in &def.decorator_list {
            let factory = match &decorator.expression {
                Expr::Call(factory) => factory,
                bare @ (Expr::Name(_) | Expr::Attribute(_)) => {
                    let Some(name) = self.semantic.resolve(bare) else {
                        continue;
                    };
                    match self.bare_lock_decorators.get(&name) {
                        Some(held) => {
                            // A sync wrapper returns an `async def`'s coroutine unrun: it
                            // holds nothing while the body runs.
                            let held = held
                                .iter()
                                .filter(|(_, wrapper_async)| *wrapper_async == def.is_async);
                            for (held, _) in held {
                                match held {
                                    DecoratorLock::Module(lock) => {
                                        let facts = self.lock_facts(lock);
                                        locks.push((span(decorator), *lock, facts));
                                    }
                                    DecoratorLock::Own(attribute) => {
                                        own.push((span(decorator), *attribute));
                                    }
                                }
                            }
                        }
                        None if !name.starts_with(&here) && self.same_package(&name) => {
                            let kind = Some(format!("?guard:{name}"));
                            let named = lock_name(name, LockScope::Global, false);
                            locks.push((span(decorator), bare, (kind, Some(named))));
                        }
                        None => {}
                    }
                    continue;
                }
                _ => continue,
            };
            let Some(name) = self.semantic.resolve(&factory.func) else {
                continue;
            };
            let (held, verified): (Vec<usize>, bool) = match self.lock_decorators.get(&name) {
                Some(held) => (held.clone(), true),
                None if name.starts_with(&here) => continue,
                None if self.same_package(&name) => {
                    ((0..factory.arguments.args.len()).collect(), false)
                }
                None => continue,
            };
            for index in held {
                let Some(lock) = factory.arguments.args.get(index) else {
                    continue;
                };
                if !matches!(lock, Expr::Name(_) | Expr::Attribute(_)) {
                    continue;
                }
                let (kind, named) = self.lock_facts(lock);
                let kind = match verified {
                    true => kind,
                    false => Some(format!("?{name}#{index}")),
                };
                if named.is_some() {
                    locks.push((span(decorator), lock, (kind, named)));
                }
            }
        }
        DecoratorHolds { locks, own }
    }

    /// Records `def` if it hands its argument back unchanged (`def rm_aio(statement): return
    /// statement`): `with rm_aio(self._lock):` takes `self._lock`. Exported as a parameter
    /// lock (see [`RETURNS_ARGUMENT`]), confirmed in the project phase.
    pub(super) fn note_argument_returned(&mut self, canonical: &str, def: &ast::StmtFunctionDef) {
        let body = match def.body.as_slice() {
            [Stmt::Expr(doc), rest @ ..] if doc.value.is_string_literal_expr() => rest,
            body => body,
        };
        let [
            Stmt::Return(ast::StmtReturn {
                value: Some(value), ..
            }),
        ] = body
        else {
            return;
        };
        let Expr::Name(returned) = value.as_ref() else {
            return;
        };
        let in_class = self
            .semantic
            .scopes
            .last()
            .is_some_and(|s| s.kind == ScopeKind::Class);
        let static_method = def
            .decorator_list
            .iter()
            .any(|d| matches!(&d.expression, Expr::Name(n) if n.id.as_str() == "staticmethod"));
        // A method's call sites do not pass its `self`.
        let skipped = usize::from(in_class && !static_method);
        let parameters = &def.parameters;
        let positional = parameters.posonlyargs.iter().chain(&parameters.args);
        if let Some(index) = positional
            .skip(skipped)
            .position(|p| p.parameter.name.id == returned.id)
        {
            let exported = (
                canonical.to_string(),
                index as u32,
                RETURNS_ARGUMENT.to_string(),
            );
            self.model.parameter_locks.push(exported);
        }
    }

    /// `with hand_back(self._lock):` where `hand_back` is a function given a lock of known type: the lock, with the kind `?=hand_back#0` for the project phase to
    /// confirm that the function returns its argument.
    pub(super) fn lock_passed_through(&self, item: &'a Expr) -> Option<(&'a Expr, String)> {
        let Expr::Call(call) = item else { return None };
        let lock = call.arguments.args.first()?;
        if call.arguments.args.len() != 1 || !matches!(lock, Expr::Name(_) | Expr::Attribute(_)) {
            return None;
        }
        // Maybe a library's (`contextlib.nullcontext(lock)` takes nothing): the project phase
        // keeps only a function of the project that returns its argument.
        let callee = self.semantic.resolve(&call.func)?;
        // A lock of known type: anything else given to a context manager (`open(path)`,
        // `Registered(name)`) is that manager's business.
        let (Some(_), Some(_)) = self.lock_facts(lock) else {
            return None;
        };
        Some((lock, format!("?={callee}#0")))
    }

    /// The lock a `with` item takes through a helper of this file: `with self._locked():` or
    /// `with locked():` where the helper yields while it holds a lock (on the same object).
    pub(super) fn lock_held_by_helper(&self, item: &'a Expr) -> Option<&'a Expr> {
        let Expr::Call(call) = item else { return None };
        let on_self_or_module = match call.func.as_ref() {
            Expr::Name(_) => true,
            Expr::Attribute(attr) => {
                matches!(attr.value.as_ref(), Expr::Name(n) if Some(n.id.as_str()) == self.semantic.self_name())
            }
            _ => false,
        };
        if !on_self_or_module || self.lock_helpers.is_empty() {
            return None;
        }
        let helper = self.semantic.resolve(&call.func)?;
        let helper = match self.lock_helpers.contains_key(&helper) {
            true => helper,
            false => self.semantic.defining_method(&helper)?,
        };
        let lock = *self.lock_helpers.get(&helper)?;
        // `def held(lock): lock.acquire(); try: yield …`: the lock the call gives it.
        if let Expr::Name(name) = lock
            && let Some(parameters) = self.lock_helper_parameters.get(&helper)
            && let Some(position) = parameters
                .posonlyargs
                .iter()
                .chain(&parameters.args)
                .position(|p| p.parameter.name.id == name.id)
        {
            let skipped = usize::from(call.func.is_attribute_expr());
            let given = call
                .arguments
                .keywords
                .iter()
                .find(|k| k.arg.as_ref().is_some_and(|a| a.id == name.id))
                .map(|k| &k.value)
                .or_else(|| call.arguments.args.get(position.checked_sub(skipped)?));
            return given.filter(|g| matches!(g, Expr::Name(_) | Expr::Attribute(_)));
        }
        Some(lock)
    }

    /// `L.acquire()` (or `await L.acquire()`) as a statement: `L` is held until a later
    /// `L.release()` in the same body (also one in the `finally` of a following `try`), or to
    /// the end of the body. A `release()` that an exception or an early exit can skip is a leak.
    pub(super) fn acquire_release(
        &mut self,
        body: &[Stmt],
        index: usize,
        releases: &std::cell::OnceCell<BodyReleases>,
    ) {
        let (stmt, rest) = (&body[index], &body[index + 1..]);
        let Some(call) = acquiring_call(stmt) else {
            return;
        };
        let Some((Step::Acquire, lock)) = self.lock_step(call) else {
            return;
        };
        // A kept result is followed for a helper of the object only: `ok = L.acquire(timeout=t)`
        // is an attempt, whose callers test `ok` before they leave or release.
        if matches!(stmt, Stmt::Assign(_)) && self.helper_step(call).is_none() {
            return;
        }
        // `L.acquire()` itself, or a helper of this object that takes one of its locks.
        // Or `L.acquire` handed to a worker thread (see `offloaded_acquire`).
        let offloaded = self.offloaded_acquire(call);
        let direct = match call.func.as_ref() {
            _ if self.helper_step(call).is_some() => None,
            Expr::Attribute(attr) if attr.attr.id.as_str() == "acquire" => Some(&*attr.value),
            _ => offloaded,
        };
        if direct.is_some() && asks_not_to_block(call, Some("acquire")) {
            return;
        }
        let steps = |call: &ast::ExprCall| self.lock_step(call);
        let releases = releases.get_or_init(|| BodyReleases::of(body, &steps));
        // The region runs up to the release, or through a `try` whose `finally` releases.
        let (end, guaranteed, nested_release) = releases.after(&lock, index, body.len());
        let region_end = match rest.get(end) {
            Some(release) if !guaranteed => span(release).start,
            _ => rest[..end].last().map_or(span(stmt).end, |s| span(s).end),
        };
        // A release on some path only (`if …: lock.release()`) ends what can be told.
        let unreleased = end == rest.len() && nested_release.is_none();
        let region_end = nested_release.map_or(region_end, |r| r.min(region_end));
        // A field of unknown type (`sl.l` of an unannotated parameter) acquired, then released
        // by this function: the lock protocol, whatever its class. (Not a bare local: tests
        // of lock types make them by the dozen from factories; a parameter is given one.)
        // Only for code that may raise in between: an early exit may hand such an object to
        // another thread on purpose (a lock used as a signal).
        let released_here = guaranteed || end < rest.len();
        // A pair of helpers, one taking and one giving back the same locks.
        let through = match direct {
            Some(_) => None,
            None => self
                .release_step(call, &lock)
                .map(|release| (concat(&[&written(&call.func), "()"]), release)),
        };
        let typed = match direct {
            Some(lock) => self.lock_kind(lock).is_some(),
            None => through.is_some(),
        };
        // An attribute (`self._lock`), an imported object (`from .state import jobs_lock`) or
        // a parameter the body does not bind again (`def get_job(.., overall_lock):`, given a
        // lock by its callers) this file cannot type, acquired and released like a lock.
        let untyped_attribute = call.arguments.is_empty()
            && direct.is_some_and(|lock| {
                // (Not in test code, whose helpers are handed the lock objects under test.)
                let input = matches!(lock, Expr::Name(name) if self.is_input_parameter(name.id.as_str()))
                    && !self.semantic.imports_test_framework();
                (lock.is_attribute_expr() || self.semantic.is_imported(lock) || input)
                    && self.semantic.type_of(lock).is_none()
            });
        let known = typed || (released_here && untyped_attribute);
        // What runs before the release is sure to happen: up to the release, or up to the
        // `try` whose `finally` releases.
        let unguarded = match (guaranteed, end < rest.len()) {
            (true, _) => &rest[..end - 1],
            (false, true) => &rest[..end],
            (false, false) => &[],
        };
        let why = if known && !unguarded.is_empty() {
            match early_exit(unguarded, &lock, &steps) {
                Some(_) if !typed => None,
                Some(exit) => Some(Leak::EarlyExit(exit)),
                None if guaranteed => {
                    first_call(unguarded, &lock, &steps).map(Leak::RaisesBeforeTry)
                }
                // Inside a `try` whose catch-all handler releases it.
                None if self.exception_releases.contains(&lock) => None,
                None => first_call(unguarded, &lock, &steps).map(Leak::MayRaise),
            }
        } else if (typed || untyped_attribute)
            && end == rest.len()
            && let Some(release) = nested_release
        {
            // Released in branches only: an exit before a branch's release skips it, and so
            // does an exception raised before the statement that holds the releases.
            let branches = rest.iter().position(|s| span(s).contains(&release));
            let early_exit = early_exit_before_release(rest, &lock, false, &steps);
            early_exit
                .filter(|_| typed)
                .map(Leak::EarlyExit)
                .or_else(|| match branches {
                    Some(_) if self.exception_releases.contains(&lock) => None,
                    Some(_) => raise_before_branch_release(rest, &lock, &steps).map(Leak::MayRaise),
                    None => None,
                })
        } else {
            None
        };
        // `await loop.run_in_executor(None, L.acquire)` before the `try` that releases: a
        // cancellation at the await leaves the worker to take the lock with no `finally` to come.
        let awaited_in_worker = guaranteed
            && typed
            && offloaded.is_some()
            && matches!(stmt, Stmt::Expr(e) if e.value.is_await_expr());
        let why = why.or_else(|| awaited_in_worker.then_some(Leak::CancelledWhileAcquiring));
        if let Some(why) = why {
            let leak = LeakedLock {
                span: span(call),
                lock: lock.clone(),
                why,
                through,
            };
            self.model.functions[self.current].leaked_locks.push(leak);
        }
        let Some(lock) = direct else { return };
        let start = span(call).start;
        self.hold_lock(span(call), lock, start..region_end, &rest[..end]);
        if unreleased && let Some(hold) = self.model.functions[self.current].lock_holds.last_mut() {
            hold.unreleased = true;
        }
    }

    /// What a call does to a lock, and the lock as this code writes it: `L.acquire()`,
    /// `L.release()`, or a call of a method of this object that only takes or only gives back
    /// its locks (`self._take()` for `self._lock`; `self._acquire_all()` for every lock of a
    /// collection, written `self._locks[*]`).
    pub(super) fn lock_step(&self, call: &ast::ExprCall) -> Option<(Step, String)> {
        if let Some(lock) = self.offloaded_acquire(call) {
            return Some((Step::Acquire, dotted(lock)));
        }
        let Expr::Attribute(attr) = call.func.as_ref() else {
            return None;
        };
        if let Some(step) = self.helper_step(call) {
            return Some(step);
        }
        match attr.attr.id.as_str() {
            "acquire" => Some((Step::Acquire, dotted(&attr.value))),
            "release" => Some((Step::Release, dotted(&attr.value))),
            _ => None,
        }
    }

    /// A call of a helper method of the object's own class that takes or gives back one of
    /// its locks (see `note_lock_step`), also one named `acquire`/`release` (a lock wrapper's).
    fn helper_step(&self, call: &ast::ExprCall) -> Option<(Step, String)> {
        if self.lock_steps.is_empty() {
            return None;
        }
        let Expr::Attribute(attr) = call.func.as_ref() else {
            return None;
        };
        let self_name = self.semantic.self_name()?;
        if !matches!(attr.value.as_ref(), Expr::Name(n) if n.id.as_str() == self_name) {
            return None;
        }
        let method = self.semantic.resolve(&call.func)?;
        let (step, lock) = self.lock_steps.get(&method)?;
        Some((*step, concat(&[self_name, lock])))
    }

    /// The lock whose bound `acquire` a call hands to a worker thread to run
    /// (`await loop.run_in_executor(None, self._lock.acquire)`, `asyncio.to_thread(l.acquire)`):
    /// once the await returns, the lock is held, as after `L.acquire()`.
    fn offloaded_acquire<'c>(&self, call: &'c ast::ExprCall) -> Option<&'c Expr> {
        let lock = call
            .arguments
            .args
            .iter()
            .find_map(|argument| match argument {
                Expr::Attribute(attr) if attr.attr.id.as_str() == "acquire" => Some(&*attr.value),
                _ => None,
            })?;
        let method = match call.func.as_ref() {
            Expr::Attribute(attr) => Some(attr.attr.id.as_str()),
            _ => None,
        };
        let callee = self.semantic.resolve(&call.func);
        self.tables
            .offloads(callee.as_deref(), method)
            .then_some(lock)
    }

    /// The call (as this code would write it) of the method of the lock step `call`'s class
    /// that releases `lock`, if it has one.
    fn release_step(&self, call: &ast::ExprCall, lock: &str) -> Option<String> {
        let method = self.semantic.resolve(&call.func)?;
        let (class, _) = method.rsplit_once('.')?;
        let self_name = self.semantic.self_name()?;
        self.lock_steps
            .iter()
            .find(|(other, (step, written))| {
                *step == Step::Release
                    && other.rsplit_once('.').is_some_and(|(c, _)| c == class)
                    && concat(&[self_name, written]) == lock
            })
            .and_then(|(other, _)| other.rsplit_once('.'))
            .map(|(_, name)| concat(&[self_name, ".", name, "()"]))
    }

    /// Records a method that only acquires, or only releases, locks of its object: one lock
    /// (`self._lock.acquire()`) or every lock of a collection it holds (`for lock in
    /// self._locks.values(): lock.acquire()`). Callers' `self._take()` is then that step.
    pub(super) fn note_lock_step(&mut self, canonical: String, def: &ast::StmtFunctionDef) {
        let Some(first) = def.parameters.args.first() else {
            return;
        };
        // Most methods never name either step: their text tells at once.
        static ACQUIRE: LazyLock<memmem::Finder> = LazyLock::new(|| memmem::Finder::new("acquire"));
        static RELEASE: LazyLock<memmem::Finder> = LazyLock::new(|| memmem::Finder::new("release"));
        let text = self.source.get(span(def)).unwrap_or_default().as_bytes();
        if ACQUIRE.find(text).is_none() && RELEASE.find(text).is_none() {
            return;
        }
        let mut finder = LockSteps {
            self_name: first.parameter.name.id.as_str(),
            each: HashMap::default(),
            steps: Vec::new(),
            other: false,
        };
        finder.visit_body(&def.body);
        let Some(first_step) = finder.steps.first() else {
            return;
        };
        if !finder.other && finder.steps.iter().all(|step| step == first_step) {
            let step = finder.steps.swap_remove(0);
            self.lock_steps.insert(canonical, step);
        }
    }

    /// `if L.acquire(False): …` (also `blocking=False`, `timeout=0`): the branch runs only
    /// where the lock was free, so never in a thread that holds it (`if not
    /// L.acquire(False): return` likewise for the rest of the block).
    pub(super) fn lock_attempt(&mut self, branch: &ast::StmtIf, rest: &[Stmt]) {
        self.lock_attempt_in(&branch.test, &branch.body, rest);
        // `elif L.acquire(blocking=False): …`.
        for clause in &branch.elif_else_clauses {
            if let Some(test) = &clause.test {
                self.lock_attempt_in(test, &clause.body, &[]);
            }
        }
    }

    /// One test of an `if`/`elif` and the body it guards (see [`Self::lock_attempt`]).
    fn lock_attempt_in(&mut self, test: &Expr, body: &[Stmt], rest: &[Stmt]) {
        let (test, negated) = match test {
            Expr::UnaryOp(not) if not.op == ast::UnaryOp::Not => (not.operand.as_ref(), true),
            test => (test, false),
        };
        let Expr::Call(call) = test else { return };
        let Expr::Attribute(attr) = call.func.as_ref() else {
            return;
        };
        if attr.attr.id.as_str() != "acquire" || !asks_not_to_block(call, Some("acquire")) {
            return;
        }
        let region = match negated {
            false => body.first().zip(body.last()),
            true if always_leaves(body) => rest.first().zip(rest.last()),
            true => None,
        };
        let Some((first, last)) = region else { return };
        let region = span(first).start..span(last).end;
        let (kind, named) = self.lock_facts(&attr.value);
        let Some(named) = named else { return };
        let attempt = LockHold {
            span: span(call),
            lock: dotted(&attr.value),
            kind: kind.unwrap_or_default(),
            identity: named.identity,
            scope: named.scope,
            via_self: named.via_self,
            region,
            awaits: Vec::new(),
            context: self.context,
            unreleased: false,
            closure: self.closure,
            object: 0,
            parameter: None,
            argument: None,
            holes: thin_vec::ThinVec::new(),
        };
        self.model.functions[self.current]
            .lock_attempts
            .push(attempt);
    }

    /// The lock type of an expression (`threading.Lock`), looking through conditions built on
    /// a given lock.
    pub(super) fn lock_kind(&self, expr: &Expr) -> Option<String> {
        self.lock_facts(expr).0
    }

    /// The lock type and identity of an expression, each resolved once: a condition built on
    /// a lock (`Condition(self.lock)`) is that lock, with its type.
    pub(super) fn lock_facts(&self, expr: &Expr) -> LockFacts {
        let named = self.written_lock_identity(expr);
        if let Some(named) = &named
            && let Some((lock, kind)) = self.condition_locks.get(&named.identity)
        {
            let kind = if kind.is_empty() {
                self.lock_type_of(expr)
            } else {
                Some(kind.clone())
            };
            let named = LockName {
                identity: lock.clone(),
                ..named.clone()
            };
            return (kind, Some(named));
        }
        (self.lock_type_of(expr), named)
    }

    /// The lock type an expression's type evidence gives.
    pub(super) fn lock_type_of(&self, expr: &Expr) -> Option<String> {
        match self.semantic.type_of(expr) {
            Some(Returns::One(ty)) if self.tables.lock(&ty).is_some() => Some(ty),
            _ => None,
        }
    }

    /// Whether a type is a lock of any kind.
    pub(super) fn is_lock_type(&self, ty: Option<&Returns>) -> bool {
        matches!(ty, Some(Returns::One(ty)) if self.tables.lock(ty).is_some())
    }

    /// `Semaphore(0)`, `BoundedSemaphore(value=0)`: a counting lock made with no permits is a
    /// signal another thread or process releases (a child after `fork()`), not a lock around
    /// anything.
    pub(super) fn made_without_permits(&self, ty: Option<&Returns>, value: &Expr) -> bool {
        let counting = matches!(ty, Some(Returns::One(ty))
            if self.tables.lock(ty).is_some_and(|lock| lock.counting));
        let Expr::Call(call) = value else {
            return false;
        };
        let permits = call
            .arguments
            .find_keyword("value")
            .map(|k| &k.value)
            .or(call.arguments.args.first());
        counting && permits.is_some_and(super::syntax::is_zero_literal)
    }

    /// The project-wide identity of a lock expression, where the lock lives, and whether it is
    /// reached through the method's own object; conditions built on a lock are that lock.
    pub(super) fn lock_identity(&self, expr: &Expr) -> Option<LockName> {
        self.lock_facts(expr).1
    }

    /// [`Self::lock_identity`] of the lock as written, before conditions are looked through.
    pub(super) fn written_lock_identity(&self, expr: &Expr) -> Option<LockName> {
        Some(match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                let (depth, binding) = self.semantic.lookup_with_depth(id)?;
                match binding {
                    Binding::Alias(canonical) if depth == 0 => {
                        lock_name(canonical.clone(), LockScope::Global, false)
                    }
                    // `l = self.lock`: whose object is not known here.
                    Binding::Alias(canonical) => {
                        lock_name(canonical.clone(), LockScope::Field, false)
                    }
                    Binding::Local(_) if depth == 0 => {
                        lock_name(self.model.join(id), LockScope::Global, false)
                    }
                    // A local of this function, or of an enclosing one (a closure's free
                    // variable names the enclosing function's lock).
                    Binding::Local(_) if depth + 1 == self.semantic.scopes.len() => {
                        let function = &self.model.functions[self.current].canonical;
                        lock_name(concat(&[function, ".", id]), LockScope::Local, false)
                    }
                    Binding::Local(_) => {
                        let owner = self.model.join(&self.semantic.scopes[depth].prefix);
                        lock_name(concat(&[&owner, ".", id]), LockScope::Local, false)
                    }
                }
            }
            Expr::Attribute(attr) => {
                let self_name = self.semantic.self_name();
                let via_self = matches!(attr.value.as_ref(), Expr::Name(n) if Some(n.id.as_str()) == self_name);
                let scope = if self.semantic.type_of(&attr.value).is_some() {
                    LockScope::Field
                } else {
                    LockScope::Global
                };
                lock_name(self.semantic.resolve(expr)?, scope, via_self)
            }
            _ => return None,
        })
    }

    /// Whether a `yield` of the function being lowered suspends it as an `await` does: a
    /// generator the event loop drives (`@types.coroutine`, an awaitable's `__await__`).
    pub(super) fn yields_suspend(&self) -> bool {
        self.context == Context::Async && !self.model.functions[self.current].is_async
    }

    /// Records a lock held over `region`; `body` is the code that runs while it is held (for
    /// its awaits). A lock whose type is unknown is kept when it can be named: the project's
    /// lock definitions decide later whether it is one.
    pub(super) fn hold_lock(&mut self, span: Span, lock: &Expr, region: Span, body: &[Stmt]) {
        let facts = self.lock_facts(lock);
        let yields = self.yields_suspend();
        self.hold_lock_with(span, lock, facts, region, || awaits_in(body, yields));
    }

    /// [`Self::hold_lock`] with the lock's facts already resolved; `body_awaits` gives the
    /// awaits of the code that runs while it is held (asked only for a thread-blocking lock in
    /// async code).
    pub(super) fn hold_lock_with(
        &mut self,
        span: Span,
        lock: &Expr,
        (kind, named): LockFacts,
        region: Span,
        body_awaits: impl FnOnce() -> Vec<Span>,
    ) {
        let kind = kind.unwrap_or_default();
        let LockName {
            identity,
            scope,
            via_self,
        } = match named {
            Some(named) => named,
            None if !kind.is_empty() => lock_name(String::new(), LockScope::Local, false),
            None => return,
        };
        // A lock of unknown type may be defined in another file: the project decides (IL203),
        // as it does for a lock a function hands back (`?=callee#0`).
        let may_block_thread = kind.is_empty()
            || kind.starts_with("?=")
            || kind.starts_with("?guard:")
            || self.tables.lock(&kind).is_some_and(|l| !l.is_async);
        let awaits = if may_block_thread && self.context == Context::Async {
            body_awaits()
        } else {
            Vec::new()
        };
        let lock = dotted(lock);
        let object = self
            .held_objects
            .of_lock(self.current, &lock, scope, via_self);
        let hold = LockHold {
            span,
            lock,
            kind,
            identity,
            scope,
            via_self,
            region,
            awaits,
            context: self.context,
            unreleased: false,
            closure: self.closure,
            object,
            parameter: None,
            argument: None,
            holes: thin_vec::ThinVec::new(),
        };
        self.model.functions[self.current].lock_holds.push(hold);
    }

    /// Records a module-level lock (`X = threading.Lock()`), or the lock a module-level
    /// condition is built on (`ready = threading.Condition(X)`).
    pub(super) fn define_module_lock(&mut self, name: &str, value: &Expr, at: Span) {
        let Some(Returns::One(kind)) = self.semantic.type_of(value) else {
            return;
        };
        if self.tables.lock(&kind).is_none() {
            return;
        }
        let identity = self.model.join(name);
        if self.tables.conditions.contains(&kind)
            && let Some(inner) = condition_lock_argument(value)
            && let Some(LockName { identity: lock, .. }) = self.lock_identity(inner)
        {
            let inner_kind = self.lock_kind(inner).unwrap_or_default();
            self.condition_locks.insert(identity, (lock, inner_kind));
            return;
        }
        self.model.lock_definitions.push(LockDefinition {
            identity,
            kind,
            span: at,
            shared: None,
            guards_nothing: false,
        });
    }

    /// Records the locks a class defines: class attributes and attributes its methods set
    /// (`self.lock = threading.Lock()`); a condition built on another attribute's lock
    /// (`Condition(self.lock)`) is that lock.
    pub(super) fn define_class_locks(
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
                _ if self.tables.conditions.contains(kind) => condition_lock_argument(value),
                _ => None,
            };
            // `Condition(LOCK)` on a module-level (or imported) lock: that lock.
            if let Some(global @ Expr::Name(_)) = shared
                && let Some(LockName { identity: lock, .. }) = self.lock_identity(global)
            {
                let inner_kind = self.lock_kind(global).unwrap_or_default();
                self.condition_locks.insert(identity, (lock, inner_kind));
                continue;
            }
            let shared = match shared {
                Some(Expr::Attribute(inner)) if inner.value.is_name_expr() => {
                    Some(inner.attr.id.as_str())
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
                shared: None,
                guards_nothing: false,
            });
        }
    }

    /// `waiter = threading.Condition(lock=LOCK)` bound to a local: the condition is that lock
    /// (waiting on it inside `with LOCK:` holds its lock). Whether it was one.
    pub(super) fn define_local_condition(&mut self, name: &ast::ExprName, value: &Expr) -> bool {
        let is_condition = matches!(self.semantic.type_of(value), Some(Returns::One(ty)) if self.tables.conditions.contains(&ty));
        let Some(inner) = condition_lock_argument(value).filter(|_| is_condition) else {
            return false;
        };
        let (Some(local), Some(lock)) = (
            self.written_lock_identity(&Expr::Name(name.clone())),
            self.lock_identity(inner),
        ) else {
            return false;
        };
        let inner_kind = self.lock_kind(inner).unwrap_or_default();
        self.condition_locks
            .insert(local.identity, (lock.identity, inner_kind));
        true
    }

    /// Records `cond.wait()`, `cond.wait_for()` and `cond.notify()` on a condition variable.
    pub(super) fn condition_use(&mut self, call: &ast::ExprCall, receiver: &Expr, method: &str) {
        let op = match method {
            "wait" => ConditionOp::Wait,
            "wait_for" => ConditionOp::WaitFor,
            "notify" | "notify_all" | "notifyAll" => ConditionOp::Notify,
            _ => return,
        };
        let is_condition = matches!(self.semantic.type_of(receiver), Some(Returns::One(ty)) if self.tables.conditions.contains(&ty));
        if !is_condition {
            return;
        }
        let identity = self
            .lock_identity(receiver)
            .map(|named| named.identity)
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
            in_loop: self.loop_depth > 0 && !self.waits_not_rechecked.contains(&span(call).start),
            timed,
            maybe_held: self.opaque_with_depth > 0,
        };
        self.model.functions[self.current].condition_uses.push(used);
    }
}

/// How a function-local lock is used: acquired (`with lock:`, `lock.acquire()`), or escaping
/// the function (returned, stored, passed on, captured by a nested function).
pub(super) struct LockUses<'n> {
    pub(super) name: &'n str,
    pub(super) acquisitions: usize,
    pub(super) escapes: bool,
    /// Inside a nested function or lambda: any use there is a capture, which escapes.
    pub(super) nested: bool,
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

/// The `L.release()` calls of a body, found in one pass (on the body's first `acquire()`) so
/// that each acquisition finds its release without scanning the rest of the body again.
#[derive(Default)]
pub(super) struct BodyReleases {
    /// Lock → the statements (by index) that release it: `L.release()` itself (`false`), or a
    /// `try` whose `finally` does (`true`).
    pub(super) statements: HashMap<String, Vec<(usize, bool)>>,
    /// Lock → (statement index, where) of releases at any depth, in order.
    pub(super) nested: HashMap<String, Vec<(usize, usize)>>,
}

/// A lock expression's type and identity (see `Lowerer::lock_facts`).
pub(super) type LockFacts = (Option<String>, Option<LockName>);

/// What a lock step does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Step {
    Acquire,
    Release,
}

/// What calls do to locks (see `Lowerer::lock_step`).
type Steps<'s> = dyn Fn(&ast::ExprCall) -> Option<(Step, String)> + 's;

/// The call a statement makes (`L.acquire()`, `await L.acquire()`, `self._release_all()`).
fn statement_call(stmt: &Stmt) -> Option<&ast::ExprCall> {
    let Stmt::Expr(statement) = stmt else {
        return None;
    };
    match statement.value.as_ref() {
        Expr::Call(call) => Some(call),
        Expr::Await(awaited) => awaited.value.as_call_expr(),
        _ => None,
    }
}

/// The call of a statement that may take a lock: a call statement, or one whose result is kept
/// (`result = self._take()`, released later under `if result:`).
fn acquiring_call(stmt: &Stmt) -> Option<&ast::ExprCall> {
    match stmt {
        Stmt::Assign(assign) if matches!(assign.targets.as_slice(), [Expr::Name(_)]) => {
            assign.value.as_call_expr()
        }
        _ => statement_call(stmt),
    }
}

/// Whether a statement releases `lock`.
fn releases(stmt: &Stmt, lock: &str, steps: &Steps) -> bool {
    statement_call(stmt)
        .and_then(steps)
        .is_some_and(|(step, released)| step == Step::Release && released == lock)
}

impl BodyReleases {
    fn of(body: &[Stmt], steps: &Steps) -> BodyReleases {
        struct Releases<'r, 's>(
            &'r mut HashMap<String, Vec<(usize, usize)>>,
            usize,
            &'r Steps<'s>,
        );
        impl<'b> Visitor<'b> for Releases<'_, '_> {
            fn visit_stmt(&mut self, stmt: &'b Stmt) {
                stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_stmt(self, stmt)
                });
            }
            fn visit_expr(&mut self, expr: &'b Expr) {
                if let Expr::Call(call) = expr
                    && let Some((Step::Release, lock)) = (self.2)(call)
                {
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
        let released = |stmt: &Stmt| match statement_call(stmt).and_then(steps) {
            Some((Step::Release, lock)) => Some(lock),
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
            Releases(&mut releases.nested, index, steps).visit_stmt(stmt);
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

/// The first statement that leaves a block early with `lock` still held: `return`, `raise`,
/// or a `break`/`continue` of an enclosing loop (not counting nested functions, classes and
/// loops, nor what follows a `lock.release()` in its block: `if x: lock.release(); return`).
pub(super) fn early_exit(body: &[Stmt], lock: &str, steps: &Steps) -> Option<Span> {
    exit_before_release(body, false, lock, steps)
}

/// [`early_exit`] inside a loop's body (`in_loop`) or not.
fn exit_before_release(body: &[Stmt], in_loop: bool, lock: &str, steps: &Steps) -> Option<Span> {
    let all = |body: &[Stmt], in_loop: bool| exit_before_release(body, in_loop, lock, steps);
    let find = |stmt: &Stmt| match stmt {
        Stmt::Return(_) | Stmt::Raise(_) => Some(span(stmt)),
        Stmt::Break(_) | Stmt::Continue(_) if !in_loop => Some(span(stmt)),
        Stmt::FunctionDef(_) | Stmt::ClassDef(_) => None,
        _ => sub_blocks(stmt, in_loop).find_map(|(block, in_loop)| all(block, in_loop)),
    };
    body.iter()
        .take_while(|s| !releases(s, lock, steps))
        .find_map(find)
}

/// For a lock released in branches only (`if ok: …; L.release() else: L.release()`): an exit
/// that leaves, with the lock held, a block whose later code releases it (`if not ok: break`
/// before the branch's `L.release()`). An exit on a path that releases nowhere may keep the
/// lock on purpose (a helper that returns holding it).
fn early_exit_before_release(
    body: &[Stmt],
    lock: &str,
    in_loop: bool,
    steps: &Steps,
) -> Option<Span> {
    if let Some(release) = body.iter().position(|s| releases(s, lock, steps)) {
        return exit_before_release(&body[..release], in_loop, lock, steps);
    }
    body.iter().find_map(|stmt| match stmt {
        Stmt::FunctionDef(_) | Stmt::ClassDef(_) => None,
        _ => sub_blocks(stmt, in_loop)
            .find_map(|(block, in_loop)| early_exit_before_release(block, lock, in_loop, steps)),
    })
}

/// In a body whose releases are all in branches: the first call that may raise while the lock
/// is still held on its path — before the statement that holds the releases, or in a branch
/// before that branch's release (`if room: conn = await self.connect(); L.release()`) — up to
/// the first statement after which every path has released it.
fn raise_before_branch_release(body: &[Stmt], lock: &str, steps: &Steps) -> Option<Span> {
    for stmt in body {
        if releases(stmt, lock, steps) {
            return None;
        }
        // A nested function may be what releases it (a lock used as a signal): no telling.
        if matches!(stmt, Stmt::FunctionDef(_) | Stmt::ClassDef(_)) {
            return None;
        }
        // A `try` whose `finally` or a handler releases (`except ConnectError: L.release();
        // raise`): what its body raises is taken care of.
        if let Stmt::Try(t) = stmt
            && (t.finalbody.iter().any(|s| contains_release(s, lock, steps))
                || t.handlers.iter().any(|handler| {
                    let ast::ExceptHandler::ExceptHandler(clause) = handler;
                    clause.body.iter().any(|s| contains_release(s, lock, steps))
                }))
        {
            return None;
        }
        if !contains_release(stmt, lock, steps) {
            match first_call(std::slice::from_ref(stmt), lock, steps) {
                Some(call) => return Some(call),
                None => continue,
            }
        }
        let inside = sub_blocks(stmt, false)
            .find_map(|(block, _)| raise_before_branch_release(block, lock, steps));
        if inside.is_some() {
            return inside;
        }
        if releases_on_every_path(stmt, lock, steps) {
            return None;
        }
    }
    None
}

/// Whether a statement releases the lock somewhere inside it.
fn contains_release(stmt: &Stmt, lock: &str, steps: &Steps) -> bool {
    releases(stmt, lock, steps)
        || sub_blocks(stmt, false)
            .any(|(block, _)| block.iter().any(|s| contains_release(s, lock, steps)))
}

/// Whether every path through a compound statement releases the lock or leaves: an `if` with
/// an `else` whose every branch does, a `with` body that does, a `try` whose `finally` does.
fn releases_on_every_path(stmt: &Stmt, lock: &str, steps: &Steps) -> bool {
    let block_releases = |body: &[Stmt]| {
        always_leaves(body)
            || body
                .iter()
                .any(|s| releases(s, lock, steps) || releases_on_every_path(s, lock, steps))
    };
    match stmt {
        Stmt::If(branch) => {
            branch
                .elif_else_clauses
                .last()
                .is_some_and(|c| c.test.is_none())
                && block_releases(&branch.body)
                && branch
                    .elif_else_clauses
                    .iter()
                    .all(|c| block_releases(&c.body))
        }
        Stmt::With(with) => block_releases(&with.body),
        Stmt::Try(t) => block_releases(&t.finalbody),
        _ => false,
    }
}

/// The blocks of statements a compound statement holds, each with whether a `break` in it
/// stays inside a loop.
fn sub_blocks(stmt: &Stmt, in_loop: bool) -> impl Iterator<Item = (&[Stmt], bool)> {
    let blocks: Vec<(&[Stmt], bool)> = match stmt {
        Stmt::If(branch) => std::iter::once(&branch.body[..])
            .chain(branch.elif_else_clauses.iter().map(|c| &c.body[..]))
            .map(|b| (b, in_loop))
            .collect(),
        Stmt::With(with) => vec![(&with.body, in_loop)],
        Stmt::For(l) => vec![(&l.body, true), (&l.orelse, in_loop)],
        Stmt::While(l) => vec![(&l.body, true), (&l.orelse, in_loop)],
        Stmt::Try(t) => std::iter::once(&t.body[..])
            .chain(t.handlers.iter().map(|h| match h {
                ast::ExceptHandler::ExceptHandler(h) => &h.body[..],
            }))
            .chain([&t.orelse[..], &t.finalbody[..]])
            .map(|b| (b, in_loop))
            .collect(),
        Stmt::Match(m) => m.cases.iter().map(|c| (&c.body[..], in_loop)).collect(),
        _ => Vec::new(),
    };
    blocks.into_iter()
}

/// The first call or `yield` in a block of statements (not in nested functions): code that may
/// raise (a generator's `yield` raises what its caller throws in, or `GeneratorExit`).
/// Whether an `except` clause catches every exception (`except:`, `except BaseException:`,
/// `except Exception:`) and goes on after the `try` (its body neither raises nor leaves).
fn swallows_everything(handler: &ast::ExceptHandler) -> bool {
    let ast::ExceptHandler::ExceptHandler(clause) = handler;
    (clause.type_.is_none() || catches(handler, &["BaseException", "Exception"]))
        && !clause.body.iter().any(|stmt| {
            matches!(
                stmt,
                Stmt::Raise(_) | Stmt::Return(_) | Stmt::Break(_) | Stmt::Continue(_)
            )
        })
}

pub(super) fn first_call(body: &[Stmt], lock: &str, steps: &Steps) -> Option<Span> {
    struct FirstCall<'l, 's>(Option<Span>, &'l str, &'l Steps<'s>);
    impl<'b> Visitor<'b> for FirstCall<'_, '_> {
        fn visit_stmt(&mut self, stmt: &'b Stmt) {
            if self.0.is_some() || matches!(stmt, Stmt::FunctionDef(_) | Stmt::ClassDef(_)) {
                return;
            }
            // `try: … except BaseException: lock.release(); raise`: what raises in the body
            // releases the lock.
            // `try: … except: pass`: what raises in the body is swallowed, and the release
            // after the `try` runs.
            if let Stmt::Try(t) = stmt
                && (released_on_exceptions(&t.handlers)
                    .iter()
                    .any(|l| l == self.1)
                    || t.handlers.iter().any(swallows_everything))
            {
                for handler in &t.handlers {
                    self.visit_except_handler(handler);
                }
                self.visit_body(&t.orelse);
                self.visit_body(&t.finalbody);
                return;
            }
            stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                visitor::walk_stmt(self, stmt)
            });
        }
        fn visit_expr(&mut self, expr: &'b Expr) {
            match expr {
                _ if self.0.is_some() => {}
                // `lock.release()` on a branch that leaves early does not raise.
                Expr::Call(call)
                    if call.arguments.is_empty()
                        && matches!((self.2)(call), Some((Step::Release, _))) => {}
                // `cond.notify()` / `notify_all()` on the condition held here cannot raise
                // (only without the lock): its arguments still may.
                Expr::Call(call)
                    if matches!(call.func.as_ref(), Expr::Attribute(attr)
                        if matches!(attr.attr.id.as_str(), "notify" | "notify_all")
                            && dotted(&attr.value) == self.1) =>
                {
                    for argument in &*call.arguments.args {
                        self.visit_expr(argument);
                    }
                }
                Expr::Call(_) | Expr::Yield(_) | Expr::YieldFrom(_) => self.0 = Some(span(expr)),
                Expr::Lambda(_) => {}
                _ => stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_expr(self, expr)
                }),
            }
        }
    }
    let mut finder = FirstCall(None, lock, steps);
    finder.visit_body(body);
    finder.0
}

/// Finds what a method does to its object's locks (see `Lowerer::note_lock_step`).
struct LockSteps<'a> {
    /// The method's `self`.
    self_name: &'a str,
    /// Loop variables that are each lock of a collection of the object (`lock` in `for lock
    /// in self._locks.values()`), with that collection as written after `self` (`._locks`).
    each: HashMap<&'a str, String>,
    /// Each `acquire()` and `release()` on the object's locks, with the lock after `self`.
    steps: Vec<(Step, String)>,
    /// Whether the method also does something else to a lock (a non-blocking `acquire`, a lock
    /// that is not the object's), which makes it more than a step.
    other: bool,
}

impl<'a> LockSteps<'a> {
    /// A lock expression as written after `self` (`._lock`), or the collection of a loop
    /// variable (`._locks[*]`).
    fn of_object(&self, expr: &Expr) -> Option<String> {
        match expr {
            Expr::Name(name) => self.each.get(name.id.as_str()).cloned(),
            _ => {
                let written = dotted(expr);
                let rest = written.strip_prefix(self.self_name)?;
                rest.starts_with('.').then(|| rest.to_string())
            }
        }
    }
}

impl<'a> Visitor<'a> for LockSteps<'a> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            // `for lock in self._locks.values():`, `for _, lock in self._locks.items():`
            Stmt::For(each) => {
                let collection = match each.iter.as_ref() {
                    Expr::Call(call)
                        if call.arguments.is_empty()
                            && let Expr::Attribute(attr) = call.func.as_ref()
                            && matches!(attr.attr.id.as_str(), "values" | "items") =>
                    {
                        &attr.value
                    }
                    iter => iter,
                };
                let target = match each.target.as_ref() {
                    Expr::Tuple(pair) => pair.elts.last(),
                    target => Some(target),
                };
                if let Some(Expr::Name(target)) = target
                    && collection.is_attribute_expr()
                    && let Some(collection) = self.of_object(collection)
                {
                    self.each
                        .insert(target.id.as_str(), concat(&[&collection, "[*]"]));
                }
                stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_stmt(self, stmt)
                });
            }
            _ => stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                visitor::walk_stmt(self, stmt)
            }),
        }
    }
    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Yield(_) | Expr::YieldFrom(_) => self.other = true,
            Expr::Lambda(_) => {}
            Expr::Call(call)
                if let Expr::Attribute(attr) = call.func.as_ref()
                    && matches!(attr.attr.id.as_str(), "acquire" | "release") =>
            {
                let step = if attr.attr.id.as_str() == "acquire" {
                    Step::Acquire
                } else {
                    Step::Release
                };
                // (An `acquire(blocking, timeout=timeout)` passing the helper's own
                // parameters blocks by default; one that asks not to block is an attempt.)
                let blocking = call.arguments.is_empty()
                    || step == Step::Acquire && !asks_not_to_block(call, Some("acquire"));
                match self.of_object(&attr.value) {
                    Some(lock) if blocking => self.steps.push((step, lock)),
                    _ => self.other = true,
                }
            }
            _ => stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                visitor::walk_expr(self, expr)
            }),
        }
    }
}

/// The await points of a block of statements (`await`, `async with`, `async for`; `yield` and
/// `yield from` where `yields`), not counting nested functions, classes and lambdas (they run
/// at another time).
pub(super) fn awaits_in(body: &[Stmt], yields: bool) -> Vec<Span> {
    struct Awaits(Vec<Span>, bool);
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
                Expr::Yield(_) | Expr::YieldFrom(_) if self.1 => {
                    self.0.push(span(expr));
                    visitor::walk_expr(self, expr);
                }
                _ => visitor::walk_expr(self, expr),
            })
        }
    }
    let mut awaits = Awaits(Vec::new(), yields);
    for stmt in body {
        awaits.visit_stmt(stmt);
    }
    awaits.0
}

fn lock_name(identity: String, scope: LockScope, via_self: bool) -> LockName {
    LockName {
        identity,
        scope,
        via_self,
    }
}

/// The lock a generator body holds at a `yield`: a `with` item whose body yields, or a lock
/// `acquire()`d by a statement before one that yields (`try: yield finally: release()`).
fn lock_held_at_yield(body: &[Stmt]) -> Option<&Expr> {
    let mut acquired: Option<&Expr> = None;
    for stmt in body {
        match stmt {
            Stmt::With(with) if yields(&with.body) => {
                let lock = with
                    .items
                    .iter()
                    .map(|item| &item.context_expr)
                    .find(|e| matches!(e, Expr::Name(_) | Expr::Attribute(_)));
                return lock.or(acquired);
            }
            Stmt::With(_) => {}
            Stmt::Expr(statement) => {
                let value = match statement.value.as_ref() {
                    Expr::Await(awaited) => awaited.value.as_ref(),
                    value => value,
                };
                if let Expr::Call(call) = value
                    && let Expr::Attribute(attr) = call.func.as_ref()
                    && matches!(attr.attr.id.as_str(), "acquire" | "release")
                    && matches!(attr.value.as_ref(), Expr::Name(_) | Expr::Attribute(_))
                {
                    match attr.attr.id.as_str() {
                        "acquire" => acquired = Some(&attr.value),
                        _ => acquired = acquired.filter(|held| dotted(held) != dotted(&attr.value)),
                    }
                } else if yields(std::slice::from_ref(stmt)) {
                    return acquired;
                }
            }
            // `acquired = lock.acquire(timeout=t)`: held where it succeeded, which the
            // caller is given to test (`with held(l) as ok: if not ok: raise`).
            Stmt::Assign(assign)
                if let Expr::Call(call) = assign.value.as_ref()
                    && let Expr::Attribute(attr) = call.func.as_ref()
                    && attr.attr.id.as_str() == "acquire"
                    && matches!(attr.value.as_ref(), Expr::Name(_) | Expr::Attribute(_)) =>
            {
                acquired = Some(&attr.value);
            }
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            // `try: with self._lock: yield finally: …`
            Stmt::Try(t) if yields(&t.body) => return lock_held_at_yield(&t.body).or(acquired),
            _ if yields(std::slice::from_ref(stmt)) => return acquired,
            _ => {}
        }
    }
    None
}

/// The locks a function's decorators hold while it runs (see `Lowerer::decorator_locks`).
pub(super) struct DecoratorHolds<'a> {
    /// Each lock with the decorator, the lock expression and its facts.
    pub(super) locks: Vec<(Span, &'a Expr, LockFacts)>,
    /// Attributes of the decorated method's own object, with the decorator.
    pub(super) own: Vec<(Span, &'a str)>,
}

/// A lock a bare decorator's wrapper holds while it calls the function it decorates.
#[derive(Clone, Copy, Debug)]
pub(super) enum DecoratorLock<'a> {
    /// A lock of the decorator's module (`with QUEUE_LOCK: return func(*a, **k)`).
    Module(&'a Expr),
    /// An attribute of the wrapper's first argument, the decorated method's own object
    /// (`def call(self, *a): with self._lock: return method(self, *a)`).
    Own(&'a str),
}

/// The functions defined directly in a body.
fn nested_functions(body: &[Stmt]) -> impl Iterator<Item = &ast::StmtFunctionDef> {
    body.iter().filter_map(|s| s.as_function_def_stmt())
}

/// The positions of a decorator factory's parameters that its wrapper holds as locks while it
/// calls the decorated function (see `Lowerer::note_lock_decorator`).
fn held_factory_arguments(factory: &ast::StmtFunctionDef) -> Vec<usize> {
    let params: Vec<&str> = factory
        .parameters
        .iter_non_variadic_params()
        .map(|p| p.parameter.name.id.as_str())
        .collect();
    let mut held = Vec::new();
    for decorate in nested_functions(&factory.body) {
        let Some(func) = decorate.parameters.args.first() else {
            continue;
        };
        let func = func.parameter.name.id.as_str();
        for wrapper in nested_functions(&decorate.body) {
            // `lock_obj = lock`: the wrapper's names for the factory's parameters.
            let mut aliases: HashMap<&str, &str> = params.iter().map(|p| (*p, *p)).collect();
            for stmt in &wrapper.body {
                if let Stmt::Assign(assign) = stmt
                    && let [Expr::Name(target)] = &assign.targets[..]
                    && let Expr::Name(value) = assign.value.as_ref()
                    && let Some(param) = aliases.get(value.id.as_str()).copied()
                {
                    aliases.insert(target.id.as_str(), param);
                }
            }
            let mut locks = Vec::new();
            held_at_call(&wrapper.body, func, &mut Vec::new(), &mut locks);
            for lock in locks {
                if let Expr::Name(lock) = lock
                    && let Some(index) = aliases
                        .get(lock.id.as_str())
                        .and_then(|param| params.iter().position(|p| p == param))
                    && !held.contains(&index)
                {
                    held.push(index);
                }
            }
        }
    }
    held
}

/// What a bare decorator (`def locked(func):`, one parameter) holds while its wrapper calls the
/// decorated function: a name that is none of the wrapper's parameters or locals (a lock of the
/// module: `def call(*a, **k): with QUEUE_LOCK: return func(*a, **k)`), or an attribute of the
/// wrapper's first parameter (the decorated method's object: `def call(self, *a): with
/// self._lock: return method(self, *a)`); each with whether that wrapper is `async`.
fn held_by_bare_decorator(def: &ast::StmtFunctionDef) -> Vec<(DecoratorLock<'_>, bool)> {
    let params = &def.parameters;
    let [func] = &params.args[..] else {
        return Vec::new();
    };
    if !params.posonlyargs.is_empty() || !params.kwonlyargs.is_empty() {
        return Vec::new();
    }
    let func = func.parameter.name.id.as_str();
    let mut held = Vec::new();
    for wrapper in nested_functions(&def.body) {
        let mut locks = Vec::new();
        held_at_call(&wrapper.body, func, &mut Vec::new(), &mut locks);
        if locks.is_empty() {
            continue;
        }
        let own = wrapper
            .parameters
            .iter_non_variadic_params()
            .next()
            .map(|p| p.parameter.name.id.as_str());
        let parameter = |name: &str| {
            name == func
                || wrapper
                    .parameters
                    .iter()
                    .any(|p| p.name().id.as_str() == name)
        };
        let assigned = |name: &str| {
            wrapper.body.iter().any(|stmt| {
                matches!(stmt, Stmt::Assign(assign)
                    if assign.targets.iter().any(|t| matches!(t, Expr::Name(n) if n.id.as_str() == name)))
            })
        };
        for lock in locks {
            let found = match lock {
                Expr::Name(name) if !parameter(&name.id) && !assigned(&name.id) => {
                    DecoratorLock::Module(lock)
                }
                Expr::Attribute(attr) if matches!(attr.value.as_ref(), Expr::Name(n) if Some(n.id.as_str()) == own) => {
                    DecoratorLock::Own(attr.attr.id.as_str())
                }
                _ => continue,
            };
            let known = held
                .iter()
                .any(|(h, _): &(DecoratorLock, bool)| match (h, &found) {
                    (DecoratorLock::Module(a), DecoratorLock::Module(b)) => dotted(a) == dotted(b),
                    (DecoratorLock::Own(a), DecoratorLock::Own(b)) => a == b,
                    _ => false,
                });
            if !known {
                held.push((found, wrapper.is_async));
            }
        }
    }
    held
}

/// The locks (names, or attributes of names) held by `with` or `acquire()` before it in the
/// block where `body` calls `func`, added to `found`.
fn held_at_call<'b>(
    body: &'b [Stmt],
    func: &str,
    held: &mut Vec<&'b Expr>,
    found: &mut Vec<&'b Expr>,
) {
    let nameable = |e: &Expr| match e {
        Expr::Name(_) => true,
        Expr::Attribute(attr) => matches!(attr.value.as_ref(), Expr::Name(_)),
        _ => false,
    };
    let depth = held.len();
    for stmt in body {
        if let Some(call) = statement_call(stmt)
            && let Expr::Attribute(attr) = call.func.as_ref()
            && nameable(&attr.value)
        {
            let lock = attr.value.as_ref();
            match attr.attr.id.as_str() {
                "acquire" if call.arguments.is_empty() => held.push(lock),
                "release" => held.retain(|h| dotted(h) != dotted(lock)),
                _ => {}
            }
            continue;
        }
        match stmt {
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            Stmt::With(with) => {
                let before = held.len();
                held.extend(
                    with.items
                        .iter()
                        .map(|item| &item.context_expr)
                        .filter(|lock| nameable(lock)),
                );
                held_at_call(&with.body, func, held, found);
                held.truncate(before);
            }
            Stmt::Try(t) => {
                // The body only: the handlers and `finally` run after the call.
                held_at_call(&t.body, func, held, found);
            }
            _ if calls_name(stmt, func) => found.extend(held.iter().copied()),
            _ => {}
        }
    }
    held.truncate(depth);
}

/// Whether a simple statement calls the name `func` (`return func(*args, **kw)`).
fn calls_name(stmt: &Stmt, func: &str) -> bool {
    struct Finder<'f>(&'f str, bool);
    impl<'b> Visitor<'b> for Finder<'_> {
        fn visit_expr(&mut self, expr: &'b Expr) {
            if let Expr::Call(call) = expr
                && matches!(call.func.as_ref(), Expr::Name(n) if n.id.as_str() == self.0)
            {
                self.1 = true;
            }
            if !self.1 && !expr.is_lambda_expr() {
                stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_expr(self, expr)
                });
            }
        }
    }
    let mut finder = Finder(func, false);
    finder.visit_stmt(stmt);
    finder.1
}

/// Whether statements `yield` (not counting nested functions, classes and lambdas).
fn yields(body: &[Stmt]) -> bool {
    #[derive(Default)]
    struct Yields(bool);
    impl<'b> Visitor<'b> for Yields {
        fn visit_stmt(&mut self, stmt: &'b Stmt) {
            if !self.0 && !matches!(stmt, Stmt::FunctionDef(_) | Stmt::ClassDef(_)) {
                stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_stmt(self, stmt)
                });
            }
        }
        fn visit_expr(&mut self, expr: &'b Expr) {
            match expr {
                _ if self.0 => {}
                Expr::Yield(_) | Expr::YieldFrom(_) => self.0 = true,
                Expr::Lambda(_) => {}
                _ => stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_expr(self, expr)
                }),
            }
        }
    }
    let mut finder = Yields::default();
    finder.visit_body(body);
    finder.0
}

/// The lock a condition is built on: `Condition(lock)` or `Condition(lock=lock)`.
fn condition_lock_argument(value: &Expr) -> Option<&Expr> {
    let Expr::Call(call) = value else {
        return None;
    };
    call.arguments.args.first().or_else(|| {
        call.arguments
            .keywords
            .iter()
            .find(|k| k.arg.as_ref().is_some_and(|a| a.id.as_str() == "lock"))
            .map(|k| &k.value)
    })
}
