//! IL503 busy-wait-loop: a loop in async code that only polls a condition and sleeps.

use super::{Check, Rule};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::{FileModel, Language};

pub const RULE: Rule = Rule {
    code: Code::IL503,
    check: Check::File(check),
};

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    let help = match model.language {
        Language::Python => {
            "wait on an `asyncio.Event` (or `asyncio.Condition`) that the code changing the state sets"
        }
        Language::Rust => {
            "wait on a `tokio::sync::Notify` or a `tokio::sync::watch` channel that the code changing the state signals"
        }
    };
    for function in &model.functions {
        for span in &function.busy_waits {
            out.push(
                Diagnostic::new(
                    RULE.code,
                    model.path.clone(),
                    span.clone(),
                    "busy-wait loop: it only polls a condition and sleeps, so it reacts up to one sleep late and wakes the event loop for nothing in between",
                )
                .with_label("polling loop")
                .with_help(help),
            );
        }
    }
}
