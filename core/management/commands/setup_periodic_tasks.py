from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from core.periodic import PERIODIC_TASKS


class Command(BaseCommand):
    help = "Create the periodic tasks declared in code (core.periodic); keeps admin edits."

    @transaction.atomic
    def handle(self, *args, **options):
        for spec in PERIODIC_TASKS:
            schedule, _ = IntervalSchedule.objects.get_or_create(
                every=spec.every_seconds, period=IntervalSchedule.SECONDS
            )
            task, created = PeriodicTask.objects.get_or_create(
                name=spec.name,
                defaults={"task": spec.task, "interval": schedule, "description": spec.description},
            )
            if not created and task.task != spec.task:
                task.task = spec.task
                task.save(update_fields=["task"])
            verb = "created" if created else "kept"
            self.stdout.write(f"{verb}: {spec.name} ({spec.task})")
