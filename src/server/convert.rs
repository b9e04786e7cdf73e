//! From interlock's findings to LSP: diagnostics with their related sites, hover text with the
//! rule's page, the "Suppress ILxxx on this line" edit, and file URIs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lsp_types::{
    CodeDescription, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    Position, Range, TextEdit, Url,
};

use crate::codes::{self, Code};
use crate::diagnostic::Diagnostic;
use crate::source::Language;

use super::document::{Encoding, Text};
use super::workspace::Workspace;

/// The path of a `file:` URI.
pub fn path_of(uri: &Url) -> Option<PathBuf> {
    if uri.scheme() != "file" {
        return None;
    }
    uri.to_file_path().ok()
}

/// The `file:` URI of a path.
pub fn uri_of(path: &Path) -> Option<Url> {
    Url::from_file_path(crate::source::absolute(path)).ok()
}

/// The LSP diagnostics of one file: every finding, with its help, rule link and related sites,
/// plus a diagnostic for a file that could not be analysed at all.
pub fn diagnostics(
    workspace: &Workspace,
    path: &Path,
    encoding: Encoding,
) -> Vec<lsp_types::Diagnostic> {
    let Some(text) = workspace.text(path) else {
        return Vec::new();
    };
    let mut texts: HashMap<&Path, Option<std::borrow::Cow<'_, Text>>> = HashMap::new();
    let mut converted: Vec<lsp_types::Diagnostic> = workspace
        .diagnostics(path)
        .iter()
        .map(|diagnostic| {
            let related = diagnostic
                .related
                .iter()
                .filter_map(|related| {
                    let text = texts
                        .entry(&related.path)
                        .or_insert_with(|| workspace.text(&related.path))
                        .as_ref()?;
                    Some(DiagnosticRelatedInformation {
                        location: Location::new(
                            uri_of(&related.path)?,
                            text.range(&related.span, encoding),
                        ),
                        message: related.message.clone(),
                    })
                })
                .collect();
            to_lsp(diagnostic, text.range(&diagnostic.span, encoding), related)
        })
        .collect();
    if let Some(error) = workspace.error(path) {
        converted.push(lsp_types::Diagnostic {
            range: Range::default(),
            severity: Some(DiagnosticSeverity::ERROR),
            source: Some("interlock".into()),
            message: error.to_string(),
            ..Default::default()
        });
    }
    converted
}

