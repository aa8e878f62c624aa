"""The rollups always agree with a full recount, whatever write path the other apps use:
save(update_fields=…) without updated_at, QuerySet.update(), bulk_create, deletes."""

import random
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from analytics.models import DirtyBucket, EmailDayStat
from analytics.services import (
    analytics_differences,
    analytics_rebuild,
    analytics_refresh,
    analytics_refresh_all,
)
from bounces.models import Bounce
from outreach.models import Enrollment, OutboundEmail
from tests.factories import (
    CampaignStepFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    OutboundEmailFactory,
    UserFactory,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def _bounce(email, *, hard: bool, delayed: bool = False) -> Bounce:
    return Bounce.objects.create(
        organization_id=email.organization_id,
        outbound_email=email,
        recipient=f"{random.random()}@x.test",
        is_hard=hard,
        is_delayed=delayed,
        occurred_at=START,
    )


@pytest.fixture
def world(org, team, rep):
    org.timezone = "Asia/Kolkata"  # a half-hour offset: day boundaries at 18:30 UTC
    org.save(update_fields=["timezone"])
    rep2 = UserFactory(organization=org, team=team, role=User.Role.REP)
    step = CampaignStepFactory(campaign__owner=rep, position=1)
    templates = [EmailTemplateFactory(owner=rep), EmailTemplateFactory(owner=rep2), step.template]
    return {"org": org, "senders": [rep, rep2], "templates": templates, "step": step}


def _random_change(rng: random.Random, world) -> None:
    emails = list(OutboundEmail.objects.filter(organization=world["org"]).order_by("id"))
    action = rng.choice(
        [
            "send",
            "send",
            "bulk",
            "queue_then_send",
            "bounce",
            "reply",
            "move",
            "delete",
            "retie",
            "unsend",
            "refuse",
            "enroll",
            "stop",
        ]
    )
    when = START + timedelta(hours=rng.randint(0, 24 * 6), minutes=rng.choice([0, 29, 30, 31]))
    sender = rng.choice(world["senders"])
    template = rng.choice(world["templates"])
    step = world["step"] if template == world["step"].template else None
    if action == "send" or not emails:
        OutboundEmailFactory(sender=sender, template=template, campaign_step=step, sent_at=when)
    elif action == "bulk":
        OutboundEmail.objects.bulk_create(
            OutboundEmailFactory.build(
                sender=sender, template=template, sent_at=when, prospect=None, to_address="a@b.test"
            )
            for _ in range(3)
        )
    elif action == "queue_then_send":
        email = OutboundEmailFactory(
            sender=sender, status=OutboundEmail.Status.QUEUED, sent_at=None, template=template
        )
        email.status, email.sent_at = OutboundEmail.Status.SENT, when
        email.save(update_fields=["status", "sent_at"])  # updated_at not written
    elif action == "bounce":
        email = rng.choice(emails)
        _bounce(email, hard=rng.random() < 0.5, delayed=rng.random() < 0.2)
    elif action == "reply":
        OutboundEmail.objects.filter(pk=rng.choice(emails).pk).update(replied_at=when)
    elif action == "move":
        OutboundEmail.objects.filter(pk=rng.choice(emails).pk).update(sent_at=when, sender=sender)
    elif action == "delete":
        rng.choice(emails).delete()
    elif action == "retie":
        bounces = list(Bounce.objects.order_by("id").values_list("pk", flat=True))
        if bounces:
            Bounce.objects.filter(pk=rng.choice(bounces)).update(outbound_email=rng.choice(emails))
    elif action == "unsend":
        OutboundEmail.objects.filter(pk=rng.choice(emails).pk).update(
            status=OutboundEmail.Status.FAILED, sent_at=None, failure_reason="Auth failed"
        )
    elif action == "refuse":
        email = OutboundEmailFactory(
            sender=sender, status=OutboundEmail.Status.BOUNCED, sent_at=None, bounced_at=when
        )
        _bounce(email, hard=True)
    elif action == "enroll":
        EnrollmentFactory(campaign=world["step"].campaign, sender=sender)
    elif action == "stop":
        enrollments = list(Enrollment.objects.order_by("id").values_list("pk", flat=True))
        if enrollments:
            stopped = rng.choice([s for s in Enrollment.State.values if s != "active"])
            Enrollment.objects.filter(pk=rng.choice(enrollments)).update(state=stopped)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_refreshes_agree_with_a_full_recount(world, seed):
    rng = random.Random(seed)
    org = world["org"]
    for round_ in range(60):
        _random_change(rng, world)
        if round_ % 7 == 0:
            analytics_refresh(organization_id=org.pk)
    analytics_refresh(organization_id=org.pk)
    assert not DirtyBucket.objects.filter(organization_id=org.pk).exists()
    assert EmailDayStat.objects.filter(organization=org).exists()
    assert analytics_differences(organization_id=org.pk) == []


def test_a_change_the_refresh_has_not_absorbed_shows_as_a_difference(world):
    org = world["org"]
    email = OutboundEmailFactory(sender=world["senders"][0], sent_at=START)
    analytics_refresh(organization_id=org.pk)
    assert analytics_differences(organization_id=org.pk) == []
    _bounce(email, hard=True)
    assert analytics_differences(organization_id=org.pk) != []
    analytics_refresh_all()
    assert analytics_differences(organization_id=org.pk) == []


def test_time_zone_change_recounts_every_day(world):
    org = world["org"]
    OutboundEmailFactory(sender=world["senders"][0], sent_at=datetime(2026, 1, 1, 20, tzinfo=UTC))
    analytics_refresh(organization_id=org.pk)
    assert list(EmailDayStat.objects.values_list("day", flat=True)) == [datetime(2026, 1, 2).date()]
    org.timezone = "UTC"
    org.save(update_fields=["timezone"])
    result = analytics_refresh(organization_id=org.pk)
    assert result.rebuilt
    assert list(EmailDayStat.objects.values_list("day", flat=True)) == [datetime(2026, 1, 1).date()]


def test_rebuild_command_and_check(world):
    rng = random.Random(7)
    for _ in range(30):
        _random_change(rng, world)
    analytics_refresh(organization_id=world["org"].pk)
    assert EmailDayStat.objects.all().update(sent=999)  # damaged rollups
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("analytics_rebuild", "--check", stdout=out)
    assert "rollups disagree" in out.getvalue()
    out = StringIO()
    call_command("analytics_rebuild", "--organization", "acme", stdout=out)
    assert "emails counted" in out.getvalue()
    out = StringIO()
    call_command("analytics_rebuild", "--check", stdout=out)
    assert "acme: rollups agree with a full recount" in out.getvalue()


def test_rebuild_counts_every_email(world):
    for day in range(40):
        OutboundEmailFactory(sender=world["senders"][0], sent_at=START + timedelta(days=day))
    assert analytics_rebuild(organization_id=world["org"].pk) == 40
    assert analytics_differences(organization_id=world["org"].pk) == []
