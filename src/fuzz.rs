//! Fuzz targets: one function per target, each taking arbitrary bytes and asserting what must
//! hold for any input: nothing panics (on any thread, including the analysis threads, where a
//! panic otherwise becomes a per-file error), the analysis's findings point into their file,
//! and every output format renders well-formed output.
//!
//! `tests/fuzz.rs` replays the [`seeds`] (made from `fixtures/`) through every target, then
//! random mutations of them for a short time budget; the crate in `fuzz/` runs the same
//! targets under libFuzzer for long campaigns (see `fuzz/README.md`).

use std::collections::HashMap;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock};

use crossbeam_channel::unbounded;
use lsp_server::{Connection, Message, RequestId};
use serde_json::{Value, json};

use crate::analysis::{self, Contents, Input, Report};
use crate::codes::{self, Code};
use crate::config::{self, Options, Settings};
use crate::diagnostic::{Diagnostic, Related};
use crate::report::{self, OutputFormat};
use crate::server::{self, transport};
use crate::source::Language;
use crate::source::SourceFile;

/// A fuzz target: runs one input, panicking if an invariant does not hold.
pub type Target = fn(&[u8]);

/// Every target, by name.
pub const TARGETS: &[(&str, Target)] = &[
    ("python_file", python_file),
    ("rust_file", rust_file),
    ("render", render),
    ("config", config),
    ("lsp_frames", lsp_frames),
    ("lsp_dispatch", lsp_dispatch),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Where the fuzzed files live: a directory that does not exist, so that nothing on disk (a
/// `Cargo.toml`, an `__init__.py` above) changes what a file means from one run to the next.
const ROOT: &str = "/interlock-fuzz";

// ---------------------------------------------------------------------------------------------
// Running one input

/// Panics seen while the current input ran, on any thread.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Whether a known panic (see [`known`]) happened while the current input ran.
static KNOWN_HIT: AtomicBool = AtomicBool::new(false);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Panics not to report, while their fix is pending: `INTERLOCK_FUZZ_KNOWN` holds parts of
/// their messages or locations, separated by `|` (for example `JUnit output has|full.rs:`).
/// An input that meets one is given up quietly, so that a campaign can look past it.
fn known(panic: &str) -> bool {
    static KNOWN: OnceLock<Vec<String>> = OnceLock::new();
    KNOWN
        .get_or_init(|| {
            std::env::var("INTERLOCK_FUZZ_KNOWN")
                .unwrap_or_default()
                .split('|')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .iter()
        .any(|part| panic.contains(part.as_str()))
}

/// Records every panic (message, location, thread), then lets the hook that was there before
/// (the analysis threads' quiet one, then the default or libFuzzer's) do its part; known ones
/// are only noted.
fn watch_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        crate::guard::install_quiet_hook();
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let message = crate::guard::message(info.payload());
            let location = info
                .location()
                .map_or_else(String::new, |l| format!(" at {l}"));
            let thread = std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .to_string();
            let panic = format!("`{message}`{location} (thread `{thread}`)");
            if known(&panic) {
                KNOWN_HIT.store(true, Ordering::Relaxed);
                return;
            }
            lock(&PANICS).push(panic);
            previous(info);
        }));
    });
}

/// Runs one input through `body`, then fails if anything panicked meanwhile, even where the
/// panic was caught (a file's analysis, the project phase, the server thread).
fn run(body: impl FnOnce()) {
    watch_panics();
    lock(&PANICS).clear();
    KNOWN_HIT.store(false, Ordering::Relaxed);
    let result = panic::catch_unwind(AssertUnwindSafe(body));
    let panics = std::mem::take(&mut *lock(&PANICS));
    if result.is_err() && panics.is_empty() && KNOWN_HIT.load(Ordering::Relaxed) {
        return;
    }
    assert!(
        panics.is_empty(),
        "panicked while running this input: {}",
        panics.join("; ")
    );
    if let Err(payload) = result {
        panic::resume_unwind(payload);
    }
}

/// The analysis pool, built once: one thread (a fuzzer runs one input at a time) with the
/// analysis threads' stack, as the parsers recurse.
fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .stack_size(analysis::STACK_SIZE)
            .thread_name(|i| format!("interlock-fuzz-{i}"))
            .build()
            .expect("the fuzz analysis pool starts")
    })
}

