"""SMTP client, send verb, for custom / team SMTP, the legacy relay and Exchange submission.

Connections are kept open per worker thread and reused for the next message to the same
server with the same credentials (a login costs more than a message). Every SMTP failure is
translated into channels_app.exceptions; a 5xx to RCPT TO becomes RecipientsRejected, which
the pipeline records as a bounce of the email."""

from __future__ import annotations

import hashlib
import re
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from functools import cached_property

from channels_app.exceptions import (
    CredentialsRejected,
    PermanentProviderError,
    QuotaExhausted,
    RecipientsRejected,
    RejectedRecipient,
    TransientProviderError,
)

from .addresses import AddressRefused
from .smtp_auth import BASIC_AUTH_OFF_REASON, basic_auth_off, login, open_connection, reply_text

TIMEOUT_SECONDS = 30
# Servers drop idle clients (often after 60 s); past this, a kept connection is not trusted.
IDLE_REUSE_SECONDS = 20
AUTH_FAILED_REASON = "Authentication unsuccessful — update your SMTP credentials, then Retry send"
ENHANCED_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
QUOTA_WORDS = re.compile(
    r"quota|sending limit|daily user sending|sender exceeded|exceeded .*limit|"
    r"SubmissionQuotaExceeded|too many messages",
    re.I,
)
BAD_ADDRESS_WORDS = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient)|does not exist|"
    r"recipient (address )?rejected|mailbox unavailable|address rejected|not found|invalid",
    re.I,
)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str
    username: str
    password: str
    # A server a user typed in is checked against the address rule (providers/addresses.py)
    # at every connection; the operator's legacy relay from settings is not.
    checked: bool = True

    @cached_property
    def key(self) -> str:
        # The password is part of the key (hashed), so new credentials open a new connection.
        # Computed once per server object (a drain builds one and sends many messages).
        secret = hashlib.sha256(self.password.encode()).hexdigest()[:16]
        return f"{self.host}:{self.port}:{self.security}:{self.username}:{secret}"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


_local = threading.local()


def _pool() -> dict[str, tuple[smtplib.SMTP, float]]:
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    return pool


_reply = reply_text  # only an SMTP reply is ever quoted back


def enhanced_status(text: str) -> str | None:
    match = ENHANCED_STATUS.search(text)
    return match.group(1) if match else None


def is_hard_rejection(code: int, text: str) -> bool:
    """Whether a refused recipient means the address itself is bad (RFC 3463): 5.1.x
    (unknown user, bad domain), 5.2.1 (mailbox disabled), 5.4.4 (no route to the domain).
    Policy and spam blocks (5.7.x) or a full mailbox (5.2.2) say nothing about the address."""
    if code < 500:
        return False
    status = enhanced_status(text)
    if status:
        return status.startswith("5.1.") or status in ("5.2.1", "5.4.4")
    return code in (550, 551, 553) and bool(BAD_ADDRESS_WORDS.search(text))


