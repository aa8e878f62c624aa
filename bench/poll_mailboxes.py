"""Bounce-polling cycles over 1,000 sandbox mailboxes, with real Celery workers.

Usage (from the project root; PostgreSQL and Redis must be running):
    python bench/poll_mailboxes.py [--mailboxes 1000] [--bounces 10] [--concurrency 2]
        [--cycles 3] [--database postgres://postgres@127.0.0.1:5432/mailroom_bench_poll]
        [--broker redis://127.0.0.1:6379/11]

What it does:
1. Starts the local sandbox in its own process, (re)creates the benchmark database, migrates it.
2. Creates N reps, each with a connected mailbox (half Gmail, half Exchange Online) holding a
   real sandbox token pair.
3. Starts one Celery worker with `--concurrency` processes (prefork) on its own Redis database.
4. Warm-up cycle: the first sync of every mailbox (sets the history id / delta link).
5. Sends one email from each of `--bounces` mailboxes to an address the sandbox rejects, so a
   bounce lands in those inboxes, then resets the sandbox's call counters.
6. The measured cycles (`--cycles`, the first one finds the bounces, the others are all idle):
   each runs the periodic fan-out task through the broker and waits until every mailbox has
   been polled. Prints, per cycle, polls per second, the API calls each idle mailbox cost (must
   be exactly 1) and what one poll cost: worker and sandbox CPU, PostgreSQL statement time,
   commits and new database connections, and how busy the machine's CPUs were; then the median
   polls per second and the bounces recorded (must equal `--bounces`), with the machine and
   its load average (the machine may be shared: compare runs by their medians).
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
    parser.add_argument("--cycles", type=int, default=3, help="measured cycles (median)")
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
        warm, _ = run_cycle(app, channels, args.timeout)
        print(f"Warm-up cycle (first sync of every mailbox): {warm:.2f} s")

        bounced = send_bounces(sandbox, channels, args.bounces, settings)
        meters = Meters(worker=worker.pid, sandbox=sandbox.process.pid, database=args.database)
        print(f"Load average before: {load_average()}")
        cycles = []
        for number in range(1, args.cycles + 1):
            sandbox.client.reset_all_calls()
            meters.start()
            wall, checks = run_cycle(app, channels, args.timeout)
            cost = meters.stop()
            cost["commits"] -= checks  # the benchmark's own progress checks
            cycle = Cycle(
                number, wall, api_calls(sandbox, channels, bounced if number == 1 else []), cost
            )
            cycles.append(cycle)
            print(cycle.line(len(channels)), flush=True)
        report(channels, bounced, cycles, args)
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


def run_cycle(app, channels, timeout: float) -> tuple[float, int]:
    """Trigger the periodic fan-out through the broker; wait until every mailbox was polled.
    Returns the wall time and how many progress checks (queries) it made."""
    from django.db.models import Q
    from django.utils import timezone

    from channels_app.models import DeliveryChannel

    ids = [c.pk for c in channels]
    mark = timezone.now()
    started = time.perf_counter()
    app.send_task("bounces.tasks.mailboxes_poll_due")
    deadline = time.monotonic() + timeout
    checks = 0
    while True:
        checks += 1
        waiting = (
            DeliveryChannel.objects.filter(pk__in=ids)
            .filter(Q(last_polled_at__isnull=True) | Q(last_polled_at__lt=mark))
            .count()
        )
        if waiting == 0:
            return time.perf_counter() - started, checks
        if time.monotonic() > deadline:
            raise SystemExit(f"{waiting} mailboxes still not polled after {timeout:.0f} s")
        time.sleep(0.05)


def send_bounces(sandbox, channels, count: int, settings) -> list:
    """Send one email from each of `count` mailboxes (alternating Gmail / Graph) to an address
    the sandbox rejects: each inbox receives one bounce."""
    from email.message import EmailMessage

    from django.utils import timezone

    from channels_app.providers import facade as providers
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
        providers.deliver(
            channel=channel,
            message=providers.OutgoingMessage(
                raw=raw, envelope_from=channel.mailbox_address, recipients=[email.to_address]
            ),
        )
    return chosen


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def api_calls(sandbox, channels, bounced) -> tuple[list[int], list[int]]:
    """API calls each mailbox cost in the cycle: (idle mailboxes, mailboxes with a bounce)."""
    calls = sandbox.client.all_calls()
    bounced_ids = {c.pk for c in bounced}
    idle_calls, busy_calls = [], []
    for channel in channels:
        provider = "google" if channel.kind == "gmail" else "microsoft"
        total = calls.get(f"{provider}:{channel.mailbox_address}", {}).get("total", 0)
        (busy_calls if channel.pk in bounced_ids else idle_calls).append(total)
    return idle_calls, busy_calls


class Meters:
    """What a cycle cost, read around it:
    - CPU seconds of the Celery worker (its session: the main process and its children) and of
      the sandbox process, from /proc (Linux only; elsewhere they read 0);
    - the whole machine's busy CPU share (it may be shared: other users show up here);
    - from PostgreSQL's statistics of the benchmark database: sessions opened (connections),
      transactions committed and time spent running statements (`active_time`).
    Redis is shared with other users of the machine and not counted."""

    def __init__(self, *, worker: int, sandbox: int, database: str):
        from urllib.parse import urlsplit

        self.worker, self.sandbox = worker, sandbox
        self.database = urlsplit(database).path.lstrip("/")
        self.before: dict[str, float] = {}

    @staticmethod
    def _stat(pid: int) -> tuple[int, float] | None:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return int(fields[3]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _sample_processes(self) -> dict[str, float]:
        sample = {"worker": 0.0, "sandbox": 0.0, "busy": 0.0, "total": 0.0}
        if not Path("/proc/stat").exists():
            return sample
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                stat = self._stat(int(entry.name))
                if stat is not None and stat[0] == self.worker:  # the worker's session
                    sample["worker"] += stat[1]
        stat = self._stat(self.sandbox)
        sample["sandbox"] = stat[1] if stat else 0.0
        with open("/proc/stat") as machine:
            ticks = [int(value) for value in machine.readline().split()[1:]]
        idle = ticks[3] + ticks[4]  # idle + iowait
        sample["busy"], sample["total"] = sum(ticks) - idle, sum(ticks)
        return sample

    def _sample_database(self) -> dict[str, float]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT sessions, xact_commit, active_time FROM pg_stat_database "
                "WHERE datname = %s",
                [self.database],
            )
            sessions, commits, active_ms = cursor.fetchone()
        return {"sessions": sessions, "commits": commits, "active": active_ms / 1000}

    def start(self) -> None:
        self.before = {**self._sample_processes(), **self._sample_database()}

    def stop(self) -> dict[str, float]:
        after = self._sample_processes()
        time.sleep(1.1)  # PostgreSQL publishes a backend's statistics at most once a second
        after.update(self._sample_database())
        delta = {key: after[key] - self.before[key] for key in after}
        delta["busy"] = delta["busy"] / delta["total"] if delta["total"] else 0.0
        del delta["total"]
        return delta


class Cycle:
    def __init__(self, number: int, wall: float, calls, cost: dict[str, float]):
        self.number, self.wall, self.cost = number, wall, cost
        self.idle_calls, self.busy_calls = calls

    def polls_per_second(self, mailboxes: int) -> float:
        return mailboxes / self.wall

    def line(self, mailboxes: int) -> str:
        return (
            f"Cycle {self.number}: {self.wall:.2f} s, {self.polls_per_second(mailboxes):.0f} "
            f"polls/s; API calls per idle mailbox min {min(self.idle_calls)} max "
            f"{max(self.idle_calls)} mean {statistics.mean(self.idle_calls):.3f}; "
            f"{per_poll(self.cost, mailboxes)}; load {load_average()}"
        )


def per_poll(cost: dict[str, float], mailboxes: int) -> str:
    """One poll's share of a cycle's cost, in the words the report uses."""

    def ms(key: str) -> str:
        return f"{cost[key] / mailboxes * 1000:.2f}"

    return (
        f"per poll: worker CPU {ms('worker')} ms, sandbox CPU {ms('sandbox')} ms, "
        f"PostgreSQL statements {ms('active')} ms, {cost['commits'] / mailboxes:.2f} commits, "
        f"{cost['sessions'] / mailboxes:.3f} new connections; machine CPU busy "
        f"{cost['busy']:.0%}"
    )


def report(channels, bounced, cycles: list[Cycle], args) -> None:
    from bounces.models import Bounce

    recorded = Bounce.objects.filter(outbound_email__isnull=False).count()
    idle_calls = [calls for cycle in cycles for calls in cycle.idle_calls]
    busy_calls = cycles[0].busy_calls
    rates = [cycle.polls_per_second(len(channels)) for cycle in cycles]
    print()
    print(
        f"Machine: {platform.node()} · {platform.processor() or platform.machine()} · "
        f"{os.cpu_count()} CPUs · Python {platform.python_version()} · PostgreSQL + Redis · "
        f"load average {load_average()}"
    )
    print(
        f"Mailboxes: {len(channels)} (Gmail {sum(c.kind == 'gmail' for c in channels)}, "
        f"Graph {sum(c.kind != 'gmail' for c in channels)}); {len(bounced)} with a bounce in "
        f"cycle 1, every other poll idle"
    )
    from bounces.conf import bounce_settings

    print(
        f"Celery: 1 worker, prefork, {args.concurrency} processes; one poll task per "
        f"{bounce_settings().poll_batch_size} mailboxes"
    )
    print(
        f"API calls per idle mailbox ({len(idle_calls)} idle polls): min {min(idle_calls)}, "
        f"max {max(idle_calls)}, mean {statistics.mean(idle_calls):.3f}  (target: exactly 1)"
    )
    if busy_calls:
        print(f"API calls per mailbox with a bounce: mean {statistics.mean(busy_calls):.1f}")
    median = {key: statistics.median(cycle.cost[key] for cycle in cycles) for key in cycles[0].cost}
    print(f"Median of the cycles, {per_poll(median, len(channels))}")
    print(
        f"Polls per second: median {statistics.median(rates):.0f} over {len(cycles)} cycles "
        f"({', '.join(f'{rate:.0f}' for rate in rates)})  (target: 33)"
    )
    print(f"Bounces recorded: {recorded}  (target: {args.bounces})")


if __name__ == "__main__":
    sys.exit(main())
