//! In-process protocol tests of `interlock server`: a client on one end of
//! `lsp_server::Connection::memory()`, the server on the other.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use lsp_server::{Connection, Message, Notification, Request, RequestId, ResponseError};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A test client talking to a server running on its own thread.
struct Client {
    connection: Connection,
    server: Option<JoinHandle<bool>>,
    next_id: i32,
    /// Notifications and server requests received while waiting for something else.
    seen: Vec<Message>,
}

impl Client {
    fn start() -> Client {
        let (client, server) = Connection::memory();
        let handle = std::thread::spawn(move || interlock::server::serve(server));
        Client {
            connection: client,
            server: Some(handle),
            next_id: 0,
            seen: Vec::new(),
        }
    }

    /// Starts a server and initializes it with these capabilities on these folders.
    fn initialized(folders: &[&Path], capabilities: Value) -> (Client, Value) {
        let mut client = Client::start();
        let folders: Vec<Value> = folders
            .iter()
            .map(|f| json!({"uri": uri(f), "name": "ws"}))
            .collect();
        let result = client
            .request(
                "initialize",
                json!({"processId": null, "capabilities": capabilities, "workspaceFolders": folders}),
            )
            .expect("initialize succeeds");
        client.notify("initialized", json!({}));
        (client, result)
    }

    fn request(&mut self, method: &str, params: Value) -> Result<Value, ResponseError> {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        self.send(Request::new(id.clone(), method.into(), params).into());
        loop {
            match self.receive() {
                Message::Response(response) if response.id == id => {
                    return response.response_result;
                }
                other => self.seen.push(other),
            }
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(Notification::new(method.into(), params).into());
    }

    fn send(&self, message: Message) {
        self.connection.sender.send(message).expect("server alive");
    }

    fn receive(&self) -> Message {
        self.connection
            .receiver
            .recv_timeout(TIMEOUT)
            .expect("the server answers in time")
    }

    /// The next notification `method` (already seen or still to come).
    fn notification(&mut self, method: &str, matching: impl Fn(&Value) -> bool) -> Value {
        let found = self.seen.iter().position(
            |m| matches!(m, Message::Notification(n) if n.method == method && matching(&n.params)),
        );
        if let Some(index) = found {
            let Message::Notification(n) = self.seen.remove(index) else {
                unreachable!()
            };
            return n.params;
        }
        loop {
            match self.receive() {
                Message::Notification(n) if n.method == method && matching(&n.params) => {
                    return n.params;
                }
                other => self.seen.push(other),
            }
        }
    }

    /// The next diagnostics published for `path`.
    fn diagnostics(&mut self, path: &Path) -> Vec<Value> {
        let uri = uri(path);
        let params = self.notification("textDocument/publishDiagnostics", |p| p["uri"] == uri);
        params["diagnostics"].as_array().unwrap().clone()
    }

    fn open(&mut self, path: &Path, version: i32) {
        let language = if path.extension().is_some_and(|e| e == "rs") {
            "rust"
        } else {
            "python"
        };
        let text = std::fs::read_to_string(path).unwrap();
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri(path), "languageId": language, "version": version, "text": text}}),
        );
    }

    fn change(&mut self, path: &Path, version: i32, changes: Value) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri(path), "version": version}, "contentChanges": changes}),
        );
    }

    /// `shutdown` then `exit`; returns whether the server reported a clean exit.
    fn shut_down(mut self) -> bool {
        let response = self.request("shutdown", Value::Null);
        assert!(response.is_ok(), "{response:?}");
        self.notify("exit", Value::Null);
        self.server.take().unwrap().join().unwrap()
    }
}

fn uri(path: &Path) -> String {
    url::Url::from_file_path(path).unwrap().to_string()
}

/// A temporary workspace holding these files.
fn workspace(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::create_dir(root.join(".git")).unwrap();
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    (dir, root)
}

fn codes(diagnostics: &[Value]) -> Vec<&str> {
    diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap_or(""))
        .collect()
}

fn range(line: u32, from: u32, to: u32) -> Value {
    json!({"start": {"line": line, "character": from}, "end": {"line": line, "character": to}})
}

