//! IL105 blocking-wait-in-async: thread queues, events, joins, futures and channels that block in async code

use super::{Check, Rule, blocking};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::FileModel;

pub const RULE: Rule = Rule {
    code: Code::IL105,
    check: Check::File(check),
};

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    blocking::check(
        model,
        RULE.code,
        "blocks the event loop's thread until another thread acts: every other task stalls, and it deadlocks if that thread needs this loop",
        out,
    );
}
