//! Library names other modules of the project re-export (`from threading import *` in
//! `Pyro4/threadutil.py`, then `threadutil.Lock()` elsewhere; `from threading import Lock` in
//! a `compat` module): found by a scan of every Python file's text before the files are
//! lowered, so that a lock, queue or thread reached through such a module is the library's. Only names the knowledge tables know are taken (a module's own `AtomicCounter`
//! next to its star import is its own).

use rustc_hash::FxHashMap as HashMap;

use crate::knowledge::LanguageTables;
use crate::model::concat;

/// The re-exports of a project's Python modules.
#[derive(Debug, Default)]
pub struct ProjectReexports {
    /// `compat.Lock` → `threading.Lock` (`from threading import Lock` in `compat`), also
    /// renamed (`from time import sleep as pause`).
    names: HashMap<String, String>,
    /// `Pyro4.threadutil` → the library modules it star-imports (`threading`).
    globs: HashMap<String, Vec<String>>,
}

/// A file longer than this is not scanned for re-exports (generated code).
const MAX_SCANNED_BYTES: usize = 4 * 1024 * 1024;

impl ProjectReexports {
    /// The re-exports one module's text makes: `from X import …` lines of another package
    /// than the module's own (any indentation: the imports of an `if`/`try` at module level
    /// count, and a function's local import is harmless, as nothing names it through the
    /// module).
    pub fn of_module(module: &str, text: &str) -> ProjectReexports {
        let mut found = ProjectReexports::default();
        if text.len() > MAX_SCANNED_BYTES
            || memchr::memmem::find(text.as_bytes(), b"from ").is_none()
        {
            return found;
        }
        let root = |name: &str| name.split('.').next().unwrap_or_default().to_string();
        let own_root = root(module);
        // Only the lines that start with `from ` (after indentation) are read: jump between
        // the occurrences of the word instead of splitting the whole text into lines.
        let bytes = text.as_bytes();
        let mut consumed = 0;
        for at in memchr::memmem::find_iter(bytes, b"from ") {
            if at < consumed {
                continue;
            }
            // Skip the rest of the line, whether it is an import or not: each line is looked
            // at once, however many times it says `from `.
            consumed = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |n| at + n);
            let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |n| n + 1);
            if !bytes[line_start..at]
                .iter()
                .all(|b| *b == b' ' || *b == b'\t')
            {
                continue;
            }
            let mut lines = text[at..].lines();
            let Some(rest) = lines.next().and_then(|line| line.strip_prefix("from ")) else {
                continue;
            };
            let Some((source, names)) = rest.split_once(" import ") else {
                continue;
            };
            let source = source.trim();
            if source.starts_with('.') || source.is_empty() || root(source) == own_root {
                continue;
            }
            // `from x import (a,\n b)`: the names run to the closing parenthesis.
            let mut names = names.split('#').next().unwrap_or_default().to_string();
            if names.trim_start().starts_with('(') {
                while !names.contains(')') {
                    let Some(next) = lines.next() else { break };
                    consumed += next.len() + 1;
                    names.push(',');
                    names.push_str(next.split('#').next().unwrap_or_default());
                }
            }
            let names = names
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(['\\', ')']);
            for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if name == "*" {
                    found
                        .globs
                        .entry(module.to_string())
                        .or_default()
                        .push(source.to_string());
                    continue;
                }
                let (imported, bound) = name.split_once(" as ").unwrap_or((name, name));
                let (imported, bound) = (imported.trim(), bound.trim());
                let valid = |n: &str| n.chars().all(|c| c.is_alphanumeric() || c == '_');
                if valid(imported) && valid(bound) {
                    let target = concat(&[source, ".", imported]);
                    found.names.insert(concat(&[module, ".", bound]), target);
                }
            }
        }
        found
    }

    /// Adds the re-exports of more modules.
    pub fn add(&mut self, more: ProjectReexports) {
        self.names.extend(more.names);
        for (module, sources) in more.globs {
            let known = self.globs.entry(module).or_default();
            for source in sources {
                if !known.contains(&source) {
                    known.push(source);
                }
            }
        }
    }

    /// The library name a project name stands for (`compat.Lock` → `threading.Lock`), when the
    /// tables know it.
    pub(super) fn library_name(&self, name: &str, tables: &LanguageTables) -> Option<String> {
        if self.names.is_empty() && self.globs.is_empty() {
            return None;
        }
        // (Not blocking functions: the project phase follows re-exports to those itself and
        // names both in its message, `shop.compat.pause()` (`time.sleep()`).)
        let known = |target: &str| {
            tables.lock(target).is_some()
                || tables.returns.contains_key(target)
                || tables.thread_entries.contains_key(target)
                || tables.conditions.contains(target)
                || tables.thread_primitives.contains(target)
        };
        if let Some(target) = self.names.get(name) {
            return known(target).then(|| target.clone());
        }
        let (module, member) = name.rsplit_once('.')?;
        self.globs.get(module)?.iter().find_map(|source| {
            let target = concat(&[source, ".", member]);
            known(&target).then_some(target)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::Knowledge;

    #[test]
    fn names_and_star_imports_of_a_library_are_its_names_through_the_module() {
        let knowledge = Knowledge::builtin();
        let tables = &knowledge.python;
        let mut reexports = ProjectReexports::default();
        let threadutil = "try:\n    from threading2 import *\nexcept ImportError:\n    from threading import *\n\nclass AtomicCounter: pass\n";
        reexports.add(ProjectReexports::of_module("Pyro4.threadutil", threadutil));
        let compat = "from time import (\n    sleep as pause,  # old name\n    monotonic)\nfrom threading import Lock as Mutex\nfrom .models import User\nfrom Pyro4 import util\n";
        reexports.add(ProjectReexports::of_module("Pyro4.compat", compat));
        let found = |name: &str| reexports.library_name(name, tables);
        assert_eq!(
            found("Pyro4.threadutil.Lock").as_deref(),
            Some("threading.Lock")
        );
        assert_eq!(found("Pyro4.threadutil.AtomicCounter"), None);
        assert_eq!(
            found("Pyro4.compat.Mutex").as_deref(),
            Some("threading.Lock")
        );
        // Blocking functions are followed by the project phase, which names both.
        assert_eq!(found("Pyro4.compat.pause"), None);
        // The package's own modules are its own (the project phase follows them).
        assert_eq!(found("Pyro4.compat.User"), None);
        assert_eq!(found("Pyro4.compat.util"), None);
    }

    #[test]
    fn only_lines_that_start_with_from_are_imports() {
        let knowledge = Knowledge::builtin();
        let text = "doc = 'from threading import Lock as A'  # from threading import Lock as B\nfrom threading import (\n    Event,\nfrom_x)\n\tfrom threading import RLock as C\n";
        let reexports = ProjectReexports::of_module("pkg.compat", text);
        let found = |name: &str| reexports.library_name(name, &knowledge.python);
        assert_eq!(found("pkg.compat.A"), None);
        assert_eq!(found("pkg.compat.B"), None);
        assert_eq!(
            found("pkg.compat.Event").as_deref(),
            Some("threading.Event")
        );
        assert_eq!(found("pkg.compat.C").as_deref(), Some("threading.RLock"));
    }
}
