"""Reads for the analytics pages and the live feed. Every function takes the viewing user and
narrows by organization and role through accounts.selectors, so a forgotten filter cannot leak
another team's or tenant's figures.

Figures come from the rollups (EmailDayStat, EmailMonthStat, SenderDayStat, EnrollmentStat),
never from a scan
of the outbound emails: a page costs the same few queries at ten thousand emails or at ten
million. Definitions (also shown on the pages):
- sent: emails sent in the range, plus emails the SMTP server refused at send time;
- bounced: sent emails with at least one bounce (delay notices aside), counted once; hard when
  any of its bounces is hard, soft otherwise; bounce rate = bounced / sent;
- delivered = sent − bounced; replies: sent emails that got a reply; reply rate = replies /
  delivered. Bounces and replies count on the day their email was sent.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet, Sum

from accounts.models import Team, User
from accounts.selectors import team_list_visible, user_list_visible, user_scope_q
from core.names import person_name
from core.timezones import user_zone
from outreach.models import Campaign, CampaignStep, EmailTemplate, Enrollment, OutboundEmail
from outreach.selectors import campaign_list, template_list
from suppression.models import Suppression

from .models import EmailDayStat, EmailMonthStat, EnrollmentStat, SenderDayStat

FIGURE_FIELDS = ("sent", "bounced_hard", "bounced_soft", "replied")


@dataclass
class Figures:
    sent: int = 0
    bounced_hard: int = 0
    bounced_soft: int = 0
    replied: int = 0

    @classmethod
    def from_row(cls, row: dict) -> "Figures":
        return cls(**{name: row.get(name) or 0 for name in FIGURE_FIELDS})

    def add(self, other: "Figures") -> None:
        for name in FIGURE_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def bounced(self) -> int:
        return self.bounced_hard + self.bounced_soft

    @property
    def delivered(self) -> int:
        return self.sent - self.bounced

    @property
    def bounce_rate(self) -> float | None:
        return self.bounced / self.sent if self.sent else None

    @property
    def reply_rate(self) -> float | None:
        return self.replied / self.delivered if self.delivered else None


@dataclass(frozen=True)
class AnalyticsFilter:
    """What the figures cover: the organization's days first..last, narrowed to a team or a
    rep the viewer may see (already checked by the form)."""

    first: date
    last: date
    team_id: int | None = None
    sender_id: int | None = None

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def _sum_figures() -> dict:
    return {name: Sum(name) for name in FIGURE_FIELDS}


def _scoped(queryset: QuerySet, *, user: User, flt: AnalyticsFilter, period: Q) -> QuerySet:
    if user.organization_id is None:
        return queryset.none()
    queryset = queryset.filter(
        period, user_scope_q(user=user, field="sender"), organization_id=user.organization_id
    )
    if flt.team_id is not None:
        queryset = queryset.filter(sender__team_id=flt.team_id)
    if flt.sender_id is not None:
        queryset = queryset.filter(sender_id=flt.sender_id)
    return queryset.order_by()


def _whole_months(flt: AnalyticsFilter) -> tuple[date, date] | None:
    """[start, end) of the whole calendar months inside the range, or None."""
    start = flt.first if flt.first.day == 1 else (flt.first + timedelta(days=31)).replace(day=1)
    end = (flt.last + timedelta(days=1)).replace(day=1)
    return (start, end) if start < end else None


def sender_stats_scoped(*, user: User, flt: AnalyticsFilter) -> QuerySet[SenderDayStat]:
    period = Q(day__gte=flt.first, day__lte=flt.last)
    return _scoped(SenderDayStat.objects.all(), user=user, flt=flt, period=period)


def email_figures_grouped(
    *, user: User, flt: AnalyticsFilter, fields: list[str], **narrow
) -> list[dict]:
    """The figures of the range summed per `fields` (e.g. template_id): whole months read
    from the month rollup, the partial months at the edges from the day rollup — a year costs
    twelve months of rows, not 365 days of them. Two queries."""
    months = _whole_months(flt)
    if months is None:
        day_period = Q(day__gte=flt.first, day__lte=flt.last)
    else:
        day_period = Q(day__gte=flt.first, day__lt=months[0]) | Q(
            day__gte=months[1], day__lte=flt.last
        )
    querysets = [_scoped(EmailDayStat.objects.all(), user=user, flt=flt, period=day_period)]
    if months is not None:
        period = Q(month__gte=months[0], month__lt=months[1])
        querysets.append(_scoped(EmailMonthStat.objects.all(), user=user, flt=flt, period=period))
    merged: dict[tuple, dict] = {}
    for queryset in querysets:
        for row in queryset.filter(**narrow).values(*fields).annotate(**_sum_figures()):
            key = tuple(row[name] for name in fields)
            total = merged.setdefault(key, {**row, **dict.fromkeys(FIGURE_FIELDS, 0)})
            for name in FIGURE_FIELDS:
                total[name] += row[name] or 0
    return list(merged.values())


# --- Template analytics ----------------------------------------------------------------------


@dataclass
class TemplateRow:
    template_id: int | None
    name: str
    creator: str
    is_shared: bool
    figures: Figures


def template_stats(*, user: User, flt: AnalyticsFilter) -> list[TemplateRow]:
    """Per template used in the range: its figures, creator and sharing. The figures are
    summed by template id alone (joining names onto every rollup row before summing costs
    more than the sum), then the templates' details are read for those ids."""
    rows = email_figures_grouped(user=user, flt=flt, fields=["template_id"])
    details = {
        template["id"]: template
        for template in EmailTemplate.objects.filter(
            organization_id=user.organization_id,
            pk__in=[row["template_id"] for row in rows if row["template_id"]],
        ).values("id", "name", "owner__email", "is_shared")
    }
    result = []
    for row in rows:
        template = details.get(row["template_id"], {})
        result.append(
            TemplateRow(
                template_id=row["template_id"] if template else None,
                name=template.get("name", "No template"),
                creator=template.get("owner__email", ""),
                is_shared=bool(template.get("is_shared")),
                figures=Figures.from_row(row),
            )
        )
    return result


