//! Attributes a method fills from values it has by name (`self.listener = Listener(self.lock)`
//! after `Listener.__init__` keeps `self._lock = lock`), and calls on attributes of `self`:
//! what the project phase needs to find attributes of one object that share a lock (see
//! [`crate::model::FieldFlow`]).

use ruff_python_ast::{self as ast, Expr};

use super::Lowerer;
use super::semantic::Binding;
use super::syntax::span;
use crate::knowledge::Returns;
use crate::model::condition::key;
use crate::model::{FieldFlow, FlowArgument, FlowSource, concat};

impl Lowerer<'_> {
    /// The value an expression is, by name: a parameter, a local, or an attribute of `self`
    /// (`self.lock`, as the local `self.lock`).
    fn flow_source(&self, expr: &Expr) -> Option<FlowSource> {
        match expr {
            Expr::Name(name) => {
                let parameters = &self.model.functions[self.current].parameters;
                let position = parameters
                    .iter()
                    .position(|p| p.name == key(name.id.as_str()));
                Some(match position.and_then(|p| u8::try_from(p).ok()) {
                    Some(index) => FlowSource::Parameter(index),
                    None => FlowSource::Local(name.id.to_string()),
                })
            }
            Expr::Attribute(attribute) => {
                let self_name = self.semantic.self_name()?;
                matches!(attribute.value.as_ref(), Expr::Name(n) if n.id.as_str() == self_name)
                    .then(|| FlowSource::Local(concat(&["self.", attribute.attr.id.as_str()])))
            }
            _ => None,
        }
    }

    /// `self.x = value` in a method, after `value` was walked: the attribute filled with a
    /// value the method has by name, directly or through the call (a constructor) it is given
    /// to.
    pub(super) fn note_attribute_flows(&mut self, target: &Expr, value: &Expr) {
        let Expr::Attribute(attribute) = target else {
            return;
        };
        let (Some(self_name), Some(class)) = (self.semantic.self_name(), self.semantic.self_type())
        else {
            return;
        };
        if !matches!(attribute.value.as_ref(), Expr::Name(n) if n.id.as_str() == self_name) {
            return;
        }
        let field = concat(&[class, ".", attribute.attr.id.as_str()]);
        let Expr::Call(call) = value else {
            if let Some(source) = self.flow_source(value) {
                let flow = FieldFlow {
                    field,
                    source,
                    through: None,
                };
                self.model.functions[self.current].field_flows.push(flow);
            }
            return;
        };
        let called = span(call);
        let function = &self.model.functions[self.current];
        let Some(callee) = function
            .calls
            .iter()
            .rev()
            .find(|c| c.span == called)
            .and_then(|c| c.callee.clone())
        else {
            return;
        };
        // The constructor's parameters count `self`.
        let by_position = positional(call)
            .enumerate()
            .filter_map(|(i, arg)| Some((FlowArgument::Position(u8::try_from(i + 1).ok()?), arg)));
        let by_keyword = call.arguments.keywords.iter().filter_map(|keyword| {
            let name = keyword.arg.as_ref()?;
            Some((FlowArgument::Keyword(key(name.id.as_str())), &keyword.value))
        });
        let flows: Vec<FieldFlow> = by_position
            .chain(by_keyword)
            .filter_map(|(argument, value)| {
                Some(FieldFlow {
                    field: field.clone(),
                    source: self.flow_source(value)?,
                    through: Some((callee.clone(), argument)),
                })
            })
            .collect();
        self.model.functions[self.current].field_flows.extend(flows);
    }

    /// A call just recorded (at `index`) on an object of a class of the package that this
    /// module keeps in a global (`SYNC.run_sync()` after `SYNC = Synchronizer()`).
    pub(super) fn note_global_receiver(&mut self, index: usize, receiver: &Expr) {
        let Expr::Name(name) = receiver else {
            return;
        };
        if !matches!(
            self.semantic.lookup_with_depth(name.id.as_str()),
            Some((0, Binding::Local(_)))
        ) {
            return;
        }
        let Some(Returns::One(class)) = self.semantic.type_of(receiver) else {
            return;
        };
        // The call resolved to a method of that class (`m.Connector.send`).
        let function = &mut self.model.functions[self.current];
        let method_of_class = function.calls[index]
            .callee
            .as_deref()
            .and_then(|callee| callee.strip_prefix(class.as_str()))
            .is_some_and(|method| method.starts_with('.'));
        if method_of_class && self.same_package(&class) {
            self.model.functions[self.current]
                .global_receivers
                .push(index as u32);
        }
    }

    /// A call just recorded (at `index`) on an attribute of `self` (`self.listener.add()`).
    pub(super) fn note_attribute_receiver(&mut self, index: usize, receiver: &Expr) {
        let Some(self_name) = self.semantic.self_name() else {
            return;
        };
        let mut fields = Vec::new();
        let mut current = receiver;
        while let Expr::Attribute(attribute) = current {
            fields.push(attribute.attr.id.as_str());
            current = &attribute.value;
        }
        if fields.is_empty() || !matches!(current, Expr::Name(n) if n.id.as_str() == self_name) {
            return;
        }
        fields.reverse();
        let function = &mut self.model.functions[self.current];
        if function
            .calls
            .get(index)
            .is_some_and(|c| c.callee.is_some())
        {
            function
                .field_receivers
                .push((index as u32, fields.join(".")));
        }
    }
}

/// The positional arguments of a call, up to the first `*args`.
fn positional(call: &ast::ExprCall) -> impl Iterator<Item = &Expr> {
    call.arguments
        .args
        .iter()
        .take_while(|arg| !arg.is_starred_expr())
}
