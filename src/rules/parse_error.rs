//! IL001 parse-error: the file could not be parsed (syntax error or nesting too deep).
//! Reported by the driver, which knows the parse outcome.

use super::{Check, Rule};

pub const RULE: Rule = Rule {
    code: "IL001",
    name: "parse-error",
    summary: "the file has a syntax error (or nests too deeply) and was not analysed",
    doc: include_str!("../../rules/IL001-parse-error.md"),
    check: Check::Driver,
};
