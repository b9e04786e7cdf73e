//! The pre-commit hook as users consume it: a remote `repo:` at a `rev:`, built by pre-commit
//! itself with `cargo install` (`language: rust` in `.pre-commit-hooks.yaml`).
//!
//! The hook repository is a snapshot of this working tree (tracked and untracked, not ignored,
//! files) committed into a temporary git repository, so the test covers uncommitted changes too.
//! pre-commit clones it, builds it offline (`CARGO_NET_OFFLINE=true`, the dependencies being in
//! the cargo cache since this test was built) and runs it on a second repository.
//!
//! Building interlock takes minutes even with the release profile overridden to build fast, so
//! the test runs only with `INTERLOCK_SLOW_TESTS=1` (`.ci/run` sets it). Needs `git` and
//! pre-commit (`INTERLOCK_PRE_COMMIT`, else `pre-commit` on the `PATH`).

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::run_with_timeout;

use tempfile::TempDir;

/// Generous bound on pre-commit's clone and `cargo install` (minutes from cold on two cores).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Bound on one `pre-commit run` once the hook is installed.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// `time.sleep` in an async function: IL101.
const BAD_PY: &str = "async def f():\n    import time\n    time.sleep(1)\n";
const FIXED_PY: &str = "async def f():\n    import asyncio\n    await asyncio.sleep(1)\n";
const GOOD_PY: &str = "import asyncio\n\n\nasync def nap():\n    await asyncio.sleep(1)\n";

/// A note on standard error that shows even though the test harness captures output.
fn note(text: &str) {
    writeln!(std::io::stderr(), "{text}").ok();
}

/// Whether to run: `INTERLOCK_SLOW_TESTS=1` runs, `0` (or unset outside CI) skips with a
/// message. Unset on CI is an error, so that a CI job cannot skip the test without saying so.
fn slow_tests_enabled(test: &str) -> bool {
    match std::env::var("INTERLOCK_SLOW_TESTS").ok().as_deref() {
        Some("1") => true,
        Some("0") => {
            note(&format!("{test}: skipped (INTERLOCK_SLOW_TESTS=0)"));
            false
        }
        Some(other) => panic!("INTERLOCK_SLOW_TESTS={other:?}: expected 1 or 0"),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: INTERLOCK_SLOW_TESTS is unset on CI; set it to 1 to run the slow tests \
                 (as .ci/run does) or to 0 to skip them"
            );
            note(&format!(
                "{test}: skipped: it builds interlock with `cargo install` through pre-commit, \
                 which takes minutes; set INTERLOCK_SLOW_TESTS=1 to run it"
            ));
            false
        }
    }
}

/// The `pre-commit` executable: `INTERLOCK_PRE_COMMIT`, or `pre-commit` on the `PATH`.
fn pre_commit() -> PathBuf {
    let candidate = std::env::var_os("INTERLOCK_PRE_COMMIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("pre-commit"));
    let works = Command::new(&candidate)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        works,
        "INTERLOCK_SLOW_TESTS=1 but pre-commit ({}) does not run; install it (`pip install \
         pre-commit`, as .ci/run does) or point INTERLOCK_PRE_COMMIT at it",
        candidate.display()
    );
    candidate
}

/// A command that ignores any `GIT_*` variables of the caller (e.g. `GIT_DIR` when the tests run
/// from a git hook), which would otherwise point git at another repository.
fn command(program: impl AsRef<OsStr>, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command.current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GIT_") {
            command.env_remove(name);
        }
    }
    command
}

/// `git ARGS...` in `dir`, which must succeed; its standard output.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = command("git", dir)
        .args([
            "-c",
            "user.name=interlock tests",
            "-c",
            "user.email=tests@interlock.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.autocrlf=false",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} in {dir:?}: {output:?}"
    );
    String::from_utf8(output.stdout).expect("UTF-8 from git")
}

