//! The fixture harness: every file under `fixtures/` carries inline expectations
//! (`# expect: IL101` / `// expect: IL101, IL105`) on the line where a finding starts. Checked
//! both ways: every expectation is reported, and nothing unexpected is.
//!
//! One test checks every rule at once; one test per code (`il203`) checks that code's findings
//! and expectations alone, so that `cargo test il203` runs one rule's fixtures and
//! `cargo test il2` a family's. The fixtures are analysed once per test process.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use interlock::analysis::{self, Input, Report};
use interlock::codes::{self, Code};
use interlock::config::{Options, Settings};
use interlock::model::Language;
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
                .find(|d| &d.path == path && d.code == *code)
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
