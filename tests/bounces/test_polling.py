"""Bounce and reply tracking end to end through the local sandbox: a rep sends, the sandbox's
"outside world" drops a bounce (or reply) into the rep's inbox, the poll finds it."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from analytics.models import FeedEvent
from bounces import polling
from bounces.models import Bounce, InboxMessage
from bounces.polling import channel_poll, channels_poll_fan_out
from channels_app.models import DeliveryChannel
from outreach.email_token import email_header_token
from outreach.models import Enrollment, OutboundEmail, Prospect
from tests.bounces.poll_helpers import PROVIDER, connect, dsn_for, send
from tests.factories import (
    CampaignStepFactory,
    EnrollmentFactory,
    OutboundEmailFactory,
    ProspectFactory,
    UserFactory,
)

Kind = DeliveryChannel.Kind
BOTH = pytest.mark.parametrize("kind", [Kind.GMAIL, Kind.EXCHANGE_ONLINE])


@pytest.fixture
def enrolled(rep):
    """A prospect in an active campaign, and the email of its first step (not sent yet)."""

    def make(address: str):
        prospect = ProspectFactory(organization=rep.organization, owner=rep, email=address)
        step = CampaignStepFactory(campaign__owner=rep, position=1)
        enrollment = EnrollmentFactory(
            campaign=step.campaign,
            prospect=prospect,
            state=Enrollment.State.ACTIVE,
            next_step=step,
            next_due_at=timezone.now() + timedelta(days=2),
        )
        other = EnrollmentFactory(campaign__owner=rep, prospect=prospect)  # a second campaign
        email = OutboundEmailFactory(
            sender=rep,
            prospect=prospect,
            enrollment=enrollment,
            campaign_step=step,
            status=OutboundEmail.Status.SENDING,
            sent_at=None,
            message_id=None,
        )
        return prospect, enrollment, other, email

    return make


def _calls(sandbox, channel) -> int:
    calls = sandbox.client.calls(PROVIDER[channel.kind], channel.mailbox_address)
    return calls.get("total", 0)


def _poll(channel):
    report = channel_poll(channel_id=channel.pk)
    channel.refresh_from_db()
    return report


@BOTH
def test_hard_bounce_end_to_end(sandbox, rep, enrolled, kind):
    channel = connect(sandbox, owner=rep, kind=kind)
    assert _poll(channel).outcome == "ok"  # the first sync sets the cursor
    prospect, enrollment, other, email = enrolled("bounce.ana@acme-prospect.test")

    send(channel, email)
    report = _poll(channel)

    assert report.outcome == "ok" and report.messages_processed == 1
    bounce = Bounce.objects.get()
    assert bounce.recipient == "bounce.ana@acme-prospect.test"
    assert bounce.is_hard and bounce.status_code.startswith("5.1.")
    assert bounce.outbound_email == email
    assert bounce.matched_by == Bounce.MatchedBy.MESSAGE_ID
    email.refresh_from_db()
    prospect.refresh_from_db()
    enrollment.refresh_from_db()
    other.refresh_from_db()
    assert email.status == OutboundEmail.Status.BOUNCED
    assert prospect.email_status == Prospect.EmailStatus.INVALID
    assert enrollment.state == other.state == Enrollment.State.STOPPED_BOUNCED
    event = FeedEvent.objects.get(user=rep, kind=FeedEvent.Kind.BOUNCED)
    assert event.title.startswith(f"Email to {prospect.full_name} bounced: ")
    assert bounce.status_code in event.title
    # Read-only: the poller never tried to change anything in the mailbox.
    assert sandbox.client.mutation_attempts(PROVIDER[kind], channel.mailbox_address) == []


@BOTH
def test_idle_mailbox_costs_exactly_one_api_call(sandbox, rep, kind):
    channel = connect(sandbox, owner=rep, kind=kind)
    _poll(channel)
    sandbox.client.reset_calls(PROVIDER[kind], channel.mailbox_address)

    report = _poll(channel)

    assert report.outcome == "ok"
    assert report.api_calls == 1
    assert _calls(sandbox, channel) == 1


@BOTH
def test_a_message_seen_twice_counts_once(sandbox, rep, enrolled, kind):
    channel = connect(sandbox, owner=rep, kind=kind)
    _poll(channel)
    cursor = (channel.gmail_history_id, channel.graph_delta_link)
    *_, email = enrolled("bounce.twice@acme-prospect.test")
    send(channel, email)
    _poll(channel)
    # The provider hands the same change out again (Graph may; a restored cursor does).
    DeliveryChannel.objects.filter(pk=channel.pk).update(
        gmail_history_id=cursor[0], graph_delta_link=cursor[1]
    )
    _poll(channel)
    _poll(channel)

    assert Bounce.objects.count() == 1
    assert FeedEvent.objects.filter(kind=FeedEvent.Kind.BOUNCED).count() == 1
    assert InboxMessage.objects.filter(kind=InboxMessage.Kind.BOUNCE).count() == 1


def test_gmail_history_404_rescans_recent_mail(sandbox, rep, enrolled):
    channel = connect(sandbox, owner=rep, kind=Kind.GMAIL)
    _poll(channel)
    old_cursor = channel.gmail_history_id
    *_, email = enrolled("bounce.gone@acme-prospect.test")
    send(channel, email)
    sandbox.client.expire_history("google", channel.mailbox_address)

    report = _poll(channel)

    assert report.outcome == "ok" and report.resynced
    assert Bounce.objects.get().outbound_email == email
    assert channel.gmail_history_id > old_cursor
    sandbox.client.reset_calls("google", channel.mailbox_address)
    assert _poll(channel).api_calls == 1  # back to incremental


@pytest.mark.parametrize("status", [410, 400])
def test_graph_expired_delta_link_resyncs(sandbox, rep, enrolled, status):
    channel = connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    _poll(channel)
    old_link = channel.graph_delta_link
    *_, email = enrolled("bounce.lost@acme-prospect.test")
    send(channel, email)
    sandbox.client.expire_delta("microsoft", channel.mailbox_address, status=status)

    report = _poll(channel)

    assert report.outcome == "ok" and report.resynced
    assert Bounce.objects.get().outbound_email == email
    assert channel.graph_delta_link and channel.graph_delta_link != old_link
    sandbox.client.reset_calls("microsoft", channel.mailbox_address)
    assert _poll(channel).api_calls == 1


class WorkerKilled(BaseException):
    """Stands in for the worker process dying (SIGKILL, OOM): nothing gets to clean up."""


@BOTH
def test_crash_between_fetching_and_committing_loses_nothing(
    sandbox, rep, enrolled, kind, monkeypatch
):
    channel = connect(sandbox, owner=rep, kind=kind)
    _poll(channel)
    cursor = (channel.gmail_history_id, channel.graph_delta_link)
    prospect, _, _, email = enrolled("bounce.crash@acme-prospect.test")
    send(channel, email)

    def die(poll):
        raise WorkerKilled

    with monkeypatch.context() as patched:
        patched.setattr(polling, "_process_pending", die)
        with pytest.raises(WorkerKilled):
            channel_poll(channel_id=channel.pk)
    channel.refresh_from_db()
    assert (channel.gmail_history_id, channel.graph_delta_link) == cursor  # cursor did not move
    assert channel.poll_lease_until is not None  # the dead poll still holds the mailbox
    assert _poll(channel).outcome == "busy"  # ... until its lease runs out

    with time_machine.travel(timezone.now() + polling.LEASE + timedelta(seconds=1)):
        report = _poll(channel)

    assert report.outcome == "ok"
    assert Bounce.objects.filter(outbound_email=email).count() == 1
    prospect.refresh_from_db()
    assert prospect.email_status == Prospect.EmailStatus.INVALID


def test_a_message_that_keeps_failing_is_retried_forever_without_blocking(
    sandbox, rep, enrolled, monkeypatch
):
    from bounces import services

    channel = connect(sandbox, owner=rep, kind=Kind.GMAIL)
    _poll(channel)
    real = services.classify_message

    def fragile(raw: bytes):
        if b"Poison" in raw:
            raise ValueError("cannot read this one")
        return real(raw)

    monkeypatch.setattr(services, "classify_message", fragile)
    sandbox.client.inject(
        "google",
        channel.mailbox_address,
        dsn_for(
            mailbox=channel.mailbox_address,
            recipient="x@nowhere.test",
            returned_headers="Subject: Poison\r\n",
        ),
    )
    _poll(channel)
    *_, email = enrolled("bounce.after@acme-prospect.test")
    send(channel, email)
    for _ in range(4):
        assert _poll(channel).outcome == "ok"
    assert Bounce.objects.get().outbound_email == email  # mail after it was still processed
    poisoned = InboxMessage.objects.get(processed_at__isnull=True)
    assert poisoned.attempts == 1  # not tried again before its backoff ends

    now = timezone.now()
    for day in range(1, 11):  # ten days of retries: never given up
        with time_machine.travel(now + timedelta(days=day)):
            assert _poll(channel).outcome == "ok"
    poisoned.refresh_from_db()
    assert poisoned.processed_at is None and poisoned.attempts == 11
    assert "cannot read this one" in poisoned.last_error

    monkeypatch.setattr(services, "classify_message", real)  # the fix
    with time_machine.travel(now + timedelta(days=12)):
        _poll(channel)
    poisoned.refresh_from_db()
    assert poisoned.processed_at is not None and poisoned.last_error == ""
    assert Bounce.objects.filter(recipient="x@nowhere.test").count() == 1


def test_reply_stops_the_campaign_and_shows_in_the_feed(sandbox, rep, enrolled):
    channel = connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    _poll(channel)
    prospect, enrollment, other, email = enrolled("reply.bea@acme-prospect.test")
    send(channel, email)

    _poll(channel)

    email.refresh_from_db()
    enrollment.refresh_from_db()
    other.refresh_from_db()
    prospect.refresh_from_db()
    assert email.replied_at is not None
    assert email.status == OutboundEmail.Status.SENT
    assert enrollment.state == Enrollment.State.STOPPED_REPLIED
    assert other.state == Enrollment.State.PAUSED  # other campaigns go on
    assert prospect.email_status == Prospect.EmailStatus.VALID
    event = FeedEvent.objects.get(user=rep, kind=FeedEvent.Kind.REPLIED)
    assert event.title.startswith(f"{prospect.full_name} replied to")
    # What they wrote, without the quote of Mailroom's email under it.
    assert event.detail == (
        "“Thanks for reaching out - happy to talk next week. Reply Bea” Their campaign is stopped."
    )
    assert not Bounce.objects.exists()


def test_out_of_office_is_neither_bounce_nor_reply(sandbox, rep, enrolled):
    channel = connect(sandbox, owner=rep, kind=Kind.GMAIL)
    _poll(channel)
    _, enrollment, _, email = enrolled("ooo.carla@acme-prospect.test")
    send(channel, email)

    _poll(channel)

    enrollment.refresh_from_db()
    email.refresh_from_db()
    assert not Bounce.objects.exists()
    assert email.status == OutboundEmail.Status.SENT and email.replied_at is None
    assert enrollment.state == Enrollment.State.ACTIVE
    assert InboxMessage.objects.filter(kind=InboxMessage.Kind.AUTO_REPLY).exists()


def test_bounce_matched_by_mailroom_header_then_recipient_else_kept_unmatched(
    sandbox, rep, enrolled
):
    channel = connect(sandbox, owner=rep, kind=Kind.GMAIL)
    _poll(channel)
    by_header = OutboundEmailFactory(
        sender=rep, channel=channel, to_address="dan@acme-prospect.test"
    )
    by_recipient = OutboundEmailFactory(
        sender=rep, channel=channel, to_address="eve@acme-prospect.test"
    )
    token = email_header_token(email_id=by_header.pk)
    for recipient, headers in [
        (by_header.to_address, f"X-Mailroom-Email-Id: {token}\r\nSubject: Hi\r\n"),
        (by_recipient.to_address, "Subject: Hi\r\n"),
        ("nobody@stranger.test", "Subject: Something else\r\n"),
    ]:
        sandbox.client.inject(
            "google",
            channel.mailbox_address,
            dsn_for(mailbox=channel.mailbox_address, recipient=recipient, returned_headers=headers),
        )

    _poll(channel)

    matched = dict(Bounce.objects.values_list("recipient", "matched_by"))
    assert matched == {
        "dan@acme-prospect.test": Bounce.MatchedBy.MAILROOM_HEADER,
        "eve@acme-prospect.test": Bounce.MatchedBy.RECIPIENT,
        "nobody@stranger.test": Bounce.MatchedBy.UNMATCHED,
    }
    assert Bounce.objects.get(recipient="nobody@stranger.test").outbound_email is None


def test_rate_limit_backs_off_per_mailbox_honouring_retry_after(sandbox, rep):
    channel = connect(sandbox, owner=rep, kind=Kind.GMAIL)
    _poll(channel)
    cursor = channel.gmail_history_id
    sandbox.client.add_fault("google", channel.mailbox_address, 429, retry_after=120)

    report = _poll(channel)

    assert report.outcome == "backoff"
    assert channel.gmail_history_id == cursor
    wait = (channel.poll_backoff_until - timezone.now()).total_seconds()
    assert 100 < wait <= 121
    assert "Rate limited" in channel.last_poll_result
    assert _poll(channel).api_calls == 0  # still backing off: no call at all
    assert channel.pk not in list(polling.channel_ids_due())
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        assert _poll(channel).outcome == "ok"
        channel.refresh_from_db()
        assert channel.poll_failures == 0 and channel.poll_backoff_until is None


def test_retry_after_is_capped(sandbox, rep):
    channel = connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    _poll(channel)
    sandbox.client.add_fault("microsoft", channel.mailbox_address, 429, retry_after=86400)
    _poll(channel)
    wait = (channel.poll_backoff_until - timezone.now()).total_seconds()
    assert wait <= polling.BACKOFF_CAP_SECONDS


def test_repeated_401s_need_reconnect_but_one_does_not(sandbox, rep):
    channel = connect(sandbox, owner=rep, kind=Kind.GMAIL)
    _poll(channel)
    # Every API call answers 401 (the token refresh itself still works).
    sandbox.client.add_fault("google", channel.mailbox_address, 401, count=100)
    now = timezone.now()
    for attempt in range(1, 4):
        with time_machine.travel(now + timedelta(hours=attempt)):
            report = _poll(channel)
        if attempt < 3:
            assert report.outcome == "failed"
            assert channel.status == DeliveryChannel.Status.CONNECTED
    assert report.outcome == "reconnect"
    assert channel.status == DeliveryChannel.Status.NEEDS_RECONNECT
    sandbox.client.clear_faults("google", channel.mailbox_address)
    assert _poll(channel).outcome == "not_polled"  # skipped while it needs reconnecting


def test_one_transient_error_then_success_resets_the_count(sandbox, rep):
    channel = connect(sandbox, owner=rep, kind=Kind.GMAIL)
    _poll(channel)
    sandbox.client.add_fault("google", channel.mailbox_address, 503)
    assert _poll(channel).outcome == "backoff"
    assert channel.poll_failures == 1
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        assert _poll(channel).outcome == "ok"
    channel.refresh_from_db()
    assert channel.poll_failures == 0
    assert channel.status == DeliveryChannel.Status.CONNECTED


def test_revoked_grant_puts_channel_in_needs_reconnect(sandbox, rep):
    channel = connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    _poll(channel)
    sandbox.client.revoke("microsoft", channel.mailbox_address)
    assert _poll(channel).outcome == "reconnect"
    assert channel.status == DeliveryChannel.Status.NEEDS_RECONNECT


def test_fan_out_enqueues_connected_polled_mailboxes_only(sandbox, rep, manager):
    gmail = connect(sandbox, owner=rep, kind=Kind.GMAIL)
    graph = connect(sandbox, owner=manager, kind=Kind.EXCHANGE_ONLINE)
    broken = connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE, address="old@acme.test")
    broken.status = DeliveryChannel.Status.NEEDS_RECONNECT
    broken.save()
    DeliveryChannel.objects.create(
        organization=rep.organization, owner=rep, kind=Kind.CUSTOM_SMTP, host="smtp.x.test"
    )
    enqueued: list[list[int]] = []

    assert channels_poll_fan_out(enqueue=enqueued.append) == 2
    assert [sorted(batch) for batch in enqueued] == [sorted([gmail.pk, graph.pk])]


def _mailboxes(sandbox, rep, count):
    """`count` mailboxes of reps in `rep`'s organization, alternately Gmail and Graph."""
    kinds = [Kind.GMAIL, Kind.EXCHANGE_ONLINE]
    return [
        connect(sandbox, owner=UserFactory(organization=rep.organization), kind=kinds[i % 2])
        for i in range(count)
    ]


