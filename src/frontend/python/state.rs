//! Shared state: writes of module globals and `self` attributes, the reads that decide a
//! branch, and check-then-act sequences.

use ruff_python_ast::comparable::ComparableExpr;
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Stmt};

use super::Lowerer;
use super::semantic::Binding;
use super::syntax::{attribute_root, dotted, reads, span, without_keys};
use crate::knowledge::Returns;
use crate::model::{
    Access, ActKind, CheckThenAct, Keeps, Receiver, Span, StateUse, StateWrite, concat, items_of,
};

impl<'a> Lowerer<'a> {
    /// Shared state an expression names: a module global (read anywhere, or assigned in a
    /// function that declares it `global`) or an attribute through `self`: its identity, the
    /// text as written, and whether it goes through `self`.
    pub(super) fn shared_state(&self, expr: &Expr) -> Option<(String, String, bool)> {
        match expr {
            Expr::Name(name) => {
                let id = name.id.as_str();
                let declared_global = self.semantic.declared_global(id);
                match self.semantic.lookup_with_depth(id) {
                    // A module global of another module of the package (`from app import
                    // job_cache`): that module's object.
                    Some((0, Binding::Alias(canonical)))
                        if !declared_global && self.same_package(canonical) =>
                    {
                        Some((canonical.clone(), id.to_string(), false))
                    }
                    Some((0, Binding::Local(_))) => {
                        Some((self.model.join(id), id.to_string(), false))
                    }
                    _ if declared_global => Some((self.model.join(id), id.to_string(), false)),
                    // `nonlocal seen`: the enclosing function's variable, one for every call of
                    // this closure (shared when the closure runs on several threads).
                    Some((depth, Binding::Local(_)))
                        if self.semantic.declared_nonlocal(id)
                            && self.semantic.closure_escapes() =>
                    {
                        let owner = self.model.join(&self.semantic.scopes[depth].prefix);
                        Some((concat(&[&owner, ".", id]), id.to_string(), false))
                    }
                    _ => None,
                }
            }
            Expr::Attribute(attr) => {
                // `self.__class__._instance`, `type(self)._instance`: the class's own
                // attribute, one for every instance, like a global.
                if self.is_own_class(&attr.value) {
                    let class = self.semantic.self_type()?;
                    let written = self.source.get(span(expr))?;
                    return Some((
                        concat(&[class, ".", attr.attr.id.as_str()]),
                        written.to_string(),
                        false,
                    ));
                }
                let member = attr.attr.id.as_str();
                // A global of a module of the package reached through its import (`import
                // pkg.reg` then `pkg.reg._stores`): that module's object.
                if let Expr::Attribute(owner) = attr.value.as_ref()
                    && let Expr::Name(root) = super::syntax::attribute_root(&owner.value)
                    && super::syntax::is_attribute_path(&owner.value)
                    && let Some((0, Binding::Alias(_))) =
                        self.semantic.lookup_with_depth(root.id.as_str())
                    && let Some(module) = self.semantic.resolve(&attr.value)
                    && self.same_package(&module)
                {
                    return Some((concat(&[&module, ".", member]), dotted(expr), false));
                }
                let Expr::Name(base) = attr.value.as_ref() else {
                    return None;
                };
                let self_name = self
                    .semantic
                    .method_scope()
                    .and_then(|scope| scope.self_name.as_deref());
                // A container created in the class body (`_locks = {}`), reached through
                // `self` or the class: one object for every instance, like a global.
                let class = match self_name {
                    Some(self_name) if base.id.as_str() == self_name => {
                        self.semantic.self_type().map(str::to_string)
                    }
                    _ => self.semantic.resolve(&attr.value),
                };
                // An object of another module of the package reached through an import
                // (`import app` then `app.job_cache`): that module's object.
                if let Some((0, Binding::Alias(imported))) =
                    self.semantic.lookup_with_depth(base.id.as_str())
                    && self.same_package(&concat(&[imported, ".", member]))
                {
                    return Some((concat(&[imported, ".", member]), dotted(expr), false));
                }
                if let Some(class) = class
                    && self
                        .semantic
                        .classes
                        .get(&class)
                        .is_some_and(|info| info.shared_containers.contains(member))
                {
                    return Some((concat(&[&class, ".", member]), dotted(expr), false));
                }
                (Some(base.id.as_str()) == self_name).then_some(())?;
                // `cls._instance` in a `@classmethod`: the class's own attribute, one for every
                // instance, like a global.
                let class_method = self.semantic.method_scope().is_some_and(|s| s.class_method);
                Some((self.semantic.resolve(expr)?, dotted(expr), !class_method))
            }
            _ => None,
        }
    }

    /// Whether an expression is a thread-local object: a `threading.local()`, or an object of
    /// a class of the file derived from it.
    fn is_thread_local(&self, expr: &Expr) -> bool {
        const THREAD_LOCAL: [&str; 2] = ["threading.local", "_threading_local.local"];
        let Some(Returns::One(ty)) = self.semantic.type_of(expr) else {
            return false;
        };
        THREAD_LOCAL.contains(&ty.as_str())
            || self
                .semantic
                .library_base_among(&ty, |base| THREAD_LOCAL.contains(&base))
                .is_some()
    }

    /// Whether an expression is the class of the method's own object: `self.__class__`,
    /// `type(self)`.
    fn is_own_class(&self, expr: &Expr) -> bool {
        let Some(self_name) = self
            .semantic
            .method_scope()
            .and_then(|scope| scope.self_name.as_deref())
        else {
            return false;
        };
        let is_self = |e: &Expr| matches!(e, Expr::Name(n) if n.id.as_str() == self_name);
        match expr {
            Expr::Attribute(attr) => attr.attr.id.as_str() == "__class__" && is_self(&attr.value),
            Expr::Call(call) => {
                matches!(call.func.as_ref(), Expr::Name(f) if f.id.as_str() == "type")
                    && call.arguments.keywords.is_empty()
                    && matches!(&*call.arguments.args, [only] if is_self(only))
            }
            _ => false,
        }
    }