fn settings_for(options: Options, cli: &Options) -> Result<Settings, String> {
    Settings::new(PathBuf::from(ROOT), options, cli)
}

fn default_settings() -> Arc<Settings> {
    static SETTINGS: OnceLock<Arc<Settings>> = OnceLock::new();
    SETTINGS
        .get_or_init(|| {
            Arc::new(
                settings_for(Options::default(), &Options::default())
                    .expect("default settings are valid"),
            )
        })
        .clone()
}

// ---------------------------------------------------------------------------------------------
// The front ends: one file through the whole pipeline

/// Arbitrary bytes as a Python file: decode, parse, lower, the per-file rules, the project
/// phase, then every output format.
pub fn python_file(data: &[u8]) {
    file(data, Language::Python);
}

/// Arbitrary bytes as a Rust file, as [`python_file`].
pub fn rust_file(data: &[u8]) {
    file(data, Language::Rust);
}

fn file(data: &[u8], language: Language) {
    run(|| {
        let report = analyse(data, language, default_settings());
        check_spans(&report);
        // SARIF (all the rules' documentation, every time) would take half of each run: the
        // render target covers it, with findings more varied than the analysis makes.
        render_all(&report, &ALL_FORMATS[1..ALL_FORMATS.len() - 1]);
    });
}

/// Every format: `full` with colour first, SARIF last (the file targets render all but those
/// two; SARIF takes as long as the rest together and is left to the render target).
const ALL_FORMATS: &[(OutputFormat, bool)] = &[
    (OutputFormat::Full, true),
    (OutputFormat::Full, false),
    (OutputFormat::Concise, false),
    (OutputFormat::Json, false),
    (OutputFormat::JsonLines, false),
    (OutputFormat::Github, false),
    (OutputFormat::Gitlab, false),
    (OutputFormat::Junit, false),
    (OutputFormat::Sarif, false),
];

/// The file's name depends on the input's length (so a reproduction needs nothing but the
/// input): package and crate roots and `__main__` change what the rules see.
fn analyse(data: &[u8], language: Language, settings: Arc<Settings>) -> Report {
    let names: &[&str] = match language {
        Language::Python => &["app.py", "pkg/__init__.py", "__main__.py"],
        Language::Rust => &["src/lib.rs", "src/main.rs", "src/net/mod.rs"],
    };
    let input = Input {
        path: Path::new(ROOT).join(names[data.len() % names.len()]),
        language,
        settings,
        contents: Some(Contents::Bytes(data.to_vec())),
    };
    analysis::analyse_on(pool(), vec![input])
}

/// Whether a span lies in `text`, in order, on character boundaries (true when there is no
/// text: every format then shows row 1, column 1).
fn well_formed(span: &Range<usize>, text: Option<&str>) -> bool {
    text.is_none_or(|text| {
        span.start <= span.end
            && span.end <= text.len()
            && text.is_char_boundary(span.start)
            && text.is_char_boundary(span.end)
    })
}