def test_fan_out_enqueues_batches_each_mailbox_once(sandbox, rep, settings):
    settings.MAILROOM_POLL_BATCH_SIZE = 2
    channels = _mailboxes(sandbox, rep, 5)
    enqueued: list[list[int]] = []

    assert channels_poll_fan_out(enqueue=enqueued.append) == 5

    assert [len(batch) for batch in enqueued] == [2, 2, 1]
    assert sorted(pk for batch in enqueued for pk in batch) == sorted(c.pk for c in channels)


def test_fan_out_frees_a_stuck_poll_and_polls_the_mailbox_again(sandbox, rep):
    """The watchdog: a poll that died holding its lease does not keep the mailbox forever."""
    channel = connect(sandbox, owner=rep, kind=Kind.GMAIL)
    assert polling.channel_poll_claim(channel_id=channel.pk) is not None  # then the worker died
    enqueued: list[list[int]] = []
    assert channels_poll_fan_out(enqueue=enqueued.append) == 0  # still within its lease

    later = timezone.now() + polling.LEASE + timedelta(seconds=1)
    with time_machine.travel(later):
        assert channels_poll_fan_out(enqueue=enqueued.append) == 1
        channel.refresh_from_db()
        assert channel.poll_lease_until is None
        assert _poll(channel).outcome == "ok"
    assert enqueued == [[channel.pk]]


