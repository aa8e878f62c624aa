"""No bounce is ever dropped: a message the poller could not fetch or process is never skipped
silently. Each case counts Bounce rows: a Gmail 403 rate limit and a 5xx on the message fetch,
a message the provider refuses to hand over, and a crash while processing all end with the
bounce recorded once."""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from bounces.models import Bounce, InboxMessage
from bounces.polling import channel_poll
from bounces.selectors import inbox_messages_unreadable
from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail
from tests.bounces.poll_helpers import PROVIDER, connect, send
from tests.factories import OutboundEmailFactory, ProspectFactory

Kind = DeliveryChannel.Kind
RAW_ENDPOINT = {Kind.GMAIL: "gmail.messages.get", Kind.EXCHANGE_ONLINE: "graph.messages.value"}


def _poll(channel):
    report = channel_poll(channel_id=channel.pk)
    channel.refresh_from_db()
    return report


def _bounced_email(sandbox, rep, kind, address="bounce.ana@acme-prospect.test"):
    """A connected mailbox (first sync done) and an email whose bounce now waits in it."""
    channel = connect(sandbox, owner=rep, kind=kind)
    assert _poll(channel).outcome == "ok"
    prospect = ProspectFactory(organization=rep.organization, owner=rep, email=address)
    email = OutboundEmailFactory(
        sender=rep,
        prospect=prospect,
        status=OutboundEmail.Status.SENDING,
        sent_at=None,
        message_id=None,
    )
    send(channel, email)
    return channel, email


def _cursor(channel):
    return channel.gmail_history_id, channel.graph_delta_link


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (Kind.GMAIL, 403),  # the sandbox answers userRateLimitExceeded, as Google does
        (Kind.GMAIL, 503),
        (Kind.GMAIL, 500),
        (Kind.EXCHANGE_ONLINE, 503),
        (Kind.EXCHANGE_ONLINE, 504),
    ],
)
def test_a_transient_fetch_error_keeps_the_cursor_and_loses_no_bounce(sandbox, rep, kind, status):
    channel, email = _bounced_email(sandbox, rep, kind)
    before = _cursor(channel)
    sandbox.client.add_fault(
        PROVIDER[kind], channel.mailbox_address, status, endpoint=RAW_ENDPOINT[kind]
    )

    report = _poll(channel)

    assert report.outcome == "backoff"  # not "ok" with the message skipped
    assert _cursor(channel) == before  # the cursor did not move past the unstored message
    assert Bounce.objects.count() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert _poll(channel).outcome == "ok"
    assert Bounce.objects.filter(outbound_email=email).count() == 1


def test_gmail_403_rate_limit_is_read_as_a_rate_limit(sandbox, rep):
    channel, _ = _bounced_email(sandbox, rep, Kind.GMAIL)
    sandbox.client.add_fault("google", channel.mailbox_address, 403, retry_after=90)
    _poll(channel)
    assert channel.last_poll_result.startswith("Rate limited")
    wait = (channel.poll_backoff_until - timezone.now()).total_seconds()
    assert 80 < wait <= 91


def test_a_message_the_provider_refuses_is_kept_and_fetched_again(sandbox, rep):
    """A 404 (say) on the fetch: the message is stored without its MIME, listed as unreadable,
    the cursor moves on, and the next due retry fetches it."""
    channel, email = _bounced_email(sandbox, rep, Kind.GMAIL)
    sandbox.client.add_fault("google", channel.mailbox_address, 404, endpoint="gmail.messages.get")

    assert _poll(channel).outcome == "ok"

    [message] = inbox_messages_unreadable()
    assert message.raw is None and "Could not fetch" in message.last_error
    assert Bounce.objects.count() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert _poll(channel).outcome == "ok"
    assert Bounce.objects.filter(outbound_email=email).count() == 1
    assert not inbox_messages_unreadable().exists()


def _crash_once(monkeypatch):
    from bounces import services

    real, crashed = services.classify_message, []

    def crash_once(raw: bytes):
        if not crashed:
            crashed.append(raw)
            raise RuntimeError("classifier bug")
        return real(raw)

    monkeypatch.setattr(services, "classify_message", crash_once)


