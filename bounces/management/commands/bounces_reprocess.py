"""`manage.py bounces_reprocess`: replay the inbox messages that could not be fetched or
processed ("unreadable messages" in the admin), after a fix, without waiting for their
backoff. Nothing is dropped: a message that fails again keeps its error and its retries."""

from django.core.management.base import BaseCommand, CommandError

from bounces.polling import inbox_messages_reprocess
from bounces.selectors import inbox_messages_unreadable


class Command(BaseCommand):
    help = "Reprocess unreadable inbox messages now: all of them, a channel's, or given ids."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="every unreadable message")
        which.add_argument("--channel", type=int, help="the unreadable messages of one channel")
        which.add_argument(
            "--id", type=int, nargs="+", dest="ids", help="these messages (any unprocessed one)"
        )

    def handle(self, *args, **options):
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
