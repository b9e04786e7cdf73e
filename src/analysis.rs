//! The driver: reads, parses and lowers files in parallel, runs the rules, and applies rule
//! selection and suppression comments. One bad file never stops the others.

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::Settings;
use crate::diagnostic::Diagnostic;
use crate::frontend;
use crate::model::Language;
use crate::rules;
use crate::suppress::Suppressions;

/// Stack size of the analysis threads: deep but legal nesting must never overflow.
pub const STACK_SIZE: usize = 256 * 1024 * 1024;

/// One file to analyse.
pub struct Input {
    pub path: PathBuf,
    pub language: Language,
    pub settings: Arc<Settings>,
    /// The file's contents when they do not come from disk (stdin, an editor buffer).
    pub contents: Option<Vec<u8>>,
}

/// A file that could not be analysed at all (unreadable, binary, internal error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub message: String,
}

/// The outcome of a run: diagnostics sorted by path, line and column; the text of every file
/// with diagnostics (for rendering); and the files that could not be analysed.
#[derive(Debug, Default)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: std::collections::HashMap<PathBuf, Arc<str>>,
    pub errors: Vec<FileError>,
    pub files_checked: usize,
}

enum Outcome {
    Analysed {
        diagnostics: Vec<Diagnostic>,
        text: Arc<str>,
    },
    Failed(FileError),
}

/// Analyses every input in parallel, on threads with a large stack.
pub fn analyse(inputs: Vec<Input>) -> Report {
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(STACK_SIZE)
        .thread_name(|i| format!("interlock-{i}"))
        .build()
        .expect("the analysis thread pool starts");
    let outcomes: Vec<(PathBuf, Outcome)> = pool.install(|| {
        inputs
            .into_par_iter()
            .map(|input| (input.path.clone(), analyse_guarded(input)))
            .collect()
    });
    let mut report = Report {
        files_checked: outcomes.len(),
        ..Report::default()
    };
    for (path, outcome) in outcomes {
        match outcome {
            Outcome::Analysed { diagnostics, text } => {
                if !diagnostics.is_empty() {
                    report.sources.insert(path, text);
                    report.diagnostics.extend(diagnostics);
                }
            }
            Outcome::Failed(error) => report.errors.push(error),
        }
    }
    report
        .diagnostics
        .sort_by(|a, b| (&a.path, a.span.start, a.code).cmp(&(&b.path, b.span.start, b.code)));
    report.errors.sort_by(|a, b| a.path.cmp(&b.path));
    report
}

/// Analyses one file, turning a panic into an error for that file only.
fn analyse_guarded(input: Input) -> Outcome {
    let path = input.path.clone();
    panic::catch_unwind(AssertUnwindSafe(|| analyse_one(input))).unwrap_or_else(|payload| {
        let reason = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Outcome::Failed(FileError {
            path,
            message: format!("internal error while analysing this file: {reason}"),
        })
    })
}

fn analyse_one(input: Input) -> Outcome {
    let Input {
        path,
        language,
        settings,
        contents,
    } = input;
    let fail = |message: String| {
        Outcome::Failed(FileError {
            path: path.clone(),
            message,
        })
    };
    let bytes = match contents {
        Some(bytes) => bytes,
        None => match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) => return fail(format!("could not read file: {error}")),
        },
    };
    if bytes.contains(&0) {
        return fail("binary file (contains NUL bytes), not analysed".to_string());
    }
    let enabled = |code: &str| settings.is_enabled_for(code, &path);
    let text = match crate::decode::decode(&bytes, language) {
        Ok(text) => text,
        Err(error) => {
            let offset = error.offset;
            let text: Arc<str> = String::from_utf8_lossy(&bytes).into();
            let diagnostics = enabled(rules::invalid_utf8::RULE.code)
                .then(|| {
                    Diagnostic::new(
                        rules::invalid_utf8::RULE.code,
                        path.clone(),
                        offset..offset,
                        format!("{}; it was not analysed", error.message),
                    )
                    .with_label("cannot decode the file here")
                    .with_help("re-encode the file as UTF-8 (or, in Python, declare its encoding with a PEP 263 `# -*- coding: … -*-` comment)")
                })
                .into_iter()
                .collect();
            return Outcome::Analysed { diagnostics, text };
        }
    };
    let text = text.as_ref();
    let shared_text: Arc<str> = text.into();
    let model = match frontend::lower(&path, language, text, &settings.knowledge) {
        Ok(model) => model,
        Err(error) => {
            let diagnostics = enabled(rules::parse_error::RULE.code)
                .then(|| {
                    Diagnostic::new(
                        rules::parse_error::RULE.code,
                        path.clone(),
                        error.span,
                        error.message,
                    )
                    .with_label("here")
                    .with_help("fix the syntax error; interlock analyses the file once it parses")
                })
                .into_iter()
                .collect();
            return Outcome::Analysed {
                diagnostics,
                text: shared_text,
            };
        }
    };
    let suppressions = Suppressions::parse(text, language);
    let index = crate::source::LineIndex::new(text);
    let diagnostics = rules::check_file(&model, &settings.knowledge, enabled)
        .into_iter()
        .filter(|d| !suppressions.suppresses(d.code, index.line_of(d.span.start)))
        .collect();
    Outcome::Analysed {
        diagnostics,
        text: shared_text,
    }
}