def test_a_batch_polls_each_mailbox_once_at_one_api_call_when_idle(sandbox, rep):
    channels = _mailboxes(sandbox, rep, 3)
    for channel in channels:
        _poll(channel)  # first syncs
        sandbox.client.reset_calls(PROVIDER[channel.kind], channel.mailbox_address)
    ids = [c.pk for c in channels]

    result = polling.channels_poll(channel_ids=[*ids, ids[0]])  # listed twice: polled once

    assert [r.channel_id for r in result.reports] == ids
    assert [r.outcome for r in result.reports] == ["ok"] * 3
    assert result.not_started == []
    assert [_calls(sandbox, c) for c in channels] == [1, 1, 1]
    for channel in channels:
        channel.refresh_from_db()
        assert channel.poll_lease_until is None and channel.last_polled_at is not None


def test_a_batch_skips_a_mailbox_another_worker_is_polling(sandbox, rep):
    first, held, last = _mailboxes(sandbox, rep, 3)
    lease = polling.channel_poll_claim(channel_id=held.pk)  # another worker's poll

    result = polling.channels_poll(channel_ids=[first.pk, held.pk, last.pk])

    assert [r.outcome for r in result.reports] == ["ok", "busy", "ok"]
    assert _calls(sandbox, held) == 0
    held.refresh_from_db()
    assert held.poll_lease_until == lease  # the other poll still holds it
    assert held.gmail_history_id is None and held.last_polled_at is None


