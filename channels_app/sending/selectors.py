"""Reads of the send pipeline: which emails are due in a mailbox's queue."""

from datetime import datetime

from django.db.models import Q

from outreach.models import Campaign, Enrollment, OutboundEmail

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
