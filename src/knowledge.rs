//! The API tables of `rules/*.toml`, embedded at build time and extended from user config:
//! which calls block (and with which rule), what calls return (simple type evidence), and which
//! calls hand their callables to another thread.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use crate::model::Language;

const BLOCKING_TOML: &str = include_str!("../rules/blocking.toml");
const TYPES_TOML: &str = include_str!("../rules/types.toml");
const OFFLOAD_TOML: &str = include_str!("../rules/offload.toml");
const AWAITABLES_TOML: &str = include_str!("../rules/awaitables.toml");
const COROUTINES_TOML: &str = include_str!("../rules/coroutines.toml");

/// One blocking API: the rule it belongs to and the alternative to suggest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockingApi {
    pub rule: String,
    pub alternative: Option<String>,
}

/// What a call returns: one type, or the element types of a tuple.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Returns {
    One(String),
    Tuple(Vec<String>),
}

/// The tables for one language.
#[derive(Clone, Debug, Default)]
pub struct LanguageTables {
    /// Canonical callee (or `*.method`) → blocking API.
    pub blocking: HashMap<String, BlockingApi>,
    /// Canonical callee → what it returns.
    pub returns: HashMap<String, Returns>,
    /// Canonical callees (or `*.method`) whose callable arguments run on another thread.
    pub offload: Vec<String>,
    /// Canonical callees (or `*.method`) whose arguments are awaitables.
    pub awaitable_consumers: Vec<String>,
}

/// All API tables.
#[derive(Clone, Debug)]
pub struct Knowledge {
    pub python: LanguageTables,
    pub rust: LanguageTables,
    /// Python library coroutine functions (IL501).
    pub coroutine_functions: HashSet<String>,
    /// Python calls returning a weakly held task (IL502).
    pub task_spawners: HashSet<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct CoroutineTables {
    coroutine_functions: HashSet<String>,
    task_spawners: HashSet<String>,
}

impl Knowledge {
    /// The built-in tables.
    pub fn builtin() -> Knowledge {
        let blocking: HashMap<String, HashMap<String, HashMap<String, String>>> =
            toml::from_str(BLOCKING_TOML).expect("rules/blocking.toml is valid");
        let mut types: HashMap<String, HashMap<String, Returns>> =
            toml::from_str(TYPES_TOML).expect("rules/types.toml is valid");
        let mut offload: HashMap<String, Vec<String>> =
            toml::from_str(OFFLOAD_TOML).expect("rules/offload.toml is valid");
        let mut awaitables: HashMap<String, Vec<String>> =
            toml::from_str(AWAITABLES_TOML).expect("rules/awaitables.toml is valid");
        let mut tables = |lang: &str| LanguageTables {
            blocking: blocking
                .get(lang)
                .into_iter()
                .flatten()
                .flat_map(|(rule, apis)| {
                    apis.iter().map(move |(name, alternative)| {
                        let api = BlockingApi {
                            rule: rule.clone(),
                            alternative: Some(alternative.clone()),
                        };
                        (name.clone(), api)
                    })
                })
                .collect(),
            returns: types.remove(lang).unwrap_or_default(),
            offload: offload.remove(lang).unwrap_or_default(),
            awaitable_consumers: awaitables.remove(lang).unwrap_or_default(),
        };
        let coroutines: CoroutineTables =
            toml::from_str(COROUTINES_TOML).expect("rules/coroutines.toml is valid");
        Knowledge {
            python: tables("python"),
            rust: tables("rust"),
            coroutine_functions: coroutines.coroutine_functions,
            task_spawners: coroutines.task_spawners,
        }
    }

    /// The tables of one language.
    pub fn tables(&self, language: Language) -> &LanguageTables {
        match language {
            Language::Python => &self.python,
            Language::Rust => &self.rust,
        }
    }

    /// Adds a user-declared blocking API. Its language is told by its separator (`::` is Rust).
    pub fn add_blocking(&mut self, name: &str, api: BlockingApi) {
        let tables = if name.contains("::") {
            &mut self.rust
        } else {
            &mut self.python
        };
        tables.blocking.insert(name.to_string(), api);
    }
}

impl LanguageTables {
    /// The blocking API a call resolves to: its canonical callee or, when the receiver's type
    /// is unknown, an any-receiver `*.method` entry.
    pub fn blocking_api(&self, callee: Option<&str>, method: Option<&str>) -> Option<&BlockingApi> {
        match callee {
            Some(callee) => self.blocking.get(callee),
            None => method.and_then(|m| self.blocking.get(&format!("*.{m}"))),
        }
    }

    /// Whether a call runs its callable arguments on another thread.
    pub fn offloads(&self, callee: Option<&str>, method: Option<&str>) -> bool {
        matches_any(&self.offload, callee, method)
    }

    /// Whether a call's arguments are awaitables (`asyncio.create_task(coro())`).
    pub fn consumes_awaitables(&self, callee: Option<&str>, method: Option<&str>) -> bool {
        matches_any(&self.awaitable_consumers, callee, method)
    }
}

/// Whether a call matches one of `entries`: a canonical name, `*.method` (a method of that name
/// on any receiver) or `*::name` (a Rust function of that name in any module).
fn matches_any(entries: &[String], callee: Option<&str>, method: Option<&str>) -> bool {
    entries.iter().any(|entry| {
        if let Some(name) = entry.strip_prefix("*.") {
            method == Some(name)
        } else if let Some(name) = entry.strip_prefix("*::") {
            callee.is_some_and(|c| c.rsplit("::").next() == Some(name))
        } else {
            callee == Some(entry.as_str())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tables_parse_and_cover_both_languages() {
        let k = Knowledge::builtin();
        assert_eq!(k.python.blocking["time.sleep"].rule, "IL101");
        assert_eq!(k.rust.blocking["std::thread::sleep"].rule, "IL101");
        assert!(matches!(
            k.rust.returns["std::sync::mpsc::channel"],
            Returns::Tuple(_)
        ));
        assert!(k.python.offloads(Some("asyncio.to_thread"), None));
        assert!(k.rust.offloads(None, Some("spawn_blocking")));
        let any_receiver = k.python.blocking_api(None, Some("run_until_complete"));
        assert_eq!(any_receiver.map(|a| a.rule.as_str()), Some("IL107"));
    }
}
