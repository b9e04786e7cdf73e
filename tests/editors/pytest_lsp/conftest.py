"""Fixtures for the end-to-end tests of `interlock server` with pytest-lsp.

The server binary comes from `INTERLOCK_BIN` (`cargo test` sets it: see `tests/lsp_pytest.rs`).
Each test gets its own server process (and its own temporary workspace), and initializes the
session itself, as the capabilities it offers (position encodings, pull diagnostics) differ
from test to test.
"""

from __future__ import annotations

import asyncio
import os

import pytest
import pytest_lsp
from pytest_lsp import ClientServerConfig, LanguageClient

INTERLOCK_BIN = os.environ.get("INTERLOCK_BIN", "")
SHUTDOWN_TIMEOUT = 15.0


def pytest_configure(config: pytest.Config) -> None:
    if not INTERLOCK_BIN or not os.access(INTERLOCK_BIN, os.X_OK):
        raise pytest.UsageError(
            "INTERLOCK_BIN must name the interlock binary "
            f"(got {INTERLOCK_BIN!r}); `cargo test --test lsp_pytest` sets it"
        )


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[INTERLOCK_BIN or "interlock", "server"]),
)
async def client(lsp_client: LanguageClient):
    yield
    # pytest-lsp then waits for the server to exit: shut it down if the test did not, and
    # never leave it running (a test that failed before `initialize`, a server that hangs).
    server = lsp_client._server
    if server is None or server.returncode is not None:
        return
    try:
        if lsp_client.capabilities is not None and lsp_client.error is None:
            await asyncio.wait_for(lsp_client.shutdown_session(), SHUTDOWN_TIMEOUT)
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
