//! The fuzz targets' short run (`interlock::fuzz`): every seed made from `fixtures/`, then
//! random mutations of them (byte flips, inserted tokens, deep nesting, splices; a fixed
//! random seed) until the time budget runs out: `INTERLOCK_FUZZ_SECONDS` per target, 20 s by
//! default. Long, coverage-guided campaigns run the same targets under libFuzzer (`fuzz/`).
//!
//! Each target runs in a child process (this test binary again, its `child` test), so that a
//! stack overflow, an abort, a hang or runaway memory fails the test too: the input being run
//! is kept in `target/fuzz-failures/`, and the failure names it. Other variables:
//! `INTERLOCK_FUZZ_SEED` (the random seed), `INTERLOCK_FUZZ_WRITE_SEEDS=DIR` (the `write_seeds`
//! test writes every target's seeds to `DIR/<target>/`, for libFuzzer's corpus).

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use interlock::fuzz::{self, Target};

const CHILD: &str = "INTERLOCK_FUZZ_CHILD";
/// What a child may use before it is stopped (as libFuzzer's `-rss_limit_mb=2048`).
const RSS_LIMIT_KIB: u64 = 2 * 1024 * 1024;
/// Inputs longer than this are cut (the mutations only add so much).
const MAX_LEN: usize = 128 * 1024;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn failures() -> PathBuf {
    repo().join("target/fuzz-failures")
}

fn budget() -> Duration {
    let seconds = std::env::var("INTERLOCK_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(20.0);
    Duration::from_secs_f64(seconds.max(0.0))
}

fn hash(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// Printed whatever the test harness captures.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

#[test]
fn fuzz_python_file() {
    supervise("python_file");
}

#[test]
fn fuzz_rust_file() {
    supervise("rust_file");
}

#[test]
fn fuzz_render() {
    supervise("render");
}

#[test]
fn fuzz_config() {
    supervise("config");
}

#[test]
fn fuzz_lsp_frames() {
    supervise("lsp_frames");
}

#[test]
fn fuzz_lsp_dispatch() {
    supervise("lsp_dispatch");
}

#[test]
fn every_target_has_a_test_and_seeds() {
    let source = include_str!("fuzz.rs");
    for (name, _) in fuzz::TARGETS {
        assert!(
            source.contains(&format!("supervise(\"{name}\")")),
            "{name} has no test here"
        );
        assert!(
            !fuzz::seeds(name, &repo()).is_empty(),
            "{name} has no seeds"
        );
    }
}

/// `INTERLOCK_FUZZ_WRITE_SEEDS=DIR`: writes the seeds of every target to `DIR/<target>/`.
#[test]
fn write_seeds() {
    let Some(dir) = std::env::var_os("INTERLOCK_FUZZ_WRITE_SEEDS") else {
        return;
    };
    for (name, _) in fuzz::TARGETS {
        let dir = Path::new(&dir).join(name);
        fs::create_dir_all(&dir).unwrap();
        let seeds = fuzz::seeds(name, &repo());
        for seed in &seeds {
            fs::write(dir.join(format!("seed-{:016x}", hash(seed))), seed).unwrap();
        }
        say(&format!("{}: {} seeds", dir.display(), seeds.len()));
    }
}

/// Runs one target in a child process and fails if it fails, crashes, hangs or uses too much
/// memory, naming the input.
fn supervise(name: &str) {
    fs::create_dir_all(failures()).unwrap();
    let log_path = failures().join(format!("{name}.log"));
    let current = failures().join(format!("{name}.current"));
    let _ = fs::remove_file(&current);
    let log = fs::File::create(&log_path).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    // Seeds and the exec in progress when the budget runs out come on top of the budget.
    let deadline = Instant::now() + budget() + Duration::from_secs(120);
    let problem = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (!status.success()).then(|| format!("the child process ended with {status}"));
        }
        let rss = rss_kib(child.id());
        if rss > RSS_LIMIT_KIB {
            let _ = child.kill();
            let _ = child.wait();
            break Some(format!("the child process used {} MiB", rss / 1024));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break Some("the child process timed out".to_string());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = fs::read_to_string(&log_path).unwrap_or_default();
    let Some(problem) = problem else {
        let marker = format!("fuzz {name}: ");
        let summary = output
            .lines()
            .find_map(|l| l.find(&marker).map(|at| &l[at..]))
            .unwrap_or("(no summary)");
        say(summary);
        return;
    };
    // A failure the child caught names its saved input itself; otherwise keep the input it
    // was running.
    let saved = match output.lines().find_map(|l| l.split_once("input saved to ")) {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest).to_string(),
        None if current.exists() => {
            let input = fs::read(&current).unwrap();
            let path = failures().join(format!("{name}-{:016x}", hash(&input)));
            fs::rename(&current, &path).unwrap();
            path.display().to_string()
        }
        None => "(no input: it failed before running one)".to_string(),
    };
    let tail: Vec<&str> = output.lines().rev().take(40).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    panic!(
        "fuzz target {name}: {problem}\n  input: {saved}\n  reproduce: INTERLOCK_FUZZ_REPLAY={saved} cargo test --test fuzz replay -- --nocapture\n  log: {}\n--- last lines of the log ---\n{}",
        log_path.display(),
        tail.join("\n")
    );
}

fn rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// `INTERLOCK_FUZZ_REPLAY=FILE [INTERLOCK_FUZZ_TARGET=NAME]`: runs one saved input (the target
/// is read from the file name, `<target>-<hash>`, unless given).
#[test]
fn replay() {
    let Some(file) = std::env::var_os("INTERLOCK_FUZZ_REPLAY") else {
        return;
    };
    let path = PathBuf::from(file);
    let name = std::env::var("INTERLOCK_FUZZ_TARGET").unwrap_or_else(|_| {
        let file_name = path.file_name().unwrap().to_string_lossy();
        let name = fuzz::TARGETS
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| file_name.starts_with(n))
            .max_by_key(|n| n.len());
        name.expect("name the target with INTERLOCK_FUZZ_TARGET")
            .to_string()
    });
    let target = fuzz::target(&name).expect("a known target");
    let input = fs::read(&path).unwrap();
    on_main_sized_stack(move || target(&input));
    say(&format!("{name}: {} ran without failing", path.display()));
}

