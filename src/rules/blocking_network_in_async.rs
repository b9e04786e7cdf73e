//! IL103 blocking-network-in-async: synchronous HTTP, socket and database calls in async code

use super::{Check, Rule, blocking};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::FileModel;

pub const RULE: Rule = Rule {
    code: Code::IL103,
    check: Check::File(check),
};

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    blocking::check(
        model,
        RULE.code,
        "does blocking network I/O on the event loop's thread: every other task waits for the network",
        out,
    );
}
