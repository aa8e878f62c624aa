"""Reads for outreach pages. Every function takes the viewing user and applies the
organization and role scope (accounts.selectors)."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Lower, StrIndex, Substr
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.selectors import user_list_visible, user_scope_q
from channels_app.models import DeliveryChannel
from suppression.models import Suppression

from .models import (
    ApiToken,
    Campaign,
    EmailTemplate,
    Enrollment,
    OutboundEmail,
    Prospect,
    ProspectImport,
)

Status = OutboundEmail.Status

# The outbox's tabs: what a person looks for, not one tab per internal status.
OUTBOX_TABS: dict[str, tuple[str | Promise, tuple[str, ...]]] = {
    "scheduled": (_("Scheduled"), (Status.SCHEDULED,)),
    "waiting": (_("Queued / throttled"), (Status.QUEUED, Status.THROTTLED, Status.SENDING)),
    "sent": (_("Sent"), (Status.SENT,)),
    "failed": (_("Failed"), (Status.FAILED,)),
    "bounced": (_("Bounced"), (Status.BOUNCED,)),
    "cancelled": (_("Cancelled"), (Status.CANCELLED,)),
}


# The prospects list's sortable columns: the key in ?sort= and the fields it orders by.
PROSPECT_SORTS = {
    "name": ("last_name", "first_name"),
    "email": ("email",),
    "company": ("company",),
    "owner": ("owner__first_name", "owner__last_name", "owner__email"),
    "address": ("email_status",),
}


# The prospects list's address filter beyond valid / invalid: on the suppression list.
SUPPRESSED = "suppressed"


def _suppression_of(email) -> QuerySet[Suppression]:
    """The active suppression entries blocking `email` (an outer reference): its address, or
    its whole domain, in the prospect's organization."""
    address = Lower(email)
    domain = Substr(address, StrIndex(address, Value("@")) + 1)
    return Suppression.objects.filter(
        Q(scope=Suppression.Scope.ADDRESS, address=address)
        | Q(scope=Suppression.Scope.DOMAIN, address=domain),
        organization_id=OuterRef("organization_id"),
        removed_at__isnull=True,
    )


def _prospects_in_scope(*, user: User) -> QuerySet[Prospect]:
    return Prospect.objects.filter(organization_id=user.organization_id).filter(
        user_scope_q(user=user, field="owner")
    )