const HELPERS: &str = "import time\n\ndef pause():\n    time.sleep(1)\n";
const APP: &str = "from pkg.helpers import pause\n\nasync def handler():\n    pause()\n";

fn package() -> (tempfile::TempDir, PathBuf) {
    workspace(&[
        ("pkg/__init__.py", ""),
        ("pkg/helpers.py", HELPERS),
        ("pkg/app.py", APP),
    ])
}

#[test]
fn initialize_answers_capabilities_once_wrapped_and_negotiates_the_encoding() {
    let (_dir, root) = package();
    let (client, result) = Client::initialized(&[&root], json!({}));
    // The result is an InitializeResult: `capabilities` at the top, not wrapped twice.
    let capabilities = &result["capabilities"];
    assert_eq!(capabilities["positionEncoding"], "utf-16");
    assert_eq!(capabilities["textDocumentSync"]["change"], 2);
    assert_eq!(capabilities["hoverProvider"], true);
    assert!(capabilities["capabilities"].is_null());
    assert!(capabilities["diagnosticProvider"].is_null());
    assert_eq!(result["serverInfo"]["name"], "interlock");
    assert!(client.shut_down());

    let offers_utf8 = json!({"general": {"positionEncodings": ["utf-8", "utf-16"]}});
    let (client, result) = Client::initialized(&[&root], offers_utf8);
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-8");
    assert!(client.shut_down());
}

#[test]
fn diagnostics_carry_code_severity_link_and_every_related_site() {
    let (_dir, root) = package();
    let (mut client, _) = Client::initialized(&[&root], json!({}));
    let app = root.join("pkg/app.py");
    client.open(&app, 1);
    let diagnostics = client.diagnostics(&app);
    assert_eq!(codes(&diagnostics), ["IL106"]);
    let finding = &diagnostics[0];
    assert_eq!(finding["severity"], 2);
    assert_eq!(finding["source"], "interlock");
    assert_eq!(finding["range"], range(3, 4, 11));
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("handler → pause → time.sleep()")
    );
    assert!(finding["message"].as_str().unwrap().contains("help: "));
    let link = finding["codeDescription"]["href"].as_str().unwrap();
    let page = url::Url::parse(link).unwrap().to_file_path().unwrap();
    assert!(
        std::fs::read_to_string(page)
            .unwrap()
            .starts_with("# IL106")
    );
    let related = finding["relatedInformation"].as_array().unwrap();
    assert_eq!(related.len(), 1, "{related:?}");
    let sites: Vec<(&str, &Value)> = related
        .iter()
        .map(|r| {
            (
                r["location"]["uri"].as_str().unwrap(),
                &r["location"]["range"],
            )
        })
        .collect();
    assert!(sites.contains(&(uri(&root.join("pkg/helpers.py")).as_str(), &range(3, 4, 17))));
    assert!(client.shut_down());
}

#[test]
fn editing_one_file_updates_the_files_that_depend_on_it() {
    let (_dir, root) = package();
    let (mut client, _) = Client::initialized(&[&root], json!({}));
    let (app, helpers) = (root.join("pkg/app.py"), root.join("pkg/helpers.py"));
    client.open(&app, 1);
    assert_eq!(codes(&client.diagnostics(&app)), ["IL106"]);
    client.open(&helpers, 1);
    assert_eq!(codes(&client.diagnostics(&helpers)), Vec::<&str>::new());
    // Unsaved: `time.sleep(1)` becomes `print(1)` in the buffer only.
    client.change(
        &helpers,
        2,
        json!([{"range": range(3, 4, 14), "text": "print"}]),
    );
    assert_eq!(codes(&client.diagnostics(&app)), Vec::<&str>::new());
    // And back: the finding returns, with the new version.
    client.change(
        &helpers,
        3,
        json!([{"range": range(3, 4, 9), "text": "time.sleep"}]),
    );
    let params = client.notification("textDocument/publishDiagnostics", |p| {
        p["uri"] == uri(&app) && !p["diagnostics"].as_array().unwrap().is_empty()
    });
    assert_eq!(params["version"], 1, "app.py's own version");
    // Half-typed code in helpers.py: a syntax error there, but app.py keeps its finding (the
    // last version of helpers.py that parsed still counts) instead of flickering.
    client.change(
        &helpers,
        4,
        json!([{"range": range(3, 16, 17), "text": ""}]),
    );
    assert_eq!(codes(&client.diagnostics(&helpers)), ["IL001"]);
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri(&app)}, "position": {"line": 3, "character": 5}}),
    );
    assert!(
        hover.unwrap()["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("IL106")
    );
    assert!(client.shut_down());
}

