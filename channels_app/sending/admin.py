from django.contrib import admin

from core.admin import PlatformModelAdmin

from .models import MailboxSendState, SendSlot


@admin.register(MailboxSendState)
class MailboxSendStateAdmin(PlatformModelAdmin):
    list_display = ["channel", "backoff_until", "backoff_reason", "kicked_at", "next_drain_at"]
    search_fields = ["channel__mailbox_address", "channel__host"]
    raw_id_fields = ["channel"]


@admin.register(SendSlot)
class SendSlotAdmin(PlatformModelAdmin):
    list_display = ["channel", "taken_at"]
    raw_id_fields = ["channel"]
    date_hierarchy = "taken_at"
