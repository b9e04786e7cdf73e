//! IL002 invalid-utf8: the file is not valid UTF-8. Reported by the driver when reading.

use super::{Check, Rule};

pub const RULE: Rule = Rule {
    code: "IL002",
    name: "invalid-utf8",
    summary: "the file is not valid UTF-8 and was not analysed",
    doc: include_str!("../../rules/IL002-invalid-utf8.md"),
    check: Check::Driver,
};
