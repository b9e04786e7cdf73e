"""End-to-end tests of `interlock server` driven by a real LSP client (pytest-lsp / pygls).

Run through `cargo test --test lsp_pytest`, or by hand:
`INTERLOCK_BIN=target/debug/interlock python -m pytest tests/editors/pytest_lsp -q`.
"""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Callable, Sequence

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcMethodNotFound
from pytest_lsp import LanguageClient

TIMEOUT = 15.0

# `é` is 1 UTF-16 unit and 2 UTF-8 bytes; `𝄞` (outside the BMP) is 2 units and 4 bytes.
UNICODE = 'import time\nasync def f():\n    s = "é𝄞"; time.sleep(1)\n'
UNICODE_LINE = 2
# Where `time.sleep(1)` starts on that line: 14 characters, 15 UTF-16 units, 18 bytes.
UNICODE_COLUMN = {"utf-16": 15, "utf-8": 18}

HELPERS = "import time\ndef pause():\n    time.sleep(1)\n"
APP = "from pkg.helpers import pause\nasync def handler():\n    pause()\n"


@pytest.fixture
def workspace(tmp_path: pathlib.Path) -> pathlib.Path:
    """A small Python project: an async handler in `app.py` calls a helper that sleeps."""
    root = tmp_path.resolve() / "ws"
    package = root / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text(HELPERS)
    (package / "app.py").write_text(APP)
    return root


# --- helpers ---------------------------------------------------------------------------


async def initialize(
    client: LanguageClient,
    root: pathlib.Path,
    *,
    encodings: Sequence[str] = ("utf-16",),
    pull: bool = False,
    refresh: bool | None = None,
) -> types.InitializeResult:
    """Initializes a session on the workspace folder `root`. A pulling client supports
    `workspace/diagnostic/refresh` unless `refresh` says otherwise."""
    refresh = pull if refresh is None else refresh
    capabilities = types.ClientCapabilities(
        general=types.GeneralClientCapabilities(
            position_encodings=[types.PositionEncodingKind(e) for e in encodings],
        ),
        text_document=types.TextDocumentClientCapabilities(
            synchronization=types.TextDocumentSyncClientCapabilities(),
            hover=types.HoverClientCapabilities(
                content_format=[types.MarkupKind.Markdown, types.MarkupKind.PlainText],
            ),
            code_action=types.CodeActionClientCapabilities(
                code_action_literal_support=types.ClientCodeActionLiteralOptions(
                    code_action_kind=types.ClientCodeActionKindOptions(
                        value_set=[types.CodeActionKind.QuickFix],
                    ),
                ),
            ),
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(
                related_information=True,
                version_support=True,
                code_description_support=True,
            ),
            diagnostic=types.DiagnosticClientCapabilities(related_document_support=False)
            if pull
            else None,
        ),
        workspace=types.WorkspaceClientCapabilities(
            workspace_folders=True,
            diagnostics=types.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
            if refresh
            else None,
        ),
    )
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="ws")],
        )
    )


class Buffer:
    """An open document on the client's side: its text and version, kept in step with the
    server through incremental `didChange`s."""

    def __init__(self, client: LanguageClient, path: pathlib.Path, encoding: str = "utf-16"):
        self.client = client
        self.uri = path.as_uri()
        self.text = path.read_text()
        self.version = 1
        self.encoding = encoding
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=self.uri, language_id="python", version=self.version, text=self.text
                )
            )
        )

    def offset(self, position: types.Position) -> int:
        """The string index of an LSP position in the negotiated encoding."""
        lines = self.text.splitlines(keepends=True)
        start = sum(len(line) for line in lines[: position.line])
        line = lines[position.line] if position.line < len(lines) else ""
        units = 0
        for index, char in enumerate(line):
            if units >= position.character or char in "\r\n":
                return start + index
            units += width(char, self.encoding)
        return start + len(line)

    def position(self, index: int) -> types.Position:
        """The LSP position of a string index in the negotiated encoding."""
        before = self.text[:index]
        line = before.count("\n")
        column = before[before.rfind("\n") + 1 :]
        return types.Position(line=line, character=width(column, self.encoding))

    def range_of(self, needle: str) -> types.Range:
        start = self.text.index(needle)
        return types.Range(start=self.position(start), end=self.position(start + len(needle)))

    def edit(self, range_: types.Range, new_text: str) -> None:
        """Applies an edit here and sends it to the server as an incremental change."""
        start, end = self.offset(range_.start), self.offset(range_.end)
        self.text = self.text[:start] + new_text + self.text[end:]
        self.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=self.uri, version=self.version
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=range_, text=new_text)
                ],
            )
        )

    def replace(self, old: str, new: str) -> None:
        self.edit(self.range_of(old), new)


