"""One bounce-polling cycle over 1,000 sandbox mailboxes, with real Celery workers.

Usage (from the project root; PostgreSQL and Redis must be running):
    python bench/poll_mailboxes.py [--mailboxes 1000] [--bounces 10] [--concurrency 2]
        [--database postgres://postgres@127.0.0.1:5432/mailroom_bench_poll]
        [--broker redis://127.0.0.1:6379/11]

What it does:
1. Starts the local sandbox in this process, (re)creates the benchmark database and migrates it.
2. Creates N reps, each with a connected mailbox (half Gmail, half Exchange Online) holding a
   real sandbox token pair.
3. Starts one Celery worker with `--concurrency` processes (prefork) on its own Redis database.
4. Warm-up cycle: the first sync of every mailbox (sets the history id / delta link).
5. Sends one email from each of `--bounces` mailboxes to an address the sandbox rejects, so a
   bounce lands in those inboxes, then resets the sandbox's call counters.
6. The measured cycle: runs the periodic fan-out task through the broker and waits until
   every mailbox has been polled. Prints the API calls each idle mailbox cost (must be exactly
   1), the wall time of the cycle, and the bounces recorded (must equal `--bounces`).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

GMAIL_SCOPES = [
    "openid",
    "email",
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
]
GRAPH_SCOPES = ["openid", "offline_access", "User.Read", "Mail.Send", "Mail.Read"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=1000)
    parser.add_argument("--bounces", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--database", default="postgres://postgres@127.0.0.1:5432/mailroom_bench_poll"
    )
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--timeout", type=float, default=600)
    return parser.parse_args()


def recreate_database(url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    common = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    common += ["-U", parts.username or "postgres"]
    subprocess.run(["dropdb", *common, "--if-exists", name], check=True)
    subprocess.run(["createdb", *common, name], check=True)


def main() -> int:
    args = parse_args()
    sandbox = start_sandbox_process()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": args.database,
        "CELERY_BROKER_URL": args.broker,
        "SANDBOX_URL": sandbox.http_url,
        "SANDBOX_HTTPS_URL": sandbox.http_url,
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG")})
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "CELERY_BROKER_URL", "SANDBOX_URL")})
    os.environ.update({k: env[k] for k in ("SANDBOX_HTTPS_URL", "LOG_LEVEL")})

    print(f"Preparing {args.database} …", flush=True)
    recreate_database(args.database)
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
    )

    import django

    django.setup()
    from django.conf import settings

    from config.celery import app

    started = time.perf_counter()
    channels = create_mailboxes(sandbox, args.mailboxes, settings)
    print(f"{len(channels)} mailboxes connected in {time.perf_counter() - started:.1f} s")

    app.connection_for_write().default_channel.client.flushdb()  # an empty queue to start
    worker = subprocess.Popen(
        [
            str(PROJECT_ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "config",
            "worker",
            "--pool=prefork",
            f"--concurrency={args.concurrency}",
            f"--loglevel={os.environ.get('BENCH_WORKER_LOGLEVEL', 'WARNING')}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=bench-poll-{uuid.uuid4().hex[:6]}@%h",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        wait_for_worker(app)
        warm = run_cycle(app, channels, args.timeout)
        print(f"Warm-up cycle (first sync of every mailbox): {warm:.2f} s")

        bounced = send_bounces(sandbox, channels, args.bounces, settings)
        sandbox.client.reset_all_calls()
        wall = run_cycle(app, channels, args.timeout)
        report(sandbox, channels, bounced, wall, args)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        sandbox.stop()
    return 0


class SandboxProcess:
    """The sandbox in its own process, as a remote provider would be: its request handling
    does not share a CPU lock with the code under measurement."""

    def __init__(self, port: int):
        from sandbox.client import SandboxClient

        self.http_url = f"http://127.0.0.1:{port}"
        self.client = SandboxClient(self.http_url, timeout=30)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sandbox",
                "--http-port",
                str(port),
                "--https-port",
                "-1",
                "--smtp-port",
                "-1",
            ],
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start_sandbox_process() -> SandboxProcess:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sandbox = SandboxProcess(port)
    deadline = time.monotonic() + 30
    while True:
        try:
            sandbox.client.health()
            return sandbox
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("The sandbox did not start") from None
            time.sleep(0.1)


def create_mailboxes(sandbox, count: int, settings) -> list:
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Organization, User
    from channels_app.models import DeliveryChannel

    org = Organization.objects.create(name="Bench Org", slug=f"bench-{uuid.uuid4().hex[:6]}")
    users = User.objects.bulk_create(
        [
            User(email=f"rep{i:04d}@bench.test", organization=org, role=User.Role.REP)
            for i in range(count)
        ]
    )
    channels = []
    expires = timezone.now() + timedelta(hours=2)
    for i, user in enumerate(users):
        gmail = i % 2 == 0
        provider = "google" if gmail else "microsoft"
        grant = sandbox.client.grant(
            provider,
            user.email,
            client_id=settings.MAILROOM_GOOGLE_CLIENT_ID
            if gmail
            else settings.MAILROOM_MICROSOFT_CLIENT_ID,
            scopes=GMAIL_SCOPES if gmail else GRAPH_SCOPES,
            expires_in=7200,
        )
        channels.append(
            DeliveryChannel(
                organization=org,
                owner=user,
                kind=DeliveryChannel.Kind.GMAIL if gmail else DeliveryChannel.Kind.EXCHANGE_ONLINE,
                mailbox_address=user.email,
                access_token=grant["access_token"],
                refresh_token=grant["refresh_token"],
                token_expires_at=expires,
                scopes=" ".join(GMAIL_SCOPES if gmail else GRAPH_SCOPES),
            )
        )
    return DeliveryChannel.objects.bulk_create(channels)


def wait_for_worker(app, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=1.0):
            return
    raise SystemExit("The Celery worker did not start")


def run_cycle(app, channels, timeout: float) -> float:
    """Trigger the periodic fan-out through the broker; wait until every mailbox was polled."""
    from django.db.models import Q
    from django.utils import timezone

    from channels_app.models import DeliveryChannel

    ids = [c.pk for c in channels]
    mark = timezone.now()
    started = time.perf_counter()
    app.send_task("bounces.tasks.mailboxes_poll_due")
    deadline = time.monotonic() + timeout
    while True:
        waiting = (
            DeliveryChannel.objects.filter(pk__in=ids)
            .filter(Q(last_polled_at__isnull=True) | Q(last_polled_at__lt=mark))
            .count()
        )
        if waiting == 0:
            return time.perf_counter() - started
        if time.monotonic() > deadline:
            raise SystemExit(f"{waiting} mailboxes still not polled after {timeout:.0f} s")
        time.sleep(0.05)


def send_bounces(sandbox, channels, count: int, settings) -> list:
    """Send one email from each of `count` mailboxes (alternating Gmail / Graph) to an address
    the sandbox rejects: each inbox receives one bounce."""
    import base64
    from email.message import EmailMessage

    import requests
    from django.utils import timezone

    from channels_app.models import DeliveryChannel
    from outreach.models import OutboundEmail, Prospect

    chosen = channels[:count]
    for channel in chosen:
        prospect = Prospect.objects.create(
            organization_id=channel.organization_id,
            owner_id=channel.owner_id,
            email=f"bounce.{channel.pk}@prospect.test",
        )
        email = OutboundEmail.objects.create(
            organization_id=channel.organization_id,
            sender_id=channel.owner_id,
            prospect=prospect,
            to_address=prospect.email,
            subject="Quick question",
            body="Hi,\n\nDo you have 15 minutes next week?\n",
            channel=channel,
            channel_kind=channel.kind,
            status=OutboundEmail.Status.SENT,
            sent_at=timezone.now(),
            message_id=f"<mr.{uuid.uuid4().hex}@bench.test>",
        )
        message = EmailMessage()
        message["From"] = channel.mailbox_address
        message["To"] = email.to_address
        message["Subject"] = email.subject
        message["Message-ID"] = email.message_id
        message["X-Mailroom-Email-Id"] = str(email.pk)
        message.set_content(email.body)
        raw = message.as_bytes()
        auth = {"Authorization": f"Bearer {channel.access_token}"}
        if channel.kind == DeliveryChannel.Kind.GMAIL:
            response = requests.post(
                f"{settings.MAILROOM_GMAIL_API_URL}/gmail/v1/users/me/messages/send",
                json={"raw": base64.urlsafe_b64encode(raw).decode()},
                headers=auth,
                timeout=10,
            )
        else:
            response = requests.post(
                f"{settings.MAILROOM_GRAPH_URL}/v1.0/me/sendMail",
                data=base64.b64encode(raw),
                headers={**auth, "Content-Type": "text/plain"},
                timeout=10,
            )
        response.raise_for_status()
    return chosen


def report(sandbox, channels, bounced, wall: float, args) -> None:
    from bounces.models import Bounce

    calls = sandbox.client.all_calls()
    bounced_ids = {c.pk for c in bounced}
    idle_calls, busy_calls = [], []
    for channel in channels:
        provider = "google" if channel.kind == "gmail" else "microsoft"
        total = calls.get(f"{provider}:{channel.mailbox_address}", {}).get("total", 0)
        (busy_calls if channel.pk in bounced_ids else idle_calls).append(total)
    recorded = Bounce.objects.filter(outbound_email__isnull=False).count()
    print()
    print(
        f"Machine: {platform.node()} · {platform.processor() or platform.machine()} · "
        f"{os.cpu_count()} CPUs · Python {platform.python_version()} · PostgreSQL + Redis"
    )
    print(
        f"Mailboxes: {len(channels)} (Gmail {sum(c.kind == 'gmail' for c in channels)}, "
        f"Graph {sum(c.kind != 'gmail' for c in channels)}); idle {len(idle_calls)}, "
        f"with a bounce {len(busy_calls)}"
    )
    print(f"Celery: 1 worker, prefork, {args.concurrency} processes")
    print(
        f"API calls per idle mailbox: min {min(idle_calls)}, max {max(idle_calls)}, "
        f"mean {statistics.mean(idle_calls):.3f}  (target: exactly 1)"
    )
    if busy_calls:
        print(f"API calls per mailbox with a bounce: mean {statistics.mean(busy_calls):.1f}")
    print(f"Wall time of one poll cycle: {wall:.2f} s ({len(channels) / wall:.0f} mailboxes/s)")
    print(f"Bounces recorded: {recorded}  (target: {args.bounces})")


if __name__ == "__main__":
    sys.exit(main())
