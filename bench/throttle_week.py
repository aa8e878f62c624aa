#!/usr/bin/env python
"""A simulated week of sending through two throttled mailboxes, with the clock moved by
time-machine (no real sleeping):

- a Gmail Workspace mailbox: every weekday a 1,200-email campaign burst at 09:00 plus 300
  one-off emails spread over working hours, and a 2,000-email extra burst on Wednesday
  (more than a day's quota, so mail carries over to the next days);
- an Exchange Online mailbox: a 600-email burst at 09:00 and 100 one-offs every weekday.

    .venv/bin/python bench/throttle_week.py [--database-url postgres://…]

The limiter, the claims and the drain are Mailroom's real code on a real database (a fresh
SQLite file by default); only the provider call is replaced by a recorder of send times. It
checks that Gmail never sent more than 2,000 in any rolling 24 h nor more than 2 in any
second, Exchange never more than 30 in any minute, that no email was lost, sent twice or
failed, and that no email waited longer than its windows required: each send is compared
with the earliest moment the windows allowed it, given the sends before it.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START = datetime(2030, 1, 7, 0, 0, tzinfo=UTC)  # a Monday
WEEK = timedelta(days=7)


def max_in_window(times: list[float], seconds: float) -> int:
    """The largest number of sends inside any half-open window of `seconds` (t - s, t]."""
    best, left = 0, 0
    for right, t in enumerate(times):
        while times[left] <= t - seconds:
            left += 1
        best = max(best, right - left + 1)
    return best


def excess_waits(sends: list[tuple[float, float]], windows: list[tuple[int, int]]) -> list[float]:
    """For each send (in send order): how much later it went than the windows required,
    given the sends before it (earliest = its arrival, or when the limit-th previous send
    leaves each trailing window)."""
    times: list[float] = []
    excess = []
    for arrived, sent in sends:
        earliest = arrived
        for limit, seconds in windows:
            if len(times) >= limit:
                earliest = max(earliest, times[-limit] + seconds)
        excess.append(max(0.0, sent - earliest))
        times.append(sent)
    return excess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    db_file = None
    if not args.database_url:
        db_file = str(Path(tempfile.mkdtemp(prefix="throttle-week-")) / "db.sqlite3")
        args.database_url = f"sqlite:///{db_file}"
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    import django

    django.setup()
    import time_machine
    from django.core.management import call_command

    from accounts.models import Organization, User
    from channels_app.models import DeliveryChannel
    from channels_app.sending import services
    from outreach.models import OutboundEmail

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    random.seed(args.seed)

    org = Organization.objects.create(name="Week", slug="week")
    gmail_rep = User.objects.create_user("g@week.test", "x", organization=org)
    exchange_rep = User.objects.create_user("x@week.test", "x", organization=org)
    gmail = DeliveryChannel.objects.create(
        organization=org, owner=gmail_rep, kind="gmail", mailbox_address="g@week.test"
    )
    exchange = DeliveryChannel.objects.create(
        organization=org, owner=exchange_rep, kind="exchange_online", mailbox_address="x@week.test"
    )

    sent_log: dict[int, list[tuple[int, float]]] = {gmail.pk: [], exchange.pk: []}

    def record(*, channel, email, now):
        sent_log[channel.pk].append((email.pk, now.timestamp()))
        return ""

    services.email_deliver = record  # the provider is the only stand-in

    # The week's arrivals: (when, channel, sender, one-off?)
    arrivals: list[tuple[datetime, DeliveryChannel, User, bool]] = []
    for day in range(5):
        nine = START + timedelta(days=day, hours=9)
        arrivals += [(nine, gmail, gmail_rep, False)] * 1200
        arrivals += [(nine, exchange, exchange_rep, False)] * 600
        if day == 2:
            arrivals += [(nine + timedelta(hours=1), gmail, gmail_rep, False)] * 2000
        for _ in range(300):
            arrivals.append((nine + timedelta(seconds=random.uniform(0, 8 * 3600)), gmail,
                             gmail_rep, True))  # fmt: skip
        for _ in range(100):
            arrivals.append((nine + timedelta(seconds=random.uniform(0, 8 * 3600)), exchange,
                             exchange_rep, True))  # fmt: skip
    arrivals.sort(key=lambda a: a[0])

    next_run: dict[int, datetime | None] = {gmail.pk: None, exchange.pk: None}
    index, drains = 0, 0
    started = time.perf_counter()
    now = START
    end = START + WEEK + timedelta(days=3)
    while now < end:
        with time_machine.travel(now, tick=False):
            batch = []
            while index < len(arrivals) and arrivals[index][0] <= now:
                at, channel, sender, one_off = arrivals[index]
                batch.append(
                    OutboundEmail(
                        organization=org,
                        sender=sender,
                        to_address=f"p{index}@customer.test",
                        subject="Hi",
                        body="Hi",
                        status="queued",
                        priority=0 if one_off else 10,
                        channel=channel,
                        channel_kind=channel.kind,
                        message_id=f"<week.{index}@week.test>",
                        queued_at=at,
                        next_attempt_at=at,
                    )
                )
                index += 1
                next_run[channel.pk] = min(next_run[channel.pk] or now, now)
            if batch:
                OutboundEmail.objects.bulk_create(batch, batch_size=1000)
            for channel_id, due in next_run.items():
                if due is not None and due <= now:
                    result = services.channel_drain(channel_id=channel_id)
                    drains += 1
                    next_run[channel_id] = result.next_run_at
                    if result.more:
                        next_run[channel_id] = now
        candidates = [t for t in next_run.values() if t is not None]
        if index < len(arrivals):
            candidates.append(arrivals[index][0])
        if not candidates:
            break
        now = max(min(candidates), now + timedelta(microseconds=1))

    elapsed = time.perf_counter() - started
    emails = {
        pk: (queued_at.timestamp(), status)
        for pk, queued_at, status in OutboundEmail.objects.values_list("pk", "queued_at", "status")
    }
    ok = True
    vendor = django.db.connection.vendor
    print(f"simulated: {START:%Y-%m-%d} + 7 days (until the queues emptied), {drains} drain "
          f"runs, {elapsed:.1f} s of real time, database {vendor}")  # fmt: skip
    for name, channel, windows in (
        ("Gmail", gmail, [(2, 1), (2000, 86400)]),
        ("Exchange Online", exchange, [(30, 60), (10_000, 86400)]),
    ):
        log = sent_log[channel.pk]
        times = sorted(t for _, t in log)
        ids = [pk for pk, _ in log]
        own = OutboundEmail.objects.filter(channel=channel)
        total = own.count()
        duplicates = len(ids) - len(set(ids))
        unsent = own.exclude(status="sent").count()
        excess = excess_waits([(emails[pk][0], t) for pk, t in log], windows)
        waits = sorted(t - emails[pk][0] for pk, t in log)
        last = datetime.fromtimestamp(times[-1], UTC) if times else None
        print(f"\n{name}: {total} emails queued, {len(log)} sent, duplicates {duplicates}, "
              f"not sent {unsent}; last send {last:%a %H:%M:%S}")  # fmt: skip
        for limit, seconds in windows:
            most = max_in_window(times, seconds)
            verdict = "ok" if most <= limit else "EXCEEDED"
            ok &= most <= limit
            print(f"  most in any {seconds:>6} s: {most:>5} (limit {limit}) {verdict}")
        p50 = waits[len(waits) // 2] if waits else 0
        p99 = waits[int(len(waits) * 0.99)] if waits else 0
        longest = waits[-1] if waits else 0
        print(f"  wait: median {p50:,.0f} s, p99 {p99:,.0f} s, max {longest:,.0f} s")
        worst = max(excess) if excess else 0.0
        print(f"  longest wait beyond what the windows required: {worst * 1000:.1f} ms")
        ok &= duplicates == 0 and unsent == 0 and worst < 0.001
        one_off = set(own.filter(priority=0).values_list("pk", flat=True))
        one_off_waits = sorted(t - emails[pk][0] for pk, t in log if pk in one_off)
        if one_off_waits:
            print(f"  one-off emails: median wait {one_off_waits[len(one_off_waits) // 2]:,.0f} s "
                  f"(they go ahead of campaign steps)")  # fmt: skip
    print("\nresult:", "PASS" if ok else "FAIL")
    if db_file:
        Path(db_file).unlink(missing_ok=True)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
