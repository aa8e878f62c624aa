"""Analytics pages at scale: server time and SQL queries at 10,000 and 1,000,000 emails.

For each size the script recreates a PostgreSQL database, migrates it, fills one organization
with COPY (100 reps in 10 teams, 500 templates, 200 campaigns of 3 steps, 50,000 prospects,
50,000 enrollments; emails over the last 12 months with 5% bounce rows and 2% replies, as in
the issue: 1,000,000 emails, 50,000 bounces, 20,000 replies; feed events for each bounce and
reply), builds the rollups (`analytics_rebuild`), then times each page with the Django test
client, warm, as an admin, a manager and a rep: the median of many runs, and the number of
SQL queries per request.

    createdb is not needed: the script drops and creates the database itself.
    .venv/bin/python bench/analytics_scale.py                    # 10k and 1M, 40 runs a page
    .venv/bin/python bench/analytics_scale.py --sizes 10000 --runs 10
    .venv/bin/python bench/analytics_scale.py --reuse            # measure again, no refill
    .venv/bin/python bench/analytics_scale.py --reuse --pages feed --viewers rep   # just those
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_analytics_bench (the
    default) names the databases: mailroom_analytics_bench_10000, …_1000000.

Pages are timed interleaved (a few requests on one size, then on the other, and so on), so
load from other work on a shared machine weighs on both sizes alike.

Loading runs with session_replication_role = replica (no triggers, no FK checks while COPY
streams rows whose ids the script assigns), so the analytics triggers do not queue a million
refreshes: the rebuild afterwards is what a deployment on existing data runs once.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mailroom_analytics_bench"
)
BASE_NAME = DATABASE_URL.rsplit("/", 1)[1]
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.models import Organization, Team, User  # noqa: E402
from analytics.models import EmailDayStat, EmailMonthStat, FeedEvent, SenderDayStat  # noqa: E402
from analytics.services import analytics_rebuild  # noqa: E402
from bounces.models import Bounce  # noqa: E402
from outreach.models import (  # noqa: E402
    Campaign,
    CampaignStep,
    EmailTemplate,
    Enrollment,
    OutboundEmail,
    Prospect,
)

REPS, TEAMS, TEMPLATES_PER_REP, CAMPAIGNS_PER_REP, STEPS = 100, 10, 5, 2, 3
PROSPECTS_PER_REP = 500
BOUNCE_SHARE, REPLY_SHARE = 0.05, 0.02
NOW = datetime.now(UTC)
VIEWERS = [
    ("admin", "admin@bench.test"),
    ("manager", "manager1@bench.test"),
    ("rep", "rep1@bench.test"),
]
PAGES = [
    ("template analytics", "/analytics/templates/"),
    ("campaign analytics", "/analytics/campaigns/"),
    ("team dashboard", "/analytics/"),
    ("live feed", "/feed/"),
    ("live feed, team view", "/feed/?scope=team"),
    ("feed poll (every 2 s)", "/feed/events/?after={last_event}"),
    ("template analytics, 12 months", "/analytics/templates/?start={year_ago}"),
]


def recreate_database() -> None:
    connections.close_all()
    name = settings.DATABASES["default"]["NAME"]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0)


_MISSING = object()


def _defaults(model) -> list[tuple[str, object]]:
    """(column, value when a row does not give one) for every concrete column of `model`."""
    defaults = []
    for field in model._meta.concrete_fields:
        if field.has_default():
            default = field.get_default()
        elif field.null:
            default = None
        elif field.empty_strings_allowed and field.get_internal_type() in (
            "CharField",
            "TextField",
        ):
            default = ""
        else:
            default = _MISSING
        defaults.append((field.column, default))
    return defaults


def copy_rows(model, rows) -> int:
    """COPY dicts (keyed by column) into the model's table, ids included. Returns the count."""
    defaults = _defaults(model)
    column_list = ", ".join(f'"{column}"' for column, _ in defaults)
    count = 0
    raw = connection.connection
    with raw.cursor() as cursor:
        with cursor.copy(f'COPY "{model._meta.db_table}" ({column_list}) FROM STDIN') as copy:
            for row in rows:
                values = [row.get(column, default) for column, default in defaults]
                if _MISSING in values:
                    missing = [
                        c for (c, _), v in zip(defaults, values, strict=True) if v is _MISSING
                    ]
                    raise KeyError(f"{model.__name__} needs {missing}")
                copy.write_row(values)
                count += 1
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{model._meta.db_table}', 'id'), "
            f'(SELECT max(id) FROM "{model._meta.db_table}"))'
        )
    return count


