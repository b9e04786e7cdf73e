//! The rule registry: one module per rule, each with its code, name, documentation page and
//! check. Codes are a public interface (config, suppression comments): never renumber them.

mod blocking;
pub mod blocking_file_io_in_async;
pub mod blocking_network_in_async;
pub mod blocking_sleep_in_async;
pub mod blocking_subprocess_in_async;
pub mod blocking_wait_in_async;
pub mod invalid_utf8;
pub mod nested_event_loop;
pub mod parse_error;

use crate::diagnostic::Diagnostic;
use crate::knowledge::Knowledge;
use crate::model::FileModel;

/// A per-file check: reads one file's model and pushes its findings.
pub type FileCheck = fn(&FileModel, &Knowledge, &mut Vec<Diagnostic>);

/// One rule of the catalogue.
pub struct Rule {
    pub code: &'static str,
    pub name: &'static str,
    /// One line for `interlock rules`.
    pub summary: &'static str,
    /// The rule's page in `rules/`, embedded at build time.
    pub doc: &'static str,
    /// `None` for rules the driver reports itself (parse errors, invalid UTF-8).
    pub check: Option<FileCheck>,
}

/// Every rule, in code order.
pub const ALL: &[&Rule] = &[
    &parse_error::RULE,
    &invalid_utf8::RULE,
    &blocking_sleep_in_async::RULE,
    &blocking_file_io_in_async::RULE,
    &blocking_network_in_async::RULE,
    &blocking_subprocess_in_async::RULE,
    &blocking_wait_in_async::RULE,
    &nested_event_loop::RULE,
];

/// The rule with this code.
pub fn by_code(code: &str) -> Option<&'static Rule> {
    ALL.iter()
        .copied()
        .find(|rule| rule.code.eq_ignore_ascii_case(code))
}

/// Runs every enabled per-file rule on a model.
pub fn check_file(
    model: &FileModel,
    knowledge: &Knowledge,
    enabled: impl Fn(&str) -> bool,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for rule in ALL.iter().filter(|rule| enabled(rule.code)) {
        if let Some(check) = rule.check {
            check(model, knowledge, &mut diagnostics);
        }
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_page_that_starts_with_its_code_and_name() {
        for rule in ALL {
            let title = format!("# {} {}", rule.code, rule.name);
            assert!(
                rule.doc.starts_with(&title),
                "{} page must start with `{title}`",
                rule.code
            );
        }
    }
}
