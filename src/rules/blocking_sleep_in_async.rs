//! IL101 blocking-sleep-in-async: `time.sleep` / `std::thread::sleep` in async code

use super::{Check, Rule, blocking};
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::FileModel;

pub const RULE: Rule = Rule {
    code: "IL101",
    name: "blocking-sleep-in-async",
    summary: "`time.sleep` / `std::thread::sleep` in async code",
    doc: include_str!("../../rules/IL101-blocking-sleep-in-async.md"),
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
