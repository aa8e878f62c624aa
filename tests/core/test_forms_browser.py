"""Destructive actions ask first; a slow form cannot be sent twice (static/js/forms.js)."""

import pytest
from playwright.sync_api import expect

from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail
from tests.browser import sign_in
from tests.factories import DeliveryChannelFactory, OutboundEmailFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_disconnect_asks_first_and_cancel_keeps_the_mailbox(live_server, page, rep):
    channel = DeliveryChannelFactory(owner=rep, kind=DeliveryChannel.Kind.GMAIL)
    sign_in(page, live_server, rep)
    page.goto(f"{live_server.url}/settings/email/")
    questions = []

    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.locator("#google").get_by_role("button", name="Disconnect").click()
    expect(page.locator("#google")).to_contain_text(channel.mailbox_address)
    assert "Disconnect this channel?" in questions[0]
    channel.refresh_from_db()
    assert channel.status == DeliveryChannel.Status.CONNECTED

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#google").get_by_role("button", name="Disconnect").click()
    expect(page.locator("#google").get_by_role("button", name="Connect Gmail")).to_be_visible()
    channel.refresh_from_db()
    assert channel.status == DeliveryChannel.Status.DISCONNECTED


def test_cancel_in_the_outbox_asks_first_naming_the_recipient(live_server, page, rep):
    email = OutboundEmailFactory(
        sender=rep, status=OutboundEmail.Status.QUEUED, to_address="ana@example.test"
    )
    sign_in(page, live_server, rep)
    page.goto(f"{live_server.url}/outbox/")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Cancel", exact=True).first.click()
    page.wait_for_timeout(300)  # a dismissed dialog sends nothing: give a request time to show up
    assert questions == ["Cancel the email to ana@example.test? It will not be sent."]
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.QUEUED


def test_authenticate_and_save_cannot_be_sent_twice(live_server, page, rep):
    sign_in(page, live_server, rep)
    page.goto(f"{live_server.url}/settings/email/")
    form = page.locator("form[data-busy='Authenticating…']").first
    # Hold the submission in the page (a listener after forms.js's), as a slow server would.
    page.evaluate(
        "window.submits = 0; window.addEventListener('submit', e => {"
        " if (!e.defaultPrevented) window.submits += 1; e.preventDefault(); })"
    )
    form.evaluate(
        "f => { f.noValidate = true; if (f.closest('details')) f.closest('details').open = true; }"
    )
    button = form.get_by_role("button", name="Authenticate and save")
    button.click()
    busy = form.get_by_role("button", name="Authenticating…")
    expect(busy).to_be_disabled()
    form.evaluate("f => f.requestSubmit()")  # a second press, or Enter in a field
    assert page.evaluate("window.submits") == 1
    expect(form).to_have_attribute("aria-busy", "true")
