from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutreachConfig(AppConfig):
    name = "outreach"
    verbose_name = _("Outreach")

    def ready(self) -> None:
        from core.periodic import PeriodicTaskSpec, register

        register(
            PeriodicTaskSpec(
                name="Campaign steps due",
                task="outreach.tasks.campaign_steps_send_due",
                every_seconds=60,
                description="Queues each active enrollment's next campaign step when it is due.",
            )
        )