/// Copies the working tree's files (tracked or untracked, not ignored; deleted ones skipped)
/// into `into` and commits them there as a new git repository; the commit's hash.
fn snapshot_of_this_repository(into: &Path) -> String {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"));
    let listing = git(
        source,
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
    );
    let mut copied = 0;
    for file in listing.split('\0').filter(|f| !f.is_empty()) {
        let from = source.join(file);
        if !from.is_file() {
            continue; // Deleted in the working tree, or a submodule.
        }
        let to = into.join(file);
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("create directories");
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {from:?}: {e}"));
        copied += 1;
    }
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        ".pre-commit-hooks.yaml",
        "src/main.rs",
    ] {
        assert!(into.join(needed).is_file(), "{needed} not in the snapshot");
    }
    assert!(copied > 10, "only {copied} files listed by git");
    git(into, &["init", "-q"]);
    git(into, &["add", "-A"]);
    git(into, &["commit", "-q", "-m", "snapshot"]);
    git(into, &["rev-parse", "HEAD"]).trim().to_owned()
}

#[test]
fn remote_rust_hook_is_built_by_pre_commit_and_fails_then_passes() {
    let test = "remote_rust_hook_is_built_by_pre_commit_and_fails_then_passes";
    if !slow_tests_enabled(test) {
        return;
    }
    let pre_commit = pre_commit();
    let temp = TempDir::new().expect("a temporary directory");
    let hook_repo = temp.path().join("interlock");
    let project = temp.path().join("project");
    let pre_commit_home = temp.path().join("pre-commit-home");
    std::fs::create_dir_all(&hook_repo).unwrap();
    std::fs::create_dir_all(&project).unwrap();

    let rev = snapshot_of_this_repository(&hook_repo);
    let hooks = std::fs::read_to_string(hook_repo.join(".pre-commit-hooks.yaml")).unwrap();
    assert!(hooks.contains("language: rust"), "{hooks}");

    std::fs::write(
        project.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: interlock\n",
            hook_repo.display()
        ),
    )
    .unwrap();
    std::fs::write(project.join("bad.py"), BAD_PY).unwrap();
    std::fs::write(project.join("good.py"), GOOD_PY).unwrap();
    git(&project, &["init", "-q"]);
    git(&project, &["add", "-A"]);

    // Kept between runs (under `target/`), so that only interlock itself is rebuilt next time.
    let cargo_target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pre-commit-rust-hook");
    let pre_commit_command = |args: &[&str]| {
        let mut pre_commit = command(&pre_commit, &project);
        pre_commit
            .args(args)
            .env("PRE_COMMIT_HOME", &pre_commit_home)
            .env("NO_COLOR", "1")
            // Passed through pre-commit to `cargo install`: offline, as documented for machines
            // without network access, and a quick build instead of the fat-LTO release profile.
            .env("CARGO_NET_OFFLINE", "true")
            .env("CARGO_TARGET_DIR", &cargo_target)
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
            .env("CARGO_PROFILE_RELEASE_DEBUG", "false");
        pre_commit
    };
    let log = || {
        std::fs::read_to_string(pre_commit_home.join("pre-commit.log"))
            .unwrap_or_else(|_| "(no pre-commit.log)".to_owned())
    };

    // Clone at `rev` and `cargo install --bins --path` the clone.
    let start = Instant::now();
    let (code, text) = run_with_timeout(pre_commit_command(&["install-hooks"]), INSTALL_TIMEOUT);
    assert_eq!(code, Some(0), "{text}\n{}", log());
    note(&format!(
        "{test}: hook built and installed in {:.0?}",
        start.elapsed()
    ));
    let installed: Vec<PathBuf> = std::fs::read_dir(&pre_commit_home)
        .unwrap()
        .flat_map(|repo| {
            std::fs::read_dir(repo.unwrap().path())
                .into_iter()
                .flatten()
        })
        .map(|entry| entry.unwrap().path())
        .filter(|env| {
            env.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("rustenv-"))
        })
        .map(|env| env.join("bin").join("interlock"))
        .filter(|binary| binary.is_file())
        .collect();
    assert_eq!(installed.len(), 1, "{installed:?}\n{text}");

    let (code, text) = run_with_timeout(pre_commit_command(&["run", "--all-files"]), RUN_TIMEOUT);
    assert_eq!(code, Some(1), "{text}\n{}", log());
    assert!(text.contains("IL101"), "{text}");
    assert!(text.contains("bad.py"), "{text}");
    assert!(!text.contains("good.py"), "{text}");

    std::fs::write(project.join("bad.py"), FIXED_PY).unwrap();
    git(&project, &["add", "-A"]);
    let (code, text) = run_with_timeout(pre_commit_command(&["run", "--all-files"]), RUN_TIMEOUT);
    assert_eq!(code, Some(0), "{text}\n{}", log());
    assert!(text.contains("Passed"), "{text}");
}
