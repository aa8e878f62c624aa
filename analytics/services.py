from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from accounts.models import Organization
from bounces.models import Bounce
from outreach.models import Enrollment, OutboundEmail

from .models import (
    AnalyticsState,
    DirtyBucket,
    EmailDayStat,
    EmailMonthStat,
    EnrollmentStat,
    SenderDayStat,
)

# --- Rollups ---------------------------------------------------------------------------------
# The rollups (EmailDayStat, SenderDayStat, EnrollmentStat) are recounted per bucket from the
# source rows; database triggers queue the buckets a write touched (DirtyBucket, see migration
# 0003). A refresh reads the queue, recounts those buckets and deletes exactly the queue rows it
# read: a change committed meanwhile leaves its own row behind for the next refresh, so nothing
# is lost and nothing is counted twice.

# A page view absorbs at most this many queued changes before it renders; the periodic task
# takes the rest. Enough for minutes of a busy organization's activity.
PAGE_VIEW_REFRESH_LIMIT = 5_000
PERIODIC_REFRESH_LIMIT = 200_000


@dataclass(frozen=True)
class RefreshResult:
    changes: int
    days: int
    campaigns: int
    rebuilt: bool


def _organization_zone(organization_id: int) -> ZoneInfo:
    name = Organization.objects.filter(pk=organization_id).values_list("timezone", flat=True)
    return zone_or_utc(next(iter(name), "UTC"))


