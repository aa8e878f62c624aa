"""The IMAP inbox form of the team SMTP card, as an admin uses it in a browser."""

import pytest
from django.urls import reverse

from tests.browser import sign_in
from tests.channels_app.test_imap_settings import MAILBOX, SECRET, team_smtp  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_signs_in_to_the_team_smtps_imap_inbox(
    page,
    live_server,
    org_admin,
    team_smtp,  # noqa: F811 - the fixture
    sandbox,
):
    sign_in(page, live_server, org_admin)
    page.goto(reverse("email_settings"))
    card = page.locator("#team-smtp")
    card.get_by_text("Read bounces from the IMAP inbox").click()
    card.get_by_label("IMAP server").fill(sandbox.host)
    card.get_by_label("Port", exact=True).last.fill(str(sandbox.imap_port))
    card.get_by_label("Security").last.select_option("starttls")
    card.get_by_label("Password").last.fill(SECRET)
    card.get_by_role("button", name="Sign in and save").click()

    page.wait_for_url("**/settings/email/**")
    assert "now reads it for bounces and replies" in page.content()
    imap = page.locator("#team-smtp-imap")
    assert imap.locator(".pill", has_text="IMAP").is_visible()
    assert f"{MAILBOX} on {sandbox.host}:{sandbox.imap_port}, INBOX" in imap.inner_text()
