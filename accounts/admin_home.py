"""What the Django admin's index shows first: the things that need an admin's attention, each
counted in the admin's scope (an organization admin: their organization; a platform operator:
every organization) with a link to the filtered admin list whose action fixes it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from bounces.models import Bounce, EspEvent, InboxMessage
from bounces.selectors import inbox_messages_unreadable_q
from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail

from .models import User

FAILED_REASONS_SHOWN = 5


@dataclass(frozen=True)
class Attention:
    count: int
    what: str  # "3 emails failed: Authentication unsuccessful …"
    url: str
    fix: str  # what to do there


def _scope(user: User, path: str) -> Q:
    return Q() if user.is_superuser else Q(**{path: user.organization_id})


def _changelist(model, **params) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def admin_attention(*, user: User) -> list[Attention]:
    """The admin's to-do list, most urgent first; empty when nothing needs them."""
    if not user.is_staff or (user.organization_id is None and not user.is_superuser):
        return []
    items: list[Attention] = []
    channels = DeliveryChannel.objects.filter(_scope(user, "organization_id"))
    reconnect = channels.filter(status=DeliveryChannel.Status.NEEDS_RECONNECT).count()
    if reconnect:
        items.append(
            Attention(
                reconnect,
                ngettext(
                    "%(count)s mailbox needs reconnecting: its mail waits",
                    "%(count)s mailboxes need reconnecting: their mail waits",
                    reconnect,
                )
                % {"count": reconnect},
                _changelist(DeliveryChannel, attention="reconnect"),
                gettext(
                    "Their owners see a Reconnect banner; you can disconnect a mailbox nobody uses."
                ),
            )
        )
    refused = channels.filter(status=DeliveryChannel.Status.CONNECTED).exclude(last_error="")
    if count := refused.count():
        items.append(
            Attention(
                count,
                ngettext(
                    "%(count)s channel whose server refuses its mail (a login, a full mailbox)",
                    "%(count)s channels whose server refuses their mail (a login, a full mailbox)",
                    count,
                )
                % {"count": count},
                _changelist(DeliveryChannel, attention="refused"),
                gettext(
                    "Update the credentials in Email settings, then retry the failed emails below."
                ),
            )
        )
    paused = channels.filter(
        Q(sending_paused_until__gt=timezone.now()) | Q(campaigns_paused_at__isnull=False)
    ).exclude(status=DeliveryChannel.Status.DISCONNECTED)
    if count := paused.count():
        items.append(
            Attention(
                count,
                ngettext(
                    "%(count)s mailbox paused (by the provider's limit, or campaign sends held "
                    "back by mailbox protection)",
                    "%(count)s mailboxes paused (by the provider's limit, or campaign sends held "
                    "back by mailbox protection)",
                    count,
                )
                % {"count": count},
                _changelist(DeliveryChannel, attention="paused"),
                gettext("Check the bounced addresses, then the action “Resume campaign sends”."),
            )
        )
    failed = (
        OutboundEmail.objects.filter(_scope(user, "organization_id"))
        .filter(status=OutboundEmail.Status.FAILED)
        .order_by()
        .values("failure_reason")
        .annotate(n=Count("id"))
        .order_by("-n", "failure_reason")
    )
    for row in failed[:FAILED_REASONS_SHOWN]:
        reason = row["failure_reason"] or gettext("no reason recorded")
        items.append(
            Attention(
                row["n"],
                ngettext(
                    "%(count)s email failed: %(reason)s",
                    "%(count)s emails failed: %(reason)s",
                    row["n"],
                )
                % {"count": row["n"], "reason": reason},
                _changelist(
                    OutboundEmail,
                    status__exact=OutboundEmail.Status.FAILED,
                    failure_reason=row["failure_reason"],
                ),
                gettext("Fix the cause, then select them and the action “Retry send”."),
            )
        )
    unreadable = InboxMessage.objects.filter(_scope(user, "channel__organization_id")).filter(
        inbox_messages_unreadable_q()
    )
    esp_failing = (
        EspEvent.objects.filter(_scope(user, "channel__organization_id"))
        .filter(processed_at__isnull=True)
        .exclude(last_error="")
    )
    unmatched = Bounce.objects.filter(_scope(user, "organization_id")).filter(
        outbound_email__isnull=True
    )
    for queryset, what, url, fix in (
        (
            unreadable,
            lambda n: ngettext(
                "%(count)s inbox message Mailroom could not read (kept with its error)",
                "%(count)s inbox messages Mailroom could not read (kept with their error)",
                n,
            ),
            _changelist(InboxMessage, processing="unreadable"),
            gettext("After a fix, the action “Reprocess the selected messages now”."),
        ),
        (
            esp_failing,
            lambda n: ngettext(
                "%(count)s ESP webhook event failed to process (retried every minute)",
                "%(count)s ESP webhook events failed to process (retried every minute)",
                n,
            ),
            _changelist(EspEvent, processing="failing"),
            gettext("After a fix, the action “Process the selected events again now”."),
        ),
        (
            unmatched,
            lambda n: ngettext(
                "%(count)s bounce matched no email Mailroom sent",
                "%(count)s bounces matched no email Mailroom sent",
                n,
            ),
            _changelist(Bounce, matched="no"),
            gettext("Look at the recipients: a prospect's address may need fixing by hand."),
        ),
    ):
        if count := queryset.count():
            items.append(Attention(count, what(count) % {"count": count}, url, fix))
    return items
