"""Start the whole sandbox (HTTP, HTTPS, SMTP) in daemon threads: ``start_sandbox()``."""

from __future__ import annotations

import logging
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import ews_streaming, graph_notifications, pubsub
from .client import SandboxClient
from .dns import DnsService, stand_in_hosts
from .httpcore import Context
from .imap import ImapService
from .smtp import SmtpService
from .state import DEFAULT_ROTATION_GRACE_SECONDS, Store
from .tls import IdTokenSigner, TlsMaterial, generate_self_signed
from .web import SandboxHTTPServer

log = logging.getLogger("sandbox")


@dataclass
class RunningSandbox:
    host: str
    http_port: int
    https_port: int | None
    smtp_host: str
    smtp_port: int | None
    smtp_ssl_port: int | None
    ca_file: str
    store: Store
    context: Context
    _http: SandboxHTTPServer
    _https: SandboxHTTPServer | None
    _smtp: SmtpService | None
    _threads: list[threading.Thread] = field(default_factory=list)
    _dns: DnsService | None = None
    _imap: ImapService | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def imap_port(self) -> int | None:
        """The IMAP server's port (STARTTLS offered), for SMTP logins with a mailbox."""
        return self._imap.port if self._imap else None

    @property
    def imap_ssl_port(self) -> int | None:
        """The implicit-TLS IMAP port, when one was asked for."""
        return self._imap.ssl_port if self._imap else None

    @property
    def dns_port(self) -> int | None:
        """The DNS server's port (UDP and TCP) for the sending-domain check."""
        return self._dns.port if self._dns else None

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://{self.host}:{self.https_port}" if self.https_port else ""

    @property
    def ews_url(self) -> str:
        """The Exchange on-prem EWS endpoint (what IT gives as the EWS URL)."""
        return f"{self.http_url}/exchange/EWS/Exchange.asmx"

    @property
    def client(self) -> SandboxClient:
        return SandboxClient(self.http_url)

    def settings(self) -> dict[str, str]:
        """The Mailroom settings values (config/settings/base.py names) for this sandbox."""
        base, secure = self.http_url, self.https_url or self.http_url
        return {
            "MAILROOM_GOOGLE_ACCOUNTS_URL": f"{base}/google/accounts",
            "MAILROOM_GOOGLE_OAUTH2_URL": f"{base}/google/oauth2",
            "MAILROOM_GOOGLE_REVOKE_URL": f"{base}/google/oauth2/revoke",
            "MAILROOM_GOOGLE_USERINFO_URL": f"{base}/google/oauth2/v1/userinfo",
            "MAILROOM_GOOGLE_CERTS_URL": f"{base}/google/oauth2/v1/certs",
            "MAILROOM_GMAIL_API_URL": f"{base}/google",
            "MAILROOM_MICROSOFT_LOGIN_URL": f"{base}/microsoft/login",
            "MAILROOM_MICROSOFT_AUTHORITY_URL": f"{secure}/microsoft/login",
            "MAILROOM_GRAPH_URL": f"{base}/microsoft/graph",
            "MAILROOM_PROVIDER_CA_BUNDLE": self.ca_file,
            # The hosts the sandbox plays (Exchange's, found by Autodiscover) on the port
            # clients use for them, 443, reach its HTTPS server instead.
            **(
                {
                    "MAILROOM_CONNECT_TO": {
                        f"{name}:443": f"{self.host}:{self.https_port}" for name in stand_in_hosts()
                    }
                }
                if self.https_port
                else {}
            ),
            **(
                {"MAILROOM_DNS_NAMESERVER": self.host, "MAILROOM_DNS_PORT": self.dns_port}
                if self.dns_port
                else {}
            ),
        }

    def stop(self) -> None:
        for server in (self._http, self._https):
            if server is not None:
                server.shutdown()
                server.server_close()
        if self._smtp is not None:
            self._smtp.stop()
        if self._dns is not None:
            self._dns.stop()
        if self._imap is not None:
            self._imap.stop()
        self.store.stop_autosave()
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)


def _serve(server: SandboxHTTPServer, name: str) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name=name, daemon=True
    )
    thread.start()
    return thread


