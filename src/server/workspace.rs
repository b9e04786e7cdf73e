//! The server's in-memory project. Every file of the workspace folders is analysed once; open
//! buffers stand in for their files on disk. After a change only the changed files are parsed
//! and lowered again; the project-wide phase (graphs and cross-file rules) then reruns over
//! the kept models, so editing one file updates the findings of the files that depend on it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::analysed::AnalysedFile;
use crate::analysis::{self, Contents, Input};
use crate::config::{CONFIG_FILES, Options, Resolver, Settings};
use crate::diagnostic::Diagnostic;
use crate::discover;
use crate::frontend::ProjectScan;
use crate::graph::{self, Resolution};
use crate::source::Language;

use super::document::{Document, Text};

/// Files whose change means re-reading the configuration (Rust module names and editions come
/// from `Cargo.toml`).
const RELOAD_FILES: &[&str] = &[
    "interlock.toml",
    ".interlock.toml",
    "pyproject.toml",
    "Cargo.toml",
];

/// Whether a changed file is one whose change re-reads the configuration.
pub fn is_config_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| RELOAD_FILES.contains(&n))
}

/// Which analysis of a file the project phase uses (a new generation each time the file is
/// analysed again) and a hash of what it gives the symbol index.
#[derive(Clone, Copy)]
struct ModelStamp {
    generation: u64,
    interface: u64,
}

/// An open buffer and its language.
pub struct OpenDocument {
    pub document: Document,
    pub language: Language,
}

/// The workspace: folders, open buffers, every analysed file and the latest findings.
pub struct Workspace {
    folders: Vec<PathBuf>,
    pool: rayon::ThreadPool,
    resolver: Resolver,
    /// Source files found in the folders (absolute paths).
    on_disk: BTreeSet<PathBuf>,
    pub documents: HashMap<PathBuf, OpenDocument>,
    /// Every analysed file, by path (sorted, so results do not depend on the order of edits).
    files: BTreeMap<PathBuf, AnalysedFile>,
    /// The last version that parsed of each file that does not parse now (mid-edit): the
    /// project-wide rules keep using it, so other files' cross-file findings do not flicker
    /// away while a line is half typed.
    last_parsed: HashMap<PathBuf, AnalysedFile>,
    /// Which version of each file's model the project phase uses, and its interface.
    models: HashMap<PathBuf, ModelStamp>,
    next_generation: u64,
    /// The interfaces of the last project phase's files, and how each file's calls resolved
    /// then: while no file's interface changes, an unchanged file's calls resolve the same way.
    last_interfaces: u64,
    resolutions: HashMap<PathBuf, (u64, Resolution)>,
    /// Files to analyse again at the next refresh.
    stale: BTreeSet<PathBuf>,
    rediscover: bool,
    /// Config files seen and when they last changed (for clients that do not watch files).
    config_stamps: HashMap<PathBuf, Option<SystemTime>>,
    /// What the workspace's files tell each other's lowering (Rust macros, Python library
    /// re-exports), gathered as files are analysed; renewed when the files are found again.
    project: ProjectScan,
    /// Latest findings, by path.
    diagnostics: HashMap<PathBuf, Vec<Diagnostic>>,
    /// Files that could not be analysed at all, with the reason.
    errors: HashMap<PathBuf, String>,
}

impl Workspace {
    pub fn new(folders: Vec<PathBuf>) -> Self {
        Workspace {
            resolver: resolver_for(&folders),
            folders,
            pool: analysis::analysis_pool(),
            on_disk: BTreeSet::new(),
            documents: HashMap::new(),
            files: BTreeMap::new(),
            last_parsed: HashMap::new(),
            models: HashMap::new(),
            next_generation: 0,
            last_interfaces: 0,
            resolutions: HashMap::new(),
            stale: BTreeSet::new(),
            rediscover: true,
            config_stamps: HashMap::new(),
            project: ProjectScan::default(),
            diagnostics: HashMap::new(),
            errors: HashMap::new(),
        }
    }

    pub fn set_folders(&mut self, folders: Vec<PathBuf>) {
        self.folders = folders;
        self.rediscover = true;
    }

    pub fn folders(&self) -> &[PathBuf] {
        &self.folders
    }

    /// Re-read the configuration and the folders' files at the next refresh.
    pub fn reload(&mut self) {
        self.rediscover = true;
    }

    pub fn open(&mut self, path: PathBuf, document: OpenDocument) {
        self.documents.insert(path.clone(), document);
        self.stale.insert(path);
    }

    /// The buffer changed: analyse it again.
    pub fn touch(&mut self, path: &Path) {
        self.stale.insert(path.to_path_buf());
    }

    /// The buffer was closed: its file on disk (if any) counts again.
    pub fn close(&mut self, path: &Path) {
        self.documents.remove(path);
        self.stale.insert(path.to_path_buf());
    }

