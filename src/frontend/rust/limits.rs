//! Limits on what is parsed: `syn` recurses on nesting, so files too deep, too long in one
//! statement or too large are refused before parsing, on their tokens.

/// Files nested deeper than this (brackets, or runs of prefix operators) are refused: `syn`
/// recurses on nesting and would overflow the stack.
pub const MAX_NESTING: usize = 256;

/// Longest stretch of code without a `;`, `,`, `{` or `}` that is parsed: `syn` may recurse
/// once per token of such a stretch (`return return …`, `|| || …`, `*const *const …`,
/// `Vec<Vec<…>>`), and no hand-written statement comes near it.
pub const MAX_STATEMENT_BYTES: usize = 32 * 1024;

/// Most tokens a Rust file may have: parsing and lowering cost a few hundred bytes of memory
/// per token, so this bounds one file at about half a GiB. Real code has a token every 5–8
/// bytes, so only generated files of 10 MB and more come near it.
pub const MAX_TOKENS: usize = 2_000_000;

/// `text` with a byte order mark and a `#!` interpreter line (not `#![attribute]`) replaced by
/// spaces of the same length, as `syn::parse_file` would skip them, so that offsets stay put.
pub(super) fn blank_bom_and_shebang(text: &str) -> std::borrow::Cow<'_, str> {
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let rest = &text[bom..];
    let shebang = if rest.starts_with("#!") && !rest[2..].trim_start().starts_with('[') {
        rest.find('\n').unwrap_or(rest.len())
    } else {
        0
    };
    if bom + shebang == 0 {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut blanked = " ".repeat(bom + shebang);
    blanked.push_str(&text[bom + shebang..]);
    std::borrow::Cow::Owned(blanked)
}

/// Where and why a lexed file is refused: bracket nesting or a run of prefix operators deeper
/// than [`MAX_NESTING`], a statement longer than [`MAX_STATEMENT_BYTES`], more tokens than
/// [`MAX_TOKENS`]. Walks the token trees with an explicit stack, never recursing.
pub(super) fn too_costly(tokens: &proc_macro2::TokenStream) -> Option<(usize, String)> {
    use proc_macro2::{Delimiter, TokenTree};
    // Each level: its tokens, and for a brace group where it closes (a `}` ends a statement).
    let mut stack = vec![(tokens.clone().into_iter(), None)];
    let (mut count, mut run, mut statement_start) = (0usize, 0usize, 0usize);
    while let Some((level, _)) = stack.last_mut() {
        let Some(tree) = level.next() else {
            if let Some((_, Some(close))) = stack.pop() {
                statement_start = close;
            }
            continue;
        };
        // A group is measured at its opening bracket; what it holds is measured token by token.
        let span = match &tree {
            TokenTree::Group(group) => group.span_open().byte_range(),
            other => other.span().byte_range(),
        };
        count += 1;
        if count > MAX_TOKENS {
            return Some((
                span.start,
                format!("more than {MAX_TOKENS} tokens (a generated file?)"),
            ));
        }
        let mut prefix_operator = false;
        match &tree {
            TokenTree::Group(group) => {
                if stack.len() >= MAX_NESTING {
                    return Some((
                        span.start,
                        format!("nesting deeper than {MAX_NESTING} levels of brackets"),
                    ));
                }
                let brace = group.delimiter() == Delimiter::Brace;
                if brace {
                    statement_start = span.end;
                }
                let close = brace.then(|| group.span_close().byte_range().end);
                stack.push((group.stream().into_iter(), close));
            }
            TokenTree::Punct(punct) => match punct.as_char() {
                ';' | ',' => statement_start = span.end,
                '-' | '!' | '*' | '&' => prefix_operator = true,
                _ => {}
            },
            TokenTree::Ident(_) | TokenTree::Literal(_) => {}
        }
        run = if prefix_operator { run + 1 } else { 0 };
        if run > MAX_NESTING {
            return Some((
                span.start,
                format!("nesting deeper than {MAX_NESTING} levels of prefix operators"),
            ));
        }
        if span.end.saturating_sub(statement_start) > MAX_STATEMENT_BYTES {
            return Some((
                span.start,
                format!(
                    "a statement longer than {} KiB without `;`, `,` or braces",
                    MAX_STATEMENT_BYTES / 1024
                ),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::rust::parse;

    fn refusal(text: &str) -> Option<String> {
        let tokens: proc_macro2::TokenStream = text.parse().ok()?;
        too_costly(&tokens).map(|(_, reason)| reason)
    }

    #[test]
    fn nesting_is_measured_on_tokens_outside_strings_and_comments() {
        let deep = |n: usize| format!("fn f() {{ {}1{} }}", "(".repeat(n), ")".repeat(n));
        assert_eq!(refusal(&deep(200)), None);
        assert!(refusal(&deep(300)).unwrap().contains("nesting deeper"));
        let quoted = "(".repeat(1000);
        assert_eq!(refusal(&format!("// {quoted}\nfn f() {{}}")), None);
        assert_eq!(refusal(&format!("const S: &str = \"{quoted}\";")), None);
        assert_eq!(refusal(&format!("const S: &str = r#\"{quoted}\"#;")), None);
        assert_eq!(refusal("fn f<'a>(x: &'a str) -> char { '(' }"), None);
        assert!(refusal(&format!("fn f() {{ {}x }}", "-".repeat(300))).is_some());
        assert!(refusal(&format!("fn f() {{ {} }}", "return ".repeat(5000))).is_some());
        // A long function, or a long list, is fine: only one long statement is refused.
        let long_body = format!("fn f() {{ {} }}", "let x = g(1, 2);\n".repeat(5000));
        assert_eq!(refusal(&long_body), None);
        assert_eq!(
            refusal(&format!(
                "const A: [u8; 30000] = [{}0];",
                "1, ".repeat(30000)
            )),
            None
        );
    }

    #[test]
    fn a_raw_byte_string_ending_in_a_backslash_does_not_hide_nesting() {
        let text = format!(
            "fn main() {{ let a = br\"\\\"; let x = {}1{}; }}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        assert!(refusal(&text).unwrap().contains("nesting deeper"));
    }

    #[test]
    fn spans_are_offsets_into_the_text_after_a_bom_or_a_shebang() {
        for prefix in [
            "\u{feff}",
            "#!/usr/bin/env run-cargo-script\n",
            "\u{feff}#!x\n",
        ] {
            let text = format!("{prefix}fn f() {{ let x = ; }}");
            let Err(error) = parse(&text, 2021) else {
                panic!("parsed")
            };
            assert_eq!(&text[error.span.clone()], ";", "after {prefix:?}");
        }
        let Err(error) = parse("\u{feff}# x\n", 2021) else {
            panic!("parsed")
        };
        assert!(error.span.start >= 3, "{error:?}");
        assert!(parse("#![allow(unused)]\nfn f() {}", 2021).is_ok());
    }

    #[test]
    fn edition_2015_keywords_of_later_editions_are_identifiers() {
        let text = "fn f() -> Result<u8, ()> { let async = try!(g()); Ok(async) }";
        assert!(parse(text, 2021).is_err());
        let file = parse(text, 2015).expect("parses as 2015");
        let syn::Item::Fn(function) = &file.items[0] else {
            panic!("a function")
        };
        // Spans still point into the text.
        let start = function.sig.ident.span().byte_range().start;
        assert_eq!(&text[start..start + 1], "f");
    }
}
