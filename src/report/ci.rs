//! Output for CI systems: GitHub Actions workflow commands (`github`), GitLab Code Quality
//! (`gitlab`), JUnit XML (`junit`) and SARIF 2.1.0 (`sarif`, for code scanning).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::{Component, Path};

use serde_json::json;

use super::{escape_controls, locations, span_locations};
use crate::analysis::Report;
use crate::codes::{self, Code};

/// A path as CI tools want it: relative to the working directory when it is under it, with `/`
/// between components. Only the platform's separators become `/`: on Unix `\` is a character
/// of a file name and is kept.
fn relative(path: &Path) -> String {
    let absolute = crate::source::absolute(path);
    let cwd = std::env::current_dir().unwrap_or_default();
    let shown = absolute.strip_prefix(&cwd).unwrap_or(&absolute);
    let mut text = String::new();
    for component in shown.components() {
        match component {
            // A Windows drive or share (`C:`, `\\server\share`).
            Component::Prefix(prefix) => {
                text.push_str(&prefix.as_os_str().to_string_lossy().replace('\\', "/"));
            }
            Component::RootDir => text.push('/'),
            other => {
                if !text.is_empty() && !text.ends_with('/') {
                    text.push('/');
                }
                text.push_str(&other.as_os_str().to_string_lossy());
            }
        }
    }
    text
}

/// GitHub Actions workflow commands: one `::error` annotation per finding.
pub fn write_github(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    // Workflow command escaping: data escapes `%`, CR and LF; properties also `:` and `,`.
    let data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    for diagnostic in &report.diagnostics {
        let (start, end) = locations(report, diagnostic);
        let path = relative(&diagnostic.path);
        writeln!(
            out,
            "::error title={},file={},line={},col={},endLine={},endColumn={}::{}",
            property(&format!(
                "interlock ({} {})",
                diagnostic.code,
                diagnostic.code.name()
            )),
            property(&path),
            start.row,
            start.column,
            end.row,
            end.column,
            data(&format!(
                "{}:{}:{}: {} {}",
                escape_controls(&path),
                start.row,
                start.column,
                diagnostic.code,
                diagnostic.message
            ))
        )?;
    }
    Ok(())
}

/// A fingerprint that stays the same when lines move: the rule, the file, the message, and how
/// many identical findings came before in the file.
fn fingerprint(code: Code, path: &str, message: &str, occurrence: usize) -> String {
    let mut hasher = rustc_hash::FxHasher::default();
    // Hashed as text: fingerprints must not change with the registry's layout.
    (code.as_str(), path, message, occurrence).hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// GitLab Code Quality report (a JSON array).
pub fn write_gitlab(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut seen: HashMap<(String, Code, &str), usize> = HashMap::new();
    let items: Vec<_> = report
        .diagnostics
        .iter()
        .map(|diagnostic| {
            let (start, end) = locations(report, diagnostic);
            let path = relative(&diagnostic.path);
            let occurrence = seen
                .entry((path.clone(), diagnostic.code, diagnostic.message.as_str()))
                .or_default();
            *occurrence += 1;
            json!({
                "description": format!("{} {}", diagnostic.code, diagnostic.message),
                "check_name": diagnostic.code.as_str(),
                "fingerprint": fingerprint(diagnostic.code, &path, &diagnostic.message, *occurrence),
                "severity": "major",
                "location": {
                    "path": path,
                    "positions": {
                        "begin": {"line": start.row, "column": start.column},
                        "end": {"line": end.row, "column": end.column},
                    },
                },
            })
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &items)?;
    writeln!(out)
}

/// `text` escaped for XML attributes and content. Control characters other than tab and line
/// ends cannot appear in XML 1.0 at all (not even as references): they are written escaped as
/// Rust does (`\u{1b}`), as are the non-characters U+FFFE and U+FFFF.
fn xml(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\t' | '\n' | '\r' => escaped.push(c),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => {
                escaped.extend(c.escape_default())
            }
            c => escaped.push(c),
        }
    }
    escaped
}