def fill(emails: int, *, seed: int = 7) -> dict:
    rng = random.Random(seed)
    stamps = {"created_at": NOW - timedelta(days=400), "updated_at": NOW - timedelta(days=400)}
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    org = Organization.objects.create(name="Bench Corp", slug="bench", timezone="America/New_York")
    password = User(email="x@x.test")
    password.set_password("mailroom")
    user_id = 0

    def user(email, role, team_id=None, staff=False):
        nonlocal user_id
        user_id += 1
        return {
            "id": user_id, "password": password.password, "is_superuser": False,
            "first_name": email.split("@")[0].title(), "last_name": "Bench", "is_staff": staff,
            "is_active": True, "date_joined": NOW, "email": email, "role": role,
            "organization_id": org.pk, "team_id": team_id, "last_login": None,
        }  # fmt: skip

    copy_rows(
        Team,
        ({"id": t, "organization_id": org.pk, "name": f"Team {t}", **stamps} for t in range(1, 11)),
    )
    users = [user("admin@bench.test", "admin", staff=True)]
    users += [user(f"manager{t}@bench.test", "manager", t) for t in range(1, TEAMS + 1)]
    reps = [user(f"rep{r}@bench.test", "rep", r % TEAMS + 1) for r in range(1, REPS + 1)]
    copy_rows(User, users + reps)
    for t in range(1, TEAMS + 1):
        Team.objects.filter(pk=t).update(manager_id=users[t]["id"])
    rep_ids = [r["id"] for r in reps]

    templates, own_templates, shared = [], {}, []
    for r in rep_ids:
        for n in range(TEMPLATES_PER_REP):
            tid = len(templates) + 1
            is_shared = n == 0 and r % 2 == 0 or n == 1 and r % 5 == 0
            templates.append(
                {
                    "id": tid,
                    "organization_id": org.pk,
                    "owner_id": r,
                    "name": f"Template {tid}: {'shared ' if is_shared else ''}pitch {n + 1}",
                    "subject": "Quick question",
                    "body": "Hi {{ first_name }}",
                    "is_shared": is_shared,
                    **stamps,
                }  # fmt: skip
            )
            own_templates.setdefault(r, []).append(tid)
            if is_shared:
                shared.append(tid)
    copy_rows(EmailTemplate, templates)

    campaigns, steps, steps_of = [], [], {}
    for r in rep_ids:
        for n in range(CAMPAIGNS_PER_REP):
            cid = len(campaigns) + 1
            campaigns.append(
                {
                    "id": cid,
                    "organization_id": org.pk,
                    "owner_id": r,
                    "name": f"Campaign {cid}",
                    "status": "active",
                    **stamps,
                }  # fmt: skip
            )
            for position in range(1, STEPS + 1):
                sid = len(steps) + 1
                template_id = own_templates[r][(n + position) % TEMPLATES_PER_REP]
                steps.append(
                    {
                        "id": sid,
                        "campaign_id": cid,
                        "position": position,
                        "template_id": template_id,
                        "delay": timedelta(days=2),
                        **stamps,
                    }  # fmt: skip
                )
                steps_of.setdefault(r, []).append((sid, template_id, cid))
    copy_rows(Campaign, campaigns)
    copy_rows(CampaignStep, steps)

    prospect_rows, enrollments = [], []
    states = ["finished"] * 5 + ["paused"] * 3 + ["stopped_bounced", "stopped_replied"]
    for index, r in enumerate(rep_ids):
        for n in range(PROSPECTS_PER_REP):
            pid = index * PROSPECTS_PER_REP + n + 1
            prospect_rows.append(
                {
                    "id": pid,
                    "organization_id": org.pk,
                    "owner_id": r,
                    "email": f"p{pid}@prospect{pid % 997}.test",
                    "first_name": "Pat",
                    "last_name": f"P{pid}",
                    "company": "Prospect Inc",
                    "title": "VP",
                    "email_status": "valid",
                    "invalid_reason": "",
                    **stamps,
                }  # fmt: skip
            )
            enrollments.append(
                {
                    "id": pid,
                    "campaign_id": steps_of[r][(n % CAMPAIGNS_PER_REP) * STEPS][2],
                    "prospect_id": pid,
                    "sender_id": r,
                    "state": rng.choice(states),
                    **stamps,
                }  # fmt: skip
            )
    copy_rows(Prospect, prospect_rows)
    copy_rows(Enrollment, enrollments)

    started = time.monotonic()
    # 5% of the emails' count in bounce rows; one bounced email in 25 got two notices.
    bounce_rows_wanted = int(emails * BOUNCE_SHARE)
    bounced_ids = rng.sample(range(1, emails + 1), round(bounce_rows_wanted / 1.04))
    twice = set(bounced_ids[: bounce_rows_wanted - len(bounced_ids)])
    bounced_ids = set(bounced_ids)
    replied_ids = set(
        rng.sample(sorted(set(range(1, emails + 1)) - bounced_ids), int(emails * REPLY_SHARE))
    )
    year = 365 * 24 * 3600
    bounce_plan: list[tuple[int, int, datetime]] = []
    reply_plan: list[tuple[int, int, datetime, str]] = []

    def email_rows():
        for eid in range(1, emails + 1):
            sender = rep_ids[eid % REPS]
            sent_at = NOW - timedelta(seconds=rng.randrange(year))
            step_id = campaign_id = None
            if rng.random() < 0.6:
                step_id, template_id, campaign_id = rng.choice(steps_of[sender])
            elif rng.random() < 0.9:
                pool = own_templates[sender] if rng.random() < 0.7 else shared
                template_id = rng.choice(pool)
            else:
                template_id = None
            status, bounced_at, replied_at = "sent", None, None
            if eid in bounced_ids:
                status, bounced_at = "bounced", sent_at + timedelta(minutes=3)
                bounce_plan.append((eid, sender, sent_at))
            elif eid in replied_ids:
                replied_at = sent_at + timedelta(hours=rng.randint(1, 72))
                reply_plan.append((eid, sender, replied_at, f"p{eid}@prospect.test"))
            yield {
                "id": eid, "organization_id": org.pk, "sender_id": sender,
                "to_address": f"p{eid}@prospect.test", "subject": "Quick question",
                "body": "Hi", "template_id": template_id, "campaign_step_id": step_id,
                "status": status, "channel_kind": "gmail", "message_id": f"<b{eid}@bench.test>",
                "queued_at": sent_at, "sent_at": sent_at, "bounced_at": bounced_at,
                "replied_at": replied_at, "created_at": sent_at, "updated_at": sent_at,
            }  # fmt: skip

    copied = copy_rows(OutboundEmail, email_rows())

    def bounce_rows():
        bid = 0
        for eid, _sender, sent_at in bounce_plan:
            for extra in range(2 if eid in twice else 1):
                bid += 1
                hard = rng.random() < 0.6
                yield {
                    "id": bid, "organization_id": org.pk, "outbound_email_id": eid,
                    "recipient": f"p{eid}@prospect.test" if not extra else f"x{eid}@p.test",
                    "source": "inbox", "matched_by": "message_id",
                    "status_code": "5.1.1" if hard else "4.2.2",
                    "diagnostic": "550 5.1.1 user unknown" if hard else "452 mailbox full",
                    "is_hard": hard, "is_delayed": not hard and rng.random() < 0.1,
                    "reporting_mta": "mx.bench.test", "occurred_at": sent_at,
                    "created_at": sent_at, "updated_at": sent_at,
                }  # fmt: skip

    bounces = copy_rows(Bounce, bounce_rows())

    def event_rows():
        timeline = [(at, eid, sender, "bounced") for eid, sender, at in bounce_plan]
        timeline += [(at, eid, sender, "replied") for eid, sender, at, _ in reply_plan]
        for fid, (at, eid, sender, kind) in enumerate(sorted(timeline), start=1):
            yield {
                "id": fid, "organization_id": org.pk, "user_id": sender, "kind": kind,
                "title": f"Email to p{eid}@prospect.test {kind}", "detail": "",
                "outbound_email_id": eid, "dedupe_key": f"{kind}:{eid}",
                "read_at": at if at < NOW - timedelta(days=2) else None,
                "created_at": at, "updated_at": at,
            }  # fmt: skip

    events = copy_rows(FeedEvent, event_rows())
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")
    fill_seconds = time.monotonic() - started
    return {
        "org": org,
        "emails": copied,
        "bounces": bounces,
        "replies": len(reply_plan),
        "events": events,
        "fill_seconds": fill_seconds,
    }