def prospect_list(
    *,
    user: User,
    search: str = "",
    address: str = "",
    sort: str = "",
    owner_id: int | None = None,
    company: str = "",
) -> QuerySet[Prospect]:
    """The prospects `user` may see and edit, optionally searched, filtered by address state
    (valid / invalid / suppressed), owner and company (the whole name, any case), and sorted
    by a PROSPECT_SORTS key ("-" first: the other way). The prospects page, its CSV export
    and enrollment all read it."""
    prospects = _prospects_in_scope(user=user)
    if owner_id is not None:
        prospects = prospects.filter(owner_id=owner_id)
    if company:
        prospects = prospects.filter(company__iexact=company)
    if search:
        prospects = prospects.filter(
            Q(email__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
            | Q(company__icontains=search)
        )
    prospects = prospects.annotate(is_suppressed=Exists(_suppression_of(OuterRef("email"))))
    if address in Prospect.EmailStatus.values:
        prospects = prospects.filter(email_status=address)
    elif address == SUPPRESSED:
        prospects = prospects.filter(is_suppressed=True)
    if sort.lstrip("-") in PROSPECT_SORTS:
        fields = PROSPECT_SORTS[sort.lstrip("-")]
        prospects = prospects.order_by(
            *(f"-{f}" if sort.startswith("-") else f for f in fields), "pk"
        )
    return prospects.select_related("owner")


def prospect_companies(*, user: User, limit: int = 500) -> list[str]:
    """The companies of the prospects `user` may see, A to Z (the company filter's list)."""
    names = (
        _prospects_in_scope(user=user)
        .exclude(company="")
        .order_by("company")
        .values_list("company", flat=True)
        .distinct()
    )
    return list(names[:limit])


@dataclass(frozen=True)
class ProspectDeleteEffects:
    open_enrollments: int
    pending_emails: int

    @property
    def sentence(self) -> str:
        """What deleting the prospect does, as the confirmation asks it."""
        enrollments = ngettext(
            "%(count)s campaign enrollment ends",
            "%(count)s campaign enrollments end",
            self.open_enrollments,
        ) % {"count": self.open_enrollments}
        emails = ngettext(
            "%(count)s email not sent yet is cancelled",
            "%(count)s emails not sent yet are cancelled",
            self.pending_emails,
        ) % {"count": self.pending_emails}
        if self.open_enrollments and self.pending_emails:
            effect = gettext("%(enrollments)s and %(emails)s.") % {
                "enrollments": enrollments,
                "emails": emails,
            }
        elif self.open_enrollments or self.pending_emails:
            effect = gettext("%(effect)s.") % {
                "effect": enrollments if self.open_enrollments else emails
            }
        else:
            effect = gettext("They are in no running campaign.")
        return effect + " " + gettext("Emails already sent stay in the outbox and the analytics.")


def prospect_delete_effects(*, prospect: Prospect) -> ProspectDeleteEffects:
    return ProspectDeleteEffects(
        open_enrollments=prospect.enrollments.filter(
            state__in=(Enrollment.State.ACTIVE, Enrollment.State.PAUSED)
        ).count(),
        pending_emails=prospect.emails.filter(status__in=OutboundEmail.PENDING_STATUSES).count(),
    )


def prospect_import_list(*, user: User) -> QuerySet[ProspectImport]:
    """The imports a user started (an admin: the organization's)."""
    imports = ProspectImport.objects.filter(organization_id=user.organization_id)
    if user.role != User.Role.ADMIN:
        imports = imports.filter(created_by=user)
    return imports.select_related("created_by", "owner")


def template_list(*, user: User) -> QuerySet[EmailTemplate]:
    """A user's templates: what their scope covers, plus the organization's shared ones."""
    if user.organization_id is None:
        return EmailTemplate.objects.none()
    return (
        EmailTemplate.objects.filter(organization_id=user.organization_id)
        .filter(user_scope_q(user=user, field="owner") | Q(is_shared=True))
        .select_related("owner")
    )


def template_list_editable(*, user: User) -> QuerySet[EmailTemplate]:
    """The templates a user may edit and delete: their scope's, not other people's shared
    ones (those they can duplicate)."""
    if user.organization_id is None:
        return EmailTemplate.objects.none()
    return (
        EmailTemplate.objects.filter(organization_id=user.organization_id)
        .filter(user_scope_q(user=user, field="owner"))
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


def campaign_list_with_counts(*, user: User) -> QuerySet[Campaign]:
    """The campaigns page: each campaign with its enrollments counted by how they stand."""
    state = Enrollment.State

    def enrollments(*states):
        return Count("enrollments", filter=Q(enrollments__state__in=states), distinct=True)

    return campaign_list(user=user).annotate(
        enrolled_count=Count("enrollments", distinct=True),
        active_count=enrollments(state.ACTIVE, state.PAUSED),
        replied_count=enrollments(state.STOPPED_REPLIED),
        bounced_count=enrollments(state.STOPPED_BOUNCED),
    )


def outbound_email_list(*, user: User, status: str | None = None) -> QuerySet[OutboundEmail]:
    if user.organization_id is None:
        return OutboundEmail.objects.none()
    emails = OutboundEmail.objects.filter(organization_id=user.organization_id).filter(
        user_scope_q(user=user, field="sender")
    )
    if status:
        emails = emails.filter(status=status)
    return emails.select_related("sender", "prospect", "channel", "enrollment__campaign")


def outbound_email_counts(*, user: User) -> dict[str, int]:
    """Emails per status (every status present, zero when none), plus "waiting": queued,
    throttled or being sent."""
    rows = outbound_email_list(user=user).order_by().values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(OutboundEmail.Status.values, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    counts["waiting"] = counts["queued"] + counts["throttled"] + counts["sending"]
    return counts


def campaign_steps_due_count(*, user: User, sender_id: int | None = None) -> int:
    """Campaign steps of the senders `user` may see that are due but whose emails the next
    campaign run (seconds away) has not written yet: the outbox is about to gain them."""
    if user.organization_id is None:
        return 0
    due = Enrollment.objects.filter(
        campaign__organization_id=user.organization_id,
        campaign__status=Campaign.Status.ACTIVE,
        state=Enrollment.State.ACTIVE,
        next_due_at__lte=timezone.now(),
    ).filter(user_scope_q(user=user, field="sender"))
    if sender_id:
        due = due.filter(sender_id=sender_id)
    return due.count()


def outbox_page(*, user: User, tab: str | None, sender_id: int | None = None, search: str = ""):
    """The outbox rows for a tab (None: everything), newest first, for the senders `user` may
    see (optionally one of them), optionally searched by recipient or subject."""
    emails = outbound_email_list(user=user)
    if tab in OUTBOX_TABS:
        emails = emails.filter(status__in=OUTBOX_TABS[tab][1])
    if sender_id:
        emails = emails.filter(sender_id=sender_id)
    if search:
        emails = emails.filter(Q(to_address__icontains=search) | Q(subject__icontains=search))
    if tab in ("scheduled", "waiting"):
        return emails.order_by("priority", "next_attempt_at", "id")
    return emails.order_by("-created_at", "-id")


@dataclass(frozen=True)
class ChannelFailures:
    channel: DeliveryChannel
    count: int


def outbox_failed_by_channel(*, user: User, sender_id: int | None = None) -> list[ChannelFailures]:
    """Failed emails per channel, for "Retry all N failed on …" once a channel is fixed."""
    emails = outbound_email_list(user=user).filter(status=Status.FAILED, channel__isnull=False)
    if sender_id:
        emails = emails.filter(sender_id=sender_id)
    rows = emails.order_by().values("channel_id").annotate(n=Count("id"))
    counts = {row["channel_id"]: row["n"] for row in rows}
    channels = DeliveryChannel.objects.filter(pk__in=counts).order_by("kind", "pk")
    return [ChannelFailures(channel=channel, count=counts[channel.pk]) for channel in channels]


def outbox_tab_counts(*, user: User, sender_id: int | None = None) -> dict[str, int]:
    emails = outbound_email_list(user=user)
    if sender_id:
        emails = emails.filter(sender_id=sender_id)
    rows = emails.order_by().values("status").annotate(n=Count("id"))
    by_status = {row["status"]: row["n"] for row in rows}
    counts = {
        tab: sum(by_status.get(status, 0) for status in statuses)
        for tab, (_, statuses) in OUTBOX_TABS.items()
    }
    counts["all"] = sum(by_status.values())
    counts["throttled"] = by_status.get(Status.THROTTLED, 0)
    return counts


# How the send pipeline writes instants into the reasons it stores ("… at 2030-01-15 14:00:00 UTC").
_UTC_STAMP = re.compile(r"\b(\d{4}-\d{2}-\d{2} \d{2}:\d{2})(:\d{2})? UTC\b")


def _local(when: datetime, *, seconds: bool = False) -> str:
    """An instant in the current time zone (the organization's, activated per request), named."""
    local = timezone.localtime(when)
    return f"{local:%Y-%m-%d %H:%M:%S}"[: 19 if seconds else 16] + f" {local.tzname()}"


def localize_utc_stamps(text: str) -> str:
    """Stored reasons carry UTC times; the pages show the reader's organization's time."""

    def local(match: re.Match) -> str:
        stamp = match.group(1) + (match.group(2) or ":00")
        when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        return _local(when, seconds=bool(match.group(2)))

    return _UTC_STAMP.sub(local, text)


def email_waiting_reason(*, email: OutboundEmail) -> str:
    """Why a pending email has not gone yet, as the outbox says it."""
    channel = email.channel
    if email.status not in OutboundEmail.PENDING_STATUSES:
        return ""
    if channel is not None:
        if channel.status == DeliveryChannel.Status.NEEDS_RECONNECT:
            return gettext(
                "Waiting for %(channel)s to be reconnected; it goes out by itself afterwards."
            ) % {"channel": channel.get_kind_display()}
        if channel.sending_paused_until and channel.sending_paused_until > timezone.now():
            return gettext("Mailbox paused until %(until)s: %(reason)s") % {
                "until": _local(channel.sending_paused_until),
                "reason": localize_utc_stamps(channel.sending_paused_reason),
            }
        if email.enrollment_id and channel.campaigns_paused_at:
            return gettext(
                "Campaign sends from this mailbox are paused (too many bounces): %(reason)s"
            ) % {"reason": channel.campaigns_paused_reason}
    if email.enrollment_id and email.enrollment.campaign.status != Campaign.Status.ACTIVE:
        return gettext(
            "The campaign “%(campaign)s” is %(status)s: this step goes out when it is active again."
        ) % {
            "campaign": email.enrollment.campaign.name,
            "status": email.enrollment.campaign.get_status_display().lower(),
        }
    if email.status == Status.SCHEDULED and not email.waiting_reason:
        return gettext("Scheduled for %(when)s") % {"when": _local(email.scheduled_at)}
    # A stored reason the catalogue knows (no channel to send through) reads in the page's
    # language; the others are the send pipeline's own words.
    reason = gettext(email.waiting_reason) if email.waiting_reason else ""
    return localize_utc_stamps(reason)


@dataclass(frozen=True)
class MailboxNotice:
    level: str  # error | warning | info
    text: str


def outbox_mailbox_notices(*, user: User) -> list[MailboxNotice]:
    """Mailboxes of the visible senders whose mail is held back, and why."""
    if user.organization_id is None:
        return []
    now = timezone.now()
    channels = (
        DeliveryChannel.objects.filter(
            organization_id=user.organization_id, owner__in=user_list_visible(user=user)
        )
        .filter(
            Q(status=DeliveryChannel.Status.NEEDS_RECONNECT)
            | Q(sending_paused_until__gt=now)
            | Q(campaigns_paused_at__isnull=False)
        )
        .exclude(status=DeliveryChannel.Status.DISCONNECTED)
        .select_related("owner")
    )
    notices = []
    for channel in channels:
        who = "" if channel.owner_id == user.pk else f"{channel.owner.email}: "
        words = {"mailbox": f"{who}{channel.get_kind_display()} ({channel.mailbox_address})"}
        if channel.status == DeliveryChannel.Status.NEEDS_RECONNECT:
            text = gettext(
                "%(mailbox)s needs reconnecting — its mail waits and goes out by itself once it "
                "is reconnected."
            )
            notices.append(MailboxNotice("error", text % words))
        elif channel.sending_paused_until and channel.sending_paused_until > now:
            text = gettext("%(mailbox)s is paused until %(until)s: %(reason)s")
            words |= {
                "until": _local(channel.sending_paused_until),
                "reason": localize_utc_stamps(channel.sending_paused_reason),
            }
            notices.append(MailboxNotice("warning", text % words))
        if channel.campaigns_paused_at:
            if channel.campaigns_paused_reason:
                text = gettext(
                    "%(mailbox)s: campaign steps are held back (mailbox protection: "
                    "%(protection)s); one-off emails still go."
                )
            else:
                text = gettext(
                    "%(mailbox)s: campaign steps are held back (mailbox protection); one-off "
                    "emails still go."
                )
            words["protection"] = channel.campaigns_paused_reason
            notices.append(MailboxNotice("warning", text % words))
    return notices


def enrollment_list(*, user: User, campaign: Campaign) -> QuerySet[Enrollment]:
    """The campaign's enrollments (the campaign itself came through campaign_list)."""
    return (
        Enrollment.objects.filter(campaign=campaign, campaign__organization_id=user.organization_id)
        .select_related("prospect", "next_step", "sender")
        .order_by("-created_at")
    )


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")
