"""Bounce tracking for SMTP channels behind an ESP: the ESP's webhook (parsed by django-anymail)
turns its bounced, complained and unsubscribed events into Bounces and suppressions.

End to end: Mailroom sends through the sandbox's SMTP acting as SendGrid / SparkPost / Mailgun,
the sandbox POSTs that ESP's documented webhook payload to Mailroom's live server, and the
bounce shows up tied to the email that caused it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from django.urls import reverse

from analytics.models import FeedEvent
from bounces.models import Bounce, EspEvent
from bounces.webhooks import esp_events_retry_due
from channels_app.models import DeliveryChannel
from channels_app.providers.esp import WEBHOOK_USERNAME
from channels_app.services import channel_esp_webhook_set
from outreach.models import Enrollment, OutboundEmail
from outreach.services import email_enqueue
from suppression.models import Suppression
from tests.factories import CampaignFactory, EnrollmentFactory, ProspectFactory
from tests.outreach.send_helpers import drain, smtp_channel, smtp_received

MAILGUN_KEY = "key-0123456789abcdef0123456789abcdef"


def _esp_channel(sandbox, org_admin, *, esp: str) -> DeliveryChannel:
    login, password = f"{esp}-{uuid.uuid4().hex[:8]}", "relay-password"
    sandbox.client.add_smtp_user(login, password)
    channel = smtp_channel(
        sandbox,
        organization=org_admin.organization,
        is_team_default=True,
        username=login,
        password=password,
    )
    return channel_esp_webhook_set(
        user=org_admin,
        channel=channel,
        esp=esp,
        signing_key=MAILGUN_KEY if esp == "mailgun" else "",
    )


def _webhook_url(base: str, channel: DeliveryChannel) -> str:
    path = reverse("esp_webhook", args=[channel.esp_webhook_key])
    if channel.esp == "mailgun":
        return base + path
    scheme, rest = base.split("://", 1)
    return f"{scheme}://{WEBHOOK_USERNAME}:{channel.esp_webhook_secret}@{rest}{path}"


def _wait_for_events(count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if EspEvent.objects.filter(processed_at__isnull=False).count() >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"only {EspEvent.objects.count()} of {count} ESP events arrived")


@pytest.mark.parametrize("esp", ["sendgrid", "sparkpost", "mailgun"])
def test_an_esp_reports_bounce_complaint_and_unsubscribe_by_webhook(
    esp, sandbox, live_server, rep, org_admin
):
    channel = _esp_channel(sandbox, org_admin, esp=esp)
    smtp_login = channel.username
    sandbox.client.set_esp_webhook(
        smtp_login,
        esp=esp,
        url=_webhook_url(live_server.url, channel),
        signing_key=MAILGUN_KEY if esp == "mailgun" else "",
    )
    org = rep.organization
    dead = ProspectFactory(organization=org, email="bounce.dana@northwind.test")
    campaign = CampaignFactory(organization=org, owner=rep)
    dead_enrollment = EnrollmentFactory(campaign=campaign, prospect=dead, sender=rep)
    complainer = ProspectFactory(organization=org, email="complaint.kim@northwind.test")
    leaver = ProspectFactory(organization=org, email="unsubscribe.lee@northwind.test")
    emails = {
        prospect.email: email_enqueue(
            sender=rep,
            to_address=prospect.email,
            subject="Quick question",
            body="Hi",
            prospect=prospect,
        )
        for prospect in (dead, complainer, leaver)
    }
    fine = email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hello")

    drain(channel)  # (in a live-server test the queue kick may already have sent them)

    _wait_for_events(3)

    # An ESP takes every recipient (nothing is refused at send time); its webhook tells later.
    assert not Bounce.objects.filter(source=Bounce.Source.SMTP_REJECT).exists()
    assert len(smtp_received(sandbox)) == 4

    bounce = Bounce.objects.get()
    assert bounce.source == Bounce.Source.WEBHOOK
    assert bounce.outbound_email == emails[dead.email]
    assert bounce.recipient == dead.email
    assert bounce.is_hard and bounce.reason == "user_unknown"
    assert bounce.status_code.startswith("5.")
    dead.refresh_from_db()
    dead_enrollment.refresh_from_db()
    assert dead.email_status == dead.EmailStatus.INVALID
    assert dead_enrollment.state == Enrollment.State.STOPPED_BOUNCED
    assert emails[dead.email].__class__.objects.get(pk=emails[dead.email].pk).status == (
        OutboundEmail.Status.BOUNCED
    )
    suppressed = dict(
        Suppression.objects.filter(organization=org, removed_at__isnull=True).values_list(
            "address", "reason"
        )
    )
    assert suppressed == {
        dead.email: Suppression.Reason.HARD_BOUNCE,
        complainer.email: Suppression.Reason.COMPLAINED,
        leaver.email: Suppression.Reason.UNSUBSCRIBED,
    }
    feed = set(FeedEvent.objects.filter(user=rep).values_list("kind", flat=True))
    assert {FeedEvent.Kind.BOUNCED, FeedEvent.Kind.COMPLAINED, FeedEvent.Kind.UNSUBSCRIBED} <= feed
    fine.refresh_from_db()
    assert fine.status == OutboundEmail.Status.SENT
    channel.refresh_from_db()
    assert channel.esp_last_event_at is not None


def test_the_esp_metadata_header_names_the_email(sandbox, org_admin, rep):
    channel = _esp_channel(sandbox, org_admin, esp="sparkpost")
    email = email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hello")

    drain(channel)

    [received] = smtp_received(sandbox)
    metadata = json.loads(received["X-MSYS-API"])["metadata"]
    assert metadata == {"mailroom_email": received["X-Mailroom-Email-Id"]}
    assert str(email.pk) in metadata["mailroom_email"]


def test_no_esp_header_without_an_esp(sandbox, rep):
    channel = smtp_channel(sandbox, owner=rep)
    email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hello")

    drain(channel)

    [received] = smtp_received(sandbox)
    assert received["X-SMTPAPI"] is None and received["X-MSYS-API"] is None


# --- what the endpoint refuses -----------------------------------------------------------------


def _sendgrid_bounce(email: OutboundEmail, event_id: str = "evt-1") -> list[dict]:
    return [
        {
            "email": email.to_address,
            "timestamp": int(time.time()),
            "smtp-id": email.message_id,
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 5.1.1 The email account that you tried to reach does not exist",
            "sg_event_id": event_id,
            "mailroom_email": "",
        }
    ]


def _basic(channel: DeliveryChannel, password: str | None = None) -> dict:
    secret = password if password is not None else channel.esp_webhook_secret
    token = base64.b64encode(f"{WEBHOOK_USERNAME}:{secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@pytest.fixture
def sendgrid_channel(sandbox, org_admin):
    return _esp_channel(sandbox, org_admin, esp="sendgrid")


@pytest.fixture
def sent_email(sendgrid_channel, rep):
    email = email_enqueue(
        sender=rep, to_address="gone@northwind.test", subject="Hello", body="Hi there"
    )
    drain(sendgrid_channel)
    email.refresh_from_db()
    return email


def _post(client, channel, body, **headers):
    return client.post(
        reverse("esp_webhook", args=[channel.esp_webhook_key]),
        data=body if isinstance(body, bytes | str) else json.dumps(body),
        content_type="application/json",
        **headers,
    )


def test_a_retried_post_counts_once(client, sendgrid_channel, sent_email):
    first = _post(
        client, sendgrid_channel, _sendgrid_bounce(sent_email), **_basic(sendgrid_channel)
    )
    again = _post(
        client, sendgrid_channel, _sendgrid_bounce(sent_email), **_basic(sendgrid_channel)
    )

    assert first.status_code == 200 and first.json()["stored"] == 1
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    bounce = Bounce.objects.get()
    assert bounce.outbound_email == sent_email  # tied by SendGrid's smtp-id (our Message-ID)
    assert bounce.matched_by == Bounce.MatchedBy.MESSAGE_ID


@pytest.mark.parametrize(
    "headers, status",
    [({}, 401), ("wrong", 401)],
    ids=["no credentials", "wrong password"],
)
def test_wrong_credentials_change_nothing(client, sendgrid_channel, sent_email, headers, status):
    auth = _basic(sendgrid_channel, password="guess") if headers == "wrong" else {}

    response = _post(client, sendgrid_channel, _sendgrid_bounce(sent_email), **auth)

    assert response.status_code == status
    assert not EspEvent.objects.exists() and not Bounce.objects.exists()


def test_an_unknown_url_is_404(client, sendgrid_channel, sent_email):
    response = client.post(
        reverse("esp_webhook", args=["not-a-key"]),
        data=json.dumps(_sendgrid_bounce(sent_email)),
        content_type="application/json",
        **_basic(sendgrid_channel),
    )

    assert response.status_code == 404
    assert not EspEvent.objects.exists()


def test_another_channels_credentials_do_not_open_this_one(
    client, sandbox, sendgrid_channel, sent_email, other_org_user
):
    other = _esp_channel(sandbox, other_org_user, esp="sendgrid")

    response = _post(client, sendgrid_channel, _sendgrid_bounce(sent_email), **_basic(other))

    assert response.status_code == 401
    assert not Bounce.objects.exists()


@pytest.mark.parametrize(
    "body",
    [b"not json at all", json.dumps({"event": "bounce"}), json.dumps([{"no": "fields"}]) + "]"],
    ids=["garbage", "an object, not SendGrid's array", "broken json"],
)
def test_a_body_of_garbage_is_400_and_stores_nothing(client, sendgrid_channel, body):
    response = _post(client, sendgrid_channel, body, **_basic(sendgrid_channel))

    assert response.status_code == 400
    assert response.json()["error"] == "bad_payload"
    assert not EspEvent.objects.exists()


def test_a_10_mb_body_is_refused(client, sendgrid_channel):
    body = json.dumps([{"event": "bounce", "email": "x@y.test", "pad": "x" * 10_000_000}])

    response = _post(client, sendgrid_channel, body, **_basic(sendgrid_channel))

    assert response.status_code == 413
    assert not EspEvent.objects.exists()


def test_delivered_and_opened_events_are_acknowledged_not_kept(
    client, sendgrid_channel, sent_email
):
    events = [
        {**_sendgrid_bounce(sent_email)[0], "event": "delivered", "sg_event_id": "d1"},
        {**_sendgrid_bounce(sent_email)[0], "event": "open", "sg_event_id": "o1"},
    ]

    response = _post(client, sendgrid_channel, events, **_basic(sendgrid_channel))

    assert response.status_code == 200 and response.json()["ignored"] == 2
    assert not EspEvent.objects.exists()


def test_an_event_that_fails_to_process_is_kept_and_retried(
    client, monkeypatch, sendgrid_channel, sent_email
):
    import bounces.webhooks as webhooks

    real = webhooks.bounce_effects_apply

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(webhooks, "bounce_effects_apply", broken)
    response = _post(
        client, sendgrid_channel, _sendgrid_bounce(sent_email), **_basic(sendgrid_channel)
    )

    # The ESP hears 200: the event is Mailroom's to retry, not the ESP's.
    assert response.status_code == 200 and response.json()["failed"] == 1
    stored = EspEvent.objects.get()
    assert stored.processed_at is None and "database hiccup" in stored.last_error
    assert not Bounce.objects.exists()

    monkeypatch.setattr(webhooks, "bounce_effects_apply", real)
    EspEvent.objects.update(next_attempt_at=None)
    assert esp_events_retry_due() == 1

    stored.refresh_from_db()
    assert stored.processed_at is not None and stored.last_error == ""
    sent_email.refresh_from_db()
    assert sent_email.status == OutboundEmail.Status.BOUNCED


# --- email settings ----------------------------------------------------------------------------


def test_the_admin_turns_the_webhook_on_and_sees_the_url_to_paste(client, sandbox, org_admin):
    channel = smtp_channel(sandbox, organization=org_admin.organization, is_team_default=True)
    client.force_login(org_admin)

    response = client.post(
        reverse("channel_esp_webhook", args=[channel.pk]), {"esp": "sendgrid"}, follow=True
    )

    channel.refresh_from_db()
    assert channel.esp == "sendgrid" and channel.esp_webhook_key
    page = response.content.decode()
    assert "Bounce webhook for SendGrid is on" in page
    path = reverse("esp_webhook", args=[channel.esp_webhook_key])
    assert f"{WEBHOOK_USERNAME}:{channel.esp_webhook_secret}@testserver{path}" in page


def test_mailgun_needs_its_signing_key(client, sandbox, org_admin):
    channel = smtp_channel(sandbox, organization=org_admin.organization, is_team_default=True)
    client.force_login(org_admin)

    response = client.post(
        reverse("channel_esp_webhook", args=[channel.pk]), {"esp": "mailgun"}, follow=True
    )

    channel.refresh_from_db()
    assert channel.esp == ""
    assert "Paste the webhook signing key Mailgun shows you" in response.content.decode()


def test_a_rep_cannot_set_or_see_the_team_webhook(client, sandbox, org_admin, rep):
    channel = _esp_channel(sandbox, org_admin, esp="sendgrid")
    client.force_login(rep)

    page = client.get(reverse("email_settings")).content.decode()
    response = client.post(reverse("channel_esp_webhook", args=[channel.pk]), {"esp": ""})

    assert channel.esp_webhook_secret not in page
    assert response.status_code in (403, 404)
    channel.refresh_from_db()
    assert channel.esp == "sendgrid"


def test_sendgrid_dropping_a_spam_reporting_address_is_a_complaint(
    client, sendgrid_channel, sent_email
):
    # SendGrid's `dropped` event names its cause only in `reason`: this address reported spam.
    event = {
        **_sendgrid_bounce(sent_email, event_id="drop-1")[0],
        "event": "dropped",
        "reason": "Spam Reporting Address",
    }

    response = _post(client, sendgrid_channel, [event], **_basic(sendgrid_channel))

    assert response.status_code == 200
    entry = Suppression.objects.get(address=sent_email.to_address, removed_at__isnull=True)
    assert entry.reason == Suppression.Reason.COMPLAINED
    assert not Bounce.objects.exists()


def test_sendgrid_dropping_an_address_that_bounced_before_is_a_hard_bounce(
    client, sendgrid_channel, sent_email
):
    # SendGrid drops every send to an address on its bounce list ("Bounced Address"): that
    # address will never be reached through it, so it is a hard bounce like any other.
    event = {
        **_sendgrid_bounce(sent_email, event_id="drop-2")[0],
        "event": "dropped",
        "reason": "Bounced Address",
    }
    del event["status"], event["type"]

    response = _post(client, sendgrid_channel, [event], **_basic(sendgrid_channel))

    assert response.status_code == 200
    bounce = Bounce.objects.get(outbound_email=sent_email)
    assert bounce.is_hard and bounce.reason == "user_unknown"
    assert bounce.diagnostic == "Bounced Address"


def _mailgun_signed(email: OutboundEmail, *, timestamp: int, token: str, event_id: str) -> dict:
    """A Mailgun 'failed' (permanent) event signed as Mailgun signs: HMAC-SHA256 of timestamp
    and token with the signing key. The signature covers those two only, not the event."""
    signature = hmac.new(
        MAILGUN_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "signature": {"timestamp": str(timestamp), "token": token, "signature": signature},
        "event-data": {
            "event": "failed",
            "severity": "permanent",
            "id": event_id,
            "timestamp": timestamp,
            "recipient": email.to_address,
            "message": {"headers": {"message-id": email.message_id.strip("<>")}},
            "delivery-status": {"code": 550, "message": "5.1.1 No such user"},
        },
    }


@pytest.fixture
def mailgun_channel(sandbox, org_admin):
    return _esp_channel(sandbox, org_admin, esp="mailgun")


def test_a_mailgun_signature_from_long_ago_is_refused_and_changes_nothing(
    client, mailgun_channel, rep
):
    """Mailgun's signature covers only its timestamp and token, so a captured one would sign any
    event forever: one older than a day (Mailgun stops retrying after 8 hours) is refused."""
    email = email_enqueue(sender=rep, to_address="gone@northwind.test", subject="Hi", body="Hi")
    drain(mailgun_channel)
    old = int(time.time()) - 2 * 86400

    response = _post(
        client, mailgun_channel, _mailgun_signed(email, timestamp=old, token="t" * 50, event_id="a")
    )

    assert response.status_code == 401
    assert response.json()["error"] == "stale_signature"
    assert not EspEvent.objects.exists() and not Bounce.objects.exists()


def test_a_mailgun_signature_used_once_is_not_accepted_for_another_event(
    client, mailgun_channel, rep
):
    email = email_enqueue(sender=rep, to_address="gone@northwind.test", subject="Hi", body="Hi")
    drain(mailgun_channel)
    now = int(time.time())
    first = _post(
        client, mailgun_channel, _mailgun_signed(email, timestamp=now, token="u" * 50, event_id="a")
    )
    assert first.status_code == 200 and first.json()["stored"] == 1

    # The same signature with other event data: a replay, not Mailgun.
    replay = _post(
        client, mailgun_channel, _mailgun_signed(email, timestamp=now, token="u" * 50, event_id="b")
    )

    assert replay.status_code == 401 and replay.json()["error"] == "replayed_signature"
    assert EspEvent.objects.count() == 1
