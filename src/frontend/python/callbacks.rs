//! Callbacks kept in containers: `self._listeners.append(cb)`, `self._handlers[key] = cb` and
//! `self._handlers.setdefault(event, []).append(cb)` register a callable with a container
//! attribute (the registry); `for cb in self._listeners: cb(..)`, `for k, cb in
//! attval.callbacks.items(): cb(..)` and `self._handlers[key](..)` call what was registered.
//! A work queue is one too: `self._q.put(self.visit)` (also a lambda calling one function, or
//! a `(callable, args)` tuple) registers, and `cb = self._q.get(); cb()` (or `func, args =
//! self._q.get(); func(*args)`) calls what was put.
//! The project phase resolves those calls where every registration in the project agrees on one
//! function (see [`crate::model::FileModel::callback_registrations`]).

use ruff_python_ast::{self as ast, Expr};

use super::Lowerer;
use super::semantic::Binding;
use crate::knowledge::Returns;
use crate::model::concat;

/// Methods that add their argument to a list, set or queue.
const ADDS: &[&str] = &["append", "add", "insert", "appendleft", "put", "put_nowait"];

/// Methods that take an item out of a queue.
const TAKES: &[&str] = &["get", "get_nowait"];

impl<'a> Lowerer<'a> {
    /// The registry a container attribute is (`app.bus.Bus._listeners[]` for `self._listeners`;
    /// for an owner of no known type, `app._listeners[]`: one registry per attribute name in
    /// the package).
    fn registry(&self, container: &Expr) -> Option<String> {
        let Expr::Attribute(attribute) = container else {
            return None;
        };
        let name = attribute.attr.id.as_str();
        let owner = match self.semantic.type_of(&attribute.value) {
            Some(Returns::One(class)) if self.same_package(&class) => class,
            _ => self.model.module.split('.').next()?.to_string(),
        };
        Some(concat(&[&owner, ".", name, "[]"]))
    }

