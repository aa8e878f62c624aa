"""Mailbox protection never costs a bounce: pausing runs apart from the bounce's transaction,
and the pause flag is not editable by hand in the admin (resume is the admin action)."""

from datetime import timedelta
from unittest import mock

from django.db import IntegrityError
from django.utils import timezone

from bounces import services
from bounces.models import Bounce, InboxMessage, MailboxPause
from bounces.services import inbox_message_process, inbox_message_store
from tests.bounces.poll_helpers import dsn_for
from tests.factories import DeliveryChannelFactory, OutboundEmailFactory


def _bounce_in_inbox(channel, email) -> InboxMessage:
    """The DSN of `email` stored in the mailbox's inbox and processed, as the poller does."""
    raw = dsn_for(
        mailbox=channel.mailbox_address,
        recipient=email.to_address,
        returned_headers=f"Message-ID: {email.message_id}\r\nTo: {email.to_address}\r\n",
    )
    message = inbox_message_store(
        channel=channel,
        provider_message_id=f"m-{email.pk}",
        raw=raw,
        received_at=timezone.now(),
    )
    inbox_message_process(inbox_message_id=message.pk)
    return message


def test_clearing_the_pause_flag_by_hand_loses_no_bounce(rep):
    """The admin's form once let "Campaigns paused at" be cleared, leaving the pause's record
    open: every later hard bounce then failed with one_open_pause_per_channel (10 of 10 lost)."""
    channel = DeliveryChannelFactory(owner=rep, mailbox_address="rep@acme.test")
    emails = [OutboundEmailFactory(sender=rep, channel=channel) for _ in range(20)]
    MailboxPause.objects.create(
        channel=channel, paused_at=timezone.now(), reason="earlier", hard_bounces=3, sent=20
    )  # the flag on the channel itself was cleared by hand: campaigns_paused_at is None

    for email in emails[:10]:
        _bounce_in_inbox(channel, email)

    assert Bounce.objects.filter(outbound_email__in=emails).count() == 10
    assert InboxMessage.objects.filter(processed_at__isnull=True).count() == 0
    channel.refresh_from_db()
    assert channel.campaigns_paused_at is not None  # protection still works
    assert MailboxPause.objects.filter(channel=channel, resumed_at__isnull=True).count() == 1


def test_a_pause_that_fails_is_retried_apart_and_the_bounce_is_kept(
    rep, monkeypatch, django_capture_on_commit_callbacks
):
    channel = DeliveryChannelFactory(owner=rep, mailbox_address="rep@acme.test")
    email = OutboundEmailFactory(sender=rep, channel=channel)

    def broken(**kwargs):
        raise IntegrityError("one_open_pause_per_channel")

    monkeypatch.setattr(services, "channel_protection_check", broken)
    with (
        mock.patch("bounces.tasks.channel_protection_check.delay") as retry,
        django_capture_on_commit_callbacks(execute=True),
    ):
        message = _bounce_in_inbox(channel, email)

    assert Bounce.objects.filter(outbound_email=email).count() == 1
    message.refresh_from_db()
    assert message.processed_at is not None and message.last_error == ""
    retry.assert_called_once_with(channel.pk)  # its own retry, after the bounce is committed


def test_the_pause_flag_is_read_only_in_the_channel_admin(rep, admin_client):
    channel = DeliveryChannelFactory(owner=rep, mailbox_address="rep@acme.test")
    page = admin_client.get(f"/admin/channels_app/deliverychannel/{channel.pk}/change/")
    assert page.status_code == 200
    assert 'name="campaigns_paused_at' not in page.content.decode()


def test_a_gmail_daily_limit_bounce_pauses_the_mailbox_like_a_quota_error(rep):
    """Gmail's 200 from messages.send does not prove the email went: its daily limit comes
    back as a 5.4.5 bounce, which must pause the mailbox, not only count as a soft bounce."""
    from analytics.models import FeedEvent
    from channels_app.models import DeliveryChannel

    channel = DeliveryChannelFactory(
        owner=rep, kind=DeliveryChannel.Kind.GMAIL, mailbox_address="rep@acme.test"
    )
    email = OutboundEmailFactory(sender=rep, channel=channel)
    raw = dsn_for(
        mailbox=channel.mailbox_address,
        recipient=email.to_address,
        returned_headers=f"Message-ID: {email.message_id}\r\n",
        status="5.4.5",
    ).replace(b"User unknown", b"Daily user sending limit exceeded")
    message = inbox_message_store(
        channel=channel, provider_message_id="limit", raw=raw, received_at=timezone.now()
    )
    before = timezone.now()

    inbox_message_process(inbox_message_id=message.pk)

    bounce = Bounce.objects.get(outbound_email=email)
    assert not bounce.is_hard  # still a soft bounce of that email …
    channel.refresh_from_db()  # … and the mailbox pauses, as a quota error does
    assert channel.sending_paused_until is not None
    assert channel.sending_paused_until >= before + timedelta(minutes=59)
    assert "daily sending limit" in channel.sending_paused_reason
    assert FeedEvent.objects.filter(user=rep, kind=FeedEvent.Kind.MAILBOX_PAUSED).exists()
