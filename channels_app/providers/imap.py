"""IMAP connections for SMTP channels with a mailbox: open one (TLS as configured, to the
checked address), log in, EXAMINE the folder; and the "Sign in and save" check, which does
exactly that and says in words what went wrong.

The host is a server a user typed in, so it obeys the same rule as SMTP and Exchange On-Prem
(addresses.resolve_checked): resolved once, every address public unless the operator allows
it, the connection pinned to the checked address while TLS still verifies the host name. A
server's words are quoted back only when they are an IMAP response; whatever else a port
answers (an SSH or SMTP banner) is not shown.

Read-only by construction: the folder is only ever opened with EXAMINE (RFC 3501 6.3.2), so
the server itself refuses any change and FETCH BODY[] cannot set \\Seen."""

from __future__ import annotations

import contextlib
import imaplib
import re
import select
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from .addresses import AddressRefused, resolve_checked
from .smtp_auth import _tls_context

TIMEOUT_SECONDS = 15
NOT_IMAP = "an answer that is not IMAP (is this the IMAP port?)"
DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int
    security: str  # "ssl", "starttls" or "none"
    username: str
    password: str
    folder: str = "INBOX"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Examined:
    """What EXAMINE said about the folder."""

    uidvalidity: int
    uidnext: int | None
    exists: int


class ImapFailed(Exception):
    """Connecting, logging in or opening the folder failed; `message` says why in words.
    `transient`: trying again later may work (the network, a timeout, the server busy)."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.message = message
        self.transient = transient


class _PinnedIMAP4(imaplib.IMAP4):
    """Connect to the checked address; the host name stays `host`, which imaplib uses as the
    TLS server name (SNI and the certificate check) for IMAP4_SSL and STARTTLS."""

    def __init__(self, address: str, host: str, port: int, timeout: float):
        self._address = address
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self._address, self.port), timeout)


class _PinnedIMAP4_SSL(imaplib.IMAP4_SSL, _PinnedIMAP4):  # noqa: N801 — imaplib's name
    def __init__(self, address: str, host: str, port: int, timeout: float):
        self._address = address
        imaplib.IMAP4_SSL.__init__(self, host, port, ssl_context=_tls_context(), timeout=timeout)


def quoted(text: str) -> str:
    """An IMAP quoted string (RFC 3501 4.3): imaplib sends command arguments as they are."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def server_words(error: BaseException) -> str:
    """The text of a server's NO / BAD answer as imaplib raised it."""
    text = error.args[0] if error.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split())


def _login(connection: imaplib.IMAP4, username: str, password: str) -> None:
    """LOGIN for ASCII credentials; AUTHENTICATE PLAIN (UTF-8, RFC 4616) otherwise, which
    imaplib's LOGIN cannot carry."""
    if username.isascii() and password.isascii():
        connection.login(username, password)
        return
    secret = b"\0" + username.encode("utf-8") + b"\0" + password.encode("utf-8")
    connection.authenticate("PLAIN", lambda _challenge: secret)


def examine(connection: imaplib.IMAP4, folder: str) -> Examined:
    """Open `folder` read-only (EXAMINE) and read its UIDVALIDITY, UIDNEXT and size."""
    status, data = connection.select(quoted(folder), readonly=True)
    if status != "OK":
        raise imaplib.IMAP4.error(data[-1] if data else b"")
    uidvalidity = _number(connection.untagged_responses.get("UIDVALIDITY"))
    if uidvalidity is None:
        raise ImapFailed(
            f"The folder {folder!r} has no UIDVALIDITY: the server cannot be read incrementally."
        )
    return Examined(
        uidvalidity=uidvalidity,
        uidnext=_number(connection.untagged_responses.get("UIDNEXT")),
        exists=_number(data) or 0,
    )


def _number(values: list | None) -> int | None:
    """The last value of an untagged response (`* OK [UIDNEXT 12]`, `* 3 EXISTS`) as a number."""
    value = values[-1] if values else None
    if isinstance(value, bytes | str) and value.strip().isdigit():
        return int(value)
    return None


def open_folder(
    server: ImapServer, *, timeout: float = TIMEOUT_SECONDS
) -> tuple[imaplib.IMAP4, Examined]:
    """Connected, logged in and the folder EXAMINEd; raises ImapFailed saying why."""
    where = server.where
    connection: imaplib.IMAP4 | None = None
    stage = "connect"
    try:
        address = resolve_checked(server.host, server.port)
        if server.security == "ssl":
            connection = _PinnedIMAP4_SSL(address, server.host, server.port, timeout)
        else:
            connection = _PinnedIMAP4(address, server.host, server.port, timeout)
        if server.security == "starttls":
            stage = "starttls"
            connection.starttls(ssl_context=_tls_context())
        stage = "login"
        if server.username or server.password:
            _login(connection, server.username, server.password)
        stage = "examine"
        return connection, examine(connection, server.folder)
    except BaseException as error:
        if connection is not None:
            close(connection)
        if isinstance(error, ImapFailed):
            raise
        if isinstance(error, Exception):
            raise _failure(error, server=server, where=where, stage=stage) from error
        raise


