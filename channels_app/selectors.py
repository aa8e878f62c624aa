"""Reads about delivery channels: which channel a user sends through, what they may choose,
and what the email settings page shows. Every function is scoped to the user's organization."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_noop

from accounts.models import User

from .models import ChannelChoice, DeliveryChannel

Kind = DeliveryChannel.Kind
Status = DeliveryChannel.Status


def _org_channels_q(*, user: User) -> Q:
    """Organization-wide channels `user` may send through: the team SMTP, and the legacy
    servers when the organization is a legacy one."""
    q = Q(organization_id=user.organization_id, owner__isnull=True, is_team_default=True)
    if user.organization is not None and user.organization.is_legacy:
        q |= Q(organization_id=user.organization_id, owner__isnull=True, kind=Kind.MSC_LEGACY)
    return q


def channel_may_send_for(*, channel: DeliveryChannel, user: User) -> bool:
    """Whether `channel` still belongs to what `user` may send through (whatever its status):
    their own channel, the team SMTP, or the legacy servers of a legacy organization."""
    if channel.status == Status.DISCONNECTED or user.organization_id is None:
        return False
    if channel.organization_id != user.organization_id:
        return False
    if channel.owner_id is not None:
        return channel.owner_id == user.pk
    if channel.kind == Kind.MSC_LEGACY:
        return bool(user.organization.is_legacy)
    return channel.is_team_default


def team_smtp_for_organization(*, organization_id: int) -> DeliveryChannel | None:
    """The organization's team SMTP (connected or not), if an admin set one."""
    return (
        DeliveryChannel.objects.filter(
            organization_id=organization_id, owner__isnull=True, is_team_default=True
        )
        .exclude(status=Status.DISCONNECTED)
        .order_by("pk")
        .first()
    )


def channel_by_esp_webhook_key(*, key: str) -> DeliveryChannel | None:
    """The SMTP channel whose ESP webhook URL ends in `key` (None for an unknown key)."""
    if not key or len(key) > 64:
        return None
    return (
        DeliveryChannel.objects.filter(kind=Kind.CUSTOM_SMTP, esp_webhook_key=key)
        .exclude(esp="")
        .select_related("organization", "owner")
        .first()
    )


def legacy_channel_for_organization(*, organization_id: int) -> DeliveryChannel | None:
    return (
        DeliveryChannel.objects.filter(
            organization_id=organization_id, owner__isnull=True, kind=Kind.MSC_LEGACY
        )
        .exclude(status=Status.DISCONNECTED)
        .order_by("pk")
        .first()
    )


def channel_for_user(*, user: User) -> DeliveryChannel | None:
    """The channel `user`'s mail goes out through (README, "Connecting a channel"):

    1. the channel they chose, while it is still theirs to use. A chosen channel that needs
       reconnecting is still returned: its mail waits for the reconnect, it is never rerouted;
    2. else the organization's team SMTP, when an admin set one and it is connected;
    3. else their own connected channel (mailboxes first), e.g. after the chosen one was
       disconnected;
    4. else None: the user cannot send until they connect something.
    """
    if not user.is_authenticated or user.organization_id is None:
        return None
    choice = ChannelChoice.objects.select_related("channel").filter(user_id=user.pk).first()
    if choice is not None and channel_may_send_for(channel=choice.channel, user=user):
        return choice.channel
    team_smtp = team_smtp_for_organization(organization_id=user.organization_id)
    if team_smtp is not None and team_smtp.is_usable:
        return team_smtp
    own = list(DeliveryChannel.objects.filter(owner_id=user.pk, status=Status.CONNECTED))
    if not own:
        return None
    preference = [Kind.GMAIL, Kind.EXCHANGE_ONLINE, Kind.EXCHANGE_ONPREM, Kind.CUSTOM_SMTP]
    own.sort(key=lambda c: preference.index(c.kind) if c.kind in preference else len(preference))
    return own[0]


def channel_list_usable(*, user: User) -> QuerySet[DeliveryChannel]:
    """The connected channels `user` may choose to send through: their own, the team SMTP,
    and the legacy servers (legacy organizations only, once the organization's row exists)."""
    if not user.is_authenticated or user.organization_id is None:
        return DeliveryChannel.objects.none()
    return DeliveryChannel.objects.filter(
        Q(owner_id=user.pk) | _org_channels_q(user=user), status=Status.CONNECTED
    ).order_by("kind", "pk")


