from django.contrib import admin

from .models import Bounce, InboxMessage


@admin.register(Bounce)
class BounceAdmin(admin.ModelAdmin):
    list_display = [
        "recipient",
        "status_code",
        "is_hard",
        "matched_by",
        "source",
        "channel",
        "occurred_at",
    ]
    list_filter = ["is_hard", "is_delayed", "matched_by", "source", "channel__kind", "occurred_at"]
    search_fields = ["recipient", "diagnostic", "status_code"]
    raw_id_fields = ["channel", "inbox_message", "outbound_email"]
    date_hierarchy = "occurred_at"


@admin.register(InboxMessage)
class InboxMessageAdmin(admin.ModelAdmin):
    list_display = [
        "subject",
        "from_address",
        "kind",
        "channel",
        "received_at",
        "processed_at",
        "attempts",
    ]
    list_filter = ["kind", "channel__kind"]
    search_fields = ["subject", "from_address", "internet_message_id", "provider_message_id"]
    raw_id_fields = ["channel", "outbound_email"]
    exclude = ["raw"]
