//! IL104 blocking-subprocess-in-async: running or waiting for a subprocess synchronously in async code

use super::{Check, Rule, blocking};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::FileModel;

pub const RULE: Rule = Rule {
    code: Code::IL104,
    check: Check::File(check),
};

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    blocking::check(
        model,
        RULE.code,
        "waits for a child process on the event loop's thread: every other task waits with it",
        out,
    );
}