    /// [`Self::shared_state`], and for writes also an attribute of an object kept in an
    /// attribute (`self.index.counter += n`): the object is shared with `self`.
    fn shared_state_written(&self, target: &Expr) -> Option<(String, String, bool)> {
        if let Some(state) = self.shared_state(target) {
            return Some(state);
        }
        let Expr::Attribute(attr) = target else {
            return None;
        };
        let self_name = self.semantic.self_name()?;
        let root = attribute_root(&attr.value);
        let nested = attr.value.is_attribute_expr();
        let on_self = matches!(root, Expr::Name(base) if base.id.as_str() == self_name);
        (nested && on_self).then_some(())?;
        // An attribute of a thread-local object (`self.local.count`): each thread's own.
        if self.is_thread_local(&attr.value) {
            return None;
        }
        // Named after the owner, not the inner object's type: `Indexer.index.counter` and
        // `Loader.index.counter` are different state even if both indexes are `Index`es.
        let Some(Returns::One(owner)) = self.semantic.type_of(root) else {
            return None;
        };
        let written = dotted(target);
        let path = written.split_once('.').map_or("", |(_, path)| path);
        Some((concat(&[&owner, ".", path]), written, true))
    }

    /// Records a write of shared state (`counter += 1`, `self.hits = self.hits + 1`,
    /// `self.stock = v - n` after `v = self.stock`), in a function (not module-level code).
    pub(super) fn state_write(&mut self, target: &Expr, value: Option<&Expr>, at: Span) {
        if self.forked_child > 0 {
            return;
        }
        if let Expr::Subscript(item) = target {
            return self.item_update(item, value, at);
        }
        // A bare name is module state at the top level, or where a function declares it
        // `global`.
        let at_top_level = self.current == 0 && self.semantic.at_module_scope();
        if let Expr::Name(name) = target
            && !at_top_level
            && !self.semantic.declared_outer(name.id.as_str())
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
        let Some((state, written, via_self)) = self.shared_state_written(target) else {
            return;
        };
        let (access, read) = match value {
            None => (Access::ReadModifyWrite, None),
            // `self.n = self.n + await ack()`: the read and the write are split by the await.
            Some(value) if reads(value, &written) => {
                let read = first_read(value, &written)
                    .filter(|read| awaits_in_expr(value).iter().any(|a| a.start > read.end));
                (Access::ReadModifyWrite, read)
            }
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
        // The awaits after the read: before this statement, and inside the value written (it
        // runs before the write: `self.n = n + await ack()`).
        let awaits_between = match &read {
            Some(read) => {
                let before = self.model.functions[self.current].awaits.iter().cloned();
                let inside = value.map(awaits_in_expr).unwrap_or_default();
                before
                    .chain(inside)
                    .filter(|a| a.start > read.end && (a.start < at.start || a.end <= at.end))
                    .collect()
            }
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

    /// An expression's source text for a message, if it is on one line and at most `limit`
    /// bytes long.
    fn snippet(&self, expr: &Expr, limit: usize) -> Option<&'a str> {
        let text = &self.source[span(expr)];
        (text.len() <= limit && !text.contains('\n')).then_some(text)
    }

    /// `self.hits[k] += 1`, `COUNTS[k] += 1`: an item of a shared container is read, changed
    /// and written back. Its state is the container's items (`….hits[]`): a lock around other
    /// such updates guards this one, and the container itself (`self.hits = {}`) is another
    /// state.
    fn item_update(&mut self, item: &ast::ExprSubscript, value: Option<&Expr>, at: Span) {
        if value.is_some() || self.current == 0 {
            return;
        }
        let Some((state, written, via_self)) = self.shared_state_written(&item.value) else {
            return;
        };
        let key = self.snippet(item.slice.as_ref(), 40).unwrap_or("…");
        let write = StateWrite {
            span: at,
            state: items_of(&state),
            written: format!("{written}[{key}]"),
            via_self,
            access: Access::ReadModifyWrite,
            read: None,
            awaits_between: Vec::new(),
            closure: self.closure,
            context: self.context,
        };
        self.model.functions[self.current].state_writes.push(write);
    }

    /// Records the shared state an `if` condition reads (in functions, not top-level code).
    pub(super) fn state_checks(&mut self, test: &Expr, extent: Span) {
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
                let check = StateUse {
                    span: span(read),
                    state,
                    written,
                    via_self,
                    extent: extent.clone(),
                };
                self.model.functions[self.current].state_checks.push(check);
            }
        }
    }

    /// `self.conns[k] = v`, `del self.conns[k]`, `self.conns.pop(k)`: notes that `container`,
    /// when it is shared state, is changed in place at `site` (not in constructors or
    /// top-level code, which run before anything is shared).
    pub(super) fn container_change(&mut self, container: &Expr, site: Span) {
        self.state_use(container, site, |function| &mut function.container_changes);
    }

    /// `self._cache[threading.get_ident()] = v`, `self._cache.pop(thread_id(), None)`: notes a
    /// container keyed by the current thread's id — every thread changes it (a helper of the
    /// file whose one statement returns the id counts: `def thread_id(self): return
    /// threading.get_ident()`).
    pub(super) fn note_thread_keyed(&mut self, container: &Expr, key: &Expr) {
        if !self.is_thread_id(key) {
            return;
        }
        if let Some((state, _, _)) = self.shared_state(container) {
            self.model.thread_keyed.push((state, span(key)));
        }
    }

    /// Whether an expression is the current thread's id: a call of `threading.get_ident()`
    /// and its kin, of a helper of the file that returns one, or a local of the current
    /// function assigned one (`thread_id = self.current_thread_id()`).
    fn is_thread_id(&self, value: &Expr) -> bool {
        match value {
            Expr::Call(call) => self.semantic.resolve(&call.func).is_some_and(|callee| {
                THREAD_IDS.contains(&callee.as_str()) || self.thread_id_helpers.contains(&callee)
            }),
            Expr::Name(name) => self
                .thread_id_locals
                .iter()
                .any(|(function, local)| *function == self.current && local == name.id.as_str()),
            _ => false,
        }
    }

    /// `thread_id = threading.get_ident()`: the local holds the current thread's id.
    pub(super) fn note_thread_id_local(&mut self, target: &Expr, value: &Expr) {
        if let Expr::Name(name) = target
            && self.is_thread_id(value)
        {
            self.thread_id_locals
                .push((self.current, name.id.to_string()));
        }
    }

    /// `def current_thread_id(self): … return threading.get_ident()`: a helper that gives the
    /// current thread's id on some path (see [`Self::note_thread_keyed`]).
    pub(super) fn note_thread_id_helper(&mut self, canonical: &str, body: &[ast::Stmt]) {
        // Most files never ask for a thread's id: no walk of every function's returns.
        if !self.mentions_thread_ids {
            return;
        }
        let returns_id = super::semantic::returned_values(body)
            .into_iter()
            .any(|value| {
                matches!(value, Expr::Call(call) if self.semantic.resolve(&call.func)
                .is_some_and(|c| THREAD_IDS.contains(&c.as_str())))
            });
        if returns_id {
            self.thread_id_helpers.insert(canonical.to_string());
        }
    }