def vacuum() -> None:
    connection.ensure_connection()
    raw = connection.connection
    previous = raw.autocommit
    raw.autocommit = True
    raw.execute("VACUUM ANALYZE")
    raw.autocommit = previous


def use_database(name: str) -> None:
    """Point the default connection at another of the benchmark's databases."""
    connections.close_all()
    settings.DATABASES["default"]["NAME"] = name
    connection.settings_dict["NAME"] = name


def database_name(size: int) -> str:
    return f"{BASE_NAME}_{size}"


def measure(
    sizes: list[int],
    *,
    runs: int,
    batch: int = 5,
    pages: list[tuple[str, str]] = PAGES,
    viewers: list[tuple[str, str]] = VIEWERS,
) -> dict[int, list[dict]]:
    """Time every page for every viewer at every size, interleaved: a batch of requests
    against one database, then the same batch against the next, until `runs` each. The
    machine's load (other work on a shared host) then weighs on every size alike."""
    setups = {}
    for size in sizes:
        use_database(database_name(size))
        org = Organization.objects.get(slug="bench")
        zone = ZoneInfo(org.timezone)
        clients = {}
        for role, email in VIEWERS:
            clients[role] = Client()
            clients[role].force_login(User.objects.get(email=email))
        setups[size] = {
            "clients": clients,
            "year_ago": (NOW.astimezone(zone) - timedelta(days=364)).date().isoformat(),
            "last_event": FeedEvent.objects.order_by("-id").values_list("id", flat=True).first(),
        }
    table: dict[int, list[dict]] = {size: [] for size in sizes}
    for role, _ in viewers:
        for label, path in pages:
            timings: dict[int, list[float]] = {size: [] for size in sizes}
            queries: dict[int, list[str]] = {size: [] for size in sizes}
            while len(timings[sizes[0]]) < runs:
                for size in sizes:
                    use_database(database_name(size))
                    client = setups[size]["clients"][role]
                    url = path.format(**setups[size])
                    for _ in range(2):  # reconnect, warm caches
                        assert client.get(url).status_code == 200, url
                    if not queries[size]:
                        with connection.execute_wrapper(
                            lambda execute, sql, *rest, log=queries[size]: (
                                log.append(sql) or execute(sql, *rest)
                            )
                        ):
                            client.get(url)
                    for _ in range(batch):
                        started = time.perf_counter()
                        response = client.get(url)
                        timings[size].append((time.perf_counter() - started) * 1000)
                        assert response.status_code == 200
            for size in sizes:
                ordered = sorted(timings[size])
                table[size].append(
                    {
                        "role": role,
                        "page": label,
                        "median_ms": statistics.median(ordered),
                        "p90_ms": ordered[int(len(ordered) * 0.9) - 1],
                        "queries": len(queries[size]),
                    }
                )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument(
        "--reuse", action="store_true", help="Measure the databases a previous run filled."
    )
    parser.add_argument(
        "--pages",
        default="",
        help="Only the pages whose label contains this text (e.g. 'feed'), case-insensitive.",
    )
    parser.add_argument(
        "--viewers", default="", help="Only these viewers, comma-separated (admin,manager,rep)."
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    pages = [(label, path) for label, path in PAGES if args.pages.lower() in label.lower()]
    viewers = [
        (role, email)
        for role, email in VIEWERS
        if not args.viewers or role in args.viewers.split(",")
    ]
    print(f"Machine: {platform.node()} · {platform.processor() or platform.machine()} · "
          f"{os.cpu_count()} CPUs · {os.getloadavg()[0]:.1f} load · "
          f"Python {platform.python_version()}")  # fmt: skip
    for size in sizes if not args.reuse else []:
        print(f"\n== {size:,} emails: database {database_name(size)} ==")
        started = time.monotonic()
        use_database(database_name(size))
        recreate_database()
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        print(f"PostgreSQL {version}: database recreated and migrated in "
              f"{time.monotonic() - started:.1f} s")  # fmt: skip
        filled = fill(size)
        print(
            f"COPY: {filled['emails']:,} emails, {filled['bounces']:,} bounces, "
            f"{filled['replies']:,} replies, {filled['events']:,} feed events "
            f"in {filled['fill_seconds']:.1f} s"
        )
        started = time.monotonic()
        analytics_rebuild(organization_id=filled["org"].pk)
        print(
            f"analytics_rebuild: {time.monotonic() - started:.1f} s → "
            f"{EmailDayStat.objects.count():,} template/step day rows, "
            f"{EmailMonthStat.objects.count():,} month rows, "
            f"{SenderDayStat.objects.count():,} rep day rows"
        )
        started = time.monotonic()
        vacuum()
        print(f"VACUUM ANALYZE: {time.monotonic() - started:.1f} s")

    print(f"\nTiming {args.runs} warm requests per page, viewer and size, interleaved…")
    table = measure(sizes, runs=args.runs, pages=pages, viewers=viewers)
    print(f"load average now {os.getloadavg()[0]:.1f}")
    header = " | ".join(f"{size:,} emails: median ms (p90) [queries]" for size in sizes)
    print(f"\n| viewer | page | {header} |" + (" ratio |" if len(sizes) > 1 else ""))
    print("|---|---|" + "---:|" * (len(sizes) + (len(sizes) > 1)))
    for rows in zip(*(table[size] for size in sizes), strict=True):
        cells = " | ".join(
            f"{row['median_ms']:.1f} ({row['p90_ms']:.0f}) [{row['queries']}]" for row in rows
        )
        ratio = f" {rows[-1]['median_ms'] / rows[0]['median_ms']:.2f}× |" if len(rows) > 1 else ""
        print(f"| {rows[0]['role']} | {rows[0]['page']} | {cells} |{ratio}")


if __name__ == "__main__":
    main()
