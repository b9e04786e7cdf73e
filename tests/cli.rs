//! Integration tests of the `interlock` binary: exit codes, output formats, rule selection,
//! configuration, file discovery, standard input, suppression comments and hostile input.
//!
//! Each test writes a small project into a temporary directory and runs the binary there.
//! Tests marked `#[ignore = "bug: ..."]` demonstrate known bugs; run them with
//! `cargo test --test cli -- --ignored`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

/// No test should take this long; a hang fails instead of blocking the suite.
const TIMEOUT: Duration = Duration::from_secs(120);

/// `time.sleep` (IL101, at 5:5) in an async function.
const SLEEPY_PY: &str = "import time\n\n\nasync def main():\n    time.sleep(1)\n";

/// IL101 at 5:5 and IL102 (`open`) at 6:10.
const SLEEPY_AND_OPEN_PY: &str = "\
import time


async def main():
    time.sleep(1)
    with open(\"data.txt\") as fh:
        fh.read()
";

/// Nothing to report.
const CLEAN_PY: &str = "import asyncio\n\n\nasync def main():\n    await asyncio.sleep(1)\n";

/// `std::thread::sleep` (IL101, at 2:5) in an async fn.
const SLEEPY_RS: &str = "\
pub async fn run() {
    std::thread::sleep(std::time::Duration::from_secs(1));
}
";

/// Text that shows the process panicked or died instead of reporting.
const CRASH_MARKERS: &[&str] = &["panicked", "overflow", "internal error", "RUST_BACKTRACE"];

/// A temporary project directory.
struct Project {
    dir: TempDir,
}

impl Project {
    fn new() -> Project {
        Project {
            dir: TempDir::new().expect("a temporary directory"),
        }
    }

    /// A project holding these `(relative path, contents)` files.
    fn with(files: &[(&str, &str)]) -> Project {
        let project = Project::new();
        for (path, contents) in files {
            project.write(path, contents);
        }
        project
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating its directories).
    fn write(&self, path: &str, contents: impl AsRef<[u8]>) -> &Project {
        let full = self.root().join(path);
        std::fs::create_dir_all(full.parent().expect("a parent")).expect("create directories");
        std::fs::write(full, contents).expect("write a file");
        self
    }

    /// `interlock ARGS...` run in the project directory, without colours.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_interlock"));
        command
            .args(args)
            .current_dir(self.root())
            .env("NO_COLOR", "1")
            .timeout(TIMEOUT);
        command
    }

    /// Runs `interlock ARGS...` and captures the outcome.
    fn run(&self, args: &[&str]) -> Run {
        Run::of(&mut self.command(args))
    }

    /// Runs `interlock check --output-format concise ARGS...`.
    fn check(&self, args: &[&str]) -> Run {
        let mut all = vec!["check", "--output-format", "concise"];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// Runs `interlock check ARGS...` with `stdin` as standard input.
    fn check_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut all = vec!["check"];
        all.extend_from_slice(args);
        Run::of(self.command(&all).write_stdin(stdin))
    }
}

