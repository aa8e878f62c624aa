"""Exchange On-Prem bounce and reply tracking through EWS (issue 16 item 6), against the
sandbox's Exchange: the inbox is followed with SyncFolderItems (exchangelib), the sync state
the cursor; a bounce becomes a Bounce of the email and a feed event, a state Exchange forgot
starts a new sync that records nothing twice, and an error leaves the cursor where it was."""

from __future__ import annotations

import pytest

from analytics.models import FeedEvent
from bounces.idle import MailboxStreamer, stream_channels
from bounces.models import Bounce, InboxMessage
from bounces.polling import channel_ids_due, channel_poll
from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail
from outreach.services import email_enqueue
from tests.bounces.test_imap_idle import _until
from tests.channels_app.test_exchange_onprem import PASSWORD, onprem_channel
from tests.outreach.send_helpers import drain


@pytest.fixture
def exchange(sandbox, rep):
    sandbox.client.add_ews_user(rep.email, PASSWORD, username="ACME\\rep")
    return sandbox


def _bounced_send(rep, channel, to):
    """An email Exchange accepts and then bounces into the sender's inbox (an NDR)."""
    email = email_enqueue(sender=rep, to_address=to, subject="Quick idea", body="Hi")
    drain(channel)  # (with real transactions the queued task may have sent it already)
    email.refresh_from_db()
    assert email.status in (OutboundEmail.Status.SENT, OutboundEmail.Status.BOUNCED)
    return email


def poll(channel):
    report = channel_poll(channel_id=channel.pk, ignore_backoff=True)
    channel.refresh_from_db()
    return report


def test_an_exchange_ndr_becomes_a_bounce_of_the_email_in_the_feed(rep, exchange):
    channel = onprem_channel(exchange, rep)
    assert channel.pk in list(channel_ids_due())
    assert poll(channel).outcome == "ok"  # the first sync: the state is set
    assert channel.ews_sync_state

    email = _bounced_send(rep, channel, "bounce.jamie@northwind.test")
    report = poll(channel)

    assert report.outcome == "ok", report.detail
    bounce = Bounce.objects.get(outbound_email=email)
    assert bounce.is_hard
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.BOUNCED
    assert FeedEvent.objects.filter(user=rep, kind=FeedEvent.Kind.BOUNCED).exists()
    # Read-only: nothing was marked read, moved or deleted.
    assert exchange.client.mutation_attempts("exchange", rep.email) == []

    again = poll(channel)
    assert again.outcome == "ok" and again.messages_seen == 0 and again.api_calls == 1


def test_a_sync_state_exchange_forgot_starts_over_without_recording_twice(rep, exchange):
    channel = onprem_channel(exchange, rep)
    poll(channel)
    first = _bounced_send(rep, channel, "bounce.ana@northwind.test")
    poll(channel)
    assert Bounce.objects.filter(outbound_email=first).count() == 1
    second = _bounced_send(rep, channel, "bounce.bo@northwind.test")

    exchange.client.expire_delta("exchange", rep.email)
    report = poll(channel)

    assert report.outcome == "ok", report.detail
    assert report.resynced
    assert Bounce.objects.filter(outbound_email=first).count() == 1
    assert Bounce.objects.filter(outbound_email=second).count() == 1
    assert InboxMessage.objects.filter(channel=channel).count() == 2


def test_an_exchange_error_keeps_the_cursor_and_loses_nothing(rep, exchange):
    channel = onprem_channel(exchange, rep)
    poll(channel)
    state = channel.ews_sync_state
    email = _bounced_send(rep, channel, "bounce.cy@northwind.test")
    exchange.client.add_fault(
        "exchange", rep.email, 500, endpoint="ews.GetItem", code="ErrorInternalServerError"
    )

    failed = poll(channel)

    assert failed.outcome != "ok"
    assert channel.ews_sync_state == state  # the page was not stored: the cursor stays
    assert not Bounce.objects.filter(outbound_email=email).exists()
    assert poll(channel).outcome == "ok"
    assert Bounce.objects.filter(outbound_email=email).count() == 1


def test_a_refused_login_fails_the_poll_with_exchanges_words(rep, exchange):
    channel = onprem_channel(exchange, rep, password="not-it")

    report = poll(channel)

    assert report.outcome == "failed"
    assert "Exchange refused the username or password" in channel.last_poll_result


@pytest.mark.django_db(transaction=True)
def test_the_ews_stream_brings_a_bounce_to_the_feed_without_a_poll_cycle(rep, exchange):
    """`manage.py imap_idle` holds an EWS streaming subscription on the Inbox (Subscribe,
    GetStreamingEvents): an NDR that arrives runs the mailbox's ordinary sync at once, and while
    the stream is up the mailbox is polled only as the safety net."""
    channel = onprem_channel(exchange, rep)
    poll(channel)
    streamer = MailboxStreamer(channel.pk, stream_channels()[channel.pk]).start()
    try:
        assert _until(lambda: DeliveryChannel.objects.get(pk=channel.pk).push_active)
        assert channel.pk not in list(channel_ids_due())
        first = _bounced_send(rep, channel, "bounce.dee@northwind.test")
        assert _until(lambda: Bounce.objects.filter(outbound_email=first).exists())
        # The first may have been taken by the streamer's own catch-up sync; this one can only
        # have been heard through the stream.
        second = _bounced_send(rep, channel, "bounce.eve@northwind.test")
        assert _until(lambda: Bounce.objects.filter(outbound_email=second).exists())
        assert _until(lambda: streamer.events >= 1)
        assert DeliveryChannel.objects.get(pk=channel.pk).push_last_event_at is not None
    finally:
        streamer.stop()
    # It ended at the stream's next keep-alive (not after the 30-minute connection), handing its
    # session back to the mailbox's sends.
    assert not streamer.thread.is_alive()
    channel.refresh_from_db()
    assert not channel.push_active  # back on the polling cycle at once
    assert channel.pk in list(channel_ids_due())
