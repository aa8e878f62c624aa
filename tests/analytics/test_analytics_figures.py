"""The figures a manager reads on the analytics pages, on small known data."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from analytics.forms import AnalyticsFilterForm
from analytics.selectors import (
    AnalyticsFilter,
    campaign_stats,
    campaign_step_stats,
    rep_leaderboard,
    template_stats,
)
from analytics.services import analytics_refresh
from bounces.models import Bounce
from outreach.models import Enrollment, OutboundEmail
from tests.factories import (
    CampaignStepFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    OutboundEmailFactory,
    UserFactory,
)

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def bounce(email, *, hard: bool, delayed: bool = False, recipient: str = "") -> Bounce:
    return Bounce.objects.create(
        organization_id=email.organization_id,
        outbound_email=email,
        recipient=recipient or email.to_address,
        status_code="5.1.1" if hard else "4.2.2",
        diagnostic="550 5.1.1 user unknown" if hard else "452 mailbox full",
        is_hard=hard,
        is_delayed=delayed,
        occurred_at=email.sent_at + timedelta(minutes=5),
        matched_by=Bounce.MatchedBy.MESSAGE_ID,
    )


def everything(org, first, last) -> AnalyticsFilter:
    return AnalyticsFilter(first=first, last=last)


@pytest.fixture
def march(org):
    org.timezone = "America/New_York"
    org.save(update_fields=["timezone"])
    return org


def test_rates_hard_soft_and_delays(march, rep):
    template = EmailTemplateFactory(owner=rep, name="Intro")
    sent_at = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    emails = [
        OutboundEmailFactory(sender=rep, template=template, sent_at=sent_at) for _ in range(10)
    ]
    # One email with a soft then a hard bounce: counted once, as hard.
    bounce(emails[0], hard=False)
    bounce(emails[0], hard=True, recipient="other@x.test")
    bounce(emails[1], hard=False)
    # A delay notice is not a bounce: the email may still arrive.
    bounce(emails[2], hard=False, delayed=True)
    OutboundEmail.objects.filter(pk__in=[e.pk for e in emails[3:6]]).update(replied_at=NOW)
    analytics_refresh(organization_id=march.pk)

    [row] = template_stats(
        user=rep, flt=everything(march, NOW.date() - timedelta(days=30), NOW.date())
    )
    f = row.figures
    assert (row.name, f.sent, f.bounced, f.bounced_hard, f.bounced_soft) == ("Intro", 10, 2, 1, 1)
    assert f.delivered == 8
    assert f.bounce_rate == pytest.approx(0.2)
    assert f.replied == 3
    assert f.reply_rate == pytest.approx(3 / 8)


def test_the_page_shows_the_rates(client, march, rep):
    template = EmailTemplateFactory(owner=rep, name="Intro", is_shared=True)
    with time_machine.travel(NOW, tick=False):
        emails = [OutboundEmailFactory(sender=rep, template=template) for _ in range(4)]
        bounce(emails[0], hard=True)
        client.force_login(rep)
        html = client.get(reverse("analytics_templates")).content.decode()
    assert "Intro" in html
    assert "25.0%" in html  # 1 of 4 bounced
    assert "rep@acme.test" in html  # the creator
    assert "shared" in html


def test_day_boundaries_follow_the_organization_time_zone(march, rep):
    # 04:59 UTC on March 1 is still February 28 in New York (UTC−5); 05:00 UTC is March 1.
    OutboundEmailFactory(sender=rep, sent_at=datetime(2026, 3, 1, 4, 59, tzinfo=UTC))
    OutboundEmailFactory(sender=rep, sent_at=datetime(2026, 3, 1, 5, 0, tzinfo=UTC))
    OutboundEmailFactory(sender=rep, sent_at=datetime(2026, 3, 2, 4, 59, tzinfo=UTC))
    analytics_refresh(organization_id=march.pk)
    first_of_march = datetime(2026, 3, 1).date()

    def sent(first, last):
        return sum(
            r.figures.sent for r in rep_leaderboard(user=rep, flt=everything(march, first, last))
        )

    assert sent(first_of_march, first_of_march) == 2
    assert sent(first_of_march - timedelta(days=1), first_of_march - timedelta(days=1)) == 1


def test_default_range_is_the_last_30_days_in_the_organization_zone(march, rep):
    # 02:00 UTC on March 10 is still March 9 in New York.
    with time_machine.travel(datetime(2026, 3, 10, 2, 0, tzinfo=UTC), tick=False):
        flt = AnalyticsFilterForm({}, user=rep).analytics_filter()
    assert flt.last == datetime(2026, 3, 9).date()
    assert flt.first == datetime(2026, 2, 8).date()
    assert len(flt.days) == 30


def test_an_email_refused_at_send_time_counts_as_sent_and_bounced(march, rep):
    refused = OutboundEmailFactory(
        sender=rep,
        status=OutboundEmail.Status.BOUNCED,
        sent_at=None,
        bounced_at=datetime(2026, 3, 5, 15, 0, tzinfo=UTC),
    )
    Bounce.objects.create(
        organization_id=march.pk,
        outbound_email=refused,
        recipient=refused.to_address,
        source=Bounce.Source.SMTP_REJECT,
        matched_by=Bounce.MatchedBy.SEND_TIME,
        is_hard=True,
        occurred_at=refused.bounced_at,
    )
    OutboundEmailFactory(sender=rep, sent_at=datetime(2026, 3, 5, 16, 0, tzinfo=UTC))
    analytics_refresh(organization_id=march.pk)
    [row] = rep_leaderboard(
        user=rep, flt=everything(march, NOW.date() - timedelta(days=9), NOW.date())
    )
    assert (row.figures.sent, row.figures.bounced_hard) == (2, 1)


def test_campaign_enrollments_and_steps(org, rep):
    step1 = CampaignStepFactory(campaign__owner=rep, position=1)
    step2 = CampaignStepFactory(campaign=step1.campaign, position=2, template__owner=rep)
    campaign = step1.campaign
    states = [
        Enrollment.State.PAUSED,
        Enrollment.State.FINISHED,
        Enrollment.State.STOPPED_BOUNCED,
        Enrollment.State.STOPPED_REPLIED,
        Enrollment.State.STOPPED_REPLIED,
    ]
    for state in states:
        EnrollmentFactory(campaign=campaign, state=state)
    with time_machine.travel(NOW, tick=False):
        for step, count in ((step1, 4), (step2, 2)):
            for _ in range(count):
                OutboundEmailFactory(sender=rep, campaign_step=step, template=step.template)
        first = OutboundEmail.objects.filter(campaign_step=step1).first()
        bounce(first, hard=True)
    analytics_refresh(organization_id=org.pk)
    flt = everything(org, NOW.date() - timedelta(days=1), NOW.date())

    [row] = campaign_stats(user=rep, flt=flt)
    e = row.enrollments
    assert (e.enrolled, e.active, e.finished, e.stopped_bounced, e.stopped_replied) == (
        5,
        1,
        1,
        1,
        2,
    )
    assert (row.figures.sent, row.figures.bounced) == (6, 1)
    steps = campaign_step_stats(user=rep, flt=flt, campaign=campaign)
    assert [(s.position, s.figures.sent, s.figures.bounced) for s in steps] == [
        (1, 4, 1),
        (2, 2, 0),
    ]


def test_leaderboard_lists_reps_without_sends_too(org, team, manager, rep):
    quiet = UserFactory(organization=org, team=team, role=User.Role.REP, email="quiet@acme.test")
    OutboundEmailFactory(sender=rep, sent_at=timezone.now())
    analytics_refresh(organization_id=org.pk)
    today = timezone.now().date()
    rows = {
        r.email: r.figures.sent
        for r in rep_leaderboard(
            user=manager, flt=everything(org, today - timedelta(days=1), today + timedelta(days=1))
        )
    }
    assert rows == {"rep@acme.test": 1, "quiet@acme.test": 0, "mgr@acme.test": 0}
    assert quiet.email in rows


@pytest.mark.parametrize(
    "first, last",
    [
        ("2026-01-01", "2026-03-31"),  # whole months only
        ("2026-01-15", "2026-03-10"),  # partial months at both edges
        ("2026-02-01", "2026-02-28"),  # exactly one month
        ("2026-02-03", "2026-02-20"),  # inside one month
        ("2025-12-20", "2026-04-30"),  # beyond the data
    ],
)
def test_long_ranges_read_whole_months_and_partial_edges_alike(org, rep, first, last):
    template = EmailTemplateFactory(owner=rep)
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    sent_days = [start + timedelta(days=n) for n in range(0, 90, 3)]
    for sent_at in sent_days:
        OutboundEmailFactory(sender=rep, template=template, sent_at=sent_at)
    analytics_refresh(organization_id=org.pk)
    first_day, last_day = (datetime.fromisoformat(d).date() for d in (first, last))
    flt = AnalyticsFilter(first=first_day, last=last_day)
    expected = sum(first_day <= d.date() <= last_day for d in sent_days)
    assert sum(r.figures.sent for r in template_stats(user=rep, flt=flt)) == expected
    assert sum(p.figures.sent for p in rep_leaderboard(user=rep, flt=flt)) == expected
