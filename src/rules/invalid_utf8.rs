//! IL002 invalid-utf8: the file is not valid UTF-8. Reported by the driver when reading.

use super::{Check, Rule};
use crate::codes::Code;

pub const RULE: Rule = Rule {
    code: Code::IL002,
    check: Check::Driver,
};
