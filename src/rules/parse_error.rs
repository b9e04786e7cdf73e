//! IL001 parse-error: the file could not be parsed (syntax error or nesting too deep).
//! Reported by the driver, which knows the parse outcome.

use super::{Check, Rule};
use crate::codes::Code;

pub const RULE: Rule = Rule {
    code: Code::IL001,
    check: Check::Driver,
};
