//! Front ends: one per language, each lowering a file into the [`crate::model`].

pub mod python;
pub mod rust;

use std::path::Path;
use std::time::Duration;

use crate::knowledge::Knowledge;
use crate::model::{FileModel, Language, LockScope, Span};
use crate::project::ModuleName;

/// Numbers the objects whose fields are locks a function holds, other than its own object
/// (`client` in `client.inner.lock()`, `conn` in `with conn.lock:`), so that a call on the same
/// object (`client.reconnect()`) is known to run with `self` being that object. Numbers start
/// at 1 and are unique in the file (see `LockHold::object`, `Call::object`).
#[derive(Default)]
struct HeldObjects {
    numbers: rustc_hash::FxHashMap<(usize, String), u32>,
}

impl HeldObjects {
    /// The number of the object a held lock (written `lock`) is a field of, in `function`.
    fn of_lock(&mut self, function: usize, lock: &str, scope: LockScope, via_self: bool) -> u32 {
        if scope != LockScope::Field || via_self {
            return 0;
        }
        let Some((object, _)) = lock.rsplit_once('.') else {
            return 0;
        };
        if object == "self" || object.is_empty() {
            return 0;
        }
        let next = self.numbers.len() as u32 + 1;
        *self
            .numbers
            .entry((function, object.to_string()))
            .or_insert(next)
    }

    /// The number of the object a call in `function` runs on (written `receiver()`), if one
    /// of its fields is a lock the function holds.
    fn of_receiver(&self, function: usize, receiver: impl FnOnce() -> String) -> u32 {
        if self.numbers.is_empty() {
            return 0;
        }
        self.numbers
            .get(&(function, receiver()))
            .copied()
            .unwrap_or(0)
    }
}

/// Why a file could not be lowered: a syntax error, or nesting too deep to parse safely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrontendError {
    pub span: Span,
    pub message: String,
}

/// Parses and lowers one file with the front end of its language; also returns how long the
/// parse itself took (for `--timings`).
pub fn lower(
    path: &Path,
    language: Language,
    text: &str,
    knowledge: &Knowledge,
    module: &ModuleName,
    project: &ProjectScan,
) -> Result<(FileModel, Duration), FrontendError> {
    let tables = knowledge.tables(language);
    match language {
        Language::Python => python::lower(path, text, tables, module, &project.reexports),
        Language::Rust => rust::lower(
            path,
            text,
            tables,
            module,
            &project.macros,
            &project.glob_imports,
        ),
    }
}

/// What lowering one file needs to know of the project's other files, gathered by a scan of
/// their texts before any is lowered: Rust macros a file may invoke and the library imports of
/// the modules it glob-imports, Python modules' library re-exports.
#[derive(Debug, Default)]
pub struct ProjectScan {
    pub macros: rust::ProjectMacros,
    pub glob_imports: rust::GlobImports,
    pub reexports: python::ProjectReexports,
}

impl ProjectScan {
    /// Adds what more files tell.
    pub fn add(&mut self, more: ProjectScan) {
        self.macros.add(more.macros);
        self.glob_imports.add(more.glob_imports);
        self.reexports.add(more.reexports);
    }
}
