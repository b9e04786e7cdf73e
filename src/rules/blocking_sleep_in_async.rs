//! IL101 blocking-sleep-in-async: `time.sleep` / `std::thread::sleep` in async code

use super::{Check, Rule, blocking};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::FileModel;

pub const RULE: Rule = Rule {
    code: Code::IL101,
    check: Check::File(check),
};

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    blocking::check(
        model,
        RULE.code,
        "sleeps the event loop's thread: no other task runs until it returns",
        out,
    );
}
