//! Struct fields filled from values a function has by name (`Self { db, pos_state }` after
//! `let pos_state = PosState::new(db.clone());`), and calls on fields of `self`: what the
//! project phase needs to find fields of one object that share a lock (see
//! [`crate::model::FieldFlow`]).

use syn::Expr;

use super::Lowerer;
use super::syntax::{self, expr_start, member_name};
use crate::model::{FieldFlow, FlowArgument, FlowSource};

/// A local bound to a call's result (`let pos_state = PosState::new(db.clone());`): its name,
/// the callee, and the arguments that are values the function has by name, by position.
pub(super) type CallResult = (String, String, Vec<(u8, FlowSource)>);

impl Lowerer<'_> {
    /// The value an expression is, by name (`db`, `db.clone()`, `Arc::clone(&db)`, `&db`).
    fn flow_source(&self, expr: &Expr) -> Option<FlowSource> {
        let Expr::Path(path) = syntax::cloned_from(expr) else {
            return None;
        };
        let name = path.path.get_ident()?.to_string();
        // `None`, `DEFAULT`: a variant or a constant, not a value of the function's.
        if name == "self" || name.starts_with(|c: char| c.is_ascii_uppercase()) {
            return None;
        }
        let position = self.parameters.iter().position(|p| *p == name);
        Some(match position.and_then(|p| u8::try_from(p).ok()) {
            Some(index) => FlowSource::Parameter(index),
            None => FlowSource::Local(name),
        })
    }

    /// The callee of a path call already recorded (`PosState::new(db.clone())`, also
    /// `..?` or `..unwrap()`) and its arguments that are values by name.
    fn call_flows(&self, expr: &Expr) -> Option<(String, Vec<(u8, FlowSource)>)> {
        let Expr::Call(call) = result_of(expr) else {
            return None;
        };
        let span = expr_start(&call.func)..call.paren_token.span.close().byte_range().end;
        let recorded = self.model.functions[self.current]
            .calls
            .iter()
            .rev()
            .find(|c| c.span == span)?;
        let callee = recorded.callee.clone().filter(|c| !is_std(c))?;
        let arguments: Vec<(u8, FlowSource)> = call
            .args
            .iter()
            .enumerate()
            .filter_map(|(i, arg)| Some((u8::try_from(i).ok()?, self.flow_source(arg)?)))
            .collect();
        (!arguments.is_empty()).then_some((callee, arguments))
    }

    /// `let pos_state = PosState::new(db.clone());`, after its value was walked: remembers
    /// what the local holds for the struct literals that store it.
    pub(super) fn note_call_result(&mut self, name: &str, value: &Expr) {
        self.call_results.retain(|(local, ..)| local != name);
        if let Some((callee, arguments)) = self.call_flows(value) {
            self.call_results
                .push((name.to_string(), callee, arguments));
        }
    }

    /// `Self { db, pos_state }`, after its fields were walked: the fields filled with a
    /// value the function has by name, directly or through a call.
    pub(super) fn note_field_flows(&mut self, built: &syn::ExprStruct) {
        let owner = match built.path.get_ident() {
            Some(ident) if ident == "Self" => self.semantic.self_type.clone(),
            _ => self.semantic.resolve_qualified_name(&built.path),
        };
        let Some(owner) = owner else { return };
        let mut flows = Vec::new();
        for field in &built.fields {
            let field_name = format!("{owner}.{}", member_name(&field.member));
            let through = match self.call_flows(&field.expr) {
                Some(found) => Some(found),
                None => match syntax::cloned_from(&field.expr) {
                    Expr::Path(path) => path.path.get_ident().and_then(|name| {
                        let (_, callee, arguments) =
                            self.call_results.iter().rev().find(|(l, ..)| name == l)?;
                        Some((callee.clone(), arguments.clone()))
                    }),
                    _ => None,
                },
            };
            if let Some((callee, arguments)) = through {
                for (position, source) in arguments {
                    flows.push(FieldFlow {
                        field: field_name.clone(),
                        source,
                        through: Some((callee.clone(), FlowArgument::Position(position))),
                    });
                }
            } else if let Some(source) = self.flow_source(&field.expr) {
                flows.push(FieldFlow {
                    field: field_name,
                    source,
                    through: None,
                });
            }
        }
        self.model.functions[self.current].field_flows.extend(flows);
    }

    /// A method call just recorded whose receiver is a field of `self` (`self.pos_state`).
    pub(super) fn note_field_receiver(&mut self, receiver: &Expr) {
        let Some(fields) = syntax::object_written(receiver)
            .and_then(|written| written.strip_prefix("self.").map(str::to_string))
        else {
            return;
        };
        let function = &mut self.model.functions[self.current];
        let Some(call) = function.calls.len().checked_sub(1) else {
            return;
        };
        // Only a method the project may define can take a lock of the field's object.
        if function.calls[call].callee.as_deref().is_none_or(is_std) {
            return;
        }
        function.field_receivers.push((call as u32, fields));
    }
}

/// The call whose result an expression passes on: through `?`, `.unwrap()`, `.expect(..)`
/// and the methods that only change a `Result`'s error (`.map_err(..)`, anyhow's
/// `.context(..)`).
fn result_of(expr: &Expr) -> &Expr {
    match syntax::strip_unwraps(expr) {
        Expr::MethodCall(call)
            if matches!(
                call.method.to_string().as_str(),
                "map_err" | "context" | "with_context" | "wrap_err" | "wrap_err_with"
            ) =>
        {
            result_of(&call.receiver)
        }
        other => other,
    }
}

/// A function of the standard library (`std::fs::read`, `Arc::new`), which keeps no lock of
/// the project's in what it returns.
fn is_std(callee: &str) -> bool {
    let root = callee.split("::").next().unwrap_or(callee);
    matches!(
        root,
        "std" | "core" | "alloc" | "Arc" | "Rc" | "Box" | "Vec" | "String"
    )
}
