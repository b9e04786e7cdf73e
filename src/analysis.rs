//! The driver: reads, parses and lowers files in parallel, runs the rules, and applies rule
//! selection and suppression comments. One bad file never stops the others.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::analysed::{AnalysedFile, MAX_FILE_BYTES};
use crate::codes::Code;
use crate::config::Settings;
use crate::diagnostic::Diagnostic;
use crate::frontend::rust::{GlobImports, ProjectMacros};
use crate::frontend::{self, ProjectScan, python::ProjectReexports};
use crate::graph::{Project, Resolution};
use crate::model::Language;
use crate::project::Layout;
use crate::rules::{self, ProjectContext};
use crate::source::SourceFile;
use crate::suppress::Suppressions;

/// Stack size of the analysis threads: deep but legal nesting must never overflow. `syn`
/// recurses once per nesting level (a few KiB each) on generics, closures, `return` chains and
/// the like; 1 GiB of address space (touched only as deep as a file really goes) covers
/// hundreds of thousands of levels.
pub const STACK_SIZE: usize = 1024 * 1024 * 1024;

/// One file to analyse.
pub struct Input {
    pub path: PathBuf,
    pub language: Language,
    pub settings: Arc<Settings>,
    /// The file's contents when they do not come from disk (stdin, an editor buffer).
    pub contents: Option<Contents>,
}

/// Contents given with an input instead of read at its analysis.
pub enum Contents {
    /// Raw bytes (stdin): decoded as a file would be (PEP 263 declarations honoured).
    Bytes(Vec<u8>),
    /// Text already decoded (an editor buffer): analysed as it is.
    Text(String),
    /// The file's bytes as the project scan read them from disk (see [`ProjectScan`]): the
    /// file is what is on disk, as if read at its analysis.
    Read(Vec<u8>),
}

/// A file that could not be analysed at all (unreadable, binary, internal error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub message: String,
}

/// The outcome of a run: diagnostics sorted by path, line and column; the text of every file
/// a diagnostic points into (for rendering); and the files that could not be analysed.
#[derive(Debug, Default)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: HashMap<PathBuf, SourceFile>,
    pub errors: Vec<FileError>,
}

enum Outcome {
    Analysed(Box<AnalysedFile>),
    Failed(FileError),
}

/// Analyses every input: files in parallel, on threads with a large stack, then the
/// project-wide phase over all of them.
pub fn analyse(inputs: Vec<Input>) -> Report {
    analyse_on(&analysis_pool(), inputs)
}

/// [`analyse`] for a process that exits once it has reported (the command line): the files'
/// models are left for the operating system to reclaim instead of being freed one by one.
pub fn analyse_before_exit(inputs: Vec<Input>) -> Report {
    analyse_with(&analysis_pool(), inputs, false)
}

/// [`analyse`] on a pool the caller built once (the fuzz targets analyse one file per run: a
/// new pool each time would cost more than the file). Its threads need the stack of
/// [`analysis_pool`]'s.
pub fn analyse_on(pool: &rayon::ThreadPool, inputs: Vec<Input>) -> Report {
    analyse_with(pool, inputs, true)
}

fn analyse_with(pool: &rayon::ThreadPool, inputs: Vec<Input>, free: bool) -> Report {
    let (files, errors) = analyse_files(pool, inputs);
    let mut report = Report {
        errors,
        ..Report::default()
    };
    // A bug in the project phase loses the cross-file findings, never the per-file ones.
    let project_diagnostics = pool
        .install(|| crate::guard::catch(|| check_project(&files.iter().collect::<Vec<_>>())))
        .unwrap_or_else(|reason| {
            report.errors.push(FileError {
                path: PathBuf::from("<project>"),
                message: format!(
                    "internal error in the project-wide phase (cross-file rules skipped): {reason}"
                ),
            });
            Vec::new()
        });
    let by_path: HashMap<&PathBuf, &AnalysedFile> = files.iter().map(|f| (&f.path, f)).collect();
    report.diagnostics = files
        .iter()
        .flat_map(|f| f.diagnostics.iter().cloned())
        .collect();
    report.diagnostics.extend(project_diagnostics);
    for diagnostic in &report.diagnostics {
        let paths =
            std::iter::once(&diagnostic.path).chain(diagnostic.related.iter().map(|r| &r.path));
        for path in paths {
            if let Some(file) = by_path.get(path) {
                report
                    .sources
                    .entry(path.clone())
                    .or_insert_with(|| SourceFile::new(file.text().clone()));
            }
        }
    }
    drop(by_path);
    if free {
        // Freeing every file's model and text is a lot of small frees: spread them over the pool.
        pool.install(|| files.into_par_iter().for_each(drop));
    } else {
        std::mem::forget(files);
    }
    report
        .diagnostics
        .sort_by(|a, b| (&a.path, a.span.start, a.code).cmp(&(&b.path, b.span.start, b.code)));
    report.errors.sort_by(|a, b| a.path.cmp(&b.path));
    report
}

