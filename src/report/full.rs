//! The default human format: each finding rendered by miette with its source snippet, a label
//! at every site involved and the help text.

use std::fmt;
use std::io::{self, Write};

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use crate::analysis::Report;
use crate::diagnostic::Diagnostic;

/// One site of a finding, as a miette diagnostic with its own source.
struct Site {
    code: Option<String>,
    message: String,
    help: Option<String>,
    source: NamedSource<String>,
    labels: Vec<LabeledSpan>,
    related: Vec<Site>,
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Site {}

impl miette::Diagnostic for Site {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

fn source_span(span: &std::ops::Range<usize>) -> SourceSpan {
    (span.start, span.end.saturating_sub(span.start)).into()
}

fn site(report: &Report, diagnostic: &Diagnostic) -> Site {
    let text = report
        .sources
        .get(&diagnostic.path)
        .map(|t| t.to_string())
        .unwrap_or_default();
    let name = diagnostic.path.display().to_string();
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        Some(diagnostic.label.clone()),
        source_span(&diagnostic.span),
    )];
    let mut related = Vec::new();
    for other in &diagnostic.related {
        if other.path == diagnostic.path {
            labels.push(LabeledSpan::new_with_span(
                Some(other.message.clone()),
                source_span(&other.span),
            ));
        } else {
            let other_text = report
                .sources
                .get(&other.path)
                .map(|t| t.to_string())
                .unwrap_or_default();
            related.push(Site {
                code: None,
                message: other.message.clone(),
                help: None,
                source: NamedSource::new(other.path.display().to_string(), other_text),
                labels: vec![LabeledSpan::new_primary_with_span(
                    None,
                    source_span(&other.span),
                )],
                related: Vec::new(),
            });
        }
    }
    Site {
        code: Some(diagnostic.code.to_string()),
        message: diagnostic.message.clone(),
        help: diagnostic.help.clone(),
        source: NamedSource::new(name, text),
        labels,
        related,
    }
}

pub fn write(report: &Report, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_links(false);
    for diagnostic in &report.diagnostics {
        let mut rendered = String::new();
        handler
            .render_report(&mut rendered, &site(report, diagnostic))
            .map_err(|e| io::Error::other(e.to_string()))?;
        writeln!(out, "{rendered}")?;
    }
    Ok(())
}
