"""Reads of the send pipeline: which emails are due in a mailbox's queue, and when a waiting
one should go."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Min, Q, Window
from django.db.models.functions import RowNumber

from outreach.models import Campaign, Enrollment, OutboundEmail

from .limits import SendWindow, channel_send_windows

# A campaign step waits while its enrollment or its whole campaign is paused (a finished
# enrollment's last step still goes; stopped enrollments had their steps cancelled). When the
# campaign is active again, the dispatcher finds its steps due and wakes their mailboxes.
ACTIVE_ENROLLMENT_Q = Q(enrollment__isnull=True) | Q(
    enrollment__state__in=[Enrollment.State.ACTIVE, Enrollment.State.FINISHED],
    enrollment__campaign__status=Campaign.Status.ACTIVE,
)


def pending_due_q(*, now: datetime) -> Q:
    """Emails waiting in a queue whose time has come, campaign steps of paused campaigns or
    enrollments aside."""
    return (
        Q(status__in=OutboundEmail.PENDING_STATUSES, next_attempt_at__lte=now) & ACTIVE_ENROLLMENT_Q
    )


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
        if email.channel_id not in windows_of:
            windows_of[email.channel_id] = channel_send_windows(channel=email.channel)
        windows = windows_of[email.channel_id]
        position = positions.get(email.id)
        if not windows or position is None:
            continue
        start = max(now, opens.get(email.channel_id) or now)
        binding = max(windows, key=lambda w: (position - 1) // w.limit * w.seconds)
        wait = (position - 1) // binding.limit * binding.seconds
        estimates[email.id] = QueueEstimate(
            at=start + timedelta(seconds=wait), position=position, pace=binding.label
        )
    return estimates