#[test]
fn a_function_added_in_one_file_resolves_the_calls_waiting_for_it_in_another() {
    // app.py calls `later`, which helpers.py does not define yet.
    let app = "from pkg import helpers\n\nasync def handler():\n    helpers.later()\n";
    let (_dir, root) = workspace(&[
        ("pkg/__init__.py", ""),
        ("pkg/helpers.py", HELPERS),
        ("pkg/app.py", app),
    ]);
    let (mut client, _) = Client::initialized(&[&root], json!({}));
    let (app, helpers) = (root.join("pkg/app.py"), root.join("pkg/helpers.py"));
    client.open(&app, 1);
    client.open(&helpers, 1);
    assert_eq!(codes(&client.diagnostics(&app)), Vec::<&str>::new());
    // A body edit first (calls of unchanged files are reused), then the new function.
    client.change(
        &helpers,
        2,
        json!([{"range": range(3, 15, 16), "text": "2"}]),
    );
    client.change(
        &helpers,
        3,
        json!([{"range": range(4, 0, 0), "text": "\ndef later():\n    pause()\n"}]),
    );
    assert_eq!(codes(&client.diagnostics(&app)), ["IL106"]);
    // And renamed away again.
    client.change(
        &helpers,
        4,
        json!([{"range": range(5, 4, 9), "text": "sooner"}]),
    );
    assert_eq!(codes(&client.diagnostics(&app)), Vec::<&str>::new());
    assert!(client.shut_down());
}

