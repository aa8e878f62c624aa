"""The control API under ``/_sandbox/``: JSON over HTTP for tests, benchmarks and the demo."""

from __future__ import annotations

import base64
import re
import time
from typing import Any
from urllib.parse import unquote

from . import esp, graph_notifications, mime, pubsub
from .httpcore import Context, Request, Response, json_response
from .state import OAUTH_PROVIDERS, Fault, Mailbox, SandboxError, StoredMessage, normalize_scopes


def _message_summary(message: StoredMessage, with_raw: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": message.id,
        "thread_id": message.thread_id,
        "labels": list(message.labels),
        "folder": message.folder,
        "seq": message.seq,
        "internal_date": message.internal_date,
        "message_id": message.message_id,
        "subject": mime.decoded_header(message.headers, "Subject"),
        "from": mime.header(message.headers, "From"),
        "to": mime.header(message.headers, "To"),
    }
    if with_raw:
        data["raw"] = base64.b64encode(message.raw).decode()
    return data


def _body(req: Request) -> dict[str, Any]:
    if not req.body:
        return {}
    data = req.json()
    if not isinstance(data, dict):
        raise SandboxError(400, "expected a JSON object")
    return data


def _fault(data: dict[str, Any]) -> Fault:
    status = int(data.get("status", 503))
    retry_after = data.get("retry_after")
    if status == 429 and retry_after is None:
        retry_after = 1
    return Fault(
        status=status,
        remaining=int(data.get("count", 1)),
        retry_after=None if retry_after is None else int(retry_after),
        target=str(data.get("target", "api")),
        endpoint=str(data.get("endpoint", "")),
        code=str(data.get("code") or ""),
    )


def handle(ctx: Context, req: Request, rest: str) -> Response:
    try:
        return _dispatch(ctx, req, rest.rstrip("/"))
    except SandboxError as exc:
        return json_response(exc.status, {"error": str(exc)})
    except (ValueError, KeyError, TypeError) as exc:
        return json_response(400, {"error": f"bad request: {exc!r}"})


def _dispatch(ctx: Context, req: Request, rest: str) -> Response:  # noqa: C901 - a route table
    store = ctx.store
    method = req.method
    if rest in ("", "/health"):
        return json_response(
            200,
            {
                "ok": True,
                "mailboxes": len(store.mailboxes),
                "smtp_messages": store.smtp_counter,
            },
        )
    if rest == "/reset" and method == "POST":
        store.reset()
        return json_response(200, {"ok": True})
    if rest == "/settings":
        if method == "POST":
            data = _body(req)
            if "auto_consent" in data:
                ctx.auto_consent = bool(data["auto_consent"])
            if "enforce_scopes" in data:
                store.enforce_scopes = bool(data["enforce_scopes"])
            if "rotation_grace_seconds" in data:
                store.rotation_grace_seconds = float(data["rotation_grace_seconds"])
            if "ews_basic_auth" in data:
                store.ews_basic_auth = bool(data["ews_basic_auth"])
            for name in (
                "smtp_submission",
                "smtp_basic_auth",
                "smtp_smtputf8",
                "rewrite_message_ids",
            ):
                if name in data:
                    setattr(store, name, bool(data[name]))
        return json_response(
            200,
            {
                "auto_consent": ctx.auto_consent,
                "enforce_scopes": store.enforce_scopes,
                "rotation_grace_seconds": store.rotation_grace_seconds,
                "ews_basic_auth": store.ews_basic_auth,
                "smtp_submission": store.smtp_submission,
                "smtp_basic_auth": store.smtp_basic_auth,
                "smtp_smtputf8": store.smtp_smtputf8,
                "rewrite_message_ids": store.rewrite_message_ids,
            },
        )
    if rest == "/faults":
        if method == "POST":
            with store.lock:
                store.global_faults.append(_fault(_body(req)))
        elif method == "DELETE":
            with store.lock:
                store.global_faults.clear()
        return json_response(200, {"faults": [f.to_json() for f in store.global_faults]})
    if rest == "/calls":
        if method == "DELETE" or (method == "POST"):
            with store.lock:
                for mb in store.mailboxes.values():
                    mb.calls.clear()
        with store.lock:
            return json_response(
                200,
                {f"{mb.provider}:{mb.email}": dict(mb.calls) for mb in store.mailboxes.values()},
            )
    if rest == "/mailboxes":
        if method == "POST":
            data = _body(req)
            mb = store.ensure_mailbox(
                data["provider"],
                data["email"],
                display_name=data.get("display_name"),
                send_limit=data.get("send_limit"),
            )
            with store.lock:
                return json_response(200, mb.summary())
        with store.lock:
            return json_response(
                200,
                {
                    "mailboxes": [
                        {k: v for k, v in mb.summary().items() if k != "mutation_attempts"}
                        for mb in store.mailboxes.values()
                    ]
                },
            )
    if rest == "/graph/subscriptions":
        with store.lock:
            return json_response(
                200,
                {
                    "subscriptions": [
                        {k: v for k, v in sub.items() if k != "client_state"}
                        for sub in store.graph_subscriptions.values()
                    ],
                    "sent": store.graph_notifications_sent,
                    "failures": list(store.graph_notification_failures),
                },
            )
    if rest == "/pubsub/subscriptions":
        if method == "POST":
            data = _body(req)
            pubsub.subscribe(
                ctx,
                topic=str(data["topic"]),
                endpoint=str(data["endpoint"]),
                audience=str(data.get("audience") or ""),
                service_account=str(data["service_account"]),
            )
        with store.lock:
            return json_response(
                200,
                {
                    "subscriptions": dict(store.pubsub_subscriptions),
                    "delivered": store.pubsub_delivered,
                    "failures": list(store.pubsub_failures),
                    "watches": {mb.email: mb.watch for mb in store.mailboxes.values() if mb.watch},
                },
            )
    if rest.startswith("/smtp"):
        return _smtp(ctx, req, rest[len("/smtp") :])
    if rest.startswith("/imap"):
        return _imap(ctx, req, rest[len("/imap") :])
    if rest == "/exchange/users":
        if method == "POST":
            data = _body(req)
            store.add_ews_user(
                str(data["email"]),
                str(data["password"]),
                username=str(data.get("username") or ""),
                display_name=data.get("display_name"),
            )
        with store.lock:
            return json_response(
                200,
                {
                    "users": [
                        {"email": u.email, "username": u.username} for u in store.ews_users.values()
                    ],
                    "auth_failures": store.ews_auth_failures,
                },
            )
    found = re.match(r"^/mailboxes/(?P<provider>[^/]+)/(?P<email>[^/]+)(?P<tail>/.*)?$", rest)
    if not found:
        raise SandboxError(404, f"no control endpoint {rest!r}")
    provider, address = found.group("provider"), unquote(found.group("email"))
    tail = found.group("tail") or ""
    mb = store.mailbox(provider, address)
    return _mailbox(ctx, req, mb, tail)


