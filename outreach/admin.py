from django.contrib import admin, messages
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from core.admin import ScopedModelAdmin, ScopedTabularInline

from .models import (
    ApiToken,
    Campaign,
    CampaignStep,
    EmailTemplate,
    Enrollment,
    OutboundEmail,
    Prospect,
    ProspectImport,
    ProspectImportIssue,
)
from .services import api_token_revoke, emails_retry


@admin.register(Prospect)
class ProspectAdmin(ScopedModelAdmin):
    organization_path = "organization"
    list_display = [
        "email",
        "first_name",
        "last_name",
        "company",
        "organization",
        "owner",
        "email_status",
        "invalidated_at",
    ]
    list_filter = ["email_status", "organization"]
    search_fields = ["email", "first_name", "last_name", "company"]
    raw_id_fields = ["owner"]


@admin.register(EmailTemplate)
class EmailTemplateAdmin(ScopedModelAdmin):
    organization_path = "organization"
    list_display = ["name", "subject", "owner", "organization", "is_shared", "updated_at"]
    list_filter = ["is_shared", "organization"]
    search_fields = ["name", "subject", "owner__email"]
    raw_id_fields = ["owner"]


class CampaignStepInline(ScopedTabularInline):
    organization_path = "campaign__organization"
    model = CampaignStep
    extra = 0
    raw_id_fields = ["template"]


@admin.register(Campaign)
class CampaignAdmin(ScopedModelAdmin):
    organization_path = "organization"
    list_display = ["name", "owner", "organization", "status", "created_at"]
    list_filter = ["status", "organization"]
    search_fields = ["name", "owner__email"]
    raw_id_fields = ["owner"]
    inlines = [CampaignStepInline]


@admin.register(CampaignStep)
class CampaignStepAdmin(ScopedModelAdmin):
    organization_path = "campaign__organization"
    list_display = ["campaign", "position", "template", "delay"]
    list_filter = ["campaign__organization"]
    search_fields = ["campaign__name", "template__name"]
    raw_id_fields = ["campaign", "template"]


@admin.register(Enrollment)
class EnrollmentAdmin(ScopedModelAdmin):
    organization_path = "campaign__organization"
    list_display = ["prospect", "campaign", "sender", "state", "next_step", "next_due_at"]
    list_filter = ["state", "campaign__organization"]
    search_fields = ["prospect__email", "campaign__name", "sender__email"]
    raw_id_fields = ["campaign", "prospect", "sender", "next_step"]


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ScopedModelAdmin):
    organization_path = "organization"
    list_display = [
        "to_address",
        "subject",
        "sender",
        "status",
        "channel_kind",
        "source",
        "sent_at",
        "failure_reason",
    ]
    list_filter = ["status", "source", "channel_kind", "organization"]
    search_fields = ["to_address", "subject", "message_id", "sender__email"]
    raw_id_fields = ["sender", "prospect", "template", "campaign_step", "enrollment", "channel"]
    date_hierarchy = "created_at"
    readonly_fields = ["message_id", "created_at", "updated_at"]
    actions = ["retry_send"]

    @admin.action(description=_("Retry send (failed emails go back in their channel's queue)"))
    def retry_send(self, request, queryset):
        result = emails_retry(emails=list(queryset.order_by("pk")))
        refused = "; ".join(
            gettext("%(count)s not retried: %(reason)s") % {"count": n, "reason": reason}
            for reason, n in result.refused.items()
        )
        said = [
            ngettext(
                "%(count)s email queued again.", "%(count)s emails queued again.", result.retried
            )
            % {"count": result.retried}
        ]
        if result.not_failed:
            said.append(
                ngettext(
                    "%(count)s was not failed.", "%(count)s were not failed.", result.not_failed
                )
                % {"count": result.not_failed}
            )
        self.message_user(
            request,
            " ".join([*said, refused] if refused else said),
            messages.WARNING if result.refused else messages.SUCCESS,
        )


@admin.register(ApiToken)
class ApiTokenAdmin(ScopedModelAdmin):
    organization_path = "user__organization"
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__email", "prefix"]
    raw_id_fields = ["user"]
    # Only a hash is stored; even that is never shown.
    exclude = ["key_hash"]
    readonly_fields = ["prefix", "last_used_at", "created_at", "updated_at"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are created by their owner, who sees the token once

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(token=token)


class ProspectImportIssueInline(ScopedTabularInline):
    organization_path = "prospect_import__organization"
    model = ProspectImportIssue
    extra = 0
    fields = ["row_number", "kind", "email", "reason"]
    readonly_fields = fields
    can_delete = False
    max_num = 0


@admin.register(ProspectImport)
class ProspectImportAdmin(ScopedModelAdmin):
    """Imports are started on the Prospects page; here they are looked at, not edited."""

    organization_path = "organization"
    list_display = [
        "file_name",
        "created_by",
        "status",
        "total_rows",
        "created_count",
        "updated_count",
        "error_count",
        "created_at",
    ]
    list_filter = ["status", "organization"]
    search_fields = ["file_name", "created_by__email"]
    exclude = ["content"]
    readonly_fields = [
        field.name for field in ProspectImport._meta.fields if field.name != "content"
    ]
    inlines = [ProspectImportIssueInline]

    def has_add_permission(self, request):
        return False


@admin.register(ProspectImportIssue)
class ProspectImportIssueAdmin(ScopedModelAdmin):
    organization_path = "prospect_import__organization"
    list_display = ["prospect_import", "row_number", "kind", "email", "reason"]
    list_filter = ["kind"]
    search_fields = ["email", "reason"]
    readonly_fields = ["prospect_import", "row_number", "kind", "email", "reason", "values"]

    def has_add_permission(self, request):
        return False