def width(text: str, encoding: str) -> int:
    """The length of `text` in UTF-16 code units or UTF-8 bytes."""
    if encoding == "utf-16":
        return len(text.encode("utf-16-le")) // 2
    return len(text.encode("utf-8"))


def codes(diagnostics: Sequence[types.Diagnostic] | None) -> list[str]:
    return sorted(str(d.code) for d in diagnostics or [])


async def wait_for_diagnostics(
    client: LanguageClient,
    uri: str,
    predicate: Callable[[Sequence[types.Diagnostic]], bool],
    what: str,
) -> Sequence[types.Diagnostic]:
    """Waits until the diagnostics last pushed for `uri` satisfy `predicate`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while True:
        diagnostics = client.diagnostics.get(uri)
        if diagnostics is not None and predicate(diagnostics):
            return diagnostics
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what} in {uri}; last pushed: {diagnostics!r}")
        await asyncio.sleep(0.02)


def has(code: str) -> Callable[[Sequence[types.Diagnostic]], bool]:
    return lambda diagnostics: code in codes(diagnostics)


def lacks(code: str) -> Callable[[Sequence[types.Diagnostic]], bool]:
    return lambda diagnostics: code not in codes(diagnostics)


def only(diagnostics: Sequence[types.Diagnostic], code: str) -> types.Diagnostic:
    found = [d for d in diagnostics if d.code == code]
    assert len(found) == 1, diagnostics
    return found[0]


# --- tests ------------------------------------------------------------------------------


async def test_transitive_blocking_call_is_pushed_with_the_blocking_site_as_related(
    client: LanguageClient, workspace: pathlib.Path
):
    result = await initialize(client, workspace)
    assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf16
    assert result.capabilities.diagnostic_provider is None  # push, not pull
    app = Buffer(client, workspace / "pkg" / "app.py")

    diagnostics = await wait_for_diagnostics(client, app.uri, has("IL106"), "IL106")
    diagnostic = only(diagnostics, "IL106")
    assert diagnostic.source == "interlock"
    assert diagnostic.severity == types.DiagnosticSeverity.Warning
    assert diagnostic.range == app.range_of("pause()")
    assert diagnostic.code_description is not None
    assert "IL106" in diagnostic.code_description.href
    assert "pause" in diagnostic.message

    helpers_uri = (workspace / "pkg" / "helpers.py").as_uri()
    sleep_line = HELPERS.splitlines()[2]
    sleep_range = types.Range(
        start=types.Position(line=2, character=sleep_line.index("time.sleep")),
        end=types.Position(line=2, character=len(sleep_line)),
    )
    related = diagnostic.related_information or []
    assert any(
        r.location.uri == helpers_uri and r.location.range == sleep_range for r in related
    ), related


async def test_editing_the_helper_updates_the_callers_diagnostics(
    client: LanguageClient, workspace: pathlib.Path
):
    await initialize(client, workspace)
    app = Buffer(client, workspace / "pkg" / "app.py")
    await wait_for_diagnostics(client, app.uri, has("IL106"), "IL106")
    helpers = Buffer(client, workspace / "pkg" / "helpers.py")
    await wait_for_diagnostics(client, helpers.uri, lambda d: True, "the helper's diagnostics")

    # Only the open buffer changes (nothing is saved): the caller's finding goes away...
    helpers.replace("time.sleep(1)", "pass")
    assert helpers.text == "import time\ndef pause():\n    pass\n"
    await wait_for_diagnostics(client, app.uri, lambda d: len(d) == 0, "no diagnostics")
    assert (workspace / "pkg" / "helpers.py").read_text() == HELPERS

    # ...and comes back when the blocking call does.
    helpers.replace("pass", "time.sleep(2)")
    await wait_for_diagnostics(client, app.uri, has("IL106"), "IL106 again")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
async def test_columns_after_non_ascii_text_count_in_the_negotiated_encoding(
    client: LanguageClient, workspace: pathlib.Path, encoding: str
):
    path = workspace / "pkg" / "uni.py"
    path.write_text(UNICODE, encoding="utf-8")
    # A client that offers UTF-8 gets it; one that offers only UTF-16 gets UTF-16.
    offered = ["utf-8", "utf-16"] if encoding == "utf-8" else ["utf-16"]
    result = await initialize(client, workspace, encodings=offered)
    assert result.capabilities.position_encoding == encoding

    buffer = Buffer(client, path, encoding)
    diagnostics = await wait_for_diagnostics(client, buffer.uri, has("IL101"), "IL101")
    diagnostic = only(diagnostics, "IL101")
    column = UNICODE_COLUMN[encoding]
    assert diagnostic.range == types.Range(
        start=types.Position(line=UNICODE_LINE, character=column),
        end=types.Position(line=UNICODE_LINE, character=column + len("time.sleep(1)")),
    )

    # An incremental edit addressed in the same encoding lands where it should: replacing
    # exactly `time.sleep(1)` leaves valid code without the finding (an edit off by the
    # width of the non-ASCII text would leave a syntax error or the call in place).
    buffer.edit(diagnostic.range, "print(s)")
    assert buffer.text == 'import time\nasync def f():\n    s = "é𝄞"; print(s)\n'
    await wait_for_diagnostics(client, buffer.uri, lambda d: len(d) == 0, "no diagnostics")


async def test_hover_on_a_finding_shows_the_rule(
    client: LanguageClient, workspace: pathlib.Path
):
    await initialize(client, workspace)
    app = Buffer(client, workspace / "pkg" / "app.py")
    diagnostics = await wait_for_diagnostics(client, app.uri, has("IL106"), "IL106")
    diagnostic = only(diagnostics, "IL106")

    start = diagnostic.range.start
    inside = types.Position(line=start.line, character=start.character + 2)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=app.uri), position=inside)
    )
    assert hover is not None
    assert isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert "**IL106**" in hover.contents.value
    assert hover.range == diagnostic.range

    # Away from any finding: nothing.
    nothing = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=app.uri),
            position=types.Position(line=0, character=0),
        )
    )
    assert nothing is None


async def test_suppress_quick_fix_silences_the_finding(
    client: LanguageClient, workspace: pathlib.Path
):
    # Non-ASCII text on the line: the edit's position at the end of the line must be right
    # in UTF-16 too.
    path = workspace / "pkg" / "uni.py"
    path.write_text(UNICODE, encoding="utf-8")
    await initialize(client, workspace)
    buffer = Buffer(client, path)
    diagnostics = await wait_for_diagnostics(client, buffer.uri, has("IL101"), "IL101")
    diagnostic = only(diagnostics, "IL101")

    # The cursor at the start of the line, not on the finding: still offered.
    cursor = types.Position(line=diagnostic.range.start.line, character=0)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=buffer.uri),
            range=types.Range(start=cursor, end=cursor),
            context=types.CodeActionContext(diagnostics=list(diagnostics)),
        )
    )
    titles = [a.title for a in actions or []]
    matching = [
        a
        for a in actions or []
        if isinstance(a, types.CodeAction) and a.title == "Suppress IL101 on this line"
    ]
    assert len(matching) == 1, titles
    action = matching[0]
    assert action.kind == types.CodeActionKind.QuickFix
    assert action.edit is not None and action.edit.changes is not None
    assert list(action.edit.changes) == [buffer.uri]
    (edit,) = action.edit.changes[buffer.uri]

    # Apply it as an editor would: to the buffer, then tell the server.
    buffer.edit(edit.range, edit.new_text)
    assert buffer.text.splitlines()[UNICODE_LINE] == (
        '    s = "é𝄞"; time.sleep(1)  # interlock: ignore[IL101]'
    )
    await wait_for_diagnostics(client, buffer.uri, lacks("IL101"), "IL101 suppressed")
    assert len(client.diagnostics[buffer.uri]) == 0


async def test_a_syntax_error_is_an_error_diagnostic_until_fixed(
    client: LanguageClient, workspace: pathlib.Path
):
    path = workspace / "pkg" / "broken.py"
    path.write_text("def broken(:\n    pass\n")
    await initialize(client, workspace)
    buffer = Buffer(client, path)
    diagnostics = await wait_for_diagnostics(client, buffer.uri, has("IL001"), "IL001")
    diagnostic = only(diagnostics, "IL001")
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert diagnostic.range.start.line == 0
    assert "syntax" in diagnostic.message

    buffer.replace("(:", "():")
    await wait_for_diagnostics(client, buffer.uri, lambda d: len(d) == 0, "no diagnostics")


async def test_an_unknown_method_or_a_malformed_message_does_not_stop_the_server(
    client: LanguageClient, workspace: pathlib.Path
):
    await initialize(client, workspace)
    with pytest.raises(JsonRpcMethodNotFound) as error:
        await client.protocol.send_request_async("interlock/noSuchMethod", {})
    assert error.value.code == -32601

    # A message that is not JSON: skipped and logged.
    logged = client.wait_for_notification(types.WINDOW_LOG_MESSAGE)
    body = b"{not json"
    client.protocol.writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    message = await asyncio.wait_for(logged, TIMEOUT)
    assert "malformed" in message.message

    # Still serving: diagnostics, and answers to requests.
    app = Buffer(client, workspace / "pkg" / "app.py")
    await wait_for_diagnostics(client, app.uri, has("IL106"), "IL106")
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=app.uri),
            position=app.range_of("pause()").start,
        )
    )
    assert hover is not None and "IL106" in hover.contents.value


async def pull(client: LanguageClient, uri: str) -> Sequence[types.Diagnostic]:
    report = await client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport), report
    return report.items


async def test_a_pulling_client_gets_diagnostics_on_request(
    client: LanguageClient, workspace: pathlib.Path
):
    result = await initialize(client, workspace, pull=True)
    provider = result.capabilities.diagnostic_provider
    assert isinstance(provider, types.DiagnosticOptions)
    assert provider.inter_file_dependencies

    app = Buffer(client, workspace / "pkg" / "app.py")
    helpers = Buffer(client, workspace / "pkg" / "helpers.py")
    diagnostic = only(await pull(client, app.uri), "IL106")
    assert diagnostic.range == app.range_of("pause()")
    assert any(r.location.uri == helpers.uri for r in diagnostic.related_information or [])
    assert codes(await pull(client, helpers.uri)) == []

    # A pull after an edit in another file sees the edit.
    helpers.replace("time.sleep(1)", "pass")
    assert codes(await pull(client, app.uri)) == []

    # Nothing is pushed to a client that pulls.
    await asyncio.sleep(0.2)
    assert client.diagnostics == {}


async def test_a_pulling_client_is_asked_to_pull_again_after_a_cross_file_change(
    client: LanguageClient, workspace: pathlib.Path
):
    await initialize(client, workspace, pull=True)
    app = Buffer(client, workspace / "pkg" / "app.py")
    helpers = Buffer(client, workspace / "pkg" / "helpers.py")
    assert codes(await pull(client, app.uri)) == ["IL106"]

    before = client.diagnostic_refresh_count
    helpers.replace("time.sleep(1)", "pass")
    # The server analyses the change before it answers the next pull, and asks for the
    # refresh as it does; its messages arrive in order, so the request is in by the answer.
    assert codes(await pull(client, app.uri)) == []
    assert client.diagnostic_refresh_count > before, "no workspace/diagnostic/refresh"


async def test_a_client_that_pulls_but_cannot_be_asked_to_re_pull_gets_pushed_diagnostics(
    client: LanguageClient, workspace: pathlib.Path
):
    # It would keep stale findings in `app.py` after an edit of `helpers.py`.
    result = await initialize(client, workspace, pull=True, refresh=False)
    assert result.capabilities.diagnostic_provider is None
    app = Buffer(client, workspace / "pkg" / "app.py")
    await wait_for_diagnostics(client, app.uri, has("IL106"), "IL106")


async def test_shutdown_then_exit_ends_the_server_cleanly(
    client: LanguageClient, workspace: pathlib.Path
):
    await initialize(client, workspace)
    app = Buffer(client, workspace / "pkg" / "app.py")
    await wait_for_diagnostics(client, app.uri, has("IL106"), "IL106")

    await asyncio.wait_for(client.shutdown_session(), TIMEOUT)
    assert client._server is not None
    assert client._server.returncode == 0