def _mailbox(ctx: Context, req: Request, mb: Mailbox, tail: str) -> Response:  # noqa: C901
    store, method = ctx.store, req.method
    if tail == "":
        if method == "DELETE":
            with store.lock:
                store.mailboxes.pop(mb.key, None)
            return json_response(200, {"ok": True})
        with store.lock:
            return json_response(200, mb.summary())
    if tail == "/lifecycle" and method == "POST":
        event = str(_body(req)["event"])
        return json_response(200, {"sent": graph_notifications.lifecycle(ctx, mb, event)})
    if tail == "/grants" and method == "POST":
        # A connected mailbox without clicking through the consent page (benchmarks, seeds).
        if mb.provider not in OAUTH_PROVIDERS:
            raise SandboxError(400, f"{mb.provider} mailboxes log in with a password, not a grant")
        data = _body(req)
        scopes = normalize_scopes(mb.provider, data.get("scopes") or [])
        grant = store.issue_grant(
            mb.provider, mb.email, data.get("client_id", "sandbox-client"), scopes
        )
        access = store.issue_access_token(grant, int(data.get("expires_in", 3599)))
        return json_response(
            200,
            {
                "grant_id": grant.id,
                "access_token": access.token,
                "refresh_token": grant.refresh_token,
                "expires_in": int(access.expires_at - time.time()),
                "scopes": grant.scopes,
            },
        )
    if tail in ("/inbox", "/sent"):
        if tail == "/inbox" and method == "POST":
            data = _body(req)
            if "raw_base64" in data:
                raw = base64.b64decode(data["raw_base64"])
            else:
                raw = str(data["raw"]).encode()
            labels = data.get("labels")
            message = store.add_message(mb, raw, folder="inbox", labels=labels)
            return json_response(200, _message_summary(message, with_raw=False))
        with_raw = req.arg("with_raw", "1") not in ("0", "false")
        since = int(req.arg("since_seq") or 0)
        with store.lock:
            ids = mb.inbox_ids if tail == "/inbox" else mb.sent_ids
            items = [
                _message_summary(mb.messages[i], with_raw)
                for i in ids
                if mb.messages[i].seq > since
            ]
        return json_response(200, {"messages": items})
    if tail == "/revoke" and method == "POST":
        reason = _body(req).get("reason", "revoked")
        if reason not in ("revoked", "expired"):
            raise SandboxError(400, "reason must be 'revoked' or 'expired'")
        return json_response(200, {"revoked": store.revoke(mb.provider, mb.email, reason=reason)})
    if tail == "/expire-tokens" and method == "POST":
        return json_response(200, {"expired": store.expire_access_tokens(mb.provider, mb.email)})
    if tail == "/faults":
        if method == "POST":
            with store.lock:
                mb.faults.append(_fault(_body(req)))
        elif method == "DELETE":
            with store.lock:
                mb.faults.clear()
        with store.lock:
            return json_response(200, {"faults": [f.to_json() for f in mb.faults]})
    if tail == "/expire-history" and method == "POST":
        return json_response(200, {"history_floor": str(store.expire_history(mb))})
    if tail == "/expire-delta" and method == "POST":
        status = int(_body(req).get("status", 410))
        if status not in (400, 410):
            raise SandboxError(400, "status must be 400 or 410")
        return json_response(200, {"delta_epoch": store.expire_delta(mb, status)})
    if tail == "/calls":
        with store.lock:
            if method in ("POST", "DELETE"):
                mb.calls.clear()
            return json_response(200, dict(mb.calls))
    if tail == "/send-limit" and method == "POST":
        data = _body(req)
        with store.lock:
            mb.send_limit = int(data["limit"])
            if data.get("clear_window"):
                mb.send_times.clear()
        return json_response(200, {"send_limit": mb.send_limit})
    raise SandboxError(404, f"no mailbox control endpoint {tail!r}")


