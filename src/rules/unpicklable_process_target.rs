//! IL302 unpicklable-process-target: a lambda, a nested function, a local class's method or
//! an object of a local class handed to a process pool or `Process`: it cannot be pickled to
//! send to the child.

use super::{Check, Rule};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::{FileModel, Handoff};

pub const RULE: Rule = Rule {
    code: Code::IL302,
    check: Check::File(check),
};

const FUNCTION_HELP: &str = "define the function at module level (use `functools.partial` for bound arguments); a thread pool can take it as it is";

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    for function in &model.functions {
        for handoff in &function.process_handoffs {
            let function = "pickle stores functions by their importable name";
            let (what, stored, help) = match &handoff.what {
                Handoff::Lambda => ("a lambda".to_string(), function, FUNCTION_HELP),
                Handoff::NestedFunction(name) => (
                    format!("`{name}`, a function defined inside another function,"),
                    function,
                    FUNCTION_HELP,
                ),
                Handoff::LocalClassMethod(name) => (
                    format!("`{name}`, a method of a class defined inside a function,"),
                    function,
                    FUNCTION_HELP,
                ),
                Handoff::LocalClassObject { value, class } => (
                    format!(
                        "`{value}`, an object of `{class}`, a class defined inside a function,"
                    ),
                    "pickle stores an object's class by its importable name",
                    "define the class at module level (a `namedtuple` or `dataclass` too)",
                ),
                Handoff::LambdaAttribute(attribute) => (
                    format!("an object whose `{attribute}` is a lambda"),
                    "pickle stores functions by their importable name, a lambda has none",
                    "make the attribute a module-level function (or a method), or leave it out of the pickled state (`__getstate__`)",
                ),
                Handoff::ThreadPrimitive { .. } => continue,
            };
            out.push(
                Diagnostic::new(
                    RULE.code,
                    model.path.clone(),
                    handoff.span.clone(),
                    format!(
                        "{what} is handed to `{}`, which pickles it to send it to another process: {stored}, so this fails with `PicklingError` (or `AttributeError: Can't pickle local object`) under the spawn and forkserver start methods",
                        handoff.api
                    ),
                )
                .with_label("cannot be pickled")
                .with_help(help),
            );
        }
    }
}
