"""Gmail push through Cloud Pub/Sub, as Google delivers it.

`users.watch` names a Pub/Sub topic; a push subscription of that topic (set with the control
API's `/pubsub/subscriptions`, as one is created in the Cloud console) has an endpoint, an
audience and a service account. While a mailbox's watch is live, each change to its INBOX is
published: the subscription POSTs `{"message": {"data": base64(json{emailAddress, historyId}),
"messageId", "publishTime"}, "subscription"}` to the endpoint with `Authorization: Bearer` an
OIDC token Google signs (RS256, the keys at /google/oauth2/v1/certs; iss
https://accounts.google.com, aud the audience, email the service account, email_verified).
A POST that fails is retried with a growing wait, as Pub/Sub does."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from typing import Any

from .httpcore import Context, deliver_with_retries, jwt_encode
from .state import Mailbox

WATCH_SECONDS = 7 * 24 * 3600  # Gmail's watch expires after 7 days
RETRY_WAITS = (0.5, 1.0, 2.0, 4.0)


def subscribe(
    ctx: Context, *, topic: str, endpoint: str, audience: str, service_account: str
) -> None:
    with ctx.store.lock:
        ctx.store.pubsub_subscriptions[topic] = {
            "endpoint": endpoint,
            "audience": audience or endpoint,
            "service_account": service_account,
            "name": f"projects/sandbox/subscriptions/{secrets.token_hex(4)}",
        }
        ctx.store.mark_dirty()


def oidc_token(ctx: Context, *, audience: str, service_account: str, lifetime: int = 3600) -> str:
    now = int(time.time())
    return jwt_encode(
        {
            "iss": "https://accounts.google.com",
            "aud": audience,
            "azp": f"{secrets.randbits(60)}",
            "sub": f"{secrets.randbits(60)}",
            "email": service_account,
            "email_verified": True,
            "iat": now,
            "exp": now + lifetime,
        },
        ctx.signer,
    )


def publish(ctx: Context, mb: Mailbox) -> None:
    """A change to `mb`'s INBOX: push it to the watch's topic subscription, in the background."""
    with ctx.store.lock:
        watch = mb.watch
        if not watch or watch["expiration"] < time.time() * 1000:
            return
        subscription = ctx.store.pubsub_subscriptions.get(watch["topic"])
        history_id = mb.seq
    if subscription is None:
        return
    data = json.dumps({"emailAddress": mb.email, "historyId": history_id}).encode()
    body = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "messageId": str(secrets.randbits(52)),
            "publishTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        },
        "subscription": subscription["name"],
    }
    threading.Thread(target=_push, args=(ctx, subscription, body), daemon=True).start()


def _push(ctx: Context, subscription: dict[str, str], body: dict[str, Any]) -> None:
    def headers() -> dict[str, str]:
        # A fresh OIDC token for each try, as Pub/Sub signs each delivery.
        token = oidc_token(
            ctx, audience=subscription["audience"], service_account=subscription["service_account"]
        )
        return {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    error = deliver_with_retries(
        subscription["endpoint"],
        json.dumps(body).encode(),
        headers=headers,
        waits=RETRY_WAITS,
        give_up_on_4xx=False,  # Pub/Sub retries every non-2xx until the message expires
    )
    with ctx.store.lock:
        if error:
            ctx.store.pubsub_failures.append(f"{subscription['endpoint']}: {error}")
        else:
            ctx.store.pubsub_delivered += 1
