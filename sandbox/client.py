"""``SandboxClient``: the control API from Python (stdlib only), usable from any process."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode


class SandboxClientError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"sandbox control API answered {status}: {body}")
        self.status = status
        self.body = body


class SandboxClient:
    def __init__(self, base_url: str = "http://127.0.0.1:8900", timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    # --- plumbing -------------------------------------------------------------------------
    def _call(
        self, method: str, path: str, payload: Any = None, query: dict[str, Any] | None = None
    ) -> Any:
        url = f"{self.base_url}/_sandbox{path}"
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise SandboxClientError(exc.code, exc.read().decode("utf-8", "replace")) from exc
        return json.loads(body) if body else None

    @staticmethod
    def _mailbox_path(provider: str, email: str) -> str:
        return f"/mailboxes/{provider}/{quote(email.lower(), safe='')}"

    # --- whole sandbox ----------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def settings(self, **changes: Any) -> dict[str, Any]:
        """auto_consent, enforce_scopes, rotation_grace_seconds, ews_basic_auth."""
        return self._call("POST" if changes else "GET", "/settings", changes or None)

    def add_global_fault(
        self,
        status: int,
        count: int = 1,
        retry_after: int | None = None,
        target: str = "api",
        endpoint: str = "",
    ) -> None:
        self._call(
            "POST",
            "/faults",
            {
                "status": status,
                "count": count,
                "retry_after": retry_after,
                "target": target,
                "endpoint": endpoint,
            },
        )

    def clear_global_faults(self) -> None:
        self._call("DELETE", "/faults")

    def all_calls(self) -> dict[str, dict[str, int]]:
        return self._call("GET", "/calls")

    def reset_all_calls(self) -> None:
        self._call("DELETE", "/calls")

    # --- mailboxes -------------------------------------------------------------------------
    def ensure_mailbox(
        self,
        provider: str,
        email: str,
        *,
        display_name: str | None = None,
        send_limit: int | None = None,
    ) -> dict[str, Any]:
        return self._call(
            "POST",
            "/mailboxes",
            {
                "provider": provider,
                "email": email,
                "display_name": display_name,
                "send_limit": send_limit,
            },
        )

    def mailboxes(self) -> list[dict[str, Any]]:
        return self._call("GET", "/mailboxes")["mailboxes"]

    def mailbox(self, provider: str, email: str) -> dict[str, Any]:
        return self._call("GET", self._mailbox_path(provider, email))

    def grant(
        self,
        provider: str,
        email: str,
        *,
        client_id: str = "sandbox-client",
        scopes: list[str] | None = None,
        expires_in: int = 3599,
    ) -> dict[str, Any]:
        """Connect a mailbox without the consent page: returns access + refresh tokens."""
        self.ensure_mailbox(provider, email)
        return self._call(
            "POST",
            self._mailbox_path(provider, email) + "/grants",
            {"client_id": client_id, "scopes": scopes or [], "expires_in": expires_in},
        )

    def inject(
        self, provider: str, email: str, raw: bytes | str, labels: list[str] | None = None
    ) -> dict[str, Any]:
        """Drop a raw RFC 822 message into the mailbox's inbox (a new Gmail history record /
        Graph delta change)."""
        data = raw.encode() if isinstance(raw, str) else raw
        return self._call(
            "POST",
            self._mailbox_path(provider, email) + "/inbox",
            {"raw_base64": base64.b64encode(data).decode(), "labels": labels},
        )

    def inbox(
        self, provider: str, email: str, *, since_seq: int = 0, with_raw: bool = True
    ) -> list[dict[str, Any]]:
        return self._decode(
            self._call(
                "GET",
                self._mailbox_path(provider, email) + "/inbox",
                query={"since_seq": since_seq, "with_raw": int(with_raw)},
            )["messages"]
        )

    def sent(
        self, provider: str, email: str, *, since_seq: int = 0, with_raw: bool = True
    ) -> list[dict[str, Any]]:
        return self._decode(
            self._call(
                "GET",
                self._mailbox_path(provider, email) + "/sent",
                query={"since_seq": since_seq, "with_raw": int(with_raw)},
            )["messages"]
        )

    @staticmethod
    def _decode(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for message in messages:
            if "raw" in message:
                message["raw_bytes"] = base64.b64decode(message["raw"])
        return messages

    def revoke(self, provider: str, email: str, reason: str = "revoked") -> int:
        """Next refresh answers invalid_grant; API calls with its tokens answer 401.
        reason "expired" makes Microsoft answer AADSTS700082 instead of AADSTS50173."""
        return self._call(
            "POST", self._mailbox_path(provider, email) + "/revoke", {"reason": reason}
        )["revoked"]

    def expire_access_tokens(self, provider: str, email: str) -> int:
        return self._call("POST", self._mailbox_path(provider, email) + "/expire-tokens")["expired"]

    def add_fault(
        self,
        provider: str,
        email: str,
        status: int,
        count: int = 1,
        retry_after: int | None = None,
        target: str = "api",
        endpoint: str = "",
        code: str = "",
    ) -> None:
        """The next ``count`` calls (target "api", "token" or "any"; optionally only endpoints
        whose name starts with ``endpoint``, e.g. "gmail.history") answer ``status``.
        Exchange on-prem: ``code`` answers that EWS ResponseCode instead (ErrorServerBusy as a
        SOAP fault with BackOffMilliseconds = retry_after, others as a ResponseMessage error;
        endpoints are "ews.<Operation>"). Graph: ``code`` is the error's `code`, with Graph's
        own message for MailboxNotEnabledForRESTAPI, ErrorQuotaExceeded, ErrorInvalidUrlQuery."""
        self._call(
            "POST",
            self._mailbox_path(provider, email) + "/faults",
            {
                "status": status,
                "count": count,
                "retry_after": retry_after,
                "target": target,
                "endpoint": endpoint,
                "code": code,
            },
        )

    def clear_faults(self, provider: str, email: str) -> None:
        self._call("DELETE", self._mailbox_path(provider, email) + "/faults")

    def expire_history(self, provider: str, email: str) -> str:
        return self._call("POST", self._mailbox_path(provider, email) + "/expire-history")[
            "history_floor"
        ]

    def expire_delta(self, provider: str, email: str, status: int = 410) -> int:
        return self._call(
            "POST", self._mailbox_path(provider, email) + "/expire-delta", {"status": status}
        )["delta_epoch"]

    def calls(self, provider: str, email: str) -> dict[str, int]:
        return self._call("GET", self._mailbox_path(provider, email) + "/calls")

    def reset_calls(self, provider: str, email: str) -> None:
        self._call("DELETE", self._mailbox_path(provider, email) + "/calls")

    def set_send_limit(
        self, provider: str, email: str, limit: int, clear_window: bool = False
    ) -> None:
        self._call(
            "POST",
            self._mailbox_path(provider, email) + "/send-limit",
            {"limit": limit, "clear_window": clear_window},
        )

    def mutation_attempts(self, provider: str, email: str) -> list[dict[str, Any]]:
        return self.mailbox(provider, email)["mutation_attempts"]

    # --- Exchange on-prem (EWS) -------------------------------------------------------------
    def add_ews_user(
        self,
        email: str,
        password: str,
        *,
        username: str = "",
        display_name: str | None = None,
    ) -> None:
        """An on-prem Exchange mailbox (provider "exchange") that logs in to EWS with its
        address or ``username`` (DOMAIN\\user) and ``password``; again changes the password."""
        self._call(
            "POST",
            "/exchange/users",
            {
                "email": email,
                "password": password,
                "username": username,
                "display_name": display_name,
            },
        )

    def ews_users(self) -> dict[str, Any]:
        """``{"users": [{email, username}], "auth_failures": n}``."""
        return self._call("GET", "/exchange/users")

    # --- SMTP --------------------------------------------------------------------------------
    def smtp_messages(
        self, *, since_id: int = 0, with_raw: bool = True, limit: int = 1000
    ) -> list[dict[str, Any]]:
        return self._decode(
            self._call(
                "GET",
                "/smtp/messages",
                query={"since_id": since_id, "with_raw": int(with_raw), "limit": limit},
            )["messages"]
        )

    def clear_smtp(self) -> None:
        self._call("DELETE", "/smtp/messages")

    def smtp_stats(self) -> dict[str, int]:
        return self._call("GET", "/smtp/stats")

    def add_smtp_user(self, username: str, password: str) -> None:
        self._call("POST", "/smtp/users", {"username": username, "password": password})

    def set_esp_webhook(
        self, username: str, *, esp: str, url: str, signing_key: str = ""
    ) -> dict[str, Any]:
        """Make SMTP login `username` act as `esp`'s relay, POSTing its events to `url` (which
        may carry basic-auth credentials), as an admin sets it in the ESP's dashboard."""
        return self._call(
            "POST",
            "/smtp/webhooks",
            {"username": username, "esp": esp, "url": url, "signing_key": signing_key},
        )

    def esp_webhooks(self) -> dict[str, Any]:
        """Registered webhooks, events delivered so far and failed deliveries."""
        return self._call("GET", "/smtp/webhooks")

    def pubsub_subscribe(
        self, topic: str, *, endpoint: str, service_account: str, audience: str = ""
    ) -> dict[str, Any]:
        """A push subscription on `topic` (what a Cloud console admin creates): Gmail's watch
        notifications for it are POSTed to `endpoint` with an OIDC token for `audience`."""
        return self._call(
            "POST",
            "/pubsub/subscriptions",
            {
                "topic": topic,
                "endpoint": endpoint,
                "service_account": service_account,
                "audience": audience,
            },
        )

    def pubsub(self) -> dict[str, Any]:
        """Subscriptions, watched mailboxes, pushes delivered and failed."""
        return self._call("GET", "/pubsub/subscriptions")

    def graph_subscriptions(self) -> dict[str, Any]:
        """Graph change-notification subscriptions (no clientState), notifications sent."""
        return self._call("GET", "/graph/subscriptions")

    def graph_lifecycle(self, email: str, event: str) -> int:
        """Send a lifecycle event (reauthorizationRequired, subscriptionRemoved, missed) to
        each of the mailbox's subscriptions; returns how many were sent."""
        return self._call(
            "POST", self._mailbox_path("microsoft", email) + "/lifecycle", {"event": event}
        )["sent"]

    # --- IMAP mailboxes (sandbox/imap.py) ----------------------------------------------------
    def imap_add_user(self, login: str, password: str) -> dict[str, Any]:
        """An SMTP login with an IMAP mailbox: bounces of the mail it submits land there."""
        return self._call("POST", "/imap/users", {"login": login, "password": password})

    def imap_mailbox(self, login: str) -> dict[str, Any]:
        return self._call("GET", f"/imap/mailboxes/{quote(login, safe='')}")

    def imap_deliver(self, login: str, raw: bytes) -> int:
        path = f"/imap/mailboxes/{quote(login, safe='')}/messages"
        return self._call("POST", path, {"raw": base64.b64encode(raw).decode()})["uid"]

    def imap_rebuild(self, login: str) -> int:
        path = f"/imap/mailboxes/{quote(login, safe='')}/rebuild"
        return self._call("POST", path, {})["uidvalidity"]

    def imap_fault(self, login: str, command: str, count: int = 1) -> dict[str, Any]:
        path = f"/imap/mailboxes/{quote(login, safe='')}/faults"
        return self._call("POST", path, {"command": command, "count": count})
