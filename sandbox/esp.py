"""The sandbox as an email service provider (SendGrid, SparkPost, Mailgun).

An SMTP login with a webhook registered for it (the ``/esp/`` dashboard page, or the control
API's ``/smtp/webhooks``; kept in the state file) behaves like an ESP's SMTP relay: it accepts every
recipient, and afterwards reports what the recipient rules say happened by POSTing the ESP's
documented event payload to the webhook — SendGrid's Event Webhook (a JSON array of events,
HTTP basic auth in the URL), SparkPost's webhooks (a JSON array of ``{"msys": {...}}``), and
Mailgun's webhooks (one JSON event signed with HMAC-SHA256 of timestamp + token). Like the real
services it retries a POST that failed, with a growing wait.

Recipients: the ``bounce`` rules of ``rules.py`` (hard and soft), plus two an ESP reports and a
mailbox never does: ``complaint…@`` (the recipient marks it as spam) and ``unsubscribe…@`` (the
recipient used the ESP's unsubscribe link)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from email.parser import BytesHeaderParser
from html import escape
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from .httpcore import Context, Request, Response, deliver_with_retries, html_response
from .rules import RecipientRule, rule_for
from .state import Store

ESPS = ("sendgrid", "sparkpost", "mailgun")
RETRY_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0)

# Which header each ESP's SMTP relay reads its metadata from.
_METADATA_HEADERS = {
    "sendgrid": ("X-SMTPAPI", lambda data: data.get("unique_args", {})),
    "sparkpost": ("X-MSYS-API", lambda data: data.get("metadata", {})),
    "mailgun": ("X-Mailgun-Variables", lambda data: data),
}


def register(store: Store, *, username: str, esp: str, url: str, signing_key: str = "") -> None:
    if esp not in ESPS:
        raise ValueError(f"esp must be one of {', '.join(ESPS)}")
    if esp == "mailgun" and not signing_key:
        raise ValueError("mailgun needs a signing_key")
    with store.lock:
        store.esp_webhooks[username] = {"esp": esp, "url": url, "signing_key": signing_key}
        store.mark_dirty()


def webhook_for(store: Store, username: str) -> dict[str, str] | None:
    with store.lock:
        return store.esp_webhooks.get(username)


def _outcome(address: str) -> tuple[str, RecipientRule | None] | None:
    local = address.strip().strip("<>").lower().rpartition("@")[0]
    if local.startswith("complaint"):
        return "complained", None
    if local.startswith("unsubscribe"):
        return "unsubscribed", None
    rule = rule_for(address)
    if rule is not None and rule.behaviour == "bounce":
        return "bounced", rule
    return None


def _metadata(esp: str, raw: bytes) -> tuple[str, dict[str, Any]]:
    headers = BytesHeaderParser().parsebytes(raw)
    name, pick = _METADATA_HEADERS[esp]
    try:
        data = json.loads(str(headers.get(name, "") or "{}"))
        metadata = pick(data) if isinstance(data, dict) else {}
    except ValueError:
        metadata = {}
    return str(headers.get("Message-ID", "") or "").strip(), (
        metadata if isinstance(metadata, dict) else {}
    )


def _reply(rule: RecipientRule, address: str) -> str:
    return rule.smtp_reply.format(addr=address)


def _sendgrid(kind, address, rule, message_id, metadata, now) -> list[dict[str, Any]]:
    event: dict[str, Any] = {
        "email": address,
        "timestamp": int(now),
        "smtp-id": message_id,
        "sg_event_id": base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
        "sg_message_id": f"{secrets.token_hex(11)}.filter0001.{int(now)}.0",
        **metadata,
    }
    if kind == "bounced":
        reply = _reply(rule, address)
        event.update(
            event="bounce",
            type="bounce" if rule.hard else "blocked",
            reason=reply,
            status=rule.status,
            bounce_classification="Invalid Address" if rule.hard else "Technical",
        )
    elif kind == "complained":
        event["event"] = "spamreport"
    else:
        event["event"] = "unsubscribe"
    return [event]


def _sparkpost(kind, address, rule, message_id, metadata, now) -> list[dict[str, Any]]:
    common = {
        "event_id": str(secrets.randbits(62)),
        "timestamp": str(int(now)),
        "transmission_id": str(secrets.randbits(50)),
        "message_id": secrets.token_hex(10),
        "rcpt_to": address.lower(),
        "raw_rcpt_to": address,
        "rcpt_meta": metadata,
        "rcpt_tags": [],
    }
    if kind == "bounced":
        reply = _reply(rule, address)
        bounce_class = "10" if rule.hard else ("22" if rule.status == "5.2.2" else "50")
        body = {
            "message_event": {
                **common,
                "type": "bounce",
                "bounce_class": bounce_class,
                "raw_reason": reply,
                "reason": reply,
                "error_code": reply[:3],
            }
        }
    elif kind == "complained":
        body = {"feedback_event": {**common, "type": "spam_complaint", "fbtype": "abuse"}}
    else:
        body = {"unsubscribe_event": {**common, "type": "list_unsubscribe"}}
    return [{"msys": body}]


def _mailgun(kind, address, rule, message_id, metadata, now, signing_key) -> dict[str, Any]:
    token = secrets.token_hex(25)
    timestamp = str(int(now))
    signature = hmac.new(
        signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    event: dict[str, Any] = {
        "id": base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
        "timestamp": now,
        "recipient": address,
        "user-variables": metadata,
        "message": {"headers": {"message-id": message_id.strip("<>")}},
    }
    if kind == "bounced":
        reply = _reply(rule, address)
        event.update(
            event="failed",
            severity="permanent" if rule.hard else "temporary",
            reason="bounce" if rule.hard else "generic",
            **{"delivery-status": {"code": int(reply[:3]), "message": reply, "description": ""}},
        )
    else:
        event["event"] = kind  # "complained" / "unsubscribed"
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event,
    }


def _post(store: Store, hook: dict[str, str], payload: Any) -> None:
    parts = urlsplit(hook["url"])
    headers = {"Content-Type": "application/json", "User-Agent": f"sandbox-{hook['esp']}"}
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    else:
        url = hook["url"]
    error = deliver_with_retries(
        url, json.dumps(payload).encode(), headers=headers, waits=RETRY_WAITS
    )
    with store.lock:
        if error:
            store.esp_event_failures.append(f"{hook['url'].split('@')[-1]}: {error}")
        else:
            store.esp_events_sent += 1


def report(store: Store, *, username: str, raw: bytes, recipients: list[str]) -> None:
    """After an ESP login's message is accepted: POST its events in the background."""
    hook = webhook_for(store, username)
    if hook is None:
        return
    message_id, metadata = _metadata(hook["esp"], raw)
    now = time.time()
    payloads: list[Any] = []
    for address in recipients:
        found = _outcome(address)
        if found is None:
            continue
        kind, rule = found
        if hook["esp"] == "sendgrid":
            payloads.append(_sendgrid(kind, address, rule, message_id, metadata, now))
        elif hook["esp"] == "sparkpost":
            payloads.append(_sparkpost(kind, address, rule, message_id, metadata, now))
        else:
            payloads.append(
                _mailgun(kind, address, rule, message_id, metadata, now, hook["signing_key"])
            )
    for payload in payloads:
        threading.Thread(target=_post, args=(store, hook, payload), daemon=True).start()