    /// `for k in self.conns:`, `for k, v in self.conns.items():`, a comprehension over one:
    /// notes that shared state is iterated item by item at `iter`.
    pub(super) fn iteration(&mut self, iter: &Expr) {
        let container = match iter {
            Expr::Call(call)
                if call.arguments.is_empty()
                    && matches!(call.func.as_ref(), Expr::Attribute(attr)
                        if matches!(attr.attr.id.as_str(), "items" | "keys" | "values")) =>
            {
                let Expr::Attribute(attr) = call.func.as_ref() else {
                    return;
                };
                attr.value.as_ref()
            }
            _ => iter,
        };
        self.state_use(container, span(iter), |function| &mut function.iterations);
    }

    fn state_use(
        &mut self,
        expr: &Expr,
        site: Span,
        list: impl FnOnce(&mut crate::model::Function) -> &mut thin_vec::ThinVec<StateUse>,
    ) {
        if self.current == 0 || self.forked_child > 0 {
            return;
        }
        // A constructor sets its own object up before it is shared; a module's registry it
        // changes (`_OBJECTS[self.key] = self`) is shared already.
        if let Some((state, written, via_self)) = self
            .shared_state(expr)
            .or_else(|| self.aliased_attribute(expr))
            .or_else(|| self.object_attribute(expr))
            .or_else(|| self.element_state(expr))
            && !(via_self && self.in_constructor())
        {
            let found = StateUse {
                extent: site.clone(),
                span: site,
                state,
                written,
                via_self,
            };
            list(&mut self.model.functions[self.current]).push(found);
        }
    }

    /// `self.subscribers[topic]`: an element of a shared container (a dict of sets, a list of
    /// lists), as one state for all its elements (`Stream.subscribers[]`), written as the
    /// source has it. Looping over one element while another thread adds to one is the
    /// same race as with a flat container.
    fn element_state(&self, expr: &Expr) -> Option<(String, String, bool)> {
        let Expr::Subscript(subscript) = expr else {
            return None;
        };
        let (state, _, via_self) = self.shared_state(&subscript.value)?;
        let written = self.source.get(span(expr))?;
        Some((concat(&[&state, "[]"]), written.to_string(), via_self))
    }

    /// `conns = self.conns` then `conns[k] = v`: a local that names an attribute of the
    /// method's own object is that container (for changes in place and iteration only: binding
    /// the local again does not write the attribute).
    fn aliased_attribute(&self, expr: &Expr) -> Option<(String, String, bool)> {
        let Expr::Name(name) = expr else {
            return None;
        };
        let Some(Binding::Alias(canonical)) = self.semantic.lookup(name.id.as_str()) else {
            return None;
        };
        let self_name = self.semantic.self_name()?;
        let class = self.semantic.self_type()?;
        let attribute = canonical.strip_prefix(class)?.strip_prefix('.')?;
        (!attribute.contains('.')).then(|| {
            let written = concat(&[self_name, ".", attribute]);
            (canonical.clone(), written, true)
        })
    }

    /// `m.start_by_pid` of a parameter or local typed as a class of the file (`m: Data`), or
    /// `self.reader.subjects` of an object the class keeps, of a class of the package: that
    /// class's container, reached through another object than `self` (shared when the object
    /// is handed to a thread, or runs one: see IL401's iteration check).
    fn object_attribute(&self, expr: &Expr) -> Option<(String, String, bool)> {
        let Expr::Attribute(attr) = expr else {
            return None;
        };
        let kept = match attr.value.as_ref() {
            Expr::Name(base) => matches!(
                self.semantic.lookup(base.id.as_str()),
                Some(Binding::Local(_))
            ),
            Expr::Attribute(kept) => self.semantic.receiver(&kept.value) == Receiver::Own,
            _ => false,
        };
        if !kept {
            return None;
        }
        let Some(Returns::One(class)) = self.semantic.type_of(&attr.value) else {
            return None;
        };
        let of_package =
            || matches!(attr.value.as_ref(), Expr::Attribute(_)) && self.own_name(&class);
        (self.semantic.classes.contains_key(&class) || of_package()).then(|| {
            let state = concat(&[&class, ".", attr.attr.id.as_str()]);
            (state, dotted(expr), false)
        })
    }

    /// Whether the function being lowered is a constructor: no rule reads its state facts.
    pub(super) fn in_constructor(&self) -> bool {
        self.model.functions[self.current].is_constructor()
    }

    /// `v = self.stock`: remembers that the local holds a value read from shared state.
    pub(super) fn state_read_into_local(&mut self, target: &Expr, value: &Expr) {
        let Expr::Name(local) = target else { return };
        // `updated = current + 1` after `current = self.n`: `updated` holds that read too.
        let derived = self
            .state_locals
            .iter()
            .rev()
            .find(|(name, _, _)| reads(value, name))
            .map(|(_, state, read)| (state.clone(), read.clone()));
        if !self.state_locals.is_empty() {
            self.state_locals
                .retain(|(name, _, _)| name != local.id.as_str());
        }
        // Only `self.x` and declared globals can be written back (see `state_write`).
        let writable = match value {
            Expr::Attribute(attr) => attr.value.is_name_expr(),
            Expr::Name(name) => self.semantic.declared_outer(name.id.as_str()),
            _ => false,
        };
        if self.current == 0 {
            return;
        }
        if writable && let Some((state, _, _)) = self.shared_state(value) {
            self.state_locals
                .push((local.id.to_string(), state, span(value)));
        } else if let Some((state, read)) = derived {
            self.state_locals.push((local.id.to_string(), state, read));
        }
    }

    /// `inst = self._instances.get(key)`: remembers that the local holds the entry (or
    /// `None`), until it is assigned again.
    pub(super) fn entry_looked_up(&mut self, target: &Expr, value: &'a Expr) {
        let Expr::Name(local) = target else { return };
        self.looked_up.retain(|(name, _)| name != local.id.as_str());
        if let Expr::Call(call) = value
            && let Expr::Attribute(method) = call.func.as_ref()
            && method.attr.id.as_str() == "get"
            && call.arguments.keywords.is_empty()
            && matches!(&*call.arguments.args, [_] | [_, Expr::NoneLiteral(_)])
        {
            self.looked_up.push((local.id.to_string(), &method.value));
        }
    }

