from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from core.admin import OrganizationScopedAdmin, ScopedModelAdmin, is_platform_operator

from .models import Organization, Team, User


@admin.register(Organization)
class OrganizationAdmin(ScopedModelAdmin):
    organization_path = "pk"
    list_display = ["name", "slug", "is_legacy", "timezone", "created_at"]
    list_filter = ["is_legacy"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_readonly_fields(self, request, obj=None):
        # Legacy access (the platform's own relay) is the platform's to grant.
        fields = list(super().get_readonly_fields(request, obj))
        return fields if is_platform_operator(request.user) else [*fields, "is_legacy"]

    def has_add_permission(self, request):
        return is_platform_operator(request.user)  # organizations are created by the platform

    def has_delete_permission(self, request, obj=None):
        return is_platform_operator(request.user)


@admin.register(Team)
class TeamAdmin(ScopedModelAdmin):
    organization_path = "organization"
    list_display = ["name", "organization", "manager", "send_rate_emails", "send_rate_seconds"]
    list_filter = ["organization"]
    search_fields = ["name", "organization__name"]
    raw_id_fields = ["manager"]


@admin.register(User)
class UserAdmin(OrganizationScopedAdmin, DjangoUserAdmin):
    organization_path = "organization"
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "organization", "team", "role", "is_staff"]
    list_filter = ["role", "organization", "team", "is_staff", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    raw_id_fields = ["team"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("first_name", "last_name")}),
        ("Mailroom", {"fields": ("organization", "team", "role")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )

    def scope_queryset(self, request, queryset):
        # Platform operators are nobody's organization's to edit.
        queryset = super().scope_queryset(request, queryset)
        if is_platform_operator(request.user):
            return queryset
        return queryset.filter(is_superuser=False)

    def get_fieldsets(self, request, obj=None):
        # An organization admin cannot hand out staff, superuser or permission rights.
        fieldsets = super().get_fieldsets(request, obj)
        if is_platform_operator(request.user) or obj is None:
            return fieldsets
        return [
            (name, {**opts, "fields": ("is_active",)}) if name == "Permissions" else (name, opts)
            for name, opts in fieldsets
        ]

    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "organization", "team", "role", "password1", "password2"),
            },
        ),
    )