#[test]
fn a_lock_cycle_across_files_relates_every_acquisition() {
    let (_dir, root) = workspace(&[
        ("bank/__init__.py", ""),
        (
            "bank/locks.py",
            "import threading\nACCOUNTS = threading.Lock()\nAUDIT = threading.Lock()\n",
        ),
        (
            "bank/transfer.py",
            "from bank.locks import ACCOUNTS, AUDIT\n\ndef transfer():\n    with ACCOUNTS:\n        with AUDIT:\n            pass\n",
        ),
        (
            "bank/report.py",
            "from bank.locks import ACCOUNTS, AUDIT\n\ndef report():\n    with AUDIT:\n        with ACCOUNTS:\n            pass\n",
        ),
    ]);
    let (mut client, _) = Client::initialized(&[&root], json!({}));
    let (transfer, report) = (root.join("bank/transfer.py"), root.join("bank/report.py"));
    client.open(&transfer, 1);
    client.open(&report, 1);
    let mut all = client.diagnostics(&transfer);
    all.extend(client.diagnostics(&report));
    assert_eq!(codes(&all), ["IL201"], "{all:?}");
    let related: Vec<&str> = all[0]["relatedInformation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["location"]["uri"].as_str().unwrap())
        .collect();
    assert!(related.contains(&uri(&transfer).as_str()), "{related:?}");
    assert!(related.contains(&uri(&report).as_str()), "{related:?}");
    assert!(client.shut_down());
}

#[test]
fn a_spawn_added_in_a_helper_flags_the_script_that_imports_it() {
    let pool = "from concurrent.futures import ThreadPoolExecutor\n\n\ndef square(n):\n    return n * n\n\n\ndef run():\n    with ThreadPoolExecutor() as pool:\n        return list(pool.map(square, range(4)))\n";
    let (_dir, root) = workspace(&[
        ("jobs/__init__.py", ""),
        ("jobs/pool.py", pool),
        ("script.py", "from jobs.pool import run\n\nrun()\n"),
    ]);
    let (mut client, _) = Client::initialized(&[&root], json!({}));
    let (script, pool) = (root.join("script.py"), root.join("jobs/pool.py"));
    client.open(&script, 1);
    client.open(&pool, 1);
    assert_eq!(codes(&client.diagnostics(&script)), Vec::<&str>::new());
    // Threads become processes in the helper (unsaved): the script now starts processes on import.
    client.change(
        &pool,
        2,
        json!([{"range": range(0, 31, 49), "text": "ProcessPoolExecutor"}]),
    );
    client.change(
        &pool,
        3,
        json!([{"range": range(8, 9, 27), "text": "ProcessPoolExecutor"}]),
    );
    let diagnostics = client.diagnostics(&script);
    assert_eq!(codes(&diagnostics), ["IL301"]);
    assert_eq!(diagnostics[0]["range"]["start"]["line"], 2);
    assert!(client.shut_down());
}

#[test]
fn positions_count_utf16_units_or_utf8_bytes_as_negotiated() {
    let text = "import time\n\nasync def f():\n    s = \"é𝄞\"; time.sleep(1)\n";
    let (_dir, root) = workspace(&[("app.py", text)]);
    let app = root.join("app.py");
    // `time.sleep(1)` starts after `    s = "é𝄞"; `: 15 UTF-16 units, 18 bytes.
    for (capabilities, start) in [
        (json!({}), 15),
        (json!({"general": {"positionEncodings": ["utf-8"]}}), 18),
    ] {
        let (mut client, _) = Client::initialized(&[&root], capabilities);
        client.open(&app, 1);
        let diagnostics = client.diagnostics(&app);
        assert_eq!(diagnostics[0]["range"]["start"]["character"], start);
        // An incremental edit at a position after the wide characters lands where it should.
        client.change(
            &app,
            2,
            json!([{"range": range(3, start, start + 10), "text": "await asyncio.sleep"}]),
        );
        client.change(
            &app,
            3,
            json!([{"range": range(0, 0, 0), "text": "import asyncio\n"}]),
        );
        assert_eq!(codes(&client.diagnostics(&app)), Vec::<&str>::new());
        assert!(client.shut_down());
    }
}

#[test]
fn an_open_buffer_is_analysed_as_the_text_the_editor_has() {
    // The editor decoded the latin-1 file already: its buffer is not decoded a second time.
    let text =
        "# -*- coding: latin-1 -*-\nimport time\n\nasync def f():\n    s = 'é'; time.sleep(1)\n";
    let (_dir, root) = workspace(&[]);
    let app = root.join("app.py");
    std::fs::write(&app, encoding_latin1(text)).unwrap();
    let (mut client, _) = Client::initialized(&[&root], json!({}));
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri(&app), "languageId": "python", "version": 1, "text": text}}),
    );
    let diagnostics = client.diagnostics(&app);
    assert_eq!(codes(&diagnostics), ["IL101"]);
    assert_eq!(diagnostics[0]["range"], range(4, 13, 26));
    // A declaration of an encoding Python does not know is still an error.
    client.change(
        &app,
        2,
        json!([{"range": range(0, 14, 21), "text": "uft-8"}]),
    );
    assert_eq!(codes(&client.diagnostics(&app)), ["IL002"]);
    assert!(client.shut_down());
}

fn encoding_latin1(text: &str) -> Vec<u8> {
    text.chars().map(|c| c as u32 as u8).collect()
}

#[test]
fn hover_shows_the_rule_page_and_the_code_action_suppresses_the_finding() {
    let text = "import time\n\nasync def f():\n    time.sleep(1)  # noqa: E501\n";
    let (_dir, root) = workspace(&[("app.py", text)]);
    let (mut client, _) = Client::initialized(&[&root], json!({}));
    let app = root.join("app.py");
    client.open(&app, 1);
    assert_eq!(codes(&client.diagnostics(&app)), ["IL101"]);
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri(&app)}, "position": {"line": 3, "character": 6}}),
    );
    let contents = &hover.unwrap()["contents"];
    assert_eq!(contents["kind"], "markdown");
    let value = contents["value"].as_str().unwrap();
    assert!(
        value.contains("**IL101**") && value.contains("# IL101"),
        "{value}"
    );
    let nothing = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri(&app)}, "position": {"line": 0, "character": 0}}),
    );
    assert_eq!(nothing.unwrap(), Value::Null);

    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri(&app)}, "range": range(3, 0, 0), "context": {"diagnostics": []}}),
    );
    let actions = actions.unwrap();
    assert_eq!(actions[0]["title"], "Suppress IL101 on this line");
    assert_eq!(actions[0]["kind"], "quickfix");
    let source_only = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri(&app)}, "range": range(3, 0, 0), "context": {"diagnostics": [], "only": ["source.organizeImports"]}}),
    );
    assert_eq!(source_only.unwrap(), json!([]));
    let edit = &actions[0]["edit"]["changes"][uri(&app)][0];
    assert_eq!(edit["newText"], "IL101, ");
    client.change(
        &app,
        2,
        json!([{"range": edit["range"], "text": edit["newText"]}]),
    );
    assert_eq!(codes(&client.diagnostics(&app)), Vec::<&str>::new());
    assert!(client.shut_down());
}

