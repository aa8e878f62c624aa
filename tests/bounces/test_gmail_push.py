"""Gmail push (issue 16 items 1 and 3): users.watch on the INBOX, Pub/Sub's signed push to
Mailroom's endpoint, the mailbox's sync at once; polling only as the safety net."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from bounces.models import Bounce
from bounces.polling import channel_ids_due, channel_poll
from channels_app.models import DeliveryChannel
from channels_app.push import channel_push_start, channels_push_renew_due
from channels_app.services import channel_disconnect
from outreach.services import email_enqueue
from sandbox import pubsub
from sandbox.httpcore import jwt_encode
from tests.bounces.poll_helpers import connect
from tests.outreach.send_helpers import choose, drain

TOPIC = "projects/mailroom-test/topics/gmail-push"
SERVICE_ACCOUNT = "gmail-push@mailroom-test.iam.gserviceaccount.com"
AUDIENCE = "http://testserver/webhooks/gmail/push/"
Kind = DeliveryChannel.Kind


@pytest.fixture
def push_settings():
    with override_settings(
        MAILROOM_GMAIL_PUSH_TOPIC=TOPIC,
        MAILROOM_GMAIL_PUSH_AUDIENCE=AUDIENCE,
        MAILROOM_GMAIL_PUSH_SERVICE_ACCOUNT=SERVICE_ACCOUNT,
    ):
        yield


@pytest.fixture
def watched(sandbox, rep, push_settings):
    """A connected Gmail mailbox, synced once, with push started."""
    sandbox.client.pubsub_subscribe(
        TOPIC, endpoint="http://127.0.0.1:9/unused", service_account=SERVICE_ACCOUNT
    )
    channel = choose(rep, connect(sandbox, owner=rep, kind=Kind.GMAIL))
    channel_poll(channel_id=channel.pk)
    assert channel_push_start(channel=channel)
    channel.refresh_from_db()
    return channel


def _push_body(address: str, history_id: int) -> bytes:
    data = json.dumps({"emailAddress": address, "historyId": history_id}).encode()
    return json.dumps(
        {
            "message": {"data": base64.b64encode(data).decode(), "messageId": "1"},
            "subscription": "projects/mailroom-test/subscriptions/s",
        }
    ).encode()


def _token(sandbox, *, audience=AUDIENCE, service_account=SERVICE_ACCOUNT) -> str:
    return pubsub.oidc_token(sandbox.context, audience=audience, service_account=service_account)


def _forged_token() -> str:
    """Right claims, signed by a key that is not Google's."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    now = int(time.time())
    header = b64(json.dumps({"alg": "RS256", "kid": "forged", "typ": "JWT"}).encode())
    claims = b64(
        json.dumps(
            {
                "iss": "https://accounts.google.com",
                "aud": AUDIENCE,
                "email": SERVICE_ACCOUNT,
                "email_verified": True,
                "iat": now,
                "exp": now + 600,
            }
        ).encode()
    )
    signature = key.sign(f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{claims}.{b64(signature)}"


def _post(client, body: bytes, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(reverse("gmail_push"), data=body, content_type="application/json", **headers)


def test_watch_starts_on_the_inbox_with_the_topic(sandbox, watched):
    watches = sandbox.client.pubsub()["watches"]

    assert watches[watched.mailbox_address]["topic"] == TOPIC
    assert watched.push_active
    assert watched.push_expires_at > timezone.now() + timedelta(days=6)


def test_a_bounce_reaches_mailroom_by_push_within_seconds(sandbox, live_server, rep, push_settings):
    audience = f"{live_server.url}/webhooks/gmail/push/"
    sandbox.client.pubsub_subscribe(TOPIC, endpoint=audience, service_account=SERVICE_ACCOUNT)
    with override_settings(MAILROOM_GMAIL_PUSH_AUDIENCE=audience):
        channel = choose(rep, connect(sandbox, owner=rep, kind=Kind.GMAIL))
        channel_poll(channel_id=channel.pk)
        assert channel_push_start(channel=channel)
        email = email_enqueue(
            sender=rep, to_address="bounce.jamie@northwind.test", subject="Hi", body="Hello"
        )
        drain(channel)

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not Bounce.objects.exists():
            time.sleep(0.1)

    bounce = Bounce.objects.get()
    assert bounce.outbound_email == email
    assert sandbox.client.pubsub()["delivered"] >= 1
    channel.refresh_from_db()
    assert channel.push_last_event_at is not None


def test_a_burst_of_pushes_costs_one_sync(sandbox, client, watched, monkeypatch):
    import bounces.tasks as tasks

    queued = []
    monkeypatch.setattr(
        tasks.channel_poll_pushed, "apply_async", lambda args, **kw: queued.append(args)
    )
    sandbox.client.reset_calls("google", watched.mailbox_address)
    body = _push_body(watched.mailbox_address, watched.gmail_history_id + 5)

    answers = {_post(client, body, _token(sandbox)).status_code for _ in range(20)}
    assert answers == {204} and len(queued) == 1
    tasks.channel_poll_pushed.apply(queued[0])

    assert sandbox.client.calls("google", watched.mailbox_address).get("gmail.history.list") == 1
    # A push once that sync has started queues a sync of its own: no change waits an hour.
    _post(client, body, _token(sandbox))
    assert len(queued) == 2


@pytest.mark.parametrize(
    "token",
    ["none", "forged", "other audience", "other service account", "expired"],
)
def test_a_push_without_googles_token_for_this_subscription_is_refused(
    sandbox, client, watched, token
):
    sandbox.client.reset_calls("google", watched.mailbox_address)
    value = {
        "none": None,
        "forged": _forged_token(),
        "other audience": _token(sandbox, audience="https://evil.test/push"),
        "other service account": _token(sandbox, service_account="me@evil.test"),
        "expired": jwt_encode(
            {
                "iss": "https://accounts.google.com",
                "aud": AUDIENCE,
                "email": SERVICE_ACCOUNT,
                "email_verified": True,
                "iat": int(time.time()) - 7200,
                "exp": int(time.time()) - 3600,
            },
            sandbox.context.signer,
        ),
    }[token]

    response = _post(client, _push_body(watched.mailbox_address, 10**9), value)

    assert response.status_code == 401
    assert sandbox.client.calls("google", watched.mailbox_address).get("gmail.history.list") is None


@pytest.mark.parametrize("case", ["unknown mailbox", "old history id", "disconnected"])
def test_a_push_that_tells_nothing_new_is_acknowledged_and_ignored(
    sandbox, client, watched, rep, case
):
    address, history_id = watched.mailbox_address, watched.gmail_history_id + 5
    if case == "unknown mailbox":
        address = "nobody@acme.test"
    elif case == "old history id":
        history_id = watched.gmail_history_id
    else:
        channel_disconnect(user=rep, channel=watched)
    sandbox.client.reset_calls("google", watched.mailbox_address)

    response = _post(client, _push_body(address, history_id), _token(sandbox))

    assert response.status_code == 204
    assert sandbox.client.calls("google", watched.mailbox_address).get("gmail.history.list") is None


def test_garbage_with_a_valid_token_is_refused(sandbox, client, watched):
    response = _post(client, b"{not json", _token(sandbox))

    assert response.status_code == 401


def test_a_live_push_makes_polling_rare_and_a_lapsed_one_restores_it(watched):
    now = timezone.now()
    DeliveryChannel.objects.filter(pk=watched.pk).update(last_polled_at=now - timedelta(minutes=6))

    assert watched.pk not in set(channel_ids_due(now=now))
    # The safety net: an hour after the last poll it is polled anyway.
    assert watched.pk in set(channel_ids_due(now=now + timedelta(minutes=55)))
    # A watch that lapsed, or failed, puts it back on the normal interval by itself.
    DeliveryChannel.objects.filter(pk=watched.pk).update(push_expires_at=now - timedelta(seconds=1))
    assert watched.pk in set(channel_ids_due(now=now))
    DeliveryChannel.objects.filter(pk=watched.pk).update(
        push_expires_at=now + timedelta(days=3), push_error="Push could not start: 403"
    )
    assert watched.pk in set(channel_ids_due(now=now))


def test_watches_are_renewed_a_day_ahead_and_started_where_missing(sandbox, watched, rep):
    DeliveryChannel.objects.filter(pk=watched.pk).update(
        push_expires_at=timezone.now() + timedelta(hours=5)
    )

    assert channels_push_renew_due() == 1

    watched.refresh_from_db()
    assert watched.push_expires_at > timezone.now() + timedelta(days=6)


def test_watch_refused_for_a_topic_gmail_cannot_publish_to_keeps_polling(sandbox, rep):
    with override_settings(
        MAILROOM_GMAIL_PUSH_TOPIC="projects/other/topics/not-granted",
        MAILROOM_GMAIL_PUSH_SERVICE_ACCOUNT=SERVICE_ACCOUNT,
    ):
        channel = choose(rep, connect(sandbox, owner=rep, kind=Kind.GMAIL))
        assert not channel_push_start(channel=channel)

    channel.refresh_from_db()
    assert not channel.push_active and "not authorized" in channel.push_error
    assert channel.pk in set(channel_ids_due())


def test_disconnect_stops_the_watch(sandbox, watched, rep):
    channel_disconnect(user=rep, channel=watched)

    assert watched.mailbox_address not in sandbox.client.pubsub()["watches"]
