"""Every periodic task Mailroom runs, declared in code. `manage.py setup_periodic_tasks`
writes them to django-celery-beat's tables; an admin may later change a schedule there
(the command keeps an edited interval and only fills in what is missing)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicTaskSpec:
    name: str
    task: str
    every_seconds: int
    description: str


PERIODIC_TASKS: list[PeriodicTaskSpec] = [
    PeriodicTaskSpec(
        name="Worker heartbeat",
        task="core.tasks.worker_heartbeat",
        every_seconds=60,
        description="Shows on the admin home whether a Celery worker is alive.",
    ),
]


def register(spec: PeriodicTaskSpec) -> None:
    """Apps add their periodic tasks here from their AppConfig.ready()."""
    if all(existing.name != spec.name for existing in PERIODIC_TASKS):
        PERIODIC_TASKS.append(spec)
