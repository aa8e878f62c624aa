from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BouncesConfig(AppConfig):
    name = "bounces"
    verbose_name = _("Bounces and replies")

    def ready(self) -> None:
        from core.periodic import PeriodicTaskSpec, register

        register(
            PeriodicTaskSpec(
                name="Poll mailboxes for bounces and replies",
                task="bounces.tasks.mailboxes_poll_due",
                every_seconds=300,
                description="Polls every connected Gmail and Exchange Online inbox for bounces "
                "and replies: one task per batch of mailboxes (MAILROOM_POLL_BATCH_SIZE), each "
                "mailbox claimed on its own.",
            )
        )
        register(
            PeriodicTaskSpec(
                name="Retry ESP webhook events",
                task="bounces.tasks.esp_events_retry_due",
                every_seconds=60,
                description="Processes again the bounce, complaint and unsubscribe events an "
                "ESP's webhook delivered that failed to process (each kept with its error).",
            )
        )
