//! `interlock server`: the language server (stdio). A plain synchronous message loop keeps
//! edits in order; analysis fans out to the large-stack analysis threads. Queued messages are
//! all handled before analysing, so a burst of keystrokes costs one analysis.

pub mod convert;
pub mod document;
pub mod transport;
pub mod workspace;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, Sender};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{self as notify, Notification as _};
use lsp_types::request::{self as req, Request as _};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, DiagnosticOptions,
    DiagnosticServerCapabilities, DidChangeTextDocumentParams, DidChangeWatchedFilesParams,
    DidChangeWatchedFilesRegistrationOptions, DidChangeWorkspaceFoldersParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, DidSaveTextDocumentParams,
    DocumentDiagnosticParams, DocumentDiagnosticReport, DocumentDiagnosticReportResult,
    FileChangeType, FileSystemWatcher, FullDocumentDiagnosticReport, GlobPattern, Hover,
    HoverContents, HoverParams, InitializeParams, MarkupContent, MarkupKind, PositionEncodingKind,
    PublishDiagnosticsParams, Registration, RegistrationParams,
    RelatedFullDocumentDiagnosticReport, ServerCapabilities, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions,
    WorkDoneProgressOptions, WorkspaceEdit, WorkspaceFolder, WorkspaceFoldersServerCapabilities,
    WorkspaceServerCapabilities,
};
use serde_json::json;

use crate::codes::Code;
use crate::source::Language;
use document::{Document, Encoding, Text};
use workspace::{OpenDocument, Workspace};

/// Runs the server on stdin/stdout until the client says `exit`. Returns the process exit
/// code: 0 after `shutdown` then `exit`, 1 on `exit` without `shutdown` (as the protocol asks).
pub fn run_stdio() -> std::process::ExitCode {
    let (connection, reader, writer) = transport::stdio();
    let clean = serve(connection);
    // The reader ends at `exit`; the writer once every sender is gone.
    let _ = reader.join();
    let _ = writer.join();
    if clean {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    }
}

/// Serves one client over `connection`; returns whether it shut down cleanly. The analysis
/// runs on a thread with a large stack (as in `interlock check`).
pub fn serve(connection: Connection) -> bool {
    let Connection { sender, receiver } = connection;
    std::thread::Builder::new()
        .name("interlock-server".into())
        .stack_size(crate::analysis::STACK_SIZE)
        .spawn(move || Server::start(sender).serve(&receiver))
        .expect("the server thread starts")
        .join()
        .unwrap_or(false)
}

/// What the client can do, as far as the server cares.
#[derive(Default)]
struct ClientSupport {
    /// The client pulls diagnostics (`textDocument/diagnostic`) rather than waiting for them,
    /// and pulls again when asked (`workspace/diagnostic/refresh`).
    pull: bool,
    /// The client watches files for the server (`workspace/didChangeWatchedFiles`).
    watch: bool,
}

/// The server's state.
struct Server {
    sender: Sender<Message>,
    encoding: Encoding,
    client: ClientSupport,
    /// `None` until `initialize`.
    workspace: Option<Workspace>,
    shutdown: bool,
    /// The diagnostics the client was last given, per open file.
    sent: HashMap<PathBuf, Vec<lsp_types::Diagnostic>>,
    /// Files opened or edited since the last refresh (a pulling client pulls those itself).
    edited: std::collections::HashSet<PathBuf>,
    next_request: u64,
}

impl Server {
    fn start(sender: Sender<Message>) -> Self {
        Server {
            sender,
            encoding: Encoding::Utf16,
            client: ClientSupport::default(),
            workspace: None,
            shutdown: false,
            sent: HashMap::new(),
            edited: std::collections::HashSet::new(),
            next_request: 0,
        }
    }

    /// The message loop; returns whether the client shut the server down before `exit`.
    fn serve(mut self, receiver: &Receiver<Message>) -> bool {
        while let Ok(message) = receiver.recv() {
            let mut batch = vec![message];
            batch.extend(receiver.try_iter());
            for message in batch {
                if let Some(clean) = self.handle(message) {
                    return clean;
                }
            }
            self.refresh_if_needed();
        }
        false
    }

