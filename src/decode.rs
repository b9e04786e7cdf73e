//! Turning a file's bytes into text: UTF-8, or for Python the encoding a PEP 263 declaration
//! names in the first two lines (`# -*- coding: latin-1 -*-`).

use std::borrow::Cow;

use crate::source::Language;

/// Why bytes could not be decoded: the offset of the first bad byte and what is wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub message: String,
}

/// Decodes a source file.
pub fn decode(bytes: &[u8], language: Language) -> Result<Cow<'_, str>, DecodeError> {
    if let Some((encoding, label)) = declared_encoding_of(bytes, language)? {
        return encoding
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or_else(|| DecodeError {
                offset: 0,
                message: format!("file is not valid {label} as its coding declaration says"),
            });
    }
    std::str::from_utf8(bytes)
        .map(Cow::Borrowed)
        .map_err(|error| {
            let offset = error.valid_up_to();
            DecodeError {
                offset,
                message: format!("file is not valid UTF-8 (invalid byte at offset {offset})"),
            }
        })
}

/// Checks the PEP 263 declaration of text that is already decoded (an editor buffer): a
/// declaration naming an unknown encoding is an error, as Python refuses such a file.
pub fn check_declaration(text: &[u8], language: Language) -> Result<(), DecodeError> {
    declared_encoding_of(text, language).map(|_| ())
}

/// The encoding a Python file declares (other than UTF-8), with the label as written.
fn declared_encoding_of(
    bytes: &[u8],
    language: Language,
) -> Result<Option<(&'static encoding_rs::Encoding, String)>, DecodeError> {
    let Some(label) = (language == Language::Python)
        .then(|| declared_encoding(bytes))
        .flatten()
        .filter(|l| !l.eq_ignore_ascii_case("utf-8") && !l.eq_ignore_ascii_case("utf8"))
    else {
        return Ok(None);
    };
    let encoding = encoding_rs::Encoding::for_label(label.as_bytes())
        .or_else(|| {
            python_alias(&label).and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes()))
        })
        .ok_or_else(|| DecodeError {
            offset: 0,
            message: format!("unknown source encoding `{label}` declared"),
        })?;
    Ok(Some((encoding, label)))
}

/// Python codec names that the WHATWG labels `encoding_rs` knows do not cover.
fn python_alias(label: &str) -> Option<&'static str> {
    match label.to_ascii_lowercase().replace('_', "-").as_str() {
        "latin-1" | "iso-8859-1" | "iso8859-1" | "l1" => Some("iso-8859-1"),
        "cp1252" => Some("windows-1252"),
        "koi8-r" => Some("koi8-r"),
        _ => None,
    }
}

/// The encoding named by a PEP 263 comment on line 1, or on line 2 after a comment line.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let mut lines = bytes.split(|&b| b == b'\n').take(2);
    let first = lines.next()?;
    if let Some(label) = coding_in(first) {
        return Some(label);
    }
    let first_is_comment_or_blank = {
        let trimmed = first.trim_ascii_start();
        trimmed.is_empty() || trimmed.starts_with(b"#")
    };
    if first_is_comment_or_blank {
        lines.next().and_then(coding_in)
    } else {
        None
    }
}

fn coding_in(line: &[u8]) -> Option<String> {
    let line = String::from_utf8_lossy(line);
    let comment = line.trim_start().strip_prefix('#')?;
    let at = comment.find("coding")?;
    let rest = comment[at + "coding".len()..]
        .strip_prefix([':', '='])?
        .trim_start();
    let label: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    (!label.is_empty()).then_some(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honours_coding_declarations_for_python_only() {
        let latin1 = b"# -*- coding: latin-1 -*-\nx = '\xe9'\n";
        assert_eq!(
            decode(latin1, Language::Python).unwrap(),
            "# -*- coding: latin-1 -*-\nx = '\u{e9}'\n"
        );
        assert!(decode(latin1, Language::Rust).is_err());
        let second_line = b"#!/usr/bin/env python\n# vim: set fileencoding=koi8-r :\ns = '\xf0'\n";
        assert!(decode(second_line, Language::Python).is_ok());
        let error = decode(b"x = 1\ny = '\xff'\n", Language::Python).unwrap_err();
        assert_eq!(error.offset, 11);
    }
}
