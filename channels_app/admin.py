from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from bounces.polling import channel_poll_request
from bounces.services import channel_campaigns_resume, channel_can_resume_campaigns
from core.admin import ScopedModelAdmin

from .models import ChannelChoice, DeliveryChannel, SendingDomainCheck
from .services import channel_disconnect
from .tokens import channel_mark_needs_reconnect


class AttentionFilter(admin.SimpleListFilter):
    """The channels the admin index says need attention (accounts.admin_home)."""

    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [
            ("reconnect", _("Needs reconnect")),
            ("refused", _("Server refuses its mail")),
            ("paused", _("Paused (provider limit or mailbox protection)")),
        ]

    def queryset(self, request, queryset):
        live = queryset.exclude(status=DeliveryChannel.Status.DISCONNECTED)
        if self.value() == "reconnect":
            return queryset.filter(status=DeliveryChannel.Status.NEEDS_RECONNECT)
        if self.value() == "refused":
            return live.filter(status=DeliveryChannel.Status.CONNECTED).exclude(last_error="")
        if self.value() == "paused":
            return live.filter(
                Q(sending_paused_until__gt=timezone.now()) | Q(campaigns_paused_at__isnull=False)
            )
        return queryset


@admin.register(DeliveryChannel)
class DeliveryChannelAdmin(ScopedModelAdmin):
    organization_path = "organization"
    list_display = [
        "__str__",
        "owner",
        "organization",
        "kind",
        "status",
        "is_team_default",
        "tracking",
        "push_last_event_at",
        "last_polled_at",
        "last_error",
    ]
    list_filter = [AttentionFilter, "kind", "status", "is_team_default", "organization"]
    search_fields = ["mailbox_address", "host", "owner__email", "organization__name"]
    raw_id_fields = ["owner"]
    # Secrets are never displayed: the encrypted fields are left out of the form entirely.
    exclude = [
        "access_token",
        "refresh_token",
        "password",
        "imap_password",
        "esp_webhook_secret",
        "push_client_state",
    ]
    readonly_fields = [
        # The webhook URL is made on the email settings page (with its credentials).
        "esp_webhook_key",
        "esp_last_event_at",
        "push_expires_at",
        "push_subscription_id",
        "push_last_event_at",
        "push_error",
        "gmail_history_id",
        "graph_delta_link",
        "imap_cursor",
        "ews_sync_state",
        "last_polled_at",
        "last_poll_result",
        "poll_lease_until",
        "poll_backoff_until",
        "poll_failures",
        "token_expires_at",
        "provider_account_id",
        "connected_at",
        # Mailbox protection is lifted with the "Resume campaign sends" action, which also
        # closes the pause's record; editing the flag by hand would leave that record open.
        "campaigns_paused_at",
        "campaigns_paused_reason",
    ]

    @admin.display(description=_("Bounce tracking"))
    def tracking(self, obj: DeliveryChannel) -> str:
        if obj.has_esp_webhook:
            return gettext("%(service)s webhook") % {"service": obj.get_esp_display()}
        if obj.has_imap:
            return "IMAP IDLE" if obj.push_active else gettext("IMAP polling")
        if not obj.is_polled:
            return "—"
        return gettext("push") if obj.push_active else gettext("polling")

    @admin.action(description=_("Ask the owner to reconnect (pauses sending, tells them)"))
    def ask_owner_to_reconnect(self, request, queryset):
        for channel in queryset:
            channel_mark_needs_reconnect(
                channel=channel, reason="An administrator asked for this mailbox to be reconnected."
            )
        count = queryset.count()
        messages.success(
            request,
            ngettext(
                "%(count)s channel now waits for a reconnect.",
                "%(count)s channels now wait for a reconnect.",
                count,
            )
            % {"count": count},
        )

    @admin.action(description=_("Disconnect (wipes the stored tokens and password)"))
    def disconnect(self, request, queryset):
        done = 0
        for channel in queryset:
            try:
                channel_disconnect(user=request.user, channel=channel)
                done += 1
            except PermissionDenied:
                messages.error(
                    request,
                    gettext("%(channel)s: only its owner can disconnect it.")
                    % {"channel": channel},
                )
        messages.success(
            request,
            ngettext("%(count)s channel disconnected.", "%(count)s channels disconnected.", done)
            % {"count": done},
        )

    actions = ["poll_now", "resume_campaigns", "ask_owner_to_reconnect", "disconnect"]

    @admin.action(description=_("Poll this channel now (bounces and replies)"))
    def poll_now(self, request, queryset):
        queued = sum(channel_poll_request(channel=channel) for channel in queryset)
        skipped = queryset.count() - queued
        self.message_user(
            request,
            ngettext("Polling %(count)s mailbox now.", "Polling %(count)s mailboxes now.", queued)
            % {"count": queued}
            + (
                " "
                + ngettext(
                    "%(count)s skipped: not a connected mailbox Mailroom reads.",
                    "%(count)s skipped: not connected mailboxes Mailroom reads.",
                    skipped,
                )
                % {"count": skipped}
                if skipped
                else ""
            ),
        )

    @admin.action(description=_("Resume campaign sends (mailbox protection)"))
    def resume_campaigns(self, request, queryset):
        resumed = sum(
            channel_campaigns_resume(channel=channel, user=request.user)
            for channel in queryset.filter(campaigns_paused_at__isnull=False)
            if channel_can_resume_campaigns(channel=channel, user=request.user)
        )
        self.message_user(
            request,
            ngettext(
                "Resumed campaign sends of %(count)s mailbox.",
                "Resumed campaign sends of %(count)s mailboxes.",
                resumed,
            )
            % {"count": resumed},
        )


@admin.register(ChannelChoice)
class ChannelChoiceAdmin(ScopedModelAdmin):
    organization_path = "user__organization"
    list_display = ["user", "channel", "updated_at"]
    search_fields = ["user__email"]
    list_filter = ["channel__kind"]
    raw_id_fields = ["user", "channel"]


@admin.register(SendingDomainCheck)
class SendingDomainCheckAdmin(ScopedModelAdmin):
    """The last SPF / DKIM / DMARC / MX check of each From domain (made on Email settings and
    every 6 hours)."""

    organization_path = "organization"
    list_display = ["domain", "provider", "state", "checked_at", "organization"]
    list_filter = ["state", "provider"]
    search_fields = ["domain"]
    readonly_fields = ["organization", "domain", "provider", "state", "lines", "checked_at"]

    def has_add_permission(self, request):
        return False