    /// A file changed on disk (created, changed or deleted).
    pub fn changed_on_disk(&mut self, path: &Path, deleted: bool) {
        if is_config_file(path) {
            self.rediscover = true;
            return;
        }
        if Language::from_path(path).is_none() {
            return;
        }
        if deleted {
            self.on_disk.remove(path);
        } else if self.folders.iter().any(|f| path.starts_with(f)) && !self.excluded(path) {
            self.on_disk.insert(path.to_path_buf());
        }
        if !self.documents.contains_key(path) {
            self.stale.insert(path.to_path_buf());
        }
    }

    /// Whether a config file that applies to an open buffer appeared, changed or went away
    /// since the configuration was last read (checked on open and save, for clients that do
    /// not report changed files). Places not looked at before are recorded as they are: the
    /// settings read them then.
    pub fn config_changed(&mut self) -> bool {
        let mut changed = false;
        for (path, modified) in self.config_candidates() {
            match self.config_stamps.get(&path) {
                Some(seen) => changed |= *seen != modified,
                None => {
                    self.config_stamps.insert(path, modified);
                }
            }
        }
        changed
    }

    pub fn needs_refresh(&self) -> bool {
        self.rediscover || !self.stale.is_empty()
    }

    /// Brings the findings up to date: re-reads the configuration if asked, analyses the
    /// stale files again, then reruns the project-wide rules. Returns the configuration
    /// errors met (to show to the user) and where the time went (for the log).
    pub fn refresh(&mut self) -> (Vec<String>, String) {
        let started = Instant::now();
        let mut problems = Vec::new();
        if std::mem::take(&mut self.rediscover) {
            problems.extend(self.rediscover_files());
        }
        let inputs = self.stale_inputs(&mut problems);
        let analysed_files = inputs.len();
        let (analysed, errors) =
            analysis::analyse_files_with(&self.pool, inputs, &mut self.project);
        for error in errors {
            self.files.remove(&error.path);
            self.errors.insert(error.path, error.message);
        }
        for file in analysed {
            self.keep(file);
        }
        self.last_parsed
            .retain(|path, _| self.files.contains_key(path));
        self.models.retain(|path, _| self.files.contains_key(path));
        let per_file = started.elapsed();
        self.check_project(&mut problems);
        let timing = format!(
            "analysed {analysed_files} changed file(s) in {:.1} ms, then the project ({} files) in {:.1} ms",
            per_file.as_secs_f64() * 1e3,
            self.files.len(),
            (started.elapsed() - per_file).as_secs_f64() * 1e3
        );
        (problems, timing)
    }

    /// The inputs to analyse again: each stale file's buffer or file on disk, with its
    /// settings (the defaults, and a problem to show, under a broken config file).
    fn stale_inputs(&mut self, problems: &mut Vec<String>) -> Vec<Input> {
        let stale = std::mem::take(&mut self.stale);
        let mut inputs = Vec::new();
        for path in stale {
            self.errors.remove(&path);
            let contents = self.documents.get(&path).map(|d| d.document.text.as_str());
            let language = match self.documents.get(&path) {
                Some(open) => open.language,
                None if self.on_disk.contains(&path) => match Language::from_path(&path) {
                    Some(language) => language,
                    None => continue,
                },
                None => {
                    self.files.remove(&path);
                    continue;
                }
            };
            let settings = match self.resolver.settings_for_entry(&path, false) {
                Ok(settings) => settings,
                Err(message) => {
                    problems.push(message);
                    default_settings(&path)
                }
            };
            if contents.is_some() && settings.is_excluded_with_ancestors(&path) {
                self.files.remove(&path);
                continue;
            }
            inputs.push(Input {
                contents: contents.map(|text| Contents::Text(text.to_string())),
                path,
                language,
                settings,
            });
        }
        inputs
    }

    /// Keeps a file's new analysis. The model the project phase uses gets a new stamp; a file
    /// that stops parsing keeps its last parsed version for the project phase (a Python model
    /// recovered around a syntax error gives the file's own findings, not the project's).
    fn keep(&mut self, file: AnalysedFile) {
        let path = file.path.clone();
        let parsed = |file: &AnalysedFile| {
            file.model
                .as_ref()
                .is_some_and(|model| model.syntax_error.is_none())
        };
        let broken = !parsed(&file);
        let kept_instead = broken
            && (self.last_parsed.contains_key(&path) || self.files.get(&path).is_some_and(parsed));
        if let Some(model) = file.model.as_ref().filter(|_| !kept_instead) {
            self.next_generation += 1;
            let stamp = ModelStamp {
                generation: self.next_generation,
                interface: graph::interface_hash(model),
            };
            self.models.insert(path.clone(), stamp);
        }
        match self.files.insert(path.clone(), file) {
            Some(previous) if broken && parsed(&previous) => {
                self.last_parsed.insert(path, previous);
            }
            _ if !broken => {
                self.last_parsed.remove(&path);
            }
            _ => {}
        }
    }

