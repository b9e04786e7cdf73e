//! The default human format: each finding rendered by miette with its source snippet, a label
//! at every site involved and the help text.
//!
//! Rendering is total: a finding miette cannot draw well (a line too long to show, a span over
//! many lines, a lone `\r` line end) or at all (it panics) is printed in the concise form, with
//! its help and related sites, and every other finding is still drawn.

use std::fmt;
use std::io::{self, Write};
use std::ops::Range;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

use super::{concise_line, escape_controls, site};
use crate::analysis::Report;
use crate::diagnostic::Diagnostic;
use crate::source::{LineIndex, SourceFile};

/// Longest line (in bytes) shown in a snippet.
const MAX_SNIPPET_LINE_BYTES: usize = 1_000;
/// Most lines one label may cover in a snippet.
const MAX_LABEL_LINES: usize = 50;

/// One site of a finding, as a miette diagnostic with its own source.
struct Site<'a> {
    code: Option<&'a str>,
    message: &'a str,
    help: Option<&'a str>,
    source: Snippet<'a>,
    labels: Vec<LabeledSpan>,
    related: Vec<Site<'a>>,
}

impl fmt::Debug for Site<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)
    }
}

impl fmt::Display for Site<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)
    }
}

impl std::error::Error for Site<'_> {}

impl miette::Diagnostic for Site<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.code.map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help.map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

/// A file's text for miette. miette finds a span's lines by scanning the text from its start;
/// this hands it only the lines around the span (found with the file's line index), so drawing
/// stays linear in the number of findings. The `[path:line:column]` header's column counts
/// characters, as in every other format.
struct Snippet<'a> {
    name: String,
    text: &'a str,
    lines: &'a LineIndex,
}

impl<'a> Snippet<'a> {
    fn new(name: String, file: Option<&'a SourceFile>) -> Self {
        static EMPTY: std::sync::OnceLock<LineIndex> = std::sync::OnceLock::new();
        match file {
            Some(file) => Snippet {
                name,
                text: file.text(),
                lines: file.lines(),
            },
            None => Snippet {
                name,
                text: "",
                lines: EMPTY.get_or_init(|| LineIndex::new("")),
            },
        }
    }

    /// Whether a label over `span` (already clamped) can be drawn: it covers few lines, and
    /// they and their neighbours are short and end with `\n`.
    fn drawable(&self, span: &Range<usize>) -> bool {
        let first = self.lines.line_of(span.start);
        let last = self.lines.line_of(span.end);
        if last - first > MAX_LABEL_LINES {
            return false;
        }
        let from = self.lines.line_start(first.saturating_sub(1));
        let to = self.lines.line_end(self.text, last + 1);
        let window = &self.text[from..to];
        !window.split('\n').any(|line| {
            line.len() > MAX_SNIPPET_LINE_BYTES || line.trim_end_matches('\r').contains('\r')
        })
    }
}

impl SourceCode for Snippet<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let (start, end) = (span.offset(), span.offset() + span.len());
        if end > self.text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let first = self
            .lines
            .line_of(start)
            .saturating_sub(context_lines_before);
        let last = self.lines.line_of(end) + context_lines_after + 1;
        let from = self.lines.line_start(first);
        let to = if last < self.lines.line_count() {
            self.lines.line_start(last)
        } else {
            self.text.len()
        };
        let window = &self.text[from..to];
        let inner = window.read_span(
            &(start - from, span.len()).into(),
            context_lines_before,
            context_lines_after,
        )?;
        let column = if context_lines_before == 0 && context_lines_after == 0 {
            let line_start = self.lines.line_start(self.lines.line_of(start));
            self.text[line_start..start].chars().count()
        } else {
            inner.column()
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            (inner.span().offset() + from, inner.span().len()).into(),
            inner.line() + first,
            column,
            inner.line_count() + first,
        )))
    }
}

/// A miette span for a clamped byte range.
fn source_span(span: &Range<usize>) -> SourceSpan {
    (span.start, span.end - span.start).into()
}

/// The finding as miette diagnostics, or `None` when some label cannot be drawn.
fn drawing<'a>(report: &'a Report, diagnostic: &'a Diagnostic) -> Option<Site<'a>> {
    let file = report.sources.get(&diagnostic.path);
    let clamp = |file: Option<&SourceFile>, span: &Range<usize>| match file {
        Some(file) => file.clamp(span),
        None => 0..0,
    };
    let name = |path: &std::path::Path| escape_controls(&path.to_string_lossy());
    let source = Snippet::new(name(&diagnostic.path), file);
    let primary = clamp(file, &diagnostic.span);
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        Some(diagnostic.label.clone()),
        source_span(&primary),
    )];
    let mut drawable = source.drawable(&primary);
    let mut related = Vec::new();
    for other in &diagnostic.related {
        if other.path == diagnostic.path {
            let span = clamp(file, &other.span);
            drawable &= source.drawable(&span);
            labels.push(LabeledSpan::new_with_span(
                Some(other.message.clone()),
                source_span(&span),
            ));
        } else {
            let other_file = report.sources.get(&other.path);
            let other_source = Snippet::new(name(&other.path), other_file);
            let span = clamp(other_file, &other.span);
            drawable &= other_source.drawable(&span);
            related.push(Site {
                code: None,
                message: &other.message,
                help: None,
                source: other_source,
                labels: vec![LabeledSpan::new_primary_with_span(None, source_span(&span))],
                related: Vec::new(),
            });
        }
    }
    drawable.then(|| Site {
        code: Some(diagnostic.code.as_str()),
        message: &diagnostic.message,
        help: diagnostic.help.as_deref(),
        source,
        labels,
        related,
    })
}

/// The concise form of a finding, with its help and every related site, for a finding that
/// cannot be drawn.
fn write_plain(report: &Report, diagnostic: &Diagnostic, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", concise_line(report, diagnostic))?;
    if let Some(help) = &diagnostic.help {
        writeln!(out, "  help: {help}")?;
    }
    for other in &diagnostic.related {
        let site = site(report, &other.path, &other.span);
        writeln!(out, "  {site}: {}", other.message)?;
    }
    writeln!(out)
}

pub fn write(report: &Report, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_links(false);
    for diagnostic in &report.diagnostics {
        let drawn = crate::guard::catch(|| {
            let drawing = drawing(report, diagnostic)?;
            let mut rendered = String::new();
            handler.render_report(&mut rendered, &drawing).ok()?;
            Some(rendered)
        });
        match drawn {
            Ok(Some(rendered)) => writeln!(out, "{rendered}")?,
            _ => write_plain(report, diagnostic, out)?,
        }
    }
    Ok(())
}