def template_for_analytics(*, user: User, template_id: int) -> EmailTemplate | None:
    """A template whose page the user may open: theirs, a shared one, or one in their scope —
    the same rows as the outreach pages (another rep's private template is not among them)."""
    return template_list(user=user).filter(pk=template_id).first()


# --- Campaign analytics ----------------------------------------------------------------------

ENROLLMENT_COLUMNS = {
    "active": [Enrollment.State.ACTIVE, Enrollment.State.PAUSED],
    "finished": [Enrollment.State.FINISHED],
    "stopped_bounced": [Enrollment.State.STOPPED_BOUNCED],
    "stopped_replied": [Enrollment.State.STOPPED_REPLIED],
}


@dataclass
class Enrollments:
    enrolled: int = 0
    active: int = 0
    finished: int = 0
    stopped_bounced: int = 0
    stopped_replied: int = 0


@dataclass
class CampaignRow:
    campaign_id: int
    name: str
    owner: str
    status: str
    enrollments: Enrollments
    figures: Figures


def _enrollment_counts(
    *, user: User, flt: AnalyticsFilter, campaign_ids: Iterable[int] | None = None
) -> dict[int, Enrollments]:
    stats = EnrollmentStat.objects.filter(
        user_scope_q(user=user, field="sender"), organization_id=user.organization_id
    )
    if flt.team_id is not None:
        stats = stats.filter(sender__team_id=flt.team_id)
    if flt.sender_id is not None:
        stats = stats.filter(sender_id=flt.sender_id)
    if campaign_ids is not None:
        stats = stats.filter(campaign_id__in=list(campaign_ids))
    columns = {
        name: Sum("count", filter=Q(state__in=states), default=0)
        for name, states in ENROLLMENT_COLUMNS.items()
    }
    rows = (
        stats.order_by().values("campaign_id").annotate(enrolled=Sum("count", default=0), **columns)
    )
    return {
        row["campaign_id"]: Enrollments(
            enrolled=row["enrolled"], **{name: row[name] for name in ENROLLMENT_COLUMNS}
        )
        for row in rows
    }


def campaign_stats(*, user: User, flt: AnalyticsFilter) -> list[CampaignRow]:
    """Per campaign with sends in the range or enrollments in scope. Three queries."""
    if user.organization_id is None:
        return []
    sends = {
        row["campaign_id"]: Figures.from_row(row)
        for row in email_figures_grouped(
            user=user, flt=flt, fields=["campaign_id"], campaign_id__isnull=False
        )
    }
    enrollments = _enrollment_counts(user=user, flt=flt)
    campaign_ids = set(sends) | set(enrollments)
    campaigns = Campaign.objects.filter(
        organization_id=user.organization_id, pk__in=campaign_ids
    ).values("id", "name", "owner__email", "status")
    labels = dict(Campaign.Status.choices)
    return [
        CampaignRow(
            campaign_id=campaign["id"],
            name=campaign["name"],
            owner=campaign["owner__email"],
            status=labels.get(campaign["status"], campaign["status"]),
            enrollments=enrollments.get(campaign["id"], Enrollments()),
            figures=sends.get(campaign["id"], Figures()),
        )
        for campaign in campaigns
    ]


def campaign_for_analytics(*, user: User, campaign_id: int) -> Campaign | None:
    """A campaign whose page the user may open: the outreach pages' role scope (a rep their
    own campaigns, a manager their team's, an admin the organization's)."""
    return campaign_list(user=user).filter(pk=campaign_id).first()


@dataclass
class StepRow:
    step_id: int
    position: int
    template_name: str
    figures: Figures


