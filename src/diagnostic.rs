//! Diagnostics: what a rule reports, with every other site involved.

use std::path::PathBuf;

use crate::codes::Code;
use crate::source::Span;

/// Another site involved in a finding (a hop of a call chain, another lock acquisition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    pub path: PathBuf,
    pub span: Span,
    pub message: String,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The rule code, e.g. `IL101`.
    pub code: Code,
    /// What is wrong and why it is a bug.
    pub message: String,
    /// Short label shown under the primary span.
    pub label: String,
    /// How to fix it.
    pub help: Option<String>,
    pub path: PathBuf,
    pub span: Span,
    pub related: Vec<Related>,
}

impl Diagnostic {
    /// A diagnostic without help or related sites.
    pub fn new(code: Code, path: PathBuf, span: Span, message: impl Into<String>) -> Self {
        let message = message.into();
        Diagnostic {
            code,
            label: message.clone(),
            message,
            help: None,
            path,
            span,
            related: Vec::new(),
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}
