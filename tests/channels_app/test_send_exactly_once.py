"""Exactly once: concurrent drains of one mailbox on PostgreSQL never send an email twice, and
a worker that dies mid-send leaves its emails recoverable once their lease expires; on Gmail
and Exchange Online even one the provider had accepted before the worker died goes only once
(issue 11: looked up in the sent mail by its Message-ID before it is sent again)."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, connections
from django.utils import timezone

from channels_app.models import DeliveryChannel
from channels_app.sending import services as sending_services
from channels_app.sending.services import (
    LEASE,
    channel_drain,
    emails_claim,
    emails_recover_expired_leases,
)
from outreach.models import OutboundEmail
from outreach.services import email_enqueue
from tests.channels_app.test_exchange_onprem import onprem_channel
from tests.outreach.send_helpers import (
    drain,
    mailbox_sent,
    oauth_channel,
    smtp_channel,
    smtp_received,
)


def _queue(rep, count):
    return [
        email_enqueue(sender=rep, to_address=f"p{i}@customer.test", subject=f"#{i}", body="Hi")
        for i in range(count)
    ]


@pytest.mark.django_db(transaction=True)
def test_four_concurrent_workers_on_postgresql_send_each_email_once(sandbox, rep):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs row locks with SKIP LOCKED and separate connections per worker: SQLite "
            "serialises whole transactions instead; CI runs this on PostgreSQL"
        )
    channel = smtp_channel(sandbox, owner=rep)
    emails = _queue(rep, 240)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        try:
            barrier.wait()
            while channel_drain(channel_id=channel.pk, batch_size=7).sent:
                pass
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    statuses = Counter(OutboundEmail.objects.values_list("status", flat=True))
    assert statuses == {OutboundEmail.Status.SENT: len(emails)}
    received = Counter(m["Message-ID"] for m in smtp_received(sandbox))
    assert set(received) == {e.message_id for e in emails}
    assert max(received.values()) == 1


def test_a_worker_killed_mid_send_leaves_its_emails_recoverable(sandbox, rep):
    channel = smtp_channel(sandbox, owner=rep)
    _queue(rep, 3)
    now = timezone.now()
    # A worker claims the batch, then dies before sending anything.
    claimed, _ = emails_claim(channel=channel, windows=[], limit=10, now=now)
    assert len(claimed) == 3
    assert drain(channel).sent == 0  # nobody else takes claimed mail

    with time_machine.travel(now + LEASE - timedelta(seconds=1), tick=False):
        assert emails_recover_expired_leases(now=timezone.now()) == 0
    with time_machine.travel(now + LEASE + timedelta(seconds=1), tick=False):
        assert emails_recover_expired_leases(now=timezone.now()) == 3
        drain(channel)

    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {"sent"}
    assert len(smtp_received(sandbox)) == 3


def test_a_stale_worker_cannot_overwrite_an_email_another_worker_finished(sandbox, rep):
    channel = smtp_channel(sandbox, owner=rep)
    [email] = _queue(rep, 1)
    now = timezone.now()
    stale, _ = emails_claim(channel=channel, windows=[], limit=1, now=now)
    with time_machine.travel(now + LEASE + timedelta(seconds=1), tick=False):
        emails_recover_expired_leases(now=timezone.now())
        drain(channel)
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT

    # The first worker wakes up and tries to record a failure with its old claim.
    from channels_app.sending.services import _finish

    assert not _finish(stale[0], status=OutboundEmail.Status.FAILED, failure_reason="late")
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT


class WorkerKilled(BaseException):
    """Stands in for the worker process dying (SIGKILL, OOM): nothing gets to clean up."""


Kind = DeliveryChannel.Kind
MAILBOX_KINDS = [Kind.GMAIL, Kind.EXCHANGE_ONLINE]
PROVIDER = {
    Kind.GMAIL: "google",
    Kind.EXCHANGE_ONLINE: "microsoft",
    Kind.EXCHANGE_ONPREM: "exchange",
}


def _mailbox(sandbox, rep, kind):
    if kind != Kind.EXCHANGE_ONPREM:
        return oauth_channel(sandbox, owner=rep, kind=kind)
    sandbox.client.add_ews_user(rep.email, "Winter-2026!", username="ACME\\rep")
    return onprem_channel(sandbox, rep, password="Winter-2026!")  # noqa: S106


def _kill_after_the_provider_accepted(monkeypatch, nth: int) -> None:
    """The worker dies right after the provider accepted its `nth` email, before the "sent"
    commit: the email is handed over, its outcome never written, the batch's rest unsent."""
    real = sending_services._finish_sent
    calls = {"n": 0}

    def finish_sent(email, **kwargs):
        calls["n"] += 1
        if calls["n"] == nth:
            raise WorkerKilled
        return real(email, **kwargs)

    monkeypatch.setattr(sending_services, "_finish_sent", finish_sent)


@pytest.mark.parametrize("kind", [*MAILBOX_KINDS, Kind.EXCHANGE_ONPREM])
def test_a_worker_killed_between_the_providers_ok_and_the_sent_commit_sends_nothing_twice(
    sandbox, rep, kind, monkeypatch
):
    channel = _mailbox(sandbox, rep, kind)
    emails = _queue(rep, 5)
    now = timezone.now()
    _kill_after_the_provider_accepted(monkeypatch, nth=2)

    with pytest.raises(WorkerKilled):
        channel_drain(channel_id=channel.pk)
    monkeypatch.undo()
    assert len(mailbox_sent(sandbox, PROVIDER[kind], rep.email)) == 2  # #2 went, unrecorded
    # Gmail's 2 a second are waited out inline, on a clock that runs.
    with time_machine.travel(now + LEASE + timedelta(seconds=1), tick=True):
        assert emails_recover_expired_leases(now=timezone.now()) >= 1
        result = channel_drain(channel_id=channel.pk, inline_wait=1.5)

    assert result.found_sent == 1  # found in the sent mail, not handed over again
    statuses = Counter(OutboundEmail.objects.values_list("status", flat=True))
    assert statuses == {OutboundEmail.Status.SENT: len(emails)}  # 0 lost
    received = Counter(m["Message-ID"] for m in mailbox_sent(sandbox, PROVIDER[kind], rep.email))
    assert set(received) == {e.message_id for e in emails}
    assert max(received.values()) == 1  # 0 duplicates


@pytest.mark.parametrize("kind", MAILBOX_KINDS)
def test_without_read_access_the_sent_mail_is_not_asked(sandbox, rep, kind, monkeypatch):
    """A mailbox connected without read access cannot be searched (the look-up would be
    refused and put it in needs-reconnect): the email goes again, as on SMTP."""
    channel = oauth_channel(sandbox, owner=rep, kind=kind, can_read_inbox=False)
    _queue(rep, 2)
    now = timezone.now()
    _kill_after_the_provider_accepted(monkeypatch, nth=1)
    with pytest.raises(WorkerKilled):
        channel_drain(channel_id=channel.pk)
    monkeypatch.undo()

    with time_machine.travel(now + LEASE + timedelta(seconds=1), tick=True):
        emails_recover_expired_leases(now=timezone.now())
        result = channel_drain(channel_id=channel.pk, inline_wait=1.5)

    channel.refresh_from_db()
    assert result.found_sent == 0 and result.sent == 2
    assert channel.status == DeliveryChannel.Status.CONNECTED
    assert len(mailbox_sent(sandbox, PROVIDER[kind], rep.email)) == 3  # the known SMTP-like window
