"""What a bounce, a reply or an unsubscribe does to a prospect: its address marked invalid or
suppressed, its campaign enrollments stopped and their queued steps cancelled.

The bounce outcomes (bounces.services) and the workspace (outreach.services) both need these,
so they live below both, importing only models (README, "Architecture")."""

from django.db import transaction
from django.utils import timezone

from suppression.models import Suppression
from suppression.services import suppression_add

from .models import Enrollment, OutboundEmail, Prospect

OPEN_ENROLLMENT_STATES = (Enrollment.State.ACTIVE, Enrollment.State.PAUSED)
STOP_STATES = (
    Enrollment.State.STOPPED_BOUNCED,
    Enrollment.State.STOPPED_REPLIED,
    Enrollment.State.STOPPED_SUPPRESSED,
    Enrollment.State.STOPPED_UNSUBSCRIBED,
)


@transaction.atomic
def prospect_mark_invalid(*, prospect: Prospect, reason: str) -> bool:
    """Mark the prospect's address invalid (a hard bounce, or repeated soft ones).
    Returns False when it already was."""
    updated = Prospect.objects.filter(
        pk=prospect.pk, email_status=Prospect.EmailStatus.VALID
    ).update(
        email_status=Prospect.EmailStatus.INVALID,
        invalid_reason=reason[:500],
        invalidated_at=timezone.now(),
        updated_at=timezone.now(),
    )
    prospect.refresh_from_db(fields=["email_status", "invalid_reason", "invalidated_at"])
    return bool(updated)


_STOP_WORDS = {
    Enrollment.State.STOPPED_BOUNCED: "the prospect bounced.",
    Enrollment.State.STOPPED_REPLIED: "the prospect replied.",
    Enrollment.State.STOPPED_SUPPRESSED: "the address is on the suppression list.",
    Enrollment.State.STOPPED_UNSUBSCRIBED: "the prospect unsubscribed.",
}


@transaction.atomic
def enrollments_stop_for_prospect(
    *, prospect: Prospect, state: str, campaign_id: int | None = None
) -> int:
    """Stop the prospect's open enrollments (all of them, or one campaign's) with `state`
    (one of STOP_STATES). Returns how many stopped."""
    if state not in STOP_STATES:
        raise ValueError(f"not a stop state: {state}")
    enrollments = Enrollment.objects.filter(prospect=prospect, state__in=OPEN_ENROLLMENT_STATES)
    if campaign_id is not None:
        enrollments = enrollments.filter(campaign_id=campaign_id)
    now = timezone.now()
    stopped_ids = list(enrollments.values_list("id", flat=True))
    # Campaign steps already queued for the prospect must not go out either (even when the
    # enrollment had just queued its last step and finished).
    pending = OutboundEmail.objects.filter(
        prospect=prospect,
        enrollment__isnull=False,
        status__in=OutboundEmail.PENDING_STATUSES,
    )
    if campaign_id is not None:
        pending = pending.filter(enrollment__campaign_id=campaign_id)
    pending.update(
        status=OutboundEmail.Status.CANCELLED,
        waiting_reason=f"Campaign stopped: {_STOP_WORDS[state]}",
        updated_at=now,
    )
    return Enrollment.objects.filter(id__in=stopped_ids).update(
        state=state, next_step=None, next_due_at=None, stopped_at=now, updated_at=now
    )


@transaction.atomic
def address_unsubscribe(
    *,
    organization_id: int,
    address: str,
    source_email: OutboundEmail | None = None,
    source_message=None,
    confirmed_by=None,
) -> tuple[Suppression, bool]:
    """The recipient asked to hear no more (the one-click link, or a reply the rep confirmed):
    the address goes on the suppression list and every campaign of its prospects stops.
    Idempotent: returns the existing entry (created=False) when it was already suppressed."""
    entry, created = suppression_add(
        organization_id=organization_id,
        value=address,
        reason=Suppression.Reason.UNSUBSCRIBED,
        detail="Confirmed from their reply." if source_message is not None else "",
        created_by=confirmed_by,
        source_email=source_email,
        source_message=source_message,
    )
    prospects = Prospect.objects.filter(organization_id=organization_id, email__iexact=address)
    for prospect in prospects:
        enrollments_stop_for_prospect(
            prospect=prospect, state=Enrollment.State.STOPPED_UNSUBSCRIBED
        )
    return entry, created