def zone_or_utc(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day_bounds(*, first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants [start, end) covering the days first..last in `zone`."""
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def _lock_state(organization_id: int, *, wait: bool) -> AnalyticsState | None:
    """Inside a transaction: the organization's analytics row, locked; None when another
    refresh holds it and `wait` is False."""
    AnalyticsState.objects.get_or_create(organization_id=organization_id)
    states = AnalyticsState.objects.filter(organization_id=organization_id)
    states = states.select_for_update() if wait else states.select_for_update(skip_locked=True)
    return states.first()


def _email_counts(
    *,
    organization_id: int,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    sender_ids: Iterable[int] | None,
) -> list[dict]:
    """Recount from the source rows, grouped like EmailDayStat. An email counts on the day it
    was sent, or refused at send time (bounced_at, never sent); its bounces (delay notices
    aside) and its reply count on that same day."""
    bounces = Bounce.objects.filter(outbound_email=OuterRef("pk"), is_delayed=False)
    emails = OutboundEmail.objects.filter(organization_id=organization_id).filter(
        Q(sent_at__gte=start, sent_at__lt=end)
        | Q(sent_at__isnull=True, bounced_at__gte=start, bounced_at__lt=end)
    )
    if sender_ids is not None:
        emails = emails.filter(sender_id__in=list(sender_ids))
    return list(
        emails.order_by()
        .annotate(
            day=TruncDate(Coalesce("sent_at", "bounced_at"), tzinfo=zone),
            hard=Exists(bounces.filter(is_hard=True)),
            bounced=Exists(bounces),
        )
        .values("sender_id", "day", "template_id", "campaign_step_id", "campaign_step__campaign_id")
        .annotate(
            sent=Count("id"),
            bounced_hard=Count("id", filter=Q(hard=True)),
            bounced_any=Count("id", filter=Q(bounced=True)),
            replied=Count("id", filter=Q(replied_at__isnull=False)),
        )
    )


def _write_email_stats(*, organization_id: int, rows: list[dict]) -> None:
    fine: list[EmailDayStat] = []
    per_sender_day: dict[tuple[int, date], SenderDayStat] = {}
    for row in rows:
        soft = row["bounced_any"] - row["bounced_hard"]
        fine.append(
            EmailDayStat(
                organization_id=organization_id,
                sender_id=row["sender_id"],
                day=row["day"],
                template_id=row["template_id"],
                campaign_step_id=row["campaign_step_id"],
                campaign_id=row["campaign_step__campaign_id"],
                sent=row["sent"],
                bounced_hard=row["bounced_hard"],
                bounced_soft=soft,
                replied=row["replied"],
            )
        )
        key = (row["sender_id"], row["day"])
        total = per_sender_day.setdefault(
            key,
            SenderDayStat(organization_id=organization_id, sender_id=key[0], day=key[1]),
        )
        total.sent += row["sent"]
        total.bounced_hard += row["bounced_hard"]
        total.bounced_soft += soft
        total.replied += row["replied"]
    EmailDayStat.objects.bulk_create(fine, batch_size=2_000)
    SenderDayStat.objects.bulk_create(per_sender_day.values(), batch_size=2_000)


def _recount_days(*, organization_id: int, zone: ZoneInfo, days: dict[date, set[int]]) -> None:
    """Recount the (sender, day) buckets: one query per day, whatever the number of senders."""
    for day, sender_ids in sorted(days.items()):
        start, end = day_bounds(first=day, last=day, zone=zone)
        rows = _email_counts(
            organization_id=organization_id,
            zone=zone,
            start=start,
            end=end,
            sender_ids=sender_ids,
        )
        for model in (EmailDayStat, SenderDayStat):
            model.objects.filter(
                organization_id=organization_id, day=day, sender_id__in=sender_ids
            ).delete()
        _write_email_stats(organization_id=organization_id, rows=rows)
    months: dict[date, set[int]] = defaultdict(set)
    for day, sender_ids in days.items():
        months[day.replace(day=1)] |= sender_ids
    _recount_months(organization_id=organization_id, months=months)


def _recount_months(*, organization_id: int, months: dict[date, set[int] | None]) -> None:
    """Sum the day rollup into the month rollup for the given (month, senders); None = every
    sender (the rebuild). One INSERT … SELECT per month: the rows never pass through Python,
    which is what made this the costly part of a refresh."""
    day_table, month_table = EmailDayStat._meta.db_table, EmailMonthStat._meta.db_table
    columns = "organization_id, sender_id, template_id, campaign_id, campaign_step_id"
    figures = "sent, bounced_hard, bounced_soft, replied"
    sums = "SUM(sent), SUM(bounced_hard), SUM(bounced_soft), SUM(replied)"
    with connection.cursor() as cursor:
        for month, sender_ids in sorted(months.items()):
            following = (month + timedelta(days=32)).replace(day=1)
            senders, params = "", []
            if sender_ids is not None:
                senders = f" AND sender_id IN ({', '.join(['%s'] * len(sender_ids))})"
                params = sorted(sender_ids)
            cursor.execute(
                f"DELETE FROM {month_table} WHERE organization_id = %s AND month = %s{senders}",
                [organization_id, month, *params],
            )
            cursor.execute(
                f"INSERT INTO {month_table} ({columns}, month, {figures}) "
                f"SELECT {columns}, %s, {sums} FROM {day_table} "
                f"WHERE organization_id = %s AND day >= %s AND day < %s{senders} "
                f"GROUP BY {columns}",
                [month, organization_id, month, following, *params],
            )


def _recount_enrollments(*, organization_id: int, campaigns: dict[int, set[int]] | None) -> None:
    """Recount enrollment states per (campaign, sender) for the given campaigns and senders,
    in one query; None = every campaign of the organization (the rebuild)."""
    enrollments = Enrollment.objects.filter(campaign__organization_id=organization_id)
    old = EnrollmentStat.objects.filter(organization_id=organization_id)
    if campaigns is not None:
        if not campaigns:
            return
        pairs = Q()
        for campaign_id, sender_ids in campaigns.items():
            pairs |= Q(campaign_id=campaign_id, sender_id__in=sender_ids)
        enrollments, old = enrollments.filter(pairs), old.filter(pairs)
    old.delete()
    EnrollmentStat.objects.bulk_create(
        (
            EnrollmentStat(
                organization_id=organization_id,
                campaign_id=row["campaign_id"],
                sender_id=row["sender_id"],
                state=row["state"],
                count=row["n"],
            )
            for row in enrollments.order_by()
            .values("campaign_id", "sender_id", "state")
            .annotate(n=Count("id"))
        ),
        batch_size=2_000,
    )


def _months(*, organization_id: int, zone: ZoneInfo) -> list[date]:
    """The first day of every month (in `zone`) holding a send of the organization."""
    span = OutboundEmail.objects.filter(organization_id=organization_id).aggregate(
        first=Min(Coalesce("sent_at", "bounced_at")), last=Max(Coalesce("sent_at", "bounced_at"))
    )
    if span["first"] is None:
        return []
    month = span["first"].astimezone(zone).date().replace(day=1)
    last = span["last"].astimezone(zone).date()
    months = []
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _month_bounds(month: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    following = (month + timedelta(days=32)).replace(day=1)
    return day_bounds(first=month, last=following - timedelta(days=1), zone=zone)


def _rebuild(*, organization_id: int, zone: ZoneInfo, progress: Callable[[str], None]) -> int:
    """Recount every rollup row of the organization, a month of sends at a time."""
    DirtyBucket.objects.filter(organization_id=organization_id).delete()
    for model in (EmailDayStat, EmailMonthStat, SenderDayStat, EnrollmentStat):
        model.objects.filter(organization_id=organization_id).delete()
    months = _months(organization_id=organization_id, zone=zone)
    emails = 0
    for done, month in enumerate(months, start=1):
        start, end = _month_bounds(month, zone)
        rows = _email_counts(
            organization_id=organization_id, zone=zone, start=start, end=end, sender_ids=None
        )
        _write_email_stats(organization_id=organization_id, rows=rows)
        month_emails = sum(row["sent"] for row in rows)
        emails += month_emails
        _recount_months(organization_id=organization_id, months={month: None})
        progress(f"{done}/{len(months)} months · {month:%Y-%m}: {month_emails:,} emails")
    _recount_enrollments(organization_id=organization_id, campaigns=None)
    return emails


def analytics_refresh(
    *, organization_id: int, limit: int = PERIODIC_REFRESH_LIMIT, wait: bool = False
) -> RefreshResult | None:
    """Bring the organization's rollups up to date with the queued changes (at most `limit`
    of them). Returns None when another refresh holds the organization (it will do the work)."""
    with transaction.atomic():
        if _lock_state(organization_id, wait=wait) is None:
            return None
        queued = list(
            DirtyBucket.objects.filter(organization_id=organization_id)
            .order_by("id")
            .values("id", "kind", "sender_id", "campaign_id", "at")[:limit]
        )
        if not queued:
            return RefreshResult(changes=0, days=0, campaigns=0, rebuilt=False)
        zone = _organization_zone(organization_id)
        if any(row["kind"] == DirtyBucket.Kind.ORGANIZATION for row in queued):
            _rebuild(organization_id=organization_id, zone=zone, progress=lambda _: None)
            AnalyticsState.objects.filter(organization_id=organization_id).update(
                refreshed_at=timezone.now(), rebuilt_at=timezone.now()
            )
            return RefreshResult(changes=len(queued), days=0, campaigns=0, rebuilt=True)
        days: dict[date, set[int]] = defaultdict(set)
        campaigns: dict[int, set[int]] = defaultdict(set)
        for row in queued:
            if row["kind"] == DirtyBucket.Kind.EMAIL and row["at"] is not None:
                days[row["at"].astimezone(zone).date()].add(row["sender_id"])
            elif row["kind"] == DirtyBucket.Kind.ENROLLMENT:
                campaigns[row["campaign_id"]].add(row["sender_id"])
        _recount_days(organization_id=organization_id, zone=zone, days=days)
        _recount_enrollments(organization_id=organization_id, campaigns=campaigns)
        DirtyBucket.objects.filter(id__in=[row["id"] for row in queued]).delete()
        AnalyticsState.objects.filter(organization_id=organization_id).update(
            refreshed_at=timezone.now()
        )
        return RefreshResult(
            changes=len(queued), days=len(days), campaigns=len(campaigns), rebuilt=False
        )


def analytics_refresh_if_changed(*, organization_id: int) -> None:
    """Called by each analytics page before it reads: one indexed query when nothing changed."""
    if DirtyBucket.objects.filter(organization_id=organization_id).exists():
        analytics_refresh(organization_id=organization_id, limit=PAGE_VIEW_REFRESH_LIMIT)


def analytics_refresh_all() -> int:
    """The periodic task's work: refresh every organization with queued changes."""
    organization_ids = (
        DirtyBucket.objects.order_by().values_list("organization_id", flat=True).distinct()
    )
    refreshed = 0
    for organization_id in list(organization_ids):
        if analytics_refresh(organization_id=organization_id) is not None:
            refreshed += 1
    return refreshed


def analytics_rebuild(
    *, organization_id: int, progress: Callable[[str], None] = lambda _: None
) -> int:
    """Throw the organization's rollups away and recount them from the source rows, holding
    the refresh lock so no incremental refresh interleaves. Returns the emails counted."""
    with transaction.atomic():
        _lock_state(organization_id, wait=True)
        emails = _rebuild(
            organization_id=organization_id,
            zone=_organization_zone(organization_id),
            progress=progress,
        )
        now = timezone.now()
        AnalyticsState.objects.filter(organization_id=organization_id).update(
            refreshed_at=now, rebuilt_at=now
        )
    return emails


def analytics_differences(*, organization_id: int, limit: int = 20) -> list[str]:
    """Compare the organization's rollups with a full recount from the source rows, without
    writing anything. Returns up to `limit` descriptions of disagreeing buckets ([] = agree).
    Run it after a refresh: queued changes not absorbed yet show up as differences."""
    zone = _organization_zone(organization_id)
    expected: dict[tuple, tuple] = {}
    for month in _months(organization_id=organization_id, zone=zone):
        start, end = _month_bounds(month, zone)
        for row in _email_counts(
            organization_id=organization_id, zone=zone, start=start, end=end, sender_ids=None
        ):
            key = (row["sender_id"], row["day"], row["template_id"], row["campaign_step_id"])
            expected[key] = (
                row["sent"],
                row["bounced_hard"],
                row["bounced_any"] - row["bounced_hard"],
                row["replied"],
            )
    actual: dict[tuple, tuple] = {}
    for row in EmailDayStat.objects.filter(organization_id=organization_id).values_list(
        "sender_id",
        "day",
        "template_id",
        "campaign_step_id",
        "sent",
        "bounced_hard",
        "bounced_soft",
        "replied",
    ):
        key = row[:4]
        previous = actual.get(key, (0, 0, 0, 0))
        actual[key] = tuple(a + b for a, b in zip(previous, row[4:], strict=True))
    differences = [
        f"sender {key[0]} day {key[1]} template {key[2]} step {key[3]}: rollup "
        f"{actual.get(key)} vs recount {expected.get(key)} (sent, hard, soft, replied)"
        for key in sorted(set(expected) | set(actual), key=str)
        if expected.get(key) != actual.get(key)
    ]
    expected_months: dict[tuple, list[int]] = {}
    for key, figures in expected.items():
        month_key = (key[0], key[1].replace(day=1), key[2], key[3])
        total = expected_months.setdefault(month_key, [0, 0, 0, 0])
        for index, value in enumerate(figures):
            total[index] += value
    actual_months: dict[tuple, list[int]] = {}
    for row in EmailMonthStat.objects.filter(organization_id=organization_id).values_list(
        "sender_id", "month", "template_id", "campaign_step_id",
        "sent", "bounced_hard", "bounced_soft", "replied",
    ):  # fmt: skip
        total = actual_months.setdefault(row[:4], [0, 0, 0, 0])
        for index, value in enumerate(row[4:]):
            total[index] += value
    differences += [
        f"sender {key[0]} month {key[1]:%Y-%m} template {key[2]} step {key[3]}: rollup "
        f"{actual_months.get(key)} vs recount {expected_months.get(key)}"
        for key in sorted(set(expected_months) | set(actual_months), key=str)
        if expected_months.get(key) != actual_months.get(key)
    ]
    per_sender_day: dict[tuple, list[int]] = {}
    for key, figures in expected.items():
        total = per_sender_day.setdefault((key[0], key[1]), [0, 0, 0, 0])
        for index, value in enumerate(figures):
            total[index] += value
    summaries = {
        (row[0], row[1]): list(row[2:])
        for row in SenderDayStat.objects.filter(organization_id=organization_id).values_list(
            "sender_id", "day", "sent", "bounced_hard", "bounced_soft", "replied"
        )
    }
    differences += [
        f"sender {key[0]} day {key[1]} (all templates): rollup {summaries.get(key)} vs "
        f"recount {per_sender_day.get(key)}"
        for key in sorted(set(per_sender_day) | set(summaries), key=str)
        if per_sender_day.get(key) != summaries.get(key)
    ]
    expected_enrollments = {
        (row["campaign_id"], row["sender_id"], row["state"]): row["n"]
        for row in Enrollment.objects.filter(campaign__organization_id=organization_id)
        .order_by()
        .values("campaign_id", "sender_id", "state")
        .annotate(n=Count("id"))
    }
    actual_enrollments = {
        row[:3]: row[3]
        for row in EnrollmentStat.objects.filter(organization_id=organization_id).values_list(
            "campaign_id", "sender_id", "state", "count"
        )
    }
    differences += [
        f"campaign {key[0]} sender {key[1]} {key[2]}: rollup {actual_enrollments.get(key)} vs "
        f"recount {expected_enrollments.get(key)} enrollments"
        for key in sorted(set(expected_enrollments) | set(actual_enrollments), key=str)
        if expected_enrollments.get(key) != actual_enrollments.get(key)
    ]
    return differences[:limit]
