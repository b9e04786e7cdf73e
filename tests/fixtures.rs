//! The fixture harness: every file under `fixtures/` carries inline expectations
//! (`# expect: IL101` / `// expect: IL101, IL105`) on the line where a finding starts. Checked
//! both ways: every expectation is reported, and nothing unexpected is.
//!
//! One test checks every rule at once; one test per code (`il203`) checks that code's findings
//! and expectations alone, so that `cargo test il203` runs one rule's fixtures and
//! `cargo test il2` a family's. The fixtures are analysed once per test process.
//!
//! Two snapshot tests (insta, `tests/snapshots/`) keep the rest honest: the lowered model of
//! every fixture, one line per fact (a front-end refactor must leave it as it is), and the
//! findings on every fixture as a user reads them (`--output-format full`). After a deliberate
//! change, `INSTA_UPDATE=always cargo test --test fixtures snapshots` rewrites them: read the
//! diff before committing it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use std::fmt::Write;

use interlock::analysis::{self, Input, Report};
use interlock::codes::{self, Code};
use interlock::config::{Options, Settings};
use interlock::frontend;
use interlock::knowledge::Knowledge;
use interlock::model::FileModel;
use interlock::model::Language;
use interlock::project::Layout;
use interlock::report::{self, OutputFormat};
use interlock::source::LineIndex;

fn fixture_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut files: Vec<PathBuf> = ignore::WalkBuilder::new(&root)
        .build()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| Language::from_path(p).is_some())
        .collect();
    files.sort();
    files
}

/// `(line, code)` pairs written in the file's `expect:` comments (1-based lines).
fn expectations(text: &str) -> BTreeSet<(usize, Code)> {
    let mut expected = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        if let Some((_, list)) = line.split_once("expect:") {
            for code in list
                .split([',', ' '])
                .map(str::trim)
                .filter(|c| c.starts_with("IL"))
            {
                let code = code
                    .parse()
                    .unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
                expected.insert((i + 1, code));
            }
        }
    }
    expected
}

#[test]
fn fixtures_report_exactly_their_expectations() {
    check_fixtures(None);
}

/// One test per rule code, named after it in lowercase (`il203`): that rule alone.
macro_rules! rule_tests {
    ($($test:ident => $code:ident,)*) => {
        $(
            #[test]
            fn $test() {
                check_fixtures(Some(Code::$code));
            }
        )*

        #[test]
        fn every_code_has_its_own_test() {
            assert_eq!([$(Code::$code),*], codes::ALL);
        }
    };
}

rule_tests! {
    il001 => IL001,
    il002 => IL002,
    il101 => IL101,
    il102 => IL102,
    il103 => IL103,
    il104 => IL104,
    il105 => IL105,
    il106 => IL106,
    il107 => IL107,
    il201 => IL201,
    il202 => IL202,
    il203 => IL203,
    il204 => IL204,
    il205 => IL205,
    il206 => IL206,
    il301 => IL301,
    il302 => IL302,
    il303 => IL303,
    il401 => IL401,
    il402 => IL402,
    il403 => IL403,
    il404 => IL404,
    il501 => IL501,
    il502 => IL502,
    il503 => IL503,
}

/// Every fixture, analysed together (cross-file rules need the whole projects) with the
/// default settings, once per test process.
fn analysed_fixtures() -> &'static (Vec<PathBuf>, Report) {
    static ANALYSED: OnceLock<(Vec<PathBuf>, Report)> = OnceLock::new();
    ANALYSED.get_or_init(|| {
        let files = fixture_files();
        assert!(
            files.len() >= 10,
            "fixtures are missing: found {}",
            files.len()
        );
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
        let settings =
            Arc::new(Settings::new(root, Options::default(), &Options::default()).unwrap());
        let inputs = files
            .iter()
            .map(|path| Input {
                path: path.clone(),
                language: Language::from_path(path).unwrap(),
                settings: settings.clone(),
                contents: None,
            })
            .collect();
        let report = analysis::analyse(inputs);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        (files, report)
    })
}

