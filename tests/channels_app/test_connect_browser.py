"""Connect Gmail and Connect Outlook as a rep does it: in a real browser, through the sandbox's
consent page, clicking Allow — the form a browser submits, not one a test builds."""

from __future__ import annotations

import pytest

from channels_app.models import DeliveryChannel
from tests.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Kind = DeliveryChannel.Kind


@pytest.mark.parametrize(
    "button, kind",
    [("Connect Gmail", Kind.GMAIL), ("Connect Outlook", Kind.EXCHANGE_ONLINE)],
)
def test_allow_on_the_consent_page_connects_the_mailbox_with_every_scope(
    sandbox,
    live_server,
    page,
    rep,
    button,
    kind,
):
    sign_in(page, live_server, rep)
    page.goto("/settings/email/")

    page.click(f'button:has-text("{button}")')
    page.wait_for_selector("button.allow")
    page.click("button.allow")
    page.wait_for_url("**/settings/email/**")

    channel = DeliveryChannel.objects.get(owner=rep, kind=kind)
    assert channel.status == DeliveryChannel.Status.CONNECTED and channel.can_read_inbox
    assert "not connected" not in page.inner_text("body")


def test_unticking_read_access_in_the_browser_connects_for_sending_only(
    sandbox,
    live_server,
    page,
    rep,
):
    sign_in(page, live_server, rep)
    page.goto("/settings/email/")

    page.click('button:has-text("Connect Gmail")')
    page.uncheck('input[value="https://www.googleapis.com/auth/gmail.readonly"]')
    page.click("button.allow")
    page.wait_for_url("**/settings/email/**")

    channel = DeliveryChannel.objects.get(owner=rep, kind=Kind.GMAIL)
    assert not channel.can_read_inbox
    assert "bounce tracking needs read access" in page.inner_text("body")


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_the_consent_page_speaks_the_reps_language(sandbox, live_server, page, rep, provider):
    """A rep who reads Mailroom in Korean gets Google's and Microsoft's pages in Korean too:
    the authorization link names the language (`hl`, `ui_locales`), whatever the browser says."""
    rep.language = "ko"
    rep.save(update_fields=["language"])
    sign_in(page, live_server, rep)
    page.goto("/settings/email/")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator(f'form[action*="/accounts/{provider}/login/"] button[type=submit]').first.click()
    page.wait_for_selector("button.allow")
    assert page.inner_text("button.allow") == "허용"
    assert page.get_attribute("html", "lang") == "ko"
    assert ("hl=ko" if provider == "google" else "ui_locales=ko") in page.url
