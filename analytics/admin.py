from django.contrib import admin, messages

from core.admin import PlatformModelAdmin, ScopedModelAdmin

from .models import (
    AnalyticsState,
    DirtyBucket,
    EmailDayStat,
    EmailMonthStat,
    EnrollmentStat,
    FeedEvent,
    SenderDayStat,
)
from .services import analytics_rebuild


@admin.register(FeedEvent)
class FeedEventAdmin(ScopedModelAdmin):
    organization_path = "organization"
    list_display = ["title", "user", "kind", "created_at", "read_at"]
    list_filter = ["kind", "organization"]
    search_fields = ["title", "detail", "user__email"]
    raw_id_fields = ["user", "outbound_email", "channel"]


class ReadOnlyAdmin(PlatformModelAdmin):
    """Rollups and their queue are derived data: look, never edit (rebuild instead)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AnalyticsState)
class AnalyticsStateAdmin(ReadOnlyAdmin):
    list_display = ["organization", "refreshed_at", "rebuilt_at"]
    actions = ["rebuild"]

    @admin.action(description="Rebuild the analytics of the selected organizations")
    def rebuild(self, request, queryset):
        for state in queryset:
            emails = analytics_rebuild(organization_id=state.organization_id)
            self.message_user(
                request, f"{state.organization}: {emails:,} emails recounted.", messages.SUCCESS
            )


@admin.register(DirtyBucket)
class DirtyBucketAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "organization_id", "sender_id", "campaign_id", "at"]
    list_filter = ["kind"]


@admin.register(EmailDayStat)
class EmailDayStatAdmin(ReadOnlyAdmin):
    list_display = [
        "day",
        "sender",
        "template",
        "campaign_step",
        "sent",
        "bounced_hard",
        "bounced_soft",
        "replied",
    ]
    list_filter = ["organization"]
    date_hierarchy = "day"
    list_select_related = ["sender", "template", "campaign_step__campaign"]


@admin.register(EmailMonthStat)
class EmailMonthStatAdmin(ReadOnlyAdmin):
    list_display = ["month", "sender", "template", "campaign_step", "sent", "bounced_hard"]
    list_filter = ["organization"]
    list_select_related = ["sender", "template", "campaign_step__campaign"]


@admin.register(SenderDayStat)
class SenderDayStatAdmin(ReadOnlyAdmin):
    list_display = ["day", "sender", "sent", "bounced_hard", "bounced_soft", "replied"]
    list_filter = ["organization"]
    date_hierarchy = "day"
    list_select_related = ["sender"]


@admin.register(EnrollmentStat)
class EnrollmentStatAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "sender", "state", "count"]
    list_filter = ["organization", "state"]
    list_select_related = ["campaign", "sender"]
