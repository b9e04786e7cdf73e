//! One file after the per-file phase: what the driver ([`crate::analysis`]) made of it and
//! what the project-wide rules ([`crate::rules`]) read. Below both, so that neither depends on
//! the other for it.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crate::codes::Code;
use crate::config::Settings;
use crate::decode::decode;
use crate::diagnostic::Diagnostic;
use crate::model::FileModel;
use crate::source::{Language, LineIndex, read_regular};
use crate::suppress::Suppressions;

/// Largest file analysed (8 MiB): parsing and lowering cost up to ~100 bytes of memory per
/// byte of hostile input, so this bounds what one file may take. Larger files get an IL001
/// finding and are not read past the limit; real source files are far smaller.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// One file after the per-file phase: its model (when it parsed) and what the project phase
/// needs to filter and render findings.
pub struct AnalysedFile {
    pub path: PathBuf,
    language: Language,
    /// The text, kept from the per-file phase when it is likely needed (findings, suppression
    /// comments, contents that are not on disk), otherwise read again on first use.
    text: OnceLock<Arc<str>>,
    pub settings: Arc<Settings>,
    pub model: Option<FileModel>,
    pub suppressions: Suppressions,
    lines: OnceLock<LineIndex>,
    /// Findings of the per-file rules, already filtered.
    pub diagnostics: Vec<Diagnostic>,
}

impl AnalysedFile {
    /// A file with no findings yet. `text` is its text when kept from the per-file phase
    /// (otherwise it is read again on first use).
    pub fn new(
        path: PathBuf,
        language: Language,
        settings: Arc<Settings>,
        model: Option<FileModel>,
        suppressions: Suppressions,
        text: Option<Arc<str>>,
    ) -> AnalysedFile {
        AnalysedFile {
            path,
            language,
            text: text.map_or_else(OnceLock::new, OnceLock::from),
            settings,
            model,
            suppressions,
            lines: OnceLock::new(),
            diagnostics: Vec::new(),
        }
    }

    /// The file's line index, built on first use (most files never need one).
    pub fn lines(&self) -> &LineIndex {
        self.lines.get_or_init(|| LineIndex::new(self.text()))
    }

    /// The file's text (read and decoded again if it was not kept).
    pub fn text(&self) -> &Arc<str> {
        self.text.get_or_init(|| {
            let bytes = read_regular(&self.path, MAX_FILE_BYTES).unwrap_or_default();
            match decode(&bytes, self.language) {
                Ok(text) => Arc::from(text.as_ref()),
                Err(_) => Arc::from(String::from_utf8_lossy(&bytes).as_ref()),
            }
        })
    }

    /// Whether a finding of `code` starting at byte `offset` survives selection and suppression.
    pub fn keeps(&self, code: Code, offset: usize) -> bool {
        !self.suppressed(code, offset) && self.settings.is_enabled_for(code, &self.path)
    }

    /// Whether a suppression comment covers `code` on the line of byte `offset`.
    pub fn suppressed(&self, code: Code, offset: usize) -> bool {
        !self.suppressions.is_empty()
            && self
                .suppressions
                .suppresses(code, self.lines().line_of(offset))
    }
}
