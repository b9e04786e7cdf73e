//! Where a file sits in its project: the Python module name (from package structure: a
//! directory with `__init__.py` is a package, src-layouts included) and the Rust crate and
//! module path (crate roots from the nearest `Cargo.toml`, then the `mod` tree by file path).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::source::Language;

/// A file's place in its project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleName {
    /// `pkg.sub.mod` (Python) or `my_crate::net::client` (Rust).
    pub path: String,
    /// Python: the file is a package's `__init__.py` (relative imports start from itself).
    pub is_package: bool,
    /// Rust: the crate's edition from `Cargo.toml` (2021 when unknown).
    pub edition: u16,
    /// Rust 2015: the crate's dependencies as written in code (`serde_json`); a `use` path
    /// that starts with anything else is relative to the crate root. Empty otherwise.
    pub extern_crates: std::sync::Arc<[String]>,
    /// Rust: the crate's dependencies given by a path (`moon_tool = { path = "../tool" }`,
    /// also through the workspace's `[workspace.dependencies]`), as written in code: crates of
    /// the same project, whose functions the project phase can see into. Empty otherwise.
    pub path_dependencies: std::sync::Arc<[String]>,
    /// Python, a top-level package's `__init__.py` or a module in no package: the other names
    /// it is imported by, longer through namespace directories above it (PEP 420:
    /// `google/cloud/spanner_v1/` with no `google/cloud/__init__.py` is `spanner_v1`, also
    /// `cloud.spanner_v1` and `google.cloud.spanner_v1`; `exp/main.py` with no
    /// `exp/__init__.py` is `main`, also `exp.main`), or its own short name below a src-layout
    /// namespace (`src/backend/bisheng/` is `backend.bisheng`, also `bisheng`). Empty
    /// otherwise.
    pub namespaces: Vec<String>,
}

/// A crate found from a `Cargo.toml`.
#[derive(Clone, Debug)]
struct CrateInfo {
    root: PathBuf,
    name: String,
    edition: u16,
    /// Edition 2015 only: see [`ModuleName::extern_crates`].
    extern_crates: std::sync::Arc<[String]>,
    /// See [`ModuleName::path_dependencies`].
    path_dependencies: std::sync::Arc<[String]>,
    /// The library's root file, relative to `root`, when `[lib] path` moves it from
    /// `src/lib.rs` (`path = "mod.rs"`): its directory holds the crate's modules.
    lib_path: Option<PathBuf>,
}

/// Computes module names, caching the file-system lookups they need.
#[derive(Default)]
pub struct Layout {
    crates: Mutex<HashMap<PathBuf, Option<CrateInfo>>>,
    /// Directory → whether it has an `__init__.py` (every file of a package asks for each
    /// directory above it).
    packages: Mutex<HashMap<PathBuf, bool>>,
}

impl Layout {
    /// The module name of a file.
    pub fn module_of(&self, path: &Path, language: Language) -> ModuleName {
        let absolute = crate::source::absolute(path);
        match language {
            Language::Python => self.python_module(&absolute),
            Language::Rust => self.rust_module(&absolute),
        }
    }

    fn rust_module(&self, path: &Path) -> ModuleName {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("main")
            .replace('-', "_");
        let Some(info) = path.parent().and_then(|dir| self.crate_above(dir)) else {
            return ModuleName {
                path: stem,
                is_package: false,
                edition: 2021,
                extern_crates: Default::default(),
                path_dependencies: Default::default(),
                namespaces: Vec::new(),
            };
        };
        let relative = path.strip_prefix(&info.root).unwrap_or(path);
        let parts: Vec<&str> = relative.iter().filter_map(|p| p.to_str()).collect();
        // A test, example, benchmark or binary target's file (its path below the target
        // directory), or the build script: not the library's.
        let target = match parts.as_slice() {
            ["src", "bin", rest @ ..] | ["tests" | "examples" | "benches", rest @ ..] => Some(rest),
            ["build.rs"] => Some(&parts[..1]),
            _ => None,
        };
        // Modules of a library whose root `[lib] path` moves (`path = "mod.rs"`).
        let lib_module: Option<Vec<&str>> = info
            .lib_path
            .as_deref()
            .and_then(|lib| relative.strip_prefix(lib.parent()?).ok())
            .filter(|_| target.is_none())
            .map(|rest| rest.iter().filter_map(|p| p.to_str()).collect());
        let module = match (parts.as_slice(), lib_module, target) {
            _ if info.lib_path.as_deref() == Some(relative) => info.name.clone(),
            (_, Some(rest), _) => module_path(&info.name, &rest),
            (["src", "lib.rs" | "main.rs"], ..) => info.name.clone(),
            // A module of a target that has several files (`tests/common/mod.rs` for `mod
            // common;` in `tests/api.rs`): named from the target's directory, as the target's
            // root names it.
            (_, None, Some(rest)) if rest.len() > 1 => {
                let mut segments: Vec<&str> =
                    rest.iter().map(|s| s.trim_end_matches(".rs")).collect();
                if segments.last().is_some_and(|s| *s == "mod" || *s == "main") {
                    segments.pop();
                }
                segments.join("::")
            }
            (_, None, Some(_)) => stem,
            (["src", rest @ ..], ..) => module_path(&info.name, rest),
            _ => stem,
        };
        ModuleName {
            path: module,
            is_package: false,
            edition: info.edition,
            extern_crates: info.extern_crates,
            path_dependencies: info.path_dependencies,
            namespaces: Vec::new(),
        }
    }

