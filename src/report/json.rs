//! JSON output with Ruff-compatible field names (`code`, `message`, `filename`, `location`,
//! `end_location`, `noqa_row`, `url`, `fix`), plus `help` and `related` for the other sites.

use std::io::{self, Write};

use serde::Serialize;

use super::{locations, span_locations};
use crate::analysis::Report;
use crate::diagnostic::Diagnostic;
use crate::source::Location;

#[derive(Serialize)]
struct JsonRelated {
    filename: String,
    location: Location,
    end_location: Location,
    message: String,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    message: &'a str,
    filename: String,
    location: Location,
    end_location: Location,
    noqa_row: usize,
    help: Option<&'a str>,
    url: Option<String>,
    fix: Option<()>,
    related: Vec<JsonRelated>,
}

fn absolute(path: &std::path::Path) -> String {
    crate::source::absolute(path).display().to_string()
}

fn to_json<'a>(report: &Report, diagnostic: &'a Diagnostic) -> JsonDiagnostic<'a> {
    let (location, end_location) = locations(report, diagnostic);
    let related = diagnostic
        .related
        .iter()
        .map(|r| {
            let (location, end_location) = span_locations(report, &r.path, &r.span);
            JsonRelated {
                filename: absolute(&r.path),
                location,
                end_location,
                message: r.message.clone(),
            }
        })
        .collect();
    JsonDiagnostic {
        code: diagnostic.code.as_str(),
        message: &diagnostic.message,
        filename: absolute(&diagnostic.path),
        location,
        end_location,
        noqa_row: location.row,
        help: diagnostic.help.as_deref(),
        url: None,
        fix: None,
        related,
    }
}

/// A pretty-printed JSON array.
pub fn write_array(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let items: Vec<_> = report
        .diagnostics
        .iter()
        .map(|d| to_json(report, d))
        .collect();
    serde_json::to_writer_pretty(&mut *out, &items)?;
    writeln!(out)
}

/// One JSON object per line.
pub fn write_lines(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for diagnostic in &report.diagnostics {
        serde_json::to_writer(&mut *out, &to_json(report, diagnostic))?;
        writeln!(out)?;
    }
    Ok(())
}
