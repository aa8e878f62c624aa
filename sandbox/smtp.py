"""The SMTP look-alike (aiosmtpd): AUTH PLAIN / LOGIN, optional STARTTLS and implicit TLS,
recipient rejection for the magic bounce addresses, every accepted message recorded in memory.

Speed matters (benchmarks push thousands of messages): no disk I/O, no parsing on the hot path
beyond what aiosmtpd does, O(1) append to a bounded deque.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import warnings
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from . import esp, imap
from .rules import rule_for
from .state import Store

HOSTNAME = "smtp.sandbox.mailroom.test"


def _login(session: Session) -> str:
    if isinstance(session.auth_data, LoginPassword):
        return session.auth_data.login.decode("utf-8", "replace")
    return ""


class RecordingHandler:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        login = _login(session)
        if esp.webhook_for(self.store, login) is not None or self.store.imap.get(login):
            # An ESP's relay takes every recipient and reports what happened by webhook; an
            # account with a mailbox gets the remote servers' bounces in its IMAP INBOX.
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 Ok"
        rule = rule_for(address)
        if rule is not None and rule.behaviour == "bounce":
            with self.store.lock:
                self.store.smtp_rejected += 1
            return rule.smtp_reply.format(addr=address)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or (
            envelope.content if isinstance(envelope.content, bytes) else b""
        )
        login = _login(session)
        record_id = self.store.record_smtp(
            envelope.mail_from or "",
            list(envelope.rcpt_tos),
            raw,
            login,
            str(session.peer[0]) if session.peer else "",
        )
        esp.report(self.store, username=login, raw=raw, recipients=list(envelope.rcpt_tos))
        imap.relay_outcomes(self.store, login=login, raw=raw, recipients=list(envelope.rcpt_tos))
        return f"250 2.0.0 Ok: queued as {record_id:08X}"


class PasswordAuthenticator:
    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not self.store.smtp_basic_auth:
            return AuthResult(
                success=False,
                handled=False,
                message=(
                    "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."
                ),
            )
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            with self.store.lock:
                expected = self.store.smtp_users.get(user)
                if expected is not None and expected == password:
                    return AuthResult(success=True, auth_data=auth_data)
                self.store.smtp_auth_failures += 1
        # aiosmtpd answers a failure with "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=False, handled=False)


class SmtpService:
    """aiosmtpd servers on one private event loop in a daemon thread."""

    def __init__(
        self,
        store: Store,
        *,
        host: str = "127.0.0.1",
        port: int = 2525,
        ssl_port: int | None = None,
        tls_context: ssl.SSLContext | None = None,
        auth_required: bool = True,
    ) -> None:
        self.store = store
        self.host = host
        self.requested_port = port
        self.requested_ssl_port = ssl_port
        self.tls_context = tls_context
        self.auth_required = auth_required
        self.port = 0
        self.ssl_port: int | None = None
        self.loop = asyncio.new_event_loop()
        # aiosmtpd logs a deprecation warning on every successful AUTH: noise at benchmark rates.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="sandbox-smtp", daemon=True
        )
        self._servers: list[asyncio.base_events.Server] = []

    def _factory(self, *, implicit_tls: bool) -> Any:
        handler = RecordingHandler(self.store)
        authenticator = PasswordAuthenticator(self.store)

        def build() -> SMTP:
            with warnings.catch_warnings():
                # "Requiring AUTH while not requiring TLS": intended, the sandbox is local.
                warnings.simplefilter("ignore", UserWarning)
                return self._smtp(handler, authenticator, implicit_tls)

        return build

    def _smtp(
        self, handler: RecordingHandler, authenticator: PasswordAuthenticator, implicit_tls: bool
    ) -> SMTP:
        return SMTP(
            handler,
            hostname=HOSTNAME,
            ident="Mailroom sandbox ESMTP",
            # STARTTLS is offered on the plain port when a certificate is available.
            tls_context=None if implicit_tls else self.tls_context,
            require_starttls=False,
            authenticator=authenticator,
            auth_required=self.auth_required,
            # localhost: AUTH without TLS is fine, unless set up like a real submission server
            # (checked per connection: each connection builds its SMTP instance).
            auth_require_tls=self.store.smtp_submission,
            enable_SMTPUTF8=self.store.smtp_smtputf8,
            data_size_limit=50 * 1024 * 1024,
            loop=self.loop,
        )

    def start(self) -> None:
        self._thread.start()
        sock = socket.create_server((self.host, self.requested_port), backlog=512)
        self.port = sock.getsockname()[1]
        self._servers.append(
            self._run(self.loop.create_server(self._factory(implicit_tls=False), sock=sock))
        )
        if self.requested_ssl_port is not None and self.tls_context is not None:
            ssl_sock = socket.create_server((self.host, self.requested_ssl_port), backlog=512)
            self.ssl_port = ssl_sock.getsockname()[1]
            self._servers.append(
                self._run(
                    self.loop.create_server(
                        self._factory(implicit_tls=True), sock=ssl_sock, ssl=self.tls_context
                    )
                )
            )

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def stop(self) -> None:
        async def close_all() -> None:
            for server in self._servers:
                server.close()  # not wait_closed(): 3.12+ would wait for idle clients too
            # Sessions of clients that are still connected (kept-alive connections) end here
            # rather than being destroyed pending with the loop.
            sessions = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in sessions:
                task.cancel()
            await asyncio.gather(*sessions, return_exceptions=True)

        if self._thread.is_alive():
            with contextlib.suppress(Exception):  # best effort at shutdown
                asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(timeout=5)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