    /// `ident = threading.get_ident()`: remembers that the local holds the running thread's
    /// identity, until it is assigned again.
    pub(super) fn thread_key_bound(&mut self, target: &Expr, value: &Expr) {
        let Expr::Name(local) = target else { return };
        self.thread_keys.retain(|name| name != local.id.as_str());
        if self.is_own_thread_key(value) {
            self.thread_keys.push(local.id.to_string());
        }
    }

    /// Whether a value is the running thread's (or task's) identity, or an attribute of it
    /// (`threading.current_thread().name`): a key no other thread uses (`[thread-identities]`
    /// of `rules/types.toml`).
    fn is_own_thread_key(&self, value: &Expr) -> bool {
        match value {
            Expr::Call(call) => self
                .semantic
                .resolve(&call.func)
                .is_some_and(|callee| self.tables.thread_identities.contains(&callee)),
            Expr::Attribute(attribute) => self.is_own_thread_key(&attribute.value),
            Expr::Name(name) => self.thread_keys.iter().any(|key| key == name.id.as_str()),
            _ => false,
        }
    }

    /// `if key not in self.cache: self.cache[key] = …`, `if inst is None: inst = …` (IL403).
    pub(super) fn check_then_act(&mut self, branch: &ast::StmtIf) {
        if self.current == 0 {
            return;
        }
        /// What a test checks: the state, whether the act is a subscript store (`if k not in
        /// cache:`), and for a flag kept under a constant key (`if not INFO["init"]:`), the key.
        /// `if k in cache:` checks that an entry is present: its key comes along.
        fn checked(test: &Expr) -> Option<(&Expr, bool, Option<&Expr>)> {
            match test {
                Expr::Compare(compare) => match (&*compare.ops, &*compare.comparators) {
                    ([ast::CmpOp::NotIn], [container]) => {
                        Some((without_keys(container), true, None))
                    }
                    ([ast::CmpOp::In], [container]) => {
                        Some((without_keys(container), true, Some(compare.left.as_ref())))
                    }
                    ([ast::CmpOp::Is], [none]) if none.is_none_literal_expr() => {
                        Some((compare.left.as_ref(), false, None))
                    }
                    // `if self.state == "idle": self.state = "running"`: a state transition.
                    ([ast::CmpOp::Eq], [constant]) if is_constant(constant) => {
                        Some((compare.left.as_ref(), false, None))
                    }
                    _ => None,
                },
                Expr::UnaryOp(not) if not.op == ast::UnaryOp::Not => match not.operand.as_ref() {
                    // `not key in cache` is `key not in cache`.
                    Expr::Compare(compare) => match (&*compare.ops, &*compare.comparators) {
                        ([ast::CmpOp::In], [container]) => {
                            Some((without_keys(container), true, None))
                        }
                        _ => None,
                    },
                    operand => Some((operand, false, None)),
                },
                // `if self._loop is None and start:`: every operand must hold.
                Expr::BoolOp(both) if both.op == ast::BoolOp::And => {
                    both.values.iter().find_map(checked)
                }
                // `if cls._instance is None or cls._instance.closed:`: whenever the state is
                // missing the branch runs, whatever the other operands say.
                Expr::BoolOp(either) => either.values.iter().find_map(|value| match value {
                    Expr::Compare(compare)
                        if matches!(
                            (&*compare.ops, &*compare.comparators),
                            ([ast::CmpOp::Is], [none]) if none.is_none_literal_expr()
                        ) || matches!(&*compare.ops, [ast::CmpOp::NotIn]) =>
                    {
                        checked(value)
                    }
                    _ => None,
                }),
                _ => None,
            }
        }
        // `if not hasattr(cls, "_instance"):` tests `cls._instance` as `is None` does.
        let probed = super::syntax::without_attribute_probes(&branch.test);
        let test = probed.as_ref().unwrap_or(&branch.test);
        let Some(checked) = checked(test) else {
            self.check_nonempty_then_take(branch);
            self.check_set_then_take(branch);
            self.check_empty_then_fill(branch, true);
            return;
        };
        // `if ident not in self.events:` with `ident = threading.get_ident()`: each thread
        // checks and fills its own entry.
        if let Expr::Compare(compare) = branch.test.as_ref()
            && matches!(&*compare.ops, [ast::CmpOp::NotIn])
            && self.is_own_thread_key(&compare.left)
        {
            return;
        }
        // `inst = self._instances.get(key)` then `if not inst:` (or `is None`) checks that
        // the entry is missing, as `if key not in self._instances:` does.
        let checked = match checked {
            (Expr::Name(local), false, None) => self
                .looked_up
                .iter()
                .rev()
                .find(|(name, _)| name == local.id.as_str())
                .map_or(checked, |(_, container)| (*container, true, None)),
            other => other,
        };
        // `if not self._cache:` finds a container empty, or checks a flag.
        if self.check_empty_then_fill(branch, false) {
            return;
        }
        // The branch's statements, and those of a `with` in it (`if k not in d: with lock:
        // d[k] = v` acts under a lock taken after the check) or of a `try` (`try: d[k] =
        // make() finally: ..`: the act runs unless something raises first).
        let statements = branch.body.iter().flat_map(|stmt| match stmt {
            Stmt::With(with) => with.body.iter().collect::<Vec<_>>(),
            Stmt::Try(attempt) => attempt
                .body
                .iter()
                .chain(&attempt.orelse)
                .chain(&attempt.finalbody)
                .collect(),
            stmt => vec![stmt],
        });
        let before = self.model.functions[self.current].check_then_acts.len();
        self.record_check_then_act(test, checked, statements);
        if self.model.functions[self.current].check_then_acts.len() == before {
            self.check_empty_then_fill(branch, true);
        }
    }