def _failure(error: Exception, *, server: ImapServer, where: str, stage: str) -> ImapFailed:
    if isinstance(error, AddressRefused):
        return ImapFailed(error.message)
    if isinstance(error, imaplib.IMAP4.abort):
        if stage == "connect" and "unexpected response" in str(error):
            return ImapFailed(f"{where} gave {NOT_IMAP}")
        return ImapFailed(f"{where} closed the IMAP connection ({stage})", transient=True)
    if isinstance(error, imaplib.IMAP4.error):
        words = server_words(error)
        if stage == "connect":
            return ImapFailed(f"{where} gave {NOT_IMAP}")
        if stage == "starttls":
            return ImapFailed(
                f"{where} does not offer STARTTLS for IMAP: {words}. Choose another security "
                "setting (SSL/TLS is usually port 993)."
            )
        if stage == "login":
            return ImapFailed(f"{where} refused the IMAP login: {words}")
        return ImapFailed(f"{where} could not open the folder {server.folder!r}: {words}")
    if isinstance(error, ssl.CertificateError):
        return ImapFailed(f"{where}'s certificate is not valid: {error}")
    if isinstance(error, ssl.SSLError):
        return ImapFailed(
            f"TLS with {where} failed: {error.reason or error}. Check the port and the security "
            "setting (SSL/TLS is usually port 993, STARTTLS port 143)."
        )
    if isinstance(error, TimeoutError):
        return ImapFailed(
            f"{where} did not answer within {TIMEOUT_SECONDS} seconds. Check the host, the port "
            "and any firewall in between.",
            transient=True,
        )
    if isinstance(error, socket.gaierror):
        return ImapFailed(f"Unknown host {server.host!r}: {error.strerror or error}")
    if isinstance(error, ConnectionRefusedError):
        return ImapFailed(f"{where} refused the connection: is the port right?", transient=True)
    if isinstance(error, OSError):
        return ImapFailed(
            f"Could not connect to {where}: {error.strerror or error}", transient=True
        )
    return ImapFailed(f"{where}: {error}")


def close(connection: imaplib.IMAP4) -> None:
    """LOGOUT, or just drop the line when the server is gone."""
    try:
        connection.logout()
    except (imaplib.IMAP4.error, OSError):
        with contextlib.suppress(OSError):
            connection.shutdown()


def authenticate(server: ImapServer) -> Examined:
    """ "Sign in and save": log in and EXAMINE the folder, or raise ImapFailed saying why."""
    connection, examined = open_folder(server)
    close(connection)
    return examined


def offers_idle(connection: imaplib.IMAP4) -> bool:
    return "IDLE" in connection.capabilities


_EXISTS = re.compile(rb"^\* \d+ EXISTS\b", re.I)
_IDLE_TAG = b"MRIDLE"


class IdleLine:
    """IDLE (RFC 2177) on a connection imaplib opened: imaplib (before 3.14) has no IDLE, and
    its buffered reader cannot wait with a timeout and go on, so the session reads the socket
    itself. Use it only after the last imaplib command has completed."""

    def __init__(self, connection: imaplib.IMAP4):
        self.connection = connection
        self.sock = connection.sock
        self.buffer = b""

    def _line(self, *, until: float, stop: Callable[[], bool]) -> bytes | None:
        """The next line from the server, or None at `until` (a monotonic time) or `stop()`."""
        while b"\r\n" not in self.buffer:
            pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
            if not pending:
                wait = min(1.0, until - time.monotonic())
                if wait <= 0 or stop():
                    return None
                readable, _, _ = select.select([self.sock], [], [], wait)
                if not readable:
                    continue
            try:
                data = self.sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            if not data:
                raise ImapFailed("The IMAP server closed the connection", transient=True)
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def wait(self, *, seconds: float, stop: Callable[[], bool]) -> bool:
        """IDLE until the server says a message arrived (`* N EXISTS`, True), `seconds` pass
        or `stop()` says so (False); the IDLE is ended with DONE either way."""
        self.sock.sendall(_IDLE_TAG + b" IDLE\r\n")
        answer_by = time.monotonic() + TIMEOUT_SECONDS
        line = self._line(until=answer_by, stop=lambda: False)
        while line is not None and line.startswith(b"* ") and not line.startswith(b"* BYE"):
            line = self._line(until=answer_by, stop=lambda: False)  # untagged news first
        if line is None or not line.startswith(b"+"):
            raise ImapFailed(
                "The IMAP server refused IDLE"
                + (f": {line.decode('utf-8', 'replace')}" if line else ""),
                transient=True,
            )
        until = time.monotonic() + seconds
        arrived = False
        while not arrived:
            line = self._line(until=until, stop=stop)
            if line is None:
                break
            if line.startswith(b"* BYE"):
                raise ImapFailed("The IMAP server ended the session", transient=True)
            arrived = bool(_EXISTS.match(line))
        self.sock.sendall(b"DONE\r\n")
        answer_by = time.monotonic() + TIMEOUT_SECONDS
        while True:
            line = self._line(until=answer_by, stop=lambda: False)
            if line is None:
                raise ImapFailed("The IMAP server did not end IDLE", transient=True)
            if _EXISTS.match(line):
                arrived = True
            if line.startswith(_IDLE_TAG + b" "):
                return arrived