#[test]
fn a_pulling_client_pulls_and_is_asked_to_pull_again_after_a_change() {
    let (_dir, root) = package();
    let capabilities = json!({
        "textDocument": {"diagnostic": {"dynamicRegistration": false}},
        "workspace": {"diagnostics": {"refreshSupport": true}},
    });
    let (mut client, result) = Client::initialized(&[&root], capabilities);
    assert_eq!(
        result["capabilities"]["diagnosticProvider"]["interFileDependencies"],
        true
    );
    let (app, helpers) = (root.join("pkg/app.py"), root.join("pkg/helpers.py"));
    client.open(&app, 1);
    client.open(&helpers, 1);
    let pull = |client: &mut Client, path: &Path| {
        let response = client.request(
            "textDocument/diagnostic",
            json!({"textDocument": {"uri": uri(path)}}),
        );
        let report = response.unwrap();
        assert_eq!(report["kind"], "full");
        report["items"].as_array().unwrap().clone()
    };
    assert_eq!(codes(&pull(&mut client, &app)), ["IL106"]);
    client.change(
        &helpers,
        2,
        json!([{"range": range(3, 4, 14), "text": "print"}]),
    );
    // Editing helpers.py changes app.py's findings: the server asks the client to pull again.
    let asked = loop {
        match client.receive() {
            Message::Request(r) if r.method == "workspace/diagnostic/refresh" => break true,
            Message::Notification(n) if n.method == "textDocument/publishDiagnostics" => {
                panic!("a pulling client gets no pushed diagnostics")
            }
            _ => {}
        }
    };
    assert!(asked);
    assert_eq!(codes(&pull(&mut client, &app)), Vec::<&str>::new());
    assert!(client.shut_down());

    // A client that pulls but cannot be asked to pull again (Neovim 0.12) is pushed to.
    let pulls_only = json!({"textDocument": {"diagnostic": {"dynamicRegistration": false}}});
    let (mut client, result) = Client::initialized(&[&root], pulls_only);
    assert!(result["capabilities"]["diagnosticProvider"].is_null());
    client.open(&app, 1);
    assert_eq!(codes(&client.diagnostics(&app)), ["IL106"]);
    assert!(client.shut_down());
}

