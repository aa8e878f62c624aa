"""Who is asked to connect Gmail or Outlook: reps connect their own mailbox and send for
themselves (README, "Connecting a channel"), so they get the every-page prompt; managers and
admins who are not reps see a quiet status instead, and still get a banner when something of
theirs is broken."""

import pytest
from django.urls import reverse

from channels_app.models import DeliveryChannel
from tests.factories import DeliveryChannelFactory

PROMPT = "Connect Gmail or Outlook to unlock sending."
PAGES = ["home", "outbox", "feed", "analytics", "templates", "prospects"]


def _page(client, user, name):
    client.force_login(user)
    return client.get(reverse(name)).content.decode()


@pytest.mark.parametrize("name", PAGES)
def test_a_rep_without_a_channel_is_prompted_on_every_page(client, rep, name):
    assert PROMPT in _page(client, rep, name)


@pytest.mark.parametrize("role", ["manager", "org_admin"])
@pytest.mark.parametrize("name", PAGES)
def test_managers_and_admins_are_not_nagged(client, request, role, name):
    user = request.getfixturevalue(role)
    assert PROMPT not in _page(client, user, name)


def test_a_manager_sees_a_quiet_status_on_the_home_page(client, manager):
    home = _page(client, manager, "home")
    assert 'id="sending-status"' in home
    assert "You have no channel of your own: you only need one to send email yourself." in home
    assert "Mailbox checks" in home


def test_a_manager_with_a_mailbox_gets_no_note_about_it(client, manager):
    DeliveryChannelFactory(owner=manager)
    home = _page(client, manager, "home")
    assert "no channel of your own" not in home
    assert "Mailbox checks" in home


def test_an_admin_learns_quietly_that_no_team_smtp_is_set(client, org_admin):
    home = _page(client, org_admin, "home")
    assert "no team SMTP is set" in home
    assert PROMPT not in home


def test_a_manager_who_composes_is_told_what_to_connect(client, manager):
    page = _page(client, manager, "compose")
    assert "Connect Gmail or Outlook" in page
    assert "disabled" in page  # the Send button


def test_a_managers_broken_mailbox_is_still_a_banner(client, manager):
    DeliveryChannelFactory(
        owner=manager,
        status=DeliveryChannel.Status.NEEDS_RECONNECT,
        last_error="Google revoked the grant.",
    )
    page = _page(client, manager, "outbox")
    assert "needs reconnecting: sending from it is paused" in page
    assert "Reconnect</a>" in page


def test_an_admin_still_hears_that_the_team_smtp_refused_its_login(client, org, org_admin):
    DeliveryChannelFactory(
        owner=None,
        organization=org,
        kind=DeliveryChannel.Kind.CUSTOM_SMTP,
        is_team_default=True,
        mailbox_address="",
        status=DeliveryChannel.Status.NEEDS_RECONNECT,
        last_error="535 Authentication failed",
    )
    page = _page(client, org_admin, "outbox")
    assert "The team SMTP server refused Mailroom" in page and "535 Authentication failed" in page


def test_settings_and_bounces_pages_speak_to_the_role(client, rep, manager, org_admin):
    assert "No channel yet: you cannot send." in _page(client, rep, "email_settings")
    for user in (manager, org_admin):
        settings_page = _page(client, user, "email_settings")
        assert "No channel yet: you cannot send." not in settings_page
        assert "You only need one to send email yourself" in settings_page
    assert "team SMTP" in _page(client, org_admin, "email_settings")

    def mailboxes(user):
        client.force_login(user)
        return client.get(reverse("bounces"), {"tab": "mailboxes"}).content.decode()

    assert "Connect Gmail or Outlook</a> to track bounces" in mailboxes(rep)
    assert "connected in your team yet. Each rep connects their own" in mailboxes(manager)
    assert "connected in your organization yet" in mailboxes(org_admin)