    /// Reruns the project-wide rules over every kept model (the last one that parsed for a file
    /// that does not parse now) and regroups the findings by path. While no file's interface
    /// changes, the calls of the files that did not change are not resolved again.
    fn check_project(&mut self, problems: &mut Vec<String>) {
        let parsed: Vec<&AnalysedFile> = self
            .files
            .iter()
            .map(|(path, file)| self.last_parsed.get(path).unwrap_or(file))
            .filter(|file| file.model.is_some())
            .collect();
        let stamps: Vec<ModelStamp> = parsed.iter().map(|f| self.models[&f.path]).collect();
        let interfaces = {
            use std::hash::{Hash, Hasher};
            let mut hasher = rustc_hash::FxHasher::default();
            stamps.iter().for_each(|s| s.interface.hash(&mut hasher));
            hasher.finish()
        };
        let mut previous = std::mem::take(&mut self.resolutions);
        let known: Vec<Option<Resolution>> = parsed
            .iter()
            .zip(&stamps)
            .map(|(file, stamp)| {
                let (generation, resolution) = previous.remove(&file.path)?;
                (interfaces == self.last_interfaces && generation == stamp.generation)
                    .then_some(resolution)
            })
            .collect();
        let project = self
            .pool
            .install(|| crate::guard::catch(|| analysis::check_parsed_project(&parsed, known)));
        let project = project.map(|(found, resolution)| {
            for ((file, stamp), resolution) in parsed.iter().zip(&stamps).zip(resolution) {
                self.resolutions
                    .insert(file.path.clone(), (stamp.generation, resolution));
            }
            found
        });
        self.last_interfaces = interfaces;
        let mut diagnostics: HashMap<PathBuf, Vec<Diagnostic>> = HashMap::new();
        for file in self.files.values() {
            if !file.diagnostics.is_empty() {
                diagnostics.insert(file.path.clone(), file.diagnostics.clone());
            }
        }
        match project {
            Ok(found) => {
                // Findings inside a file that does not parse now point into its old text.
                let current = found
                    .into_iter()
                    .filter(|d| !self.last_parsed.contains_key(&d.path));
                for diagnostic in current {
                    diagnostics
                        .entry(diagnostic.path.clone())
                        .or_default()
                        .push(diagnostic);
                }
            }
            Err(reason) => problems.push(format!(
                "internal error in the project-wide rules ({reason}); only per-file findings are shown"
            )),
        }
        for list in diagnostics.values_mut() {
            list.sort_by_key(|d| (d.span.start, d.code));
        }
        self.diagnostics = diagnostics;
    }

    /// Finds the folders' files again with fresh settings and marks everything stale.
    fn rediscover_files(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        self.project = ProjectScan::default();
        self.resolver = resolver_for(&self.folders);
        self.config_stamps = self.config_candidates().into_iter().collect();
        match discover::discover(&self.folders, resolver_for(&self.folders), false) {
            Ok((inputs, _unreadable)) => {
                self.on_disk = inputs
                    .into_iter()
                    .map(|input| crate::source::absolute(&input.path))
                    .collect();
            }
            // A broken config file: keep the files found before, analysed with defaults.
            Err(message) => problems.push(message),
        }
        self.stale.extend(self.on_disk.iter().cloned());
        self.stale.extend(self.documents.keys().cloned());
        self.stale.extend(self.files.keys().cloned());
        problems
    }

    fn excluded(&mut self, path: &Path) -> bool {
        self.resolver
            .settings_for_entry(path, false)
            .is_ok_and(|settings| settings.is_excluded_with_ancestors(path))
    }

    /// Where config files would apply to the open buffers, with their modification times
    /// (`None`: no such file).
    fn config_candidates(&self) -> Vec<(PathBuf, Option<SystemTime>)> {
        let mut directories: BTreeSet<&Path> = BTreeSet::new();
        for path in self.documents.keys() {
            directories.extend(path.ancestors().skip(1));
        }
        directories
            .into_iter()
            .flat_map(|dir| CONFIG_FILES.iter().map(move |name| dir.join(name)))
            .map(|path| {
                let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                (path, modified)
            })
            .collect()
    }

    /// The latest findings in a file.
    pub fn diagnostics(&self, path: &Path) -> &[Diagnostic] {
        self.diagnostics.get(path).map_or(&[], Vec::as_slice)
    }

    /// Why a file could not be analysed at all, if it could not.
    pub fn error(&self, path: &Path) -> Option<&str> {
        self.errors.get(path).map(String::as_str)
    }

    /// The text of a file as analysed: the open buffer, or the file's contents.
    pub fn text(&self, path: &Path) -> Option<Cow<'_, Text>> {
        if let Some(open) = self.documents.get(path) {
            return Some(Cow::Borrowed(&open.document.text));
        }
        let file = self.files.get(path)?;
        Some(Cow::Owned(Text::new(file.text().to_string())))
    }
}

/// The settings resolver for a set of folders (defaults rooted at the first folder).
fn resolver_for(folders: &[PathBuf]) -> Resolver {
    let root = folders
        .first()
        .cloned()
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
    Resolver::rooted(Options::default(), None, root).expect("default settings are valid")
}

/// The settings used for a file whose config file is broken.
fn default_settings(path: &Path) -> Arc<Settings> {
    let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Arc::new(
        Settings::new(root, Options::default(), &Options::default())
            .expect("default settings are valid"),
    )
}
