//! IL107 nested-event-loop: `asyncio.run` / `block_on` inside code already running on an event loop

use super::{Check, Rule, blocking};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::FileModel;

pub const RULE: Rule = Rule {
    code: Code::IL107,
    check: Check::File(check),
};

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    blocking::check(
        model,
        RULE.code,
        "starts a nested event loop inside code that already runs on one: it fails at run time (asyncio raises RuntimeError, Tokio panics) or deadlocks the executor",
        out,
    );
}