    /// `if not self._cache: for k, v in load(): self._cache[k] = v`: a shared container found
    /// empty, then filled (IL403): another thread that checks meanwhile sees it part-filled
    /// (and returns too little), or fills it again. The fill may be a helper's or a
    /// constructor's (`Metric(key)` whose `__init__` stores itself in the registry), looked
    /// for with `in_callee`. Whether it recorded one.
    fn check_empty_then_fill(&mut self, branch: &ast::StmtIf, in_callee: bool) -> bool {
        let Some(container) = tested_empty(&branch.test) else {
            return false;
        };
        let Some((state, written, via_self)) = self.shared_state(container) else {
            return false;
        };
        let mut statements = Vec::new();
        flatten(&branch.body, 3, &mut statements);
        let fills = |stmt: &&&Stmt| match stmt {
            Stmt::Assign(assign) => assign.targets.iter().any(
                |target| matches!(target, Expr::Subscript(item) if dotted(&item.value) == written),
            ),
            Stmt::Expr(statement) => matches!(statement.value.as_ref(), Expr::Call(call)
                if matches!(call.func.as_ref(), Expr::Attribute(method)
                    if FILLS.contains(&method.attr.id.as_str())
                        && dotted(&method.value) == written)),
            _ => false,
        };
        // One `cache.update(loaded)` fills it at once (and a second fill stores the same):
        // the fill takes several steps, in a loop or in several statements.
        let in_loop = |act: &Stmt| {
            statements.iter().any(|outer| {
                matches!(outer, Stmt::For(_))
                    && span(*outer).start < span(act).start
                    && span(act).end <= span(*outer).end
            })
        };
        let steps: Vec<&&Stmt> = statements.iter().filter(fills).collect();
        let act = match steps.as_slice() {
            [] => None,
            [only] if !in_loop(only) => return false,
            [first, ..] => Some(*first),
        };
        let test = branch.test.as_ref();
        let state = (state, written, via_self);
        match act {
            Some(act) => {
                self.push_check_then_act(
                    test,
                    span(*act),
                    state,
                    ActKind::Fill,
                    false,
                    Keeps::Nothing,
                );
                true
            }
            None => {
                in_callee
                    && self.act_by_call(test, &statements, state, ActKind::Fill, Keeps::Nothing)
            }
        }
    }

    /// `if k not in _OBJECTS: register(k)`: with no act of its own in `statements` (and no
    /// assignment of the state), one of their calls may be the act; records them as the
    /// candidates (see [`CheckThenAct::act_in_callee`]). Whether it did.
    fn act_by_call(
        &mut self,
        test: &Expr,
        statements: &[&Stmt],
        state: (String, String, bool),
        kind: ActKind,
        keeps: Keeps,
    ) -> bool {
        if statements.iter().any(|stmt| assigns(stmt, &state.1)) {
            return false;
        }
        let Some(calls) = call_region(statements) else {
            return false;
        };
        self.push_check_then_act(test, calls, state, kind, true, keeps);
        true
    }

    /// `if self._queue: item = self._queue.popleft()`: a shared container found non-empty,
    /// then an element taken out of it (IL403): another thread can take the last one in
    /// between, and this `pop` fails (`IndexError`, `KeyError`).
    fn check_nonempty_then_take(&mut self, branch: &ast::StmtIf) {
        let test = branch.test.as_ref();
        let container = match test {
            Expr::Attribute(_) | Expr::Name(_) => test,
            // `if len(self._queue):`, `if len(self._queue) > 0:`.
            Expr::Call(call) if is_len(call) => &call.arguments.args[0],
            Expr::Compare(compare)
                if matches!(&*compare.ops, [ast::CmpOp::Gt | ast::CmpOp::NotEq])
                    && matches!(compare.left.as_ref(), Expr::Call(call) if is_len(call)) =>
            {
                let Expr::Call(call) = compare.left.as_ref() else {
                    return;
                };
                &call.arguments.args[0]
            }
            _ => return,
        };
        let Some((state, written, via_self)) = self.shared_state(container) else {
            return;
        };
        let takes = |expr: &Expr| {
            matches!(expr, Expr::Call(call)
                if matches!(call.func.as_ref(), Expr::Attribute(method)
                    if matches!(method.attr.id.as_str(), "pop" | "popleft" | "popitem")
                        && dotted(&method.value) == written)
                    && call.arguments.keywords.is_empty()
                    && call.arguments.args.len() <= 1)
        };
        let act = branch.body.iter().find_map(|stmt| {
            let value = match stmt {
                Stmt::Expr(statement) => statement.value.as_ref(),
                Stmt::Assign(assign) => assign.value.as_ref(),
                Stmt::Return(ret) => ret.value.as_deref()?,
                _ => return None,
            };
            takes(value).then(|| span(stmt))
        });
        let Some(act) = act else {
            return;
        };
        self.push_check_then_act(
            test,
            act,
            (state, written, via_self),
            ActKind::NeedsEntry,
            false,
            Keeps::Nothing,
        );
    }

    /// `if _pending: args = _pending; _pending = None; connect(*args)`: a value found set,
    /// copied into a local and cleared (IL403). Two threads can both find it set and both take
    /// it, so the work it stands for runs twice. (Clearing alone, `if self._timer:
    /// self._timer.cancel(); self._timer = None`, takes nothing out.)
    fn check_set_then_take(&mut self, branch: &ast::StmtIf) {
        let test = branch.test.as_ref();
        let value = match test {
            Expr::Attribute(_) | Expr::Name(_) => test,
            Expr::Compare(compare)
                if matches!(
                    (&*compare.ops, &*compare.comparators),
                    ([ast::CmpOp::IsNot], [none]) if none.is_none_literal_expr()
                ) =>
            {
                compare.left.as_ref()
            }
            _ => return,
        };
        let Some((state, written, via_self)) = self.shared_state(value) else {
            return;
        };
        let names_only = |target: &Expr| match target {
            Expr::Name(_) => true,
            Expr::Tuple(tuple) => tuple.iter().all(Expr::is_name_expr),
            _ => false,
        };
        let taken = branch.body.iter().position(|stmt| {
            matches!(stmt, Stmt::Assign(assign)
                if dotted(&assign.value) == written
                    && matches!(assign.targets.as_slice(), [target] if names_only(target)))
        });
        let Some(taken) = taken else {
            return;
        };
        let cleared = branch.body[taken + 1..].iter().find(|stmt| {
            matches!(stmt, Stmt::Assign(assign)
                if matches!(assign.targets.as_slice(), [target] if dotted(target) == written)
                    && (assign.value.is_none_literal_expr()
                        || matches!(assign.value.as_ref(), Expr::BooleanLiteral(b) if !b.value)))
        });
        if let Some(cleared) = cleared
            && (!matches!(value, Expr::Name(_)) || self.semantic.declared_outer(&written))
        {
            self.push_check_then_act(
                test,
                span(cleared),
                (state, written, via_self),
                ActKind::Take,
                false,
                Keeps::Nothing,
            );
        }
    }

