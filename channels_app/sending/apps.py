from django.apps import AppConfig


class SendingConfig(AppConfig):
    name = "channels_app.sending"
    label = "sending"
    verbose_name = "Send pipeline"

    def ready(self) -> None:
        from core.periodic import PeriodicTaskSpec, register

        register(
            PeriodicTaskSpec(
                name="Send pipeline dispatcher",
                task="channels_app.sending.tasks.sending_dispatch",
                every_seconds=10,
                description="Starts mailbox queues with due mail (schedules, open send windows, "
                "retries) and re-queues emails whose worker died mid-send (expired lease).",
            )
        )
        register(
            PeriodicTaskSpec(
                name="Send slot ledger cleanup",
                task="channels_app.sending.tasks.send_slots_prune",
                every_seconds=3600,
                description="Deletes throttle ledger rows older than the longest send window.",
            )
        )