    /// Handles one message; `Some(clean)` when it was `exit`.
    fn handle(&mut self, message: Message) -> Option<bool> {
        match message {
            Message::Request(request) => self.on_request(request),
            Message::Notification(notification) if notification.method == notify::Exit::METHOD => {
                return Some(self.shutdown);
            }
            Message::Notification(notification) => self.on_notification(notification),
            Message::Response(_) => {} // answers to our registrations and refreshes
        }
        None
    }

    fn on_request(&mut self, request: Request) {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            req::Initialize::METHOD if self.workspace.is_none() => self.initialize(request),
            req::Initialize::METHOD => Err((
                ErrorCode::InvalidRequest,
                "the server is already initialized".to_string(),
            )),
            _ if self.workspace.is_none() => Err((
                ErrorCode::ServerNotInitialized,
                "the server is not initialized yet".to_string(),
            )),
            _ if self.shutdown => Err((
                ErrorCode::InvalidRequest,
                "the server is shutting down".to_string(),
            )),
            req::Shutdown::METHOD => {
                self.shutdown = true;
                Ok(serde_json::Value::Null)
            }
            req::HoverRequest::METHOD => params(request).and_then(|p| self.hover(p)),
            req::CodeActionRequest::METHOD => params(request).and_then(|p| self.code_actions(p)),
            req::DocumentDiagnosticRequest::METHOD => {
                params(request).and_then(|p| self.pull_diagnostics(p))
            }
            method => Err((
                ErrorCode::MethodNotFound,
                format!("interlock does not handle `{method}`"),
            )),
        };
        let response = match result {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        };
        self.send(response.into());
    }

    fn on_notification(&mut self, notification: Notification) {
        if self.workspace.is_none() || self.shutdown {
            return;
        }
        let method = notification.method.clone();
        let handled = match method.as_str() {
            notify::Initialized::METHOD => {
                self.watch_files();
                Ok(())
            }
            notify::DidOpenTextDocument::METHOD => params(notification).map(|p| self.did_open(p)),
            notify::DidChangeTextDocument::METHOD => {
                params(notification).map(|p| self.did_change(p))
            }
            notify::DidSaveTextDocument::METHOD => params(notification).map(|p| self.did_save(p)),
            notify::DidCloseTextDocument::METHOD => params(notification).map(|p| self.did_close(p)),
            notify::DidChangeWatchedFiles::METHOD => {
                params(notification).map(|p| self.files_changed(p))
            }
            notify::DidChangeWorkspaceFolders::METHOD => {
                params(notification).map(|p| self.folders_changed(p))
            }
            notify::DidChangeConfiguration::METHOD => {
                self.workspace_mut().reload();
                Ok(())
            }
            _ => Ok(()), // `$/cancelRequest`, `$/setTrace` and the like: nothing to do
        };
        if let Err((_, message)) = handled {
            self.send(transport::log_message(
                2,
                &format!("interlock: ignored `{method}`: {message}"),
            ));
        }
    }

    fn initialize(&mut self, request: Request) -> Result<serde_json::Value, (ErrorCode, String)> {
        // `workspace.diagnostics.refreshSupport` (as the protocol spells it) is read from the
        // raw parameters: lsp-types 0.95 expects it under `workspace.diagnostic`.
        let refresh = ["diagnostics", "diagnostic"]
            .iter()
            .any(|key| request.params["capabilities"]["workspace"][key]["refreshSupport"] == true);
        let params: InitializeParams = params(request)?;
        let capabilities = &params.capabilities;
        let offers_utf8 = capabilities
            .general
            .as_ref()
            .and_then(|g| g.position_encodings.as_ref())
            .is_some_and(|encodings| encodings.contains(&PositionEncodingKind::UTF8));
        self.encoding = if offers_utf8 {
            Encoding::Utf8
        } else {
            Encoding::Utf16
        };
        let pulls = capabilities
            .text_document
            .as_ref()
            .is_some_and(|t| t.diagnostic.is_some());
        self.client = ClientSupport {
            // A client that pulls but cannot be asked to pull again would keep stale findings
            // in the files that depend on an edited one: it gets pushed diagnostics instead.
            pull: pulls && refresh,
            watch: capabilities
                .workspace
                .as_ref()
                .and_then(|w| w.did_change_watched_files.as_ref())
                .and_then(|d| d.dynamic_registration)
                .unwrap_or(false),
        };
        self.workspace = Some(Workspace::new(initial_folders(&params)));
        let result = json!({
            "capabilities": self.capabilities(),
            "serverInfo": {"name": "interlock", "version": env!("CARGO_PKG_VERSION")},
        });
        Ok(result)
    }

    fn capabilities(&self) -> ServerCapabilities {
        let encoding = match self.encoding {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
        };
        ServerCapabilities {
            position_encoding: Some(encoding),
            text_document_sync: Some(TextDocumentSyncCapability::Options(
                TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                    ..Default::default()
                },
            )),
            hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
            code_action_provider: Some(lsp_types::CodeActionProviderCapability::Options(
                lsp_types::CodeActionOptions {
                    code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                    ..Default::default()
                },
            )),
            diagnostic_provider: self.client.pull.then(|| {
                DiagnosticServerCapabilities::Options(DiagnosticOptions {
                    identifier: Some("interlock".into()),
                    inter_file_dependencies: true,
                    workspace_diagnostics: false,
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                })
            }),
            workspace: Some(WorkspaceServerCapabilities {
                workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                    supported: Some(true),
                    change_notifications: Some(lsp_types::OneOf::Left(true)),
                }),
                file_operations: None,
            }),
            ..Default::default()
        }
    }

    /// Asks the client to report changes to source and config files, when it can.
    fn watch_files(&mut self) {
        if !self.client.watch {
            return;
        }
        let watchers = [
            "**/*.py",
            "**/*.pyi",
            "**/*.rs",
            "**/interlock.toml",
            "**/.interlock.toml",
            "**/pyproject.toml",
            "**/Cargo.toml",
        ]
        .into_iter()
        .map(|glob| FileSystemWatcher {
            glob_pattern: GlobPattern::String(glob.into()),
            kind: None,
        })
        .collect();
        let registration = Registration {
            id: "interlock-watched-files".into(),
            method: notify::DidChangeWatchedFiles::METHOD.into(),
            register_options: Some(json!(DidChangeWatchedFilesRegistrationOptions { watchers })),
        };
        self.request(
            req::RegisterCapability::METHOD,
            RegistrationParams {
                registrations: vec![registration],
            },
        );
    }

    fn did_open(&mut self, params: DidOpenTextDocumentParams) {
        let document = params.text_document;
        let Some(path) = convert::path_of(&document.uri) else {
            return;
        };
        let language = match document.language_id.as_str() {
            "python" => Some(Language::Python),
            "rust" => Some(Language::Rust),
            _ => Language::from_path(&path),
        };
        let Some(language) = language else {
            return;
        };
        let open = OpenDocument {
            document: Document {
                text: Text::new(document.text),
                version: document.version,
            },
            language,
        };
        // A fresh open always gets its diagnostics, even if they did not change.
        self.sent.remove(&path);
        self.edited.insert(path.clone());
        let workspace = self.workspace_mut();
        workspace.open(path, open);
        if workspace.config_changed() {
            workspace.reload();
        }
    }

    fn did_change(&mut self, params: DidChangeTextDocumentParams) {
        let Some(path) = convert::path_of(&params.text_document.uri) else {
            return;
        };
        let encoding = self.encoding;
        let workspace = self.workspace_mut();
        if let Some(open) = workspace.documents.get_mut(&path) {
            open.document.apply(
                params.content_changes,
                params.text_document.version,
                encoding,
            );
            workspace.touch(&path);
            self.edited.insert(path);
        }
    }

    fn did_save(&mut self, params: DidSaveTextDocumentParams) {
        let Some(path) = convert::path_of(&params.text_document.uri) else {
            return;
        };
        let workspace = self.workspace_mut();
        if workspace::is_config_file(&path) || workspace.config_changed() {
            workspace.reload();
        }
    }

    fn did_close(&mut self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        let Some(path) = convert::path_of(&uri) else {
            return;
        };
        self.workspace_mut().close(&path);
        if self.sent.remove(&path).is_some() && !self.client.pull {
            self.publish(uri, Vec::new(), None);
        }
    }

    fn files_changed(&mut self, params: DidChangeWatchedFilesParams) {
        for change in params.changes {
            if let Some(path) = convert::path_of(&change.uri) {
                let deleted = change.typ == FileChangeType::DELETED;
                self.workspace_mut().changed_on_disk(&path, deleted);
            }
        }
    }

    fn folders_changed(&mut self, params: DidChangeWorkspaceFoldersParams) {
        let workspace = self.workspace_mut();
        let mut folders = workspace.folders().to_vec();
        let removed = folder_paths(&params.event.removed);
        folders.retain(|f| !removed.contains(f));
        for added in folder_paths(&params.event.added) {
            if !folders.contains(&added) {
                folders.push(added);
            }
        }
        workspace.set_folders(folders);
    }

    /// Brings the findings up to date after changes, then tells the client: pushes the open
    /// files' diagnostics that changed, or asks a pulling client to pull again when files it
    /// did not edit changed.
    fn refresh_if_needed(&mut self) {
        let Some(workspace) = self.workspace.as_mut() else {
            return;
        };
        if !workspace.needs_refresh() {
            return;
        }
        let (mut problems, timing) = workspace.refresh();
        self.send(transport::log_message(4, &format!("interlock: {timing}")));
        if !problems.is_empty() {
            // One broken config file is met once per file under it: say it once.
            problems.sort();
            problems.dedup();
            self.show_error(&problems.join("\n"));
        }
        let workspace = self.workspace.as_ref().expect("initialized");
        let mut changed = Vec::new();
        for (path, open) in &workspace.documents {
            let diagnostics = convert::diagnostics(workspace, path, self.encoding);
            if self.sent.get(path) != Some(&diagnostics) {
                changed.push((path.clone(), diagnostics, open.document.version));
            }
        }
        let edited = std::mem::take(&mut self.edited);
        if self.client.pull {
            // The client pulls the files it edited by itself; ask again only for the others.
            if changed.iter().any(|(path, ..)| !edited.contains(path)) {
                self.request(req::WorkspaceDiagnosticRefresh::METHOD, ());
            }
            return;
        }
        for (path, diagnostics, version) in changed {
            if let Some(uri) = convert::uri_of(&path) {
                self.publish(uri, diagnostics.clone(), Some(version));
                self.sent.insert(path, diagnostics);
            }
        }
    }

    fn publish(
        &self,
        uri: lsp_types::Url,
        diagnostics: Vec<lsp_types::Diagnostic>,
        version: Option<i32>,
    ) {
        let params = PublishDiagnosticsParams::new(uri, diagnostics, version);
        self.send(Notification::new(notify::PublishDiagnostics::METHOD.into(), params).into());
    }

    fn pull_diagnostics(
        &mut self,
        params: DocumentDiagnosticParams,
    ) -> Result<serde_json::Value, (ErrorCode, String)> {
        self.refresh_if_needed();
        let path = convert::path_of(&params.text_document.uri).ok_or_else(not_a_file)?;
        let workspace = self.workspace.as_ref().expect("initialized");
        let items = convert::diagnostics(workspace, &path, self.encoding);
        self.sent.insert(path, items.clone());
        let report = DocumentDiagnosticReportResult::Report(DocumentDiagnosticReport::Full(
            RelatedFullDocumentDiagnosticReport {
                related_documents: None,
                full_document_diagnostic_report: FullDocumentDiagnosticReport {
                    result_id: None,
                    items,
                },
            },
        ));
        Ok(json!(report))
    }

    fn hover(&mut self, params: HoverParams) -> Result<serde_json::Value, (ErrorCode, String)> {
        self.refresh_if_needed();
        let at = params.text_document_position_params;
        let path = convert::path_of(&at.text_document.uri).ok_or_else(not_a_file)?;
        let workspace = self.workspace.as_ref().expect("initialized");
        let diagnostics = convert::diagnostics(workspace, &path, self.encoding);
        let under: Vec<&lsp_types::Diagnostic> = diagnostics
            .iter()
            .filter(|d| convert::covers(&d.range, at.position))
            .collect();
        let hover = convert::hover_text(&under).map(|text| Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: text,
            }),
            range: under.first().map(|d| d.range),
        });
        Ok(json!(hover))
    }

    fn code_actions(
        &mut self,
        params: CodeActionParams,
    ) -> Result<serde_json::Value, (ErrorCode, String)> {
        self.refresh_if_needed();
        let uri = params.text_document.uri;
        let path = convert::path_of(&uri).ok_or_else(not_a_file)?;
        let workspace = self.workspace.as_ref().expect("initialized");
        let Some(open) = workspace.documents.get(&path) else {
            return Ok(json!([]));
        };
        // Only quick fixes are offered: none when the client asks for other kinds only.
        let quickfix = "quickfix";
        let wanted = params.context.only.as_ref().is_none_or(|kinds| {
            kinds.iter().any(|kind| {
                let kind = kind.as_str();
                kind.is_empty()
                    || quickfix == kind
                    || quickfix
                        .strip_prefix(kind)
                        .is_some_and(|r| r.starts_with('.'))
            })
        });
        if !wanted {
            return Ok(json!([]));
        }
        let text = &open.document.text;
        let range = params.range;
        let mut actions: Vec<CodeActionOrCommand> = Vec::new();
        let mut offered = std::collections::HashSet::new();
        for diagnostic in convert::diagnostics(workspace, &path, self.encoding) {
            // Offered anywhere on the finding's lines, as where the cursor is rarely on it.
            let overlaps = diagnostic.range.start.line <= range.end.line
                && range.start.line <= diagnostic.range.end.line;
            let Some(lsp_types::NumberOrString::String(code)) = diagnostic.code.clone() else {
                continue;
            };
            // Syntax and encoding errors cannot be suppressed by a comment.
            if !overlaps || code.parse().is_ok_and(Code::is_file_error) {
                continue;
            }
            let line = diagnostic.range.start.line;
            if !offered.insert((code.clone(), line)) {
                continue;
            }
            let Some(edit) =
                convert::suppression_edit(text, open.language, line, &code, self.encoding)
            else {
                continue;
            };
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("Suppress {code} on this line"),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diagnostic]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                    ..Default::default()
                }),
                ..Default::default()
            }));
        }
        Ok(json!(actions))
    }

    fn workspace_mut(&mut self) -> &mut Workspace {
        self.workspace.as_mut().expect("initialized")
    }

    fn show_error(&self, message: &str) {
        let params = lsp_types::ShowMessageParams {
            typ: lsp_types::MessageType::ERROR,
            message: format!("interlock: {message}"),
        };
        self.send(Notification::new(notify::ShowMessage::METHOD.into(), params).into());
    }

    /// Sends a request to the client (its answer is not needed).
    fn request(&mut self, method: &str, params: impl serde::Serialize) {
        self.next_request += 1;
        let id = RequestId::from(format!("interlock-{}", self.next_request));
        self.send(Request::new(id, method.into(), params).into());
    }

    fn send(&self, message: Message) {
        // The client is gone when this fails; the loop ends when its channel closes.
        let _ = self.sender.send(message);
    }
}

