"""Microsoft Graph change notifications for the inbox, as Graph delivers them.

`POST /v1.0/subscriptions` {changeType "created", notificationUrl, lifecycleNotificationUrl,
resource "me/mailFolders('inbox')/messages", expirationDateTime, clientState}: before answering,
Graph validates each URL by POSTing `?validationToken=…` and wants the token back as text/plain
with 200 within 10 seconds (else 400 "Subscription validation request failed"). The
expiration may be at most 10,080 minutes ahead (Outlook messages). `PATCH
/subscriptions/{id}` renews, `DELETE` removes. Each new inbox message is POSTed as
`{"value": [{subscriptionId, clientState, changeType, resource, resourceData, tenantId, …}]}`
in the background, retried as Graph retries. Lifecycle events (`reauthorizationRequired`,
`subscriptionRemoved`, `missed`) are sent on the control API's request.

Deviation: real Graph takes only HTTPS notification URLs; the sandbox also takes http:// to
127.0.0.1 / localhost, where Mailroom's dev server and tests listen."""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

from .httpcore import Context, Request, Response, deliver_with_retries, json_response
from .state import Mailbox, StoredMessage

MAX_MINUTES = 10080
RETRY_WAITS = (0.5, 1.0, 2.0, 4.0)
RESOURCE = "me/mailFolders('inbox')/messages"


def _url_allowed(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")


def _validate(url: str) -> bool:
    token = (
        "Validation: Testing client application reachability for subscription Request-Id: "
        f"{uuid.uuid4()}"
    )
    target = url + ("&" if "?" in url else "?") + urllib.parse.urlencode({"validationToken": token})
    request = urllib.request.Request(
        target, data=b"", method="POST", headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status == 200 and response.read().decode() == token
    except (OSError, ValueError):
        return False


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _summary(subscription: dict[str, Any]) -> dict[str, Any]:
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
        "id": subscription["id"],
        "resource": subscription["resource"],
        "changeType": "created",
        "clientState": subscription["client_state"] or None,
        "notificationUrl": subscription["notification_url"],
        "lifecycleNotificationUrl": subscription["lifecycle_url"] or None,
        "expirationDateTime": _iso(subscription["expiration"]),
        "applicationId": "sandbox-client",
        "creatorId": subscription["user_id"],
        "latestSupportedTlsVersion": "v1_2",
    }


def _error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"error": {"code": code, "message": message}})


