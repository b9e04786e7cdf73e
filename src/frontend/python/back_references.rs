//! Objects that hold the object that created them: `Owner` runs `self.subs = Sub(self)` and
//! `Sub.__init__` keeps `self.owner = owner`, so in `Sub`'s methods `self.owner` is the `Owner`
//! whose `self.subs` they run on. A lock `Owner` holds while calling `self.subs.cleanup()` is
//! then the lock `cleanup` takes again through `self.owner` (a double lock), which only this
//! link can tell.
//!
//! Found for the top-level classes of one file, before it is lowered (the creator may come
//! before or after the class it creates).

use rustc_hash::FxHashMap as HashMap;

use ruff_python_ast::visitor::Visitor;
use ruff_python_ast::{self as ast, Expr, Stmt};

use super::semantic::SelfAssignments;
use super::syntax::first_param;
use crate::model::{Language, Receiver, join_path};

/// Per class (canonical name): attribute → what it holds ([`Receiver::Creator`] or
/// [`Receiver::Child`]) and that object's class.
pub(super) type BackReferences = HashMap<String, HashMap<String, (Receiver, String)>>;

/// The back-references between the top-level classes of a module's `body`.
pub(super) fn back_references(body: &[Stmt], module: &str) -> BackReferences {
    let classes: HashMap<&str, &ast::StmtClassDef> = body
        .iter()
        .filter_map(|stmt| match stmt {
            Stmt::ClassDef(class) => Some((class.name.id.as_str(), class)),
            _ => None,
        })
        .collect();
    let mut found = BackReferences::default();
    let canonical = |name: &str| join_path(module, name, Language::Python);
    for (creator, class) in &classes {
        for (method, self_name) in methods(class) {
            let mut assignments = SelfAssignments {
                self_name,
                class_body: &class.body,
                found: Vec::new(),
            };
            assignments.visit_body(&method.body);
            for (attribute, value, _) in assignments.found {
                let Some(Expr::Call(call)) = value else {
                    continue;
                };
                let Expr::Name(created) = call.func.as_ref() else {
                    continue;
                };
                let Some(created_class) = classes.get(created.id.as_str()) else {
                    continue;
                };
                for parameter in self_passed_as(call, self_name, created_class) {
                    let Some(kept) = kept_parameter(created_class, &parameter) else {
                        continue;
                    };
                    found.entry(canonical(creator)).or_default().insert(
                        attribute.clone(),
                        (Receiver::Child, canonical(created.id.as_str())),
                    );
                    found
                        .entry(canonical(created.id.as_str()))
                        .or_default()
                        .insert(kept, (Receiver::Creator, canonical(creator)));
                }
            }
        }
    }
    found
}

/// The class's methods with the name of their first parameter.
fn methods(class: &ast::StmtClassDef) -> impl Iterator<Item = (&ast::StmtFunctionDef, &str)> {
    class.body.iter().filter_map(|stmt| match stmt {
        Stmt::FunctionDef(method) => first_param(method).map(|name| (method, name)),
        _ => None,
    })
}

/// The parameters of `class.__init__` that a construction call passes `self_name` to.
fn self_passed_as(call: &ast::ExprCall, self_name: &str, class: &ast::StmtClassDef) -> Vec<String> {
    let is_self = |e: &Expr| matches!(e, Expr::Name(n) if n.id.as_str() == self_name);
    let Some(init) = init(class) else {
        return Vec::new();
    };
    let positional: Vec<&str> = init
        .parameters
        .posonlyargs
        .iter()
        .chain(&init.parameters.args)
        .skip(1)
        .map(|p| p.parameter.name.id.as_str())
        .collect();
    let by_position = call
        .arguments
        .args
        .iter()
        .take_while(|arg| !arg.is_starred_expr())
        .zip(&positional)
        .filter(|(arg, _)| is_self(arg))
        .map(|(_, name)| name.to_string());
    let by_keyword = call
        .arguments
        .keywords
        .iter()
        .filter(|k| is_self(&k.value))
        .filter_map(|k| k.arg.as_ref().map(|arg| arg.id.to_string()));
    by_position.chain(by_keyword).collect()
}

/// The attribute `class.__init__` keeps `parameter` in (`self.owner = owner`).
fn kept_parameter(class: &ast::StmtClassDef, parameter: &str) -> Option<String> {
    let init = init(class)?;
    let mut assignments = SelfAssignments {
        self_name: first_param(init)?,
        class_body: &class.body,
        found: Vec::new(),
    };
    assignments.visit_body(&init.body);
    assignments
        .found
        .into_iter()
        .find(|(_, value, _)| matches!(value, Some(Expr::Name(n)) if n.id.as_str() == parameter))
        .map(|(attribute, _, _)| attribute)
}

fn init(class: &ast::StmtClassDef) -> Option<&ast::StmtFunctionDef> {
    class.body.iter().find_map(|stmt| match stmt {
        Stmt::FunctionDef(def) if def.name.id.as_str() == "__init__" => Some(def),
        _ => None,
    })
}
