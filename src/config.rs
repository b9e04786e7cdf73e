//! Configuration: `interlock.toml`, `.interlock.toml` or `[tool.interlock]` in `pyproject.toml`,
//! the closest one to a file wins (like Ruff); command-line options override it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Deserializer};

use crate::codes::{self, BLOCKING_API_CODES, Code};
use crate::knowledge::{Knowledge, LockType, Returns};
use crate::model::BlockingApi;

/// Config file names, in the order they are looked for in each directory.
pub const CONFIG_FILES: &[&str] = &["interlock.toml", ".interlock.toml", "pyproject.toml"];

/// Directories and files skipped by default (Ruff's list, plus Cargo's `target`).
pub const DEFAULT_EXCLUDE: &[&str] = &[
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".git-rewrite",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pyenv",
    ".pytest_cache",
    ".pytype",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    ".vscode",
    "__pypackages__",
    "_build",
    "buck-out",
    "dist",
    "node_modules",
    "site-packages",
    "target",
    "venv",
];

/// How many calls deep IL106 follows a chain by default: the coroutine's callee and up to three
/// more helpers. Longer chains run through rarely taken paths (debug-mode stack capture,
/// warning formatting) far more often than through real bugs.
pub const DEFAULT_MAX_CALL_DEPTH: usize = 4;

/// A rule selector: `ALL`, a code (`IL101`) or a code prefix (`IL1`), kept as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector(String);

impl Selector {
    /// Parses a selector, refusing ones that match no rule.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let upper = text.trim().to_ascii_uppercase();
        if upper == "ALL"
            || codes::ALL
                .iter()
                .any(|code| code.as_str().starts_with(&upper) && upper.len() >= 2)
        {
            Ok(Selector(upper))
        } else {
            Err(format!(
                "unknown rule selector `{text}` (expected `ALL`, a code such as `IL101`, or a prefix such as `IL1`)"
            ))
        }
    }

    /// How specifically this selector matches `code` (`None` if it does not).
    fn specificity(&self, code: Code) -> Option<usize> {
        if self.0 == "ALL" {
            Some(0)
        } else {
            code.as_str().starts_with(&self.0).then_some(self.0.len())
        }
    }
}

impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Selector::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One layer of rule selection (config file or command line).
#[derive(Debug)]
struct SelectionLayer {
    select: Option<Vec<Selector>>,
    extend_select: Vec<Selector>,
    ignore: Vec<Selector>,
}

impl SelectionLayer {
    /// Whether `code` is enabled after this layer, given whether it was before: within a layer
    /// the most specific matching selector wins, `ignore` on ties; a layer that says nothing
    /// about the code keeps the earlier decision, unless it has its own `select`.
    fn decide(&self, code: Code, before: bool) -> bool {
        let best = |selectors: &mut dyn Iterator<Item = &Selector>| {
            selectors.filter_map(|s| s.specificity(code)).max()
        };
        let positive = best(&mut self.select.iter().flatten().chain(&self.extend_select));
        let negative = best(&mut self.ignore.iter());
        match (positive, negative) {
            (Some(p), Some(n)) => p > n,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => self.select.is_none() && before,
        }
    }
}

/// A user-declared blocking function in `[blocking]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingEntry {
    pub rule: BlockingRule,
    pub alternative: Option<String>,
}

/// A rule code that a blocking entry may name (one of [`BLOCKING_API_CODES`]).
#[derive(Clone, Debug)]
pub struct BlockingRule(pub Code);

impl<'de> Deserialize<'de> for BlockingRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?.to_ascii_uppercase();
        match text.parse() {
            Ok(code) if BLOCKING_API_CODES.contains(&code) => Ok(BlockingRule(code)),
            _ => {
                let expected: Vec<&str> = BLOCKING_API_CODES.iter().map(|c| c.as_str()).collect();
                Err(serde::de::Error::custom(format!(
                    "`{text}` is not a blocking rule (expected one of {})",
                    expected.join(", ")
                )))
            }
        }
    }
}

/// A list or table option of the config file followed by the command line's.
fn merged<C: IntoIterator + Clone>(
    file: Option<C>,
    cli: &Option<C>,
) -> impl Iterator<Item = C::Item> {
    file.into_iter()
        .flatten()
        .chain(cli.clone().into_iter().flatten())
}