/// The thread pool analysis runs on: large stacks, and panics reported per file.
pub fn analysis_pool() -> rayon::ThreadPool {
    crate::guard::install_quiet_hook();
    rayon::ThreadPoolBuilder::new()
        .stack_size(STACK_SIZE)
        .thread_name(|i| format!("interlock-{i}"))
        .build()
        .expect("the analysis thread pool starts")
}

/// The per-file phase: reads, decodes, parses, lowers and checks every input in parallel.
pub fn analyse_files(
    pool: &rayon::ThreadPool,
    inputs: Vec<Input>,
) -> (Vec<AnalysedFile>, Vec<FileError>) {
    analyse_files_with(pool, inputs, &mut ProjectScan::default())
}

/// [`analyse_files`], adding what the inputs tell other files (see [`ProjectScan`]) to
/// `project` (which a language server keeps across edits) before any is lowered.
pub fn analyse_files_with(
    pool: &rayon::ThreadPool,
    mut inputs: Vec<Input>,
    project: &mut ProjectScan,
) -> (Vec<AnalysedFile>, Vec<FileError>) {
    let layout = Layout::default();
    let started = Instant::now();
    pool.install(|| project.add(scan_project(&mut inputs, &layout)));
    let project = &*project;
    let outcomes: Vec<Outcome> = pool.install(|| {
        // One file per task: file sizes vary by orders of magnitude, so let idle threads steal.
        inputs
            .into_par_iter()
            .with_max_len(1)
            .map(|input| analyse_guarded(input, &layout, project))
            .collect()
    });
    TIMINGS.add(&TIMINGS.files_wall, started.elapsed());
    let (mut files, mut errors) = (Vec::new(), Vec::new());
    for outcome in outcomes {
        match outcome {
            Outcome::Analysed(file) => files.push(*file),
            Outcome::Failed(error) => errors.push(error),
        }
    }
    // The project phase numbers functions in file order, and where a finding has several
    // candidate sites (the edge a cycle is reported at) ties go to the first: sort by absolute
    // path so that results do not depend on the order directories were read in (and match
    // the language server's, which keeps its files in that order).
    files.sort_by_cached_key(|f| crate::source::absolute(&f.path));
    (files, errors)
}

/// Runs the project-wide rules and keeps the findings their files' settings and suppression
/// comments allow.
pub fn check_project(files: &[&AnalysedFile]) -> Vec<Diagnostic> {
    let parsed: Vec<&AnalysedFile> = files
        .iter()
        .copied()
        .filter(|f| f.model.is_some())
        .collect();
    let known = vec![None; parsed.len()];
    check_parsed_project(&parsed, known).0
}

/// [`check_project`] over files that all parsed, reusing the call resolution of those where
/// `known` has one (see [`Project::reusing`]); also returns every file's resolution.
pub fn check_parsed_project(
    parsed: &[&AnalysedFile],
    known: Vec<Option<Resolution>>,
) -> (Vec<Diagnostic>, Vec<Resolution>) {
    let started = Instant::now();
    let models = parsed.iter().filter_map(|f| f.model.as_ref()).collect();
    let project = Project::reusing(models, known);
    TIMINGS.add(&TIMINGS.graph, started.elapsed());
    let started = Instant::now();
    let context = ProjectContext::new(&project, parsed);
    let by_path: HashMap<&PathBuf, &AnalysedFile> = parsed.iter().map(|f| (&f.path, *f)).collect();
    let diagnostics = rules::check_project(&context)
        .into_iter()
        .filter(|d| {
            by_path
                .get(&d.path)
                .is_some_and(|file| file.keeps(d.code, d.span.start))
        })
        .collect();
    TIMINGS.add(&TIMINGS.project_rules, started.elapsed());
    drop(context);
    (diagnostics, project.into_resolution())
}

/// Analyses one file, turning a panic into an error for that file only.
fn analyse_guarded(input: Input, layout: &Layout, project: &ProjectScan) -> Outcome {
    let path = input.path.clone();
    guarded(path, || analyse_one(input, layout, project))
}

