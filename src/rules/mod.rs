//! The rule registry: one module per rule, each with its code, name, documentation page and
//! check. Codes are a public interface (config, suppression comments): never renumber them.

pub(crate) mod blocking;
pub mod blocking_file_io_in_async;
pub mod blocking_network_in_async;
pub mod blocking_sleep_in_async;
pub mod blocking_subprocess_in_async;
pub mod blocking_wait_in_async;
pub mod busy_wait_loop;
pub mod coroutine_never_awaited;
pub mod dangling_task;
pub mod invalid_utf8;
pub mod lock_protects_nothing;
pub mod nested_event_loop;
pub mod parse_error;
pub mod sync_lock_held_across_await;
pub mod transitive_blocking_call_in_async;

use crate::analysis::AnalysedFile;
use crate::diagnostic::Diagnostic;
use crate::graph::summary::Policy;
use crate::graph::{CallSite, FunctionId, Project};
use crate::knowledge::Knowledge;
use crate::model::FileModel;

/// A per-file check: reads one file's model and pushes its findings.
pub type FileCheck = fn(&FileModel, &Knowledge, &mut Vec<Diagnostic>);

/// A project-wide check: reads every file's model and the call graph.
pub type ProjectCheck = fn(&ProjectContext, &mut Vec<Diagnostic>);

/// How a rule runs.
pub enum Check {
    /// Reported by the driver itself (parse errors, invalid UTF-8).
    Driver,
    File(FileCheck),
    Project(ProjectCheck),
}

/// One rule of the catalogue.
pub struct Rule {
    pub code: &'static str,
    pub name: &'static str,
    /// One line for `interlock rules`.
    pub summary: &'static str,
    /// The rule's page in `rules/`, embedded at build time.
    pub doc: &'static str,
    pub check: Check,
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
    &transitive_blocking_call_in_async::RULE,
    &nested_event_loop::RULE,
    &sync_lock_held_across_await::RULE,
    &lock_protects_nothing::RULE,
    &coroutine_never_awaited::RULE,
    &dangling_task::RULE,
    &busy_wait_loop::RULE,
];

/// The rule with this code.
pub fn by_code(code: &str) -> Option<&'static Rule> {
    ALL.iter()
        .copied()
        .find(|rule| rule.code.eq_ignore_ascii_case(code))
}

/// Runs every per-file rule on a model (selection and suppression are applied afterwards).
pub fn check_file(model: &FileModel, knowledge: &Knowledge) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for rule in ALL {
        if let Check::File(check) = rule.check {
            check(model, knowledge, &mut diagnostics);
        }
    }
    diagnostics
}

/// What project-wide rules read: the project and, aligned with its models, the files with
/// their settings and suppressions.
pub struct ProjectContext<'a> {
    pub project: &'a Project<'a>,
    pub files: &'a [&'a AnalysedFile],
}

impl ProjectContext<'_> {
    /// The file a function belongs to.
    pub fn file(&self, id: FunctionId) -> &AnalysedFile {
        self.files[id.file]
    }
}

impl Policy for ProjectContext<'_> {
    fn suppressed(&self, project: &Project, site: CallSite, code: &str) -> bool {
        self.file(site.caller)
            .suppressed(code, project.call(site).span.start)
    }

    fn declared_non_blocking(&self, project: &Project, function: FunctionId) -> bool {
        self.file(function)
            .settings
            .non_blocking
            .contains(&project.function(function).canonical)
    }
}

/// Runs every project-wide rule, the rules in parallel.
pub fn check_project(context: &ProjectContext) -> Vec<Diagnostic> {
    use rayon::prelude::*;
    ALL.par_iter()
        .filter_map(|rule| match rule.check {
            Check::Project(check) => Some(check),
            _ => None,
        })
        .flat_map_iter(|check| {
            let mut diagnostics = Vec::new();
            check(context, &mut diagnostics);
            diagnostics
        })
        .collect()
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