    /// The container a registration or a lookup reaches through (`self._handlers` in
    /// `self._handlers[event]`, `self._handlers.setdefault(event, [])`, `.get(event, ())`).
    fn registry_of(&self, expr: &Expr) -> Option<String> {
        match expr {
            Expr::Attribute(_) => self.registry(expr),
            Expr::Subscript(item) => self.registry(&item.value),
            Expr::Call(call) => match call.func.as_ref() {
                Expr::Attribute(method)
                    if matches!(method.attr.id.as_str(), "setdefault" | "get") =>
                {
                    self.registry(&method.value)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// `registry[key] = callback`: notes the registration (see [`Self::note_registration`]).
    pub(super) fn registered_by_item(&mut self, target: &Expr, value: &Expr) {
        if let Expr::Subscript(item) = target
            && let Some(registry) = self.registry(&item.value)
        {
            self.note_registration(registry, value);
        }
    }

    /// `registry.append(callback)`, `registry[event].append(callback)`,
    /// `registry.setdefault(event, []).append(callback)`.
    pub(super) fn registered_by_call(&mut self, call: &ast::ExprCall) {
        let (Expr::Attribute(method), Some(value)) =
            (call.func.as_ref(), call.arguments.args.last())
        else {
            return;
        };
        if !ADDS.contains(&method.attr.id.as_str()) {
            return;
        }
        if let Some(registry) = self.registry_of(&method.value) {
            self.note_registration(registry, value);
        }
    }

    /// A callable registered with a registry, by the name the project knows it by: a
    /// parameter it types (`add_callback(self, cb)`), a function of the module or one it
    /// imports, a method (`self.on_event`).
    fn note_registration(&mut self, registry: String, value: &Expr) {
        let value = match value {
            // `q.put((self.visit, (r,)))`: a callable with its arguments.
            Expr::Tuple(pair) if pair.elts.len() == 2 => &pair.elts[0],
            // `q.put(lambda: self.visit(r))`: the one function the lambda calls.
            Expr::Lambda(lambda) => match lambda.body.as_ref() {
                Expr::Call(call) => call.func.as_ref(),
                _ => return,
            },
            value => value,
        };
        let name = match value {
            Expr::Name(name) => match self.semantic.lookup(name.id.as_str()) {
                Some(Binding::Alias(canonical)) => Some(canonical.clone()),
                Some(Binding::Local(None)) => self.typed_parameter(name.id.as_str()),
                _ => None,
            },
            Expr::Attribute(_) if self.semantic.type_of(value).is_none() => {
                self.semantic.resolve(value)
            }
            _ => None,
        };
        if let Some(name) = name.filter(|name| self.same_package(name)) {
            self.model.callback_registrations.push((registry, name));
        }
    }

    /// The names a `for` loop binds to a registry's callbacks: `cb` in `for cb in
    /// self._listeners:` (also `.values()`, `list(..)`, `.copy()`, `self._handlers[event]`,
    /// `.get(event, ())`), `cb` in `for key, cb in self._handlers.items():`.
    pub(super) fn registry_loop(&self, target: &'a Expr, iter: &Expr) -> Option<(&'a str, String)> {
        let mut iter = iter;
        // `list(self._listeners)`, `tuple(..)`: a copy of the same callbacks.
        if let Expr::Call(call) = iter
            && let (Expr::Name(copy), [inner]) = (call.func.as_ref(), &*call.arguments.args)
            && matches!(copy.id.as_str(), "list" | "tuple")
            && self.semantic.lookup(copy.id.as_str()).is_none()
        {
            iter = inner;
        }
        let (container, items) = match iter {
            Expr::Call(call) => match call.func.as_ref() {
                Expr::Attribute(method) => match method.attr.id.as_str() {
                    "values" | "copy" => (method.value.as_ref(), false),
                    "items" => (method.value.as_ref(), true),
                    "get" => (iter, false),
                    _ => return None,
                },
                _ => return None,
            },
            other => (other, false),
        };
        let name = match (target, items) {
            (Expr::Name(name), false) => name.id.as_str(),
            (Expr::Tuple(pair), true) => match &*pair.elts {
                [_, Expr::Name(name)] => name.id.as_str(),
                _ => return None,
            },
            _ => return None,
        };
        Some((name, self.registry_of(container)?))
    }

    /// `cb = self._q.get()`, `func, args = self._q.get()`: notes the local that holds what a
    /// work queue hands out, for [`Self::registry_callee`]; a rebinding forgets it.
    pub(super) fn note_queue_item(&mut self, target: &Expr, value: &Expr) {
        let name = match target {
            Expr::Name(name) => name.id.as_str(),
            Expr::Tuple(pair) => match &*pair.elts {
                [Expr::Name(name), _] => name.id.as_str(),
                _ => return,
            },
            _ => return,
        };
        let current = self.current;
        self.queue_items
            .retain(|(function, local, _)| !(*function == current && local == name));
        if let Expr::Call(call) = value
            && let Expr::Attribute(method) = call.func.as_ref()
            && TAKES.contains(&method.attr.id.as_str())
            && call.arguments.args.len() <= 1
            && let Some(registry) = self.registry(&method.value)
        {
            self.queue_items.push((current, name.to_string(), registry));
        }
    }

    /// The registry a call runs a callback of: `cb(..)` with `cb` bound by a registry loop
    /// or taken out of a work queue, `self._handlers[event](..)`.
    pub(super) fn registry_callee(&self, func: &Expr) -> Option<String> {
        match func {
            Expr::Name(name) => self
                .registry_loops
                .iter()
                .rev()
                .find(|(bound, _)| *bound == name.id.as_str())
                .map(|(_, registry)| registry.clone())
                .or_else(|| {
                    self.queue_items
                        .iter()
                        .rev()
                        .find(|(function, local, _)| {
                            *function == self.current && local == name.id.as_str()
                        })
                        .map(|(_, _, registry)| registry.clone())
                }),
            Expr::Subscript(item) => self.registry(&item.value),
            _ => None,
        }
    }
}
