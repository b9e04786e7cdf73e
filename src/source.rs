//! Source text and the conversion of byte offsets to 1-based rows and columns, and absolute
//! paths.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// `path` made absolute against the working directory (read once: it does not change while
/// interlock runs), without touching the file system otherwise.
pub fn absolute(path: &Path) -> PathBuf {
    static CWD: OnceLock<PathBuf> = OnceLock::new();
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let cwd = CWD.get_or_init(|| std::env::current_dir().unwrap_or_default());
    let relative = path.strip_prefix(".").unwrap_or(path);
    cwd.join(relative)
}

/// A 1-based row and column; the column counts characters, like Ruff's JSON output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Location {
    pub row: usize,
    pub column: usize,
}

/// Line starts of a text, for offset → location conversion.
#[derive(Clone, Debug)]
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { line_starts }
    }

    /// The 0-based line that contains `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset) - 1
    }

    /// Byte offset where the 0-based `line` starts.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts[line.min(self.line_starts.len() - 1)]
    }

    /// The location of a byte offset in `text` (the text this index was built from).
    pub fn location(&self, text: &str, offset: usize) -> Location {
        let offset = offset.min(text.len());
        let line = self.line_of(offset);
        let start = self.line_starts[line];
        let column = text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Location {
            row: line + 1,
            column: column + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_characters_from_one() {
        let text = "ab\nçd x\n";
        let index = LineIndex::new(text);
        assert_eq!(index.location(text, 0), Location { row: 1, column: 1 });
        assert_eq!(index.location(text, 3), Location { row: 2, column: 1 });
        // `x` follows a two-byte character.
        assert_eq!(index.location(text, 7), Location { row: 2, column: 4 });
        assert_eq!(
            index.location(text, text.len()),
            Location { row: 3, column: 1 }
        );
    }
}
