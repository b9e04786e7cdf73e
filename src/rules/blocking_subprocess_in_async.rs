//! IL104 blocking-subprocess-in-async: running or waiting for a subprocess synchronously in async code

use super::{Check, Rule, blocking};
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::FileModel;

pub const RULE: Rule = Rule {
    code: "IL104",
    name: "blocking-subprocess-in-async",
    summary: "running or waiting for a subprocess synchronously in async code",
    doc: include_str!("../../rules/IL104-blocking-subprocess-in-async.md"),
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
