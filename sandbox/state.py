"""In-memory, thread-safe state of every sandbox mailbox, grant, token and SMTP message, with
optional persistence to a JSON file so a restart keeps the connected demo mailboxes.

One lock guards everything: each operation under it is O(1) or O(log n) (bisect), and the
expensive work (MIME parsing, bounce building) happens before the lock is taken.
"""

from __future__ import annotations

import base64
import bisect
import collections
import hashlib
import json
import logging
import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import mime
from .imap import ImapMailboxes

Provider = Literal["google", "microsoft", "exchange"]
# "exchange" is an Exchange 2016 on-premises server reached through EWS (sandbox/ews.py).
PROVIDERS: tuple[str, ...] = ("google", "microsoft", "exchange")
OAUTH_PROVIDERS: tuple[str, ...] = ("google", "microsoft")
DEFAULT_SEND_LIMITS = {"google": 2000, "microsoft": 10000, "exchange": 10000}
ACCESS_TOKEN_LIFETIME = 3599
AUTH_CODE_LIFETIME = 600
SEND_WINDOW_SECONDS = 86400
# Microsoft rotates refresh tokens; the one just replaced stays valid this long (two workers may
# race a refresh), then answers invalid_grant. Real Entra ID keeps old ones valid longer: the
# sandbox is stricter on purpose, so code that forgets to save the rotated token shows up.
DEFAULT_ROTATION_GRACE_SECONDS = 300
GOOGLE_SCOPE_PREFIX = "https://www.googleapis.com/auth/"
GRAPH_SCOPE_PREFIX = "https://graph.microsoft.com/"


def normalize_scopes(provider: str, scopes: list[str] | str) -> list[str]:
    items = scopes.split() if isinstance(scopes, str) else list(scopes)
    seen: dict[str, None] = {}
    for item in items:
        if provider == "microsoft" and item.lower().startswith(GRAPH_SCOPE_PREFIX):
            item = item[len(GRAPH_SCOPE_PREFIX) :]
        seen.setdefault(item, None)
    return list(seen)


def _now() -> float:
    return time.time()


log = logging.getLogger("sandbox.state")


@dataclass
class StoredMessage:
    id: str
    thread_id: str
    raw: bytes
    labels: list[str]
    folder: str  # "inbox" or "sent"
    internal_date: float  # epoch seconds
    seq: int  # Gmail historyId / Graph change sequence when it arrived
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def message_id(self) -> str:
        return mime.header(self.headers, "Message-ID")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "thread_id": self.thread_id,
            "raw": base64.b64encode(self.raw).decode(),
            "labels": self.labels,
            "folder": self.folder,
            "internal_date": self.internal_date,
            "seq": self.seq,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredMessage:
        raw = base64.b64decode(data["raw"])
        return cls(
            id=data["id"],
            thread_id=data["thread_id"],
            raw=raw,
            labels=list(data["labels"]),
            folder=data["folder"],
            internal_date=float(data["internal_date"]),
            seq=int(data["seq"]),
            headers=mime.parse_headers(raw),
        )


