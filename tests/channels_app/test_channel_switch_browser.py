"""Switching the sending channel asks first and says what changes (issue 14, honest states)."""

import pytest
from playwright.sync_api import expect

from channels_app.models import ChannelChoice, DeliveryChannel
from channels_app.selectors import channel_for_user
from tests.browser import sign_in
from tests.factories import DeliveryChannelFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Kind = DeliveryChannel.Kind


def test_use_this_channel_asks_before_sending_moves_and_cancel_keeps_it(live_server, page, rep):
    gmail = DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL, mailbox_address="rep@acme.test")
    outlook = DeliveryChannelFactory(
        owner=rep, kind=Kind.EXCHANGE_ONLINE, mailbox_address="rep@acme.onmicrosoft.test"
    )
    ChannelChoice.objects.create(user=rep, channel=gmail)
    sign_in(page, live_server, rep)
    page.goto("/settings/email/")
    expect(page.locator("#google")).to_contain_text("In use")
    page.check(f'input[name=channel][value="{outlook.pk}"]')

    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Use this channel").click()
    page.wait_for_timeout(300)  # a dismissed dialog sends nothing: give a request time to show up
    assert questions == [
        "Sending moves from Gmail (rep@acme.test) to Outlook (rep@acme.onmicrosoft.test): your "
        "new email and the email still waiting go out through it."
    ]
    assert channel_for_user(user=rep).pk == gmail.pk

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Use this channel").click()
    expect(page.locator("#microsoft")).to_contain_text("In use")
    expect(page.locator("#google")).not_to_contain_text("In use")
    assert channel_for_user(user=rep).pk == outlook.pk


def test_connect_outlook_while_gmail_is_in_use_asks_first(live_server, page, rep):
    DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL, mailbox_address="rep@acme.test")
    sign_in(page, live_server, rep)
    page.goto("/settings/email/")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Connect Outlook").click()
    page.wait_for_timeout(300)
    assert questions and questions[0].startswith(
        "Connect Outlook? Sending moves from Gmail (rep@acme.test) to Outlook"
    )
    assert page.url.endswith("/settings/email/")
