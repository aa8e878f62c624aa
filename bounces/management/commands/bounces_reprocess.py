"""`manage.py bounces_reprocess`: replay the inbox messages that could not be fetched or
processed ("unreadable messages" in the admin), after a fix, without waiting for their
backoff. Nothing is dropped: a message that fails again keeps its error and its retries."""

from django.core.management.base import BaseCommand, CommandError

from bounces.models import EspEvent
from bounces.polling import inbox_messages_reprocess
from bounces.selectors import inbox_messages_unreadable
from bounces.webhooks import esp_event_process


class Command(BaseCommand):
    help = "Reprocess unreadable inbox messages now: all of them, a channel's, or given ids."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="every unreadable message")
        which.add_argument("--channel", type=int, help="the unreadable messages of one channel")
        which.add_argument(
            "--id", type=int, nargs="+", dest="ids", help="these messages (any unprocessed one)"
        )
        which.add_argument(
            "--esp-events",
            action="store_true",
            help="the ESP webhook events that failed to process, whatever their backoff",
        )

    def handle(self, *args, **options):
        if options["esp_events"]:
            pending = EspEvent.objects.filter(processed_at__isnull=True).order_by("pk")
            total = pending.count()
            worked = sum(esp_event_process(event=event) for event in pending.iterator())
            self.stdout.write(f"Processed {worked} of {total} ESP event(s).")
            if worked < total:
                raise CommandError("Some ESP events still fail: see the admin's ESP events.")
            return
        if options["ids"]:
            ids = list(options["ids"])
        else:
            messages = inbox_messages_unreadable()
            if options["channel"] is not None:
                messages = messages.filter(channel_id=options["channel"])
            ids = list(messages.order_by("pk").values_list("pk", flat=True))
        if not ids:
            self.stdout.write("No unreadable messages.")
            return
        report = inbox_messages_reprocess(message_ids=ids)
        self.stdout.write(
            f"Processed {report.processed} of {len(ids)} message(s); "
            f"{report.still_failing} still failing (kept with their error, retried later)."
        )
        if report.still_failing:
            raise CommandError("Some messages still fail: see the admin's Unreadable messages.")