    /// `if self._x is not None: return self._x` … `self._x = build()`: the check returns early
    /// when the state is set, and the code after it sets it (IL403). `if k in cache: return
    /// cache[k]` … `cache[k] = v` alike. The act may sit in a `with`, `try` or `if` further on.
    pub(super) fn check_then_return(&mut self, branch: &ast::StmtIf, rest: &'a [Stmt]) {
        // `return`, or `continue` in a loop (then `rest` is the rest of the loop's body).
        if self.current == 0
            || !branch.elif_else_clauses.is_empty()
            || !matches!(
                branch.body.last(),
                Some(Stmt::Return(_) | Stmt::Continue(_))
            )
        {
            return;
        }
        /// What a test that returns when the state is set checks (as in `check_then_act`).
        fn set(test: &Expr) -> Option<(&Expr, bool, Option<&Expr>)> {
            match test {
                Expr::Compare(compare) => match (&*compare.ops, &*compare.comparators) {
                    ([ast::CmpOp::In], [container]) => Some((without_keys(container), true, None)),
                    ([ast::CmpOp::IsNot], [none]) if none.is_none_literal_expr() => {
                        Some((compare.left.as_ref(), false, None))
                    }
                    // `if self.state != "idle": return` … `self.state = "running"`.
                    ([ast::CmpOp::NotEq], [constant]) if is_constant(constant) => {
                        Some((compare.left.as_ref(), false, None))
                    }
                    _ => None,
                },
                Expr::Attribute(_) | Expr::Name(_) | Expr::Subscript(_) => {
                    Some((test, false, None))
                }
                // `if self._x is not None or closed: return`: the rest runs when every operand
                // fails; `if self._token and now < self._expires: return` when any one does.
                Expr::BoolOp(both) => both.values.iter().find_map(set),
                _ => None,
            }
        }
        let probed = super::syntax::without_attribute_probes(&branch.test);
        let test = probed.as_ref().unwrap_or(&branch.test);
        let Some(checked) = set(test) else {
            return;
        };
        let mut statements = Vec::new();
        flatten(rest, 3, &mut statements);
        self.record_check_then_act(test, checked, statements.into_iter());
    }

