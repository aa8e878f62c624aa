from django.contrib import admin

from .models import ChannelChoice, DeliveryChannel


@admin.register(DeliveryChannel)
class DeliveryChannelAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "owner",
        "organization",
        "kind",
        "status",
        "is_team_default",
        "last_polled_at",
        "last_error",
    ]
    list_filter = ["kind", "status", "is_team_default", "organization"]
    search_fields = ["mailbox_address", "host", "owner__email", "organization__name"]
    raw_id_fields = ["owner"]
    # Secrets are never displayed: the encrypted fields are left out of the form entirely.
    exclude = ["access_token", "refresh_token", "password"]
    readonly_fields = [
        "gmail_history_id",
        "graph_delta_link",
        "last_polled_at",
        "last_poll_result",
        "poll_lease_until",
        "poll_backoff_until",
        "poll_failures",
        "token_expires_at",
        "provider_account_id",
    ]


@admin.register(ChannelChoice)
class ChannelChoiceAdmin(admin.ModelAdmin):
    list_display = ["user", "channel", "updated_at"]
    search_fields = ["user__email"]
    list_filter = ["channel__kind"]
    raw_id_fields = ["user", "channel"]
