#!/usr/bin/env python3
"""Latency of `interlock server` after an edit, in a 500-file workspace.

Usage (from anywhere; paths are relative to the repository root):

    benches/lsp_latency.py                # build (release), then measure
    benches/lsp_latency.py --edits 100    # timed edits per scenario (default 40)
    benches/lsp_latency.py --no-build     # reuse target/release/interlock
    benches/lsp_latency.py --python-files 1700   # a bigger workspace (default 400 + 100 Rust)

The workspace is built in a temporary directory: 400 Python files copied from the standard
library's packages (asyncio, email, concurrent, multiprocessing, ...) and 100 Rust files of
tokio's `src/` from the cargo registry cache (when present; otherwise 500 Python files).
The script speaks LSP over stdio as an editor does, and measures, for each scenario, the wall
time from sending `textDocument/didChange` to receiving the `publishDiagnostics` it causes:

- own file: an edit adds or removes a blocking call in an async function of the open file;
- cross-file: an edit in a helper module adds or removes a `time.sleep` that an async
  function of another open file reaches (IL106), so the other file's diagnostics change;
- rust: an edit adds or removes a second lock of a mutex in an open Rust file (IL202);
- large file: an edit adds or removes a one-line async function that sleeps at the end of
  asyncio's 2000-line base_events.py (the changed file's parse and lowering show).

It also reports the server's resident memory after the warm-up and after every scenario
(flat memory over hundreds of edits is the point of reusing per-file results and of
forgetting proc-macro2's span map). Python 3.11 standard library only.
"""

import argparse, glob, json, os, re, shutil, statistics, subprocess, sys, sysconfig, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INTERLOCK = ROOT / "target" / "release" / "interlock"
PACKAGES = ["asyncio", "email", "concurrent", "multiprocessing", "json", "http", "urllib",
            "xml", "importlib", "logging", "unittest", "sqlite3", "xmlrpc", "tomllib",
            "wsgiref", "ctypes", "curses", "dbm", "zoneinfo", "html", "collections", "test"]


def build_workspace(root: Path, python_files: int, rust_files: int) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    copied = 0
    for package in PACKAGES:
        for source in sorted((stdlib / package).rglob("*.py")):
            if copied >= python_files:
                break
            target = root / "py" / source.relative_to(stdlib)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied += 1
    # The helper/app pair the cross-file scenario edits.
    (root / "py" / "bench").mkdir(parents=True, exist_ok=True)
    (root / "py" / "bench" / "__init__.py").write_text("")
    (root / "py" / "bench" / "helpers.py").write_text(
        "import time\n\ndef pause():\n    print('pausing')\n")
    (root / "py" / "bench" / "app.py").write_text(
        "import time\nfrom bench.helpers import pause\n\nasync def handler():\n    pause()\n")
    tokio = sorted(glob.glob(os.path.expanduser(
        "~/.cargo/registry/src/*/tokio-1.*/")), reverse=True)
    rust_copied = 0
    if tokio:
        crate = root / "rs" / "tokio"
        (crate / "src").mkdir(parents=True)
        shutil.copyfile(Path(tokio[0]) / "Cargo.toml", crate / "Cargo.toml")
        for source in sorted((Path(tokio[0]) / "src").rglob("*.rs")):
            if rust_copied >= rust_files - 1:
                break
            target = crate / "src" / source.relative_to(Path(tokio[0]) / "src")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            rust_copied += 1
    (root / "rs" / "probe" / "src").mkdir(parents=True)
    (root / "rs" / "probe" / "Cargo.toml").write_text(
        '[package]\nname = "probe"\nversion = "0.1.0"\nedition = "2021"\n')
    (root / "rs" / "probe" / "src" / "lib.rs").write_text(
        "use std::sync::Mutex;\n\npub fn bump(m: &Mutex<u32>) {\n    let mut a = m.lock().unwrap();\n    *a += 1;\n}\n")
    (root / ".git").mkdir()
    total = sum(1 for _ in root.rglob("*.py")) + sum(1 for _ in root.rglob("*.rs"))
    print(f"workspace: {total} files ({copied + 3} Python, {rust_copied + 1} Rust) in {root}")


