//! Snapshots of the findings on every fixture as a user reads them (`--output-format full`,
//! without colour): a change to a message, a label, a help text or the sites a finding shows
//! is a reviewed change (`INSTA_UPDATE=always cargo test --test message_snapshots`, then read
//! the diff).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use interlock::analysis::{self, Input};
use interlock::config::{Options, Settings};
use interlock::model::Language;
use interlock::report::{self, OutputFormat};

#[test]
fn rendered_findings_of_the_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).unwrap();
    let mut files: Vec<PathBuf> = ignore::WalkBuilder::new("fixtures")
        .build()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| Language::from_path(p).is_some())
        .collect();
    files.sort();
    let settings = Arc::new(
        Settings::new(root.to_path_buf(), Options::default(), &Options::default()).unwrap(),
    );
    let inputs = files
        .iter()
        .map(|path| Input {
            path: path.clone(),
            language: Language::from_path(path).unwrap(),
            settings: settings.clone(),
            contents: None,
        })
        .collect();
    let mut report = analysis::analyse(inputs);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    // Rendered one file at a time, with every file's text (related sites may be elsewhere).
    let all = std::mem::take(&mut report.diagnostics);
    let mut insta_settings = insta::Settings::clone_current();
    insta_settings.set_prepend_module_to_snapshot(false);
    insta_settings.set_omit_expression(true);
    insta_settings.set_snapshot_path("snapshots/messages");
    insta_settings.bind(|| {
        for path in &files {
            report.diagnostics = all.iter().filter(|d| &d.path == path).cloned().collect();
            if report.diagnostics.is_empty() {
                continue;
            }
            let mut out = Vec::new();
            report::write(&report, OutputFormat::Full, false, &mut out).unwrap();
            let name = path.to_string_lossy().replace(['/', '\\', '.'], "_");
            insta::assert_snapshot!(name, String::from_utf8(out).unwrap());
        }
    });
}
