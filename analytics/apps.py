from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate
from django.utils.translation import gettext_lazy as _


def _drop_sqlite_triggers(sender, using="default", **kwargs) -> None:
    """SQLite rebuilds a table to alter it and refuses when another table's trigger names it:
    take the analytics triggers out of the way of every migration."""
    from django.db import connections

    from .triggers import triggers_uninstall

    if connections[using].vendor == "sqlite":
        triggers_uninstall(using=using)


def _install_triggers(sender, using="default", **kwargs) -> None:
    """Put the triggers (back) after `migrate`. Where some were missing while data exists,
    changes may have gone unseen: queue a full recount of every organization."""
    from accounts.models import Organization

    from .models import DirtyBucket
    from .triggers import triggers_install

    if triggers_install(using=using):
        DirtyBucket.objects.using(using).bulk_create(
            DirtyBucket(kind=DirtyBucket.Kind.ORGANIZATION, organization_id=organization_id)
            for organization_id in Organization.objects.using(using).values_list("id", flat=True)
        )


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics and live feed")

    def ready(self) -> None:
        from core.periodic import PeriodicTaskSpec, register

        register(
            PeriodicTaskSpec(
                name="Refresh analytics rollups",
                task="analytics.tasks.analytics_refresh_rollups",
                every_seconds=60,
                description="Recounts the analytics figures touched by new sends, bounces, "
                "replies and enrollment changes. Pages also catch up on view.",
            )
        )
        pre_migrate.connect(_drop_sqlite_triggers, sender=self)
        post_migrate.connect(_install_triggers, sender=self)