    /// The crate whose `Cargo.toml` is in `dir` or above it.
    fn crate_above(&self, dir: &Path) -> Option<CrateInfo> {
        if let Some(cached) = self.crates.lock().expect("layout lock").get(dir) {
            return cached.clone();
        }
        let manifest = dir.join("Cargo.toml");
        let found = if manifest.is_file() {
            read_manifest(&manifest, dir)
        } else {
            None
        };
        let found = found.or_else(|| dir.parent().and_then(|parent| self.crate_above(parent)));
        self.crates
            .lock()
            .expect("layout lock")
            .insert(dir.to_path_buf(), found.clone());
        found
    }
}

/// The crate name (hyphens as underscores), edition and (edition 2015 only) dependency names
/// of a manifest with a `[package]`. Read with `cargo_toml`, which knows every key Cargo
/// accepts, including values inherited from the workspace (`edition.workspace = true`): the
/// edition then comes from the workspace's `[workspace.package]`.
/// The module a file of a crate's module tree names: the crate, then the file's directories
/// and stem below the tree's root (`mod.rs` names its directory).
fn module_path(crate_name: &str, below_root: &[&str]) -> String {
    let mut segments: Vec<&str> = below_root
        .iter()
        .map(|s| s.trim_end_matches(".rs"))
        .collect();
    if segments.last() == Some(&"mod") {
        segments.pop();
    }
    std::iter::once(crate_name)
        .chain(segments)
        .collect::<Vec<_>>()
        .join("::")
}

fn read_manifest(path: &Path, root: &Path) -> Option<CrateInfo> {
    let manifest = parse_manifest(path)?;
    let dependencies = || {
        manifest
            .dependencies
            .iter()
            .chain(&manifest.dev_dependencies)
            .chain(&manifest.build_dependencies)
            .chain(manifest.target.values().flat_map(|t| &t.dependencies))
    };
    let package = manifest.package.as_ref()?;
    let lib = manifest.lib.clone().unwrap_or_default();
    let lib_path = lib
        .path
        .map(|path| {
            let path = Path::new(&path);
            let normal = |c: &std::path::Component| *c != std::path::Component::CurDir;
            path.components().filter(normal).collect::<PathBuf>()
        })
        .filter(|path| path != Path::new("src/lib.rs"));
    let name = lib.name.unwrap_or(package.name.clone()).replace('-', "_");
    // The workspace root's manifest, read only when a key is inherited from it.
    let workspace = std::cell::OnceCell::new();
    let workspace = || {
        workspace
            .get_or_init(|| {
                let dir = path.parent()?;
                let explicit = package
                    .workspace
                    .as_ref()
                    .map(|w| dir.join(w).join("Cargo.toml"));
                let candidates = explicit.into_iter().chain(
                    dir.ancestors()
                        .take(MAX_WORKSPACE_DEPTH)
                        .map(|d| d.join("Cargo.toml")),
                );
                candidates
                    .filter(|candidate| candidate.is_file())
                    .filter_map(|candidate| parse_manifest(&candidate)?.workspace)
                    .next()
            })
            .as_ref()
    };
    let edition = match package.edition {
        cargo_toml::Inheritable::Set(edition) => edition as u16,
        cargo_toml::Inheritable::Inherited => workspace()
            .and_then(|w| Some(w.package.as_ref()?.edition? as u16))
            .unwrap_or(2021),
    };
    let extern_crates = match edition {
        2015 => dependencies()
            .map(|(name, _)| name.replace('-', "_"))
            .collect(),
        _ => Default::default(),
    };
    let by_path = |name: &str, dependency: &cargo_toml::Dependency| match dependency {
        cargo_toml::Dependency::Detailed(detail) => detail.path.is_some(),
        cargo_toml::Dependency::Inherited(_) => workspace().is_some_and(|w| {
            w.dependencies
                .get(name)
                .is_some_and(|d| d.detail().is_some_and(|d| d.path.is_some()))
        }),
        cargo_toml::Dependency::Simple(_) => false,
    };
    let path_dependencies = dependencies()
        .filter(|(name, dependency)| by_path(name, dependency))
        .map(|(name, _)| name.replace('-', "_"))
        .collect();
    Some(CrateInfo {
        root: root.to_path_buf(),
        name,
        edition,
        extern_crates,
        path_dependencies,
        lib_path,
    })
}

