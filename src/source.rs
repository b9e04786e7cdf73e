//! Source files: their language, byte spans, the conversion of byte offsets to 1-based rows and
//! columns, absolute paths, and what kind of file a path is. A leaf: it uses no other module.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Source language of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    Python,
    Rust,
}

impl Language {
    /// The language of a path, judged by its extension.
    pub fn from_path(path: &std::path::Path) -> Option<Language> {
        match path.extension()?.to_str()? {
            "py" | "pyi" => Some(Language::Python),
            "rs" => Some(Language::Rust),
            _ => None,
        }
    }

    /// The language of a file: by its extension, or for a file without one, a Python script
    /// whose first line is a `#!` line naming Python (`bin/deploy` with `#!/usr/bin/env
    /// python3`). Reads at most the first line's bytes, and only of extension-less files.
    pub fn of_file(path: &std::path::Path) -> Option<Language> {
        if path.extension().is_some() {
            return Language::from_path(path);
        }
        use std::io::Read;
        let mut start = [0u8; 128];
        let mut file = std::fs::File::open(path).ok()?;
        let read = file.read(&mut start).ok()?;
        let first_line = start[..read].split(|b| *b == b'\n').next()?;
        let names_python =
            first_line.starts_with(b"#!") && memchr::memmem::find(first_line, b"python").is_some();
        names_python.then_some(Language::Python)
    }

    /// Separator between the segments of a canonical name (`time.sleep`, `std::fs::read`).
    pub fn path_separator(self) -> &'static str {
        match self {
            Language::Python => ".",
            Language::Rust => "::",
        }
    }
}

/// Where the last `separator` (`.` or `::`) of a canonical name starts. The symbol index
/// splits every name it resolves this way, and a string pattern's searcher costs more than
/// the lookups it serves.
pub fn rfind_separator(name: &str, separator: &str) -> Option<usize> {
    let bytes = name.as_bytes();
    match separator.as_bytes() {
        [one] => memchr::memrchr(*one, bytes),
        [first, ..] => {
            let mut end = bytes.len();
            loop {
                let at = memchr::memrchr(*first, &bytes[..end])?;
                if bytes[at..].starts_with(separator.as_bytes()) {
                    return Some(at);
                }
                // `::` found at its second byte: try the byte before.
                end = at;
            }
        }
        [] => None,
    }
}

/// A canonical name split at its last separator: owner and member.
pub fn rsplit_separator<'n>(name: &'n str, separator: &str) -> Option<(&'n str, &'n str)> {
    let at = rfind_separator(name, separator)?;
    Some((&name[..at], &name[at + separator.len()..]))
}

/// A byte range in a file's text.
pub type Span = Range<usize>;

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

/// What a file that is not a regular file is (`a directory`, `a FIFO`…), for error messages.
/// Files of these kinds are never opened: opening a FIFO blocks, a device may never end.
pub fn kind_of(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        } else if file_type.is_char_device() {
            return "a character device";
        } else if file_type.is_block_device() {
            return "a block device";
        } else if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// Reads at most `limit + 1` bytes of a regular file (so a caller can tell a file over `limit`);
/// anything else is refused without being opened.
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(std::io::Error::other(format!(
            "not a regular file ({})",
            kind_of(metadata.file_type())
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok(bytes)
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

    /// Byte offset where the 0-based `line` ends (before its `\n`, or at the end of `text`).
    pub fn line_end(&self, text: &str, line: usize) -> usize {
        self.line_starts
            .get(line + 1)
            .map_or(text.len(), |next| next - 1)
    }

    /// How many lines the text has (a final line without `\n` counts, an empty one too).
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// The location of a byte offset in `text` (the text this index was built from). Total: an
    /// offset past the end or inside a character is moved back to the nearest character start.
    pub fn location(&self, text: &str, offset: usize) -> Location {
        let offset = text.floor_char_boundary(offset);
        let line = self.line_of(offset);
        let mut start = self.line_starts[line];
        if start == 0 && text.starts_with('\u{feff}') {
            // Editors do not show a byte order mark: columns count from after it.
            start = offset.min(3);
        }
        Location {
            row: line + 1,
            column: text[start..offset].chars().count() + 1,
        }
    }
}

/// A file's text for rendering, with its line index built on first use.
#[derive(Clone, Debug)]
pub struct SourceFile {
    text: Arc<str>,
    lines: OnceLock<LineIndex>,
}

impl SourceFile {
    pub fn new(text: Arc<str>) -> Self {
        SourceFile {
            text,
            lines: OnceLock::new(),
        }
    }

    pub fn text(&self) -> &Arc<str> {
        &self.text
    }

    pub fn lines(&self) -> &LineIndex {
        self.lines.get_or_init(|| LineIndex::new(&self.text))
    }

    /// `span` made valid for this text: inside it, on character boundaries, and never ending
    /// before it starts (findings are rendered whatever span a rule or a front end produced).
    pub fn clamp(&self, span: &Range<usize>) -> Range<usize> {
        let start = self.text.floor_char_boundary(span.start);
        let end = self.text.ceil_char_boundary(span.end.min(self.text.len()));
        start..end.max(start)
    }

    /// The start and end locations of a span (clamped as [`Self::clamp`] does).
    pub fn locations(&self, span: &Range<usize>) -> (Location, Location) {
        let span = self.clamp(span);
        let lines = self.lines();
        (
            lines.location(&self.text, span.start),
            lines.location(&self.text, span.end),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_their_last_separator() {
        assert_eq!(rsplit_separator("a.b.c", "."), Some(("a.b", "c")));
        assert_eq!(rsplit_separator("a::b::C.f", "::"), Some(("a::b", "C.f")));
        assert_eq!(rsplit_separator("a::b:c", "::"), Some(("a", "b:c")));
        assert_eq!(rsplit_separator("plain", "::"), None);
        assert_eq!(rfind_separator("::x", "::"), Some(0));
        assert_eq!(rfind_separator("", "."), None);
    }

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

    #[test]
    fn any_span_has_locations_in_order() {
        let file = SourceFile::new(Arc::from("\u{feff}# x\nçd"));
        // Inside the BOM, inside `ç`, past the end, reversed.
        let reversed = |start, end| Range { start, end };
        for span in [2..2, 1..2, reversed(8, 7), 100..200, reversed(5, 1)] {
            let (start, end) = file.locations(&span);
            assert!(start <= end, "{span:?}: {start:?} after {end:?}");
        }
        assert_eq!(file.clamp(&(1..2)), 0..3);
        // The BOM is not a column: `#` is the first character of the line.
        assert_eq!(file.locations(&(3..4)).0, Location { row: 1, column: 1 });
        assert_eq!(file.clamp(&(100..200)), 10..10);
    }
}
