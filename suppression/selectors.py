"""Reads of the suppression list: whether an address may be emailed (the send paths' check,
one indexed query for one address or a whole batch), the admins' page, the policy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import User
from outreach.models import OutboundEmail

from .models import Suppression, SuppressionPolicy


class RecipientSuppressed(Exception):
    """The recipient is on the organization's suppression list: nothing is queued or sent."""

    code = "recipient_suppressed"

    def __init__(self, entry: Suppression):
        self.entry = entry
        self.reason = suppression_reason_text(entry=entry)
        super().__init__(self.reason)


def address_normalize(address: str) -> str:
    return (address or "").strip().lower()


def address_domain(address: str) -> str:
    return address_normalize(address).rpartition("@")[2]


def suppression_reason_text(*, entry: Suppression) -> str:
    """'bounce.jamie@northwind.test is on the suppression list: Hard bounce (550 5.1.1 …),
    since 2026-12-02.' — the words Compose, the API and the outbox show."""
    what = (
        f"every address at {entry.address}"
        if entry.scope == Suppression.Scope.DOMAIN
        else (entry.address)
    )
    reason = entry.get_reason_display()
    if entry.detail:
        reason += f" ({entry.detail[:200]})"
    since = timezone.localtime(entry.created_at).date().isoformat() if entry.created_at else ""
    return f"{what} is on the suppression list: {reason}" + (f", since {since}." if since else ".")


def suppressions_find(*, organization_id: int, addresses: Iterable[str]) -> dict[str, Suppression]:
    """The active entry that blocks each of `addresses` (normalized), for those blocked. One
    query whatever the number of addresses: the send pipeline checks a batch at once."""
    wanted = {address_normalize(a) for a in addresses if a}
    if not wanted:
        return {}
    domains = {address_domain(a) for a in wanted}
    entries = Suppression.objects.filter(
        Q(scope=Suppression.Scope.ADDRESS, address__in=wanted)
        | Q(scope=Suppression.Scope.DOMAIN, address__in=domains),
        organization_id=organization_id,
        removed_at__isnull=True,
    )
    by_address: dict[str, Suppression] = {}
    by_domain: dict[str, Suppression] = {}
    for entry in entries:
        (by_domain if entry.scope == Suppression.Scope.DOMAIN else by_address)[entry.address] = (
            entry
        )
    found = {}
    for address in wanted:
        entry = by_address.get(address) or by_domain.get(address_domain(address))
        if entry is not None:
            found[address] = entry
    return found


COMPLAINT_WINDOW_DAYS = 30


@dataclass(frozen=True)
class ComplaintRate:
    complaints: int
    sent: int
    percent: float
    over_limit: bool


def complaint_rate(*, organization_id: int, limit_percent: float) -> ComplaintRate:
    """Spam complaints (suppressed as complained) over the emails sent in the last 30 days."""
    since = timezone.now() - timedelta(days=COMPLAINT_WINDOW_DAYS)
    complaints = Suppression.objects.filter(
        organization_id=organization_id,
        reason=Suppression.Reason.COMPLAINED,
        created_at__gte=since,
    ).count()
    sent = OutboundEmail.objects.filter(organization_id=organization_id, sent_at__gte=since).count()
    percent = 100.0 * complaints / sent if sent else 0.0
    return ComplaintRate(complaints, sent, percent, bool(sent) and percent > limit_percent)


def suppressed_address_q(*, organization_id: int, field: str = "email") -> Q:
    """Rows whose address `field` is on the organization's suppression list (the address
    itself or its whole domain): for counting who a bulk action will skip."""
    live = Suppression.objects.filter(organization_id=organization_id, removed_at__isnull=True)
    addresses = (
        live.filter(scope=Suppression.Scope.ADDRESS)
        .annotate(wanted=Lower(OuterRef(field)))
        .filter(address=F("wanted"))
    )
    q = Q(Exists(addresses))
    for domain in live.filter(scope=Suppression.Scope.DOMAIN).values_list("address", flat=True):
        q |= Q(**{f"{field}__iendswith": f"@{domain}"})
    return q


def suppression_find(*, organization_id: int, address: str) -> Suppression | None:
    return suppressions_find(organization_id=organization_id, addresses=[address]).get(
        address_normalize(address)
    )


def suppression_check(*, organization_id: int, address: str) -> None:
    """Raise RecipientSuppressed when `address` may not be emailed by the organization."""
    entry = suppression_find(organization_id=organization_id, address=address)
    if entry is not None:
        raise RecipientSuppressed(entry)


def suppression_list(
    *, user: User, search: str = "", include_removed: bool = False
) -> QuerySet[Suppression]:
    """The organization's entries for its admins (nobody else manages the list)."""
    if not user.is_org_admin or user.organization_id is None:
        return Suppression.objects.none()
    entries = Suppression.objects.filter(organization_id=user.organization_id).select_related(
        "created_by", "removed_by", "source_bounce", "source_email"
    )
    if not include_removed:
        entries = entries.filter(removed_at__isnull=True)
    if search:
        entries = entries.filter(Q(address__icontains=search) | Q(detail__icontains=search))
    return entries


def suppression_policy(*, organization_id: int) -> SuppressionPolicy:
    """The organization's policy, or an unsaved one with the deployment's defaults."""
    policy = SuppressionPolicy.objects.filter(organization_id=organization_id).first()
    if policy is None:
        policy = SuppressionPolicy(
            organization_id=organization_id,
            soft_bounce_limit=settings.MAILROOM_SOFT_BOUNCE_LIMIT,
            soft_bounce_window_days=settings.MAILROOM_SOFT_BOUNCE_WINDOW_DAYS,
        )
    return policy


def unsubscribe_link_replayed(*, organization_id: int, address: str, issued_at) -> bool:
    """The link was used once already (an unsubscribe recorded after it was issued) and an
    admin lifted that suppression since: using the link again must not undo their decision."""
    return Suppression.objects.filter(
        organization_id=organization_id,
        scope=Suppression.Scope.ADDRESS,
        address=address_normalize(address),
        reason=Suppression.Reason.UNSUBSCRIBED,
        removed_at__isnull=False,
        created_at__gte=issued_at,
    ).exists()