/// Runs `body` on a thread with a main thread's 8 MiB stack (what libFuzzer gives a target).
fn on_main_sized_stack(body: impl FnOnce() + Send + 'static) {
    let result = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(body)
        .unwrap()
        .join();
    if let Err(payload) = result {
        panic::resume_unwind(payload);
    }
}

/// The child process: seeds, then mutations until the budget runs out.
#[test]
fn child() {
    let Ok(name) = std::env::var(CHILD) else {
        return;
    };
    let target = fuzz::target(&name).expect("a known target");
    on_main_sized_stack(move || fuzz_one(&name, target));
}

fn fuzz_one(name: &str, target: Target) {
    let started = Instant::now();
    let seeds = fuzz::seeds(name, &repo());
    assert!(!seeds.is_empty(), "{name} has no seeds");
    let current = failures().join(format!("{name}.current"));
    let mut execs = 0u64;
    let mut exec = |input: &[u8], what: &str| {
        fs::write(&current, input).unwrap();
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| target(input))) {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let path = failures().join(format!("{name}-{:016x}", hash(input)));
            fs::write(&path, input).unwrap();
            let _ = fs::remove_file(&current);
            panic!(
                "{name} failed on {what} after {execs} executions: input saved to {}: {message}",
                path.display()
            );
        }
        execs += 1;
    };
    for (i, seed) in seeds.iter().enumerate() {
        exec(seed, &format!("seed {i}"));
    }
    let seed = std::env::var("INTERLOCK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1e7f_0c4b_u64);
    let mut rng = Rng(seed ^ hash(name.as_bytes()) | 1);
    let deadline = started + budget();
    let mut previous: Vec<u8> = Vec::new();
    let mut mutations = 0u64;
    while Instant::now() < deadline {
        let base = if previous.is_empty() || rng.below(2) == 0 {
            seeds[rng.below(seeds.len())].clone()
        } else {
            previous
        };
        let input = mutate(base, &seeds, &mut rng);
        exec(&input, "a mutation");
        mutations += 1;
        previous = input;
    }
    let _ = fs::remove_file(&current);
    let line = format!(
        "fuzz {name}: {execs} executions ({} seeds, {mutations} mutations) in {:.1} s",
        seeds.len(),
        started.elapsed().as_secs_f64()
    );
    println!("{line}");
}

