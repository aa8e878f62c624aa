#!/usr/bin/env python
"""IMAP bounce tracking: how fast Mailroom's poller reads an SMTP channel's IMAP inbox, from
Debian's Dovecot (a real server) with the sandbox's IMAP server as the baseline in the same run.

    .venv/bin/python bench/imap_poll.py                # 500 bounces a mailbox, 3 rounds
    .venv/bin/python bench/imap_poll.py --messages 200 --rounds 5 --bounces 10

For each server:
- first sync: a mailbox holding N bounces (RFC 3464 DSNs of emails Mailroom sent), one poll
  reads them all (UID SEARCH, header fields 100 UIDs at a time, BODY.PEEK[] of each, stored,
  parsed, tied to its email, recorded): messages per second, median of the rounds;
- idle poll: the same mailbox polled again with nothing new (LOGIN, EXAMINE, LOGOUT): median
  time of 20 polls, and the IMAP commands it sends;
- IDLE latency: a MailboxIdler holds IDLE on the mailbox; from the moment a bounce is
  delivered (Dovecot: renamed into the Maildir's new/, as an MTA does; the sandbox: appended)
  to its event in the rep's live feed, median and p95 of --bounces.

One process, a temporary SQLite database, Celery tasks inline (as in the test settings)."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = tempfile.mkdtemp(prefix="mailroom-imap-bench-")
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{TMP}/imap.sqlite3",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:  # noqa: C901, PLR0915 - one straight script
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=500, help="bounces in the mailbox")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bounces", type=int, default=20, help="bounces for the IDLE latency")
    args = parser.parse_args()

    import logging

    import django

    django.setup()
    logging.disable(logging.WARNING)
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)

    from analytics.models import FeedEvent
    from bounces.idle import MailboxIdler
    from bounces.models import Bounce
    from bounces.polling import channel_poll
    from channels_app.models import DeliveryChannel
    from channels_app.providers import facade as providers
    from outreach.models import OutboundEmail
    from sandbox.server import start_sandbox
    from tests.bounces.poll_helpers import dsn_for
    from tests.dovecot import PASSWORD, running_dovecot
    from tests.factories import (
        OrganizationFactory,
        OutboundEmailFactory,
        ProspectFactory,
        TeamFactory,
        UserFactory,
    )

    settings.MAILROOM_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1/32"]
    org = OrganizationFactory(name="Bench", slug=f"bench-{uuid.uuid4().hex[:6]}")
    team = TeamFactory(organization=org)

    class SandboxPeer:
        def __init__(self, running):
            self.running, self.host, self.port = running, running.host, running.imap_port

        def add_user(self, address, password):
            self.running.client.imap_add_user(address, password)

        def deliver(self, address, raw):
            self.running.store.imap.deliver(address, raw)

    def channel_on(peer) -> DeliveryChannel:
        address = f"bounces.{uuid.uuid4().hex[:8]}@bench.test"
        peer.add_user(address, PASSWORD)
        owner = UserFactory(organization=org, team=team, role="rep", email=f"rep.{address}")
        return DeliveryChannel.objects.create(
            organization=org,
            owner=owner,
            kind=DeliveryChannel.Kind.CUSTOM_SMTP,
            host="smtp.bench.test",
            port=587,
            imap_host=peer.host,
            imap_port=peer.port,
            imap_security="none",
            imap_username=address,
            imap_password=PASSWORD,
        )

    def bounce(channel) -> tuple[OutboundEmail, bytes]:
        email = OutboundEmailFactory(
            sender=channel.owner,
            prospect=ProspectFactory(
                organization=org,
                owner=channel.owner,
                email=f"gone.{uuid.uuid4().hex[:10]}@northwind.test",
            ),
            channel=channel,
            channel_kind=DeliveryChannel.Kind.CUSTOM_SMTP,
            message_id=f"<mr.{uuid.uuid4().hex}@bench.test>",
            status=OutboundEmail.Status.SENT,
        )
        raw = dsn_for(
            mailbox=channel.imap_username,
            recipient=email.to_address,
            returned_headers=f"Message-ID: {email.message_id}\r\nTo: {email.to_address}\r\n",
        )
        return email, raw

    def measure(peer) -> dict:
        rates, idle_times, idle_calls = [], [], []
        for _ in range(args.rounds):
            channel = channel_on(peer)
            for _ in range(args.messages):
                peer.deliver(channel.imap_username, bounce(channel)[1])
            started = time.perf_counter()
            report = channel_poll(channel_id=channel.pk)
            elapsed = time.perf_counter() - started
            assert report.outcome == "ok", report.detail
            assert report.messages_processed == args.messages, report
            assert Bounce.objects.filter(channel=channel).count() == args.messages
            rates.append(args.messages / elapsed)
            for _ in range(20):
                started = time.perf_counter()
                report = channel_poll(channel_id=channel.pk)
                idle_times.append(time.perf_counter() - started)
                idle_calls.append(report.api_calls)
        channel = channel_on(peer)
        channel_poll(channel_id=channel.pk)
        idler = MailboxIdler(channel.pk, providers.imap_server(channel)).start()
        while not DeliveryChannel.objects.get(pk=channel.pk).push_active:
            time.sleep(0.05)
        latencies = []
        for _ in range(args.bounces):
            email, raw = bounce(channel)
            t0 = time.time()
            peer.deliver(channel.imap_username, raw)
            deadline = time.monotonic() + 60
            while True:
                event = FeedEvent.objects.filter(
                    outbound_email_id=email.pk, kind=FeedEvent.Kind.BOUNCED
                ).first()
                if event is not None:
                    latencies.append(event.created_at.timestamp() - t0)
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("no feed event within 60 s")
                time.sleep(0.01)
        idler.stop()
        return {
            "rate": statistics.median(rates),
            "idle_ms": statistics.median(idle_times) * 1000,
            "idle_calls": statistics.median(idle_calls),
            "latency": statistics.median(latencies),
            "latency_p95": percentile(latencies, 0.95),
        }

    sandbox = start_sandbox(https_port=None, smtp_port=None, dns_port=None)
    results = {"Sandbox IMAP (baseline)": measure(SandboxPeer(sandbox))}
    with running_dovecot() as dovecot:
        version = os.popen("dovecot --version").read().strip()  # noqa: S605, S607
        results[f"Dovecot {version.split()[0]}"] = measure(dovecot)
    sandbox.stop()

    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"Load average at the end: {os.getloadavg()[0]:.2f}")
    print(
        f"\nFirst sync of {args.messages} bounces (median of {args.rounds}), idle poll (median "
        f"of {20 * args.rounds}), IDLE bounce → live feed ({args.bounces} bounces):"
    )
    print(
        f"{'server':<26} {'msgs/s':>8} {'idle poll':>10} {'commands':>9} "
        f"{'IDLE median':>12} {'p95':>7}"
    )
    for label, row in results.items():
        print(
            f"{label:<26} {row['rate']:8.0f} {row['idle_ms']:8.1f}ms {row['idle_calls']:9.0f} "
            f"{row['latency']:11.3f}s {row['latency_p95']:6.3f}s"
        )


if __name__ == "__main__":
    main()