/// The options of one config file (or of the command line).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    pub select: Option<Vec<Selector>>,
    pub extend_select: Option<Vec<Selector>>,
    pub ignore: Option<Vec<Selector>>,
    pub exclude: Option<Vec<String>>,
    pub extend_exclude: Option<Vec<String>>,
    pub per_file_ignores: Option<BTreeMap<String, Vec<Selector>>>,
    pub blocking: Option<BTreeMap<String, BlockingEntry>>,
    /// Project functions declared non-blocking (IL106 does not follow calls into them).
    pub non_blocking: Option<Vec<String>>,
    /// How many calls deep IL106 follows a chain to a blocking call.
    pub max_call_depth: Option<usize>,
    /// User lock types: a Python lock class or a Rust guard method, with its properties.
    pub locks: Option<BTreeMap<String, LockType>>,
    /// What library calls (or Python attributes) return, beyond `rules/types.toml`: one type,
    /// or a tuple's element types.
    pub types: Option<BTreeMap<String, Returns>>,
    /// Library coroutine functions (Python, IL501) beyond `rules/coroutines.toml`.
    pub coroutine_functions: Option<Vec<String>>,
    /// Library calls that return a weakly held task (Python, IL502).
    pub task_spawners: Option<Vec<String>>,
    /// Library calls that start worker processes (Python, IL301) beyond
    /// `rules/processes.toml`.
    pub process_spawners: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct PyProject {
    tool: Option<PyProjectTool>,
}

#[derive(Deserialize)]
struct PyProjectTool {
    interlock: Option<Options>,
}

/// A configuration error: which file, and what is wrong (with line and column).
#[derive(Debug)]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid configuration in {}: {}",
            self.path.display(),
            self.message
        )
    }
}

/// The largest config file read (1 MiB); a larger one is an error, read no further.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Reads the options of a config file; `Ok(None)` for a `pyproject.toml` without
/// `[tool.interlock]`. Anything but a regular file of at most [`MAX_CONFIG_BYTES`] is an error.
pub fn read_options(path: &Path) -> Result<Option<Options>, ConfigError> {
    let error = |message: String| ConfigError {
        path: path.to_path_buf(),
        message,
    };
    let bytes =
        crate::source::read_regular(path, MAX_CONFIG_BYTES).map_err(|e| error(e.to_string()))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(error("config file larger than 1 MiB".to_string()));
    }
    let text = String::from_utf8(bytes).map_err(|e| error(format!("not UTF-8: {e}")))?;
    let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
    parse_options(&text, is_pyproject).map_err(error)
}

/// Parses the text of a config file: `[tool.interlock]` of a `pyproject.toml` (`Ok(None)`
/// without one), or a whole `interlock.toml`.
pub fn parse_options(text: &str, is_pyproject: bool) -> Result<Option<Options>, String> {
    if is_pyproject {
        let project: PyProject = toml::from_str(text).map_err(|e| e.to_string())?;
        Ok(project.tool.and_then(|t| t.interlock))
    } else {
        toml::from_str(text).map(Some).map_err(|e| e.to_string())
    }
}

/// Effective settings for the files under one config file.
#[derive(Debug)]
pub struct Settings {
    /// Directory that relative globs are matched against.
    pub root: PathBuf,
    /// Rule selection, over each code's default: the config file's layer, then the command
    /// line's.
    selection: [SelectionLayer; 2],
    exclude: GlobSet,
    /// The exclusions the user wrote (all of `exclude` when it replaces the default list).
    user_exclude: GlobSet,
    /// `per-file-ignores`: one set of all the patterns (matched once per lookup instead of one
    /// set per pattern), and the selectors of each pattern, in the same order.
    per_file_ignores: (GlobSet, Vec<Vec<Selector>>),
    pub knowledge: Arc<Knowledge>,
    /// Canonical names of project functions declared non-blocking.
    pub non_blocking: HashSet<String>,
    /// How many calls deep IL106 follows a chain to a blocking call.
    pub max_call_depth: usize,
}