@dataclass
class Fault:
    status: int
    remaining: int
    retry_after: int | None = None
    target: str = "api"  # "api" (Gmail/Graph calls), "token" (token endpoint) or "any"
    endpoint: str = ""  # only calls whose endpoint name starts with this
    code: str = ""  # EWS: answer this ResponseCode (e.g. ErrorServerBusy) instead of bare HTTP

    def applies(self, kind: str, endpoint: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.target not in ("any", kind):
            return False
        return endpoint.startswith(self.endpoint)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Mailbox:
    provider: str
    email: str
    display_name: str
    user_id: str
    tenant_id: str
    send_limit: int
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    inbox_ids: list[str] = field(default_factory=list)
    sent_ids: list[str] = field(default_factory=list)
    seq: int = 1000  # Gmail historyId counter (Graph: change sequence); only ever increases
    history_seqs: list[int] = field(default_factory=list)  # parallel to history_ids, sorted
    history_ids: list[str] = field(default_factory=list)
    history_floor: int = 0  # a startHistoryId below this answers 404
    delta_epoch: int = 1  # delta tokens from an older epoch answer 410 / syncStateNotFound
    delta_expired_status: int = 410
    send_times: collections.deque[float] = field(default_factory=collections.deque)
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    faults: list[Fault] = field(default_factory=list)
    mutation_attempts: list[dict[str, Any]] = field(default_factory=list)
    by_message_id: dict[str, str] = field(default_factory=dict)
    # Gmail users.watch: {"topic", "expiration" (ms), "label_ids"}; empty when not watched.
    watch: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.provider, self.email)

    def next_message_id(self) -> str:
        if self.provider == "google":
            # Gmail ids are 16 hex digits that grow with time; keep them increasing too.
            return format(int(_now() * 1000) << 20 | (self.seq & 0xFFFFF), "016x")
        return "AAMkAGI2" + base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).decode().rstrip("=")

    def summary(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "email": self.email,
            "display_name": self.display_name,
            "user_id": self.user_id,
            "tenant_id": self.tenant_id,
            "send_limit": self.send_limit,
            "history_id": str(self.seq),
            "history_floor": str(self.history_floor),
            "delta_epoch": self.delta_epoch,
            "inbox_count": len(self.inbox_ids),
            "sent_count": len(self.sent_ids),
            "sent_last_24h": len(self.send_times),
            "calls": dict(self.calls),
            "faults": [f.to_json() for f in self.faults if f.remaining > 0],
            "mutation_attempts": list(self.mutation_attempts),
        }


@dataclass
class Grant:
    id: str
    provider: str
    email: str
    client_id: str
    scopes: list[str]
    refresh_token: str
    previous_refresh_token: str = ""
    previous_valid_until: float = 0.0
    revoked: bool = False
    revoked_reason: str = ""  # "revoked" (AADSTS50173) or "expired" (AADSTS700082)
    created: float = field(default_factory=_now)


@dataclass
class AccessToken:
    token: str
    grant_id: str
    provider: str
    email: str
    scopes: list[str]
    expires_at: float


@dataclass
class AuthCode:
    code: str
    provider: str
    email: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    offline: bool
    code_challenge: str
    code_challenge_method: str
    nonce: str
    expires_at: float
    grant_id: str = ""  # reuse of a consent: Google keeps one grant per client + mailbox


@dataclass
class EwsUser:
    """An Exchange on-premises login: the mailbox (primary SMTP address, also its UPN) and its
    password; `username` is an extra DOMAIN\\user login name for the same account."""

    email: str
    password: str
    username: str = ""

    def logins(self) -> list[str]:
        return [name.lower() for name in (self.email, self.username) if name]


@dataclass
class SmtpRecord:
    id: int
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    received_at: float
    username: str
    peer: str

    def to_json(self, with_raw: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "mail_from": self.mail_from,
            "rcpt_tos": self.rcpt_tos,
            "received_at": self.received_at,
            "username": self.username,
            "peer": self.peer,
            "message_id": mime.header(mime.parse_headers(self.raw), "Message-ID"),
            "size": len(self.raw),
        }
        if with_raw:
            data["raw"] = base64.b64encode(self.raw).decode()
        return data