/// What the inputs tell the other files (see [`ProjectScan`]): the macros Rust files define
/// (when there are several), the library names Python modules re-export. Each input's bytes
/// are read here once and kept for its analysis; a file that cannot be read is left for its
/// analysis to report.
fn scan_project(inputs: &mut [Input], layout: &Layout) -> ProjectScan {
    let rust_files = inputs
        .iter()
        .filter(|i| i.language == Language::Rust)
        .count();
    let python_files = inputs.len() - rust_files;
    if rust_files < 2 && python_files < 2 {
        return ProjectScan::default();
    }
    let read_started = Instant::now();
    inputs.par_iter_mut().for_each(|input| {
        if input.contents.is_none()
            && let Ok(bytes) = crate::source::read_regular(&input.path, MAX_FILE_BYTES)
        {
            input.contents = Some(Contents::Read(bytes));
        }
    });
    TIMINGS.add(&TIMINGS.read, read_started.elapsed());
    fn text(input: &Input) -> Option<std::borrow::Cow<'_, str>> {
        match &input.contents {
            Some(Contents::Text(text)) => Some(std::borrow::Cow::Borrowed(text.as_str())),
            Some(Contents::Bytes(bytes) | Contents::Read(bytes))
                if bytes.len() as u64 <= MAX_FILE_BYTES && !bytes.contains(&0) =>
            {
                // Validating first is several times faster than the lossy decoder on the
                // usual, valid text.
                Some(match std::str::from_utf8(bytes) {
                    Ok(text) => std::borrow::Cow::Borrowed(text),
                    Err(_) => String::from_utf8_lossy(bytes),
                })
            }
            _ => None,
        }
    }
    let rust_texts: Vec<(String, std::borrow::Cow<'_, str>)> = match rust_files {
        0 | 1 => Vec::new(),
        _ => inputs
            .par_iter()
            .filter(|input| input.language == Language::Rust)
            .filter_map(|input| {
                let module = layout.module_of(&input.path, Language::Rust);
                Some((module.path, text(input)?))
            })
            .collect(),
    };
    let macros = ProjectMacros::of_texts(rust_texts.par_iter().map(|(_, text)| text.as_ref()));
    let modules: Vec<(&str, &str)> = rust_texts
        .iter()
        .map(|(module, text)| (module.as_str(), text.as_ref()))
        .collect();
    let glob_imports = GlobImports::of_files(&modules);
    let reexports = inputs
        .par_iter()
        .filter(|input| input.language == Language::Python && python_files > 1)
        .filter_map(|input| {
            let module = layout.module_of(&input.path, Language::Python);
            Some(ProjectReexports::of_module(&module.path, &text(input)?))
        })
        .reduce(ProjectReexports::default, |mut all, more| {
            all.add(more);
            all
        });
    ProjectScan {
        macros,
        glob_imports,
        reexports,
    }
}

/// Runs one file's analysis; a panic becomes a [`FileError`] for that file.
fn guarded(path: PathBuf, analyse: impl FnOnce() -> Outcome) -> Outcome {
    crate::guard::catch(analyse).unwrap_or_else(|reason| {
        Outcome::Failed(FileError {
            path,
            message: format!("internal error while analysing this file: {reason}"),
        })
    })
}

/// Where the time goes (`--timings`): per-file phases summed over all threads (CPU time), the
/// project-wide phases by wall clock.
#[derive(Debug, Default)]
pub struct Timings {
    read: AtomicU64,
    parse: AtomicU64,
    lower: AtomicU64,
    file_rules: AtomicU64,
    graph: AtomicU64,
    project_rules: AtomicU64,
    files_wall: AtomicU64,
}

/// The timings of this process's analyses.
pub static TIMINGS: Timings = Timings {
    read: AtomicU64::new(0),
    parse: AtomicU64::new(0),
    lower: AtomicU64::new(0),
    file_rules: AtomicU64::new(0),
    graph: AtomicU64::new(0),
    project_rules: AtomicU64::new(0),
    files_wall: AtomicU64::new(0),
};

impl Timings {
    fn add(&self, counter: &AtomicU64, elapsed: Duration) {
        counter.fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }

    /// One line per phase, in milliseconds.
    pub fn summary(&self) -> String {
        let ms = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64 / 1e6;
        format!(
            "timings (ms): read {:.0}, parse {:.0}, lower {:.0}, file rules {:.0} (CPU time summed over threads; wall {:.0}); project graph {:.0}, project rules {:.0} (wall time)",
            ms(&self.read),
            ms(&self.parse),
            ms(&self.lower),
            ms(&self.file_rules),
            ms(&self.files_wall),
            ms(&self.graph),
            ms(&self.project_rules)
        ) + &rules::project_rule_times()
            .iter()
            .map(|(code, ms)| format!("\n  {code} {ms:.0}"))
            .collect::<String>()
    }
}