fn to_lsp(
    diagnostic: &Diagnostic,
    range: Range,
    related: Vec<DiagnosticRelatedInformation>,
) -> lsp_types::Diagnostic {
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    // Syntax and encoding errors stop the analysis of the file; findings are warnings, as
    // Clippy's and Ruff's are in an editor.
    let severity = if diagnostic.code.is_file_error() {
        DiagnosticSeverity::ERROR
    } else {
        DiagnosticSeverity::WARNING
    };
    lsp_types::Diagnostic {
        range,
        severity: Some(severity),
        code: Some(NumberOrString::String(diagnostic.code.as_str().to_string())),
        code_description: rule_page(diagnostic.code).map(|href| CodeDescription { href }),
        source: Some("interlock".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}

/// A link to a rule's page. The pages are embedded in the binary; they are written once per
/// version to the user's cache directory so that the link opens offline in any editor.
pub fn rule_page(code: Code) -> Option<Url> {
    static PAGES: std::sync::OnceLock<HashMap<Code, Url>> = std::sync::OnceLock::new();
    PAGES.get_or_init(write_rule_pages).get(&code).cloned()
}

fn write_rule_pages() -> HashMap<Code, Url> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    let directory = cache
        .join("interlock")
        .join(env!("CARGO_PKG_VERSION"))
        .join("rules");
    if std::fs::create_dir_all(&directory).is_err() {
        return HashMap::new();
    }
    codes::ALL
        .iter()
        .filter_map(|&code| {
            let page = directory.join(format!("{code}-{}.md", code.name()));
            let written = page.is_file() || std::fs::write(&page, code.doc()).is_ok();
            Some((code, Url::from_file_path(page).ok().filter(|_| written)?))
        })
        .collect()
}

/// Hover text for the findings under a position: each one's message and its rule's page.
pub fn hover_text(found: &[&lsp_types::Diagnostic]) -> Option<String> {
    let mut sections = Vec::new();
    for diagnostic in found {
        let Some(NumberOrString::String(code)) = &diagnostic.code else {
            continue;
        };
        let Ok(code) = code.parse::<Code>() else {
            continue;
        };
        sections.push(format!(
            "**{code}** ({}): {}\n\n---\n\n{}",
            code.name(),
            diagnostic.message,
            code.doc()
        ));
    }
    (!sections.is_empty()).then(|| sections.join("\n\n---\n\n"))
}

/// Whether `position` falls on `range` (ends included, so a cursor just after a name counts).
pub fn covers(range: &Range, position: Position) -> bool {
    range.start <= position && position <= range.end
}

/// The edit that suppresses `code` on the 0-based `line`: a new comment at the end of the
/// line, or the code added to a directive already there. `None` where a comment cannot go
/// (a Python line continued with a backslash).
pub fn suppression_edit(
    text: &Text,
    language: Language,
    line: u32,
    code: &str,
    encoding: Encoding,
) -> Option<TextEdit> {
    let content = text.line_content(line)?;
    let line_text = &text.as_str()[content.clone()];
    let marker = match language {
        Language::Python => "#",
        Language::Rust => "//",
    };
    // An existing `interlock: ignore[...]` or `noqa: ...` on the line: add the code in front
    // of its codes (a suffix of the line, so its start is the line's end minus its length).
    for (at, _) in line_text.match_indices(marker) {
        let comment = line_text[at + marker.len()..].trim_start();
        let codes = if let Some(rest) = comment.strip_prefix("interlock:") {
            rest.trim_start().strip_prefix("ignore[")
        } else if comment
            .get(..5)
            .is_some_and(|word| word.eq_ignore_ascii_case("noqa:"))
        {
            Some(comment[5..].trim_start())
        } else {
            None
        };
        if let Some(codes) = codes {
            let position = text.position(content.end - codes.len(), encoding);
            return Some(TextEdit::new(
                Range::new(position, position),
                format!("{code}, "),
            ));
        }
    }
    if language == Language::Python && line_text.trim_end().ends_with('\\') {
        return None;
    }
    let end = text.position(content.end, encoding);
    Some(TextEdit::new(
        Range::new(end, end),
        format!("  {marker} interlock: ignore[{code}]"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suppress::Suppressions;

    fn apply(text: &str, language: Language, code: &str) -> Option<String> {
        let document = Text::new(text.to_string());
        let edit = suppression_edit(&document, language, 0, code, Encoding::Utf16)?;
        let at = document.offset(edit.range.start, Encoding::Utf16);
        let mut text = text.to_string();
        text.insert_str(at, &edit.new_text);
        Some(text)
    }

    #[test]
    fn the_suppression_comment_suppresses_the_code() {
        let cases = [
            ("time.sleep(1)\n", Language::Python),
            ("time.sleep(1)  # noqa: E501\n", Language::Python),
            (
                "time.sleep(1)  # interlock: ignore[IL102]\n",
                Language::Python,
            ),
            ("let g = m.lock(); // é\n", Language::Rust),
            (
                "let g = m.lock(); // interlock: ignore[IL203]\n",
                Language::Rust,
            ),
        ];
        for (text, language) in cases {
            let edited = apply(text, language, "IL101").unwrap();
            let suppressions = Suppressions::parse(&edited, language);
            assert!(suppressions.suppresses(Code::IL101, 0), "{edited}");
            // Whatever was suppressed before still is.
            for code in [Code::IL102, Code::IL203] {
                if Suppressions::parse(text, language).suppresses(code, 0) {
                    assert!(suppressions.suppresses(code, 0), "{edited}");
                }
            }
        }
        assert_eq!(
            apply("x = 1 + \\\n    2\n", Language::Python, "IL101"),
            None
        );
    }
}
