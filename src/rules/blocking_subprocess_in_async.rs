//! IL104 blocking-subprocess-in-async: running or waiting for a subprocess synchronously in async code

use super::{Check, ProjectContext, Rule, blocking};
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::FileModel;

pub const RULE: Rule = Rule {
    code: Code::IL104,
    check: Check::FileAndProject(check, check_late),
};

/// Completes "`callee()` in async function `f` …".
const WHY: &str =
    "waits for a child process on the event loop's thread: every other task waits with it";

fn check(model: &FileModel, _: &Knowledge, out: &mut Vec<Diagnostic>) {
    blocking::check(model, RULE.code, WHY, out);
}

/// Calls the file alone could not type: methods of objects another file defines.
fn check_late(context: &ProjectContext, out: &mut Vec<Diagnostic>) {
    blocking::check_late(context, RULE.code, WHY, out);
}