/// How many directories above a member a workspace root is looked for.
const MAX_WORKSPACE_DEPTH: usize = 8;

/// A `Cargo.toml`, read within the configuration size limit and parsed without looking at
/// the file system around it.
fn parse_manifest(path: &Path) -> Option<cargo_toml::Manifest> {
    let bytes = crate::source::read_regular(path, crate::config::MAX_CONFIG_BYTES).ok()?;
    if bytes.len() as u64 > crate::config::MAX_CONFIG_BYTES {
        return None;
    }
    let text = String::from_utf8(bytes).ok()?;
    cargo_toml::Manifest::from_str(&text).ok()
}

impl Layout {
    /// `pkg/sub/mod.py` → `pkg.sub.mod` when `pkg/` and `pkg/sub/` have an `__init__.py`.
    fn python_module(&self, path: &Path) -> ModuleName {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        let is_package = stem == "__init__";
        let mut segments = if is_package { Vec::new() } else { vec![stem] };
        // The package reaches up to the highest directory with an `__init__.py`, through at most
        // two directories without one in a row: namespace packages inside a regular package
        // (PEP 420; `custom_components/sonoff/core/` with no `__init__.py` is `sonoff.core`).
        let ancestors: Vec<&Path> = path.ancestors().skip(1).collect();
        let mut top = None;
        let mut gap = 0;
        for (i, dir) in ancestors.iter().enumerate() {
            if self.is_package(dir) {
                top = Some(i);
                gap = 0;
            } else {
                gap += 1;
                if gap > 2 {
                    break;
                }
            }
        }
        // A src-layout's namespace package (PEP 420: `src/diracx/db/__init__.py` with no
        // `diracx/__init__.py`): the name starts below `src/`. The package may as well be run
        // from the directory above it (`src/backend/bisheng/`, imported as `bisheng.…`): its
        // `__init__.py` also gives it its own name.
        let mut own_name = None;
        if let Some(found) = top
            && let Some(src) = ancestors
                .iter()
                .skip(found + 1)
                .take(3)
                .position(|dir| dir.file_name().is_some_and(|n| n == "src"))
            && src > 0
        {
            if is_package && found == 0 {
                own_name = ancestors[0].file_name().and_then(|n| n.to_str());
            }
            top = Some(found + src);
        }
        for dir in &ancestors[..top.map_or(0, |top| top + 1)] {
            match dir.file_name().and_then(|n| n.to_str()) {
                Some(name) => segments.push(name.to_string()),
                None => break,
            }
        }
        segments.reverse();
        let path = segments.join(".");
        let mut namespaces = Vec::new();
        // A top-level package, or a module in no package (`data_provider/factory.py`, with no
        // `__init__.py`, is also `data_provider.factory` to a script beside the directory).
        let outer_dirs = match (top, is_package, segments.as_slice()) {
            (Some(top), true, [_]) => Some(top + 1),
            (None, false, [_]) => Some(0),
            _ => None,
        };
        if let Some(first) = outer_dirs {
            let mut name = path.clone();
            for dir in ancestors.iter().skip(first).take(MAX_NAMESPACE_DEPTH) {
                let Some(outer) = dir.file_name().and_then(|n| n.to_str()) else {
                    break;
                };
                let identifier = outer.chars().all(|c| c.is_alphanumeric() || c == '_')
                    && !outer.starts_with(|c: char| c.is_ascii_digit());
                let project_root = PROJECT_ROOT_FILES.iter().any(|f| dir.join(f).exists());
                if !identifier
                    || project_root
                    || NOT_NAMESPACES.contains(&outer)
                    || self.is_package(dir)
                {
                    break;
                }
                name = format!("{outer}.{name}");
                namespaces.push(name.clone());
            }
        }
        namespaces.extend(own_name.map(str::to_string));
        ModuleName {
            path,
            is_package,
            edition: 2021,
            extern_crates: Default::default(),
            path_dependencies: Default::default(),
            namespaces,
        }
    }

