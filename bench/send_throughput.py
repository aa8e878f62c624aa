#!/usr/bin/env python
"""Send throughput: N emails through an SMTP channel into the sandbox's SMTP server, sent by
two Celery worker processes on PostgreSQL + Redis, against plain smtplib sending the same
messages to the same server in the same run.

    .venv/bin/python bench/send_throughput.py            # 5,000 emails, 2 workers, 3 runs

Needs PostgreSQL (user postgres, trust auth) and Redis on 127.0.0.1. Uses its own database
(mailroom_bench, flushed at the start) and Redis database 14. The sandbox runs in its own
process so neither side shares a GIL with the server.

The host is shared and noisy, so each run measures smtplib right before and right after
Mailroom and compares Mailroom with the mean of the two; the medians of the runs are reported,
with the load average around each run.

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
from statistics import median

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
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="drains in flight per worker process (1: prefork pool; more: threads pool)",
    )
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
    from django.db import connections, transaction

    from accounts.models import Organization, User
    from channels_app.models import DeliveryChannel
    from channels_app.sending.mime import email_mime_raw
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
        subjects = [f"Quick question #{i}" for i in range(args.emails)]
        body = "Hi,\n\nDoes your team still hire SDRs this quarter?\n\nRep\n"

        # The baseline's messages: what Mailroom puts on the wire, built before the clock runs.
        baseline_messages = []
        for i, to in enumerate(recipients):
            stand_in = OutboundEmail(
                pk=i + 1, to_address=to, subject=subjects[i], body=body,
                message_id=f"<baseline.{i}@bench.test>",
            )  # fmt: skip
            raw = email_mime_raw(
                email=stand_in, from_address=rep.email, from_name="Rep", now=django_now()
            )
            baseline_messages.append((to, raw))

        def baseline() -> float:
            """Plain smtplib, one connection, the same messages: emails per second."""
            client.clear_smtp()  # the messages go; the counter keeps counting
            received_before = client.smtp_stats()["received"]
            started = time.perf_counter()
            connection = smtplib.SMTP("127.0.0.1", smtp_port)
            connection.login("mailroom", "sandbox")
            for to, raw in baseline_messages:
                connection.sendmail(rep.email, [to], raw)
            connection.quit()
            seconds = time.perf_counter() - started
            stats = client.smtp_stats()
            assert stats["received"] - received_before == args.emails == stats["kept"], stats
            return args.emails / seconds

        # --- Mailroom: Celery worker processes ----------------------------------------------
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

        print(f"machine: {platform.node()} · {platform.processor() or platform.machine()} · "
              f"{os.cpu_count()} CPUs · Python {platform.python_version()} · "
              f"PostgreSQL + Redis on 127.0.0.1")  # fmt: skip
        print(f"emails: {args.emails} a run, {args.runs} runs; Celery worker processes: "
              f"{args.workers} ({'prefork' if args.threads == 1 else 'threads'} pool, concurrency "
              f"{args.threads} each); smtplib baseline right before "
              f"and right after each Mailroom run, the ratio against their mean")  # fmt: skip
        runs = []
        failed = False
        for run in range(1, args.runs + 1):
            OutboundEmail.objects.all().delete()
            with connections["default"].cursor() as cursor:
                cursor.execute("VACUUM ANALYZE outreach_outboundemail")
            load_before = os.getloadavg()[0]
            before = baseline()
            client.clear_smtp()
            enqueue_started = time.perf_counter()
            with transaction.atomic():
                for to, subject in zip(recipients, subjects, strict=True):
                    email_enqueue(sender=rep, to_address=to, subject=subject, body=body)
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
            after = baseline()
            load_after = os.getloadavg()[0]
            sent_ids = {str(pk) for pk in OutboundEmail.objects.values_list("pk", flat=True)}
            duplicates = sum(n - 1 for n in received.values() if n > 1)
            lost = len(sent_ids - set(received)) + (args.emails - statuses.get("sent", 0))
            rate = args.emails / mailroom_seconds
            ratio = rate / ((before + after) / 2)
            runs.append((rate, before, after, ratio))
            failed = failed or bool(duplicates or lost)
            print(
                f"run {run}: Mailroom {rate:5.0f} emails/s ({mailroom_seconds:.2f} s; queueing "
                f"{enqueue_seconds:.0f} s, not counted) · smtplib {before:4.0f} / {after:4.0f} "
                f"emails/s · ratio {ratio:4.0%} · duplicates {duplicates} · lost {lost} · "
                f"statuses {dict(statuses)} · load {load_before:.2f} → {load_after:.2f}"
            )
        print(f"median Mailroom pipeline:   {median(r[0] for r in runs):6.0f} emails/s")
        print(f"median plain smtplib:       {median(r[1] + r[2] for r in runs) / 2:6.0f} emails/s")
        print(f"median Mailroom / smtplib:  {median(r[3] for r in runs):6.0%}  (target >= 50%)")
        if failed:
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
