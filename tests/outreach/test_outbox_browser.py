"""In a browser: after the SMTP password is fixed, every failed email is retried in one go
with "select all"; the open outbox moves by itself while mail is on its way and stops asking
once nothing is left to send."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from outreach.models import OutboundEmail
from tests.browser import sign_in
from tests.factories import OutboundEmailFactory
from tests.outreach.send_helpers import drain, smtp_channel, smtp_received

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Status = OutboundEmail.Status


def test_retry_all_failed_at_once_after_fixing_the_password(live_server, page, sandbox, rep):
    channel = smtp_channel(sandbox, owner=rep, password="changed-by-it")  # noqa: S106
    failed = [
        OutboundEmailFactory(
            sender=rep,
            channel=channel,
            channel_kind=channel.kind,
            status=Status.FAILED,
            sent_at=None,
            failed_at=timezone.now(),
            failure_reason="Authentication unsuccessful — update your SMTP credentials",
            to_address=f"lead{n}@northwind.test",
        )
        for n in range(3)
    ]
    channel.password = "sandbox"  # what Email settings → Change my SMTP server saves
    channel.save()
    sign_in(page, live_server, rep)
    page.goto(f"{live_server.url}/outbox/?tab=failed")
    page.get_by_label("Select every email on this page").check()
    expect(page.locator("#outbox-selected")).to_have_text("3 selected")
    page.get_by_role("button", name="Retry selected").click()

    expect(page.locator(".message-success")).to_have_text("Sending 3 emails again.")
    assert sorted(m["To"] for m in smtp_received(sandbox)) == [e.to_address for e in failed]
    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {Status.SENT}


def test_the_outbox_moves_by_itself_while_mail_is_on_its_way(live_server, page, sandbox, rep):
    channel = smtp_channel(sandbox, owner=rep)
    email = OutboundEmailFactory(
        sender=rep,
        channel=channel,
        channel_kind=channel.kind,
        status=Status.QUEUED,
        sent_at=None,
        to_address="ana@northwind.test",
    )
    sign_in(page, live_server, rep)
    page.goto(f"{live_server.url}/outbox/")
    row = page.locator(f"tr[data-email='{email.pk}']")
    expect(row).to_contain_text("Queued")
    page.evaluate("window.stillTheSamePage = true")  # a reload would wipe it out

    assert drain(channel).sent == 1  # the worker's drain, run here
    expect(row).to_contain_text("Sent", timeout=10_000)
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.locator("#outbox-live")).to_have_attribute("data-moving", "")
