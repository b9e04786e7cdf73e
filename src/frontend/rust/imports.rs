//! A scan of the project's Rust files before any is lowered: the library items a module
//! imports (`use reqwest::blocking::Client;` in `main.rs`), for the modules another file
//! glob-imports (`use super::*;` in `exporter.rs`), whose names then mean those items there too.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use rustc_hash::FxHashMap as HashMap;
use syn::UseTree;

/// Module (canonical path) → the library items its `use`s bind: (bound name, canonical path).
#[derive(Debug, Default)]
pub struct GlobImports {
    by_module: HashMap<String, Vec<(String, String)>>,
}

impl GlobImports {
    /// The imports of the modules that `files` (module path, text) glob-import.
    pub fn of_files(files: &[(&str, &str)]) -> Self {
        use rayon::prelude::*;
        let targets: rustc_hash::FxHashSet<String> = files
            .par_iter()
            .flat_map_iter(|(module, text)| glob_targets(module, text))
            .collect();
        let by_module = match targets.is_empty() {
            true => HashMap::default(),
            false => files
                .par_iter()
                .filter(|(module, _)| targets.contains(*module))
                .map(|(module, text)| (module.to_string(), library_uses(text)))
                .filter(|(_, uses)| !uses.is_empty())
                .collect(),
        };
        GlobImports { by_module }
    }

    /// Adds what more files tell (a language server's edited ones).
    pub fn add(&mut self, more: GlobImports) {
        self.by_module.extend(more.by_module);
    }

    /// The library items module `module` imports, by the name each is bound to.
    pub(super) fn of_module(&self, module: &str) -> &[(String, String)] {
        self.by_module.get(module).map_or(&[], Vec::as_slice)
    }
}

/// The modules a file glob-imports by a path within the crate (`use super::*;`, `use
/// crate::net::*;`), as canonical paths; `module` is the file's own.
fn glob_targets(module: &str, text: &str) -> Vec<String> {
    if memchr::memmem::find(text.as_bytes(), b"::*").is_none() {
        return Vec::new();
    }
    let crate_name = module.split("::").next().unwrap_or(module);
    let mut targets = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let line = match line.strip_prefix("pub") {
            Some(rest) if rest.starts_with(' ') || rest.starts_with('(') => rest
                .split_once(' ')
                .map_or(rest, |(_, rest)| rest)
                .trim_start(),
            _ => line,
        };
        let Some(path) = line
            .strip_prefix("use ")
            .and_then(|rest| rest.trim().strip_suffix("::*;"))
        else {
            continue;
        };
        let mut segments = path.split("::").map(str::trim);
        let mut base: Vec<&str> = match segments.next() {
            Some("crate") => vec![crate_name],
            Some("self") => module.split("::").collect(),
            Some("super") => {
                let mut base: Vec<&str> = module.split("::").collect();
                base.pop();
                base
            }
            _ => continue,
        };
        for segment in segments {
            match segment {
                "super" => {
                    base.pop();
                }
                _ => base.push(segment),
            }
        }
        if !base.is_empty() {
            targets.push(base.join("::"));
        }
    }
    targets
}

/// The library items a file's top-level `use`s bind (not `crate::`, `self::`, `super::` paths,
/// nor paths that start at a module the file declares).
fn library_uses(text: &str) -> Vec<(String, String)> {
    let Ok(tokens) = super::limits::blank_bom_and_shebang(text).parse::<TokenStream>() else {
        return Vec::new();
    };
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let declared_modules: Vec<String> = tokens
        .windows(2)
        .filter_map(|pair| match pair {
            [TokenTree::Ident(keyword), TokenTree::Ident(name)] if keyword == "mod" => {
                Some(name.to_string())
            }
            _ => None,
        })
        .collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let starts_use = matches!(&tokens[i], TokenTree::Ident(keyword) if keyword == "use")
            && match i.checked_sub(1).map(|p| &tokens[p]) {
                None => true,
                Some(TokenTree::Punct(p)) => p.as_char() == ';',
                Some(TokenTree::Group(g)) => {
                    g.delimiter() == Delimiter::Brace || g.delimiter() == Delimiter::Bracket
                }
                Some(TokenTree::Ident(word)) => word == "pub",
                Some(TokenTree::Literal(_)) => false,
            };
        if !starts_use {
            i += 1;
            continue;
        }
        let end = tokens[i..]
            .iter()
            .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ';'))
            .map_or(tokens.len(), |n| i + n);
        let tree: TokenStream = tokens[i + 1..end].iter().cloned().collect();
        if let Ok(tree) = syn::parse2::<UseTree>(tree) {
            let (mut written, mut globs) = (Vec::new(), Vec::new());
            super::semantic::flatten_use(&tree, String::new(), &mut written, &mut globs);
            for (bound, path) in written {
                let head = path.split("::").next().unwrap_or_default();
                let internal = matches!(head, "crate" | "self" | "super")
                    || declared_modules.iter().any(|m| m == head);
                if !internal && bound != "_" && path.contains("::") {
                    found.push((bound, super::semantic::std_facade(path)));
                }
            }
        }
        i = end + 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_imports_of_a_parent_module_name_its_library_imports() {
        let main = "use reqwest::blocking::Client;\nuse std::sync::{Arc, Mutex as M};\nuse crate::db::Pool;\nmod exporter;\nuse exporter::Thing;\nfn main() {}\n";
        let exporter = "use super::*;\nasync fn f() {}\n";
        let scan = GlobImports::of_files(&[("app", main), ("app::exporter", exporter)]);
        assert_eq!(
            scan.of_module("app"),
            [
                (
                    "Client".to_string(),
                    "reqwest::blocking::Client".to_string()
                ),
                ("Arc".to_string(), "std::sync::Arc".to_string()),
                ("M".to_string(), "std::sync::Mutex".to_string()),
            ]
        );
        assert!(scan.of_module("app::exporter").is_empty());
    }

    #[test]
    fn no_glob_import_no_scan() {
        let main = "use reqwest::blocking::Client;\nmod exporter;\n";
        let exporter = "use super::Client;\n";
        let scan = GlobImports::of_files(&[("app", main), ("app::exporter", exporter)]);
        assert!(scan.of_module("app").is_empty());
    }

    #[test]
    fn glob_paths_within_the_crate() {
        assert_eq!(
            glob_targets(
                "app::net::tcp",
                "pub(crate) use super::super::*;\nuse crate::db::*;\nuse self::inner::*;\nuse tokio::prelude::*;\n"
            ),
            ["app", "app::db", "app::net::tcp::inner"]
        );
    }
}
