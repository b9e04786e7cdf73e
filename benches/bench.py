#!/usr/bin/env python3
"""Benchmark interlock against ruff (Python) and cargo clippy (Rust).

Usage (from anywhere; paths are relative to the repository root):

    benches/bench.py                  # build, then both benchmarks, 5 runs each
    benches/bench.py --runs 10        # more timed runs per tool
    benches/bench.py --only python    # or: --only rust
    benches/bench.py --no-build       # use the existing target/release/interlock
    benches/bench.py --json out.json  # also write every number as JSON
    benches/bench.py --ruff 0.8.0     # pin the ruff version (default: latest)

Python: interlock (all rules) vs `ruff check --select ASYNC` on the Python standard
library. Rust: interlock vs `cargo clippy` re-checking tokio (taken from the cargo
registry cache, after `touch src/lib.rs`; its dependencies are built once, untimed).
The two tools of a benchmark run alternately (A B A B ...) after one warm-up run each;
each run records wall time, CPU time and the child's peak RSS (from os.wait4). Exits non-zero
only if a tool fails outright. Python 3.11 standard library only.
"""

import argparse, datetime, json, os, re, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target"
INTERLOCK = TARGET / "release" / "interlock"
VENV = TARGET / "bench-venv"
CRATES = TARGET / "bench-crates"
LOCATION = re.compile(r"^\S.*?:\d+:\d+: ")  # `path:row:col: CODE message` (concise output)
CLIPPY_DIAG = re.compile(r"^(warning|error)(\[\w+\])?: ")
CLIPPY_SUMMARY = re.compile(r"generated \d+ warning|could not compile|aborting due to")


class ToolFailed(Exception):
    pass


def sh(cmd, cwd=ROOT, **kw):
    """Runs a setup command (untimed), echoing it; raises ToolFailed on failure."""
    print("$", " ".join(map(str, cmd)), flush=True)
    result = subprocess.run(cmd, cwd=cwd, **kw)
    if result.returncode != 0:
        raise ToolFailed(f"{cmd[0]} exited {result.returncode}")
    return result


