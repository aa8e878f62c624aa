"""The suppression list: written by bounces and admins, removals recorded, malformed entries
refused, the admins' page."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from bounces.services import bounce_record_send_rejection
from outreach.models import Prospect
from suppression.models import Suppression, SuppressionPolicy
from suppression.selectors import suppression_find
from suppression.services import suppression_add, suppression_remove
from tests.factories import DeliveryChannelFactory, OutboundEmailFactory, ProspectFactory


def _bounce(rep, address, *, hard):
    channel = DeliveryChannelFactory(owner=rep)
    prospect = ProspectFactory(organization=rep.organization, email=address)
    email = OutboundEmailFactory(sender=rep, channel=channel, prospect=prospect)
    bounce_record_send_rejection(
        email=email, recipient=address, status="5.1.1", diagnostic="550 user unknown", hard=hard
    )
    return email


def test_hard_bounce_suppresses_the_address_with_the_bounce_as_source(rep):
    email = _bounce(rep, "bounce.jamie@northwind.test", hard=True)

    entry = suppression_find(
        organization_id=rep.organization_id, address="Bounce.Jamie@Northwind.test"
    )
    assert entry is not None
    assert entry.reason == Suppression.Reason.HARD_BOUNCE
    assert entry.source_bounce.outbound_email_id == email.pk
    assert "550 user unknown" in entry.detail


def test_soft_bounces_suppress_at_the_organizations_limit(rep):
    SuppressionPolicy.objects.create(organization=rep.organization, soft_bounce_limit=2)
    channel = DeliveryChannelFactory(owner=rep)
    prospect = ProspectFactory(organization=rep.organization, email="full@box.test")
    for count in (1, 2):
        email = OutboundEmailFactory(sender=rep, channel=channel, prospect=prospect)
        bounce_record_send_rejection(
            email=email, recipient=prospect.email, status="4.2.2", diagnostic="full", hard=False
        )
        found = suppression_find(organization_id=rep.organization_id, address=prospect.email)
        assert (found is not None) == (count == 2)
    assert found.reason == Suppression.Reason.SOFT_BOUNCES


def test_whole_domain_and_malformed_entries(rep, org_admin):
    entry, created = suppression_add(
        organization_id=rep.organization_id,
        value="@Rival.test",
        reason="manual",
        created_by=org_admin,
    )
    assert created and entry.scope == Suppression.Scope.DOMAIN and entry.address == "rival.test"
    assert suppression_find(organization_id=rep.organization_id, address="ceo@rival.test") == entry
    assert (
        suppression_find(organization_id=rep.organization_id, address="ceo@notrival.test") is None
    )
    again, created = suppression_add(
        organization_id=rep.organization_id, value="rival.test", reason="manual"
    )
    assert again == entry and not created
    for bad in ("ana@", "ana@@x.test", "not a domain", "localhost"):
        with pytest.raises(ValidationError):
            suppression_add(organization_id=rep.organization_id, value=bad, reason="manual")


def test_removal_is_recorded_and_gives_the_prospect_back(rep, org_admin):
    _bounce(rep, "dead@box.test", hard=True)
    entry = Suppression.objects.get()
    with pytest.raises(PermissionDenied):
        suppression_remove(entry=entry, user=rep, reason="fixed")
    with pytest.raises(ValidationError):
        suppression_remove(entry=entry, user=org_admin, reason=" ")

    assert suppression_remove(entry=entry, user=org_admin, reason="Mailbox recreated")

    entry.refresh_from_db()
    assert (entry.removed_by, entry.removal_reason) == (org_admin, "Mailbox recreated")
    assert entry.removed_at is not None
    assert suppression_find(organization_id=rep.organization_id, address="dead@box.test") is None
    assert Prospect.objects.get(email="dead@box.test").email_status == Prospect.EmailStatus.VALID
    assert Suppression.objects.count() == 1  # history kept


def test_admin_page_lists_adds_refuses_and_removes(client, org_admin, rep, other_org_user):
    suppression_add(
        organization_id=other_org_user.organization_id, value="x@globex.test", reason="manual"
    )
    client.force_login(org_admin)
    page = client.get(reverse("suppressions"))
    assert page.status_code == 200
    assert "Suppression list" in page.content.decode()
    assert "x@globex.test" not in page.content.decode()

    refused = client.post(reverse("suppressions"), {"value": "ana@", "reason": "manual"})
    assert "not a valid email address" in refused.content.decode()
    client.post(reverse("suppressions"), {"value": "ana@example.test", "reason": "manual"})
    entry = Suppression.objects.get(address="ana@example.test")
    assert entry.created_by == org_admin
    assert "ana@example.test" in client.get(reverse("suppressions") + "?q=ana").content.decode()

    client.post(reverse("suppression_remove", args=[entry.pk]), {"reason": "asked back in"})
    entry.refresh_from_db()
    assert entry.removal_reason == "asked back in"

    client.force_login(rep)
    assert client.get(reverse("suppressions")).status_code == 403


def test_policy_is_shown_and_saved(client, org_admin):
    client.force_login(org_admin)
    assert "3 soft bounces in 30 days" in client.get(reverse("suppressions")).content.decode()
    client.post(
        reverse("suppression_policy"),
        {"soft_bounce_limit": 5, "soft_bounce_window_days": 14, "complaint_rate_limit": "0.10"},
    )
    page = client.get(reverse("suppressions")).content.decode()
    assert "5 soft bounces in 14 days" in page
    assert "your limit 0.10%" in page


def test_the_complaint_rate_is_shown_against_the_limit(client, org_admin, rep):
    from django.utils import timezone

    from outreach.models import OutboundEmail
    from suppression.models import Suppression
    from suppression.services import suppression_add

    org = org_admin.organization
    for n in range(200):
        OutboundEmail.objects.create(
            organization=org,
            sender=rep,
            to_address=f"p{n}@customer.test",
            subject="Hi",
            body="Hello",
            status=OutboundEmail.Status.SENT,
            sent_at=timezone.now(),
        )
    client.force_login(org_admin)
    assert "Within the limit" in client.get(reverse("suppressions")).content.decode()

    suppression_add(
        organization_id=org.pk, value="p1@customer.test", reason=Suppression.Reason.COMPLAINED
    )
    page = client.get(reverse("suppressions")).content.decode()

    assert "1 of 200 emails sent (0.50%; your limit 0.30%)" in page
    assert "Over the limit" in page
