//! The default human format: each finding rendered by miette with its source snippet, a label
//! at every site involved and the help text.

use std::fmt;
use std::io::{self, Write};

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    NamedSource, SourceCode, SourceSpan, SpanContents,
};

use crate::analysis::Report;
use crate::diagnostic::Diagnostic;

/// One site of a finding, as a miette diagnostic with its own source.
struct Site {
    code: Option<String>,
    message: String,
    help: Option<String>,
    source: CharColumns,
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

/// A file's text for miette, whose `[path:line:column]` header would count the column in
/// bytes: the column of a span read alone is given in characters, as in every other format.
struct CharColumns(NamedSource<String>);

impl CharColumns {
    fn new(name: String, text: String) -> Self {
        CharColumns(NamedSource::new(name, text))
    }
}

impl SourceCode for CharColumns {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let contents = self
            .0
            .read_span(span, context_lines_before, context_lines_after)?;
        if context_lines_before != 0 || context_lines_after != 0 {
            return Ok(contents);
        }
        let text = self.0.inner();
        let start = span.offset().min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let column = text
            .get(line_start..start)
            .map_or(contents.column(), |s| s.chars().count());
        Ok(Box::new(MietteSpanContents::new_named(
            self.0.name().to_string(),
            contents.data(),
            *contents.span(),
            contents.line(),
            column,
            contents.line_count(),
        )))
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
                source: CharColumns::new(other.path.display().to_string(), other_text),
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
        source: CharColumns::new(name, text),
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