def test_a_batch_out_of_time_hands_the_rest_on_and_polls_each_once(sandbox, rep, settings):
    from bounces.tasks import channels_poll

    channels = _mailboxes(sandbox, rep, 3)
    for channel in channels:
        _poll(channel)  # first syncs
        sandbox.client.reset_calls(PROVIDER[channel.kind], channel.mailbox_address)
    settings.MAILROOM_POLL_BATCH_SECONDS = 0  # each task starts one poll, then hands the rest on

    result = polling.channels_poll(channel_ids=[c.pk for c in channels])
    assert [r.channel_id for r in result.reports] == [channels[0].pk]
    assert result.not_started == [channels[1].pk, channels[2].pk]
    channels[1].refresh_from_db()
    assert channels[1].poll_lease_until is None  # not claimed: free for the next task
    assert _calls(sandbox, channels[1]) == 0

    channels_poll([c.pk for c in channels[1:]])  # tasks run inline in the tests

    assert [_calls(sandbox, c) for c in channels] == [1, 1, 1]  # each polled once
    for channel in channels:
        channel.refresh_from_db()
        assert channel.poll_lease_until is None


def test_stored_messages_left_by_a_dead_poll_are_processed_by_the_next_one(sandbox, rep, enrolled):
    """An idle poll does not look for unprocessed messages unless the claim says some wait."""
    channel = connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    _poll(channel)
    *_, email = enrolled("bounce.later@acme-prospect.test")
    send(channel, email)
    _poll(channel)
    message = InboxMessage.objects.get(kind=InboxMessage.Kind.BOUNCE)
    # As if a poll had stored it and died before processing it.
    Bounce.objects.all().delete()
    InboxMessage.objects.filter(pk=message.pk).update(processed_at=None, attempts=0)
    OutboundEmail.objects.filter(pk=email.pk).update(status=OutboundEmail.Status.SENT)

    report = _poll(channel)

    assert report.outcome == "ok" and report.api_calls == 1 and report.messages_processed == 1
    assert Bounce.objects.get().outbound_email == email