def _expiration(text: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def create(ctx: Context, req: Request, mb: Mailbox) -> Response:
    try:
        body = req.json() or {}
        notification_url = str(body["notificationUrl"])
        change_type = str(body["changeType"])
        resource = str(body["resource"])
    except (ValueError, KeyError, TypeError):
        return _error(
            400, "InvalidRequest", "changeType, notificationUrl and resource are required."
        )
    if change_type != "created" or resource.replace("/me/", "me/") != RESOURCE:
        return _error(400, "InvalidRequest", f"The sandbox subscribes to {RESOURCE} (created).")
    expiration = _expiration(body.get("expirationDateTime"))
    if expiration is None or not time.time() < expiration <= time.time() + MAX_MINUTES * 60:
        return _error(
            400,
            "InvalidRequest",
            "Subscription expiration can only be 10070 minutes in the future.",
        )
    lifecycle_url = str(body.get("lifecycleNotificationUrl") or "")
    for url in filter(None, (notification_url, lifecycle_url)):
        if not _url_allowed(url):
            # Graph's own words; the sandbox lets http through to loopback only (make run's and
            # the tests' web server), which Graph never does.
            scheme = urllib.parse.urlsplit(url).scheme
            return _error(
                400, "InvalidRequest", f"NotificationUrl scheme='{scheme}' is not supported."
            )
        if not _validate(url):
            return _error(
                400,
                "InvalidRequest",
                "Subscription validation request failed. Notification endpoint must respond "
                "with 200 OK to validation request.",
            )
    subscription = {
        "id": str(uuid.uuid4()),
        "email": mb.email,
        "user_id": mb.user_id,
        "tenant_id": mb.tenant_id,
        "resource": RESOURCE,
        "notification_url": notification_url,
        "lifecycle_url": lifecycle_url,
        "client_state": str(body.get("clientState") or "")[:128],
        "expiration": expiration,
    }
    with ctx.store.lock:
        ctx.store.graph_subscriptions[subscription["id"]] = subscription
        ctx.store.mark_dirty()
    return json_response(201, _summary(subscription))


def update(ctx: Context, req: Request, mb: Mailbox, subscription_id: str) -> Response:
    with ctx.store.lock:
        subscription = ctx.store.graph_subscriptions.get(subscription_id)
    if subscription is None or subscription["email"] != mb.email:
        return _error(404, "ResourceNotFound", "The object was not found.")
    if req.method == "DELETE":
        with ctx.store.lock:
            ctx.store.graph_subscriptions.pop(subscription_id, None)
        return Response(204, b"", {})
    try:
        expiration = _expiration((req.json() or {})["expirationDateTime"])
    except (ValueError, KeyError, TypeError):
        expiration = None
    if expiration is None or not time.time() < expiration <= time.time() + MAX_MINUTES * 60:
        return _error(400, "InvalidRequest", "expirationDateTime is not valid.")
    with ctx.store.lock:
        subscription["expiration"] = expiration
        ctx.store.mark_dirty()
    return json_response(200, _summary(subscription))


def _post(ctx: Context, url: str, payload: dict[str, Any]) -> None:
    error = deliver_with_retries(
        url,
        json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        waits=RETRY_WAITS,
    )
    with ctx.store.lock:
        if error:
            ctx.store.graph_notification_failures.append(f"{url}: {error}")
        else:
            ctx.store.graph_notifications_sent += 1


def _live(ctx: Context, mb: Mailbox) -> list[dict[str, Any]]:
    now = time.time()
    with ctx.store.lock:
        return [
            s
            for s in ctx.store.graph_subscriptions.values()
            if s["email"] == mb.email and s["expiration"] > now
        ]


def notify(ctx: Context, mb: Mailbox, message: StoredMessage) -> None:
    """A new inbox message: one change notification per live subscription of the mailbox."""
    for subscription in _live(ctx, mb):
        item = {
            "subscriptionId": subscription["id"],
            "subscriptionExpirationDateTime": _iso(subscription["expiration"]),
            "changeType": "created",
            "resource": f"Users/{mb.user_id}/Messages/{message.id}",
            "resourceData": {
                "@odata.type": "#Microsoft.Graph.Message",
                "@odata.id": f"Users/{mb.user_id}/Messages/{message.id}",
                "@odata.etag": f'W/"{secrets.token_hex(8)}"',
                "id": message.id,
            },
            "clientState": subscription["client_state"] or None,
            "tenantId": mb.tenant_id,
        }
        threading.Thread(
            target=_post,
            args=(ctx, subscription["notification_url"], {"value": [item]}),
            daemon=True,
        ).start()


def lifecycle(ctx: Context, mb: Mailbox, event: str) -> int:
    """Send `event` to each subscription of the mailbox (synchronously, for tests); a
    `subscriptionRemoved` also removes it, as Graph does. Returns how many were sent."""
    if event not in ("reauthorizationRequired", "subscriptionRemoved", "missed"):
        raise ValueError(f"unknown lifecycle event {event!r}")
    sent = 0
    for subscription in _live(ctx, mb):
        if not subscription["lifecycle_url"]:
            continue
        if event == "subscriptionRemoved":
            with ctx.store.lock:
                ctx.store.graph_subscriptions.pop(subscription["id"], None)
        _post(
            ctx,
            subscription["lifecycle_url"],
            {
                "value": [
                    {
                        "subscriptionId": subscription["id"],
                        "subscriptionExpirationDateTime": _iso(subscription["expiration"]),
                        "tenantId": mb.tenant_id,
                        "clientState": subscription["client_state"] or None,
                        "lifecycleEvent": event,
                    }
                ]
            },
        )
        sent += 1
    return sent