impl Settings {
    /// Combines a config file's options (if any) with command-line overrides.
    pub fn new(root: PathBuf, file: Options, cli: &Options) -> Result<Settings, String> {
        let selection = [
            SelectionLayer {
                select: file.select,
                extend_select: file.extend_select.unwrap_or_default(),
                ignore: file.ignore.unwrap_or_default(),
            },
            SelectionLayer {
                select: cli.select.clone(),
                extend_select: cli.extend_select.clone().unwrap_or_default(),
                ignore: cli.ignore.clone().unwrap_or_default(),
            },
        ];
        let replaced = cli.exclude.clone().or(file.exclude);
        let user_exclude: Vec<String> = replaced
            .clone()
            .into_iter()
            .flatten()
            .chain(merged(file.extend_exclude, &cli.extend_exclude))
            .collect();
        let defaults = match replaced {
            Some(_) => Vec::new(),
            None => DEFAULT_EXCLUDE.iter().map(|s| s.to_string()).collect(),
        };
        let exclude = defaults.into_iter().chain(user_exclude.iter().cloned());
        let (patterns, selectors): (Vec<String>, Vec<Vec<Selector>>) =
            merged(file.per_file_ignores, &cli.per_file_ignores).unzip();
        let per_file_ignores = (glob_set(patterns)?, selectors);
        let mut knowledge = Knowledge::builtin();
        for (name, entry) in merged(file.blocking, &cli.blocking) {
            knowledge.add_blocking(
                &name,
                BlockingApi {
                    rule: entry.rule.0,
                    alternative: entry.alternative,
                },
            );
        }
        for (name, lock) in merged(file.locks, &cli.locks) {
            knowledge.add_lock(&name, lock);
        }
        for (name, returns) in merged(file.types, &cli.types) {
            knowledge.add_type(&name, returns);
        }
        knowledge
            .coroutine_functions
            .extend(merged(file.coroutine_functions, &cli.coroutine_functions));
        knowledge
            .task_spawners
            .extend(merged(file.task_spawners, &cli.task_spawners));
        knowledge
            .python
            .process_spawns
            .extend(merged(file.process_spawners, &cli.process_spawners));
        let non_blocking = merged(file.non_blocking, &cli.non_blocking).collect();
        Ok(Settings {
            root,
            selection,
            exclude: glob_set(exclude)?,
            user_exclude: glob_set(user_exclude)?,
            per_file_ignores,
            knowledge: Arc::new(knowledge),
            non_blocking,
            max_call_depth: cli
                .max_call_depth
                .or(file.max_call_depth)
                .unwrap_or(DEFAULT_MAX_CALL_DEPTH),
        })
    }

    /// Whether a rule is enabled: its default, then the config file's selection, then the
    /// command line's on top of it (a `select` starts afresh, as in Ruff).
    pub fn is_enabled(&self, code: Code) -> bool {
        self.selection
            .iter()
            .fold(code.default_enabled(), |enabled, layer| {
                layer.decide(code, enabled)
            })
    }

    /// Whether a rule is enabled for a particular file (`per-file-ignores` applied).
    pub fn is_enabled_for(&self, code: Code, path: &Path) -> bool {
        let (globs, selectors) = &self.per_file_ignores;
        self.is_enabled(code)
            && !self.matching(globs, path).into_iter().any(|index| {
                selectors[index]
                    .iter()
                    .any(|s| s.specificity(code).is_some())
            })
    }

    /// Whether a path is excluded (matched by its name or its path relative to the root).
    pub fn is_excluded(&self, path: &Path) -> bool {
        self.matches(&self.exclude, path)
    }

    /// Whether a path is excluded by the default list alone (no pattern the user wrote).
    pub fn is_excluded_by_default_only(&self, path: &Path) -> bool {
        self.is_excluded(path) && !self.matches(&self.user_exclude, path)
    }

    /// Whether a path or any directory above it (up to the root) is excluded: for files named
    /// explicitly with `--force-exclude`.
    pub fn is_excluded_with_ancestors(&self, path: &Path) -> bool {
        let absolute = crate::source::absolute(path);
        let relative = absolute.strip_prefix(&self.root).unwrap_or(&absolute);
        let mut ancestors: Vec<&Path> = relative
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .collect();
        ancestors.reverse();
        self.is_excluded(path)
            || ancestors
                .iter()
                .any(|a| self.matches(&self.exclude, &self.root.join(a)))
    }

    /// The indices of the patterns in `globs` that match `path` as [`Self::matches`] does.
    fn matching(&self, globs: &GlobSet, path: &Path) -> Vec<usize> {
        if globs.is_empty() {
            return Vec::new();
        }
        let absolute = crate::source::absolute(path);
        let relative = absolute.strip_prefix(&self.root).unwrap_or(&absolute);
        let mut found = Vec::new();
        let names = path.file_name().map(Path::new).into_iter();
        for candidate in names.chain([relative, absolute.as_path()]) {
            found.extend(globs.matches(candidate));
        }
        found
    }

    fn matches(&self, globs: &GlobSet, path: &Path) -> bool {
        if path.file_name().is_some_and(|name| globs.is_match(name)) {
            return true;
        }
        let absolute = crate::source::absolute(path);
        let relative = absolute.strip_prefix(&self.root).unwrap_or(&absolute);
        globs.is_match(relative) || globs.is_match(&absolute)
    }
}

fn glob_set(patterns: impl IntoIterator<Item = String>) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern.trim_end_matches('/'))
            .map_err(|e| format!("invalid glob `{pattern}`: {e}"))?;
        builder.add(glob);
    }
    builder.build().map_err(|e| e.to_string())
}

/// Finds and caches the settings that apply to each directory.
pub struct Resolver {
    cli: Options,
    /// Settings used when no config file is found (rooted at the working directory).
    default: Arc<Settings>,
    /// Explicit `--config` file: used for every file when given.
    forced: Option<Arc<Settings>>,
    by_directory: HashMap<PathBuf, Arc<Settings>>,
}