#[test]
fn config_changes_and_new_folders_are_picked_up() {
    let (_dir, root) = workspace(&[(
        "app.py",
        "import time\n\nasync def f():\n    time.sleep(1)\n",
    )]);
    let capabilities =
        json!({"workspace": {"didChangeWatchedFiles": {"dynamicRegistration": true}}});
    let (mut client, _) = Client::initialized(&[&root], capabilities);
    // The server asks to be told about source and config files.
    let registration = loop {
        if let Message::Request(r) = client.receive()
            && r.method == "client/registerCapability"
        {
            break r.params;
        }
    };
    let watched = registration.to_string();
    assert!(watched.contains("**/interlock.toml") && watched.contains("**/*.py"));
    let app = root.join("app.py");
    client.open(&app, 1);
    assert_eq!(codes(&client.diagnostics(&app)), ["IL101"]);

    let config = root.join("interlock.toml");
    let changed = |client: &mut Client| {
        client.notify(
            "workspace/didChangeWatchedFiles",
            json!({"changes": [{"uri": uri(&config), "type": 2}]}),
        );
    };
    std::fs::write(&config, "ignore = [\"IL101\"]\n").unwrap();
    changed(&mut client);
    assert_eq!(codes(&client.diagnostics(&app)), Vec::<&str>::new());
    // A broken config is shown to the user; the server goes on with default settings.
    std::fs::write(&config, "ignore = [\"IL101\"\n").unwrap();
    changed(&mut client);
    let shown = client.notification("window/showMessage", |_| true);
    assert!(
        shown["message"]
            .as_str()
            .unwrap()
            .contains("interlock.toml"),
        "{shown}"
    );
    assert_eq!(codes(&client.diagnostics(&app)), ["IL101"]);

    // A second folder: its files join the project model.
    let (_other_dir, other) = workspace(&[
        ("lib/__init__.py", ""),
        (
            "lib/slow.py",
            "import time\n\ndef wait():\n    time.sleep(1)\n",
        ),
    ]);
    std::fs::write(&config, "").unwrap();
    changed(&mut client);
    client.change(
        &app,
        2,
        json!([{"range": range(3, 4, 17), "text": "wait()"}, {"range": range(0, 0, 0), "text": "from lib.slow import wait\n"}]),
    );
    assert_eq!(codes(&client.diagnostics(&app)), Vec::<&str>::new());
    client.notify(
        "workspace/didChangeWorkspaceFolders",
        json!({"event": {"added": [{"uri": uri(&other), "name": "other"}], "removed": []}}),
    );
    assert_eq!(codes(&client.diagnostics(&app)), ["IL106"]);
    assert!(client.shut_down());
}

#[test]
fn a_config_changed_behind_the_clients_back_is_read_on_save() {
    let (_dir, root) = workspace(&[(
        "app.py",
        "import time\n\nasync def f():\n    time.sleep(1)\n",
    )]);
    // No file watching: the server checks the config files on save.
    let (mut client, _) = Client::initialized(&[&root], json!({}));
    let app = root.join("app.py");
    client.open(&app, 1);
    assert_eq!(codes(&client.diagnostics(&app)), ["IL101"]);
    std::fs::write(root.join("interlock.toml"), "ignore = [\"IL101\"]\n").unwrap();
    // Typing first (a refresh) must not hide the change from the check on save.
    client.change(&app, 2, json!([{"range": range(0, 0, 0), "text": "\n"}]));
    assert_eq!(codes(&client.diagnostics(&app)), ["IL101"]);
    client.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri(&app)}}),
    );
    assert_eq!(codes(&client.diagnostics(&app)), Vec::<&str>::new());
    assert!(client.shut_down());
}

#[test]
fn bad_input_gets_errors_and_diagnostics_and_never_stops_the_server() {
    let (_dir, root) = workspace(&[("app.py", "def f(:\n    pass\n")]);
    let mut client = Client::start();
    // Before `initialize`: refused, not fatal.
    let early = client.request("textDocument/hover", json!({}));
    assert_eq!(early.unwrap_err().code, -32002);
    let initialize = client.request(
        "initialize",
        json!({"processId": null, "capabilities": {}, "rootUri": uri(&root)}),
    );
    assert!(initialize.is_ok());
    client.notify("initialized", json!({}));
    let unknown = client.request("interlock/nonsense", json!({}));
    assert_eq!(unknown.unwrap_err().code, -32601);
    let bad_params = client.request("textDocument/hover", json!({"textDocument": 3}));
    assert_eq!(bad_params.unwrap_err().code, -32602);
    client.notify("textDocument/didOpen", json!({"nonsense": true}));
    let logged = client.notification("window/logMessage", |p| p["type"] == 2);
    assert!(
        logged["message"]
            .as_str()
            .unwrap()
            .contains("ignored `textDocument/didOpen`: invalid parameters"),
        "{logged}"
    );
    // A syntax error is a diagnostic of its own.
    let app = root.join("app.py");
    client.open(&app, 1);
    let diagnostics = client.diagnostics(&app);
    assert_eq!(codes(&diagnostics), ["IL001"]);
    assert_eq!(diagnostics[0]["severity"], 1);
    // Nesting 10 000 deep: analysed on a large stack, reported, and the server lives on.
    let deep = format!("x = {}1{}\n", "(".repeat(10_000), ")".repeat(10_000));
    client.change(&app, 2, json!([{"text": deep}]));
    client.diagnostics(&app);
    let still_alive = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri(&app)}, "range": range(0, 0, 0), "context": {"diagnostics": []}}),
    );
    assert!(still_alive.is_ok());
    // Closing clears the file's diagnostics.
    client.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": uri(&app)}}),
    );
    assert_eq!(client.diagnostics(&app), Vec::<Value>::new());
    assert!(client.shut_down());
}

