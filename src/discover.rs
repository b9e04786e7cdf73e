//! File discovery: walks the given paths with the `ignore` crate (honouring `.gitignore`),
//! skipping excluded paths; explicitly named files are always checked unless `--force-exclude`.
//! Only regular files are read: a FIFO, device or socket met in a walk is skipped quietly (as
//! Ruff does), one named explicitly is an error.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::analysis::{FileError, Input};
use crate::config::Resolver;
use crate::source::Language;

/// The files to analyse under `paths`, plus the paths that could not be used.
/// The project each file belongs to: its nearest ancestor holding `.git`, or else the nearest
/// holding a config file or manifest (`interlock.toml`, `pyproject.toml`, `Cargo.toml`…), or else
/// its own directory. Each root once.
pub fn project_roots(files: &std::collections::HashSet<PathBuf>) -> Vec<PathBuf> {
    const MARKERS: &[&str] = &[
        "interlock.toml",
        ".interlock.toml",
        "pyproject.toml",
        "setup.py",
        "Cargo.toml",
    ];
    let mut roots: Vec<PathBuf> = Vec::new();
    for file in files {
        let Some(directory) = file.parent() else {
            continue;
        };
        let ancestors: Vec<&Path> = directory.ancestors().collect();
        let root = ancestors
            .iter()
            .find(|a| a.join(".git").exists())
            .or_else(|| {
                ancestors
                    .iter()
                    .find(|a| MARKERS.iter().any(|m| a.join(m).is_file()))
            })
            .copied()
            .unwrap_or(directory);
        // Shown relative to the working directory when under it, like the paths users give.
        let cwd = std::env::current_dir().unwrap_or_default();
        let root = match root.strip_prefix(&cwd) {
            Ok(relative) if relative.as_os_str().is_empty() => PathBuf::from("."),
            Ok(relative) => relative.to_path_buf(),
            Err(_) => root.to_path_buf(),
        };
        if !roots.contains(&root) {
            roots.push(root);
        }
    }
    roots.sort();
    roots
}

pub fn discover(
    paths: &[PathBuf],
    resolver: Resolver,
    force_exclude: bool,
) -> Result<(Vec<Input>, Vec<FileError>), String> {
    let resolver = Arc::new(Mutex::new(resolver));
    let mut inputs: Vec<Input> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // A file reached twice (`interlock check app.py .`) is analysed once, under its first name.
    let mut first_visit = |path: &Path| seen.insert(crate::source::absolute(path));
    let mut errors = Vec::new();
    for root in paths {
        let metadata = match std::fs::metadata(root) {
            Ok(metadata) => metadata,
            Err(error) => {
                errors.push(FileError {
                    path: root.clone(),
                    message: format!("could not read path: {error}"),
                });
                continue;
            }
        };
        if !metadata.is_dir() {
            let settings = resolver.lock().expect("resolver lock").settings_for(root)?;
            if force_exclude && settings.is_excluded_with_ancestors(root) {
                continue;
            }
            if !metadata.is_file() {
                // Named explicitly, so an error; never opened (a FIFO would block).
                errors.push(FileError {
                    path: root.clone(),
                    message: format!(
                        "not a regular file ({}), not analysed",
                        crate::source::kind_of(metadata.file_type())
                    ),
                });
                continue;
            }
            if !first_visit(root) {
                continue;
            }
            match Language::of_file(root) {
                Some(language) => inputs.push(Input {
                    path: root.clone(),
                    language,
                    settings,
                    contents: None,
                }),
                None => errors.push(FileError {
                    path: root.clone(),
                    message: "not a Python (.py, .pyi, or a script whose `#!` line names Python) or Rust (.rs) file".to_string(),
                }),
            }
            continue;
        }
        let filter_resolver = resolver.clone();
        let walker = ignore::WalkBuilder::new(root)
            .hidden(false)
            .filter_entry(move |entry| {
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                let path = entry.path();
                if !is_dir && path.extension().is_some() && Language::from_path(path).is_none() {
                    return true; // not a source file: skipped below, no need to match excludes
                }
                let mut resolver = filter_resolver.lock().expect("resolver lock");
                !is_excluded(&mut resolver, path, is_dir)
            })
            .build();
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    let path = match &error {
                        ignore::Error::WithPath { path, .. } => path.clone(),
                        _ => root.clone(),
                    };
                    errors.push(FileError {
                        path,
                        message: format!("could not read path: {error}"),
                    });
                    continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let Some(language) = Language::of_file(entry.path()) else {
                continue;
            };
            let path = entry.into_path();
            let path = path
                .strip_prefix("./")
                .map(Path::to_path_buf)
                .unwrap_or(path);
            if !first_visit(&path) {
                continue;
            }
            let settings = resolver
                .lock()
                .expect("resolver lock")
                .settings_for_entry(&path, false)?;
            inputs.push(Input {
                path,
                language,
                settings,
                contents: None,
            });
        }
    }
    Ok((inputs, errors))
}

fn is_excluded(resolver: &mut Resolver, path: &Path, is_dir: bool) -> bool {
    // A broken config is reported when the file's settings are looked up; do not hide it here.
    resolver
        .settings_for_entry(path, is_dir)
        .is_ok_and(|settings| {
            settings.is_excluded(path)
                && !(is_dir
                    && settings.is_excluded_by_default_only(path)
                    && is_rust_module_dir(path))
        })
}

/// Whether a directory is a Rust module's (`src/dist/` after `mod dist;` in `src/lib.rs`, or
/// next to `src/dist.rs`): source code, although its name is one the default exclusions give
/// to build output.
fn is_rust_module_dir(path: &Path) -> bool {
    let (Some(name), Some(parent)) = (path.file_name().and_then(|n| n.to_str()), path.parent())
    else {
        return false;
    };
    if parent.join(format!("{name}.rs")).is_file() {
        return true;
    }
    let declares = |file: &Path| {
        std::fs::read_to_string(file).is_ok_and(|text| {
            text.match_indices("mod ").any(|(at, _)| {
                let rest = text[at + 4..].trim_start();
                rest.strip_prefix(name)
                    .is_some_and(|after| after.trim_start().starts_with([';', '{']))
            })
        })
    };
    ["mod.rs", "lib.rs", "main.rs"]
        .iter()
        .any(|file| declares(&parent.join(file)))
}