/// The analysis's findings point into the text of their file.
fn check_spans(report: &Report) {
    for diagnostic in &report.diagnostics {
        let text = report.sources.get(&diagnostic.path).map(|s| &**s.text());
        assert!(
            text.is_some(),
            "{} at {:?}: no source text for {}",
            diagnostic.code,
            diagnostic.span,
            diagnostic.path.display()
        );
        assert!(
            well_formed(&diagnostic.span, text),
            "{} ({}): span {:?} is not a range of the text ({} bytes)",
            diagnostic.code,
            diagnostic.message,
            diagnostic.span,
            text.map_or(0, str::len)
        );
        for related in &diagnostic.related {
            let text = report.sources.get(&related.path).map(|s| &**s.text());
            assert!(
                well_formed(&related.span, text),
                "{} ({}): related span {:?} ({}) is not a range of the text ({} bytes)",
                diagnostic.code,
                diagnostic.message,
                related.span,
                related.message,
                text.map_or(0, str::len)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The renderers

/// Arbitrary findings over arbitrary text, rendered in every format. The first byte is the
/// length of the control bytes that follow it (see [`render_report`]); the rest is split at NUL
/// bytes: the text of file A, the text of file B, then strings used in turn for messages,
/// labels, help texts and paths.
pub fn render(data: &[u8]) {
    // `full` with colour only for odd lengths, SARIF for one length in four (independently):
    // miette, and SARIF's serialised rule documentation, would take most of each run.
    let mut formats = ALL_FORMATS[usize::from(data.len().is_multiple_of(2))..].to_vec();
    if !(data.len() / 2).is_multiple_of(4) {
        formats.retain(|(format, _)| *format != OutputFormat::Sarif);
    }
    run(|| render_all(&render_report(data), &formats));
}

/// Renders `report` in `formats` (with or without colour) and `--statistics`, checking what
/// each must give.
fn render_all(report: &Report, formats: &[(OutputFormat, bool)]) {
    let spans_in_text = report.diagnostics.iter().all(|d| {
        std::iter::once((&d.path, &d.span))
            .chain(d.related.iter().map(|r| (&r.path, &r.span)))
            .all(|(path, span)| well_formed(span, report.sources.get(path).map(|s| &**s.text())))
    });
    for &(format, color) in formats {
        let mut out = Vec::new();
        if let Err(error) = report::write(report, format, color, &mut out) {
            // miette refuses spans past the end of the text: the analysis makes none.
            assert!(
                format == OutputFormat::Full && !spans_in_text,
                "{format:?} output failed: {error}"
            );
            continue;
        }
        let out = String::from_utf8(out)
            .unwrap_or_else(|e| panic!("{format:?} output is not UTF-8: {e}"));
        check_output(format, &out, report);
    }
    let mut statistics = Vec::new();
    report::write_statistics(report, &mut statistics).expect("statistics render");
    assert!(!statistics.is_empty(), "--statistics printed nothing");
}

fn check_output(format: OutputFormat, out: &str, report: &Report) {
    let n = report.diagnostics.len();
    let lines = || out.lines().filter(|l| !l.is_empty());
    let parse = |text: &str| -> Value {
        serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{format:?} output is not JSON ({e}): {text}"))
    };
    match format {
        OutputFormat::Full | OutputFormat::Concise => {
            let summary = match n {
                0 => "All checks passed!".to_string(),
                1 => "Found 1 error.".to_string(),
                n => format!("Found {n} errors."),
            };
            assert!(
                out.ends_with(&format!("{summary}\n")),
                "{format:?} output does not end with its summary"
            );
        }
        OutputFormat::Json => {
            let items = parse(out);
            let items = items.as_array().expect("the JSON output is an array");
            assert_eq!(items.len(), n, "one JSON item per finding");
            for (item, diagnostic) in items.iter().zip(&report.diagnostics) {
                check_json_item(item, diagnostic);
            }
        }
        OutputFormat::JsonLines => {
            assert_eq!(lines().count(), n, "one JSON line per finding:\n{out}");
            for (line, diagnostic) in lines().zip(&report.diagnostics) {
                check_json_item(&parse(line), diagnostic);
            }
        }
        OutputFormat::Github => {
            assert_eq!(
                lines().count(),
                n,
                "one annotation line per finding:\n{out}"
            );
            assert!(lines().all(|l| l.starts_with("::error ")), "{out}");
        }
        OutputFormat::Gitlab => {
            let items = parse(out);
            assert_eq!(items.as_array().map(Vec::len), Some(n), "{out}");
        }
        OutputFormat::Junit => {
            if let Some(bad) = out.chars().find(|&c| !xml_char(c)) {
                panic!("JUnit output has {bad:?}, which XML 1.0 does not allow");
            }
            assert_eq!(out.matches("<testcase ").count(), n.max(1), "{out}");
            assert_eq!(out.matches("<failure ").count(), n, "{out}");
        }
        OutputFormat::Sarif => {
            let sarif = parse(out);
            let results = sarif["runs"][0]["results"].as_array().map(Vec::len);
            assert_eq!(results, Some(n), "one SARIF result per finding");
        }
    }
}

/// Characters XML 1.0 allows in a document.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// A JSON item's locations: 1-based, and in order.
fn check_json_item(item: &Value, diagnostic: &Diagnostic) {
    let check = |item: &Value, path: &PathBuf, span: &Range<usize>| {
        let at = |key: &str| {
            let row = item[key]["row"].as_u64().expect("a row");
            let column = item[key]["column"].as_u64().expect("a column");
            assert!(
                row >= 1 && column >= 1,
                "{key} {row}:{column} is not 1-based"
            );
            (row, column)
        };
        // Spans are clamped to their text (`SourceFile::clamp`): even a reversed one or one
        // outside the text gives locations in order.
        let (start, end) = (at("location"), at("end_location"));
        assert!(
            start <= end,
            "span {span:?} of {} starts at {start:?} after it ends at {end:?}",
            path.display()
        );
    };
    assert_eq!(item["code"], diagnostic.code.as_str());
    check(item, &diagnostic.path, &diagnostic.span);
    let related = item["related"].as_array().expect("related sites");
    assert_eq!(related.len(), diagnostic.related.len());
    for (item, site) in related.iter().zip(&diagnostic.related) {
        check(item, &site.path, &site.span);
    }
}

/// A rule code for a rendered finding (a finding can only hold a code of the registry).
fn code(byte: u8) -> Code {
    codes::ALL[byte as usize % codes::ALL.len()]
}

/// Reads control bytes; zeros once they run out.
struct Control<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Control<'_> {
    fn byte(&mut self) -> u8 {
        let byte = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        byte
    }

    fn u32(&mut self) -> usize {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()]) as usize
    }

    /// A span in a text of `len` bytes: in range, reversed, past the end, or near `usize::MAX`.
    fn span(&mut self, len: usize) -> Range<usize> {
        let within = len + 1;
        match self.byte() % 6 {
            0 => {
                let start = self.u32() % within;
                start..start + self.byte() as usize
            }
            1 => self.u32() % within..self.u32() % within,
            2 => self.u32()..self.u32(),
            3 => len..len,
            4 => usize::MAX - self.byte() as usize..usize::MAX,
            _ => {
                let start = self.u32() % within;
                start..start.saturating_sub(self.byte() as usize)
            }
        }
    }
}

/// The flags of a render input's first control byte.
mod flag {
    /// Insert a line of 4 096 to 131 072 characters into text A.
    pub const LONG_LINE: u8 = 1;
    /// Text A starts with a byte order mark.
    pub const BOM_A: u8 = 2;
    /// Text B starts with a byte order mark.
    pub const BOM_B: u8 = 4;
    /// Text A's line ends are CR only.
    pub const CR_A: u8 = 8;
    /// Text B's line ends are CRLF.
    pub const CRLF_B: u8 = 16;
    /// File A's path is the first string.
    pub const PATH_A: u8 = 32;
    /// File B's path is the next string.
    pub const PATH_B: u8 = 64;
    /// Both files have the same path (B's text wins).
    pub const SAME_PATH: u8 = 128;
}

/// The findings and texts of a render input. Its control bytes say, in order: the [`flag`]s
/// (and for a long line: its character, its length, where it goes); how many findings; for
/// each, its code, its site (file A, file B, a path without text, an empty path: then a span,
/// see [`Control::span`]), whether it has help, and how many related sites (each a site).
fn render_report(data: &[u8]) -> Report {
    let (control, rest) = match data.split_first() {
        Some((&len, rest)) => rest.split_at((len as usize).min(rest.len())),
        None => (&[][..], &[][..]),
    };
    let mut parts = rest.split(|&b| b == 0);
    let mut part = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (mut text_a, mut text_b) = (part(), part());
    let strings: Vec<String> = parts
        .take(64)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    let mut next_string = {
        let mut i = 0;
        move || {
            i += 1;
            strings
                .get((i - 1) % strings.len().max(1))
                .cloned()
                .unwrap_or_else(|| "message".to_string())
        }
    };
    let mut control = Control {
        bytes: control,
        at: 0,
    };
    let flags = control.byte();
    if flags & flag::LONG_LINE != 0 {
        let unit = ["x", "\t", "é", "🦀"][control.byte() as usize % 4];
        let count = 4096 << (control.byte() % 6);
        let mut at = control.u32() % (text_a.len() + 1);
        while !text_a.is_char_boundary(at) {
            at -= 1;
        }
        text_a.insert_str(at, &unit.repeat(count));
    }
    if flags & flag::BOM_A != 0 {
        text_a.insert(0, '\u{feff}');
    }
    if flags & flag::BOM_B != 0 {
        text_b.insert(0, '\u{feff}');
    }
    if flags & flag::CR_A != 0 {
        text_a = text_a.replace('\n', "\r");
    }
    if flags & flag::CRLF_B != 0 {
        text_b = text_b.replace('\n', "\r\n");
    }
    let path_a = PathBuf::from(if flags & flag::PATH_A != 0 {
        next_string()
    } else {
        "a.py".to_string()
    });
    let path_b = if flags & flag::SAME_PATH != 0 {
        path_a.clone()
    } else if flags & flag::PATH_B != 0 {
        PathBuf::from(next_string())
    } else {
        PathBuf::from("src/b.rs")
    };
    let mut sources = HashMap::new();
    sources.insert(path_a.clone(), SourceFile::new(Arc::from(text_a.as_str())));
    sources.insert(path_b.clone(), SourceFile::new(Arc::from(text_b.as_str())));
    let site = |control: &mut Control, next_string: &mut dyn FnMut() -> String| {
        let (path, len) = match control.byte() % 4 {
            0 => (path_a.clone(), text_a.len()),
            1 => (path_b.clone(), text_b.len()),
            2 => (PathBuf::from(next_string()), 0),
            _ => (PathBuf::new(), 0),
        };
        (path, control.span(len))
    };
    let mut diagnostics = Vec::new();
    for _ in 0..control.byte() % 8 {
        let code = code(control.byte());
        let (path, span) = site(&mut control, &mut next_string);
        let mut diagnostic = Diagnostic::new(code, path, span, next_string());
        diagnostic.label = next_string();
        if control.byte() & 1 != 0 {
            diagnostic.help = Some(next_string());
        }
        for _ in 0..control.byte() % 4 {
            let (path, span) = site(&mut control, &mut next_string);
            diagnostic.related.push(Related {
                path,
                span,
                message: next_string(),
            });
        }
        diagnostics.push(diagnostic);
    }
    Report {
        diagnostics,
        sources,
        errors: Vec::new(),
    }
}

/// A render input, for seeds: control bytes (at most 255), then two texts and strings joined
/// by NUL bytes.
pub struct RenderSeed {
    pub control: Vec<u8>,
    pub text_a: String,
    pub text_b: String,
    pub strings: Vec<String>,
}

impl RenderSeed {
    pub fn to_bytes(&self) -> Vec<u8> {
        let len = u8::try_from(self.control.len()).expect("at most 255 control bytes");
        let mut parts: Vec<&[u8]> = vec![self.text_a.as_bytes(), self.text_b.as_bytes()];
        parts.extend(self.strings.iter().map(String::as_bytes));
        let mut bytes = vec![len];
        bytes.extend(&self.control);
        bytes.extend(parts.join(&0u8));
        bytes
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

/// Arbitrary bytes as `interlock.toml` and as `pyproject.toml`: parsed, made into settings (as
/// the config file's layer and the command line's at once), queried, and used to analyse a
/// small file of each language (user lock types and blocking functions reach the front ends).
pub fn config(data: &[u8]) {
    run(|| {
        let text = String::from_utf8_lossy(data);
        for is_pyproject in [false, true] {
            let Ok(Some(options)) = config::parse_options(&text, is_pyproject) else {
                continue;
            };
            let Ok(settings) = settings_for(options.clone(), &options) else {
                continue;
            };
            for path in [
                "app.py",
                "tests/test_app.py",
                ".venv/x.py",
                "src/lib.rs",
                "",
            ] {
                let path = Path::new(ROOT).join(path);
                for &code in codes::ALL {
                    settings.is_enabled_for(code, &path);
                }
                settings.is_excluded(&path);
                settings.is_excluded_with_ancestors(&path);
            }
            let settings = Arc::new(settings);
            for (source, language) in [
                (CONFIG_PYTHON, Language::Python),
                (CONFIG_RUST, Language::Rust),
            ] {
                let report = analyse(source.as_bytes(), language, settings.clone());
                check_spans(&report);
            }
        }
    });
}

const CONFIG_PYTHON: &str = "\
import threading, time, mylib
from mylib.sync import FairLock

lock = threading.Lock()
fair = FairLock()

async def handler():
    with lock:
        with fair:
            mylib.fetch_sync()
            time.sleep(1)
";

const CONFIG_RUST: &str = "\
use std::sync::Mutex;

async fn handler(m: &Mutex<u32>, n: &my_crate::sync::SpinLock) {
    let a = m.lock().unwrap();
    let b = n.lock();
    mycrate::db::query_blocking();
    std::thread::sleep(std::time::Duration::from_secs(1));
}
";

// ---------------------------------------------------------------------------------------------
// The language server

/// Arbitrary bytes as the server's standard input: the frame reader must go on to the end of
/// the input (or `exit`) without panicking, telling the client only log messages.
pub fn lsp_frames(data: &[u8]) {
    run(|| {
        let (to_server, _from_client) = unbounded();
        let (to_client, from_server) = unbounded();
        let mut input = data;
        transport::read_messages(&mut input, &to_server, &to_client);
        for message in from_server.try_iter() {
            assert!(
                matches!(&message, Message::Notification(n) if n.method == "window/logMessage"),
                "the reader told the client something else than a log message: {message:?}"
            );
        }
    });
}

/// Arbitrary bytes as the messages of an editor: read as [`lsp_frames`] does, then served by
/// the server. Every request handled (those before `exit`) gets exactly one response. The
/// workspace folders are dropped from `initialize` and `didChangeWorkspaceFolders`, so that
/// the server never walks the disk.
pub fn lsp_dispatch(data: &[u8]) {
    run(|| {
        let (frames, read) = unbounded();
        let (to_client, from_server) = unbounded();
        let mut input = data;
        transport::read_messages(&mut input, &frames, &to_client);
        drop(frames);
        let (to_server, from_client) = unbounded();
        let mut requests: HashMap<RequestId, usize> = HashMap::new();
        let mut exited = false;
        for message in read.try_iter().filter_map(without_folders) {
            match &message {
                _ if exited => {}
                Message::Request(request) => *requests.entry(request.id.clone()).or_default() += 1,
                Message::Notification(n) if n.method == "exit" => exited = true,
                _ => {}
            }
            to_server
                .send(message)
                .expect("the server's channel is open");
        }
        drop(to_server);
        server::serve(Connection {
            sender: to_client,
            receiver: from_client,
        });
        let mut responses: HashMap<RequestId, usize> = HashMap::new();
        for message in from_server.try_iter() {
            if let Message::Response(response) = message {
                *responses.entry(response.id).or_default() += 1;
            }
        }
        assert_eq!(
            requests, responses,
            "not one response per request (requests, then responses, by id)"
        );
    });
}

fn without_folders(message: Message) -> Option<Message> {
    match message {
        Message::Request(mut request) if request.method == "initialize" => {
            if let Some(params) = request.params.as_object_mut() {
                for key in ["rootUri", "rootPath", "workspaceFolders"] {
                    params.remove(key);
                }
            }
            Some(request.into())
        }
        Message::Notification(n) if n.method == "workspace/didChangeWorkspaceFolders" => None,
        message => Some(message),
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds

/// The seeds of a target, made from the repository at `repo` (its `fixtures/` and the
/// configuration examples of its README), then the inputs of crashes found and fixed
/// (`fuzz/regressions/<target>/`): sorted, so runs are reproducible.
pub fn seeds(target: &str, repo: &Path) -> Vec<Vec<u8>> {
    let mut seeds = made_seeds(target, repo);
    let regressions = repo.join("fuzz/regressions").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(regressions)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    files.sort();
    seeds.extend(files.iter().filter_map(|path| std::fs::read(path).ok()));
    seeds
}

fn made_seeds(target: &str, repo: &Path) -> Vec<Vec<u8>> {
    let fixtures = fixture_files(&repo.join("fixtures"));
    let of = |extension: &str| -> Vec<(String, String)> {
        fixtures
            .iter()
            .filter(|(path, _)| path.ends_with(extension))
            .cloned()
            .collect()
    };
    match target {
        "python_file" => of(".py").into_iter().map(|(_, t)| t.into()).collect(),
        "rust_file" => of(".rs").into_iter().map(|(_, t)| t.into()).collect(),
        "render" => render_seeds(&fixtures),
        "config" => config_seeds(repo, &of(".toml")),
        "lsp_frames" | "lsp_dispatch" => lsp_seeds(&fixtures),
        _ => Vec::new(),
    }
}

/// The text files under `dir` (relative path, text), sorted by path.
fn fixture_files(dir: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                let relative = path.strip_prefix(root).unwrap_or(&path);
                out.push((relative.to_string_lossy().replace('\\', "/"), text));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    files
}

/// Each fixture with the next one, and findings at their first `lock`, `with`, `await` or
/// `sleep`; every few seeds one of the render flags.
fn render_seeds(fixtures: &[(String, String)]) -> Vec<Vec<u8>> {
    let sources: Vec<&(String, String)> = fixtures
        .iter()
        .filter(|(p, _)| p.ends_with(".py") || p.ends_with(".rs"))
        .collect();
    let at = |text: &str| {
        ["lock", "with", "await", "sleep"]
            .iter()
            .find_map(|word| text.find(word))
            .unwrap_or(text.len() / 2)
    };
    let span = |start: usize, len: u8| {
        let mut bytes = vec![0];
        bytes.extend((start as u32).to_be_bytes());
        bytes.push(len);
        bytes
    };
    let mut seeds = Vec::new();
    for (i, (path_a, text_a)) in sources.iter().enumerate() {
        let (path_b, text_b) = sources[(i + 1) % sources.len()];
        let flags = if i % 3 == 0 { 1u8 << (i / 3 % 8) } else { 0 };
        let mut control = vec![flags];
        if flags & flag::LONG_LINE != 0 {
            control.extend([(i % 4) as u8, 16, 0, 0, 0, 0]);
        }
        // Two findings: one in A with a related site in B and one in A; one in B.
        control.extend([2, i as u8, 0]);
        control.extend(span(at(text_a), 4));
        control.extend([1, 2, 1]);
        control.extend(span(at(text_b), 4));
        control.push(0);
        control.extend(span(0, 1));
        control.extend([(i + 7) as u8, 1]);
        control.extend(span(at(text_b), 5));
        control.extend([0, 0]);
        let strings = vec![
            format!("`lock` is held in {path_a} while awaiting"),
            "held here".to_string(),
            "release it first".to_string(),
            format!("acquired in {path_b}"),
            "and here".to_string(),
            "a\nmulti-line message with <xml> & \"quotes\" and 100% : , \\ \t".to_string(),
            path_a.to_string(),
        ];
        seeds.push(
            RenderSeed {
                text_a: text_a.to_string(),
                text_b: text_b.to_string(),
                control,
                strings,
            }
            .to_bytes(),
        );
    }
    seeds
}

/// The README's TOML blocks, the fixtures' TOML files, and a few more.
fn config_seeds(repo: &Path, tomls: &[(String, String)]) -> Vec<Vec<u8>> {
    let mut seeds: Vec<String> = Vec::new();
    if let Ok(readme) = std::fs::read_to_string(repo.join("README.md")) {
        let mut blocks = readme.split("```toml\n").skip(1);
        for block in blocks.by_ref() {
            if let Some((toml, _)) = block.split_once("```") {
                seeds.push(toml.to_string());
                seeds
                    .push(format!("[tool.interlock]\n{toml}").replace("\n[", "\n[tool.interlock."));
            }
        }
    }
    seeds.extend(tomls.iter().map(|(_, t)| t.clone()));
    seeds.extend(
        [
            "select = [\"IL1\"]\nignore = [\"IL10\"]\nextend-select = [\"IL105\"]",
            "select = [\"ALL\"]\nexclude = [\"gen/**\", \"*.pyi\", \"[a-\"]",
            "[per-file-ignores]\n\"tests/*\" = [\"IL101\"]\n\"**/{a,b}/*.py\" = [\"IL2\"]",
            "max-call-depth = 18446744073709551615\nnon-blocking = [\"a.b\", \"\", \"::\"]",
            "[blocking]\n\"x\" = { rule = \"il101\" }\n\"a::b::\" = { rule = \"IL107\", alternative = \"\" }",
            "[locks]\n\"\" = {}\n\".\" = { reentrant = true, async = true }\n\"a::b\" = { shared = true, counting = true, cell = true }",
            "[tool.interlock]\nselect = []\n[tool.interlock.locks]\n\"mylib.sync.FairLock\" = {}",
            "[tool.other]\nx = 1",
        ]
        .map(str::to_string),
    );
    seeds.into_iter().map(String::into_bytes).collect()
}

/// One LSP message with its header.
pub fn frame(message: &Value) -> Vec<u8> {
    let body = message.to_string();
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend(body.as_bytes());
    bytes
}

/// An editor session per fixture: initialize (UTF-8 or UTF-16, pull or push), open the file,
/// edit it, hover, ask for code actions and diagnostics, save, close, shut down; then a few
/// streams with malformed frames.
fn lsp_seeds(fixtures: &[(String, String)]) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for (i, (path, text)) in fixtures.iter().enumerate() {
        let language = match path.rsplit('.').next() {
            Some("py") => "python",
            Some("rs") => "rust",
            _ => continue,
        };
        let uri = format!("file://{ROOT}/{path}");
        let document = json!({"uri": uri});
        let mut capabilities = json!({"textDocument": {"diagnostic": {}}});
        if i % 2 == 0 {
            capabilities["general"] = json!({"positionEncodings": ["utf-8", "utf-16"]});
        }
        if i % 3 == 0 {
            capabilities["workspace"] = json!({
                "diagnostics": {"refreshSupport": true},
                "didChangeWatchedFiles": {"dynamicRegistration": true},
            });
        }
        let range =
            json!({"start": {"line": 2, "character": 4}, "end": {"line": 2, "character": 8}});
        let messages = [
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": capabilities, "rootUri": null}}),
            json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
            json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}}),
            json!({"jsonrpc": "2.0", "id": 2, "method": "textDocument/hover", "params": {"textDocument": document, "position": {"line": 4, "character": 8}}}),
            json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"range": range, "text": "é🦀\n"}]}}),
            json!({"jsonrpc": "2.0", "id": "c", "method": "textDocument/codeAction", "params": {"textDocument": document, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 99, "character": 0}}, "context": {"diagnostics": []}}}),
            json!({"jsonrpc": "2.0", "id": 3, "method": "textDocument/diagnostic", "params": {"textDocument": document}}),
            json!({"jsonrpc": "2.0", "method": "textDocument/didSave", "params": {"textDocument": document}}),
            json!({"jsonrpc": "2.0", "method": "workspace/didChangeWatchedFiles", "params": {"changes": [{"uri": format!("file://{ROOT}/interlock.toml"), "type": 2}]}}),
            json!({"jsonrpc": "2.0", "method": "textDocument/didClose", "params": {"textDocument": document}}),
            json!({"jsonrpc": "2.0", "id": 4, "method": "shutdown"}),
            json!({"jsonrpc": "2.0", "method": "exit"}),
        ];
        seeds.push(messages.iter().flat_map(frame).collect());
    }
    let good = frame(&json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    for bad in [
        &b"Content-Length: 9\r\n\r\n{not json"[..],
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: 2\r\n\r\n{}",
        b"content-length: 2\r\n\r\n[]",
        b"Content-Length: -1\r\n\r\n",
        b"Content-Length: 3\n\n{}\n",
        b"\r\n\r\n",
        b"Content-Length: 40\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":1}",
    ] {
        let mut seed = bad.to_vec();
        seed.extend(&good);
        seeds.push(seed);
    }
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_formats_lists_every_format() {
        use clap::ValueEnum;
        for format in OutputFormat::value_variants() {
            assert!(ALL_FORMATS.iter().any(|(f, _)| f == format), "{format:?}");
        }
    }
}
