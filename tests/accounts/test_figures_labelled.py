"""The manager's home and the dashboard count different things, and each says what it counts
(issue 14, one definition of every figure or its period and definition beside it)."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from outreach.models import OutboundEmail
from tests.factories import OutboundEmailFactory

Status = OutboundEmail.Status


def test_home_and_dashboard_name_their_period_and_counting_rule_so_the_numbers_are_explained(
    client, manager, rep
):
    now = timezone.now()
    OutboundEmailFactory(sender=rep, status=Status.SENT, sent_at=now - timedelta(days=1))
    OutboundEmailFactory(
        sender=rep, status=Status.BOUNCED, sent_at=now - timedelta(days=1), bounced_at=now
    )
    OutboundEmailFactory(sender=rep, status=Status.SENT, sent_at=now - timedelta(days=60))
    client.force_login(manager)

    home = " ".join(strip_tags(client.get(reverse("home")).content.decode()).split())
    assert "Where every email stands now, all time." in home
    assert "2sent, not bounced" in home and "1bounced" in home

    dashboard = " ".join(strip_tags(client.get(reverse("analytics")).content.decode()).split())
    first = timezone.localdate() - timedelta(days=29)
    assert f"Emails sent {first:%b} {first.day} – " in dashboard
    assert "Sent includes the ones that bounced later" in dashboard
    assert "The home page counts something else" in dashboard