    /// `if self.tasks[tid]["status"] != PENDING: continue` … `self.tasks[tid]["status"] =
    /// RUNNING`: an item of a shared container (under any keys) checked, then assigned again
    /// as written. Its state is the container's items (as in `item_update`).
    fn record_item_check_then_act<'s>(
        &mut self,
        test: &Expr,
        checked: &Expr,
        mut statements: impl Iterator<Item = &'s Stmt>,
    ) {
        let mut container = checked;
        while let Expr::Subscript(item) = container {
            container = item.value.as_ref();
        }
        let Some((state, written, via_self)) = self.shared_state(container) else {
            return;
        };
        let item = ComparableExpr::from(checked);
        let act = statements.find_map(|stmt| match stmt {
            Stmt::Assign(assign) => match assign.targets.as_slice() {
                [target] if ComparableExpr::from(target) == item => Some(span(stmt)),
                _ => None,
            },
            _ => None,
        });
        let Some(act) = act else {
            return;
        };
        let written = self
            .snippet(checked, 60)
            .map_or_else(|| format!("{written}[…]"), str::to_string);
        self.push_check_then_act(
            test,
            act,
            (items_of(&state), written, via_self),
            ActKind::Create,
            false,
            Keeps::Nothing,
        );
    }

    /// Records a check of `checked` in `test` and the first of `statements` that acts on it.
    fn record_check_then_act<'s>(
        &mut self,
        test: &Expr,
        (checked, subscript, present_key): (&Expr, bool, Option<&Expr>),
        statements: impl Iterator<Item = &'s Stmt>,
    ) {
        // `INFO["init"]`: the flag is the container's item under that key.
        let (checked, key) = match checked {
            Expr::Subscript(item) if !subscript => match item.slice.as_ref() {
                Expr::StringLiteral(key) if !item.value.is_subscript_expr() => {
                    (item.value.as_ref(), Some(key.value.to_str()))
                }
                _ => return self.record_item_check_then_act(test, checked, statements),
            },
            _ => (checked, None),
        };
        let subscript = subscript || key.is_some();
        let Some((state, written, via_self)) = self.shared_state(checked) else {
            return;
        };
        let same_key = |slice: &Expr| {
            key.is_none_or(|key| matches!(slice, Expr::StringLiteral(s) if s.value.to_str() == key))
        };
        let declared_global = |name: &str| self.semantic.declared_outer(name);
        // `self._start()` where `_start` assigns the checked attribute is the act too.
        let assigned_by_helper = |stmt: &Stmt| {
            let value = match stmt {
                Stmt::Expr(statement) => statement.value.as_ref(),
                Stmt::Return(ret) => match ret.value.as_deref() {
                    Some(value) => value,
                    None => return false,
                },
                _ => return false,
            };
            let Expr::Call(call) = value else {
                return false;
            };
            let Expr::Attribute(method) = call.func.as_ref() else {
                return false;
            };
            let (Some(self_name), Some(class)) =
                (self.semantic.self_name(), self.semantic.self_class())
            else {
                return false;
            };
            let on_self =
                matches!(method.value.as_ref(), Expr::Name(n) if n.id.as_str() == self_name);
            let attribute = written
                .strip_prefix(self_name)
                .and_then(|a| a.strip_prefix('.'));
            on_self
                && !subscript
                && attribute.is_some_and(|attribute| {
                    class
                        .assigned_by
                        .get(method.attr.id.as_str())
                        .is_some_and(|assigned| assigned.contains(attribute))
                })
        };
        // After `if k in d:`, an act that needs the entry still there: `del d[k]`,
        // `d[k] -= 1`, `d.pop(k)`.
        let same_entry = |item: &Expr, key: &Expr| match item {
            Expr::Subscript(sub) => {
                dotted(&sub.value) == written
                    && ComparableExpr::from(sub.slice.as_ref()) == ComparableExpr::from(key)
            }
            _ => false,
        };
        let pops_entry = |value: &Expr, key: &Expr| match value {
            Expr::Call(call) => {
                matches!(call.func.as_ref(), Expr::Attribute(method)
                    if method.attr.id.as_str() == "pop" && dotted(&method.value) == written)
                    && call.arguments.keywords.is_empty()
                    && matches!(&*call.arguments.args, [only]
                        if ComparableExpr::from(only) == ComparableExpr::from(key))
            }
            _ => false,
        };
        let needs_entry = |stmt: &Stmt, key: &Expr| match stmt {
            Stmt::Delete(delete) => delete.targets.iter().any(|t| same_entry(t, key)),
            Stmt::AugAssign(update) => same_entry(&update.target, key),
            Stmt::Expr(statement) => pops_entry(&statement.value, key),
            Stmt::Assign(assign) => pops_entry(&assign.value, key),
            Stmt::Return(ret) => ret.value.as_deref().is_some_and(|v| pops_entry(v, key)),
            _ => false,
        };
        let lazy_initialisation = is_none_test(test);
        let statements: Vec<&Stmt> = statements.into_iter().collect();
        // A placeholder stored first and replaced later (`_v = ''` … `_v = parse(f.read())`):
        // another thread can read the placeholder.
        let assigned_again = |after: usize, target: &Expr| {
            let target = ComparableExpr::from(target);
            statements[after + 1..].iter().any(|stmt| {
                matches!(stmt, Stmt::Assign(assign)
                    if assign.targets.iter().any(|t| ComparableExpr::from(t) == target))
            })
        };
        let act = statements.iter().enumerate().find_map(|(position, stmt)| {
            if let Some(key) = present_key {
                return needs_entry(stmt, key).then(|| span(stmt));
            }
            if assigned_by_helper(stmt) {
                return Some(span(stmt));
            }
            let Stmt::Assign(assign) = stmt else {
                return None;
            };
            let [target] = assign.targets.as_slice() else {
                return None;
            };
            // `if _re is None: _re = re.compile(r"..")`: whichever thread stores last stores
            // an equal value, and nothing else depends on who won.
            // (Not a literal: `_v = ''` is a placeholder for what is computed next.)
            if lazy_initialisation
                && !assign.value.is_literal_expr()
                && self.same_for_every_thread(&assign.value)
                && !assigned_again(position, target)
            {
                return None;
            }
            let acts = match target {
                Expr::Subscript(sub) if subscript => {
                    dotted(&sub.value) == written && same_key(&sub.slice)
                }
                Expr::Name(name) if !subscript => {
                    name.id.as_str() == written && declared_global(&written)
                }
                Expr::Attribute(_) if !subscript => dotted(target) == written,
                _ => false,
            };
            acts.then(|| span(stmt))
        });
        let kind = match present_key {
            Some(_) => ActKind::NeedsEntry,
            None => ActKind::Create,
        };
        // `cls._tls = threading.local()`, also in a helper the act calls.
        let thread_local = self.is_thread_local(checked)
            || statements.iter().any(
                |stmt| matches!(stmt, Stmt::Assign(assign) if self.is_thread_local(&assign.value)),
            );
        let keeps = if thread_local {
            Keeps::ThreadLocal
        } else {
            Keeps::Nothing
        };
        match act {
            Some(act) => {
                // `_locks[key] = threading.RLock()`.
                let creates_lock = statements.iter().any(|stmt| {
                    matches!(stmt, Stmt::Assign(assign) if span(*stmt) == act
                        && self.is_thread_lock_value(&assign.value))
                });
                let keeps = if creates_lock {
                    Keeps::ThreadLock
                } else {
                    keeps
                };
                let found = (state, written, via_self);
                self.push_check_then_act(test, act, found, kind, false, keeps);
            }
            None => {
                self.act_by_call(test, &statements, (state, written, via_self), kind, keeps);
            }
        }
    }

    /// Records a check of shared state (`state`, as `written`, of `self` or not) in `test`,
    /// and the act at `act` that depends on it (with `act_in_callee`, the region of the calls
    /// one of which may be the act), and the thread object the state keeps.
    fn push_check_then_act(
        &mut self,
        test: &Expr,
        act: Span,
        (state, written, via_self): (String, String, bool),
        act_kind: ActKind,
        act_in_callee: bool,
        keeps: Keeps,
    ) {
        let found = CheckThenAct {
            check: span(test),
            act,
            state,
            written,
            via_self,
            atomic: false,
            relocked: false,
            self_locking: false,
            act_kind,
            act_in_callee,
            keeps,
            closure: self.closure,
        };
        self.model.functions[self.current]
            .check_then_acts
            .push(found);
    }
}

impl Lowerer<'_> {
    /// Whether a value is a new lock that blocks threads (`threading.RLock()`).
    fn is_thread_lock_value(&self, value: &Expr) -> bool {
        value.is_call_expr()
            && matches!(self.semantic.type_of(value), Some(Returns::One(ty))
                if self.tables.lock(&ty).is_some_and(|lock| !lock.is_async && lock.excludes()))
    }

    /// Whether a value is equal on every thread that computes it: a constant, a function or
    /// module attribute named through an import (`fcntl.lockf`), or a call of constants to an
    /// idempotent API (`re.compile(r"..")`, `os.getpid()`; `[idempotent]` in `types.toml`).
    fn same_for_every_thread(&self, value: &Expr) -> bool {
        match value {
            Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::NumberLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_) => true,
            Expr::Tuple(tuple) => tuple.elts.iter().all(|e| self.same_for_every_thread(e)),
            Expr::Name(_) | Expr::Attribute(_) => {
                matches!(attribute_root(value), Expr::Name(name)
                    if matches!(self.semantic.lookup(name.id.as_str()), Some(Binding::Alias(_))))
            }
            Expr::Call(call) => {
                call.arguments
                    .args
                    .iter()
                    .all(|a| self.same_for_every_thread(a))
                    && call
                        .arguments
                        .keywords
                        .iter()
                        .all(|k| k.arg.is_some() && self.same_for_every_thread(&k.value))
                    && self
                        .semantic
                        .resolve(&call.func)
                        .is_some_and(|callee| self.tables.idempotent.contains(&callee))
            }
            _ => false,
        }
    }
}