def dashboard(ctx: Context, req: Request) -> Response:
    """``/esp/``: the sandbox's stand-in for an ESP's dashboard, where an admin pastes the
    webhook URL Mailroom shows (SendGrid: Settings → Mail Settings → Event Webhook)."""
    store = ctx.store
    note = ""
    if req.method == "POST":
        form = req.form()
        try:
            username = form.get("username", "").strip()
            if username not in store.smtp_users:
                raise ValueError(f"no SMTP login {username!r} on this sandbox")
            register(
                store,
                username=username,
                esp=form.get("esp", ""),
                url=form.get("url", "").strip(),
                signing_key=form.get("signing_key", "").strip(),
            )
            note = f"<p class=ok>Saved: SMTP login {escape(username)} now reports its events.</p>"
        except ValueError as exc:
            note = f"<p class=error>{escape(str(exc))}</p>"
    with store.lock:
        rows = "".join(
            f"<tr><td>{escape(user)}</td><td>{escape(hook['esp'])}</td>"
            f"<td>{escape(hook['url'].split('@')[-1])}</td></tr>"
            for user, hook in store.esp_webhooks.items()
        )
        sent, failures = store.esp_events_sent, list(store.esp_event_failures)[-5:]
    options = "".join(f"<option>{esp}</option>" for esp in ESPS)
    failed = "".join(f"<li>{escape(line)}</li>" for line in failures)
    body = f"""<!doctype html><meta charset=utf-8><title>Sandbox ESP dashboard</title>
<style>body{{font:15px system-ui;max-width:46rem;margin:2rem auto;padding:0 1rem}}
input,select{{width:100%;padding:.4rem;margin:.2rem 0 .8rem}}.ok{{color:#06702c}}
.error{{color:#b00020}}td{{padding:.2rem .6rem;border-bottom:1px solid #ddd}}</style>
<h1>Sandbox ESP: event webhook</h1>
<p>An SMTP login with a webhook here acts like that ESP's relay: it accepts every recipient and
POSTs the ESP's webhook events for bounce…@, mailboxfull…@, complaint…@ and unsubscribe…@
recipients.</p>{note}
<form method=post><label>SMTP login<input name=username value="sendgrid-demo"></label>
<label>ESP<select name=esp>{options}</select></label>
<label>Webhook URL (paste Mailroom's)<input name=url required></label>
<label>Signing key (Mailgun only)<input name=signing_key></label>
<button type=submit>Save webhook</button></form>
<h2>Webhooks</h2><table>{rows or "<tr><td>none yet</td></tr>"}</table>
<p>{sent} event(s) delivered.</p><ul>{failed}</ul>"""
    return html_response(200, body)
