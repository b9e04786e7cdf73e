//! IL302 unpicklable-process-target: a lambda, a nested function or a local class's method
//! handed to a process pool or `Process`: it cannot be pickled to send to the child.

use super::{Check, Rule};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::{FileModel, Handoff};

pub const RULE: Rule = Rule {
    code: Code::IL302,
    check: Check::File(check),
};

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    for function in &model.functions {
        for handoff in &function.process_handoffs {
            let what = match &handoff.what {
                Handoff::Lambda => "a lambda".to_string(),
                Handoff::NestedFunction(name) => {
                    format!("`{name}`, a function defined inside another function,")
                }
                Handoff::LocalClassMethod(name) => {
                    format!("`{name}`, a method of a class defined inside a function,")
                }
                Handoff::ThreadPrimitive { .. } => continue,
            };
            out.push(
                Diagnostic::new(
                    RULE.code,
                    model.path.clone(),
                    handoff.span.clone(),
                    format!(
                        "{what} is handed to `{}`, which pickles it to send it to another process: pickle stores functions by their importable name, so this fails with `PicklingError` (or `AttributeError: Can't pickle local object`) under the spawn and forkserver start methods",
                        handoff.api
                    ),
                )
                .with_label("cannot be pickled")
                .with_help("define the function at module level (use `functools.partial` for bound arguments); a thread pool can take it as it is"),
            );
        }
    }
}
