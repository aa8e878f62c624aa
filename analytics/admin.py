from django.contrib import admin

from .models import FeedEvent


@admin.register(FeedEvent)
class FeedEventAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "kind", "created_at", "read_at"]
    list_filter = ["kind", "organization"]
    search_fields = ["title", "detail", "user__email"]
    raw_id_fields = ["user", "outbound_email", "channel"]