/// Compares the fixtures' findings with their expectations both ways: of every code, or of
/// `only`.
fn check_fixtures(only: Option<Code>) {
    let (files, report) = analysed_fixtures();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wanted = |code: &Code| only.is_none_or(|only| *code == only);
    let mut failures = Vec::new();
    let mut total = 0;
    for path in files {
        let text = std::fs::read_to_string(path).unwrap();
        let index = LineIndex::new(&text);
        let mut expected = expectations(&text);
        expected.retain(|(_, code)| wanted(code));
        total += expected.len();
        let actual: BTreeSet<(usize, Code)> = report
            .diagnostics
            .iter()
            .filter(|d| &d.path == path && wanted(&d.code))
            .map(|d| (index.line_of(d.span.start) + 1, d.code))
            .collect();
        let name = path.strip_prefix(root).unwrap().display();
        for (line, code) in expected.difference(&actual) {
            failures.push(format!("{name}:{line}: expected {code}, not reported"));
        }
        for (line, code) in actual.difference(&expected) {
            let message = report
                .diagnostics
                .iter()
                .find(|d| {
                    &d.path == path && d.code == *code && index.line_of(d.span.start) + 1 == *line
                })
                .map(|d| d.message.as_str())
                .unwrap_or("");
            failures.push(format!("{name}:{line}: unexpected {code} ({message})"));
        }
    }
    if only.is_none() {
        assert!(total > 100, "too few expectations: {total}");
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Snapshot settings: one file per fixture, named after its path, under `dir`.
fn snapshot_settings(dir: &str) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_snapshot_path(dir);
    settings
}

/// A fixture's path relative to the repository, as a snapshot name.
fn snapshot_name(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative.to_string_lossy().replace(['/', '\\', '.'], "_")
}

#[test]
fn lowered_models_of_the_fixtures_snapshots() {
    let knowledge = Knowledge::builtin();
    let layout = Layout::default();
    let project = interlock::frontend::ProjectScan::default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    snapshot_settings("snapshots").bind(|| {
        for path in fixture_files() {
            let relative = path.strip_prefix(root).unwrap();
            let language = Language::from_path(&path).unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            let module = layout.module_of(&path, language);
            let snapshot =
                match frontend::lower(relative, language, &text, &knowledge, &module, &project) {
                    Ok((model, _)) => dump(&model),
                    Err(error) => format!("error {error:?}"),
                };
            insta::assert_snapshot!(snapshot_name(&path), snapshot);
        }
    });
}

#[test]
fn rendered_findings_of_the_fixtures_snapshots() {
    let (files, analysed) = analysed_fixtures();
    let prefix = format!("{}/", env!("CARGO_MANIFEST_DIR"));
    snapshot_settings("snapshots/messages").bind(|| {
        for path in files {
            let diagnostics: Vec<_> = analysed
                .diagnostics
                .iter()
                .filter(|d| &d.path == path)
                .cloned()
                .collect();
            if diagnostics.is_empty() {
                continue;
            }
            // Every file's text: related sites may be in another file.
            let one_file = Report {
                diagnostics,
                sources: analysed.sources.clone(),
                errors: Vec::new(),
            };
            let mut out = Vec::new();
            report::write(&one_file, OutputFormat::Full, false, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap().replace(&prefix, "");
            insta::assert_snapshot!(snapshot_name(path), text);
        }
    });
}

/// The model as text: the file's own facts, then each function and its facts in order. Name
/// hashes (`reads`) are sorted, as their set has no order.
fn dump(model: &FileModel) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "module {:?} ({:?})", model.module, model.language);
    let lists: [(&str, Vec<String>); 11] = [
        ("alias", debug_each(&model.aliases)),
        ("class", debug_each(&model.classes)),
        ("lock definition", debug_each(&model.lock_definitions)),
        ("type", debug_each(&model.types)),
        ("returned by", debug_each(&model.returned_by)),
        ("returns", debug_each(&model.returns)),
        ("main guard", debug_each(&model.main_guards)),
        ("mutable static", debug_each(&model.mutable_statics)),
        ("fork hook", debug_each(&model.fork_hooks)),
        ("guard method", debug_each(&model.guard_methods)),
        ("guard function", debug_each(&model.guard_functions)),
    ];
    for (what, items) in lists {
        for item in items {
            let _ = writeln!(out, "{what} {item}");
        }
    }
    for (index, function) in model.functions.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n[{index}] {:?} {} {:?} async={} span={:?} parent={:?}",
            function.kind,
            function.name,
            function.canonical,
            function.is_async,
            function.span,
            function.parent
        );
        let facts: [(&str, Vec<String>); 21] = [
            ("call", debug_each(&function.calls)),
            ("await", debug_each(&function.awaits)),
            ("busy wait", debug_each(&function.busy_waits)),
            ("hold", debug_each(&function.lock_holds)),
            ("attempt", debug_each(&function.lock_attempts)),
            ("pointless", debug_each(&function.pointless_locks)),
            ("leak", debug_each(&function.leaked_locks)),
            ("condition", debug_each(&function.condition_uses)),
            ("handoff", debug_each(&function.process_handoffs)),
            ("thread entry", debug_each(&function.thread_entries)),
            ("write", debug_each(&function.state_writes)),
            ("check then act", debug_each(&function.check_then_acts)),
            ("state check", debug_each(&function.state_checks)),
            ("call condition", debug_each(&function.call_conditions)),
            ("file use", debug_each(&function.file_uses)),
            ("parameter", debug_each(&function.parameters)),
            ("attribute value", debug_each(&function.attribute_values)),
            ("field flow", debug_each(&function.field_flows)),
            ("field receiver", debug_each(&function.field_receivers)),
            (
                "abstract",
                match function.abstract_stub {
                    true => vec!["stub: a call runs a subclass's override".to_string()],
                    false => Vec::new(),
                },
            ),
            ("reads", {
                let mut reads: Vec<(u64, u32)> = function
                    .reads
                    .iter()
                    .map(|(&hash, &at)| (hash, at))
                    .collect();
                reads.sort_unstable();
                if reads.is_empty() {
                    Vec::new()
                } else {
                    vec![format!("{reads:?}")]
                }
            }),
        ];
        for (what, items) in facts {
            for item in items {
                let _ = writeln!(out, "  {what} {item}");
            }
        }
    }
    out
}

fn debug_each<T: std::fmt::Debug>(items: &[T]) -> Vec<String> {
    items.iter().map(|item| format!("{item:?}")).collect()
}
