//! The rules: one module per rule, each with its code (named and documented in the registry,
//! [`crate::codes`]) and its check.

pub mod acquire_without_release;
pub(crate) mod blocking;
pub mod blocking_file_io_in_async;
pub mod blocking_network_in_async;
pub mod blocking_sleep_in_async;
pub mod blocking_subprocess_in_async;
pub mod blocking_wait_in_async;
pub mod busy_wait_loop;
pub mod check_then_act;
pub mod condition_wait_misuse;
pub mod coroutine_never_awaited;
pub mod dangling_task;
pub mod double_lock;
pub mod inconsistently_guarded_state;
pub mod invalid_utf8;
pub mod lock_order_inversion;
pub mod lock_protects_nothing;
pub(crate) mod lock_sites;
pub mod nested_event_loop;
pub mod parse_error;
pub mod process_spawn_without_main_guard;
pub(crate) mod shared_state;
pub mod split_read_modify_write;
pub mod sync_lock_held_across_await;
pub mod thread_primitive_passed_to_process;
pub mod transitive_blocking_call_in_async;
pub mod unpicklable_process_target;
pub mod unprotected_shared_write;

use rustc_hash::FxHashMap as HashMap;

use crate::analysed::AnalysedFile;
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Related};
use crate::graph::fields::SharedFields;
use crate::graph::locks::{Acquisition, Evidence, Inner, LockGraph};
use crate::graph::summary::Policy;
use crate::graph::threads::Concurrency;
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
    /// Both: what one file shows, and what only the call graph does.
    FileAndProject(FileCheck, ProjectCheck),
}

/// One rule: its code (name, summary and page in [`crate::codes`]) and how it runs.
pub struct Rule {
    pub code: Code,
    pub check: Check,
}

/// Every rule, in code order: one per code of the registry.
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
    &lock_order_inversion::RULE,
    &double_lock::RULE,
    &sync_lock_held_across_await::RULE,
    &acquire_without_release::RULE,
    &lock_protects_nothing::RULE,
    &condition_wait_misuse::RULE,
    &process_spawn_without_main_guard::RULE,
    &unpicklable_process_target::RULE,
    &thread_primitive_passed_to_process::RULE,
    &unprotected_shared_write::RULE,
    &inconsistently_guarded_state::RULE,
    &check_then_act::RULE,
    &split_read_modify_write::RULE,
    &coroutine_never_awaited::RULE,
    &dangling_task::RULE,
    &busy_wait_loop::RULE,
];

/// Runs every per-file rule on a model (selection and suppression are applied afterwards).
pub fn check_file(model: &FileModel, knowledge: &Knowledge) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for rule in ALL {
        if let Check::File(check) | Check::FileAndProject(check, _) = rule.check {
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
    /// The lock graph, built by the first rule that asks for it.
    locks: std::sync::OnceLock<LockGraph>,
    /// What may run concurrently, likewise.
    concurrency: std::sync::OnceLock<Concurrency>,
    /// Calls that block once the project's types are known, likewise.
    late_blocking: std::sync::OnceLock<HashMap<CallSite, blocking::LateBlocking>>,
    /// Fields constructors fill with one value, likewise.
    fields: std::sync::OnceLock<SharedFields>,
    /// State names that stand for another's state (see [`SharedFields::aliases`]), likewise.
    state_aliases: std::sync::OnceLock<HashMap<String, String>>,
}

impl<'a> ProjectContext<'a> {
    pub fn new(project: &'a Project<'a>, files: &'a [&'a AnalysedFile]) -> Self {
        ProjectContext {
            project,
            files,
            locks: std::sync::OnceLock::new(),
            concurrency: std::sync::OnceLock::new(),
            late_blocking: std::sync::OnceLock::new(),
            fields: std::sync::OnceLock::new(),
            state_aliases: std::sync::OnceLock::new(),
        }
    }

    /// Fields constructors fill with one value (see [`SharedFields`]).
    pub fn fields(&self) -> &SharedFields {
        self.fields.get_or_init(|| SharedFields::new(self.project))
    }

    /// The name of the state a state name stands for: an attribute a constructor filled with
    /// its creator's (`HostBrowser._devices` given `CastBrowser.devices`) is that one.
    pub fn state<'s>(&'s self, name: &'s str) -> &'s str {
        let aliases = self
            .state_aliases
            .get_or_init(|| self.fields().aliases(self.project));
        aliases.get(name).map_or(name, String::as_str)
    }

    /// Calls that block once the project's types are known (see [`blocking::late_blocking`]).
    pub fn late_blocking(&self) -> &HashMap<CallSite, blocking::LateBlocking> {
        self.late_blocking.get_or_init(|| {
            blocking::late_blocking(self.project, |file_index| {
                let language = self.project.models[file_index].language;
                self.files[file_index].settings.knowledge.tables(language)
            })
        })
    }

    /// The file a function belongs to.
    pub fn file(&self, id: FunctionId) -> &AnalysedFile {
        self.files[id.file]
    }

    /// The project's lock-acquisition graph (shared by the lock rules).
    pub fn lock_graph(&self) -> &LockGraph {
        self.locks.get_or_init(|| {
            let max_depth = self
                .files
                .iter()
                .map(|f| f.settings.max_call_depth)
                .max()
                .unwrap_or(0);
            LockGraph::new(
                self.project,
                self.fields(),
                |file_index| {
                    let file = self.files[file_index];
                    let language = self.project.models[file_index].language;
                    file.settings.knowledge.tables(language)
                },
                max_depth,
            )
        })
    }

    /// What may run concurrently (shared by the shared-state rules).
    pub fn concurrency(&self) -> &Concurrency {
        self.concurrency
            .get_or_init(|| Concurrency::new(self.project))
    }

    /// Whether a suppression comment covers `code` at an acquisition.
    pub fn suppressed_at(&self, at: Acquisition, code: Code) -> bool {
        let hold = &self.project.function(at.function).lock_holds[at.hold];
        self.file(at.function).suppressed(code, hold.span.start)
    }

    /// Whether a suppression comment covers `code` at any site of an edge's evidence (its
    /// acquisitions and every call of its chain).
    pub fn evidence_suppressed(&self, evidence: &Evidence, code: Code) -> bool {
        if self.suppressed_at(evidence.outer, code) {
            return true;
        }
        match &evidence.inner {
            Inner::Direct(hold) => self.suppressed_at(
                Acquisition {
                    function: evidence.outer.function,
                    hold: *hold,
                },
                code,
            ),
            Inner::Call { chain, leaf } => {
                self.suppressed_at(*leaf, code)
                    || chain
                        .iter()
                        .any(|site| Policy::suppressed(self, self.project, *site, code))
            }
        }
    }
}

