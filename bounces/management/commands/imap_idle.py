"""`manage.py imap_idle`: hold IMAP IDLE on every SMTP channel's inbox and an EWS streaming
subscription on every Exchange On-Prem mailbox (bounces.idle), so their bounces reach the feed
within seconds; run exactly one (like beat). Stops on SIGTERM / SIGINT,
handing the mailboxes back to the polling cycle."""

import signal
import threading

from django.core.management.base import BaseCommand

from bounces.idle import IdleSupervisor

RESCAN_SECONDS = 10


class Command(BaseCommand):
    help = (
        "Hold IMAP IDLE on SMTP channels' inboxes and EWS streaming notifications on Exchange "
        "On-Prem mailboxes (bounces within seconds)."
    )

    def handle(self, *args, **options):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        supervisor = IdleSupervisor()
        self.stdout.write(
            "Holding IMAP IDLE on SMTP channels' inboxes and EWS streams on Exchange On-Prem "
            "mailboxes; Ctrl-C stops."
        )
        self.stdout.flush()
        try:
            while not stop.is_set():
                supervisor.sync()
                stop.wait(RESCAN_SECONDS)
        finally:
            supervisor.stop()