def start_sandbox(
    host: str = "127.0.0.1",
    http_port: int = 0,
    https_port: int | None = 0,
    smtp_port: int | None = 0,
    *,
    smtp_ssl_port: int | None = None,
    dns_port: int | None = 0,
    imap_port: int | None = 0,
    imap_ssl_port: int | None = 0,
    imap_users: dict[str, str] | None = None,
    state_file: str | None = None,
    cert_dir: str | None = None,
    smtp_auth_required: bool = True,
    smtp_users: dict[str, str] | None = None,
    ews_users: dict[str, str] | None = None,
    auto_consent: bool = False,
    rotation_grace_seconds: float = DEFAULT_ROTATION_GRACE_SECONDS,
    verbose: bool = False,
) -> RunningSandbox:
    """Start everything in daemon threads; port 0 picks a free port; None disables that server.
    ``cert_dir`` receives ca.pem / key.pem (a temporary directory when not given).
    ``ews_users`` maps Exchange on-prem mailbox addresses to their passwords; ``imap_users``
    SMTP logins that have an IMAP mailbox (sandbox/imap.py) to their password."""
    tls: TlsMaterial = generate_self_signed(cert_dir, host_names=tuple(stand_in_hosts()))
    ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ssl_context.load_cert_chain(tls.cert_file, tls.key_file)
    store = Store(state_file=state_file, rotation_grace_seconds=rotation_grace_seconds)
    if smtp_users:
        store.smtp_users.update(smtp_users)
    for address, password in (ews_users or {}).items():
        store.add_ews_user(address, password)
    for login, password in (imap_users or {}).items():
        store.smtp_users[login] = password
        store.imap.ensure(login, password)
    ctx = Context(store=store, signer=IdTokenSigner(), auto_consent=auto_consent)
    store.inbox_listeners.append(
        lambda mb, message: (
            graph_notifications.notify(ctx, mb, message) if mb.provider == "microsoft" else None
        )
    )
    store.inbox_listeners.append(
        lambda mb, message: ews_streaming.notify(mb, message) if mb.provider == "exchange" else None
    )
    store.inbox_listeners.append(
        lambda mb, message: (
            pubsub.publish(ctx, mb)
            if mb.provider == "google" and "INBOX" in message.labels
            else None
        )
    )
    http = SandboxHTTPServer((host, http_port), ctx, verbose=verbose)
    https = (
        SandboxHTTPServer((host, https_port), ctx, ssl_context=ssl_context, verbose=verbose)
        if https_port is not None
        else None
    )
    smtp = None
    if smtp_port is not None:
        smtp = SmtpService(
            store,
            host=host,
            port=smtp_port,
            ssl_port=smtp_ssl_port,
            tls_context=ssl_context,
            auth_required=smtp_auth_required,
        )
        smtp.start()
    imap_service = None
    if imap_port is not None:
        imap_service = ImapService(
            store.imap, host=host, port=imap_port, ssl_port=imap_ssl_port, tls_context=ssl_context
        )
        imap_service.start()
    dns_service = None
    if dns_port is not None:
        dns_service = DnsService(host, dns_port)
        dns_service.start()
    threads = [_serve(http, "sandbox-http")]
    if https is not None:
        threads.append(_serve(https, "sandbox-https"))
    stopping = threading.Event()
    # Exchange's StatusEvents to push subscriptions, every StatusFrequency minutes.
    pinger = threading.Thread(
        target=ews_streaming.status_pinger, args=(stopping,), name="sandbox-ews-status", daemon=True
    )
    pinger.start()
    threads.append(pinger)
    store.start_autosave()
    running = RunningSandbox(
        host=host,
        http_port=http.server_address[1],
        https_port=https.server_address[1] if https else None,
        smtp_host=host,
        smtp_port=smtp.port if smtp else None,
        smtp_ssl_port=smtp.ssl_port if smtp else None,
        ca_file=str(Path(tls.cert_file).resolve()),
        store=store,
        context=ctx,
        _http=http,
        _https=https,
        _smtp=smtp,
        _threads=threads,
        _dns=dns_service,
        _imap=imap_service,
        _stopping=stopping,
    )
    log.info(
        "sandbox started: %s %s smtp %s", running.http_url, running.https_url, running.smtp_port
    )
    return running
