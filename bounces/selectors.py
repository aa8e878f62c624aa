"""Reads for the bounces page. Every function takes the viewing user and applies the
organization and role scope (accounts.selectors), so no page can show another tenant's rows."""

from datetime import datetime

from django.db.models import Q, QuerySet

from accounts.models import User
from accounts.selectors import user_scope_q
from channels_app.models import DeliveryChannel

from .models import Bounce, InboxMessage


def inbox_messages_due_q(*, now: datetime) -> Q:
    """Stored messages not processed yet whose (re)try is due."""
    return Q(processed_at__isnull=True) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def inbox_messages_unreadable_q() -> Q:
    """ "Unreadable messages": stored, not processed, and the last try failed (to fetch or to
    process). They are retried with backoff until they work, and listed for admins."""
    return Q(processed_at__isnull=True) & ~Q(last_error="")


def inbox_messages_unreadable() -> QuerySet[InboxMessage]:
    return InboxMessage.objects.filter(inbox_messages_unreadable_q())


def user_sees_unmatched_bounces(*, user: User) -> bool:
    """Unmatched bounces belong to no email and so to no rep: admins and managers look at them."""
    return user.is_authenticated and user.role in (User.Role.ADMIN, User.Role.MANAGER)


def bounce_list(
    *, user: User, matched: bool = True, hardness: str = "", channel_id: int | None = None
) -> QuerySet[Bounce]:
    """Matched bounces of the emails `user` may see (by sender), or unmatched bounces that
    arrived in the mailboxes `user` may see (admins and managers only)."""
    if not user.is_authenticated or user.organization_id is None:
        return Bounce.objects.none()
    bounces = Bounce.objects.filter(organization_id=user.organization_id)
    if matched:
        bounces = bounces.filter(outbound_email__isnull=False).filter(
            user_scope_q(user=user, field="outbound_email__sender")
        )
    else:
        if not user_sees_unmatched_bounces(user=user):
            return Bounce.objects.none()
        bounces = bounces.filter(outbound_email__isnull=True).filter(
            user_scope_q(user=user, field="channel__owner")
        )
    if hardness == "hard":
        bounces = bounces.filter(is_hard=True)
    elif hardness == "soft":
        bounces = bounces.filter(is_hard=False)
    if channel_id:
        bounces = bounces.filter(channel_id=channel_id)
    return bounces.select_related(
        "outbound_email", "outbound_email__sender", "outbound_email__prospect", "channel"
    ).order_by("-occurred_at", "-id")


def polled_channel_list(*, user: User) -> QuerySet[DeliveryChannel]:
    """The Gmail / Exchange Online mailboxes and the SMTP channels with an IMAP inbox `user`
    may see (the team SMTP's: admins), with their polling health."""
    if not user.is_authenticated or user.organization_id is None:
        return DeliveryChannel.objects.none()
    scope = user_scope_q(user=user, field="owner")
    if user.is_org_admin:
        scope |= Q(owner__isnull=True)
    imap = Q(kind=DeliveryChannel.Kind.CUSTOM_SMTP) & ~Q(imap_host="")
    return (
        DeliveryChannel.objects.filter(
            Q(kind__in=DeliveryChannel.POLLED_KINDS) | imap,
            organization_id=user.organization_id,
        )
        .exclude(status=DeliveryChannel.Status.DISCONNECTED)
        .filter(scope)
        .select_related("owner")
        .order_by("owner__email", "kind")
    )


def paused_channel_list(*, user: User) -> QuerySet[DeliveryChannel]:
    """Mailboxes in `user`'s scope whose campaigns mailbox protection paused."""
    if not user.is_authenticated or user.organization_id is None:
        return DeliveryChannel.objects.none()
    return (
        DeliveryChannel.objects.filter(
            organization_id=user.organization_id, campaigns_paused_at__isnull=False
        )
        .filter(user_scope_q(user=user, field="owner"))
        .select_related("owner")
        .order_by("-campaigns_paused_at")
    )


def channel_for_action(*, user: User, channel_id: int) -> DeliveryChannel | None:
    """A mailbox `user` may act on (resume, poll now): in scope, or None."""
    return polled_channel_list(user=user).filter(pk=channel_id).first() or (
        paused_channel_list(user=user).filter(pk=channel_id).first()
    )