/// A message's parameters, or the LSP error for parameters that do not fit.
fn params<P: serde::de::DeserializeOwned>(
    message: impl Into<Message>,
) -> Result<P, (ErrorCode, String)> {
    let value = match message.into() {
        Message::Request(r) => r.params,
        Message::Notification(n) => n.params,
        Message::Response(_) => serde_json::Value::Null,
    };
    serde_json::from_value(value)
        .map_err(|e| (ErrorCode::InvalidParams, format!("invalid parameters: {e}")))
}

fn not_a_file() -> (ErrorCode, String) {
    (
        ErrorCode::InvalidParams,
        "interlock only analyses `file:` documents".to_string(),
    )
}

/// The workspace folders of `initialize`: the folders, or else the root URI or path.
#[allow(deprecated)] // `root_uri` and `root_path`: older clients send only these
fn initial_folders(params: &InitializeParams) -> Vec<PathBuf> {
    if let Some(folders) = &params.workspace_folders {
        return folder_paths(folders);
    }
    if let Some(path) = params.root_uri.as_ref().and_then(convert::path_of) {
        return vec![path];
    }
    params
        .root_path
        .as_ref()
        .map(|p| vec![crate::source::absolute(Path::new(p))])
        .unwrap_or_default()
}

fn folder_paths(folders: &[WorkspaceFolder]) -> Vec<PathBuf> {
    folders
        .iter()
        .filter_map(|f| convert::path_of(&f.uri))
        .collect()
}
