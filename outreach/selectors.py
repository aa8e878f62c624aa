"""Reads for outreach pages. Every function takes the viewing user and applies the
organization and role scope (accounts.selectors)."""

from django.db.models import Count, Q, QuerySet

from accounts.models import User
from accounts.selectors import user_scope_q

from .models import Campaign, EmailTemplate, OutboundEmail, Prospect


def prospect_list(*, user: User, search: str = "") -> QuerySet[Prospect]:
    prospects = Prospect.objects.filter(organization_id=user.organization_id).filter(
        user_scope_q(user=user, field="owner")
    )
    if search:
        prospects = prospects.filter(
            Q(email__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
            | Q(company__icontains=search)
        )
    return prospects.select_related("owner")


def template_list(*, user: User) -> QuerySet[EmailTemplate]:
    """A user's templates: what their scope covers, plus the organization's shared ones."""
    if user.organization_id is None:
        return EmailTemplate.objects.none()
    return (
        EmailTemplate.objects.filter(organization_id=user.organization_id)
        .filter(user_scope_q(user=user, field="owner") | Q(is_shared=True))
        .select_related("owner")
    )


def campaign_list(*, user: User) -> QuerySet[Campaign]:
    if user.organization_id is None:
        return Campaign.objects.none()
    return (
        Campaign.objects.filter(organization_id=user.organization_id)
        .filter(user_scope_q(user=user, field="owner"))
        .select_related("owner")
        .annotate(step_count=Count("steps", distinct=True))
    )


def outbound_email_list(*, user: User, status: str | None = None) -> QuerySet[OutboundEmail]:
    if user.organization_id is None:
        return OutboundEmail.objects.none()
    emails = OutboundEmail.objects.filter(organization_id=user.organization_id).filter(
        user_scope_q(user=user, field="sender")
    )
    if status:
        emails = emails.filter(status=status)
    return emails.select_related("sender", "prospect")


def outbound_email_counts(*, user: User) -> dict[str, int]:
    """Emails per status (every status present, zero when none), plus "waiting": queued,
    throttled or being sent."""
    rows = outbound_email_list(user=user).order_by().values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(OutboundEmail.Status.values, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    counts["waiting"] = counts["queued"] + counts["throttled"] + counts["sending"]
    return counts
