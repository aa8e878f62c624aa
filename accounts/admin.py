from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import Organization, Team, User


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_legacy", "timezone", "created_at"]
    list_filter = ["is_legacy"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "manager", "send_rate_emails", "send_rate_seconds"]
    list_filter = ["organization"]
    search_fields = ["name", "organization__name"]
    raw_id_fields = ["manager"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
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
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "organization", "team", "role", "password1", "password2"),
            },
        ),
    )