def channel_get_for_kind(*, user: User, kind: str) -> DeliveryChannel | None:
    """The user's own channel of `kind` that is not disconnected (it may need reconnecting:
    callers check `.is_usable`). The plug-in rule uses it: Outlook plug-in mail goes through
    the sender's Exchange channel, Gmail plug-in mail through their Gmail, never elsewhere."""
    if not user.is_authenticated:
        return None
    return (
        DeliveryChannel.objects.filter(owner_id=user.pk, kind=kind)
        .exclude(status=Status.DISCONNECTED)
        .order_by("pk")
        .first()
    )


def channel_get_visible(*, user: User, channel_id: int) -> DeliveryChannel | None:
    """A channel `user` may act on from the settings page: their own, or (admins only) the
    organization's team SMTP and legacy channel."""
    if not user.is_authenticated or user.organization_id is None:
        return None
    q = Q(owner_id=user.pk)
    if user.is_org_admin:
        q |= Q(owner__isnull=True)
    return (
        DeliveryChannel.objects.filter(q, pk=channel_id, organization_id=user.organization_id)
        .exclude(status=Status.DISCONNECTED)
        .order_by("pk")
        .first()
    )


@dataclass(frozen=True)
class EmailSettings:
    """Everything the email settings page shows for one user."""

    current: DeliveryChannel | None
    chosen_id: int | None
    own: dict[str, DeliveryChannel]  # kind -> the user's live channel of that kind
    team_smtp: DeliveryChannel | None
    legacy: DeliveryChannel | None
    is_legacy_org: bool
    can_manage_team: bool

    @property
    def usable(self) -> list[DeliveryChannel]:
        channels = [c for c in self.own.values() if c.is_usable]
        if self.team_smtp is not None and self.team_smtp.is_usable:
            channels.append(self.team_smtp)
        if self.is_legacy_org and self.legacy is not None and self.legacy.is_usable:
            channels.append(self.legacy)
        return channels


def email_settings_for_user(*, user: User) -> EmailSettings:
    """One query for the user's and the organization's live channels, one for the choice."""
    is_legacy_org = bool(user.organization and user.organization.is_legacy)
    rows = list(
        DeliveryChannel.objects.filter(
            Q(owner_id=user.pk) | Q(organization_id=user.organization_id, owner__isnull=True)
        ).exclude(status=Status.DISCONNECTED)
    )
    own = {c.kind: c for c in rows if c.owner_id == user.pk}
    team_smtp = next((c for c in rows if c.owner_id is None and c.is_team_default), None)
    legacy = next((c for c in rows if c.owner_id is None and c.kind == Kind.MSC_LEGACY), None)
    choice = ChannelChoice.objects.filter(user_id=user.pk).values_list("channel_id", flat=True)
    chosen_id = next(iter(choice), None)
    return EmailSettings(
        current=channel_for_user(user=user),
        chosen_id=chosen_id,
        own=own,
        team_smtp=team_smtp,
        legacy=legacy,
        is_legacy_org=is_legacy_org,
        can_manage_team=user.is_org_admin,
    )


def channel_banner_rows(*, user: User) -> list[dict]:
    """The few columns the every-page banner needs, in one indexed query: the user's own
    channels plus the organization's (for "no usable channel")."""
    if not user.is_authenticated or user.organization_id is None:
        return []
    columns = ("id", "kind", "status", "owner_id", "mailbox_address", "last_error")
    live = DeliveryChannel.objects.exclude(status=Status.DISCONNECTED).order_by()
    # A UNION rather than an OR, so each half uses its own index (owner; organization-wide).
    own = live.filter(owner_id=user.pk).values(*columns)
    org_wide = live.filter(organization_id=user.organization_id, owner__isnull=True).values(
        *columns
    )
    return list(own.union(org_wide, all=True))


# --- Where a saved password may go ----------------------------------------------------------

SERVER_CHANGED_TYPE_AGAIN = gettext_noop(
    "The server changed: type the password again. A saved password is only ever sent to the "
    "server it was saved for."
)


def smtp_server(host: str, port: int | None, security: str) -> tuple:
    """Where an SMTP password goes: the host, the port, and how the line is secured."""
    return ((host or "").strip().lower(), port, security)


def ews_server(ews_url: str) -> tuple | None:
    """Where an Exchange password goes: the EWS URL's scheme, host and port. None for
    Autodiscover (an empty URL): the server is not known before the password is sent."""
    if not ews_url:
        return None
    parts = urlsplit(ews_url.strip())
    try:
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    return (scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80))
