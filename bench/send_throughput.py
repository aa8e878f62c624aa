#!/usr/bin/env python
"""Send throughput: N emails through an SMTP channel into the sandbox's SMTP server, sent by
two Celery worker processes on PostgreSQL + Redis, against plain smtplib sending the same
messages to the same server in the same run.

    .venv/bin/python bench/send_throughput.py            # 5,000 emails, 2 workers

Needs PostgreSQL (user postgres, trust auth) and Redis on 127.0.0.1. Uses its own database
(mailroom_bench, flushed at the start) and Redis database 14. The sandbox runs in its own
process so neither side shares a GIL with the server.

Prints emails per second for both, and duplicates / lost emails for Mailroom (both must be 0):
duplicates are messages the server received more than once (same X-Mailroom-Email-Id), lost are
queued emails the server never received or that did not end up `sent`.
"""

from __future__ import annotations

import argparse
import email
import os
import platform
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: S110 - not up yet
            pass
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/mailroom_bench"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = args.database_url
    os.environ["CELERY_BROKER_URL"] = args.broker_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # As in production: with DEBUG on, Django keeps and formats every query it runs.
    os.environ.setdefault("DJANGO_DEBUG", "0")
    db_name = args.database_url.rsplit("/", 1)[1]
    subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", db_name], capture_output=True, check=False
    )

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from accounts.models import Organization, User
    from channels_app.models import DeliveryChannel
    from channels_app.sending.mime import email_mime_build, email_mime_bytes
    from config.celery import app
    from outreach.models import OutboundEmail
    from outreach.services import email_enqueue
    from sandbox.client import SandboxClient

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)

    http_port, smtp_port = free_port(), free_port()
    certs = tempfile.mkdtemp(prefix="bench-sandbox-")
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--http-port", str(http_port), "--https-port", "-1",
         "--smtp-port", str(smtp_port), "--cert-dir", certs],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = SandboxClient(f"http://127.0.0.1:{http_port}")
    wait_for(client.health, 20, "the sandbox")
    workers: list[subprocess.Popen] = []
    try:
        org = Organization.objects.create(name="Bench", slug="bench")
        rep = User.objects.create_user("rep@bench.test", "x", organization=org, first_name="Rep")
        DeliveryChannel.objects.create(
            organization=org,
            kind=DeliveryChannel.Kind.CUSTOM_SMTP,
            is_team_default=True,
            host="127.0.0.1",
            port=smtp_port,
            security=DeliveryChannel.Security.NONE,
            username="mailroom",
            password="sandbox",
        )
        recipients = [f"prospect{i}@customer.test" for i in range(args.emails)]

        # --- baseline: plain smtplib, one connection, the same messages -----------------------
        baseline_messages = []
        for i, to in enumerate(recipients):
            stand_in = OutboundEmail(
                pk=i + 1,
                to_address=to,
                subject=f"Quick question #{i}",
                body="Hi,\n\nDoes your team still hire SDRs this quarter?\n\nRep\n",
                message_id=f"<baseline.{i}@bench.test>",
            )
            message = email_mime_build(
                email=stand_in, from_address=rep.email, from_name="Rep", now=django_now()
            )
            baseline_messages.append((to, email_mime_bytes(message)))
        client.clear_smtp()
        started = time.perf_counter()
        connection = smtplib.SMTP("127.0.0.1", smtp_port)
        connection.login("mailroom", "sandbox")
        for to, raw in baseline_messages:
            connection.sendmail(rep.email, [to], raw)
        connection.quit()
        baseline_seconds = time.perf_counter() - started
        assert client.smtp_stats()["received"] == args.emails
        baseline_rate = args.emails / baseline_seconds

        # --- Mailroom: two Celery worker processes ------------------------------------------
        app.control.purge()
        env = {**os.environ}
        for n in range(args.workers):
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "--concurrency=1",
                        "--pool=prefork",
                        f"--hostname=bench{n}@%h",
                        "--loglevel=WARNING",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                    ],
                    cwd=ROOT,
                    env=env,
                )  # fmt: skip
            )
        wait_for(lambda: len(app.control.ping(timeout=0.5)) >= args.workers, 60, "the workers")
        client.clear_smtp()
        enqueue_started = time.perf_counter()
        with transaction.atomic():
            for i, to in enumerate(recipients):
                email_enqueue(
                    sender=rep,
                    to_address=to,
                    subject=f"Quick question #{i}",
                    body="Hi,\n\nDoes your team still hire SDRs this quarter?\n\nRep\n",
                )
        enqueue_seconds = time.perf_counter() - enqueue_started
        started = time.perf_counter()  # the queue is woken on commit
        pending = OutboundEmail.objects.exclude(status__in=["sent", "failed", "bounced"])
        deadline = time.monotonic() + 600
        while pending.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        mailroom_seconds = time.perf_counter() - started
        statuses = Counter(OutboundEmail.objects.values_list("status", flat=True))

        received: Counter[str] = Counter()
        since = 0
        while True:
            batch = client.smtp_messages(since_id=since, limit=1000)
            if not batch:
                break
            for record in batch:
                header = email.message_from_bytes(record["raw_bytes"])["X-Mailroom-Email-Id"]
                received[header] += 1
            since = batch[-1]["id"]
        sent_ids = {str(pk) for pk in OutboundEmail.objects.values_list("pk", flat=True)}
        duplicates = sum(n - 1 for n in received.values() if n > 1)
        lost = len(sent_ids - set(received)) + (args.emails - statuses.get("sent", 0))
        mailroom_rate = args.emails / mailroom_seconds

        print(f"machine: {platform.node()} · {platform.processor() or platform.machine()} · "
              f"{os.cpu_count()} CPUs · Python {platform.python_version()} · "
              f"PostgreSQL + Redis on 127.0.0.1")  # fmt: skip
        print(f"emails: {args.emails}, Celery worker processes: {args.workers} "
              f"(prefork, concurrency 1 each)")  # fmt: skip
        print(f"plain smtplib (1 connection):  {baseline_rate:8.0f} emails/s  "
              f"({baseline_seconds:.2f} s)")  # fmt: skip
        print(
            f"Mailroom pipeline:             {mailroom_rate:8.0f} emails/s  "
            f"({mailroom_seconds:.2f} s; queueing {enqueue_seconds:.1f} s, not counted)"
        )
        print(
            f"Mailroom / smtplib:            {mailroom_rate / baseline_rate:8.0%}  (target >= 50%)"
        )
        print(f"statuses: {dict(statuses)}")
        print(f"duplicates: {duplicates}   lost: {lost}")
        if duplicates or lost:
            raise SystemExit(1)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        sandbox.terminate()
        sandbox.wait(timeout=10)


def django_now():
    from django.utils import timezone

    return timezone.now()


if __name__ == "__main__":
    main()