/// The statements of a block and of the blocks nested in it (`with`, `if`, `try`, `for`) down
/// to `depth` levels, outer ones first: what runs in this function after a check.
fn flatten<'s>(body: &'s [Stmt], depth: usize, out: &mut Vec<&'s Stmt>) {
    for stmt in body {
        out.push(stmt);
        if depth == 0 {
            continue;
        }
        match stmt {
            Stmt::With(with) => flatten(&with.body, depth - 1, out),
            Stmt::For(each) => flatten(&each.body, depth - 1, out),
            Stmt::If(branch) => {
                flatten(&branch.body, depth - 1, out);
                for clause in &branch.elif_else_clauses {
                    flatten(&clause.body, depth - 1, out);
                }
            }
            Stmt::Try(attempt) => {
                flatten(&attempt.body, depth - 1, out);
                flatten(&attempt.orelse, depth - 1, out);
                flatten(&attempt.finalbody, depth - 1, out);
            }
            _ => {}
        }
    }
}

/// Whether a statement assigns the state written as `written`, or an item of it.
fn assigns(stmt: &Stmt, written: &str) -> bool {
    let target_is = |target: &Expr| match target {
        Expr::Subscript(item) => dotted(&item.value) == written,
        _ => dotted(target) == written,
    };
    match stmt {
        Stmt::Assign(assign) => assign.targets.iter().any(target_is),
        Stmt::AugAssign(update) => target_is(&update.target),
        Stmt::AnnAssign(assign) => assign.value.is_some() && target_is(&assign.target),
        _ => false,
    }
}

/// The region of `statements` (outer ones first) that holds calls, one of which may act on a
/// check for the caller.
fn call_region(statements: &[&Stmt]) -> Option<Span> {
    let start = statements.iter().map(|stmt| span(*stmt).start).min()?;
    let end = statements.iter().map(|stmt| span(*stmt).end).max()?;
    Some(start..end)
}

/// Methods that put items into a container.
const FILLS: &[&str] = &["update", "append", "extend", "add", "insert", "setdefault"];

/// The container an emptiness test finds empty: `not x`, `not len(x)`, `len(x) == 0`,
/// `len(x) < 1`.
fn tested_empty(test: &Expr) -> Option<&Expr> {
    let int = |expr: &Expr, value: u64| {
        matches!(expr, Expr::NumberLiteral(n)
            if matches!(&n.value, ast::Number::Int(i) if i.as_u64() == Some(value)))
    };
    fn len_of(expr: &Expr) -> Option<&Expr> {
        match expr {
            Expr::Call(call) if is_len(call) => Some(&call.arguments.args[0]),
            _ => None,
        }
    }
    match test {
        Expr::UnaryOp(not) if not.op == ast::UnaryOp::Not => match not.operand.as_ref() {
            operand @ (Expr::Attribute(_) | Expr::Name(_)) => Some(operand),
            operand => len_of(operand),
        },
        Expr::Compare(compare) => match (&*compare.ops, &*compare.comparators) {
            ([ast::CmpOp::Eq], [zero]) if int(zero, 0) => len_of(&compare.left),
            ([ast::CmpOp::Lt], [one]) if int(one, 1) => len_of(&compare.left),
            _ => None,
        },
        _ => None,
    }
}

/// `len(x)`.
fn is_len(call: &ast::ExprCall) -> bool {
    matches!(call.func.as_ref(), Expr::Name(name) if name.id.as_str() == "len")
        && call.arguments.args.len() == 1
        && call.arguments.keywords.is_empty()
}

/// Whether a test checks a value against `None` (`x is None`, `x is not None`, and either in
/// an `and`/`or`): a lazy initialisation's.
fn is_none_test(test: &Expr) -> bool {
    match test {
        Expr::Compare(compare) => {
            matches!(&*compare.ops, [ast::CmpOp::Is | ast::CmpOp::IsNot])
                && matches!(&*compare.comparators, [none] if none.is_none_literal_expr())
        }
        Expr::BoolOp(both) => both.values.iter().any(is_none_test),
        _ => false,
    }
}

/// The await points inside an expression (not in lambdas), in source order.
fn awaits_in_expr(expr: &Expr) -> Vec<Span> {
    #[derive(Default)]
    struct Awaits(Vec<Span>);
    impl<'b> Visitor<'b> for Awaits {
        fn visit_expr(&mut self, expr: &'b Expr) {
            match expr {
                Expr::Lambda(_) => {}
                Expr::Await(_) => {
                    self.0.push(span(expr));
                    visitor::walk_expr(self, expr);
                }
                _ => stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_expr(self, expr)
                }),
            }
        }
    }
    let mut awaits = Awaits::default();
    awaits.visit_expr(expr);
    awaits.0
}

/// Where an expression first reads the name or attribute written `written` (`self.n`).
fn first_read(expr: &Expr, written: &str) -> Option<Span> {
    struct Finder<'w>(&'w str, Option<Span>);
    impl<'b> Visitor<'b> for Finder<'_> {
        fn visit_expr(&mut self, expr: &'b Expr) {
            match expr {
                _ if self.1.is_some() => {}
                Expr::Name(_) | Expr::Attribute(_) if dotted(expr) == self.0 => {
                    self.1 = Some(span(expr));
                }
                Expr::Lambda(_) => {}
                _ => stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
                    visitor::walk_expr(self, expr)
                }),
            }
        }
    }
    let mut finder = Finder(written, None);
    finder.visit_expr(expr);
    finder.1
}

/// A constant a state is compared with: a literal, or a name in capitals or an enum member
/// (`IDLE`, `State.IDLE`).
fn is_constant(expr: &Expr) -> bool {
    match expr {
        Expr::StringLiteral(_) | Expr::NumberLiteral(_) | Expr::BooleanLiteral(_) => true,
        Expr::Name(name) => name.id.as_str().chars().all(|c| !c.is_lowercase()),
        Expr::Attribute(attr) => {
            attr.attr.id.as_str().chars().all(|c| !c.is_lowercase())
                || matches!(attr.value.as_ref(), Expr::Name(owner) if owner.id.as_str().starts_with(char::is_uppercase))
        }
        _ => false,
    }
}

/// Whether a file's text may ask for the current thread's id (see [`THREAD_IDS`]).
pub(super) fn mentions_thread_ids(text: &str) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    // Vectorised searches: the whole text of every file is looked at.
    static NAMES: LazyLock<[Finder<'static>; 3]> =
        LazyLock::new(|| ["get_ident", "get_native_id", "current_thread"].map(Finder::new));
    NAMES
        .iter()
        .any(|name| name.find(text.as_bytes()).is_some())
}

/// Calls that give the current thread's identity.
const THREAD_IDS: &[&str] = &[
    "threading.get_ident",
    "threading.get_native_id",
    "threading.current_thread",
    "_thread.get_ident",
    // Python 2's name, still imported first by code that supports both.
    "thread.get_ident",
];
