//! IL105 blocking-wait-in-async: thread queues, events, joins, futures and channels that block in async code

use super::{Check, ProjectContext, Rule, blocking};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::FileModel;

pub const RULE: Rule = Rule {
    code: Code::IL105,
    check: Check::FileAndProject(check, check_late),
};

/// Completes "`callee()` in async function `f` …".
const WHY: &str = "blocks the event loop's thread until another thread acts: every other task stalls, and it deadlocks if that thread needs this loop";

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    blocking::check(model, RULE.code, WHY, out);
}

/// Calls the file alone could not type: methods of objects another file defines.
fn check_late(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    blocking::check_late(context, RULE.code, WHY, out);
}
