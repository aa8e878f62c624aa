"""Waking a mailbox's queue: one drain task however many emails are queued, a new one once
that task has started, and a fresh one when a queued task seems lost."""

from datetime import timedelta
from unittest import mock

import time_machine
from django.utils import timezone

from channels_app.sending.models import MailboxSendState
from channels_app.sending.services import KICK_STALE_AFTER, channel_queue_kick
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