class Server:
    def __init__(self, binary: Path, root: Path):
        self.process = subprocess.Popen([str(binary), "server"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE)
        self.next_id = 0
        self.root = root
        self.last_log = ""  # the server logs where each refresh's time went

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.process.stdin.flush()

    def receive(self) -> dict:
        length = None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise SystemExit("the server exited")
            if line == b"\r\n":
                break
            name, value = line.decode().split(":", 1)
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(self.process.stdout.read(length))

    def request(self, method: str, params) -> dict:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        while True:
            message = self.receive()
            if message.get("id") == self.next_id and "method" not in message:
                return message

    def notify(self, method: str, params) -> None:
        self.send({"method": method, "params": params})

    def diagnostics(self, uri: str) -> list:
        while True:
            message = self.receive()
            if message.get("method") == "window/logMessage":
                self.last_log = message["params"]["message"]
            if message.get("method") == "textDocument/publishDiagnostics" \
                    and message["params"]["uri"] == uri:
                return message["params"]["diagnostics"]

    def rss_mib(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")


def uri(path: Path) -> str:
    return path.resolve().as_uri()


def measure(server: Server, name: str, edited: Path, observed: Path, line: int,
            on: str, off: str, edits: int, version: list) -> list:
    """Toggles line `line` of `edited` between `off` and `on`; times each edit until the
    diagnostics of `observed` arrive."""
    times, per_file, project = [], [], []
    text_now = off
    for i in range(edits + 2):
        new = on if text_now == off else off
        version[0] += 1
        change = {"range": {"start": {"line": line, "character": 0},
                            "end": {"line": line, "character": len(text_now)}},
                  "text": new}
        started = time.perf_counter()
        server.notify("textDocument/didChange", {
            "textDocument": {"uri": uri(edited), "version": version[0]},
            "contentChanges": [change]})
        server.diagnostics(uri(observed))
        elapsed = (time.perf_counter() - started) * 1e3
        text_now = new
        if i >= 2:  # two warm-up edits
            times.append(elapsed)
            # "analysed 1 changed file(s) in X ms, then the project (N files) in Y ms"
            numbers = re.findall(r"in ([0-9.]+) ms", server.last_log)
            if len(numbers) == 2:
                per_file.append(float(numbers[0]))
                project.append(float(numbers[1]))
    times.sort()
    p90 = times[int(len(times) * 0.9) - 1]
    print(f"{name:<10} median {statistics.median(times):6.1f} ms   p90 {p90:6.1f} ms   "
          f"min {times[0]:6.1f} ms   max {times[-1]:6.1f} ms   ({edits} edits)   "
          f"server RSS {server.rss_mib():.0f} MiB")
    if per_file:
        print(f"{'':<10} of which: changed file {statistics.median(per_file):5.1f} ms, "
              f"project graphs and rules {statistics.median(project):5.1f} ms (medians, server log)")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--python-files", type=int, default=400,
                        help="standard-library files in the workspace (default 400)")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        build_workspace(root, args.python_files, 100)
        server = Server(INTERLOCK, root)
        started = time.perf_counter()
        server.request("initialize", {"processId": os.getpid(), "capabilities": {},
                                      "workspaceFolders": [{"uri": uri(root), "name": "bench"}]})
        server.notify("initialized", {})
        app = root / "py" / "bench" / "app.py"
        helpers = root / "py" / "bench" / "helpers.py"
        probe = root / "rs" / "probe" / "src" / "lib.rs"
        large = root / "py" / "asyncio" / "base_events.py"  # ~2000 lines, imports time
        for path, language in [(app, "python"), (helpers, "python"), (probe, "rust"),
                               (large, "python")]:
            server.notify("textDocument/didOpen", {"textDocument": {
                "uri": uri(path), "languageId": language, "version": 1,
                "text": path.read_text()}})
        server.diagnostics(uri(app))
        print(f"initial analysis of the workspace: {(time.perf_counter() - started) * 1e3:.0f} ms,"
              f" server RSS {server.rss_mib():.0f} MiB")
        versions = {p: [1] for p in (app, helpers, probe, large)}
        measure(server, "own file", app, app, 4, "    pause(); time.sleep(1)",
                "    pause()", args.edits, versions[app])
        measure(server, "cross-file", helpers, app, 3, "    time.sleep(1)",
                "    print('pausing')", args.edits, versions[helpers])
        measure(server, "rust", probe, probe, 4, "    let _b = m.lock().unwrap();",
                "    *a += 1;", args.edits, versions[probe])
        last_line = len(large.read_text().splitlines())  # the empty line after the last one
        measure(server, "large file", large, large, last_line,
                "async def _probe(): time.sleep(1)", "", args.edits, versions[large])
        server.request("shutdown", None)
        server.notify("exit", None)
        server.process.wait(timeout=10)


if __name__ == "__main__":
    main()
