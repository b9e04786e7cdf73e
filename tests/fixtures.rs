//! The fixture harness: every file under `fixtures/` carries inline expectations
//! (`# expect: IL101` / `// expect: IL101, IL105`) on the line where a finding starts. Checked
//! both ways: every expectation is reported, and nothing unexpected is.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use interlock::analysis::{self, Input};
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
fn expectations(text: &str) -> BTreeSet<(usize, String)> {
    let mut expected = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        if let Some((_, list)) = line.split_once("expect:") {
            for code in list
                .split([',', ' '])
                .map(str::trim)
                .filter(|c| c.starts_with("IL"))
            {
                expected.insert((i + 1, code.to_string()));
            }
        }
    }
    expected
}

#[test]
fn fixtures_report_exactly_their_expectations() {
    let files = fixture_files();
    assert!(
        files.len() >= 10,
        "fixtures are missing: found {}",
        files.len()
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let settings =
        Arc::new(Settings::new(root.clone(), Options::default(), &Options::default()).unwrap());
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

    let mut failures = Vec::new();
    let mut total = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let index = LineIndex::new(&text);
        let expected = expectations(&text);
        total += expected.len();
        let actual: BTreeSet<(usize, String)> = report
            .diagnostics
            .iter()
            .filter(|d| &d.path == path)
            .map(|d| (index.line_of(d.span.start) + 1, d.code.to_string()))
            .collect();
        let name = path.strip_prefix(&root).unwrap().display();
        for (line, code) in expected.difference(&actual) {
            failures.push(format!("{name}:{line}: expected {code}, not reported"));
        }
        for (line, code) in actual.difference(&expected) {
            let message = report
                .diagnostics
                .iter()
                .find(|d| &d.path == path && d.code.as_str() == code)
                .map(|d| d.message.as_str())
                .unwrap_or("");
            failures.push(format!("{name}:{line}: unexpected {code} ({message})"));
        }
    }
    assert!(total > 100, "too few expectations: {total}");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