    /// Whether `dir` is a regular package (has an `__init__.py`).
    fn is_package(&self, dir: &Path) -> bool {
        if let Some(known) = self.packages.lock().expect("layout lock").get(dir) {
            return *known;
        }
        let package = dir.join("__init__.py").is_file();
        self.packages
            .lock()
            .expect("layout lock")
            .insert(dir.to_path_buf(), package);
        package
    }
}

/// How many namespace directories above a top-level package name it (`google.cloud`).
const MAX_NAMESPACE_DEPTH: usize = 3;

/// Files that mark a project's root directory, which is no namespace.
const PROJECT_ROOT_FILES: &[&str] = &[
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "Cargo.toml",
    ".git",
];

/// Directories that hold packages without being a namespace of theirs.
const NOT_NAMESPACES: &[&str] = &["src", "lib", "site-packages", "dist-packages", "tests"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_modules_follow_packages_and_rust_modules_follow_the_crate() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/shop/api")).unwrap();
        std::fs::write(root.join("src/shop/__init__.py"), "").unwrap();
        std::fs::write(root.join("src/shop/api/__init__.py"), "").unwrap();
        let layout = Layout::default();
        let module = layout.module_of(&root.join("src/shop/api/views.py"), Language::Python);
        assert_eq!(module.path, "shop.api.views");
        let package = layout.module_of(&root.join("src/shop/__init__.py"), Language::Python);
        assert_eq!((package.path.as_str(), package.is_package), ("shop", true));
        // A directory without `__init__.py` inside a package is a namespace package in it.
        std::fs::create_dir_all(root.join("src/shop/core/util")).unwrap();
        let helper = layout.module_of(&root.join("src/shop/core/util/x.py"), Language::Python);
        assert_eq!(helper.path, "shop.core.util.x");
        // A src-layout namespace package: `src/org/tools/` has an `__init__.py`, `src/org/` none.
        std::fs::create_dir_all(root.join("src/org/tools")).unwrap();
        std::fs::write(root.join("src/org/tools/__init__.py"), "").unwrap();
        let tool = layout.module_of(&root.join("src/org/tools/db.py"), Language::Python);
        assert_eq!(tool.path, "org.tools.db");
        std::fs::create_dir_all(root.join("scripts")).unwrap();
        let script = layout.module_of(&root.join("scripts/run.py"), Language::Python);
        assert_eq!(script.path, "run");

        std::fs::create_dir_all(root.join("ledger/src/config")).unwrap();
        std::fs::write(
            root.join("ledger/Cargo.toml"),
            "[package]\nname = \"my-ledger\"\nedition = \"2024\"\n",
        )
        .unwrap();
        let lib = layout.module_of(&root.join("ledger/src/lib.rs"), Language::Rust);
        assert_eq!((lib.path.as_str(), lib.edition), ("my_ledger", 2024));
        let config = layout.module_of(&root.join("ledger/src/config/mod.rs"), Language::Rust);
        assert_eq!(config.path, "my_ledger::config");
        let db = layout.module_of(&root.join("ledger/src/config/db.rs"), Language::Rust);
        assert_eq!(db.path, "my_ledger::config::db");

        // A workspace member inheriting its edition, version and more from the root.
        std::fs::create_dir_all(root.join("ws/crates/engine/src")).unwrap();
        std::fs::write(
            root.join("ws/Cargo.toml"),
            "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n\n[workspace.package]\nversion = \"0.3.0\"\nedition = \"2024\"\nlicense = \"MIT\"\n\n[workspace.dependencies]\nparking_lot = \"0.12\"\n",
        )
        .unwrap();
        std::fs::write(
            root.join("ws/crates/engine/Cargo.toml"),
            "[package]\nname = \"ws-engine\"\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\n\n[dependencies]\nparking_lot.workspace = true\n",
        )
        .unwrap();
        let engine = layout.module_of(&root.join("ws/crates/engine/src/lib.rs"), Language::Rust);
        assert_eq!((engine.path.as_str(), engine.edition), ("ws_engine", 2024));
    }

    #[test]
    fn a_library_root_moved_by_lib_path_roots_the_module_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("service");
        std::fs::create_dir_all(root.join("rooms/short")).unwrap();
        std::fs::create_dir_all(root.join("tests")).unwrap();
        let manifest = "[package]\nname = \"chat-service\"\n\n[lib]\npath = \"./mod.rs\"\n";
        std::fs::write(root.join("Cargo.toml"), manifest).unwrap();
        let layout = Layout::default();
        let name = |file: &str| layout.module_of(&root.join(file), Language::Rust).path;
        assert_eq!(name("mod.rs"), "chat_service");
        assert_eq!(name("admin.rs"), "chat_service::admin");
        assert_eq!(name("rooms/mod.rs"), "chat_service::rooms");
        assert_eq!(name("rooms/short/mod.rs"), "chat_service::rooms::short");
        // Cargo's own targets keep their names.
        assert_eq!(name("tests/smoke.rs"), "smoke");
        assert_eq!(name("build.rs"), "build");
    }

    #[test]
    fn the_modules_of_a_test_target_are_named_from_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("layer");
        std::fs::create_dir_all(root.join("tests/common")).unwrap();
        std::fs::create_dir_all(root.join("src/bin/tool")).unwrap();
        std::fs::write(root.join("Cargo.toml"), "[package]\nname = \"layer\"\n").unwrap();
        let layout = Layout::default();
        let name = |file: &str| layout.module_of(&root.join(file), Language::Rust).path;
        assert_eq!(name("tests/fileops.rs"), "fileops");
        assert_eq!(name("tests/common/mod.rs"), "common");
        assert_eq!(name("tests/common/process.rs"), "common::process");
        assert_eq!(name("src/bin/tool/main.rs"), "tool");
        assert_eq!(name("src/bin/tool/args.rs"), "tool::args");
    }

    #[test]
    fn a_module_in_no_package_is_also_named_through_its_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("trainer");
        std::fs::create_dir_all(root.join("data_provider")).unwrap();
        std::fs::create_dir_all(root.join("tests")).unwrap();
        std::fs::write(root.join("pyproject.toml"), "").unwrap();
        let layout = Layout::default();
        let module = |file: &str| layout.module_of(&root.join(file), Language::Python);
        let factory = module("data_provider/factory.py");
        assert_eq!(factory.path, "factory");
        assert_eq!(factory.namespaces, ["data_provider.factory"]);
        // Not through the project's root, nor through a directory that holds tests.
        assert!(module("run.py").namespaces.is_empty());
        assert!(module("tests/test_run.py").namespaces.is_empty());
    }

    #[test]
    fn a_top_level_package_under_namespace_directories_is_also_named_through_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("google/cloud/spanner/_async")).unwrap();
        std::fs::write(root.join("google/cloud/spanner/__init__.py"), "").unwrap();
        let layout = Layout::default();
        let package = layout.module_of(
            &root.join("google/cloud/spanner/__init__.py"),
            Language::Python,
        );
        assert_eq!(package.path, "spanner");
        let names = [
            "cloud.spanner",
            "google.cloud.spanner",
            "repo.google.cloud.spanner",
        ];
        assert_eq!(package.namespaces, names);
        // Not through the project's root directory.
        std::fs::write(root.join("pyproject.toml"), "").unwrap();
        let package = layout.module_of(
            &root.join("google/cloud/spanner/__init__.py"),
            Language::Python,
        );
        assert_eq!(
            package.namespaces,
            ["cloud.spanner", "google.cloud.spanner"]
        );
        // Only the package itself carries them; its modules are reached through it.
        let module = layout.module_of(
            &root.join("google/cloud/spanner/_async/db.py"),
            Language::Python,
        );
        assert_eq!(
            (module.path.as_str(), module.namespaces.len()),
            ("spanner._async.db", 0)
        );
        // Not through `src/` or a directory that is not an identifier.
        std::fs::create_dir_all(root.join("src/app")).unwrap();
        std::fs::write(root.join("src/app/__init__.py"), "").unwrap();
        let app = layout.module_of(&root.join("src/app/__init__.py"), Language::Python);
        assert!(app.namespaces.is_empty());
    }

    #[test]
    fn a_package_below_a_src_layout_namespace_is_also_named_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/backend/bisheng/api")).unwrap();
        std::fs::write(root.join("src/backend/bisheng/__init__.py"), "").unwrap();
        std::fs::write(root.join("src/backend/bisheng/api/__init__.py"), "").unwrap();
        let layout = Layout::default();
        let module = |file: &str| layout.module_of(&root.join(file), Language::Python);
        let package = module("src/backend/bisheng/__init__.py");
        assert_eq!(package.path, "backend.bisheng");
        assert_eq!(package.namespaces, ["bisheng"]);
        // Its subpackages and modules are reached through it.
        let api = module("src/backend/bisheng/api/__init__.py");
        assert_eq!(
            (api.path.as_str(), api.namespaces.len()),
            ("backend.bisheng.api", 0)
        );
    }
}