impl Policy for ProjectContext<'_> {
    fn late_blocking(&self, _: &Project, site: CallSite) -> Option<&crate::model::BlockingApi> {
        ProjectContext::late_blocking(self)
            .get(&site)
            .map(|late| &late.api)
    }

    fn suppressed(&self, project: &Project, site: CallSite, code: Code) -> bool {
        self.file(site.caller)
            .suppressed(code, project.call(site).span.start)
    }

    fn declared_non_blocking(&self, project: &Project, function: FunctionId) -> bool {
        let settings = &self.file(function).settings;
        let declared = &settings.non_blocking;
        let f = project.function(function);
        (!declared.is_empty() && declared.contains(&f.canonical))
            || !f.decorators.is_empty() && {
                let language = project.model(function).language;
                let memoizing = &settings.knowledge.tables(language).memoizing;
                f.decorators.iter().any(|d| memoizing.contains(d))
            }
    }
}

/// A call site as a related location.
pub(crate) fn call_site(project: &Project, site: CallSite, message: String) -> Related {
    Related {
        path: project.model(site.caller).path.clone(),
        span: project.call(site).span.clone(),
        message,
    }
}

/// A hop of a call chain as a related location: "`caller` calls `callee` here", then `rest`.
pub(crate) fn call_hop(
    project: &Project,
    site: CallSite,
    callee: FunctionId,
    rest: &str,
) -> Related {
    let message = format!(
        "`{}` calls `{}` here{rest}",
        project.function(site.caller).name,
        project.function(callee).name
    );
    call_site(project, site, message)
}

/// Runs every project-wide rule, the rules in parallel.
pub fn check_project(context: &ProjectContext) -> Vec<Diagnostic> {
    use rayon::prelude::*;
    ALL.par_iter()
        .enumerate()
        .filter_map(|(i, rule)| match rule.check {
            Check::Project(check) | Check::FileAndProject(_, check) => Some((i, check)),
            _ => None,
        })
        .flat_map_iter(|(i, check)| {
            let started = std::time::Instant::now();
            let mut diagnostics = Vec::new();
            check(context, &mut diagnostics);
            let elapsed = started.elapsed().as_nanos() as u64;
            PROJECT_RULE_TIMES[i].fetch_add(elapsed, std::sync::atomic::Ordering::Relaxed);
            diagnostics
        })
        .collect()
}

/// Wall time each rule's project check took so far (nanoseconds, by index in [`ALL`]; the
/// first rule to ask for a shared graph of [`ProjectContext`] pays for building it).
static PROJECT_RULE_TIMES: [std::sync::atomic::AtomicU64; 64] =
    [const { std::sync::atomic::AtomicU64::new(0) }; 64];

/// The rules whose project check took at least a millisecond, slowest first (`--timings`).
pub fn project_rule_times() -> Vec<(Code, f64)> {
    let mut times: Vec<(Code, f64)> = ALL
        .iter()
        .zip(&PROJECT_RULE_TIMES)
        .map(|(rule, t)| {
            (
                rule.code,
                t.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e6,
            )
        })
        .filter(|(_, ms)| *ms >= 1.0)
        .collect();
    times.sort_by(|a, b| b.1.total_cmp(&a.1));
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_timing_slot() {
        assert!(ALL.len() <= PROJECT_RULE_TIMES.len());
    }

    #[test]
    fn one_rule_per_code_in_code_order() {
        let codes: Vec<Code> = ALL.iter().map(|rule| rule.code).collect();
        assert_eq!(codes, crate::codes::ALL);
    }
}