class SandboxError(Exception):
    """A control-API misuse (unknown mailbox, bad argument): answered as 400/404 JSON."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Store:
    def __init__(
        self,
        *,
        state_file: str | None = None,
        rotation_grace_seconds: float = DEFAULT_ROTATION_GRACE_SECONDS,
        smtp_keep: int = 100_000,
        enforce_scopes: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.state_file = state_file
        self.rotation_grace_seconds = rotation_grace_seconds
        self.enforce_scopes = enforce_scopes
        self.mailboxes: dict[tuple[str, str], Mailbox] = {}
        self.grants: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> grant id (current + previous)
        self.access_tokens: dict[str, AccessToken] = {}
        self.auth_codes: dict[str, AuthCode] = {}
        self.global_faults: list[Fault] = []
        self.smtp_users: dict[str, str] = {"mailroom": "sandbox"}
        self.smtp_messages: collections.deque[SmtpRecord] = collections.deque(maxlen=smtp_keep)
        self.smtp_counter = 0
        self.smtp_rejected = 0
        self.smtp_auth_failures = 0
        self.ews_users: dict[str, EwsUser] = {}  # mailbox address -> login
        self.ews_logins: dict[str, str] = {}  # lower-cased login name -> mailbox address
        self.ews_basic_auth = False  # Exchange 2016's EWS default: Windows auth (NTLM) only
        self.smtp_submission = False  # like a real submission server: AUTH only after STARTTLS
        self.smtp_basic_auth = True  # False: Exchange Online's "basic authentication is disabled"
        self.smtp_smtputf8 = True  # offer SMTPUTF8 (RFC 6531)
        # Gmail / Graph replace the Message-ID the client set with one of their own (they are
        # not known to, but nothing promises they never will).
        self.rewrite_message_ids = False
        # SMTP login -> the ESP webhook it reports to (sandbox/esp.py): set like an ESP's
        # dashboard page /esp/ or by the control API.
        self.esp_webhooks: dict[str, dict[str, str]] = {}
        # Gmail push: topic -> its push subscription (sandbox/pubsub.py); who hears of each new
        # inbox message (the Pub/Sub publisher, Graph's change notifications).
        self.pubsub_subscriptions: dict[str, dict[str, str]] = {}
        self.pubsub_delivered = 0
        self.pubsub_failures: list[str] = []
        self.inbox_listeners: list[Any] = []
        # Graph change-notification subscriptions by id (sandbox/graph_notifications.py).
        self.graph_subscriptions: dict[str, dict[str, Any]] = {}
        self.graph_notifications_sent = 0
        self.graph_notification_failures: list[str] = []
        self.esp_events_sent = 0
        self.esp_event_failures: list[str] = []
        self.ews_auth_failures = 0
        # The IMAP mailboxes behind SMTP logins (sandbox/imap.py), by login.
        self.imap = ImapMailboxes(self.lock)
        self._dirty = False
        self._stop = threading.Event()
        self._saver: threading.Thread | None = None
        if state_file:
            self.load()

    # --- persistence --------------------------------------------------------------------------
    def mark_dirty(self) -> None:
        self._dirty = True

    def start_autosave(self, interval: float = 1.0) -> None:
        """Save at most once per interval, off the request path (no per-request fsync)."""
        if not self.state_file or self._saver:
            return

        def loop() -> None:
            while not self._stop.wait(interval):
                if self._dirty:
                    self.save()

        self._saver = threading.Thread(target=loop, name="sandbox-autosave", daemon=True)
        self._saver.start()

    def stop_autosave(self) -> None:
        self._stop.set()
        if self.state_file and self._dirty:
            self.save()

    def save(self) -> None:
        if not self.state_file:
            return
        with self.lock:
            self._dirty = False
            data = {
                "version": 1,
                "mailboxes": [
                    {
                        **{k: v for k, v in mb.summary().items() if k in _MAILBOX_SCALARS},
                        "seq": mb.seq,
                        "history_floor": mb.history_floor,
                        "delta_expired_status": mb.delta_expired_status,
                        "send_times": list(mb.send_times),
                        "calls": dict(mb.calls),
                        "messages": [mb.messages[i].to_json() for i in mb.inbox_ids + mb.sent_ids],
                    }
                    for mb in self.mailboxes.values()
                ],
                "grants": [g.__dict__ for g in self.grants.values()],
                "access_tokens": [t.__dict__ for t in self.access_tokens.values()],
                "smtp_users": self.smtp_users,
                "esp_webhooks": self.esp_webhooks,
                "ews_users": [u.__dict__ for u in self.ews_users.values()],
            }
            text = json.dumps(data)
        path = Path(self.state_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    def load(self) -> None:
        path = Path(self.state_file or "")
        if not path.is_file():
            return
        data = json.loads(path.read_text() or "{}")
        with self.lock:
            for item in data.get("mailboxes", []):
                mb = Mailbox(
                    provider=item["provider"],
                    email=item["email"],
                    display_name=item["display_name"],
                    user_id=item["user_id"],
                    tenant_id=item["tenant_id"],
                    send_limit=int(item["send_limit"]),
                    seq=int(item["seq"]),
                    history_floor=int(item.get("history_floor", 0)),
                    delta_epoch=int(item.get("delta_epoch", 1)),
                    delta_expired_status=int(item.get("delta_expired_status", 410)),
                )
                mb.send_times.extend(item.get("send_times", []))
                mb.calls.update(item.get("calls", {}))
                for raw_message in item.get("messages", []):
                    message = StoredMessage.from_json(raw_message)
                    self._index(mb, message)
                self.mailboxes[mb.key] = mb
            for raw_grant in data.get("grants", []):
                grant = Grant(**raw_grant)
                self.grants[grant.id] = grant
                self.refresh_tokens[grant.refresh_token] = grant.id
                if grant.previous_refresh_token:
                    self.refresh_tokens[grant.previous_refresh_token] = grant.id
            for raw_token in data.get("access_tokens", []):
                token = AccessToken(**raw_token)
                if token.expires_at > _now():
                    self.access_tokens[token.token] = token
            self.smtp_users.update(data.get("smtp_users", {}))
            self.esp_webhooks.update(data.get("esp_webhooks", {}))
            for raw_user in data.get("ews_users", []):
                self._index_ews_user(EwsUser(**raw_user))

    # --- mailboxes ----------------------------------------------------------------------------
    def ensure_mailbox(
        self,
        provider: str,
        email_address: str,
        *,
        display_name: str | None = None,
        send_limit: int | None = None,
    ) -> Mailbox:
        if provider not in PROVIDERS:
            raise SandboxError(400, f"provider must be one of {PROVIDERS}")
        address = email_address.strip().lower()
        if "@" not in address:
            raise SandboxError(400, f"not an email address: {email_address!r}")
        with self.lock:
            mb = self.mailboxes.get((provider, address))
            if mb is None:
                digest = hashlib.sha256(f"{provider}:{address}".encode()).digest()
                domain = address.rpartition("@")[2]
                mb = Mailbox(
                    provider=provider,
                    email=address,
                    display_name=display_name
                    or address.partition("@")[0].replace(".", " ").title(),
                    # Google "sub" is a 21-digit number; a Graph user id is a GUID.
                    user_id=str(10**20 + int.from_bytes(digest[:8], "big"))
                    if provider == "google"
                    else str(uuid.UUID(bytes=digest[:16])),
                    tenant_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, domain)),
                    send_limit=send_limit or DEFAULT_SEND_LIMITS[provider],
                )
                self.mailboxes[mb.key] = mb
                self.mark_dirty()
            else:
                if display_name:
                    mb.display_name = display_name
                if send_limit:
                    mb.send_limit = send_limit
            return mb

    def mailbox(self, provider: str, email_address: str) -> Mailbox:
        mb = self.mailboxes.get((provider, email_address.strip().lower()))
        if mb is None:
            raise SandboxError(404, f"no {provider} mailbox {email_address!r}")
        return mb

    def _index(self, mb: Mailbox, message: StoredMessage) -> None:
        mb.messages[message.id] = message
        (mb.inbox_ids if message.folder == "inbox" else mb.sent_ids).append(message.id)
        mb.history_seqs.append(message.seq)
        mb.history_ids.append(message.id)
        if message.message_id:
            mb.by_message_id[message.message_id] = message.id

    def add_message(
        self,
        mb: Mailbox,
        raw: bytes,
        *,
        folder: str,
        headers: list[tuple[str, str]] | None = None,
        labels: list[str] | None = None,
    ) -> StoredMessage:
        """Store a message (parsed headers may be passed in to keep parsing off the lock)."""
        headers = headers if headers is not None else mime.parse_headers(raw)
        with self.lock:
            mb.seq += 1
            message_id = mb.next_message_id()
            thread_id = message_id
            for ref_header in ("In-Reply-To", "References"):
                for ref in mime.header(headers, ref_header).split():
                    known = mb.by_message_id.get(ref)
                    if known:
                        thread_id = mb.messages[known].thread_id
                        break
                if thread_id != message_id:
                    break
            if labels is None:
                labels = ["INBOX", "UNREAD", "CATEGORY_PERSONAL"] if folder == "inbox" else ["SENT"]
            message = StoredMessage(
                id=message_id,
                thread_id=thread_id,
                raw=raw,
                labels=labels,
                folder=folder,
                internal_date=_now(),
                seq=mb.seq,
                headers=headers,
            )
            self._index(mb, message)
            self.mark_dirty()
        if folder == "inbox":
            for listener in list(self.inbox_listeners):
                try:
                    listener(mb, message)
                except Exception:  # noqa: BLE001 - a listener never loses the message
                    log.exception("inbox listener failed for %s", mb.email)
        return message

    # --- Exchange on-premises logins ---------------------------------------------------------
    def add_ews_user(
        self,
        email_address: str,
        password: str,
        *,
        username: str = "",
        display_name: str | None = None,
    ) -> EwsUser:
        """Create (or change the password of) an on-prem Exchange mailbox that logs in with
        its address or `username` (DOMAIN\\user) and `password`."""
        if not password:
            raise SandboxError(400, "an Exchange login needs a password")
        mb = self.ensure_mailbox("exchange", email_address, display_name=display_name)
        user = EwsUser(email=mb.email, password=password, username=username.strip())
        with self.lock:
            taken = {
                login: owner
                for login in user.logins()
                if (owner := self.ews_logins.get(login)) and owner != mb.email
            }
            if taken:
                raise SandboxError(400, f"login name already used by {sorted(taken.values())}")
            self._index_ews_user(user)
            self.mark_dirty()
        return user

    def _index_ews_user(self, user: EwsUser) -> None:
        old = self.ews_users.get(user.email)
        if old is not None:
            for login in old.logins():
                self.ews_logins.pop(login, None)
        self.ews_users[user.email] = user
        for login in user.logins():
            self.ews_logins[login] = user.email

    def ews_user_for_login(self, login: str) -> EwsUser | None:
        with self.lock:
            address = self.ews_logins.get(login.strip().lower())
            return self.ews_users.get(address or "")

    # --- OAuth --------------------------------------------------------------------------------
    def create_auth_code(self, **kwargs: Any) -> AuthCode:
        code = AuthCode(
            code=("4/0A" if kwargs["provider"] == "google" else "0.AXoA")
            + secrets.token_urlsafe(32),
            expires_at=_now() + AUTH_CODE_LIFETIME,
            **kwargs,
        )
        with self.lock:
            self.auth_codes[code.code] = code
        return code

    def redeem_auth_code(self, code: str) -> AuthCode | None:
        with self.lock:
            found = self.auth_codes.pop(code, None)
        if found is None or found.expires_at < _now():
            return None
        return found

    def issue_grant(
        self, provider: str, email_address: str, client_id: str, scopes: list[str]
    ) -> Grant:
        with self.lock:
            mb = self.ensure_mailbox(provider, email_address)
            # Google: re-consent by the same client reuses the grant (same refresh token).
            for grant in self.grants.values():
                if (
                    provider == "google"
                    and not grant.revoked
                    and grant.provider == provider
                    and grant.email == mb.email
                    and grant.client_id == client_id
                ):
                    grant.scopes = list(dict.fromkeys(grant.scopes + scopes))
                    return grant
            grant = Grant(
                id=secrets.token_hex(8),
                provider=provider,
                email=mb.email,
                client_id=client_id,
                scopes=scopes,
                refresh_token=_refresh_token(provider),
            )
            self.grants[grant.id] = grant
            self.refresh_tokens[grant.refresh_token] = grant.id
            self.mark_dirty()
            return grant

    def issue_access_token(
        self, grant: Grant, lifetime: int = ACCESS_TOKEN_LIFETIME
    ) -> AccessToken:
        prefix = "ya29.a0" if grant.provider == "google" else "EwBwA8l6"
        token = AccessToken(
            token=prefix + secrets.token_urlsafe(40),
            grant_id=grant.id,
            provider=grant.provider,
            email=grant.email,
            scopes=list(grant.scopes),
            expires_at=_now() + lifetime,
        )
        with self.lock:
            self.access_tokens[token.token] = token
            self.mark_dirty()
        return token

    def grant_for_refresh_token(self, refresh_token: str) -> tuple[Grant | None, str]:
        """(grant, problem): problem is "" when usable, else "unknown", "revoked", "rotated"."""
        with self.lock:
            grant_id = self.refresh_tokens.get(refresh_token)
            grant = self.grants.get(grant_id or "")
            if grant is None:
                return None, "unknown"
            if grant.revoked:
                return grant, "revoked"
            if refresh_token != grant.refresh_token and grant.previous_valid_until < _now():
                return grant, "rotated"
            return grant, ""

    def rotate_refresh_token(self, grant: Grant) -> str:
        with self.lock:
            if grant.previous_refresh_token:
                self.refresh_tokens.pop(grant.previous_refresh_token, None)
            grant.previous_refresh_token = grant.refresh_token
            grant.previous_valid_until = _now() + self.rotation_grace_seconds
            grant.refresh_token = _refresh_token(grant.provider)
            self.refresh_tokens[grant.refresh_token] = grant.id
            self.mark_dirty()
            return grant.refresh_token

    def revoke(self, provider: str, email_address: str, *, reason: str = "revoked") -> int:
        """Revoke every grant of the mailbox and drop its access tokens (API calls then 401)."""
        with self.lock:
            mb = self.mailbox(provider, email_address)
            revoked = 0
            for grant in self.grants.values():
                if grant.provider == provider and grant.email == mb.email and not grant.revoked:
                    grant.revoked = True
                    grant.revoked_reason = reason
                    revoked += 1
            doomed = [
                key
                for key, access in self.access_tokens.items()
                if access.email == mb.email and access.provider == provider
            ]
            for key in doomed:
                del self.access_tokens[key]
            self.mark_dirty()
            return revoked

    def revoke_token(self, token: str) -> bool:
        """Google's /revoke: the token (access or refresh) and its whole grant. False (Google's
        400 invalid_token) for a token it does not know or whose grant is already revoked."""
        with self.lock:
            grant_id = self.refresh_tokens.get(token)
            if grant_id is None and token in self.access_tokens:
                grant_id = self.access_tokens[token].grant_id
            grant = self.grants.get(grant_id or "")
            if grant is None or grant.revoked:
                return False
            grant.revoked = True
            grant.revoked_reason = "revoked"
            for key in [k for k, t in self.access_tokens.items() if t.grant_id == grant.id]:
                del self.access_tokens[key]
            self.mark_dirty()
            return True

    def expire_access_tokens(self, provider: str, email_address: str) -> int:
        with self.lock:
            mb = self.mailbox(provider, email_address)
            count = 0
            for token in self.access_tokens.values():
                if token.provider == provider and token.email == mb.email:
                    token.expires_at = _now() - 1
                    count += 1
            self.mark_dirty()
            return count

    # --- faults and counters ------------------------------------------------------------------
    def take_fault(self, mb: Mailbox | None, kind: str, endpoint: str) -> Fault | None:
        with self.lock:
            for faults in ((mb.faults if mb else []), self.global_faults):
                for fault in faults:
                    if fault.applies(kind, endpoint):
                        fault.remaining -= 1
                        return fault
                faults[:] = [f for f in faults if f.remaining > 0]
        return None

    def count_call(self, mb: Mailbox, endpoint: str) -> None:
        with self.lock:
            mb.calls[endpoint] += 1
            mb.calls["total"] += 1

    # --- sending quota ------------------------------------------------------------------------
    def reserve_send(self, mb: Mailbox) -> float | None:
        """Count a send against the rolling 24 h limit; None if allowed, else seconds to wait."""
        now = _now()
        with self.lock:
            while mb.send_times and mb.send_times[0] <= now - SEND_WINDOW_SECONDS:
                mb.send_times.popleft()
            if len(mb.send_times) >= mb.send_limit:
                return mb.send_times[0] + SEND_WINDOW_SECONDS - now
            mb.send_times.append(now)
            return None

    # --- Gmail history / Graph delta ----------------------------------------------------------
    def expire_history(self, mb: Mailbox) -> int:
        with self.lock:
            # Bump the counter so even a client holding the very latest id gets its 404.
            mb.seq += 1
            mb.history_floor = mb.seq
            self.mark_dirty()
            return mb.seq

    def expire_delta(self, mb: Mailbox, status: int = 410) -> int:
        with self.lock:
            mb.delta_epoch += 1
            mb.delta_expired_status = status
            self.mark_dirty()
            return mb.delta_epoch

    def changes_after(self, mb: Mailbox, after_seq: int, upto_seq: int) -> list[StoredMessage]:
        with self.lock:
            start = bisect.bisect_right(mb.history_seqs, after_seq)
            end = bisect.bisect_right(mb.history_seqs, upto_seq)
            return [mb.messages[i] for i in mb.history_ids[start:end]]

    # --- SMTP ---------------------------------------------------------------------------------
    def record_smtp(
        self, mail_from: str, rcpt_tos: list[str], raw: bytes, username: str, peer: str
    ) -> int:
        with self.lock:
            self.smtp_counter += 1
            self.smtp_messages.append(
                SmtpRecord(self.smtp_counter, mail_from, rcpt_tos, raw, _now(), username, peer)
            )
            return self.smtp_counter

    def reset(self) -> None:
        with self.lock:
            self.mailboxes.clear()
            self.grants.clear()
            self.refresh_tokens.clear()
            self.access_tokens.clear()
            self.auth_codes.clear()
            self.global_faults.clear()
            self.smtp_messages.clear()
            self.smtp_counter = self.smtp_rejected = self.smtp_auth_failures = 0
            self.smtp_users = {"mailroom": "sandbox"}
            self.ews_users.clear()
            self.ews_logins.clear()
            self.ews_basic_auth = False
            self.smtp_submission = False
            self.smtp_basic_auth = True
            self.smtp_smtputf8 = True
            self.rewrite_message_ids = False
            self.esp_webhooks.clear()
            self.pubsub_subscriptions.clear()
            self.graph_subscriptions.clear()
            self.graph_notifications_sent = 0
            self.graph_notification_failures.clear()
            self.pubsub_delivered = 0
            self.pubsub_failures.clear()
            for mb in self.mailboxes.values():
                mb.watch = {}
            self.esp_events_sent = 0
            self.esp_event_failures.clear()
            self.ews_auth_failures = 0
            self.imap.clear()
            self.mark_dirty()


_MAILBOX_SCALARS = {
    "provider",
    "email",
    "display_name",
    "user_id",
    "tenant_id",
    "send_limit",
    "delta_epoch",
}


def _refresh_token(provider: str) -> str:
    return ("1//0g" if provider == "google" else "M.C5" + "_BAY.0.U.-") + secrets.token_urlsafe(48)
