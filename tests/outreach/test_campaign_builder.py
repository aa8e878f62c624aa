"""Campaigns are built in the product: created as drafts, steps added, edited, reordered and
removed, activated and paused; prospects enrolled from the prospects list."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from outreach.models import Campaign, CampaignStep, Enrollment, OutboundEmail
from tests.factories import (
    CampaignFactory,
    CampaignStepFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    OutboundEmailFactory,
    ProspectFactory,
    UserFactory,
)


def _steps(campaign) -> list[tuple[int, str, timedelta]]:
    return [
        (s.position, s.template.name, s.delay)
        for s in CampaignStep.objects.filter(campaign=campaign).order_by("position")
    ]


def test_a_rep_builds_a_three_step_campaign_and_activates_it(client, rep):
    templates = [
        EmailTemplateFactory(organization=rep.organization, owner=rep, name=name)
        for name in ("Intro", "Bump", "Breakup")
    ]
    client.force_login(rep)
    answer = client.post(reverse("campaign_new"), {"name": "Q1 outbound"})
    campaign = Campaign.objects.get()
    assert answer.url == reverse("campaign_detail", args=[campaign.pk])
    assert (campaign.owner, campaign.status) == (rep, Campaign.Status.DRAFT)
    client.post(reverse("campaign_status", args=[campaign.pk]), {"status": "active"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT  # no steps yet

    url = reverse("campaign_step_add", args=[campaign.pk])
    for template, days, hours in zip(templates, (0, 3, 7), (0, 12, 0), strict=True):
        client.post(url, {"new-template": template.pk, "new-days": days, "new-hours": hours})
    assert _steps(campaign) == [
        (1, "Intro", timedelta(0)),
        (2, "Bump", timedelta(days=3, hours=12)),
        (3, "Breakup", timedelta(days=7)),
    ]
    client.post(reverse("campaign_status", args=[campaign.pk]), {"status": "active"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE
    page = client.get(reverse("campaigns")).content.decode()
    assert reverse("analytics_campaign_detail", args=[campaign.pk]) in page


def test_a_step_is_edited_moved_and_a_waiting_prospect_moves_on_when_it_goes(client, rep):
    campaign = CampaignFactory(owner=rep, status=Campaign.Status.ACTIVE)
    one, two, three = (
        CampaignStepFactory(campaign=campaign, position=n, template__name=f"T{n}")
        for n in (1, 2, 3)
    )
    enrollment = EnrollmentFactory(
        campaign=campaign,
        state=Enrollment.State.ACTIVE,
        next_step=two,
        next_due_at=timezone.now(),
    )
    other = EmailTemplateFactory(organization=rep.organization, owner=rep, name="Other")
    client.force_login(rep)
    change = reverse("campaign_step_change", args=[one.pk])
    client.post(
        change,
        {
            "action": "save",
            f"step{one.pk}-template": other.pk,
            f"step{one.pk}-days": 1,
            f"step{one.pk}-hours": 2,
        },
    )
    client.post(reverse("campaign_step_change", args=[three.pk]), {"action": "up"})
    assert _steps(campaign) == [
        (1, "Other", timedelta(days=1, hours=2)),
        (2, "T3", timedelta(days=2)),
        (3, "T2", timedelta(days=2)),
    ]
    client.post(reverse("campaign_step_change", args=[two.pk]), {"action": "remove"})
    assert [s[1] for s in _steps(campaign)] == ["Other", "T3"]
    enrollment.refresh_from_db()
    # Step T2 was the last after the move: the prospect waiting for it has nothing left.
    assert (enrollment.state, enrollment.next_step) == (Enrollment.State.FINISHED, None)


def test_a_step_that_sent_emails_is_not_removed(client, rep):
    step = CampaignStepFactory(campaign__owner=rep)
    OutboundEmailFactory(sender=rep, campaign_step=step, status=OutboundEmail.Status.SENT)
    client.force_login(rep)
    page = client.post(
        reverse("campaign_step_change", args=[step.pk]), {"action": "remove"}, follow=True
    ).content.decode()
    assert "has already sent emails" in page
    assert CampaignStep.objects.filter(pk=step.pk).exists()


def test_a_template_with_a_broken_merge_field_is_refused_as_a_step(client, rep):
    campaign = CampaignFactory(owner=rep)
    broken = EmailTemplateFactory(
        organization=rep.organization, owner=rep, name="Broken", body="Hi {{ frist_name }}"
    )
    client.force_login(rep)
    page = client.post(
        reverse("campaign_step_add", args=[campaign.pk]),
        {"new-template": broken.pk, "new-days": 0, "new-hours": 0},
        follow=True,
    ).content.decode()
    assert "The template “Broken” cannot be sent: Unknown merge field {{ frist_name }}" in page
    assert not campaign.steps.exists()


def test_nobody_edits_another_reps_campaign(client, rep):
    colleague = UserFactory(organization=rep.organization, email="rep3@acme.test")
    step = CampaignStepFactory(campaign__owner=colleague)
    client.force_login(rep)
    assert (
        client.post(
            reverse("campaign_step_change", args=[step.pk]), {"action": "remove"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            reverse("campaign_status", args=[step.campaign_id]), {"status": "paused"}
        ).status_code
        == 404
    )
    assert CampaignStep.objects.filter(pk=step.pk).exists()


def test_pause_and_resume(client, rep):
    campaign = CampaignFactory(owner=rep, status=Campaign.Status.ACTIVE)
    CampaignStepFactory(campaign=campaign)
    client.force_login(rep)
    client.post(reverse("campaign_status", args=[campaign.pk]), {"status": "paused"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    page = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert "Resume campaign" in page
    client.post(reverse("campaign_status", args=[campaign.pk]), {"status": "active"})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE


def test_prospects_are_enrolled_from_the_prospects_list(client, rep):
    campaign = CampaignFactory(owner=rep, name="Q1", status=Campaign.Status.DRAFT)
    CampaignStepFactory(campaign=campaign, delay=timedelta(days=1))
    picked = [
        ProspectFactory(organization=rep.organization, owner=rep, company="Northwind")
        for _ in range(2)
    ]
    ProspectFactory(organization=rep.organization, owner=rep, company="Initech")
    client.force_login(rep)
    page = client.get(reverse("prospects")).content.decode()
    assert 'data-select-all="prospects"' in page and "Q1 (draft)" in page

    answer = client.post(
        reverse("prospects_enroll"),
        {"campaign": campaign.pk, "prospects": [p.pk for p in picked]},
        follow=True,
    )
    assert "Enrolled 2 prospects in “Q1”. The campaign is not active yet" in answer.content.decode()
    assert set(campaign.enrollments.values_list("prospect_id", flat=True)) == {p.pk for p in picked}

    client.post(
        reverse("prospects_enroll"),
        {"campaign": campaign.pk, "everyone_matching": "1", "q": "Initech"},
    )
    assert campaign.enrollments.count() == 3
