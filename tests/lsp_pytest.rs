//! The end-to-end tests of `interlock server` in `tests/editors/pytest_lsp`: a real LSP client
//! (pytest-lsp, on pygls) starts the built binary and drives it as an editor would.
//!
//! They need a Python venv with pytest-lsp (`tests/editors/pytest_lsp/requirements.txt`):
//! `INTERLOCK_PYTHON_VENV`, or else `target/ci-venv` (which `.ci/run` fills). Without one the
//! test is skipped, except on CI, where it fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;

/// The whole pytest run takes seconds; a hang fails instead of blocking the suite.
const TIMEOUT: Duration = Duration::from_secs(300);

/// A venv's Python interpreter.
fn interpreter(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Whether `python` runs and can import pytest-lsp and pytest-asyncio.
fn has_pytest_lsp(python: &Path) -> bool {
    std::process::Command::new(python)
        .args(["-c", "import pytest_lsp, pytest_asyncio"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The Python to run pytest with: `INTERLOCK_PYTHON_VENV`'s (which must work when it is set),
/// else `target/ci-venv`'s if it has pytest-lsp.
fn python() -> Option<PathBuf> {
    if let Some(venv) = std::env::var_os("INTERLOCK_PYTHON_VENV") {
        let python = interpreter(Path::new(&venv));
        assert!(
            has_pytest_lsp(&python),
            "INTERLOCK_PYTHON_VENV={} has no Python with pytest-lsp ({} cannot import it)",
            Path::new(&venv).display(),
            python.display()
        );
        return Some(python);
    }
    let python = interpreter(&Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-venv"));
    has_pytest_lsp(&python).then_some(python)
}

#[test]
fn language_server_passes_the_pytest_lsp_end_to_end_tests() {
    let Some(python) = python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "no Python with pytest-lsp on CI: set INTERLOCK_PYTHON_VENV, or install \
             tests/editors/pytest_lsp/requirements.txt into target/ci-venv (.ci/run does)"
        );
        eprintln!(
            "skipped: no Python with pytest-lsp (set INTERLOCK_PYTHON_VENV to a venv with \
             tests/editors/pytest_lsp/requirements.txt installed, or install it into \
             target/ci-venv)"
        );
        return;
    };
    let output = Command::new(&python)
        .args(["-m", "pytest", "tests/editors/pytest_lsp", "-q"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("INTERLOCK_BIN", env!("CARGO_BIN_EXE_interlock"))
        // No `__pycache__` in the source tree (the cache plugin is off in pytest.ini).
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PYTEST_ADDOPTS")
        .timeout(TIMEOUT)
        .output()
        .expect("pytest runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "pytest-lsp tests failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}
