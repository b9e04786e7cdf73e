//! Snapshots of the lowered model of every fixture: one line per fact, so a change to a front
//! end shows exactly which facts it adds, drops or alters. A refactor must keep them as they
//! are; a change of behaviour updates them on purpose (`cargo insta review`, or
//! `INSTA_UPDATE=always cargo test --test model_snapshots` then read the diff).

use std::fmt::Write;
use std::path::{Path, PathBuf};

use interlock::frontend;
use interlock::knowledge::Knowledge;
use interlock::model::{FileModel, Language};
use interlock::project::Layout;

fn fixture_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ignore::WalkBuilder::new(root.join("fixtures"))
        .build()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| Language::from_path(p).is_some())
        .collect();
    files.sort();
    files
}

/// The model as text: the file's own facts, then each function and its facts in order. Name
/// hashes (`reads`) are sorted, as their set has no order.
fn dump(model: &FileModel) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "module {:?} ({:?})", model.module, model.language);
    let lists: [(&str, Vec<String>); 8] = [
        ("alias", debug_each(&model.aliases)),
        ("class", debug_each(&model.classes)),
        ("lock definition", debug_each(&model.lock_definitions)),
        ("type", debug_each(&model.types)),
        ("returned by", debug_each(&model.returned_by)),
        ("returns", debug_each(&model.returns)),
        ("main guard", debug_each(&model.main_guards)),
        ("mutable static", debug_each(&model.mutable_statics)),
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
        let facts: [(&str, Vec<String>); 13] = [
            ("call", debug_each(&function.calls)),
            ("await", debug_each(&function.awaits)),
            ("busy wait", debug_each(&function.busy_waits)),
            ("hold", debug_each(&function.lock_holds)),
            ("pointless", debug_each(&function.pointless_locks)),
            ("leak", debug_each(&function.leaked_locks)),
            ("condition", debug_each(&function.condition_uses)),
            ("handoff", debug_each(&function.process_handoffs)),
            ("thread entry", debug_each(&function.thread_entries)),
            ("write", debug_each(&function.state_writes)),
            ("check then act", debug_each(&function.check_then_acts)),
            ("state check", debug_each(&function.state_checks)),
            ("reads", {
                let mut reads: Vec<u64> = function.reads.iter().copied().collect();
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

#[test]
fn lowered_models_of_the_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let knowledge = Knowledge::builtin();
    let layout = Layout::default();
    let files = fixture_files(root);
    assert!(files.len() >= 10, "fixtures are missing");
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        for path in files {
            let relative = path.strip_prefix(root).unwrap();
            let language = Language::from_path(&path).unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            let module = layout.module_of(&path, language);
            let name = relative.to_string_lossy().replace(['/', '\\', '.'], "_");
            let snapshot = match frontend::lower(relative, language, &text, &knowledge, &module) {
                Ok((model, _)) => dump(&model),
                Err(error) => format!("error {error:?}"),
            };
            insta::assert_snapshot!(name, snapshot);
        }
    });
}
