"""Prospects are added, edited and deleted in the product, within the viewer's scope, and
exported as a CSV of the filtered list."""

import csv
import io

from django.urls import reverse
from django.utils import timezone

from outreach.models import Enrollment, OutboundEmail, Prospect
from tests.factories import (
    CampaignFactory,
    CampaignStepFactory,
    EnrollmentFactory,
    OutboundEmailFactory,
    ProspectFactory,
    UserFactory,
)


def test_a_rep_adds_a_prospect_they_own(client, rep):
    client.force_login(rep)
    answer = client.post(
        reverse("prospect_new"),
        {"email": " ana@northwind.test ", "first_name": "Ana", "last_name": "Ruiz"},
    )
    prospect = Prospect.objects.get(email="ana@northwind.test")
    assert answer.url == reverse("prospect_detail", args=[prospect.pk])
    assert prospect.owner == rep and prospect.organization_id == rep.organization_id
    assert "Add prospect" in client.get(reverse("prospects")).content.decode()


def test_an_address_already_in_the_organization_is_refused_whatever_its_case(client, rep):
    colleague = UserFactory(organization=rep.organization, email="rep3@acme.test")
    ProspectFactory(organization=rep.organization, owner=colleague, email="Ana@Northwind.test")
    client.force_login(rep)
    page = client.post(reverse("prospect_new"), {"email": "ana@northwind.test"}).content.decode()
    assert "already a prospect in your organization" in page
    assert Prospect.objects.filter(email__iexact="ana@northwind.test").count() == 1


def test_a_malformed_address_is_refused_with_the_reason(client, rep):
    client.force_login(rep)
    page = client.post(reverse("prospect_new"), {"email": "ana at northwind"}).content.decode()
    assert "Enter a valid email address." in page
    page = client.post(reverse("prospect_new"), {"email": "jörg@northwind.test"}).content.decode()
    assert "Enter a valid email address." in page
    assert not Prospect.objects.exists()


def test_a_manager_picks_an_owner_from_their_team_only(client, manager, rep):
    outsider = UserFactory(organization=rep.organization, email="west@acme.test")
    client.force_login(manager)
    client.post(reverse("prospect_new"), {"email": "a@x.test", "owner": rep.pk})
    assert Prospect.objects.get(email="a@x.test").owner == rep
    page = client.post(reverse("prospect_new"), {"email": "b@x.test", "owner": outsider.pk})
    assert "Select a valid choice" in page.content.decode()
    assert not Prospect.objects.filter(email="b@x.test").exists()


def test_editing_a_bounced_prospect_to_a_new_address_makes_it_valid(client, rep):
    prospect = ProspectFactory(
        organization=rep.organization,
        owner=rep,
        email="old@northwind.test",
        email_status=Prospect.EmailStatus.INVALID,
        invalid_reason="550 5.1.1 user unknown",
        invalidated_at=timezone.now(),
    )
    client.force_login(rep)
    client.post(
        reverse("prospect_edit", args=[prospect.pk]),
        {"email": "new@northwind.test", "first_name": "Ana", "company": "Northwind"},
    )
    prospect.refresh_from_db()
    assert (prospect.email, prospect.first_name, prospect.company) == (
        "new@northwind.test",
        "Ana",
        "Northwind",
    )
    assert prospect.email_status == Prospect.EmailStatus.VALID and not prospect.invalid_reason


def test_nobody_edits_or_deletes_a_prospect_outside_their_scope(client, rep, other_org_user):
    colleague = UserFactory(organization=rep.organization, email="rep3@acme.test")
    theirs = ProspectFactory(organization=rep.organization, owner=colleague)
    foreign = ProspectFactory(organization=other_org_user.organization, owner=other_org_user)
    client.force_login(rep)
    for prospect in (theirs, foreign):
        assert client.get(reverse("prospect_edit", args=[prospect.pk])).status_code == 404
        assert client.post(reverse("prospect_delete", args=[prospect.pk])).status_code == 404
    assert Prospect.objects.filter(pk__in=[theirs.pk, foreign.pk]).count() == 2


def test_delete_says_what_it_does_to_campaigns_and_cancels_unsent_mail(client, rep):
    prospect = ProspectFactory(organization=rep.organization, owner=rep, first_name="Ana")
    campaign = CampaignFactory(organization=rep.organization, owner=rep)
    step = CampaignStepFactory(campaign=campaign)
    enrollment = EnrollmentFactory(
        campaign=campaign,
        prospect=prospect,
        sender=rep,
        next_step=step,
        next_due_at=timezone.now(),
    )
    queued = OutboundEmailFactory(
        sender=rep, prospect=prospect, enrollment=enrollment, status=OutboundEmail.Status.QUEUED
    )
    sent = OutboundEmailFactory(sender=rep, prospect=prospect, status=OutboundEmail.Status.SENT)
    client.force_login(rep)
    page = client.get(reverse("prospect_detail", args=[prospect.pk])).content.decode()
    assert "1 campaign enrollment ends and 1 email not sent yet is cancelled" in page
    assert 'data-confirm="Delete ' in page

    client.post(reverse("prospect_delete", args=[prospect.pk]))
    assert not Prospect.objects.filter(pk=prospect.pk).exists()
    assert not Enrollment.objects.filter(pk=enrollment.pk).exists()
    queued.refresh_from_db()
    sent.refresh_from_db()
    assert queued.status == OutboundEmail.Status.CANCELLED
    assert queued.failure_reason == "Not sent: the prospect was deleted."
    assert sent.status == OutboundEmail.Status.SENT


def _csv(answer) -> list[list[str]]:
    text = b"".join(answer.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_export_holds_the_filtered_list_in_its_order(client, rep, other_org_user):
    ProspectFactory(organization=rep.organization, owner=rep, email="b@x.test", company="=1+2")
    ProspectFactory(organization=rep.organization, owner=rep, email="a@x.test")
    bad = ProspectFactory(organization=rep.organization, owner=rep, email="c@x.test")
    bad.email_status, bad.invalidated_at = Prospect.EmailStatus.INVALID, timezone.now()
    bad.save()
    ProspectFactory(organization=other_org_user.organization, email="other@x.test")
    client.force_login(rep)

    rows = _csv(client.get(reverse("prospects_export"), {"address": "valid", "sort": "email"}))
    assert rows[0][:2] == ["email", "first_name"]
    assert [row[0] for row in rows[1:]] == ["a@x.test", "b@x.test"]
    assert rows[2][3] == "'=1+2"  # a spreadsheet shows the text rather than running it
    everyone = _csv(client.get(reverse("prospects_export"), {"sort": "-email"}))
    assert [row[0] for row in everyone[1:]] == ["c@x.test", "b@x.test", "a@x.test"]
    assert (
        "?address=valid&amp;sort=email"
        in client.get(reverse("prospects"), {"address": "valid", "sort": "email"}).content.decode()
    )