fn analyse_one(input: Input, layout: &Layout, project: &ProjectScan) -> Outcome {
    let Input {
        path,
        language,
        settings,
        contents,
    } = input;
    let fail = |message: String| {
        Outcome::Failed(FileError {
            path: path.clone(),
            message,
        })
    };
    let read_started = Instant::now();
    let contents_given = matches!(contents, Some(Contents::Text(_) | Contents::Bytes(_)));
    let (bytes, already_decoded) = match contents {
        Some(Contents::Text(text)) => (text.into_bytes(), true),
        Some(Contents::Bytes(bytes) | Contents::Read(bytes)) => (bytes, false),
        None => match crate::source::read_regular(&path, MAX_FILE_BYTES) {
            Ok(bytes) => (bytes, false),
            Err(error) => return fail(format!("could not read file: {error}")),
        },
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let diagnostic = Diagnostic::new(
            Code::IL001,
            path.clone(),
            0..0,
            format!(
                "file larger than {} MiB; it was not analysed",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        )
        .with_label("too large to analyse")
        .with_help("exclude generated files (`extend-exclude` in the configuration)");
        // Nothing of its text is shown: never read it again for rendering.
        let mut file = AnalysedFile::new(
            path,
            language,
            settings,
            None,
            Suppressions::default(),
            Some(Arc::from("")),
        );
        if file.settings.is_enabled_for(diagnostic.code, &file.path) {
            file.diagnostics.push(diagnostic);
        }
        return Outcome::Analysed(Box::new(file));
    }
    if bytes.contains(&0) {
        return fail("binary file (contains NUL bytes), not analysed".to_string());
    }
    let decoded = if already_decoded {
        // Valid UTF-8 already (borrowed as is); only its coding declaration is checked.
        crate::decode::check_declaration(&bytes, language).map(|()| String::from_utf8_lossy(&bytes))
    } else {
        crate::decode::decode(&bytes, language)
    };
    TIMINGS.add(&TIMINGS.read, read_started.elapsed());
    let (text, model, diagnostics) = match decoded {
        Err(error) => {
            let offset = error.offset;
            let diagnostic = Diagnostic::new(
                Code::IL002,
                path.clone(),
                offset..offset,
                format!("{}; it was not analysed", error.message),
            )
            .with_label("cannot decode the file here")
            .with_help("re-encode the file as UTF-8 (or, in Python, declare its encoding with a PEP 263 `# -*- coding: … -*-` comment)");
            (String::from_utf8_lossy(&bytes), None, vec![diagnostic])
        }
        Ok(text) => {
            let module = layout.module_of(&path, language);
            let front_end = Instant::now();
            match frontend::lower(
                &path,
                language,
                &text,
                &settings.knowledge,
                &module,
                project,
            ) {
                Ok((model, parse_time)) => {
                    TIMINGS.add(&TIMINGS.parse, parse_time);
                    TIMINGS.add(
                        &TIMINGS.lower,
                        front_end.elapsed().saturating_sub(parse_time),
                    );
                    let rules_started = Instant::now();
                    let mut diagnostics = rules::check_file(&model, &settings.knowledge);
                    TIMINGS.add(&TIMINGS.file_rules, rules_started.elapsed());
                    if let Some((span, message)) = model.syntax_error.clone() {
                        diagnostics.push(
                            Diagnostic::new(Code::IL001, path.clone(), span, message)
                                .with_label("here")
                                .with_help("fix the syntax error; interlock analysed the code it could parse around it, and may miss what the error hides"),
                        );
                    }
                    (text, Some(model), diagnostics)
                }
                Err(error) => {
                    let diagnostic =
                        Diagnostic::new(Code::IL001, path.clone(), error.span, error.message)
                            .with_label("here")
                            .with_help(
                                "fix the syntax error; interlock analyses the file once it parses",
                            );
                    (text, None, vec![diagnostic])
                }
            }
        }
    };
    let suppressions = Suppressions::parse(&text, language);
    let kept = (contents_given || !suppressions.is_empty() || !diagnostics.is_empty())
        .then(|| Arc::from(text.as_ref()));
    let mut file = AnalysedFile::new(path, language, settings, model, suppressions, kept);
    // Parse and encoding errors are not suppressible by comments: only selection applies.
    file.diagnostics = diagnostics
        .into_iter()
        .filter(|d| {
            if d.code.is_file_error() {
                file.settings.is_enabled_for(d.code, &file.path)
            } else {
                file.keeps(d.code, d.span.start)
            }
        })
        .collect();
    Outcome::Analysed(Box::new(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_reported_for_its_file_only() {
        let outcome = std::thread::Builder::new()
            .name("interlock-test".into())
            .spawn(|| guarded(PathBuf::from("bad.py"), || panic!("lowering bug")))
            .unwrap()
            .join()
            .unwrap();
        match outcome {
            Outcome::Failed(error) => {
                assert_eq!(error.path, PathBuf::from("bad.py"));
                assert!(
                    error.message.contains("internal error")
                        && error.message.contains("lowering bug")
                );
            }
            Outcome::Analysed(_) => panic!("the panic was not caught"),
        }
    }
}