def test_an_idle_poll_is_two_statements(sandbox, rep, django_assert_num_queries):
    """Claim-and-load, then the result: no other round trip to the database per idle poll."""
    channel = connect(sandbox, owner=rep, kind=Kind.GMAIL)
    _poll(channel)

    with django_assert_num_queries(2):
        report = channel_poll(channel_id=channel.pk)

    assert report.outcome == "ok" and report.api_calls == 1


def test_two_polls_at_once_one_runs(sandbox, rep):
    channel = connect(sandbox, owner=rep, kind=Kind.GMAIL)
    assert polling.channel_poll_claim(channel_id=channel.pk) is not None
    assert _poll(channel).outcome == "busy"
    assert _calls(sandbox, channel) == 0


def test_poll_task_is_registered_every_five_minutes():
    from core.periodic import PERIODIC_TASKS

    spec = next(s for s in PERIODIC_TASKS if s.task == "bounces.tasks.mailboxes_poll_due")
    assert spec.every_seconds == 300


@BOTH
def test_email_sent_by_the_pipeline_bounces_within_one_poll(sandbox, rep, admin_client, kind):
    """The demo: the rep sends to an address the sandbox rejects; one poll later the outbox
    shows it bounced, the prospect is invalid and the bounce is in the admin."""
    from django.urls import reverse

    from channels_app.models import ChannelChoice
    from channels_app.sending.services import channel_drain
    from outreach.services import email_enqueue

    channel = connect(sandbox, owner=rep, kind=kind)
    ChannelChoice.objects.update_or_create(user=rep, defaults={"channel": channel})
    prospect = ProspectFactory(
        organization=rep.organization, owner=rep, email="bounce.jamie@northwind.test"
    )
    email = email_enqueue(
        sender=rep, to_address=prospect.email, subject="Hello Jamie", body="Hi", prospect=prospect
    )
    channel_drain(channel_id=channel.pk)
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT

    assert _poll(channel).outcome == "ok"

    email.refresh_from_db()
    prospect.refresh_from_db()
    assert email.status == OutboundEmail.Status.BOUNCED
    assert prospect.email_status == Prospect.EmailStatus.INVALID
    bounce = Bounce.objects.get(outbound_email=email)
    assert bounce.matched_by == Bounce.MatchedBy.MESSAGE_ID
    changelist = admin_client.get(reverse("admin:bounces_bounce_changelist")).content.decode()
    assert "bounce.jamie@northwind.test" in changelist
    # Admins read the bounce message itself, decoded (the DSN's text, not base64).
    detail = admin_client.get(reverse("admin:bounces_bounce_change", args=[bounce.pk]))
    assert "Hello Jamie" in detail.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_token_refreshed_during_a_batch_is_committed_durably(sandbox, rep, monkeypatch):
    """A batch commits its bookkeeping without waiting for the WAL flush, but not a refreshed
    token: Microsoft rotates the refresh token, and losing the new one means a reconnect."""
    from django.db import connection

    from channels_app import tokens

    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is a PostgreSQL setting")

    def synchronous_commit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    channel = connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    _poll(channel)
    DeliveryChannel.objects.filter(pk=channel.pk).update(token_expires_at=timezone.now())
    server_default = synchronous_commit()
    seen: dict[str, str] = {}
    real_save, real_sync = DeliveryChannel.save, polling._sync

    def save(self, *args, **kwargs):
        if "access_token" in (kwargs.get("update_fields") or ()):
            seen["token saved"] = synchronous_commit()
        return real_save(self, *args, **kwargs)

    def sync(poll, token):
        seen["sync"] = synchronous_commit()
        return real_sync(poll, token)

    monkeypatch.setattr(DeliveryChannel, "save", save)
    monkeypatch.setattr(polling, "_sync", sync)

    [report] = polling.channels_poll(channel_ids=[channel.pk]).reports

    assert report.outcome == "ok"
    assert seen == {"token saved": server_default, "sync": "off"}
    assert synchronous_commit() == server_default  # the session is left as it was
    channel.refresh_from_db()
    assert channel.token_expires_at > timezone.now() + tokens.REFRESH_MARGIN