/// xorshift64*: small, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// A length from 1 to `max`, short ones more often.
    fn length(&mut self, max: usize) -> usize {
        let bits = self.below(usize::BITS as usize - max.leading_zeros() as usize + 1);
        (self.below(1 << bits) + 1).min(max)
    }
}

/// Tokens that the front ends, the renderers, the config parser and the LSP reader care about.
const TOKENS: &[&[u8]] = &[
    b"(",
    b")",
    b"[",
    b"]",
    b"{",
    b"}",
    b"<",
    b"\"",
    b"'",
    b"\"\"\"",
    b"r#\"",
    b"\"#",
    b"br\"\\\"",
    b"\\",
    b"\xef\xbb\xbf",
    b"\r",
    b"\r\n",
    b"\n",
    b"\t",
    b"\0",
    b"\xff",
    b"\xc3",
    "é".as_bytes(),
    "🦀".as_bytes(),
    b"\xe2\x80\xa8",
    b"99999999999999999999",
    b"-1",
    b"4294967296",
    b"0x7fffffff",
    b"Content-Length: ",
    b"\r\n\r\n",
    b"with ",
    b"async ",
    b"await ",
    b"lock",
    b".acquire()",
    b".lock()",
    b"::",
    b"#",
    b"//",
    b"/*",
    b"*/",
    b"'a",
    b"fn ",
    b"def ",
    b"class ",
    b"lambda ",
    b"=",
    b",",
    b":",
    b";",
    b"    ",
    b"# noqa",
    b"# interlock: ignore[IL101]",
    b"# -*- coding: latin-1 -*-\n",
    b"{\"jsonrpc\":\"2.0\",",
    b"\"position\":{\"line\":4294967295,\"character\":4294967295}",
    b"[per-file-ignores]\n",
    b"\"tests/*\" = [",
    b"IL1",
    b"ALL",
    b"**/",
];

/// One to four stacked mutations of `input`.
fn mutate(mut input: Vec<u8>, seeds: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    for _ in 0..rng.length(4) {
        // Near the start a quarter of the time: the render target's control bytes are there.
        let at = match rng.below(4) {
            0 => rng.below(input.len().min(64) + 1),
            _ => rng.below(input.len() + 1),
        };
        let token = TOKENS[rng.below(TOKENS.len())];
        match rng.below(9) {
            0 if at < input.len() => input[at] ^= 1 << rng.below(8),
            1 if at < input.len() => {
                input[at] = [0, 0xff, 0x7f, b'\n', rng.next() as u8][rng.below(5)];
            }
            2 => {
                input.splice(at..at, token.iter().copied());
            }
            3 => {
                // Deep nesting and long runs.
                let times = rng.length(4096);
                let run: Vec<u8> = token
                    .iter()
                    .copied()
                    .cycle()
                    .take(token.len() * times)
                    .collect();
                input.splice(at..at, run);
            }
            4 => {
                let end = (at + rng.length(64)).min(input.len());
                input.drain(at..end);
            }
            5 if !input.is_empty() => {
                let from = rng.below(input.len());
                let end = (from + rng.length(256)).min(input.len());
                let copy = input[from..end].to_vec();
                input.splice(at..at, copy);
            }
            6 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                input.truncate(at);
                input.extend_from_slice(&other[from..]);
            }
            7 => input.truncate(at),
            _ => {
                // A number where a number was: its digits replaced by an extreme.
                if let Some(start) = input[at..].iter().position(u8::is_ascii_digit) {
                    let start = at + start;
                    let end = input[start..]
                        .iter()
                        .position(|b| !b.is_ascii_digit())
                        .map_or(input.len(), |e| start + e);
                    let extreme: &[u8] =
                        [&b"0"[..], b"4294967295", b"18446744073709551616", b"65536"][rng.below(4)];
                    input.splice(start..end, extreme.iter().copied());
                }
            }
        }
        input.truncate(MAX_LEN);
    }
    input
}
