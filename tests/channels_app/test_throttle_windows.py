"""Per-mailbox throttling (README, "Sending"), with the clock moved by time-machine: the limits
hold, throttled mail shows the next window and goes out by itself when it opens, one-off mail
goes ahead of campaign steps, and protected mailboxes hold campaign steps back."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from analytics.models import FeedEvent
from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail
from outreach.services import email_enqueue
from tests.factories import CampaignStepFactory, EnrollmentFactory
from tests.outreach.send_helpers import drain, mailbox_sent, oauth_channel

Kind = DeliveryChannel.Kind
Status = OutboundEmail.Status


def _queue(rep, count, prefix="p"):
    return [
        email_enqueue(sender=rep, to_address=f"{prefix}{i}@customer.test", subject="Hi", body="Hi")
        for i in range(count)
    ]


def _statuses(emails):
    for email in emails:
        email.refresh_from_db()
    return [email.status for email in emails]


def test_gmail_sends_at_most_two_a_second_and_the_rest_go_when_the_window_opens(sandbox, rep):
    channel = oauth_channel(sandbox, owner=rep, kind=Kind.GMAIL)
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        emails = _queue(rep, 5)
        result = drain(channel)
        assert result.sent == 2
        assert result.next_run_at == start + timedelta(seconds=1)
        assert _statuses(emails).count(Status.SENT) == 2
        waiting = [e for e in emails if e.status == Status.THROTTLED]
        assert len(waiting) == 3
        assert all(e.next_attempt_at == start + timedelta(seconds=1) for e in waiting)
        assert "2 messages a second" in waiting[0].waiting_reason
    with time_machine.travel(start + timedelta(seconds=1), tick=False):
        assert drain(channel).sent == 2
    with time_machine.travel(start + timedelta(seconds=2), tick=False):
        assert drain(channel).sent == 1
    assert _statuses(emails) == [Status.SENT] * 5
    assert len(mailbox_sent(sandbox, "google", rep.email)) == 5
    # Per-second pacing is ordinary: no feed noise.
    assert not FeedEvent.objects.filter(kind="throttled").exists()


def test_daily_limit_is_a_rolling_24_hours_and_waiting_mail_is_never_dropped(sandbox, rep):
    channel = oauth_channel(sandbox, owner=rep, kind=Kind.GMAIL, daily_limit=3)
    start = timezone.now().replace(microsecond=0)
    for hour in range(3):  # one email at 00:00, 01:00, 02:00
        with time_machine.travel(start + timedelta(hours=hour), tick=False):
            _queue(rep, 1, prefix=f"h{hour}-")
            assert drain(channel).sent == 1
    with time_machine.travel(start + timedelta(hours=5), tick=False):
        late = _queue(rep, 2, prefix="late")
        assert drain(channel).sent == 0
        _statuses(late)
        assert {e.status for e in late} == {Status.THROTTLED}
        # The window opens when the 00:00 send leaves the trailing 24 hours.
        assert late[0].next_attempt_at == start + timedelta(hours=24)
        event = FeedEvent.objects.get(user=rep, kind="throttled")
        assert "next send window" in event.title
        drain(channel)  # another look changes nothing and records no second event
        assert FeedEvent.objects.filter(user=rep, kind="throttled").count() == 1
    with time_machine.travel(start + timedelta(hours=24), tick=False):
        assert drain(channel).sent == 1
        _statuses(late)
        assert late[1].next_attempt_at == start + timedelta(hours=25)
    with time_machine.travel(start + timedelta(hours=25), tick=False):
        assert drain(channel).sent == 1
    assert _statuses(late) == [Status.SENT, Status.SENT]


def test_exchange_online_sends_at_most_thirty_a_minute(sandbox, rep):
    channel = oauth_channel(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        emails = _queue(rep, 32)
        assert drain(channel).sent == 30
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        assert drain(channel).sent == 0
    with time_machine.travel(start + timedelta(seconds=60), tick=False):
        assert drain(channel).sent == 2
    assert set(_statuses(emails)) == {Status.SENT}


def test_team_rate_is_applied_under_the_provider_limits(sandbox, rep):
    rep.team.send_rate_emails, rep.team.send_rate_seconds = 3, 600
    rep.team.save()
    channel = oauth_channel(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        emails = _queue(rep, 4)
        assert drain(channel).sent == 3
        emails[3].refresh_from_db()
        assert emails[3].status == Status.THROTTLED
        assert emails[3].next_attempt_at == start + timedelta(seconds=600)
        assert "team rate" in emails[3].waiting_reason


def _campaign_email(rep, channel, step, minutes_ago):
    enrollment = EnrollmentFactory(
        campaign=step.campaign,
        sender=rep,
        state="active",
        next_step=step,
        next_due_at=timezone.now(),
    )
    return OutboundEmail.objects.create(
        organization=rep.organization,
        sender=rep,
        prospect=enrollment.prospect,
        to_address=enrollment.prospect.email,
        subject="Step",
        body="Step",
        enrollment=enrollment,
        campaign_step=step,
        priority=OutboundEmail.Priority.CAMPAIGN,
        status=Status.QUEUED,
        channel=channel,
        channel_kind=channel.kind,
        message_id=f"<camp-{enrollment.pk}@acme.test>",
        next_attempt_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_one_off_mail_goes_ahead_of_campaign_steps_in_the_same_queue(sandbox, rep):
    channel = oauth_channel(sandbox, owner=rep, kind=Kind.GMAIL)
    step = CampaignStepFactory(campaign__owner=rep)
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        campaign = [_campaign_email(rep, channel, step, minutes_ago=10 - i) for i in range(3)]
        [one_off] = _queue(rep, 1)  # queued last
        assert drain(channel).sent == 2
        one_off.refresh_from_db()
        assert one_off.status == Status.SENT
        assert _statuses(campaign) == [Status.SENT, Status.THROTTLED, Status.THROTTLED]


def test_protected_mailbox_holds_campaign_steps_but_one_off_mail_still_goes(sandbox, rep):
    channel = oauth_channel(sandbox, owner=rep, kind=Kind.GMAIL)
    channel.campaigns_paused_at = timezone.now()
    channel.save(update_fields=["campaigns_paused_at"])
    step = CampaignStepFactory(campaign__owner=rep)
    campaign_email = _campaign_email(rep, channel, step, minutes_ago=5)
    [one_off] = _queue(rep, 1)

    drain(channel)

    one_off.refresh_from_db()
    campaign_email.refresh_from_db()
    assert one_off.status == Status.SENT
    assert campaign_email.status == Status.QUEUED
    assert len(mailbox_sent(sandbox, "google", rep.email)) == 1
