from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin import ScopedModelAdmin

from .models import Suppression, SuppressionPolicy
from .services import suppression_add, suppression_entry_parse, suppression_remove


class SuppressionAdminForm(forms.ModelForm):
    class Meta:
        model = Suppression
        fields = ["organization", "address", "reason", "detail", "removal_reason"]

    def clean_address(self) -> str:
        """A malformed address or domain is refused here, with the reason."""
        if self.instance.pk is not None:
            return self.instance.address
        return suppression_entry_parse(value=self.cleaned_data["address"])[1]


class ActiveFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", _("Suppressed")), ("removed", _("Removed"))]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(removed_at__isnull=True)
        if self.value() == "removed":
            return queryset.filter(removed_at__isnull=False)
        return queryset


@admin.register(Suppression)
class SuppressionAdmin(ScopedModelAdmin):
    """Adding goes through suppression_add (a malformed address is refused with the reason);
    an entry is never deleted: fill in "removal reason" and save to remove it (recorded)."""

    organization_path = "organization"
    form = SuppressionAdminForm
    list_display = ["address", "scope", "reason", "organization", "created_at", "removed_at"]
    list_filter = [ActiveFilter, "reason", "scope", "organization"]
    search_fields = ["address", "detail", "removal_reason"]
    raw_id_fields = ["created_by", "removed_by", "source_bounce", "source_email", "source_message"]
    date_hierarchy = "created_at"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["removed_at", "removed_by", "removal_reason"]
        fixed = [f.name for f in Suppression._meta.fields if f.name != "removal_reason"]
        return fixed if obj.is_active else [*fixed, "removal_reason"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "address", "reason", "detail"]
        return super().get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        self.check_in_scope(request, obj)
        if not change:
            entry, created = suppression_add(
                organization_id=obj.organization_id,
                value=obj.address,
                reason=obj.reason,
                detail=obj.detail,
                created_by=request.user,
            )
            obj.pk = entry.pk
            if not created:
                messages.info(
                    request,
                    gettext("%(address)s was already suppressed.") % {"address": entry.address},
                )
            return
        if obj.removal_reason and Suppression.objects.filter(pk=obj.pk, removed_at__isnull=True):
            suppression_remove(entry=obj, user=request.user, reason=obj.removal_reason)

    def save_related(self, request, form, formsets, change):
        """Nothing related to save; the entry itself went through the services."""


@admin.register(SuppressionPolicy)
class SuppressionPolicyAdmin(ScopedModelAdmin):
    organization_path = "organization"
    list_display = [
        "organization",
        "soft_bounce_limit",
        "soft_bounce_window_days",
        "unsubscribe_header_one_off",
    ]
    list_filter = ["unsubscribe_header_one_off"]
    search_fields = ["organization__name"]
