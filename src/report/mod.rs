//! Reporters: render a [`Report`] for people (`full`, `concise`) or machines (`json`,
//! `json-lines`, and the CI formats `github`, `gitlab`, `junit`, `sarif`), plus `--statistics`.

mod ci;
mod full;
mod json;

use std::io::{self, Write};
use std::path::Path;

use clap::ValueEnum;

use crate::analysis::Report;
use crate::codes::{self, Code};
use crate::diagnostic::Diagnostic;
use crate::source::Location;

/// Output formats of `interlock check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Source snippets with labels and help (miette).
    Full,
    /// One line per finding: `path:row:col: CODE message`.
    Concise,
    /// A JSON array with Ruff-compatible fields.
    Json,
    /// One JSON object per line.
    JsonLines,
    /// GitHub Actions annotations (`::error file=…,line=…::…`).
    Github,
    /// GitLab Code Quality JSON, with fingerprints that survive moved lines.
    Gitlab,
    /// JUnit XML: a test suite per file, a failure per finding.
    Junit,
    /// SARIF 2.1.0 (GitHub code scanning), with rule help and related locations.
    Sarif,
}

/// `text` with its control characters escaped as Rust does (`\n`, `\t`, `\u{1b}`): for paths
/// in the formats whose unit is the line (`concise`, `github`), so that a file name cannot
/// break a line or forge another one. Backslashes are left alone (a Windows separator).
pub(crate) fn escape_controls(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// A diagnostic's primary and end locations, computed from its file's text.
pub(crate) fn locations(report: &Report, diagnostic: &Diagnostic) -> (Location, Location) {
    span_locations(report, &diagnostic.path, &diagnostic.span)
}

/// A span's start and end locations in its file (each file's line index is built once per
/// report, so rendering stays linear in the number of findings).
pub(crate) fn span_locations(
    report: &Report,
    path: &Path,
    span: &std::ops::Range<usize>,
) -> (Location, Location) {
    match report.sources.get(path) {
        Some(source) => source.locations(span),
        None => (
            Location { row: 1, column: 1 },
            Location { row: 1, column: 1 },
        ),
    }
}

/// `path:row:col` of a span, the path's control characters escaped.
pub(crate) fn site(report: &Report, path: &Path, span: &std::ops::Range<usize>) -> String {
    let (start, _) = span_locations(report, path, span);
    let path = escape_controls(&path.to_string_lossy());
    format!("{path}:{}:{}", start.row, start.column)
}

/// A finding in the concise form: `path:row:col: CODE message`.
pub(crate) fn concise_line(report: &Report, diagnostic: &Diagnostic) -> String {
    let site = site(report, &diagnostic.path, &diagnostic.span);
    format!("{site}: {} {}", diagnostic.code, diagnostic.message)
}

/// Writes the findings in `format`.
pub fn write(
    report: &Report,
    format: OutputFormat,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        OutputFormat::Full => full::write(report, color, out)?,
        OutputFormat::Concise => {
            for diagnostic in &report.diagnostics {
                writeln!(out, "{}", concise_line(report, diagnostic))?;
            }
        }
        OutputFormat::Json => json::write_array(report, out)?,
        OutputFormat::JsonLines => json::write_lines(report, out)?,
        OutputFormat::Github => ci::write_github(report, out)?,
        OutputFormat::Gitlab => ci::write_gitlab(report, out)?,
        OutputFormat::Junit => ci::write_junit(report, out)?,
        OutputFormat::Sarif => ci::write_sarif(report, out)?,
    }
    if matches!(format, OutputFormat::Full | OutputFormat::Concise) {
        write_summary(report, out)?;
    }
    Ok(())
}

fn write_summary(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    match report.diagnostics.len() {
        0 => writeln!(out, "All checks passed!"),
        1 => writeln!(out, "Found 1 error."),
        n => writeln!(out, "Found {n} errors."),
    }
}

/// `--statistics`: how many findings per rule, most frequent first.
pub fn write_statistics(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut counts: Vec<(usize, Code)> = Vec::new();
    for &code in codes::ALL {
        let count = report.diagnostics.iter().filter(|d| d.code == code).count();
        if count > 0 {
            counts.push((count, code));
        }
    }
    counts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let width = counts.first().map_or(1, |(n, _)| n.to_string().len());
    for (count, code) in counts {
        let name = code.name();
        writeln!(out, "{count:>width$}\t{code}\t{name}")?;
    }
    write_summary(report, out)
}