/// The outcome of one run: exit code (`None` if killed by a signal), stdout and stderr.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn of(command: &mut Command) -> Run {
        let output = command.output().expect("interlock runs");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The findings of concise output as `path:row:col CODE` (without a leading `./`).
    fn findings(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|line| {
                let (location, rest) = line.split_once(": ")?;
                let code = rest.split_whitespace().next()?;
                code.starts_with("IL").then(|| {
                    let location = location.strip_prefix("./").unwrap_or(location);
                    format!("{location} {code}")
                })
            })
            .collect()
    }

    /// The codes reported, in order.
    fn codes(&self) -> Vec<String> {
        self.findings()
            .iter()
            .map(|f| f.rsplit(' ').next().unwrap_or_default().to_string())
            .collect()
    }

    /// Asserts the exit code, showing the whole run when it differs.
    fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit code: {self:#?}");
        self
    }

    /// Asserts the process finished by itself with 0 or 1 and did not panic or overflow.
    fn assert_no_crash(&self) -> &Run {
        assert!(
            matches!(self.code, Some(0 | 1)),
            "expected exit 0 or 1: {self:#?}"
        );
        for marker in CRASH_MARKERS {
            assert!(!self.stderr.contains(marker), "crash on stderr: {self:#?}");
        }
        self
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------------------------

#[test]
fn clean_code_exits_0_with_all_checks_passed() {
    let project = Project::with(&[("app.py", CLEAN_PY), ("lib.rs", "pub fn f() {}\n")]);
    let run = project.run(&["check"]);
    run.assert_code(0);
    assert!(run.stdout.contains("All checks passed!"), "{run:#?}");
    assert_eq!(run.stderr, "");
}

#[test]
fn findings_exit_1() {
    let project = Project::with(&[("app.py", SLEEPY_PY)]);
    let run = project.check(&[]);
    run.assert_code(1);
    assert_eq!(run.findings(), strings(&["app.py:5:5 IL101"]));
    assert!(run.stdout.contains("Found 1 error."), "{run:#?}");
}

#[test]
fn exit_zero_exits_0_but_still_reports() {
    let project = Project::with(&[("app.py", SLEEPY_PY)]);
    let run = project.check(&["--exit-zero"]);
    run.assert_code(0);
    assert_eq!(run.findings(), strings(&["app.py:5:5 IL101"]));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let project = Project::with(&[("app.py", SLEEPY_PY)]);
    project
        .command(&["check", "--no-such-flag"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("--no-such-flag"));
}

#[test]
fn unknown_selector_is_a_usage_error() {
    let project = Project::with(&[("app.py", SLEEPY_PY)]);
    project
        .command(&["check", "--select", "XYZ"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("XYZ"));
    project
        .command(&["check", "--ignore", "IL9"])
        .assert()
        .code(2);
}

#[test]
fn unknown_output_format_is_a_usage_error() {
    let project = Project::with(&[("app.py", SLEEPY_PY)]);
    project
        .command(&["check", "--output-format", "xml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("xml"));
}

#[test]
fn missing_subcommand_is_a_usage_error() {
    Project::new().command(&[]).assert().code(2);
}

#[test]
fn nonexistent_path_exits_2_but_other_paths_are_still_checked() {
    let project = Project::with(&[("app.py", SLEEPY_PY)]);
    let run = project.check(&["missing.py", "app.py"]);
    run.assert_code(2);
    assert_eq!(run.findings(), strings(&["app.py:5:5 IL101"]));
    assert!(run.stderr.contains("missing.py"), "{run:#?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:#?}");
}

// ---------------------------------------------------------------------------------------------
// Output formats
// ---------------------------------------------------------------------------------------------

#[test]
fn concise_format_prints_one_line_per_finding() {
    let project = Project::with(&[("app.py", SLEEPY_AND_OPEN_PY)]);
    let run = project.check(&["app.py"]);
    run.assert_code(1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run:#?}");
    assert!(lines[0].starts_with("app.py:5:5: IL101 "), "{run:#?}");
    assert!(lines[0].contains("time.sleep"), "{run:#?}");
    assert!(lines[1].starts_with("app.py:6:10: IL102 "), "{run:#?}");
    assert_eq!(lines[2], "Found 2 errors.");
}

#[test]
fn json_format_is_an_array_of_ruff_style_objects() {
    let project = Project::with(&[("app.py", SLEEPY_AND_OPEN_PY)]);
    let run = project.run(&["check", "--output-format", "json"]);
    run.assert_code(1);
    let value: Value = serde_json::from_str(&run.stdout).expect("valid JSON");
    let items = value.as_array().expect("a JSON array");
    assert_eq!(items.len(), 2);

    let first = &items[0];
    assert_eq!(first["code"], "IL101");
    assert!(first["message"].as_str().unwrap().contains("time.sleep"));
    let filename = first["filename"].as_str().expect("a filename");
    assert!(filename.ends_with("app.py"), "{filename}");
    assert_eq!(first["location"]["row"], 5);
    assert_eq!(first["location"]["column"], 5);
    assert_eq!(first["end_location"]["row"], 5);
    // `time.sleep(1)` is 13 characters long: the end is exclusive.
    assert_eq!(first["end_location"]["column"], 18);
    assert_eq!(first["help"], "use await asyncio.sleep(...)");
    assert!(first["related"].as_array().is_some(), "{first}");

    let second = &items[1];
    assert_eq!(second["code"], "IL102");
    assert_eq!(second["location"]["row"], 6);
    assert_eq!(second["location"]["column"], 10);
}

#[test]
fn json_format_without_findings_is_an_empty_array() {
    let project = Project::with(&[("app.py", CLEAN_PY)]);
    let run = project.run(&["check", "--output-format", "json"]);
    run.assert_code(0);
    let value: Value = serde_json::from_str(&run.stdout).expect("valid JSON");
    assert_eq!(value, Value::Array(Vec::new()));
}

#[test]
fn json_lines_format_prints_one_object_per_line() {
    let project = Project::with(&[("app.py", SLEEPY_AND_OPEN_PY), ("lib.rs", SLEEPY_RS)]);
    let run = project.run(&["check", "--output-format", "json-lines"]);
    run.assert_code(1);
    let objects: Vec<Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    let codes: Vec<&str> = objects
        .iter()
        .map(|o| o["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["IL101", "IL102", "IL101"]);
    for object in &objects {
        assert!(object.is_object());
        assert!(object["location"]["row"].as_u64().unwrap() >= 1);
        assert!(object["location"]["column"].as_u64().unwrap() >= 1);
    }
    assert!(objects[2]["filename"].as_str().unwrap().ends_with("lib.rs"));
}

#[test]
fn full_format_is_the_default_and_shows_code_source_and_help() {
    let project = Project::with(&[("app.py", SLEEPY_PY)]);
    let run = project.run(&["check"]);
    run.assert_code(1);
    assert!(run.stdout.contains("IL101"), "{run:#?}");
    assert!(run.stdout.contains("app.py:5:5"), "{run:#?}");
    assert!(run.stdout.contains("    time.sleep(1)"), "{run:#?}");
    assert!(
        run.stdout.contains("use await asyncio.sleep(...)"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("Found 1 error."), "{run:#?}");
    // Not a terminal and NO_COLOR: no escape sequences.
    assert!(!run.stdout.contains('\u{1b}'), "{run:#?}");

    // Columns count characters, as in the other formats (`é` is 2 bytes, `𝄞` 4).
    project.write(
        "app.py",
        "import time\n\nasync def f():\n    s = \"é𝄞\"; time.sleep(1)\n",
    );
    let run = project.run(&["check"]);
    assert!(run.stdout.contains("app.py:4:15]"), "{run:#?}");
    let concise = project.run(&["check", "--output-format", "concise"]);
    assert!(concise.stdout.contains("app.py:4:15:"), "{concise:#?}");
}

#[test]
fn statistics_prints_counts_per_code() {
    let project = Project::with(&[
        ("a.py", SLEEPY_AND_OPEN_PY),
        ("b.py", SLEEPY_PY),
        ("c.rs", SLEEPY_RS),
    ]);
    let run = project.run(&["check", "--statistics"]);
    run.assert_code(1);
    let rows: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .map(|line| line.split_whitespace().collect())
        .filter(|fields: &Vec<&str>| fields.len() == 3 && fields[1].starts_with("IL"))
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["3", "IL101", "blocking-sleep-in-async"],
            vec!["1", "IL102", "blocking-file-io-in-async"],
        ],
        "{run:#?}"
    );
    assert!(run.stdout.contains("Found 4 errors."), "{run:#?}");
    // Counts, not the findings themselves.
    assert!(!run.stdout.contains("time.sleep"), "{run:#?}");
}

#[test]
fn output_file_receives_the_output_instead_of_stdout() {
    let project = Project::with(&[("app.py", SLEEPY_PY)]);
    let run = project.check(&["--output-file", "report.txt"]);
    run.assert_code(1);
    assert_eq!(run.stdout, "");
    let written = std::fs::read_to_string(project.root().join("report.txt")).expect("written");
    assert!(written.contains("app.py:5:5: IL101 "), "{written}");
    assert!(written.contains("Found 1 error."), "{written}");
}

// ---------------------------------------------------------------------------------------------
// Rule selection
// ---------------------------------------------------------------------------------------------

#[test]
fn select_reports_only_the_selected_rule() {
    let project = Project::with(&[("app.py", SLEEPY_AND_OPEN_PY)]);
    let run = project.check(&["--select", "IL102"]);
    run.assert_code(1);
    assert_eq!(run.findings(), strings(&["app.py:6:10 IL102"]));
}

#[test]
fn select_of_an_absent_rule_exits_0() {
    let project = Project::with(&[("app.py", SLEEPY_AND_OPEN_PY)]);
    let run = project.check(&["--select", "IL107"]);
    run.assert_code(0);
    assert!(run.stdout.contains("All checks passed!"), "{run:#?}");
}

#[test]
fn ignore_drops_a_rule() {
    let project = Project::with(&[("app.py", SLEEPY_AND_OPEN_PY)]);
    let run = project.check(&["--ignore", "IL101"]);
    run.assert_code(1);
    assert_eq!(run.findings(), strings(&["app.py:6:10 IL102"]));
}

#[test]
fn extend_select_adds_to_select() {
    let project = Project::with(&[("app.py", SLEEPY_AND_OPEN_PY)]);
    let run = project.check(&["--select", "IL101", "--extend-select", "IL102"]);
    assert_eq!(run.codes(), strings(&["IL101", "IL102"]));
    let run = project.check(&["--select=IL101,IL102"]);
    assert_eq!(run.codes(), strings(&["IL101", "IL102"]));
}

#[test]
fn prefix_selector_selects_a_family() {
    let project = Project::with(&[
        ("app.py", SLEEPY_AND_OPEN_PY),
        ("broken.py", "def broken(:\n    pass\n"),
    ]);
    let run = project.check(&[]);
    assert_eq!(run.codes(), strings(&["IL101", "IL102", "IL001"]));
    // `IL1` covers IL101 and IL102 but not the parse error IL001.
    let run = project.check(&["--select", "IL1"]);
    assert_eq!(run.codes(), strings(&["IL101", "IL102"]));
    // Selectors are case-insensitive.
    let run = project.check(&["--select", "il10"]);
    assert_eq!(run.codes(), strings(&["IL101", "IL102"]));
}

#[test]
fn code_around_a_syntax_error_is_still_analysed() {
    // Python 2 syntax: the parser recovers, IL001 reports the error, and the rest is checked.
    let project = Project::with(&[(
        "legacy.py",
        "import threading\nimport time\n\nprint \"starting\"\n\nlock = threading.Lock()\n\n\nasync def tick():\n    time.sleep(1)\n\n\ndef add(n):\n    lock.acquire()\n    n = int(n)\n    lock.release()\n    return n\n",
    )]);
    let run = project.check(&[]);
    assert_eq!(
        run.findings(),
        strings(&[
            "legacy.py:4:7 IL001",
            "legacy.py:10:5 IL101",
            "legacy.py:14:5 IL204"
        ]),
        "{run:#?}"
    );
}

#[test]
fn all_selects_every_rule() {
    let project = Project::with(&[
        ("app.py", SLEEPY_AND_OPEN_PY),
        ("broken.py", "def broken(:\n    pass\n"),
    ]);
    let run = project.check(&["--select", "ALL", "--ignore", "IL101"]);
    assert_eq!(run.codes(), strings(&["IL102", "IL001"]));
}

#[test]
fn python_scripts_without_an_extension_are_found_by_their_shebang() {
    let project = Project::with(&[
        (
            "bin/tool",
            &format!("#!/usr/bin/env python3\n{SLEEPY_AND_OPEN_PY}"),
        ),
        ("bin/setup.sh", "#!/bin/sh\nsleep 1\n"),
        ("bin/launch", "#!/bin/sh\nexec python3 tool\n"),
        ("NOTES", "time.sleep(1)\n"),
    ]);
    let run = project.check(&[]);
    run.assert_code(1);
    assert_eq!(
        run.findings(),
        strings(&["bin/tool:6:5 IL101", "bin/tool:7:10 IL102"])
    );
    // Named explicitly, a script of another language is an error; a Python one is analysed.
    let run = project.check(&["bin/launch", "bin/tool"]);
    assert!(run.stderr.contains("bin/launch: not a Python"), "{run:#?}");
    assert_eq!(run.codes(), strings(&["IL101", "IL102"]));
}

#[test]
fn most_specific_selector_wins() {
    let project = Project::with(&[("app.py", SLEEPY_AND_OPEN_PY)]);
    let run = project.check(&["--select", "IL101", "--ignore", "IL1"]);
    run.assert_code(1);
    assert_eq!(run.findings(), strings(&["app.py:5:5 IL101"]));
    let run = project.check(&["--select", "IL1", "--ignore", "IL101"]);
    assert_eq!(run.findings(), strings(&["app.py:6:10 IL102"]));
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

#[test]
fn interlock_toml_select() {
    let project = Project::with(&[
        ("interlock.toml", "select = [\"IL102\"]\n"),
        ("app.py", SLEEPY_AND_OPEN_PY),
    ]);
    assert_eq!(project.check(&[]).codes(), strings(&["IL102"]));
}

#[test]
fn dot_interlock_toml_ignore() {
    let project = Project::with(&[
        (".interlock.toml", "ignore = [\"IL102\"]\n"),
        ("app.py", SLEEPY_AND_OPEN_PY),
    ]);
    assert_eq!(project.check(&[]).codes(), strings(&["IL101"]));
}

#[test]
fn pyproject_tool_interlock_section() {
    let project = Project::with(&[
        (
            "pyproject.toml",
            "[project]\nname = \"demo\"\n\n[tool.interlock]\nignore = [\"IL101\"]\n",
        ),
        ("app.py", SLEEPY_AND_OPEN_PY),
    ]);
    assert_eq!(project.check(&[]).codes(), strings(&["IL102"]));
}

#[test]
fn interlock_toml_takes_precedence_over_pyproject_in_the_same_directory() {
    let project = Project::with(&[
        ("interlock.toml", "select = [\"IL101\"]\n"),
        ("pyproject.toml", "[tool.interlock]\nselect = [\"IL102\"]\n"),
        ("app.py", SLEEPY_AND_OPEN_PY),
    ]);
    assert_eq!(project.check(&[]).codes(), strings(&["IL101"]));
}

#[test]
fn config_extend_select_adds_to_config_select() {
    let project = Project::with(&[
        (
            "interlock.toml",
            "select = [\"IL101\"]\nextend-select = [\"IL102\"]\n",
        ),
        ("app.py", SLEEPY_AND_OPEN_PY),
        ("broken.py", "def broken(:\n    pass\n"),
    ]);
    assert_eq!(project.check(&[]).codes(), strings(&["IL101", "IL102"]));
}

#[test]
fn command_line_extends_and_overrides_the_config() {
    let project = Project::with(&[
        ("interlock.toml", "select = [\"IL101\"]\n"),
        ("app.py", SLEEPY_AND_OPEN_PY),
    ]);
    let run = project.check(&["--extend-select", "IL102"]);
    assert_eq!(run.codes(), strings(&["IL101", "IL102"]));
    let run = project.check(&["--select", "IL102"]);
    assert_eq!(run.codes(), strings(&["IL102"]));
}

#[test]
fn command_line_select_overrides_config_ignore() {
    let project = Project::with(&[
        ("interlock.toml", "ignore = [\"IL101\"]\n"),
        ("app.py", SLEEPY_AND_OPEN_PY),
    ]);
    let run = project.check(&["--select", "IL101"]);
    assert_eq!(run.findings(), strings(&["app.py:5:5 IL101"]), "{run:#?}");
}

#[test]
fn per_file_ignores_apply_to_matching_files_only() {
    let project = Project::with(&[
        (
            "interlock.toml",
            "[per-file-ignores]\n\"tests/*\" = [\"IL101\"]\n\"legacy.py\" = [\"IL1\"]\n",
        ),
        ("tests/test_app.py", SLEEPY_AND_OPEN_PY),
        ("src/app.py", SLEEPY_PY),
        ("legacy.py", SLEEPY_AND_OPEN_PY),
    ]);
    let run = project.check(&[]);
    assert_eq!(
        run.findings(),
        strings(&["src/app.py:5:5 IL101", "tests/test_app.py:6:10 IL102"])
    );
}

#[test]
fn config_exclude_and_extend_exclude() {
    let project = Project::with(&[
        ("interlock.toml", "extend-exclude = [\"generated\"]\n"),
        ("app.py", SLEEPY_PY),
        ("generated/gen.py", SLEEPY_PY),
        (".venv/lib/site.py", SLEEPY_PY),
    ]);
    assert_eq!(
        project.check(&[]).findings(),
        strings(&["app.py:5:5 IL101"])
    );

    // `exclude` replaces the default list: `.venv` is checked again.
    project.write("interlock.toml", "exclude = [\"generated\"]\n");
    assert_eq!(
        project.check(&[]).findings(),
        strings(&[".venv/lib/site.py:5:5 IL101", "app.py:5:5 IL101"])
    );
}

#[test]
fn blocking_extension_in_config_python() {
    let project = Project::with(&[
        (
            "interlock.toml",
            "[blocking]\n\"mylib.fetch_sync\" = { rule = \"IL103\", alternative = \"await mylib.fetch()\" }\n",
        ),
        (
            "app.py",
            "import mylib\n\n\nasync def go():\n    mylib.fetch_sync()\n\n\ndef sync_go():\n    mylib.fetch_sync()\n",
        ),
    ]);
    let run = project.run(&["check", "--output-format", "json"]);
    run.assert_code(1);
    let value: Value = serde_json::from_str(&run.stdout).expect("valid JSON");
    let items = value.as_array().expect("an array");
    assert_eq!(items.len(), 1, "only the call in the async def: {value:#}");
    assert_eq!(items[0]["code"], "IL103");
    assert_eq!(items[0]["location"]["row"], 5);
    assert!(
        items[0]["help"]
            .as_str()
            .unwrap()
            .contains("await mylib.fetch()"),
        "{value:#}"
    );
}

#[test]
fn blocking_extension_in_config_rust() {
    let project = Project::with(&[
        (
            "interlock.toml",
            "[blocking]\n\"mycrate::db::query\" = { rule = \"IL105\" }\n",
        ),
        (
            "lib.rs",
            "pub async fn go() {\n    mycrate::db::query();\n}\n\npub fn sync_go() {\n    mycrate::db::query();\n}\n",
        ),
    ]);
    let run = project.check(&[]);
    run.assert_code(1);
    assert_eq!(run.findings(), strings(&["lib.rs:2:5 IL105"]));
}

#[test]
fn closest_config_wins() {
    let project = Project::with(&[
        ("interlock.toml", "ignore = [\"IL101\"]\n"),
        ("sub/interlock.toml", "select = [\"IL101\"]\n"),
        ("top.py", SLEEPY_AND_OPEN_PY),
        ("sub/inner.py", SLEEPY_AND_OPEN_PY),
        ("sub/deeper/deepest.py", SLEEPY_AND_OPEN_PY),
    ]);
    let run = project.check(&[]);
    assert_eq!(
        run.findings(),
        strings(&[
            "sub/deeper/deepest.py:5:5 IL101",
            "sub/inner.py:5:5 IL101",
            "top.py:6:10 IL102",
        ])
    );
    // The same settings apply when the file is named directly.
    let run = project.check(&["sub/inner.py"]);
    assert_eq!(run.findings(), strings(&["sub/inner.py:5:5 IL101"]));
}

#[test]
fn pyproject_without_tool_section_does_not_hide_the_parent_config() {
    let project = Project::with(&[
        ("interlock.toml", "ignore = [\"IL101\"]\n"),
        ("sub/pyproject.toml", "[project]\nname = \"sub\"\n"),
        ("sub/inner.py", SLEEPY_AND_OPEN_PY),
    ]);
    assert_eq!(project.check(&[]).codes(), strings(&["IL102"]));
}

#[test]
fn explicit_config_file_applies_to_every_file() {
    let project = Project::with(&[
        ("interlock.toml", "select = [\"IL101\"]\n"),
        ("configs/strict.toml", "select = [\"IL102\"]\n"),
        ("app.py", SLEEPY_AND_OPEN_PY),
    ]);
    let run = project.check(&["--config", "configs/strict.toml"]);
    assert_eq!(run.codes(), strings(&["IL102"]));
}

#[test]
fn unknown_config_key_exits_2_naming_file_and_line() {
    let project = Project::with(&[
        (
            "interlock.toml",
            "select = [\"IL1\"]\nselct = [\"IL101\"]\n",
        ),
        ("app.py", SLEEPY_PY),
    ]);
    let run = project.check(&[]);
    run.assert_code(2);
    assert!(run.stderr.contains("interlock.toml"), "{run:#?}");
    assert!(run.stderr.contains("line 2"), "{run:#?}");
    assert!(run.stderr.contains("selct"), "{run:#?}");
    assert!(run.findings().is_empty(), "{run:#?}");
}

#[test]
fn bad_config_value_exits_2_naming_file_and_line() {
    let project = Project::with(&[
        ("interlock.toml", "select = [\"IL1\"]\nignore = [\"XY9\"]\n"),
        ("app.py", SLEEPY_PY),
    ]);
    let run = project.check(&[]);
    run.assert_code(2);
    assert!(run.stderr.contains("interlock.toml"), "{run:#?}");
    assert!(run.stderr.contains("line 2"), "{run:#?}");
    assert!(run.stderr.contains("XY9"), "{run:#?}");
}

#[test]
fn bad_pyproject_section_exits_2_naming_file_and_line() {
    let project = Project::with(&[
        (
            "pyproject.toml",
            "[tool.interlock]\nselect = [\"IL101\"]\nbogus = true\n",
        ),
        ("app.py", SLEEPY_PY),
    ]);
    let run = project.check(&[]);
    run.assert_code(2);
    assert!(run.stderr.contains("pyproject.toml"), "{run:#?}");
    assert!(run.stderr.contains("line 3"), "{run:#?}");
}

#[test]
fn malformed_toml_and_bad_blocking_rule_exit_2() {
    let project = Project::with(&[("interlock.toml", "select = [\n"), ("app.py", SLEEPY_PY)]);
    let run = project.check(&[]);
    run.assert_code(2);
    assert!(run.stderr.contains("interlock.toml"), "{run:#?}");

    project.write(
        "interlock.toml",
        "[blocking]\n\"mylib.f\" = { rule = \"IL001\" }\n",
    );
    let run = project.check(&[]);
    run.assert_code(2);
    assert!(run.stderr.contains("line 2"), "{run:#?}");
    assert!(run.stderr.contains("IL001"), "{run:#?}");
}

#[test]
fn broken_nested_config_exits_2() {
    let project = Project::with(&[
        ("app.py", SLEEPY_PY),
        ("sub/interlock.toml", "ignore = \"IL101\"\n"),
        ("sub/inner.py", SLEEPY_PY),
    ]);
    let run = project.check(&[]);
    run.assert_code(2);
    assert!(run.stderr.contains("interlock.toml"), "{run:#?}");
    assert!(run.stderr.contains("line 1"), "{run:#?}");
}

// ---------------------------------------------------------------------------------------------
// File discovery
// ---------------------------------------------------------------------------------------------

#[test]
fn gitignored_files_are_skipped_inside_a_git_repository() {
    let project = Project::with(&[
        (".gitignore", "ignored/\n"),
        ("app.py", SLEEPY_PY),
        ("ignored/skip.py", SLEEPY_PY),
    ]);
    // Outside a repository `.gitignore` has no effect.
    assert_eq!(project.check(&[]).findings().len(), 2);
    std::fs::create_dir(project.root().join(".git")).expect("a .git directory");
    assert_eq!(
        project.check(&[]).findings(),
        strings(&["app.py:5:5 IL101"])
    );
}

#[test]
fn dot_ignore_files_are_honoured_everywhere() {
    let project = Project::with(&[
        (".ignore", "skip.py\n"),
        ("app.py", SLEEPY_PY),
        ("skip.py", SLEEPY_PY),
        ("sub/skip.py", SLEEPY_PY),
    ]);
    assert_eq!(
        project.check(&[]).findings(),
        strings(&["app.py:5:5 IL101"])
    );
}

#[test]
fn default_excludes_skip_venv_and_target() {
    let project = Project::with(&[
        ("app.py", SLEEPY_PY),
        (".venv/lib/python3.12/site.py", SLEEPY_PY),
        ("venv/lib.py", SLEEPY_PY),
        ("target/debug/build/out.rs", SLEEPY_RS),
        ("node_modules/pkg/x.py", SLEEPY_PY),
        ("src/lib.rs", SLEEPY_RS),
    ]);
    assert_eq!(
        project.check(&[]).findings(),
        strings(&["app.py:5:5 IL101", "src/lib.rs:2:5 IL101"])
    );
}

#[test]
fn rust_module_directories_named_like_build_output_are_checked() {
    let project = Project::with(&[
        ("src/lib.rs", "pub mod dist;\nmod target;\n"),
        ("src/dist/mod.rs", SLEEPY_RS),
        ("src/target.rs", "mod build;\n"),
        ("src/target/build.rs", SLEEPY_RS),
        ("dist/app.rs", SLEEPY_RS),
        ("target/debug/build/out.rs", SLEEPY_RS),
    ]);
    assert_eq!(
        project.check(&[]).findings(),
        strings(&["src/dist/mod.rs:2:5 IL101", "src/target/build.rs:2:5 IL101"])
    );
    // A pattern the user writes excludes them all the same.
    let run = project.check(&["--extend-exclude", "dist"]);
    assert_eq!(run.findings(), strings(&["src/target/build.rs:2:5 IL101"]));
}

#[test]
fn exclude_on_the_command_line_replaces_the_defaults() {
    let project = Project::with(&[
        ("app.py", SLEEPY_PY),
        ("legacy/old.py", SLEEPY_PY),
        (".venv/site.py", SLEEPY_PY),
    ]);
    let run = project.check(&["--exclude", "legacy"]);
    assert_eq!(
        run.findings(),
        strings(&[".venv/site.py:5:5 IL101", "app.py:5:5 IL101"])
    );
}

#[test]
fn extend_exclude_on_the_command_line_keeps_the_defaults() {
    let project = Project::with(&[
        ("app.py", SLEEPY_PY),
        ("legacy/old.py", SLEEPY_PY),
        ("gen_models.py", SLEEPY_PY),
        (".venv/site.py", SLEEPY_PY),
    ]);
    let run = project.check(&["--extend-exclude", "legacy,gen_*.py"]);
    assert_eq!(run.findings(), strings(&["app.py:5:5 IL101"]));
}

#[test]
fn explicitly_named_excluded_file_is_checked_unless_force_exclude() {
    let project = Project::with(&[
        ("interlock.toml", "extend-exclude = [\"gen_*.py\"]\n"),
        ("gen_models.py", SLEEPY_PY),
    ]);
    assert!(project.check(&[]).findings().is_empty());
    let run = project.check(&["gen_models.py"]);
    assert_eq!(run.findings(), strings(&["gen_models.py:5:5 IL101"]));
    let run = project.check(&["--force-exclude", "gen_models.py"]);
    run.assert_code(0);
    assert!(run.findings().is_empty(), "{run:#?}");
}

#[test]
fn explicitly_named_file_in_a_default_excluded_directory_is_checked() {
    let project = Project::with(&[(".venv/site.py", SLEEPY_PY)]);
    let run = project.check(&[".venv/site.py"]);
    assert_eq!(run.findings(), strings(&[".venv/site.py:5:5 IL101"]));
}

#[test]
fn force_exclude_skips_files_inside_excluded_directories() {
    let project = Project::with(&[
        ("interlock.toml", "extend-exclude = [\"generated\"]\n"),
        (".venv/site.py", SLEEPY_PY),
        ("generated/models.py", SLEEPY_PY),
    ]);
    let run = project.check(&["--force-exclude", ".venv/site.py", "generated/models.py"]);
    assert!(run.findings().is_empty(), "{run:#?}");
    run.assert_code(0);
}

#[test]
fn files_of_other_languages_are_not_walked() {
    let project = Project::with(&[
        ("app.py", SLEEPY_PY),
        ("notes.txt", "time.sleep(1)\n"),
        ("script.js", "await sleep(1)\n"),
        ("stubs.pyi", SLEEPY_PY),
    ]);
    assert_eq!(
        project.check(&[]).findings(),
        strings(&["app.py:5:5 IL101", "stubs.pyi:5:5 IL101"])
    );
}

#[test]
fn overlapping_paths_report_each_finding_once() {
    let project = Project::with(&[("app.py", SLEEPY_PY), ("sub/inner.py", SLEEPY_PY)]);
    let run = project.check(&["app.py", "."]);
    assert_eq!(run.findings().len(), 2, "{run:#?}");
    let run = project.check(&["sub", "sub/inner.py"]);
    assert_eq!(run.findings().len(), 1, "{run:#?}");
}

// ---------------------------------------------------------------------------------------------
// Standard input
// ---------------------------------------------------------------------------------------------

#[test]
fn stdin_is_read_as_python_under_the_given_name() {
    let project = Project::new();
    let run = project.check_stdin(
        &[
            "-",
            "--stdin-filename",
            "app.py",
            "--output-format",
            "concise",
        ],
        SLEEPY_PY,
    );
    run.assert_code(1);
    assert_eq!(run.findings(), strings(&["app.py:5:5 IL101"]));

    let run = project.check_stdin(
        &[
            "-",
            "--stdin-filename",
            "app.py",
            "--output-format",
            "concise",
        ],
        CLEAN_PY,
    );
    run.assert_code(0);
}

#[test]
fn stdin_is_read_as_rust_when_named_rs() {
    let project = Project::new();
    let run = project.check_stdin(
        &[
            "-",
            "--stdin-filename",
            "lib.rs",
            "--output-format",
            "concise",
        ],
        SLEEPY_RS,
    );
    run.assert_code(1);
    assert_eq!(run.findings(), strings(&["lib.rs:2:5 IL101"]));

    let run = project.check_stdin(
        &[
            "-",
            "--stdin-filename",
            "src/lib.rs",
            "--output-format",
            "json",
        ],
        SLEEPY_RS,
    );
    let value: Value = serde_json::from_str(&run.stdout).expect("valid JSON");
    let filename = value[0]["filename"].as_str().expect("a filename");
    assert!(
        PathBuf::from(filename).ends_with("src/lib.rs"),
        "{filename}"
    );
}

#[test]
fn stdin_uses_the_config_for_its_filename() {
    let project = Project::with(&[(
        "interlock.toml",
        "[blocking]\n\"mylib.fetch_sync\" = { rule = \"IL103\", alternative = \"await mylib.fetch()\" }\n",
    )]);
    let run = project.check_stdin(
        &["-", "--stdin-filename", "app.py"],
        "import mylib\n\n\nasync def go():\n    mylib.fetch_sync()\n",
    );
    run.assert_code(1);
    assert!(run.stdout.contains("IL103"), "{run:#?}");
    assert!(run.stdout.contains("await mylib.fetch()"), "{run:#?}");
}

// ---------------------------------------------------------------------------------------------
// Suppression comments
// ---------------------------------------------------------------------------------------------

#[test]
fn python_line_suppressions() {
    let source = "\
import time


async def main():
    time.sleep(1)  # noqa: IL101
    time.sleep(2)  # noqa
    time.sleep(3)  # interlock: ignore[IL101]
    time.sleep(4)  # interlock: ignore[IL1]
    time.sleep(5)  # noqa: IL102
    time.sleep(6)  # interlock: ignore[IL102]
    time.sleep(7)
    time.sleep(8)  # noqa:IL101,IL102
";
    let project = Project::with(&[("app.py", source)]);
    let run = project.check(&[]);
    run.assert_code(1);
    // Only the wrong codes and the bare line are still reported.
    assert_eq!(
        run.findings(),
        strings(&["app.py:9:5 IL101", "app.py:10:5 IL101", "app.py:11:5 IL101",])
    );
}

#[test]
fn noqa_is_case_insensitive() {
    let project = Project::with(&[(
        "app.py",
        "import time\n\n\nasync def main():\n    time.sleep(1)  # NOQA\n    time.sleep(2)  # NoQA: IL101\n",
    )]);
    let run = project.check(&[]);
    assert!(run.findings().is_empty(), "{run:#?}");
    run.assert_code(0);
}

#[test]
fn noqa_for_one_code_keeps_the_others_on_the_line() {
    let project = Project::with(&[(
        "app.py",
        "import time\n\n\nasync def main():\n    time.sleep(1); open(\"f\")  # noqa: IL101\n",
    )]);
    assert_eq!(project.check(&[]).codes(), strings(&["IL102"]));
}

#[test]
fn python_file_level_suppression() {
    let project = Project::with(&[
        (
            "app.py",
            "# interlock: file-ignore[IL1]\nimport time\n\n\nasync def main():\n    time.sleep(1)\n",
        ),
        (
            "other.py",
            "# interlock: file-ignore[IL102]\nimport time\n\n\nasync def main():\n    time.sleep(1)\n",
        ),
    ]);
    let run = project.check(&[]);
    assert_eq!(run.findings(), strings(&["other.py:6:5 IL101"]));
}

#[test]
fn rust_suppressions() {
    let source = "\
pub async fn run() {
    std::thread::sleep(std::time::Duration::from_secs(1)); // noqa: IL101
    std::thread::sleep(std::time::Duration::from_secs(2)); // noqa: IL102
    std::thread::sleep(std::time::Duration::from_secs(3)); // interlock: ignore[IL1]
    std::thread::sleep(std::time::Duration::from_secs(4));
}
";
    let project = Project::with(&[
        ("lib.rs", source),
        (
            "quiet.rs",
            "// interlock: file-ignore[IL101]\npub async fn run() {\n    std::thread::sleep(std::time::Duration::from_secs(1));\n}\n",
        ),
    ]);
    let run = project.check(&[]);
    assert_eq!(
        run.findings(),
        strings(&["lib.rs:3:5 IL101", "lib.rs:5:5 IL101"])
    );
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

#[test]
fn syntax_error_is_il001_and_other_files_are_still_checked() {
    let project = Project::with(&[
        ("broken.py", "import time\n\n\ndef broken(:\n    pass\n"),
        ("good.py", SLEEPY_PY),
    ]);
    let run = project.check(&[]);
    run.assert_code(1);
    let findings = run.findings();
    assert_eq!(findings.len(), 2, "{run:#?}");
    assert!(findings[0].starts_with("broken.py:4:"), "{run:#?}");
    assert!(findings[0].ends_with(" IL001"), "{run:#?}");
    assert_eq!(findings[1], "good.py:5:5 IL101");
}

#[test]
fn rust_syntax_error_is_il001() {
    let project = Project::with(&[
        ("broken.rs", "fn main() {\n    let x = ;\n}\n"),
        ("good.rs", SLEEPY_RS),
    ]);
    let run = project.check(&[]);
    run.assert_code(1);
    let findings = run.findings();
    assert_eq!(findings.len(), 2, "{run:#?}");
    assert!(findings[0].starts_with("broken.rs:2:"), "{run:#?}");
    assert!(findings[0].ends_with(" IL001"), "{run:#?}");
    assert_eq!(findings[1], "good.rs:2:5 IL101");
}

#[test]
fn invalid_utf8_is_il002() {
    let project = Project::new();
    project.write("latin1.py", b"x = '\xff'\n");
    project.write("good.py", SLEEPY_PY);
    let run = project.check(&[]);
    run.assert_code(1);
    assert_eq!(
        run.findings(),
        strings(&["good.py:5:5 IL101", "latin1.py:1:6 IL002"])
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn binary_file_is_an_error_but_other_files_are_still_checked() {
    let project = Project::new();
    project.write("bin.py", b"x = 1\0\0\0\n");
    project.write("good.py", SLEEPY_PY);
    let run = project.check(&[]);
    run.assert_code(2);
    assert_eq!(run.findings(), strings(&["good.py:5:5 IL101"]));
    let stderr: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(stderr.len(), 1, "{run:#?}");
    assert!(stderr[0].contains("bin.py"), "{run:#?}");
}

/// Deeply nested or very long Python expressions must be analysed without crashing.
#[test]
fn python_deep_nesting_and_long_expressions_never_crash() {
    let cases = [
        (
            "parens.py",
            format!("x = {}1{}\n", "(".repeat(10_000), ")".repeat(10_000)),
        ),
        (
            "lists.py",
            format!("x = {}1{}\n", "[".repeat(10_000), "]".repeat(10_000)),
        ),
        ("minus.py", format!("x = {}1\n", "-".repeat(100_000))),
        ("flat.py", format!("x = {}1\n", "1 + ".repeat(100_000))),
    ];
    for (name, source) in &cases {
        let project = Project::new();
        project.write(name, source);
        let run = project.check(&[]);
        run.assert_no_crash();
        assert!(
            run.findings().iter().all(|f| f.ends_with(" IL001")),
            "{name}: {run:#?}"
        );
    }
}

#[test]
fn python_blocking_call_inside_deep_nesting_is_still_found() {
    let project = Project::new();
    project.write(
        "app.py",
        format!(
            "import time\n\n\nasync def main():\n    time.sleep({}1{})\n",
            "(".repeat(10_000),
            ")".repeat(10_000)
        ),
    );
    let run = project.check(&[]);
    run.assert_no_crash();
    assert_eq!(run.findings(), strings(&["app.py:5:5 IL101"]));
}

/// Rust refuses nesting it cannot parse safely with an IL001 finding instead of crashing.
#[test]
fn rust_deep_nesting_is_il001_not_a_crash() {
    let cases = [
        (
            "parens.rs",
            format!(
                "fn f() {{ let x = {}1{}; }}\n",
                "(".repeat(10_000),
                ")".repeat(10_000)
            ),
        ),
        (
            "arrays.rs",
            format!(
                "fn f() {{ let x = {}1{}; }}\n",
                "[".repeat(10_000),
                "]".repeat(10_000)
            ),
        ),
        (
            "minus.rs",
            format!("fn f() {{ let x = {}1; }}\n", "-".repeat(100_000)),
        ),
    ];
    for (name, source) in &cases {
        let project = Project::new();
        project.write(name, source);
        project.write("good.rs", SLEEPY_RS);
        let run = project.check(&[]);
        run.assert_no_crash();
        run.assert_code(1);
        assert!(
            run.stdout.contains("IL001") && run.stdout.contains("nesting"),
            "{name}: {run:#?}"
        );
        assert!(
            run.findings().contains(&"good.rs:2:5 IL101".to_string()),
            "{name}: {run:#?}"
        );
    }
}

#[test]
fn rust_long_flat_expression_never_crashes() {
    let project = Project::new();
    project.write(
        "flat.rs",
        format!("fn f() {{ let x = {}1; }}\n", "1 + ".repeat(100_000)),
    );
    let run = project.check(&[]);
    run.assert_no_crash();
    // A 400 KB statement is refused with a clear IL001 rather than parsed.
    run.assert_code(1);
    assert!(
        run.stdout.contains("IL001") && run.stdout.contains("statement longer than"),
        "{run:#?}"
    );
}

#[test]
fn rust_deeply_nested_types_closures_and_keywords_never_crash() {
    let cases = [
        (
            "generics.rs",
            format!(
                "type T = {}u8{};\n",
                "Vec<".repeat(10_000),
                ">".repeat(10_000)
            ),
        ),
        (
            "fn_types.rs",
            format!(
                "type T = {}u8{};\n",
                "Box<dyn Fn() -> ".repeat(10_000),
                ">".repeat(10_000)
            ),
        ),
        (
            "pointers.rs",
            format!("type T = {}u8;\n", "*const ".repeat(100_000)),
        ),
        (
            "closures.rs",
            format!("fn f() {{ let x = {}1; }}\n", "|| ".repeat(100_000)),
        ),
        (
            "returns.rs",
            format!("fn f() {{ {}1; }}\n", "return ".repeat(100_000)),
        ),
        (
            "assignments.rs",
            format!("fn f() {{ {}1; }}\n", "x = ".repeat(100_000)),
        ),
    ];
    let mut failures = Vec::new();
    for (name, source) in &cases {
        let project = Project::new();
        project.write(name, source);
        project.write("good.rs", SLEEPY_RS);
        let run = project.check(&[]);
        let crashed = !matches!(run.code, Some(0 | 1))
            || CRASH_MARKERS.iter().any(|m| run.stderr.contains(m))
            || !run.findings().contains(&"good.rs:2:5 IL101".to_string());
        if crashed {
            failures.push(format!(
                "{name}: exit {:?}, stderr {:?}",
                run.code, run.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn long_method_chains_never_crash() {
    let cases = [
        ("chain.py", format!("x = y{}\n", ".a()".repeat(50_000))),
        ("calls.py", format!("x = y{}\n", "()".repeat(50_000))),
        (
            "chain.rs",
            format!("fn f() {{ let x = y{}; }}\n", ".a()".repeat(20_000)),
        ),
        (
            "awaits.rs",
            format!("async fn f() {{ let x = y{}; }}\n", ".await".repeat(20_000)),
        ),
    ];
    for (name, source) in &cases {
        let project = Project::new();
        project.write(name, source);
        let run = project.check(&[]);
        run.assert_no_crash();
        if name.ends_with(".rs") {
            // Rust statements this long are refused up front (syn recurses per token).
            let findings = run.findings();
            assert!(
                findings.len() == 1 && findings[0].ends_with("IL001"),
                "{name}: {run:#?}"
            );
            assert!(
                run.stdout.contains("statement longer than"),
                "{name}: {run:#?}"
            );
        } else {
            assert!(run.findings().is_empty(), "{name}: {run:#?}");
        }
    }
}

#[test]
fn long_rust_call_chains_are_analysed_quickly() {
    let project = Project::new();
    project.write(
        "calls.rs",
        format!("fn f() {{ let x = y{}; }}\n", "()".repeat(20_000)),
    );
    let run = Run::of(
        project
            .command(&["check", "--output-format", "concise"])
            .timeout(Duration::from_secs(30)),
    );
    run.assert_no_crash();
}

/// Makes a FIFO (opening one for reading blocks until a writer comes).
#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[cfg(unix)]
#[test]
fn explicitly_named_fifos_and_devices_are_errors_and_never_read() {
    let project = Project::with(&[("good.py", SLEEPY_PY)]);
    std::os::unix::fs::symlink("/dev/zero", project.root().join("x.py")).unwrap();
    mkfifo(&project.root().join("y.py"));
    let run = Run::of(
        project
            .command(&[
                "check",
                "--output-format",
                "concise",
                "x.py",
                "y.py",
                "good.py",
            ])
            .timeout(Duration::from_secs(30)),
    );
    run.assert_code(2);
    assert_eq!(run.findings(), strings(&["good.py:5:5 IL101"]));
    let stderr: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        stderr,
        [
            "error: x.py: not a regular file (a character device), not analysed",
            "error: y.py: not a regular file (a FIFO), not analysed",
        ],
        "{run:#?}"
    );
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_met_in_a_walk_are_skipped_quietly() {
    let project = Project::with(&[("good.py", SLEEPY_PY)]);
    std::os::unix::fs::symlink("/dev/zero", project.root().join("zero.py")).unwrap();
    mkfifo(&project.root().join("pipe.py"));
    mkfifo(&project.root().join("pyproject.toml"));
    mkfifo(&project.root().join("Cargo.toml"));
    let run = Run::of(
        project
            .command(&["check", "--output-format", "concise"])
            .timeout(Duration::from_secs(30)),
    );
    run.assert_code(1);
    assert_eq!(run.findings(), strings(&["good.py:5:5 IL101"]));
    assert_eq!(run.stderr, "", "{run:#?}");
}

#[test]
fn a_config_that_is_a_directory_is_an_error() {
    let project = Project::with(&[("good.py", SLEEPY_PY), ("configs/x", "")]);
    let run = project.check(&["--config", "configs"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("configs") && run.stderr.contains("not a regular file (a directory)"),
        "{run:#?}"
    );
    assert!(run.findings().is_empty(), "{run:#?}");
}

#[cfg(unix)]
#[test]
fn a_config_that_is_a_fifo_or_a_device_is_an_error_and_never_read() {
    let project = Project::with(&[("good.py", SLEEPY_PY)]);
    mkfifo(&project.root().join("fifo.toml"));
    for (config, kind) in [("fifo.toml", "a FIFO"), ("/dev/zero", "a character device")] {
        let run = Run::of(
            project
                .command(&["check", "--output-format", "concise", "--config", config])
                .timeout(Duration::from_secs(30)),
        );
        run.assert_code(2);
        assert!(
            run.stderr.contains(config) && run.stderr.contains(kind),
            "{run:#?}"
        );
    }
}

#[test]
fn a_config_over_1_mib_is_an_error() {
    let mut big = String::from("select = [\"IL1\"]\n");
    while big.len() <= 1 << 20 {
        big.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let project = Project::with(&[("good.py", SLEEPY_PY), ("big.toml", &big)]);
    let run = project.check(&["--config", "big.toml"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("big.toml") && run.stderr.contains("larger than 1 MiB"),
        "{run:#?}"
    );
    // Found on its own, too.
    project.write("interlock.toml", &big);
    let run = project.check(&[]);
    run.assert_code(2);
    assert!(run.stderr.contains("larger than 1 MiB"), "{run:#?}");
}

#[cfg(unix)]
#[test]
fn control_characters_in_file_names_are_escaped_in_line_formats() {
    let project = Project::with(&[("a\nb.py", SLEEPY_PY)]);
    let run = project.check(&[]);
    run.assert_code(1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert!(lines[0].starts_with("a\\nb.py:5:5: IL101 "), "{run:#?}");
    let run = project.run(&["check", "--output-format", "github"]);
    run.assert_code(1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{run:#?}");
    // The property names the real file (workflow-command escaped); the message shows `\n`.
    assert!(lines[0].contains(",file=a%0Ab.py,"), "{run:#?}");
    assert!(lines[0].contains("::a\\nb.py:5:5: IL101 "), "{run:#?}");
}

#[cfg(unix)]
#[test]
fn a_backslash_in_a_unix_file_name_is_kept_in_ci_formats() {
    let project = Project::with(&[("sub/a\\b.py", SLEEPY_PY)]);
    let run = project.run(&["check", "--output-format", "github"]);
    run.assert_code(1);
    assert!(
        run.stdout.contains(",file=sub/a\\b.py,") && run.stdout.contains("::sub/a\\b.py:5:5"),
        "{run:#?}"
    );
    let run = project.run(&["check", "--output-format", "gitlab"]);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report[0]["location"]["path"], "sub/a\\b.py");
}

// ---------------------------------------------------------------------------------------------
// Rule documentation
// ---------------------------------------------------------------------------------------------

#[test]
fn rules_lists_every_code() {
    let project = Project::new();
    let run = project.run(&["rules"]);
    run.assert_code(0);
    for code in [
        "IL001", "IL002", "IL101", "IL102", "IL103", "IL104", "IL105", "IL107",
    ] {
        assert!(
            run.stdout.lines().any(|line| line.starts_with(code)),
            "{code} missing: {run:#?}"
        );
    }
    assert!(run.stdout.contains("blocking-sleep-in-async"), "{run:#?}");
}

#[test]
fn rule_prints_its_page() {
    let project = Project::new();
    let run = project.run(&["rule", "IL101"]);
    run.assert_code(0);
    assert!(
        run.stdout.starts_with("# IL101 blocking-sleep-in-async"),
        "{run:#?}"
    );
    let lower = project.run(&["rule", "il101"]);
    assert_eq!(lower.stdout, run.stdout);
}

#[test]
fn unknown_rule_exits_2() {
    let project = Project::new();
    let run = project.run(&["rule", "IL999"]);
    run.assert_code(2);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("IL999"), "{run:#?}");
}

// ---------------------------------------------------------------------------------------------
// Determinism
// ---------------------------------------------------------------------------------------------

#[test]
fn output_is_deterministic_and_sorted_by_path_line_and_column() {
    let two_on_a_line = "\
import time


async def main():
    time.sleep(1); time.sleep(2)
    with open(\"x\") as fh:
        time.sleep(3)
";
    let project = Project::with(&[
        ("z.py", SLEEPY_AND_OPEN_PY),
        ("b/d.rs", SLEEPY_RS),
        ("a.py", two_on_a_line),
        ("b/c.py", SLEEPY_PY),
        ("m.rs", SLEEPY_RS),
        ("b/e/f.py", SLEEPY_AND_OPEN_PY),
    ]);
    let first = project.check(&[]);
    first.assert_code(1);
    assert_eq!(
        first.findings(),
        strings(&[
            "a.py:5:5 IL101",
            "a.py:5:20 IL101",
            "a.py:6:10 IL102",
            "a.py:7:9 IL101",
            "b/c.py:5:5 IL101",
            "b/d.rs:2:5 IL101",
            "b/e/f.py:5:5 IL101",
            "b/e/f.py:6:10 IL102",
            "m.rs:2:5 IL101",
            "z.py:5:5 IL101",
            "z.py:6:10 IL102",
        ])
    );
    for _ in 0..3 {
        assert_eq!(project.check(&[]), first);
    }
    let full = project.run(&["check"]);
    assert_eq!(project.run(&["check"]), full);
    let json = project.run(&["check", "--output-format", "json"]);
    assert_eq!(project.run(&["check", "--output-format", "json"]), json);
}

// ---- interlock graph ----

const LAYERED_PY: &str = "\
import asyncio


def read_config():
    with open(\"app.toml\") as f:
        return f.read()


def settings():
    return read_config()


async def serve():
    settings()
    await asyncio.sleep(0)


async def main():
    await serve()
";

#[test]
fn graph_draws_the_call_graph_as_dot_with_blocking_leaves() {
    let project = Project::new();
    project.write("app.py", LAYERED_PY);
    let run = project.run(&["graph", "--from", "serve"]);
    run.assert_code(0);
    let dot = &run.stdout;
    assert!(dot.starts_with("digraph calls {"), "{dot}");
    assert!(dot.contains("\"app.serve\" -> \"app.settings\""), "{dot}");
    assert!(
        dot.contains("\"app.settings\" -> \"app.read_config\""),
        "{dot}"
    );
    assert!(
        dot.contains("\"app.read_config\" -> \"open() [IL102]\" [color=red]"),
        "{dot}"
    );
    // `--from serve` leaves out `main`, which only calls it.
    assert!(!dot.contains("app.main"), "{dot}");
    // Graphviz must accept it (CI installs graphviz; locally the check runs when `dot` exists).
    if Command::new("dot").arg("-V").output().is_ok() {
        let mut render = Command::new("dot");
        render.arg("-Tsvg").write_stdin(dot.as_bytes().to_vec());
        let output = render.output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("<svg"));
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "graphviz `dot` is missing on CI"
        );
    }
}

#[test]
fn graph_awaits_as_json_keeps_only_awaited_calls() {
    let project = Project::new();
    project.write("app.py", LAYERED_PY);
    let run = project.run(&["graph", "--kind", "awaits", "--format", "json"]);
    run.assert_code(0);
    let picture: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let edges = picture["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1, "{picture:#}");
    assert_eq!(edges[0]["from"], "app.main");
    assert_eq!(edges[0]["to"], "app.serve");
    assert_eq!(edges[0]["line"], 19);
    let serve = picture["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "app.serve")
        .unwrap();
    assert_eq!(serve["is_async"], true);
}

#[test]
fn graph_from_an_unknown_function_is_an_error() {
    let project = Project::new();
    project.write("app.py", LAYERED_PY);
    let run = project.run(&["graph", "--from", "nowhere"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("no function named `nowhere`"),
        "{run:#?}"
    );
}

#[test]
fn rust_await_graph_follows_await_spawn_and_join() {
    let project = Project::new();
    project.write(
        "jobs.rs",
        "async fn fetch() -> u8 { 1 }\nasync fn store() -> u8 { 2 }\nasync fn log() {}\nfn helper() {}\n\
         async fn run() {\n    let (a, b) = tokio::join!(fetch(), store());\n    tokio::spawn(log());\n    helper();\n    fetch().await;\n}\n",
    );
    let run = project.run(&[
        "graph", "--kind", "awaits", "--format", "json", "--from", "run",
    ]);
    run.assert_code(0);
    let picture: Value = serde_json::from_str(&run.stdout).unwrap();
    let mut edges: Vec<(String, u64)> = picture["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["to"].as_str().unwrap().to_string(),
                e["line"].as_u64().unwrap(),
            )
        })
        .collect();
    edges.sort();
    let expected = [
        ("jobs::fetch", 6),
        ("jobs::fetch", 9),
        ("jobs::log", 7),
        ("jobs::store", 6),
    ];
    assert_eq!(
        edges,
        expected.map(|(to, line)| (to.to_string(), line)),
        "{picture:#}"
    );
}

/// Two locks taken in both orders, in two files, one of them through a helper.
const INVERTED_LOCKS: &[(&str, &str)] = &[
    ("bank/__init__.py", ""),
    (
        "bank/accounts.py",
        "import threading\n\nfrom .audit import record\n\naccounts_lock = threading.Lock()\n\n\ndef credit() -> None:\n    with accounts_lock:\n        record()\n",
    ),
    (
        "bank/audit.py",
        "import threading\n\nfrom . import accounts\n\naudit_lock = threading.Lock()\n\n\ndef record() -> None:\n    with audit_lock:\n        pass\n\n\ndef reconcile() -> None:\n    with audit_lock:\n        with accounts.accounts_lock:\n            pass\n",
    ),
];

#[test]
fn lock_order_inversion_points_at_every_acquisition_and_call() {
    let project = Project::with(INVERTED_LOCKS);
    let run = project.run(&["check", "--select", "IL201", "--output-format", "json"]);
    run.assert_code(1);
    let findings: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let findings = findings.as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let finding = &findings[0];
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.contains("`accounts_lock` before `audit_lock`"),
        "{message}"
    );
    assert!(
        message.contains("`audit_lock` before `accounts_lock`"),
        "{message}"
    );
    assert!(
        finding["help"]
            .as_str()
            .unwrap()
            .contains("interlock graph --kind locks")
    );
    // Both acquisitions of each edge and the call to `record` are related locations.
    let related: Vec<(String, u64)> = finding["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let file = r["filename"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            (file, r["location"]["row"].as_u64().unwrap())
        })
        .collect();
    let primary = (
        finding["filename"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string(),
        finding["location"]["row"].as_u64().unwrap(),
    );
    let mut sites = related.clone();
    sites.push(primary);
    for site in [
        ("accounts.py", 9),
        ("accounts.py", 10),
        ("audit.py", 9),
        ("audit.py", 14),
        ("audit.py", 15),
    ] {
        assert!(
            sites.contains(&(site.0.to_string(), site.1)),
            "{site:?} missing from {sites:?}"
        );
    }
}

#[test]
fn suppressing_one_acquisition_breaks_the_cycle() {
    let project = Project::with(INVERTED_LOCKS);
    let audit = INVERTED_LOCKS[2].1.replace(
        "with accounts.accounts_lock:",
        "with accounts.accounts_lock:  # interlock: ignore[IL201]",
    );
    project.write("bank/audit.py", audit);
    project.check(&["--select", "IL201"]).assert_code(0);
}

#[test]
fn graph_locks_draws_the_cycle_in_red() {
    let project = Project::with(INVERTED_LOCKS);
    let run = project.run(&["graph", "--kind", "locks", "--format", "json"]);
    run.assert_code(0);
    let picture: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let nodes = picture["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{picture:#}");
    let accounts = nodes
        .iter()
        .find(|n| n["id"] == "bank.accounts.accounts_lock")
        .unwrap();
    assert_eq!(accounts["kind"], "threading.Lock");
    assert_eq!(accounts["line"], 5);
    assert_eq!(accounts["in_cycle"], true);
    let edges = picture["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2, "{picture:#}");
    assert!(edges.iter().all(|e| e["in_cycle"] == true));
    let credit = edges
        .iter()
        .find(|e| e["from"] == "bank.accounts.accounts_lock")
        .unwrap();
    assert_eq!(credit["sites"][0]["function"], "credit");
    assert_eq!(credit["sites"][0]["line"], 10);

    let dot = project.run(&["graph", "--kind", "locks"]);
    dot.assert_code(0);
    assert!(dot.stdout.starts_with("digraph locks {"), "{}", dot.stdout);
    assert!(
        dot.stdout
            .contains("\"bank.accounts.accounts_lock\" -> \"bank.audit.audit_lock\" [label=\"credit (line 10)\", color=red"),
        "{}",
        dot.stdout
    );
    if Command::new("dot").arg("-V").output().is_ok() {
        let mut render = Command::new("dot");
        render
            .arg("-Tsvg")
            .write_stdin(dot.stdout.as_bytes().to_vec());
        assert!(render.output().unwrap().status.success());
    }
}

#[test]
fn user_lock_types_from_config_take_part_in_the_lock_rules() {
    let source = "from mylib import FairLock\n\nlock = FairLock()\n\n\ndef update() -> None:\n    with lock:\n        helper()\n\n\ndef helper() -> None:\n    with lock:\n        pass\n";
    let project = Project::with(&[("app.py", source)]);
    // Unknown lock type: nothing to report.
    project.check(&["--select", "IL202"]).assert_code(0);
    project.write("interlock.toml", "[locks]\n\"mylib.FairLock\" = {}\n");
    let run = project.check(&["--select", "IL202"]);
    run.assert_code(1);
    assert!(run.stdout.contains("app.py:8:9: IL202"), "{}", run.stdout);
    // Declared reentrant: fine again.
    project.write(
        "interlock.toml",
        "[locks]\n\"mylib.FairLock\" = { reentrant = true }\n",
    );
    project.check(&["--select", "IL202"]).assert_code(0);
    // A misspelt property is a configuration error.
    project.write(
        "interlock.toml",
        "[locks]\n\"mylib.FairLock\" = { reentrnt = true }\n",
    );
    let run = project.check(&["--select", "IL202"]);
    run.assert_code(2);
    assert!(run.stderr.contains("reentrnt"), "{}", run.stderr);
}

#[test]
fn user_types_from_config_type_library_results() {
    // A builder chain of a library the tables do not know: its client's blocking method is
    // declared, but nothing tells what `build()` returns.
    let source = "from hubs import Builder\n\n\nasync def connect() -> None:\n    hub = Builder().with_url(\"u\").build()\n    hub.start()\n";
    let project = Project::with(&[("app.py", source)]);
    let blocking = "[blocking]\n\"hubs.Hub.start\" = { rule = \"IL103\" }\n";
    project.write("interlock.toml", blocking);
    project.check(&["--select", "IL103"]).assert_code(0);
    let types = "[types]\n\"hubs.Builder.with_url\" = \"hubs.Builder\"\n\"hubs.Builder.build\" = \"hubs.Hub\"\n";
    project.write("interlock.toml", format!("{blocking}{types}"));
    let run = project.check(&["--select", "IL103"]);
    run.assert_code(1);
    assert!(run.stdout.contains("app.py:6:5: IL103"), "{}", run.stdout);
    // A type must be a name or a list of names.
    project.write("interlock.toml", "[types]\n\"hubs.Builder.build\" = 3\n");
    project.check(&["--select", "IL103"]).assert_code(2);
}

#[test]
fn user_coroutine_functions_and_task_spawners_from_config() {
    let source = "import mylib\n\n\nasync def main() -> None:\n    mylib.notify()\n    mylib.spawn(main())\n";
    let project = Project::with(&[("app.py", source)]);
    project.check(&["--select", "IL501,IL502"]).assert_code(0);
    project.write(
        "interlock.toml",
        "coroutine-functions = [\"mylib.notify\"]\ntask-spawners = [\"mylib.spawn\"]\n",
    );
    let run = project.check(&["--select", "IL501,IL502"]);
    run.assert_code(1);
    assert!(run.stdout.contains("app.py:5:5: IL501"), "{}", run.stdout);
    assert!(run.stdout.contains("app.py:6:5: IL502"), "{}", run.stdout);
}

#[test]
fn user_process_spawners_from_config() {
    let source = "import mylib\n\nmylib.start_workers(4)\n\nif __name__ == '__main__':\n    mylib.start_workers(4)\n";
    let project = Project::with(&[("train.py", source)]);
    project.check(&["--select", "IL301"]).assert_code(0);
    project.write(
        "interlock.toml",
        "process-spawners = [\"mylib.start_workers\"]\n",
    );
    let run = project.check(&["--select", "IL301"]);
    run.assert_code(1);
    assert!(run.stdout.contains("train.py:3:1: IL301"), "{}", run.stdout);
    assert!(!run.stdout.contains("train.py:6"), "{}", run.stdout);
}

#[test]
fn main_guard_rule_follows_calls_into_other_modules() {
    let project = Project::with(&[
        ("jobs/__init__.py", ""),
        (
            "jobs/pool.py",
            "from concurrent.futures import ProcessPoolExecutor\n\n\ndef square(n):\n    return n * n\n\n\ndef run():\n    with ProcessPoolExecutor() as pool:\n        return list(pool.map(square, range(4)))\n",
        ),
        ("script.py", "from jobs.pool import run\n\nrun()\n"),
        (
            "guarded.py",
            "from jobs.pool import run\n\nif __name__ == '__main__':\n    run()\n",
        ),
    ]);
    let run = project.run(&["check", "--select", "IL301", "--output-format", "json"]);
    run.assert_code(1);
    let findings: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let findings = findings.as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0]["filename"]
            .as_str()
            .unwrap()
            .ends_with("script.py")
    );
    assert_eq!(findings[0]["location"]["row"], 3);
    let related = findings[0]["related"].as_array().unwrap();
    assert!(related.iter().any(|r| {
        r["filename"].as_str().unwrap().ends_with("pool.py")
            && r["location"]["row"] == 9
            && r["message"]
                .as_str()
                .unwrap()
                .contains("ProcessPoolExecutor")
    }));
}

#[test]
fn ci_output_formats_carry_every_finding() {
    let project = Project::with(INVERTED_LOCKS);
    // GitHub annotations.
    let run = project.run(&["check", "--select", "IL201", "--output-format", "github"]);
    run.assert_code(1);
    let line = run.stdout.lines().next().unwrap();
    assert!(
        line.starts_with("::error title=interlock (IL201 lock-order-inversion),file=bank/"),
        "{line}"
    );
    assert!(
        line.contains(",line=") && line.contains(",col=") && line.contains("::bank/"),
        "{line}"
    );

    // GitLab Code Quality: stable fingerprints, relative paths.
    let first = project.run(&["check", "--select", "IL201", "--output-format", "gitlab"]);
    first.assert_code(1);
    let report: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    let issue = &report.as_array().unwrap()[0];
    assert_eq!(issue["check_name"], "IL201");
    assert_eq!(issue["severity"], "major");
    assert!(
        issue["location"]["path"]
            .as_str()
            .unwrap()
            .starts_with("bank/")
    );
    assert!(
        issue["location"]["positions"]["begin"]["line"]
            .as_u64()
            .unwrap()
            > 0
    );
    // Moving the code down does not change the fingerprint.
    let accounts = format!("\n\n{}", INVERTED_LOCKS[1].1);
    project.write("bank/accounts.py", accounts);
    let moved = project.run(&["check", "--select", "IL201", "--output-format", "gitlab"]);
    let moved: serde_json::Value = serde_json::from_str(&moved.stdout).unwrap();
    assert_eq!(moved[0]["fingerprint"], issue["fingerprint"]);
    assert_ne!(
        moved[0]["location"]["positions"]["begin"],
        issue["location"]["positions"]["begin"]
    );

    // JUnit: one failure per finding.
    let junit = project.run(&["check", "--select", "IL201", "--output-format", "junit"]);
    junit.assert_code(1);
    assert!(junit.stdout.starts_with("<?xml"), "{}", junit.stdout);
    assert_eq!(
        junit.stdout.matches("<failure ").count(),
        1,
        "{}",
        junit.stdout
    );
    assert!(junit.stdout.contains(r#"type="IL201""#), "{}", junit.stdout);

    // SARIF 2.1.0: the rules with their help, results with related locations.
    let sarif = project.run(&["check", "--select", "IL201", "--output-format", "sarif"]);
    sarif.assert_code(1);
    // Checked against serde-sarif's types, generated from the official 2.1.0 schema: it must
    // parse, and nothing may be lost on the way back (a misspelt property would be).
    let typed: serde_sarif::sarif::Sarif = serde_json::from_str(&sarif.stdout).unwrap();
    let sarif: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    let mut round_trip = serde_json::to_value(&typed).unwrap();
    round_trip["$schema"] = sarif["$schema"].clone();
    assert_eq!(
        round_trip, sarif,
        "properties outside the SARIF 2.1.0 schema"
    );
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let il201 = rules.iter().find(|r| r["id"] == "IL201").unwrap();
    assert!(
        il201["help"]["markdown"]
            .as_str()
            .unwrap()
            .starts_with("# IL201 lock-order-inversion")
    );
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "IL201");
    assert_eq!(
        rules[result["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "IL201"
    );
    let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert!(uri.starts_with("bank/"), "{uri}");
    assert!(result["relatedLocations"].as_array().unwrap().len() >= 4);

    // No findings: still well-formed.
    let clean = project.run(&["check", "--select", "IL101", "--output-format", "junit"]);
    clean.assert_code(0);
    assert!(clean.stdout.contains("No findings"), "{}", clean.stdout);
}

#[test]
fn files_given_alone_are_checked_in_the_context_of_their_project() {
    let project = Project::with(INVERTED_LOCKS);
    project.write("pyproject.toml", "[project]\nname = \"bank\"\n");
    project.write(
        "bank/other.py",
        "import time\n\n\nasync def nap():\n    time.sleep(1)\n",
    );
    // Only `audit.py` is given (as pre-commit does): the cycle through `accounts.py` is still
    // found, and `other.py`'s finding is not reported.
    let run = project.check(&["bank/audit.py"]);
    run.assert_code(1);
    assert!(run.stdout.contains("IL201"), "{}", run.stdout);
    assert!(!run.stdout.contains("other.py"), "{}", run.stdout);
    // `--files-only` analyses just the file: no cycle without its other half.
    project
        .check(&["bank/audit.py", "--files-only"])
        .assert_code(0);
    // A bad file elsewhere in the project does not fail the run.
    project.write("bank/broken.py", [0xff_u8, 0xfe, 0x00, 0x00]);
    project.check(&["bank/audit.py"]).assert_code(1);
}

/// The `pre-commit` executable: `INTERLOCK_PRE_COMMIT`, or `pre-commit` on the `PATH`.
fn pre_commit() -> Option<PathBuf> {
    let candidate = std::env::var_os("INTERLOCK_PRE_COMMIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("pre-commit"));
    Command::new(&candidate)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| candidate)
}

#[test]
fn pre_commit_hook_fails_on_a_bad_file_and_passes_once_it_is_fixed() {
    let Some(pre_commit) = pre_commit() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "pre-commit is missing on CI (.ci/run installs it)"
        );
        return;
    };
    let project = Project::with(&[
        ("app/__init__.py", ""),
        (
            "app/good.py",
            "import asyncio\n\n\nasync def nap():\n    await asyncio.sleep(1)\n",
        ),
        (
            "app/helpers.py",
            "import time\n\n\ndef settle():\n    time.sleep(1)\n",
        ),
        (
            "app/bad.py",
            "from app.helpers import settle\n\n\nasync def handler():\n    settle()\n",
        ),
    ]);
    // The repository's own hook definition, used as a local `language: system` hook.
    let hooks = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    assert!(hooks.contains("entry: interlock check --force-exclude"));
    let config = format!(
        "repos:\n  - repo: local\n    hooks:\n      - id: interlock\n        name: interlock\n        entry: {} check --force-exclude\n        language: system\n        types_or: [python, rust]\n        require_serial: true\n",
        env!("CARGO_BIN_EXE_interlock")
    );
    project.write(".pre-commit-config.yaml", config);
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(args)
            .current_dir(project.root())
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}: {status:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    let run = |args: &[&str]| {
        let output = Command::new(&pre_commit)
            .args(args)
            .current_dir(project.root())
            .env("PRE_COMMIT_HOME", project.root().join(".pre-commit-home"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        (output.status.code(), text)
    };
    let (code, text) = run(&["run", "--all-files"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("IL106"), "{text}");
    // Only `helpers.py` changed: the async caller in `bad.py` is still found through it.
    let (code, text) = run(&["run", "--files", "app/helpers.py"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("bad.py") && text.contains("IL106"), "{text}");
    // Only the good file: passes.
    let (code, text) = run(&["run", "--files", "app/good.py"]);
    assert_eq!(code, Some(0), "{text}");
    // Fixed: passes.
    project.write(
        "app/bad.py",
        "import asyncio\n\nfrom app.helpers import settle\n\n\nasync def handler():\n    await asyncio.to_thread(settle)\n",
    );
    git(&["add", "-A"]);
    let (code, text) = run(&["run", "--all-files"]);
    assert_eq!(code, Some(0), "{text}");
}

/// Runs `interlock check --output-format FORMAT ARGS...` in `project` under a 6 GiB address
/// space limit (the analysis threads reserve 1 GiB stacks each): a run that needs more memory
/// than that fails instead of taking the machine.
#[cfg(unix)]
fn check_bounded(project: &Project, format: &str, args: &[&str]) -> Run {
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -v 6291456; exec \"$0\" check --no-color --output-format \"$@\"")
        .arg(env!("CARGO_BIN_EXE_interlock"))
        .arg(format)
        .args(args)
        .current_dir(project.root());
    Run::of(Command::from_std(command).timeout(TIMEOUT))
}

#[test]
fn every_format_renders_findings_at_any_position() {
    let project = Project::new();
    // A BOM then a syntax error (the error's span used to fall inside the BOM), a finding past
    // column 65 535, a file with CR-only line ends, tabs, and a finding on the last byte.
    project.write("bom.rs", b"\xef\xbb\xbf# x\n");
    project.write(
        "wide.py",
        format!(
            "import time\nasync def f():\n    {}time.sleep(1)\n",
            "x = 1; ".repeat(10_000)
        ),
    );
    project.write(
        "old_mac.py",
        "import time\rasync def f():\r\ttime.sleep(1)\r",
    );
    project.write("tabs.py", "import time\nasync def f():\n\t\ttime.sleep(1)");
    for format in [
        "full",
        "concise",
        "json",
        "json-lines",
        "github",
        "gitlab",
        "junit",
        "sarif",
    ] {
        let run = project.run(&["check", "--output-format", format]);
        run.assert_no_crash();
        run.assert_code(1);
        for file in ["bom.rs", "wide.py", "tabs.py"] {
            assert!(
                run.stdout.contains(file),
                "{format}: {file} missing: {run:#?}"
            );
        }
    }
    let full = project.run(&["check"]);
    // The wide finding cannot be drawn: it is printed in the concise form, with its help.
    assert!(
        full.stdout
            .contains("wide.py:3:70005: IL101 `time.sleep()` in async function `f`"),
        "{full:#?}"
    );
    assert!(
        full.stdout.contains("help: use await asyncio.sleep"),
        "{full:#?}"
    );
    // The others are drawn with their snippet.
    assert!(full.stdout.contains("[tabs.py:3:3]"), "{full:#?}");
    let json = project.run(&["check", "--output-format", "json"]);
    let findings: Vec<Value> = serde_json::from_str(&json.stdout).expect("valid JSON");
    for finding in &findings {
        let at = |key: &str| {
            (
                finding[key]["row"].as_u64().unwrap(),
                finding[key]["column"].as_u64().unwrap(),
            )
        };
        assert!(at("location") <= at("end_location"), "{finding}");
    }
    let bom = findings
        .iter()
        .find(|f| f["filename"].as_str().unwrap().ends_with("bom.rs"))
        .expect("a finding in bom.rs");
    // `x`, where `[` should follow `#`; the BOM is not a column, as in editors.
    assert_eq!(bom["location"]["column"], 3, "{bom}");
}

#[test]
fn a_raw_byte_string_ending_in_a_backslash_does_not_hide_deep_nesting() {
    let project = Project::new();
    project.write(
        "deep.rs",
        format!(
            "fn main() {{ let a = br\"\\\"; let x = {}1{}; }}\n",
            "(".repeat(200_000),
            ")".repeat(200_000)
        ),
    );
    project.write("good.rs", SLEEPY_RS);
    let run = project.check(&[]);
    run.assert_no_crash();
    assert!(
        run.stdout.contains("IL001 nesting deeper than 256 levels"),
        "{run:#?}"
    );
    assert!(run.findings().contains(&"good.rs:2:5 IL101".to_string()));
}

#[test]
fn rust_files_with_more_tokens_than_the_budget_are_refused() {
    let project = Project::new();
    project.write(
        "table.rs",
        format!("static T: &[u8] = &[{}1];\n", "1,".repeat(2_100_000)),
    );
    project.write("good.rs", SLEEPY_RS);
    let run = project.check(&[]);
    run.assert_no_crash();
    assert!(
        run.stdout.contains("IL001 more than 2000000 tokens"),
        "{run:#?}"
    );
    assert!(run.findings().contains(&"good.rs:2:5 IL101".to_string()));
}

#[cfg(unix)]
#[test]
fn thousands_of_acquisitions_of_one_lock_stay_bounded() {
    let project = Project::new();
    let items = vec!["l"; 20_000].join(", ");
    project.write(
        "many.py",
        format!(
            "import threading\nl = threading.Lock()\ndef f():\n    with {items}:\n        pass\n"
        ),
    );
    let guards: String = (0..3_000)
        .map(|i| format!("    let g{i} = m.lock().unwrap();\n"))
        .collect();
    project.write(
        "many.rs",
        format!("use std::sync::Mutex;\nfn f(m: &Mutex<i32>) {{\n{guards}}}\n"),
    );
    // Held across thousands of awaits: every await is counted, the first 16 are pointed at.
    let awaited: String = (0..3_000)
        .map(|i| format!("    let g{i} = m.lock().unwrap();\n    tick().await;\n"))
        .collect();
    project.write(
        "many_async.rs",
        format!("use std::sync::Mutex;\nasync fn f(m: &Mutex<i32>) {{\n{awaited}}}\n"),
    );
    let awaits = "        await asyncio.sleep(0)\n".repeat(3_000);
    project.write(
        "many_async.py",
        format!("import asyncio, threading\nl = threading.Lock()\nasync def f():\n    with {}:\n{awaits}", vec!["l"; 3_000].join(", ")),
    );
    let run = check_bounded(&project, "concise", &["--statistics"]);
    run.assert_no_crash();
    assert!(run.stdout.contains("IL202"), "{run:#?}");
    assert!(run.stdout.contains("IL203"), "{run:#?}");
    let json = check_bounded(&project, "json", &["--select", "IL203"]);
    let findings: Vec<Value> = serde_json::from_str(&json.stdout).expect("valid JSON");
    let python = findings
        .iter()
        .find(|f| f["filename"].as_str().unwrap().ends_with("many_async.py"))
        .expect("IL203 in many_async.py");
    assert!(
        python["message"]
            .as_str()
            .unwrap()
            .contains("3000 awaits (the first 16 are shown)"),
        "{python}"
    );
    assert_eq!(python["related"].as_array().unwrap().len(), 16);
}

#[cfg(unix)]
#[test]
fn thousands_of_locks_held_together_stay_bounded() {
    let project = Project::new();
    let locks: String = (0..3_000)
        .map(|i| format!("l{i} = threading.Lock()\n"))
        .collect();
    let names: Vec<String> = (0..3_000).map(|i| format!("l{i}")).collect();
    project.write(
        "locks.py",
        format!(
            "import threading\n{locks}def f():\n    with {}:\n        pass\n",
            names.join(", ")
        ),
    );
    check_bounded(&project, "concise", &[]).assert_no_crash();
}

#[cfg(unix)]
#[test]
fn thousands_of_findings_in_one_file_render_in_every_format() {
    let project = Project::new();
    let methods: String = (0..5_000)
        .map(|i| format!("    def m{i}(self):\n        self.x = {i}\n"))
        .collect();
    project.write(
        "state.py",
        format!(
            "import threading\nclass C:\n    def __init__(self):\n        self._lock = threading.Lock()\n        self.x = 0\n    def start(self):\n        threading.Thread(target=self.m0).start()\n    def locked(self):\n        with self._lock:\n            self.x = 1\n{methods}"
        ),
    );
    for format in ["full", "json", "sarif"] {
        let run = check_bounded(&project, format, &[]);
        run.assert_no_crash();
        run.assert_code(1);
        assert!(run.stdout.matches("IL402").count() >= 5_000, "{format}");
    }
}

#[test]
fn files_over_the_size_limit_are_refused_without_reading_them_whole() {
    let project = Project::new();
    let big = format!("x = [{}1]\n", "1,".repeat(4_300_000));
    project.write("data.py", &big);
    project.write("app.py", SLEEPY_PY);
    let run = project.check(&[]);
    run.assert_no_crash();
    assert!(
        run.stdout
            .contains("data.py:1:1: IL001 file larger than 8 MiB; it was not analysed"),
        "{run:#?}"
    );
    assert!(run.findings().contains(&"app.py:5:5 IL101".to_string()));
    let full = project.run(&["check", "data.py", "--files-only"]);
    full.assert_no_crash();
    assert!(full.stdout.contains("file larger than 8 MiB"), "{full:#?}");
    let stdin = project.check_stdin(&["-", "--output-format", "concise"], &big);
    stdin.assert_no_crash();
    assert!(
        stdin.stdout.contains("IL001 file larger than 8 MiB"),
        "{stdin:#?}"
    );
}
