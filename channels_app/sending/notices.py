"""What the send pipeline tells people in their live feed: an email failed, a mailbox was
paused by its provider, a mailbox's sending is throttled for long. Each notice is recorded once
per situation (its dedupe key), however many workers or drains meet it."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics.feed import feed_event_record, feed_text
from analytics.models import FeedEvent
from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail

from .limits import Allowance

# Throttle waits this long or longer are worth a live-feed event (a day's quota is used up);
# shorter ones are ordinary pacing, shown in the outbox only.
FEED_THROTTLE_MIN_SECONDS = 3600


def when_text(when: datetime) -> str:
    """A time as the outbox and the feed print it in reasons written by workers (UTC)."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def notice_email_failed(
    *, email: OutboundEmail, channel: DeliveryChannel | None, reason: str
) -> None:
    feed_event_record(
        user=email.sender,
        kind=FeedEvent.Kind.FAILED,
        title=feed_text("failed", address=email.to_address, reason_text=reason),
        detail=[feed_text("quote", text=email.subject)],
        outbound_email=email,
        channel=channel,
        dedupe_key=f"failed:{email.pk}:{email.attempts}",
    )


def notice_mailbox_paused(*, channel: DeliveryChannel, until: datetime, reason: str) -> None:
    """The provider said the mailbox's sending quota is used up: its rep hears until when."""
    if channel.owner is None:
        return
    feed_event_record(
        user=channel.owner,
        kind=FeedEvent.Kind.MAILBOX_PAUSED,
        title=feed_text(
            "mailbox_paused.quota",
            mailbox=channel.mailbox_address or str(channel),
            until=when_text(until),
        ),
        detail=[feed_text("mailbox_paused.quota_detail", reason_text=reason)],
        channel=channel,
        dedupe_key=f"quota:{channel.pk}:{until:%Y%m%d%H}",
    )


def notice_throttled(*, channel: DeliveryChannel, allowance: Allowance) -> None:
    """A long throttle wait (a daily limit reached): one event per window and period."""
    window, opens_at, owner = allowance.window, allowance.opens_at, channel.owner
    if window is None or opens_at is None or owner is None:
        return
    if window.seconds < FEED_THROTTLE_MIN_SECONDS:
        return
    bucket = int(opens_at.timestamp() // window.seconds)
    feed_event_record(
        user=owner,
        kind=FeedEvent.Kind.THROTTLED,
        title=feed_text(
            "throttled", mailbox=channel.mailbox_address or str(channel), opens=when_text(opens_at)
        ),
        detail=[feed_text("throttled.detail", reason_text=allowance.reason)],
        channel=channel,
        dedupe_key=f"throttled:{channel.pk}:{window.seconds}:{bucket}",
    )