def _close(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()


def close_connections() -> None:
    """Close this thread's kept connections (end of a drain run, tests)."""
    pool = _pool()
    for connection, _ in pool.values():
        _close(connection)
    pool.clear()


def _connect(server: SmtpServer) -> smtplib.SMTP:
    try:
        connection = open_connection(
            host=server.host,
            port=server.port,
            security=server.security,
            timeout=TIMEOUT_SECONDS,
            checked=server.checked,
        )
    except AddressRefused as exc:
        raise PermanentProviderError(
            f"{exc.message} — change the SMTP server in Email settings, then Retry send"
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentProviderError(
            f"{server.where} does not offer STARTTLS — change the SMTP security setting, "
            "then Retry send"
        ) from exc
    except (ssl.CertificateError, ssl.SSLError) as exc:
        raise PermanentProviderError(
            f"TLS with {server.where} failed ({exc}) — check the SMTP port and security "
            "setting, then Retry send"
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise _reply_error(exc.smtp_code, exc.smtp_error, server=server, stage="connect") from exc
    except socket.gaierror as exc:
        raise TransientProviderError(f"Could not resolve {server.host}: {exc}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientProviderError(f"Could not connect to {server.where}: {exc}") from exc
    if server.username:
        try:
            login(connection, server.username, server.password)
        except smtplib.SMTPAuthenticationError as exc:
            _close(connection)
            if basic_auth_off(_reply(exc.smtp_code, exc.smtp_error)):
                raise CredentialsRejected(BASIC_AUTH_OFF_REASON) from exc
            if 400 <= exc.smtp_code < 500:
                raise TransientProviderError(
                    f"{server.where} could not check the login now: "
                    f"{_reply(exc.smtp_code, exc.smtp_error)}"
                ) from exc
            raise CredentialsRejected(AUTH_FAILED_REASON) from exc
        except smtplib.SMTPNotSupportedError as exc:
            _close(connection)
            raise PermanentProviderError(
                f"{server.where} does not accept a login on this connection — check the SMTP "
                "security setting, then Retry send"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            _close(connection)
            raise _reply_error(exc.smtp_code, exc.smtp_error, server=server, stage="login") from exc
        except (smtplib.SMTPException, OSError) as exc:
            _close(connection)
            raise TransientProviderError(f"{server.where} dropped the login: {exc}") from exc
    return connection


def _reply_error(code: int, message: bytes | str, *, server: SmtpServer, stage: str) -> Exception:
    text = _reply(code, message)
    if code >= 500 and basic_auth_off(text):
        return CredentialsRejected(BASIC_AUTH_OFF_REASON)
    if QUOTA_WORDS.search(text) and code not in (421,):
        return QuotaExhausted(f"{server.where} says the sending quota is used up: {text}")
    if code == 530 or (code == 535 and stage != "data"):
        return CredentialsRejected(AUTH_FAILED_REASON)
    if code < 500:
        return TransientProviderError(f"{server.where} asked us to try later: {text}")
    if stage == "mail":
        return PermanentProviderError(
            f"The SMTP server refused the sender address: {text} — check the From address "
            "the server allows, then Retry send"
        )
    if stage == "data":
        return PermanentProviderError(f"The SMTP server rejected the message: {text}")
    return PermanentProviderError(f"The SMTP server refused the email ({stage}): {text}")


def _checkout(server: SmtpServer) -> tuple[smtplib.SMTP, bool]:
    """A connection to `server` and whether it was reused."""
    pool = _pool()
    kept = pool.pop(server.key, None)
    if kept is not None:
        connection, last_used = kept
        if time.monotonic() - last_used < IDLE_REUSE_SECONDS:
            return connection, True
        _close(connection)
    return _connect(server), False


def send(
    *, server: SmtpServer, raw_message: bytes, envelope_from: str, recipients: list[str]
) -> None:
    """Submit `raw_message` (RFC 5322 bytes, CRLF line ends). Returns when the server accepted
    it for at least one recipient; raises RecipientsRejected when it refused them all."""
    connection, reused = _checkout(server)
    utf8 = not all(address.isascii() for address in (envelope_from, *recipients))
    options = ["SMTPUTF8"] if utf8 else []
    if utf8 and not connection.has_extn("smtputf8"):
        _pool()[server.key] = (connection, time.monotonic())
        raise PermanentProviderError(
            f"{server.where} does not offer SMTPUTF8, which an address with non-ASCII "
            f"characters before the @ needs ({recipients[0]}) — check the address with the "
            "recipient, or send through a server that offers SMTPUTF8"
        )
    try:
        try:
            code, reply = connection.mail(envelope_from, options)
        except smtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # A kept connection the server had already closed: nothing was sent yet.
            connection.close()
            connection, reused = _connect(server), False
            code, reply = connection.mail(envelope_from, options)
        if code != 250:
            connection.rset()
            raise _reply_error(code, reply, server=server, stage="mail")
        rejected: list[RejectedRecipient] = []
        temporary: list[str] = []
        for address in recipients:
            code, reply = connection.rcpt(address)
            if code in (250, 251):
                continue
            text = _reply(code, reply)
            if code >= 500:
                rejected.append(
                    RejectedRecipient(
                        address=address,
                        status=enhanced_status(text),
                        diagnostic=text,
                        hard=is_hard_rejection(code, text),
                    )
                )
            else:
                temporary.append(text)
        if len(rejected) + len(temporary) == len(recipients):
            connection.rset()
            if rejected:
                raise RecipientsRejected(
                    f"The server refused {rejected[0].address}: {rejected[0].diagnostic}",
                    recipients=rejected,
                )
            raise TransientProviderError(f"{server.where} deferred the recipient: {temporary[0]}")
        code, reply = connection.data(raw_message)
        if code != 250:
            raise _reply_error(code, reply, server=server, stage="data")
    except (RecipientsRejected, PermanentProviderError, TransientProviderError, QuotaExhausted):
        _pool()[server.key] = (connection, time.monotonic())
        raise
    except smtplib.SMTPServerDisconnected as exc:
        connection.close()
        raise TransientProviderError(f"{server.where} closed the connection: {exc}") from exc
    except smtplib.SMTPResponseException as exc:
        _close(connection)
        raise _reply_error(exc.smtp_code, exc.smtp_error, server=server, stage="data") from exc
    except (smtplib.SMTPException, OSError) as exc:
        connection.close()
        raise TransientProviderError(f"Sending through {server.where} failed: {exc}") from exc
    _pool()[server.key] = (connection, time.monotonic())
