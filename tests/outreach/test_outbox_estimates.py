"""Throttled rows each show their own estimate — their place in the mailbox's queue and the
window — instead of the same next window for all."""

import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from channels_app.sending.limits import queue_estimates
from outreach.models import OutboundEmail
from tests.factories import DeliveryChannelFactory, OutboundEmailFactory


def _throttled_backlog(rep, count, opens_at):
    channel = DeliveryChannelFactory(owner=rep, mailbox_address=rep.email)
    return channel, [
        OutboundEmailFactory(
            sender=rep,
            channel=channel,
            status=OutboundEmail.Status.THROTTLED,
            sent_at=None,
            next_attempt_at=opens_at,
        )
        for _ in range(count)
    ]


def test_a_backlog_behind_the_team_rate_spreads_over_the_windows(rep, team):
    team.send_rate_emails, team.send_rate_seconds = 20, 60
    team.save()
    opens_at = timezone.now() + timedelta(seconds=30)
    _, emails = _throttled_backlog(rep, 51, opens_at)

    estimates = queue_estimates(emails=emails, now=timezone.now())

    assert [estimates[e.id].position for e in emails] == list(range(1, 52))
    waits = [(estimates[e.id].at - opens_at).total_seconds() for e in emails]
    # Gmail's two a second spreads each minute's twenty over ten seconds; the team rate of
    # twenty a minute moves the next twenty a minute later.
    assert waits[:20] == [n // 2 for n in range(20)]
    assert waits[20:40] == [60] * 20
    assert waits[40:] == [120] * 11
    assert "team rate" in estimates[emails[-1].id].pace


def test_an_unthrottled_smtp_channel_has_no_estimate(rep):
    channel = DeliveryChannelFactory(owner=rep, kind="custom_smtp", host="smtp.example.test")
    email = OutboundEmailFactory(
        sender=rep, channel=channel, status=OutboundEmail.Status.QUEUED, sent_at=None
    )
    assert queue_estimates(emails=[email], now=timezone.now()) == {}


def test_the_outbox_shows_three_different_times_for_a_backlog_of_fifty_one(client, rep, team):
    team.send_rate_emails, team.send_rate_seconds = 20, 60
    team.save()
    _throttled_backlog(rep, 51, timezone.now() + timedelta(seconds=30))
    client.force_login(rep)

    page = client.get(reverse("outbox")).content.decode()

    times = re.findall(r"about (\d{4}-\d\d-\d\d \d\d:\d\d)", page)
    assert len(times) == 50  # one page
    assert len(set(times)) == 3
    assert re.search(r"Number \d+ in this mailbox(&#x27;|')s queue; the team rate", page)
