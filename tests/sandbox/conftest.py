"""The sandbox for tests: one per test session, in daemon threads, on free ports.

Self-contained on purpose (no Django, no database) so it can move to tests/conftest.py as is.
Tests isolate themselves by using their own mailbox addresses, not by resetting the sandbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from sandbox.server import RunningSandbox, start_sandbox


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    running = start_sandbox(
        host="127.0.0.1",
        http_port=0,
        https_port=0,
        smtp_port=0,
        cert_dir=str(tmp_path_factory.mktemp("sandbox-tls")),
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def unique_email() -> str:
    """A fresh mailbox address per test."""
    return f"rep.{uuid.uuid4().hex[:10]}@acme.test"
