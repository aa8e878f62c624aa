"""Tenancy in the Django admin.

Two roles use the admin. *Platform operators* are superusers: they see every organization and
the internal tables. *Organization admins* are staff (not superusers) with the model permissions
of the "Organization admins" group: every ModelAdmin mixes in `OrganizationScopedAdmin`, which
shows them and accepts from them only their own organization's rows — the change list, search,
filters, actions and autocomplete (all read `get_queryset`), the change / delete / history pages,
every foreign-key and many-to-many choice, and saves. Each admin declares its model's path to the
organization once, in `organization_path`; an admin with `platform_only = True` (rollups, queues,
beat, allauth's tables, …) is hidden from everyone but platform operators.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.utils.translation import gettext

from .models import WorkerHeartbeat

ORGANIZATION_ADMINS_GROUP = "Organization admins"


def is_platform_operator(user) -> bool:
    return bool(user.is_active and user.is_superuser)


class OrganizationScopedAdmin:
    """Mix into a ModelAdmin or an inline, before the Django class.

    `organization_path`: the lookup from the model to its organization's id, e.g.
    `"organization"`, `"campaign__organization"`; `"pk"` for Organization itself.
    """

    organization_path: str = ""
    platform_only: bool = False

    # --- which rows -------------------------------------------------------------------------

    def scope_queryset(self, request, queryset: QuerySet) -> QuerySet:
        """The rows of `queryset` that this request's user may see."""
        user = request.user
        if is_platform_operator(user):
            return queryset
        if self.platform_only or not self.organization_path or not user.organization_id:
            return queryset.none()
        return queryset.filter(**{self.organization_path: user.organization_id})

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def object_organization_id(self, obj: Model) -> int | None:
        """Follow `organization_path` on an (unsaved) object: whose row is it?"""
        if self.organization_path == "pk":
            return obj.pk
        *hops, last = self.organization_path.split("__")
        target = obj
        for hop in hops:
            target = getattr(target, hop, None)
            if target is None:
                return None
        return getattr(target, f"{last}_id", None)

    # --- choices in forms -------------------------------------------------------------------

    def related_queryset(self, request, model: type[Model]) -> QuerySet | None:
        """The choices of a relation to `model`: what `model`'s own admin shows this user."""
        if is_platform_operator(request.user):
            return None
        related_admin = self.admin_site._registry.get(model)
        if isinstance(related_admin, OrganizationScopedAdmin):
            return related_admin.get_queryset(request)
        return model._default_manager.none()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scoped = self.related_queryset(request, db_field.related_model)
        if scoped is not None:
            kwargs["queryset"] = scoped
            if db_field.related_model._meta.label == "accounts.Organization":
                kwargs.setdefault("initial", request.user.organization_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        scoped = self.related_queryset(request, db_field.related_model)
        if scoped is not None:
            kwargs["queryset"] = scoped
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request):
        """Organization admins' related-field filters offer only the values of their rows
        (a plain related filter would list every organization's names)."""
        filters = list(super().get_list_filter(request))
        if is_platform_operator(request.user):
            return filters
        scoped = []
        for entry in filters:
            if isinstance(entry, str) and _is_relation(self.model, entry):
                entry = (entry, admin.RelatedOnlyFieldListFilter)
            scoped.append(entry)
        return scoped

    # --- permissions and saves --------------------------------------------------------------

    def _allowed(self, request) -> bool:
        user = request.user
        if is_platform_operator(user):
            return True
        return not self.platform_only and bool(self.organization_path and user.organization_id)

    def has_module_permission(self, request):
        return self._allowed(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return self._allowed(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request) and super().has_delete_permission(request, obj)

    def check_in_scope(self, request, obj: Model) -> None:
        user = request.user
        if is_platform_operator(user):
            return
        if self.object_organization_id(obj) != user.organization_id:
            raise PermissionDenied(gettext("This row belongs to another organization."))

    def save_model(self, request, obj, form, change):
        self.check_in_scope(request, obj)
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        inline = getattr(formset, "model_admin_scope", None)
        if inline is not None:
            for inline_form in formset.forms:
                if inline_form.has_changed() and inline_form.instance is not None:
                    inline.check_in_scope(request, inline_form.instance)
        super().save_formset(request, form, formset, change)


def _is_relation(model: type[Model], path: str) -> bool:
    field = None
    for hop in path.split("__"):
        try:
            field = model._meta.get_field(hop)
        except FieldDoesNotExist:
            return False
        if not field.is_relation:
            return False
        model = field.related_model
    return field is not None and field.is_relation


class ScopedModelAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """A tenant table: set `organization_path`."""


class ScopedTabularInline(OrganizationScopedAdmin, admin.TabularInline):
    """An inline of a tenant table: its rows are checked like the parent's on save."""

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.model_admin_scope = self
        return formset


class PlatformModelAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """An internal table, for platform operators only."""

    platform_only = True


def organization_admin_permissions() -> QuerySet:
    """Every model permission of the tables organization admins work in (not the internal ones)."""
    from django.contrib.contenttypes.models import ContentType

    models = [
        model
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, OrganizationScopedAdmin)
        and not model_admin.platform_only
        and model_admin.organization_path
    ]
    types = ContentType.objects.get_for_models(*models).values()
    return Permission.objects.filter(content_type__in=types)


def organization_admins_group() -> Group:
    """The group organization admins belong to, with its permissions brought up to date."""
    group, _ = Group.objects.get_or_create(name=ORGANIZATION_ADMINS_GROUP)
    group.permissions.set(organization_admin_permissions())
    return group


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(PlatformModelAdmin):
    list_display = ["hostname", "last_seen_at"]
    search_fields = ["hostname"]
    list_filter = ["last_seen_at"]


def _platform_only(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    return type(admin_class.__name__, (PlatformModelAdmin, admin_class), {})


def _reregister_third_party_as_platform_only() -> None:
    """Celery beat's schedules, allauth's accounts / tokens / apps and the auth groups hold
    platform-wide rows or secrets: operators only. They were registered by apps listed before
    core in INSTALLED_APPS."""
    for model, model_admin in list(admin.site._registry.items()):
        if model._meta.app_label in {"django_celery_beat", "account", "socialaccount", "auth"}:
            admin.site.unregister(model)
            admin.site.register(model, _platform_only(type(model_admin)))


_reregister_third_party_as_platform_only()