impl Resolver {
    pub fn new(cli: Options, config: Option<&Path>) -> Result<Resolver, String> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Resolver::rooted(cli, config, cwd)
    }

    /// A resolver whose settings for files under no config file are rooted at `root`.
    pub fn rooted(cli: Options, config: Option<&Path>, root: PathBuf) -> Result<Resolver, String> {
        let default = Arc::new(Settings::new(root, Options::default(), &cli)?);
        let forced = match config {
            Some(path) => {
                let options = read_options(path)
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default();
                let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
                Some(Arc::new(
                    Settings::new(root, options, &cli)
                        .map_err(|e| format!("{}: {e}", path.display()))?,
                ))
            }
            None => None,
        };
        Ok(Resolver {
            cli,
            default,
            forced,
            by_directory: HashMap::new(),
        })
    }

    /// The settings for a file or directory: from the closest config file above it.
    pub fn settings_for(&mut self, path: &Path) -> Result<Arc<Settings>, String> {
        self.settings_for_entry(path, path.is_dir())
    }

    /// [`Self::settings_for`] when the caller already knows whether `path` is a directory.
    pub fn settings_for_entry(
        &mut self,
        path: &Path,
        is_dir: bool,
    ) -> Result<Arc<Settings>, String> {
        if let Some(forced) = &self.forced {
            return Ok(forced.clone());
        }
        let absolute = crate::source::absolute(path);
        let directory = if is_dir {
            absolute
        } else {
            absolute.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        self.settings_for_directory(&directory)
    }

    fn settings_for_directory(&mut self, directory: &Path) -> Result<Arc<Settings>, String> {
        if let Some(settings) = self.by_directory.get(directory) {
            return Ok(settings.clone());
        }
        let mut found = None;
        for name in CONFIG_FILES {
            let candidate = directory.join(name);
            if candidate.is_file()
                && let Some(options) = read_options(&candidate).map_err(|e| e.to_string())?
            {
                let settings = Settings::new(directory.to_path_buf(), options, &self.cli)
                    .map_err(|e| format!("{}: {e}", candidate.display()))?;
                found = Some(Arc::new(settings));
                break;
            }
        }
        let settings = match found {
            Some(settings) => settings,
            None => match directory.parent() {
                Some(parent) => self.settings_for_directory(parent)?,
                None => self.default.clone(),
            },
        };
        self.by_directory
            .insert(directory.to_path_buf(), settings.clone());
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml_text: &str) -> Settings {
        let options: Options = toml::from_str(toml_text).unwrap();
        Settings::new(PathBuf::from("/p"), options, &Options::default()).unwrap()
    }

    #[test]
    fn most_specific_selector_wins() {
        let s = settings("select = [\"IL1\"]\nignore = [\"IL10\"]\nextend-select = [\"IL105\"]");
        assert!(!s.is_enabled(Code::IL101));
        assert!(s.is_enabled(Code::IL105));
        assert!(!s.is_enabled(Code::IL001));
        let all = settings("");
        assert!(all.is_enabled(Code::IL107));
    }

    #[test]
    fn bad_values_name_the_line() {
        let error = toml::from_str::<Options>("select = [\"IL1\"]\nselct = []")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 2"), "{error}");
        let error = toml::from_str::<Options>("select = [\"XY9\"]")
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown rule selector"), "{error}");
    }

    #[test]
    fn per_file_ignores_and_excludes_match_relative_paths() {
        let s = settings(
            "extend-exclude = [\"gen/*.py\"]\n[per-file-ignores]\n\"tests/*\" = [\"IL101\"]",
        );
        assert!(s.is_excluded(Path::new("/p/gen/x.py")));
        assert!(s.is_excluded(Path::new("/p/.venv")));
        assert!(!s.is_excluded(Path::new("/p/src/x.py")));
        assert!(!s.is_enabled_for(Code::IL101, Path::new("/p/tests/test_x.py")));
        assert!(s.is_enabled_for(Code::IL102, Path::new("/p/tests/test_x.py")));
    }

    #[test]
    fn each_per_file_ignore_pattern_keeps_its_own_selectors() {
        let s = settings(
            "[per-file-ignores]\n\"tests/*\" = [\"IL101\"]\n\"*_async.py\" = [\"IL102\"]\n\"gen/**\" = []",
        );
        let both = Path::new("/p/tests/db_async.py");
        assert!(!s.is_enabled_for(Code::IL101, both) && !s.is_enabled_for(Code::IL102, both));
        assert!(s.is_enabled_for(Code::IL103, both));
        let one = Path::new("/p/src/db_async.py");
        assert!(s.is_enabled_for(Code::IL101, one) && !s.is_enabled_for(Code::IL102, one));
        assert!(s.is_enabled_for(Code::IL101, Path::new("/p/gen/x.py")));
    }
}