@pytest.mark.parametrize("kind", [Kind.GMAIL, Kind.EXCHANGE_ONLINE])
def test_a_crash_while_processing_loses_no_bounce(sandbox, rep, monkeypatch, kind):
    channel, email = _bounced_email(sandbox, rep, kind)
    _crash_once(monkeypatch)

    assert _poll(channel).outcome == "ok"

    assert Bounce.objects.count() == 0
    [message] = inbox_messages_unreadable()
    assert message.attempts == 1 and "classifier bug" in message.last_error
    assert _poll(channel).messages_processed == 0  # waits for its backoff, no hot loop
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        assert _poll(channel).messages_processed == 1
    assert Bounce.objects.filter(outbound_email=email).count() == 1
    message.refresh_from_db()
    assert message.processed_at is not None and message.last_error == ""


def test_bounces_reprocess_replays_unreadable_messages_at_once(sandbox, rep, monkeypatch, capsys):
    channel, email = _bounced_email(sandbox, rep, Kind.GMAIL)
    _crash_once(monkeypatch)
    _poll(channel)
    assert Bounce.objects.count() == 0

    call_command("bounces_reprocess", "--channel", str(channel.pk))

    assert "Processed 1 of 1" in capsys.readouterr().out
    assert Bounce.objects.filter(outbound_email=email).count() == 1
    call_command("bounces_reprocess", "--all")
    assert "No unreadable messages." in capsys.readouterr().out


def test_bounces_reprocess_fetches_a_message_stored_without_its_mime(sandbox, rep):
    channel, email = _bounced_email(sandbox, rep, Kind.EXCHANGE_ONLINE)
    sandbox.client.add_fault(
        "microsoft", channel.mailbox_address, 404, endpoint="graph.messages.value"
    )
    _poll(channel)
    [message] = inbox_messages_unreadable()

    call_command("bounces_reprocess", "--id", str(message.pk))

    assert Bounce.objects.filter(outbound_email=email).count() == 1


def test_bounces_reprocess_says_when_a_message_still_fails(sandbox, rep, monkeypatch):
    from bounces import services

    channel, _ = _bounced_email(sandbox, rep, Kind.GMAIL)
    monkeypatch.setattr(services, "classify_message", lambda raw: 1 / 0)
    _poll(channel)

    with pytest.raises(CommandError, match="still fail"):
        call_command("bounces_reprocess", "--all")
    message = InboxMessage.objects.get()
    assert message.processed_at is None and message.attempts == 2  # kept, never dropped


def test_admin_lists_unreadable_messages_and_reprocesses_them(
    sandbox, rep, monkeypatch, admin_client
):
    channel, email = _bounced_email(sandbox, rep, Kind.GMAIL)
    _crash_once(monkeypatch)
    _poll(channel)
    message = InboxMessage.objects.get()
    url = "/admin/bounces/inboxmessage/"

    page = admin_client.get(url, {"processing": "unreadable"})
    assert page.status_code == 200
    assert "classifier bug" in page.content.decode()

    response = admin_client.post(
        url, {"action": "reprocess", "_selected_action": [message.pk]}, follow=True
    )
    assert "Processed 1 message(s); 0 still failing" in response.content.decode()
    assert Bounce.objects.filter(outbound_email=email).count() == 1
    assert (
        "classifier bug" not in admin_client.get(url, {"processing": "unreadable"}).content.decode()
    )


def test_a_grant_without_read_access_asks_for_a_reconnect(sandbox, rep):
    """Google's 403 insufficientPermissions is its own error: the mailbox needs reconnecting,
    with the reason, rather than failing every poll while it shows connected."""
    from django.conf import settings

    scopes = ["openid", "email", "https://www.googleapis.com/auth/gmail.send"]
    grant = sandbox.client.grant(
        "google", rep.email, client_id=settings.MAILROOM_GOOGLE_CLIENT_ID, scopes=scopes
    )
    channel = DeliveryChannel.objects.create(
        organization=rep.organization,
        owner=rep,
        kind=Kind.GMAIL,
        mailbox_address=rep.email,
        access_token=grant["access_token"],
        refresh_token=grant["refresh_token"],
        token_expires_at=timezone.now() + timedelta(seconds=3000),
        scopes=" ".join(scopes),
    )

    report = _poll(channel)

    assert report.outcome == "reconnect"
    assert channel.status == DeliveryChannel.Status.NEEDS_RECONNECT
    assert "bounce tracking needs read access" in channel.last_error
