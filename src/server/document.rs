//! An editor buffer: its text and version, incremental edits, and the conversion between byte
//! offsets and LSP positions in the negotiated encoding (UTF-16 by default, UTF-8 when the
//! client offers it).

use line_index::{LineCol, TextSize, WideEncoding, WideLineCol};
use lsp_types::{Position, Range, TextDocumentContentChangeEvent};

/// How LSP positions count columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
}

/// A text with its line index, for position conversion.
#[derive(Clone, Debug)]
pub struct Text {
    text: String,
    index: line_index::LineIndex,
}

impl Text {
    pub fn new(text: String) -> Self {
        let index = line_index::LineIndex::new(&text);
        Text { text, index }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The LSP position of a byte offset (clamped to the text, snapped to a character start).
    pub fn position(&self, offset: usize, encoding: Encoding) -> Position {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line_col = self.index.line_col(TextSize::from(offset as u32));
        let col = match encoding {
            Encoding::Utf8 => line_col.col,
            Encoding::Utf16 => self
                .index
                .to_wide(WideEncoding::Utf16, line_col)
                .map_or(line_col.col, |wide| wide.col),
        };
        Position::new(line_col.line, col)
    }

    /// The LSP range of a byte range.
    pub fn range(&self, span: &std::ops::Range<usize>, encoding: Encoding) -> Range {
        Range::new(
            self.position(span.start, encoding),
            self.position(span.end.max(span.start), encoding),
        )
    }

    /// The byte offset of an LSP position. Positions past the end of a line mean its end, and
    /// positions past the last line mean the end of the text (as the protocol asks).
    pub fn offset(&self, position: Position, encoding: Encoding) -> usize {
        let Some(content) = self.line_content(position.line) else {
            return self.text.len();
        };
        let column = match encoding {
            Encoding::Utf8 => position.character,
            Encoding::Utf16 => {
                let wide = WideLineCol {
                    line: position.line,
                    col: position.character,
                };
                self.index
                    .to_utf8(WideEncoding::Utf16, wide)
                    .map_or(u32::MAX, |LineCol { col, .. }| col)
            }
        };
        let offset = content
            .start
            .saturating_add(column as usize)
            .min(content.end);
        floor_char_boundary(&self.text, offset)
    }

    /// The byte range of the 0-based line `line` without its line break.
    pub fn line_content(&self, line: u32) -> Option<std::ops::Range<usize>> {
        let range = self.index.line(line)?;
        let start = usize::from(range.start());
        let end = usize::from(range.end());
        Some(start..start + self.text[start..end].trim_end_matches(['\n', '\r']).len())
    }
}

/// An open document: its current text and the version the client gave it.
#[derive(Clone, Debug)]
pub struct Document {
    pub text: Text,
    pub version: i32,
}

impl Document {
    /// Applies `didChange` content changes in order: a change with a range replaces that
    /// range, one without replaces the whole text.
    pub fn apply(
        &mut self,
        changes: Vec<TextDocumentContentChangeEvent>,
        version: i32,
        encoding: Encoding,
    ) {
        for change in changes {
            let text = match change.range {
                None => change.text,
                Some(range) => {
                    let start = self.text.offset(range.start, encoding);
                    let end = self.text.offset(range.end, encoding).max(start);
                    let mut text = self.text.as_str().to_string();
                    text.replace_range(start..end, &change.text);
                    text
                }
            };
            self.text = Text::new(text);
        }
        self.version = version;
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_utf16_code_units_or_bytes() {
        // `é` is 2 bytes and 1 UTF-16 unit; `𝄞` is 4 bytes and 2 UTF-16 units.
        let text = Text::new("aé𝄞x\nb\n".to_string());
        let x = "aé𝄞".len();
        assert_eq!(text.position(x, Encoding::Utf16), Position::new(0, 4));
        assert_eq!(text.position(x, Encoding::Utf8), Position::new(0, 7));
        assert_eq!(text.offset(Position::new(0, 4), Encoding::Utf16), x);
        assert_eq!(text.offset(Position::new(0, 7), Encoding::Utf8), x);
        // Past the end of a line: its end; past the last line: the end of the text.
        assert_eq!(text.offset(Position::new(0, 99), Encoding::Utf16), x + 1);
        assert_eq!(text.offset(Position::new(9, 0), Encoding::Utf16), x + 4);
        // Inside a character (a bad client): snapped back to its start.
        assert_eq!(text.offset(Position::new(0, 2), Encoding::Utf8), 1);
    }

    #[test]
    fn incremental_edits_apply_in_order() {
        let mut document = Document {
            text: Text::new("import time\nasync def f():\n    pass\n".to_string()),
            version: 1,
        };
        let edit = |line, from, to, text: &str| TextDocumentContentChangeEvent {
            range: Some(Range::new(
                Position::new(line, from),
                Position::new(line, to),
            )),
            range_length: None,
            text: text.to_string(),
        };
        document.apply(
            vec![edit(2, 4, 8, "time.sleep(1)"), edit(0, 0, 0, "# é\n")],
            2,
            Encoding::Utf16,
        );
        assert_eq!(
            document.text.as_str(),
            "# é\nimport time\nasync def f():\n    time.sleep(1)\n"
        );
        assert_eq!(document.version, 2);
    }
}