/// JUnit XML: a test suite per file with findings, a failed test case per finding.
pub fn write_junit(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut files: Vec<(String, Vec<&crate::diagnostic::Diagnostic>)> = Vec::new();
    for diagnostic in &report.diagnostics {
        let path = relative(&diagnostic.path);
        match files.last_mut() {
            Some((last, list)) if *last == path => list.push(diagnostic),
            _ => files.push((path, vec![diagnostic])),
        }
    }
    let total = report.diagnostics.len();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="interlock" tests="{}" failures="{total}" errors="0">"#,
        total.max(1)
    )?;
    if files.is_empty() {
        writeln!(
            out,
            r#"  <testsuite name="interlock" tests="1" failures="0" errors="0">"#
        )?;
        writeln!(
            out,
            r#"    <testcase name="No findings" classname="interlock"/>"#
        )?;
        writeln!(out, "  </testsuite>")?;
    }
    for (path, diagnostics) in files {
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{n}" failures="{n}" errors="0">"#,
            xml(&path),
            n = diagnostics.len()
        )?;
        for diagnostic in diagnostics {
            let (start, _) = locations(report, diagnostic);
            writeln!(
                out,
                r#"    <testcase name="{}" classname="{}" file="{}" line="{}">"#,
                xml(&format!(
                    "{} {} at line {}, column {}",
                    diagnostic.code,
                    diagnostic.code.name(),
                    start.row,
                    start.column
                )),
                xml(&path),
                xml(&path),
                start.row
            )?;
            writeln!(
                out,
                r#"      <failure message="{}" type="{}">{}</failure>"#,
                xml(&diagnostic.message),
                diagnostic.code,
                xml(&format!(
                    "{path}:{}:{}: {} {}",
                    start.row, start.column, diagnostic.code, diagnostic.message
                ))
            )?;
            writeln!(out, "    </testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

/// SARIF 2.1.0: the rules (with their pages as help), and every finding with its related sites.
pub fn write_sarif(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let physical = |path: &Path, span: &std::ops::Range<usize>| {
        let (start, end) = span_locations(report, path, span);
        json!({
            "artifactLocation": {"uri": relative(path)},
            "region": {
                "startLine": start.row,
                "startColumn": start.column,
                "endLine": end.row,
                "endColumn": end.column,
            },
        })
    };
    let rules: Vec<_> = codes::ALL
        .iter()
        .map(|code| {
            json!({
                "id": code.as_str(),
                "name": code.name(),
                "shortDescription": {"text": code.summary()},
                "fullDescription": {"text": code.summary()},
                "help": {"text": code.doc(), "markdown": code.doc()},
                "defaultConfiguration": {"level": "error"},
                "properties": {"tags": ["concurrency"]},
            })
        })
        .collect();
    let results: Vec<_> = report
        .diagnostics
        .iter()
        .map(|diagnostic| {
            let related: Vec<_> = diagnostic
                .related
                .iter()
                .enumerate()
                .map(|(id, related)| {
                    json!({
                        "id": id,
                        "physicalLocation": physical(&related.path, &related.span),
                        "message": {"text": related.message},
                    })
                })
                .collect();
            let rule_index = codes::ALL.iter().position(|&c| c == diagnostic.code);
            let mut message = diagnostic.message.clone();
            if let Some(help) = &diagnostic.help {
                message = format!("{message}. Fix: {help}");
            }
            json!({
                "ruleId": diagnostic.code.as_str(),
                "ruleIndex": rule_index,
                "level": "error",
                "message": {"text": message},
                "locations": [{"physicalLocation": physical(&diagnostic.path, &diagnostic.span)}],
                "relatedLocations": related,
            })
        })
        .collect();
    let sarif = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "interlock",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://crates.io/crates/interlock",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    serde_json::to_writer_pretty(&mut *out, &sarif)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn xml_text_never_holds_characters_xml_forbids() {
        assert_eq!(xml("a<b & \"c\"\t"), "a&lt;b &amp; &quot;c&quot;\t");
        assert_eq!(xml("x\u{1}y\u{1b}\u{ffff}"), "x\\u{1}y\\u{1b}\\u{ffff}");
    }
}
