"""Per-mailbox send windows (README, "Sending") and the limiter that enforces them.

The limiter keeps no state in memory: each decision locks the mailbox's MailboxSendState row
(`SELECT … FOR UPDATE` on PostgreSQL; SQLite's IMMEDIATE transactions lock the database) and
counts the SendSlot ledger in every trailing window, so any number of workers on any number
of machines together stay under the limits. `queue_estimates` reads the same windows to tell
the outbox when each waiting email should go."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Min, Window
from django.db.models.functions import RowNumber

from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail

from .models import MailboxSendState, SendSlot

DAY = 86_400

GMAIL_DAILY = 2_000
GMAIL_TRIAL_DAILY = 500
GMAIL_PER_SECOND = 2
EXCHANGE_PER_MINUTE = 30
# Exchange Online counts recipients (10,000 a day); every Mailroom email has one recipient.
EXCHANGE_DAILY_RECIPIENTS = 10_000


@dataclass(frozen=True)
class SendWindow:
    """At most `limit` messages in any `seconds`-long stretch of time."""

    limit: int
    seconds: int
    label: str

    @property
    def span(self) -> timedelta:
        return timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class Allowance:
    """What the limiter allows now: `available` messages, or none until `opens_at` because
    of `window` (or the mailbox's back-off, then `window` is None)."""

    available: int
    opens_at: datetime | None = None
    window: SendWindow | None = None
    reason: str = ""


def _tighter(windows: list[SendWindow], limit: int | None, seconds: int, label: str) -> None:
    """Add a configured limit, or tighten a provider one of the same length (never loosen)."""
    if not limit:
        return
    for i, window in enumerate(windows):
        if window.seconds == seconds:
            if limit < window.limit:
                windows[i] = SendWindow(limit, seconds, label)
            return
    windows.append(SendWindow(limit, seconds, label))


def channel_send_windows(*, channel: DeliveryChannel) -> list[SendWindow]:
    """Every window the mailbox must respect: the provider's limits, the limits configured on
    the channel, and the team rate. Empty for channels Mailroom does not throttle (SMTP
    providers and legacy relays apply their own limits)."""
    kind = channel.kind
    windows: list[SendWindow] = []
    if kind == DeliveryChannel.Kind.GMAIL:
        daily = GMAIL_TRIAL_DAILY if channel.is_trial_account else GMAIL_DAILY
        windows = [
            SendWindow(GMAIL_PER_SECOND, 1, "Gmail sends at most 2 messages a second"),
            SendWindow(daily, DAY, f"Gmail allows {daily:,} messages in any 24 hours"),
        ]
    elif kind == DeliveryChannel.Kind.EXCHANGE_ONLINE:
        windows = [
            SendWindow(EXCHANGE_PER_MINUTE, 60, "Exchange Online allows 30 messages a minute"),
            SendWindow(
                EXCHANGE_DAILY_RECIPIENTS, DAY, "Exchange Online allows 10,000 recipients a day"
            ),
        ]
    elif kind != DeliveryChannel.Kind.EXCHANGE_ONPREM:
        return []
    _tighter(windows, channel.per_minute_limit, 60, "the mailbox's per-minute limit")
    _tighter(windows, channel.daily_limit, DAY, "the mailbox's daily limit")
    owner = channel.owner
    team = owner.team if owner is not None and owner.team_id else None
    if team and team.send_rate_emails and team.send_rate_seconds:
        _tighter(
            windows,
            team.send_rate_emails,
            team.send_rate_seconds,
            f"the team rate ({team.send_rate_emails} every {team.send_rate_seconds} s)",
        )
    return windows


def _lock_state(*, channel_id: int) -> MailboxSendState:
    MailboxSendState.objects.bulk_create(
        [MailboxSendState(channel_id=channel_id)], ignore_conflicts=True
    )
    return MailboxSendState.objects.select_for_update().get(channel_id=channel_id)


def allowance_locked(
    *, channel_id: int, windows: list[SendWindow], want: int, now: datetime
) -> Allowance:
    """How many of `want` messages may go at `now`. Must run inside the transaction that
    will record the slots (slots_take), so no other worker decides in between."""
    assert transaction.get_connection().in_atomic_block, "allowance needs a transaction"
    state = _lock_state(channel_id=channel_id)
    if state.backoff_until and state.backoff_until > now:
        return Allowance(0, state.backoff_until, None, state.backoff_reason)
    available = want
    blocked: tuple[datetime, SendWindow] | None = None
    for window in windows:
        recent = SendSlot.objects.filter(channel_id=channel_id, taken_at__gt=now - window.span)
        used = recent.count()
        if used < window.limit:
            available = min(available, window.limit - used)
            continue
        # Full: it opens when the limit-th most recent slot leaves the trailing window.
        edge = (
            recent.order_by("-taken_at")
            .values_list("taken_at", flat=True)[window.limit - 1 : window.limit]
            .first()
        )
        if edge is None:  # the slots left the window since they were counted
            continue
        opens_at = edge + window.span
        if blocked is None or opens_at > blocked[0]:
            blocked = (opens_at, window)
    if blocked:
        return Allowance(0, blocked[0], blocked[1], blocked[1].label)
    return Allowance(available)


def slots_take(*, channel_id: int, count: int, now: datetime) -> None:
    if count:
        SendSlot.objects.bulk_create(
            [SendSlot(channel_id=channel_id, taken_at=now) for _ in range(count)]
        )


def slots_return(*, channel_id: int, count: int, taken_at: datetime) -> None:
    """Give back slots taken at `taken_at` for messages that never reached the provider."""
    ids = list(
        SendSlot.objects.filter(channel_id=channel_id, taken_at=taken_at).values_list(
            "id", flat=True
        )[:count]
    )
    SendSlot.objects.filter(id__in=ids).delete()


def channel_backoff(*, channel_id: int, until: datetime, reason: str) -> None:
    """The provider asked the whole mailbox to wait (HTTP 429): nobody sends before `until`."""
    with transaction.atomic():
        state = _lock_state(channel_id=channel_id)
        if state.backoff_until is None or state.backoff_until < until:
            state.backoff_until = until
            state.backoff_reason = reason[:500]
            state.save(update_fields=["backoff_until", "backoff_reason", "updated_at"])


def send_slots_prune(*, now: datetime) -> int:
    """Ledger rows older than the longest window (24 h) no longer count."""
    deleted, _ = SendSlot.objects.filter(taken_at__lt=now - timedelta(seconds=DAY + 60)).delete()
    return deleted


@dataclass(frozen=True)
class QueueEstimate:
    """When a waiting email should go, from its place in its mailbox's queue."""

    at: datetime
    position: int  # 1 = the head of the mailbox's queue
    pace: str  # the window that sets the time, in words


def queue_estimates(*, emails: list[OutboundEmail], now: datetime) -> dict[int, QueueEstimate]:
    """Each queued or throttled email's own estimate: the mailbox's queue opens at its next
    window (the head's `next_attempt_at`, or now), and the email at place p goes after the
    p − 1 ahead of it have each taken a slot in every window (`limit` per `seconds`): the
    latest of those times over the mailbox's windows. Slots already used in a window are only
    counted for the head (its time already waits for them), so deep in a backlog the estimate
    errs early by at most one window. Emails of unthrottled channels get none."""
    waiting = [
        e
        for e in emails
        if e.status in (OutboundEmail.Status.QUEUED, OutboundEmail.Status.THROTTLED)
        and e.channel_id is not None
    ]
    if not waiting:
        return {}
    queue = OutboundEmail.objects.filter(
        status__in=[OutboundEmail.Status.QUEUED, OutboundEmail.Status.THROTTLED],
        channel_id__in={e.channel_id for e in waiting},
    )
    positions = dict(
        queue.annotate(
            position=Window(
                RowNumber(),
                partition_by=[F("channel_id")],
                order_by=[F("priority").asc(), F("next_attempt_at").asc(), F("id").asc()],
            )
        )
        .filter(id__in=[e.id for e in waiting])
        .values_list("id", "position")
    )
    opens = dict(
        queue.values("channel_id")
        .annotate(opens=Min("next_attempt_at"))
        .values_list("channel_id", "opens")
    )
    estimates: dict[int, QueueEstimate] = {}
    windows_of: dict[int, list[SendWindow]] = {}
    for email in waiting:
        channel = email.channel
        if channel is None:
            continue
        if channel.pk not in windows_of:
            windows_of[channel.pk] = channel_send_windows(channel=channel)
        windows = windows_of[channel.pk]
        position = positions.get(email.id)
        if not windows or position is None:
            continue
        start = max(now, opens.get(channel.pk) or now)
        binding = max(windows, key=lambda w: (position - 1) // w.limit * w.seconds)
        wait = (position - 1) // binding.limit * binding.seconds
        estimates[email.id] = QueueEstimate(
            at=start + timedelta(seconds=wait), position=position, pace=binding.label
        )
    return estimates