def _smtp(ctx: Context, req: Request, tail: str) -> Response:
    store = ctx.store
    if tail == "/messages":
        if req.method == "DELETE":
            with store.lock:
                store.smtp_messages.clear()
            return json_response(200, {"ok": True})
        since = int(req.arg("since_id") or 0)
        with_raw = req.arg("with_raw", "1") not in ("0", "false")
        limit = int(req.arg("limit") or 1000)
        with store.lock:
            records = [r for r in store.smtp_messages if r.id > since][:limit]
        return json_response(200, {"messages": [r.to_json(with_raw) for r in records]})
    if tail == "/stats":
        with store.lock:
            return json_response(
                200,
                {
                    "received": store.smtp_counter,
                    "kept": len(store.smtp_messages),
                    "rejected_recipients": store.smtp_rejected,
                    "auth_failures": store.smtp_auth_failures,
                },
            )
    if tail == "/webhooks":
        if req.method == "POST":
            data = _body(req)
            esp.register(
                store,
                username=str(data["username"]),
                esp=str(data["esp"]),
                url=str(data["url"]),
                signing_key=str(data.get("signing_key") or ""),
            )
        elif req.method == "DELETE":
            with store.lock:
                store.esp_webhooks.clear()
        with store.lock:
            return json_response(
                200,
                {
                    "webhooks": {
                        user: {"esp": hook["esp"], "url": hook["url"].split("@")[-1]}
                        for user, hook in store.esp_webhooks.items()
                    },
                    "events_sent": store.esp_events_sent,
                    "failures": list(store.esp_event_failures),
                },
            )
    if tail == "/users" and req.method == "POST":
        data = _body(req)
        with store.lock:
            store.smtp_users[str(data["username"])] = str(data["password"])
        return json_response(200, {"users": sorted(store.smtp_users)})
    raise SandboxError(404, f"no smtp control endpoint {tail!r}")


def _imap(ctx: Context, req: Request, tail: str) -> Response:
    """IMAP mailboxes: POST /users {login, password} (also an SMTP login); under
    /mailboxes/<login>: GET (UIDs, flags, writes attempted), POST /messages {raw: base64}
    (delivered as from the internet), POST /rebuild (a new UIDVALIDITY, messages renumbered),
    POST /faults {command, count} (the next COUNT such commands answer NO; "FETCH BODY[]" only
    fetches of a whole message)."""
    store = ctx.store
    if tail == "/users" and req.method == "POST":
        data = _body(req)
        login, password = str(data["login"]), str(data["password"])
        with store.lock:
            store.smtp_users[login] = password
        return json_response(200, store.imap.ensure(login, password).summary())
    match = re.fullmatch(r"/mailboxes/([^/]+)(/[a-z]+)?", tail)
    if match is None:
        raise SandboxError(404, f"no imap control endpoint {tail!r}")
    login, action = unquote(match.group(1)), match.group(2) or ""
    box = store.imap.get(login)
    if box is None:
        raise SandboxError(404, f"no IMAP mailbox for {login!r}")
    if action == "/messages" and req.method == "POST":
        data = _body(req)
        uid = store.imap.deliver(login, base64.b64decode(data["raw"]))
        return json_response(200, {"uid": uid})
    if action == "/rebuild" and req.method == "POST":
        return json_response(200, {"uidvalidity": store.imap.rebuild(login)})
    if action == "/faults" and req.method == "POST":
        data = _body(req)
        with store.lock:
            box.faults[str(data["command"]).upper()] = int(data.get("count", 1))
    with store.lock:
        return json_response(200, box.summary())
