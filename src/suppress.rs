//! Suppression comments: `# noqa`, `# noqa: IL101`, `# interlock: ignore[IL101]` on a line, and
//! `# interlock: file-ignore[IL1]` for a whole file (`//` comments in Rust). Codes may be
//! prefixes (`IL1`); a directive without codes suppresses everything.

use std::collections::HashMap;

use crate::codes::Code;
use crate::source::Language;

/// Which codes a directive names: all of them, or these codes/prefixes (as written: a prefix
/// is not a code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Codes {
    All,
    Some(Vec<String>),
}

impl Codes {
    fn covers(&self, code: Code) -> bool {
        match self {
            Codes::All => true,
            Codes::Some(codes) => codes.iter().any(|c| code.as_str().starts_with(c.as_str())),
        }
    }
}

/// The suppression directives of one file.
#[derive(Clone, Debug, Default)]
pub struct Suppressions {
    /// 0-based line → directives on that line.
    lines: HashMap<usize, Vec<Codes>>,
    file: Vec<Codes>,
}

impl Suppressions {
    /// Scans a file's comments for directives.
    pub fn parse(text: &str, language: Language) -> Self {
        // Most files have no directive at all: `q` is rare in code, so look for `noqa` only
        // around it, and for `interlock:` with one substring search.
        let mentions_noqa = memchr::memchr2_iter(b'q', b'Q', text.as_bytes()).any(|q| {
            q >= 2
                && text.as_bytes()[q - 2..].len() >= 4
                && text.as_bytes()[q - 2..q + 2].eq_ignore_ascii_case(b"noqa")
        });
        if !mentions_noqa && !text.contains("interlock:") {
            return Suppressions::default();
        }
        let marker = match language {
            Language::Python => "#",
            Language::Rust => "//",
        };
        let mut suppressions = Suppressions::default();
        for (line_number, line) in text.lines().enumerate() {
            let mentions = |word: &[u8]| {
                line.as_bytes()
                    .windows(word.len())
                    .any(|w| w.eq_ignore_ascii_case(word))
            };
            if !line.contains(marker) || !(mentions(b"noqa") || line.contains("interlock:")) {
                continue;
            }
            for (position, _) in line.match_indices(marker) {
                let comment = &line[position + marker.len()..];
                for (is_file, codes) in directives(comment) {
                    if is_file {
                        suppressions.file.push(codes);
                    } else {
                        suppressions
                            .lines
                            .entry(line_number)
                            .or_default()
                            .push(codes);
                    }
                }
            }
        }
        suppressions
    }

    /// Whether the file has no directive at all.
    pub fn is_empty(&self) -> bool {
        self.file.is_empty() && self.lines.is_empty()
    }

    /// Whether a diagnostic with `code` starting on the 0-based `line` is suppressed.
    pub fn suppresses(&self, code: Code, line: usize) -> bool {
        self.file.iter().any(|c| c.covers(code))
            || self
                .lines
                .get(&line)
                .is_some_and(|codes| codes.iter().any(|c| c.covers(code)))
    }
}

/// The directives at the start of one comment's text: `(is_file_level, codes)`.
fn directives(comment: &str) -> Vec<(bool, Codes)> {
    let text = comment.trim_start();
    let lower = text.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("noqa") {
        let rest = &text[text.len() - rest.len()..];
        return match rest.trim_start().strip_prefix(':') {
            // `# noqa: E501` names only another tool's codes: it suppresses nothing here.
            Some(list) if list.trim().is_empty() => vec![(false, Codes::All)],
            Some(list) => vec![(false, Codes::Some(code_list(list)))],
            None => vec![(false, Codes::All)],
        };
    }
    let Some(rest) = text.strip_prefix("interlock:") else {
        return Vec::new();
    };
    let rest = rest.trim_start();
    let (is_file, rest) = if let Some(r) = rest.strip_prefix("file-ignore") {
        (true, r)
    } else if let Some(r) = rest.strip_prefix("ignore") {
        (false, r)
    } else {
        return Vec::new();
    };
    match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((list, _)) => vec![(is_file, Codes::Some(code_list(list)))],
        None => vec![(is_file, Codes::All)],
    }
}

/// Ruff's flake8-async rules that find the same bug as one of interlock's: a line reviewed and
/// suppressed for one is not reported by the other.
const EQUIVALENT_CODES: &[(&str, Code)] = &[
    ("ASYNC110", Code::IL503),
    ("ASYNC210", Code::IL103),
    ("ASYNC212", Code::IL103),
    ("ASYNC220", Code::IL104),
    ("ASYNC221", Code::IL104),
    ("ASYNC222", Code::IL104),
    ("ASYNC230", Code::IL102),
    ("ASYNC240", Code::IL102),
    ("ASYNC251", Code::IL101),
];

/// `IL101, E501 IL2` → interlock's codes (`IL101`, `IL2`) and those of Ruff's equivalent rules,
/// stopping at the first word that is not a rule code of any tool (the rest of the comment).
fn code_list(list: &str) -> Vec<String> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .take_while(|w| {
            let letters = w.trim_end_matches(|c: char| c.is_ascii_digit());
            !letters.is_empty() && letters.chars().all(|c| c.is_ascii_alphabetic())
        })
        .map(|w| w.to_ascii_uppercase())
        .filter_map(|w| {
            if w.starts_with("IL") {
                return Some(w);
            }
            EQUIVALENT_CODES
                .iter()
                .find(|(other, _)| *other == w)
                .map(|(_, ours)| ours.as_str().to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_file_directives() {
        let text = "a()  # noqa: IL101\nb()  # noqa\nc()  # interlock: ignore[IL1]\nd()  # noqa: IL102 # expect: IL101\ne()  # noqa: E501\nf()  # noqa: E501, IL105 because\ng()  # noqa: ASYNC251\n";
        let s = Suppressions::parse(text, Language::Python);
        assert!(s.suppresses(Code::IL101, 0));
        assert!(!s.suppresses(Code::IL102, 0));
        assert!(s.suppresses(Code::IL503, 1));
        assert!(s.suppresses(Code::IL105, 2));
        assert!(!s.suppresses(Code::IL501, 2));
        assert!(!s.suppresses(Code::IL101, 3));
        // Another tool's codes only: nothing of interlock's is suppressed.
        assert!(!s.suppresses(Code::IL101, 4));
        assert!(s.suppresses(Code::IL105, 5) && !s.suppresses(Code::IL101, 5));
        // Ruff's rule for the same bug counts as ours.
        assert!(s.suppresses(Code::IL101, 6) && !s.suppresses(Code::IL102, 6));
        let file =
            Suppressions::parse("// interlock: file-ignore[IL10]\nfn f() {}", Language::Rust);
        assert!(file.suppresses(Code::IL101, 1));
        assert!(!file.suppresses(Code::IL501, 1));
    }
}
