//! Front ends: one per language, each lowering a file into the [`crate::model`].

pub mod python;
pub mod rust;

use std::path::Path;
use std::time::Duration;

use crate::knowledge::Knowledge;
use crate::model::{FileModel, Language, Span};
use crate::project::ModuleName;

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
) -> Result<(FileModel, Duration), FrontendError> {
    let tables = knowledge.tables(language);
    match language {
        Language::Python => python::lower(path, text, tables, module),
        Language::Rust => rust::lower(path, text, tables, module),
    }
}