def campaign_step_stats(*, user: User, flt: AnalyticsFilter, campaign: Campaign) -> list[StepRow]:
    sends = {
        row["campaign_step_id"]: Figures.from_row(row)
        for row in email_figures_grouped(
            user=user, flt=flt, fields=["campaign_step_id"], campaign_id=campaign.pk
        )
    }
    steps = CampaignStep.objects.filter(campaign=campaign).values(
        "id", "position", "template__name"
    )
    return [
        StepRow(
            step_id=step["id"],
            position=step["position"],
            template_name=step["template__name"],
            figures=sends.get(step["id"], Figures()),
        )
        for step in steps.order_by("position")
    ]


def campaign_enrollments(*, user: User, flt: AnalyticsFilter, campaign: Campaign) -> Enrollments:
    return _enrollment_counts(user=user, flt=flt, campaign_ids=[campaign.pk]).get(
        campaign.pk, Enrollments()
    )


# --- Team dashboard --------------------------------------------------------------------------


@dataclass
class RepRow:
    user_id: int
    name: str
    email: str
    team: str
    figures: Figures


@dataclass
class DayPoint:
    day: date
    figures: Figures = field(default_factory=Figures)


def rep_leaderboard(*, user: User, flt: AnalyticsFilter) -> list[RepRow]:
    """Every rep the viewer may see (those without sends too), with their figures."""
    figures = {
        row["sender_id"]: Figures.from_row(row)
        for row in sender_stats_scoped(user=user, flt=flt)
        .values("sender_id")
        .annotate(**_sum_figures())
    }
    reps = user_list_visible(user=user)
    if flt.team_id is not None:
        reps = reps.filter(team_id=flt.team_id)
    if flt.sender_id is not None:
        reps = reps.filter(pk=flt.sender_id)
    return [
        RepRow(
            user_id=rep["id"],
            name=person_name(rep["first_name"], rep["last_name"]) or rep["email"],
            email=rep["email"],
            team=rep["team__name"] or "",
            figures=figures.get(rep["id"], Figures()),
        )
        for rep in reps.values("id", "first_name", "last_name", "email", "team__name")
    ]


def daily_series(*, user: User, flt: AnalyticsFilter, **narrow) -> list[DayPoint]:
    """Figures per day of the range, days without sends included. `narrow` filters the fine
    rollup (template_id=…, campaign_id=…); without it the per-sender rollup is used."""
    if narrow:
        period = Q(day__gte=flt.first, day__lte=flt.last)
        stats = _scoped(EmailDayStat.objects.all(), user=user, flt=flt, period=period)
        stats = stats.filter(**narrow)
    else:
        stats = sender_stats_scoped(user=user, flt=flt)
    per_day = {
        row["day"]: Figures.from_row(row) for row in stats.values("day").annotate(**_sum_figures())
    }
    return [DayPoint(day=day, figures=per_day.get(day, Figures())) for day in flt.days]


def totals(rows: Iterable) -> Figures:
    total = Figures()
    for row in rows:
        total.add(row.figures)
    return total


# --- Filters ---------------------------------------------------------------------------------


def analytics_filter_choices(*, user: User) -> tuple[QuerySet[Team], QuerySet[User]]:
    """The teams and reps the viewer may narrow to (nothing to choose for a rep)."""
    if user.role == User.Role.REP:
        return Team.objects.none(), User.objects.none()
    return team_list_visible(user=user), user_list_visible(user=user).select_related("team")


@dataclass(frozen=True)
class SuppressionFigures:
    """Addresses the scoped emails sent in the range put on the suppression list (by their
    bounce or their unsubscribe link), beside the emails delivered."""

    suppressed: int
    unsubscribed: int
    delivered: int

    @property
    def unsubscribe_rate(self) -> float | None:
        return self.unsubscribed / self.delivered if self.delivered else None


def suppression_figures(
    *, user: User, flt: AnalyticsFilter, delivered: int, **narrow
) -> SuppressionFigures:
    """Counted from the suppression table, not a rollup: entries are few (one per address)
    and their source email is indexed, so one query joins them to the page's emails.
    `narrow`: template_id=… or campaign_step__campaign_id=…"""
    if user.organization_id is None:
        return SuppressionFigures(0, 0, delivered)
    zone = user_zone(user)
    start = datetime.combine(flt.first, time.min, tzinfo=zone)
    end = datetime.combine(flt.last + timedelta(days=1), time.min, tzinfo=zone)
    emails = _scoped(
        OutboundEmail.objects.all(),
        user=user,
        flt=flt,
        period=Q(sent_at__gte=start, sent_at__lt=end),
    ).filter(**narrow)
    counts = Suppression.objects.filter(
        Q(source_email__in=emails.values("id"))
        | Q(source_bounce__outbound_email__in=emails.values("id")),
        organization_id=user.organization_id,
    ).aggregate(
        suppressed=Count("id"),
        unsubscribed=Count("id", filter=Q(reason=Suppression.Reason.UNSUBSCRIBED)),
    )
    return SuppressionFigures(counts["suppressed"], counts["unsubscribed"], delivered)
