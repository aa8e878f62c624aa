"""Fixtures of the IMAP tests: an IMAP server holding mailboxes (`peer`: Dovecot, a real
server nobody here wrote, or the sandbox's), and a fresh mailbox on it."""

from __future__ import annotations

import uuid

import pytest

from tests.dovecot import PASSWORD, dovecot  # noqa: F401 - the fixture


class SandboxImap:
    """The sandbox's IMAP server, driven like the Dovecot fixture."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.host, self.port = sandbox.host, sandbox.imap_port

    def add_user(self, address: str, password: str) -> None:
        self.sandbox.client.imap_add_user(address, password)

    def deliver(self, address: str, raw: bytes) -> None:
        self.sandbox.client.imap_deliver(address, raw)

    def rebuild(self, address: str) -> None:
        self.sandbox.client.imap_rebuild(address)


@pytest.fixture
def sandbox_imap(sandbox):
    return SandboxImap(sandbox)


@pytest.fixture(params=["dovecot", "sandbox_imap"])
def peer(request):
    """An IMAP server holding mailboxes: Dovecot, or the sandbox's."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def mailbox(peer):
    address = f"bounces.{uuid.uuid4().hex[:8]}@acme.test"
    peer.add_user(address, PASSWORD)
    return address
