"""Waking a mailbox's queue: one drain task however many emails are queued, a new one once
that task has started, and a fresh one when a queued task seems lost."""

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from channels_app.sending.models import MailboxSendState
from channels_app.sending.services import KICK_STALE_AFTER, channel_queue_kick
from outreach.models import OutboundEmail
from outreach.services import email_enqueue
from tests.outreach.send_helpers import smtp_channel


def _queue(rep, n):
    for i in range(n):
        email_enqueue(sender=rep, to_address=f"p{i}@customer.test", subject="Hi", body="Hi")


def test_one_drain_task_per_mailbox_however_many_emails(
    sandbox, rep, django_capture_on_commit_callbacks
):
    channel = smtp_channel(sandbox, owner=rep)
    assert not MailboxSendState.objects.filter(channel=channel).exists()
    with mock.patch("channels_app.sending.tasks.channel_drain.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            _queue(rep, 5)
        assert delay.call_count == 1  # the first kick also created the mailbox's state row
        assert MailboxSendState.objects.get(channel=channel).kicked_at is not None

        with django_capture_on_commit_callbacks(execute=True):
            _queue(rep, 3)
        assert delay.call_count == 1  # the queued task has not started: it will send these too

        MailboxSendState.objects.filter(channel=channel).update(kicked_at=None)  # it started
        with django_capture_on_commit_callbacks(execute=True):
            _queue(rep, 2)
        assert delay.call_count == 2


def test_a_kick_that_seems_lost_is_queued_again(sandbox, rep, django_capture_on_commit_callbacks):
    channel = smtp_channel(sandbox, owner=rep)
    with mock.patch("channels_app.sending.tasks.channel_drain.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            channel_queue_kick(channel_id=channel.pk)
            channel_queue_kick(channel_id=channel.pk)
        assert delay.call_count == 1
        later = timezone.now() + KICK_STALE_AFTER + timedelta(seconds=1)
        with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
            channel_queue_kick(channel_id=channel.pk)
        assert delay.call_count == 2


def test_a_failed_drain_hands_its_mailbox_back_at_once(
    sandbox, rep, monkeypatch, django_capture_on_commit_callbacks
):
    """A worker that cannot reach the database used to hold each mailbox it took until its
    kick went stale (60 s). Now the failed drain releases the kick and goes straight back to
    the broker (countdown 0), so another worker sends the mail with no wait."""
    from celery.exceptions import Retry
    from django.db import OperationalError

    from channels_app.sending import services, tasks

    channel = smtp_channel(sandbox, owner=rep)
    with mock.patch("channels_app.sending.tasks.channel_drain.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            _queue(rep, 2)
        assert delay.call_count == 1  # the mailbox is kicked: a drain task is queued
    real = services.channel_drain

    def unreachable(**kwargs):
        raise OperationalError("could not connect to server")

    handed_back = []

    def retry(*, exc, countdown):
        handed_back.append(countdown)
        return Retry(exc=exc, when=countdown)

    monkeypatch.setattr(services, "channel_drain", unreachable)
    monkeypatch.setattr(tasks.channel_drain, "retry", retry)
    with time_machine.travel(timezone.now(), tick=False):
        with pytest.raises(Retry):
            tasks.channel_drain(channel.pk)  # the worker without a database
        assert handed_back == [0]  # back to the broker at once
        assert MailboxSendState.objects.get(channel=channel).kicked_at is None
        with mock.patch("channels_app.sending.tasks.channel_drain.delay") as delay:
            with django_capture_on_commit_callbacks(execute=True):
                channel_queue_kick(channel_id=channel.pk)
            assert delay.call_count == 1  # a new kick is not held back for 60 s

        monkeypatch.setattr(services, "channel_drain", real)
        tasks.channel_drain(channel.pk)  # another worker takes it
    assert OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT).count() == 2
