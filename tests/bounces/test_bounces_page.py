"""The bounces page: each role sees its own scope; unmatched bounces only for admins and
managers; mailbox protection can be lifted by the rep or an admin."""

import pytest
from django.urls import reverse
from django.utils import timezone

from bounces.models import Bounce
from channels_app.models import DeliveryChannel
from tests.factories import DeliveryChannelFactory, OutboundEmailFactory, UserFactory


def _bounce(*, channel, email=None, recipient="ana@acme.com", hard=True):
    return Bounce.objects.create(
        organization=channel.organization,
        channel=channel,
        outbound_email=email,
        matched_by=Bounce.MatchedBy.MESSAGE_ID if email else Bounce.MatchedBy.UNMATCHED,
        recipient=recipient,
        status_code="5.1.1",
        diagnostic="550 5.1.1 user unknown",
        is_hard=hard,
        occurred_at=timezone.now(),
    )


@pytest.fixture
def scene(rep, manager, org_admin, other_org_user, team):
    rep_channel = DeliveryChannelFactory(owner=rep, mailbox_address="rep@acme.test")
    colleague = UserFactory(organization=rep.organization, team=team, email="rep2@acme.test")
    colleague_channel = DeliveryChannelFactory(owner=colleague, mailbox_address="rep2@acme.test")
    other_channel = DeliveryChannelFactory(owner=other_org_user)
    mine = _bounce(
        channel=rep_channel,
        email=OutboundEmailFactory(sender=rep, channel=rep_channel),
        recipient="mine@customer.test",
    )
    theirs = _bounce(
        channel=colleague_channel,
        email=OutboundEmailFactory(sender=colleague, channel=colleague_channel),
        recipient="theirs@customer.test",
    )
    unmatched = _bounce(channel=rep_channel, recipient="stranger@nowhere.test")
    foreign = _bounce(channel=other_channel, recipient="globex@customer.test")
    return {
        "rep_channel": rep_channel,
        "mine": mine,
        "theirs": theirs,
        "unmatched": unmatched,
        "foreign": foreign,
    }


def test_rep_sees_only_their_own_bounces(client, rep, scene):
    client.force_login(rep)
    page = client.get(reverse("bounces")).content.decode()
    assert "mine@customer.test" in page
    assert "theirs@customer.test" not in page
    assert "globex@customer.test" not in page
    assert "Unmatched" not in page
    unmatched_tab = client.get(reverse("bounces"), {"tab": "unmatched"}).content.decode()
    assert "stranger@nowhere.test" not in unmatched_tab


def test_admin_sees_unmatched_bounces_of_their_organization_only(client, org_admin, scene):
    client.force_login(org_admin)
    page = client.get(reverse("bounces"), {"tab": "unmatched"}).content.decode()
    assert "stranger@nowhere.test" in page
    assert "globex@customer.test" not in page
    everything = client.get(reverse("bounces")).content.decode()
    assert "mine@customer.test" in everything and "theirs@customer.test" in everything


def test_manager_sees_team_bounces_and_unmatched(client, manager, scene):
    client.force_login(manager)
    assert "theirs@customer.test" in client.get(reverse("bounces")).content.decode()
    unmatched = client.get(reverse("bounces"), {"tab": "unmatched"}).content.decode()
    assert "stranger@nowhere.test" in unmatched


def test_other_organization_cannot_resume_or_poll(client, other_org_user, scene):
    channel = scene["rep_channel"]
    channel.campaigns_paused_at = timezone.now()
    channel.save()
    client.force_login(other_org_user)
    assert client.post(reverse("bounces_channel_resume", args=[channel.pk])).status_code == 404
    assert client.post(reverse("bounces_channel_poll", args=[channel.pk])).status_code == 404
    channel.refresh_from_db()
    assert channel.campaigns_paused_at is not None


def test_rep_resumes_paused_mailbox_from_the_page(client, rep, scene):
    channel = scene["rep_channel"]
    channel.campaigns_paused_at = timezone.now()
    channel.campaigns_paused_reason = "3 of 20 emails hard-bounced in the last 24 hours."
    channel.save()
    client.force_login(rep)
    page = client.get(reverse("bounces")).content.decode()
    assert "Campaign sends paused" in page and "Resume campaign sends" in page
    response = client.post(reverse("bounces_channel_resume", args=[channel.pk]))
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.campaigns_paused_at is None


def test_mailbox_checks_tab_lists_polled_mailboxes(client, rep, scene):
    DeliveryChannelFactory(
        owner=rep, kind=DeliveryChannel.Kind.CUSTOM_SMTP, mailbox_address="", host="smtp.x.test"
    )
    client.force_login(rep)
    page = client.get(reverse("bounces"), {"tab": "mailboxes"}).content.decode()
    assert "rep@acme.test" in page
    assert "smtp.x.test" not in page


def test_admin_shows_bounce_with_decoded_message(admin_client, scene):
    url = reverse("admin:bounces_bounce_changelist")
    assert admin_client.get(url, {"matched": "no"}).status_code == 200
    assert admin_client.get(url, {"hardness": "hard"}).status_code == 200
    detail = reverse("admin:bounces_bounce_change", args=[scene["mine"].pk])
    assert admin_client.get(detail).status_code == 200


def test_mailbox_not_synced_for_over_an_hour_is_flagged(client, rep, scene):
    from datetime import timedelta

    channel = scene["rep_channel"]
    channel.last_polled_at = timezone.now() - timedelta(hours=3)
    channel.last_poll_result = "Gmail is unavailable (503)"
    channel.save()
    client.force_login(rep)
    page = client.get(reverse("bounces"), {"tab": "mailboxes"}).content.decode()
    assert "Sync overdue" in page and "Gmail is unavailable (503)" in page


def test_the_bounces_page_names_the_prospect_and_the_sender(client, rep):
    from tests.factories import ProspectFactory

    rep.first_name, rep.last_name = "Riley", "Park"
    rep.save()
    channel = DeliveryChannelFactory(owner=rep)
    prospect = ProspectFactory(
        organization=rep.organization, owner=rep, first_name="Ana", last_name="Lima"
    )
    email = OutboundEmailFactory(sender=rep, prospect=prospect, channel=channel)
    _bounce(channel=channel, email=email, recipient=prospect.email)
    client.force_login(rep)
    page = client.get(reverse("bounces")).content.decode()
    assert f'<a href="/prospects/{prospect.pk}/">Ana Lima</a>' in page
    assert f'<div class="small muted">{prospect.email}</div>' in page
    assert '<td class="small">Riley Park</td>' in page


def test_a_delay_reads_as_still_being_retried_not_as_given_up(client, rep):
    channel = DeliveryChannelFactory(owner=rep, mailbox_address="rep@acme.test")
    delay = _bounce(
        channel=channel,
        email=OutboundEmailFactory(sender=rep, channel=channel),
        recipient="slow@customer.test",
        hard=False,
    )
    Bounce.objects.filter(pk=delay.pk).update(
        is_delayed=True, reason="expired", status_code="4.7.1"
    )
    client.force_login(rep)
    page = client.get(reverse("bounces")).content.decode()
    assert "Not delivered yet: still being retried" in page
    assert "Gave up after retrying" not in page