#[test]
fn exit_without_shutdown_is_not_clean() {
    let mut client = Client::start();
    client
        .request("initialize", json!({"processId": null, "capabilities": {}}))
        .expect("initialize succeeds");
    client.notify("initialized", json!({}));
    client.notify("exit", Value::Null);
    assert!(!client.server.take().unwrap().join().unwrap());
}

#[test]
fn the_server_reports_what_check_reports_on_the_fixtures() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_interlock"))
        .args(["check", "--output-format", "json", "--exit-zero"])
        .arg(&fixtures)
        .output()
        .unwrap();
    let findings: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let mut expected: std::collections::BTreeMap<PathBuf, Vec<(String, u64)>> = Default::default();
    for finding in &findings {
        expected
            .entry(PathBuf::from(finding["filename"].as_str().unwrap()))
            .or_default()
            .push((
                finding["code"].as_str().unwrap().to_string(),
                finding["location"]["row"].as_u64().unwrap() - 1,
            ));
    }
    assert!(
        expected.len() > 20,
        "{} files with findings",
        expected.len()
    );
    let (mut client, _) = Client::initialized(&[&fixtures], json!({}));
    for (path, wanted) in &mut expected {
        client.open(path, 1);
        let mut got: Vec<(String, u64)> = client
            .diagnostics(path)
            .iter()
            .map(|d| {
                let code = d["code"].as_str().unwrap().to_string();
                (code, d["range"]["start"]["line"].as_u64().unwrap())
            })
            .collect();
        got.sort();
        wanted.sort();
        assert_eq!(&got, wanted, "{}", path.display());
    }
    assert!(client.shut_down());
}

/// The built binary on real pipes: a malformed frame is logged and skipped, and the frames
/// after it are answered.
#[test]
fn the_binary_answers_after_a_malformed_frame() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let frame = |message: Value| {
        let body = message.to_string();
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    };
    let mut server = Command::new(env!("CARGO_BIN_EXE_interlock"))
        .arg("server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("interlock server starts");
    let mut stdout = std::io::BufReader::new(server.stdout.take().unwrap());
    let (sender, received) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        while let Ok(Some(message)) = Message::read(&mut stdout) {
            if sender.send(message).is_err() {
                return;
            }
        }
    });
    let mut stdin = server.stdin.take().unwrap();
    let initialize = frame(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"processId": null, "capabilities": {}}}));
    // A bad length, one too short, one too long (it swallows the start of `initialize`).
    let stream = format!(
        "Content-Length: abc\r\n\r\n{{}}Content-Length: 5\r\n\r\n\
         Content-Length: 30\r\n\r\n{{}}{initialize}"
    );
    stdin.write_all(stream.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let mut logs = 0;
    loop {
        match received.recv_timeout(TIMEOUT).expect("the server answers") {
            Message::Response(response) => {
                assert_eq!(response.id, RequestId::from(1));
                assert!(response.response_result.is_ok(), "{response:?}");
                break;
            }
            Message::Notification(n)
                if n.method == "window/logMessage"
                    && n.params["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("malformed")) =>
            {
                logs += 1
            }
            _ => {}
        }
    }
    assert_eq!(logs, 3, "one log per malformed frame");
    let shutdown = frame(json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}));
    let exit = frame(json!({"jsonrpc": "2.0", "method": "exit"}));
    stdin
        .write_all(format!("{shutdown}{exit}").as_bytes())
        .unwrap();
    drop(stdin);
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            server.kill().ok();
            panic!("the server did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}