def measure(cmd, cwd=ROOT, env=None, capture=False):
    """One run: (wall seconds, CPU seconds (user+sys), peak RSS KiB, exit code, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sink = (out, err) if capture else (subprocess.DEVNULL, subprocess.DEVNULL)
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=sink[0], stderr=sink[1])
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        text = lambda f: f.read().decode(errors="replace") if capture else ""
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, code, text(out), text(err)


class Tool:
    def __init__(self, name, cmd, cwd=ROOT, env=None, before=None, ok=(0,), warn=(),
                 count=lambda out, err: sum(bool(LOCATION.match(l)) for l in out.splitlines())):
        self.name, self.cmd, self.cwd, self.env, self.before = name, cmd, cwd, env, before
        self.ok, self.warn, self.count = ok, warn, count
        self.walls, self.cpus, self.rss, self.findings = [], [], [], None

    def run(self, capture=False):
        if self.before:
            self.before()
        wall, cpu, rss, code, out, err = measure(self.cmd, self.cwd, self.env, capture)
        if code in self.warn and (not capture or re.search(r"^(Found \d+ error|All checks passed)", out, re.M)):
            if capture:  # the report was still written: some files could not be read
                print(f"WARNING: {self.name} exited {code}; its stderr:\n{err.rstrip()}")
        elif code not in self.ok:
            tail = "\n".join(err.splitlines()[-20:])
            raise ToolFailed(f"{self.name} exited {code}: {' '.join(map(str, self.cmd))}\n{tail}")
        if capture:
            self.findings = self.count(out, err)
        return wall, cpu, rss

    def stats(self):
        ms = [w * 1000 for w in self.walls]
        return {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms),
                "median_cpu_ms": statistics.median(self.cpus) * 1000,
                "median_rss_mib": statistics.median(self.rss) / 1024, "findings": self.findings,
                "wall_ms": ms, "cpu_ms": [c * 1000 for c in self.cpus],
                "peak_rss_mib": [r / 1024 for r in self.rss]}


def compare(tools, runs):
    """One warm-up run each (output captured, to count findings), then `runs` interleaved runs."""
    for tool in tools:
        tool.run(capture=True)
    for _ in range(runs):
        for tool in tools:
            wall, cpu, rss = tool.run()
            tool.walls.append(wall)
            tool.cpus.append(cpu)
            tool.rss.append(rss)
    print(f"{'tool':<10} {'median ms':>10} {'min ms':>9} {'max ms':>9} {'CPU ms':>9} {'peak RSS MiB':>13} {'findings':>9}")
    for tool in tools:
        s = tool.stats()
        print(f"{tool.name:<10} {s['median_ms']:>10.1f} {s['min_ms']:>9.1f} {s['max_ms']:>9.1f} "
              f"{s['median_cpu_ms']:>9.1f} {s['median_rss_mib']:>13.1f} {s['findings']:>9}")
    return {tool.name: tool.stats() for tool in tools}


def bench_python(runs, ruff):
    stdlib = subprocess.check_output([sys.executable, "-c",
        "import sysconfig; print(sysconfig.get_paths()['stdlib'])"], text=True).strip()
    print(f"\n== Python: {stdlib} ({runs} runs each, after 1 warm-up)")
    interlock = Tool("interlock", [INTERLOCK, "check", "--exit-zero", "--output-format", "concise",
                                   "--extend-exclude", "site-packages", stdlib], ok=(0, 1), warn=(2,))
    ruff = Tool("ruff", [ruff, "check", "--isolated", "--no-cache", "--select", "ASYNC", "--exit-zero",
                         "--output-format", "concise", "--exclude", "site-packages", stdlib], ok=(0, 1))
    result = compare([interlock, ruff], runs)
    ratio = result["interlock"]["median_ms"] / result["ruff"]["median_ms"]
    verdict = "met" if ratio <= 1.5 else "NOT met"
    print(f"interlock/ruff median wall time: {ratio:.2f}x  (target: interlock <= 1.5x ruff: {verdict})")
    return {"path": stdlib, "tools": result, "ratio_interlock_over_ruff": ratio}


def tokio_source():
    """Fetches tokio into the registry cache and returns its newest source directory."""
    fetch = CRATES / "fetch"
    (fetch / "src").mkdir(parents=True, exist_ok=True)
    (fetch / "src" / "main.rs").write_text("fn main() {}\n")
    (fetch / "Cargo.toml").write_text('[package]\nname = "bench-fetch"\nversion = "0.0.0"\n'
        'edition = "2021"\n\n[dependencies]\ntokio = { version = "1", features = ["full"] }\n\n[workspace]\n')
    sh(["cargo", "fetch", "--quiet"], cwd=fetch)
    home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    dirs = [d for d in home.glob("registry/src/*/tokio-1.*") if d.is_dir()]
    version = lambda d: tuple(int(p) if p.isdigit() else 0 for p in d.name[len("tokio-"):].split("."))
    return max(dirs, key=version)


def bench_rust(runs):
    source = tokio_source()
    copy = CRATES / "tokio-src"
    print(f"\n== Rust: {source.name} ({runs} runs each, after 1 warm-up)")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(source, copy)  # never touch the registry cache itself
    manifest = copy / "Cargo.toml"
    if "[workspace]" not in manifest.read_text():  # keep cargo from looking for /work/main's workspace
        manifest.write_text(manifest.read_text() + "\n[workspace]\n")
    sh(["cargo", "fetch", "--quiet"], cwd=copy)  # tokio's own dev-dependencies, needed to resolve
    env = dict(os.environ, CARGO_TARGET_DIR=str(CRATES / "clippy-target"))
    clippy_cmd = None
    for features in (["--all-features"], ["--features", "full"]):
        cmd = ["cargo", "clippy", "--offline", *features]
        print("$", " ".join(cmd), "(builds dependencies, untimed)", flush=True)
        build = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True)
        if build.returncode == 0:
            clippy_cmd = cmd
            break
        print("\n".join(build.stderr.splitlines()[-10:]))
    if clippy_cmd is None:
        raise ToolFailed("cargo clippy failed with --all-features and with --features full")
    count_clippy = lambda out, err: sum(bool(CLIPPY_DIAG.match(l)) and not CLIPPY_SUMMARY.search(l)
                                        for l in err.splitlines())
    interlock = Tool("interlock", [INTERLOCK, "check", "--exit-zero", "--output-format", "concise", source],
                     ok=(0, 1), warn=(2,))
    clippy = Tool("clippy", clippy_cmd, cwd=copy, env=env, before=lambda: (copy / "src" / "lib.rs").touch(),
                  count=count_clippy)
    result = compare([interlock, clippy], runs)
    speedup = result["clippy"]["median_ms"] / result["interlock"]["median_ms"]
    print(f"interlock is {speedup:.1f}x faster than clippy (median wall time, `{' '.join(clippy_cmd)}`)")
    return {"path": str(source), "clippy_command": clippy_cmd, "tools": result,
            "ratio_clippy_over_interlock": speedup}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tool (default 5)")
    parser.add_argument("--only", choices=["python", "rust"], help="run one benchmark only")
    parser.add_argument("--no-build", action="store_true", help="skip `cargo build --release`")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the numbers as JSON")
    parser.add_argument("--ruff", metavar="VERSION", help="ruff version to install (default: latest)")
    args = parser.parse_args()
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
              "cpu_count": os.cpu_count(), "runs": args.runs}
    try:
        if not args.no_build:
            sh(["cargo", "build", "--release"])
        report["interlock_version"] = subprocess.check_output([INTERLOCK, "--version"], text=True).strip()
        ruff = VENV / "bin" / "ruff"
        if args.only != "rust":
            if not (VENV / "bin" / "python").exists():
                sh([sys.executable, "-m", "venv", VENV])
            sh([VENV / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check",
                f"ruff=={args.ruff}" if args.ruff else "ruff"])
            report["ruff_version"] = subprocess.check_output([ruff, "--version"], text=True).strip()
        if args.only != "python":
            report["clippy_version"] = subprocess.check_output(["cargo", "clippy", "--version"], text=True).strip()
        print(f"\n{report['date']}  cpus: {report['cpu_count']}  " + "  ".join(
            report[k] for k in ("interlock_version", "ruff_version", "clippy_version") if k in report))
        if args.only != "rust":
            report["python"] = bench_python(args.runs, ruff)
        if args.only != "python":
            report["rust"] = bench_rust(args.runs)
    except ToolFailed as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
