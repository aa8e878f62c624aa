"""Exactly once: concurrent drains of one mailbox on PostgreSQL never send an email twice, and
a worker that dies mid-send leaves its emails recoverable once their lease expires."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, connections
from django.utils import timezone

from channels_app.sending.services import (
    LEASE,
    channel_drain,
    emails_claim,
    emails_recover_expired_leases,
)
from outreach.models import OutboundEmail
from outreach.services import email_enqueue
from tests.outreach.send_helpers import drain, smtp_channel, smtp_received


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
