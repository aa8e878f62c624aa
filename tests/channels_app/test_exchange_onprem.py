"""Exchange On-Prem end to end against the sandbox's EWS (NTLM, SOAP): the rep connects the
mailbox on the email settings page, mail goes out through EWS with Mailroom's Message-ID and
lands in the mailbox's Sent Items, and what Exchange says when it refuses is what the rep
reads in the outbox."""

import socket
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from channels_app.models import DeliveryChannel
from channels_app.selectors import channel_for_user
from outreach.email_token import email_header_token
from outreach.models import OutboundEmail
from outreach.services import email_enqueue
from tests.outreach.send_helpers import choose, drain, mailbox_sent

Kind = DeliveryChannel.Kind
Status = OutboundEmail.Status
PASSWORD = "Winter-2026!"  # noqa: S105 - the sandbox mailbox's password
AUTH_REFUSED = (
    "Exchange refused the username or password — update them in Email settings, then Retry send"
)


@pytest.fixture
def exchange(sandbox, rep):
    """The rep's mailbox on the sandbox's on-prem Exchange, DOMAIN\\user login."""
    sandbox.client.add_ews_user(rep.email, PASSWORD, username="ACME\\rep")
    return sandbox


def connect(client, sandbox, **changes):
    data = {
        "email_address": "rep@acme.test",
        "ews_url": sandbox.ews_url,
        "username": "ACME\\rep",
        "password": PASSWORD,
        "daily_limit": "",
        "per_minute_limit": "",
    }
    data.update(changes)
    return client.post(reverse("channel_exchange_onprem_save"), data, follow=True)


def onprem_channel(sandbox, rep, *, password=PASSWORD):
    channel = DeliveryChannel.objects.create(
        organization=rep.organization,
        owner=rep,
        kind=Kind.EXCHANGE_ONPREM,
        mailbox_address=rep.email,
        username="ACME\\rep",
        password=password,
        ews_url=sandbox.ews_url,
    )
    return choose(rep, channel)


def _email(rep, to="ana@customer.test"):
    return email_enqueue(sender=rep, to_address=to, subject="Quick question", body="Hi Ana")


def test_connect_on_the_settings_page_then_send_through_ews(client, rep, exchange):
    client.force_login(rep)

    page = connect(client, exchange)

    assert page.status_code == 200
    channel = DeliveryChannel.objects.get(owner=rep, kind=Kind.EXCHANGE_ONPREM)
    assert channel.status == DeliveryChannel.Status.CONNECTED
    assert channel.ews_url == exchange.ews_url
    assert channel_for_user(user=rep) == channel
    email = _email(rep)

    result = drain(channel)

    email.refresh_from_db()
    assert result.sent == 1
    assert email.status == Status.SENT
    assert email.channel_kind == Kind.EXCHANGE_ONPREM
    [sent] = mailbox_sent(exchange, "exchange", rep.email)
    assert sent["Message-ID"] == email.message_id
    assert sent["X-Mailroom-Email-Id"] == email_header_token(email_id=email.pk)
    assert sent["To"] == "ana@customer.test"
    assert "rep@acme.test" in sent["From"]
    [record] = exchange.client.sent("exchange", rep.email)
    assert "SentItems" in record["labels"]  # the rep finds it in Outlook's Sent Items


def test_a_wrong_password_on_the_settings_page_is_refused_and_nothing_is_saved(
    client, rep, exchange
):
    client.force_login(rep)

    page = connect(client, exchange, password="not-it")

    assert page.status_code == 400
    assert "refused the username or password" in page.content.decode()
    assert not DeliveryChannel.objects.filter(owner=rep).exists()
    assert exchange.client.ews_users()["auth_failures"] >= 1


def test_a_login_without_rights_on_the_mailbox_is_refused(client, rep, exchange):
    exchange.client.add_ews_user("someone.else@acme.test", "Other-1", username="ACME\\else")
    client.force_login(rep)

    page = connect(client, exchange, username="ACME\\else", password="Other-1")

    assert page.status_code == 400
    assert "may not open the mailbox" in page.content.decode()
    assert not DeliveryChannel.objects.filter(owner=rep).exists()


def test_a_password_changed_by_it_fails_the_mail_with_one_refused_login_not_one_per_email(
    client, rep, exchange
):
    channel = onprem_channel(exchange, rep, password="last-years-password")
    emails = [_email(rep, to=f"prospect{n}@customer.test") for n in range(3)]
    failures_before = exchange.client.ews_users()["auth_failures"]

    result = drain(channel)

    assert result.failed == 3
    for email in emails:
        email.refresh_from_db()
        assert email.status == Status.FAILED
        assert email.failure_reason == AUTH_REFUSED
    # Each refused NTLM login is a bad-password count in Active Directory: once per batch.
    assert exchange.client.ews_users()["auth_failures"] - failures_before == 1
    assert mailbox_sent(exchange, "exchange", rep.email) == []
    client.force_login(rep)
    assert AUTH_REFUSED in client.get(reverse("email_settings")).content.decode()


def test_server_busy_soap_fault_waits_for_the_back_off_exchange_asked_for(rep, exchange):
    channel = onprem_channel(exchange, rep)
    exchange.client.add_fault(
        "exchange", rep.email, 500, code="ErrorServerBusy", retry_after=90, endpoint="ews.Create"
    )
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        email = _email(rep)
        drain(channel)
        email.refresh_from_db()
        assert email.status == Status.THROTTLED
        assert email.next_attempt_at == start + timedelta(seconds=90)
        assert "Exchange is busy" in email.waiting_reason
        assert email.attempts == 0
    with time_machine.travel(start + timedelta(seconds=91), tick=False):
        drain(channel)
    email.refresh_from_db()
    assert email.status == Status.SENT
    assert len(mailbox_sent(exchange, "exchange", rep.email)) == 1


def test_submission_quota_exceeded_pauses_the_mailbox_instead_of_failing(rep, exchange):
    channel = onprem_channel(exchange, rep)
    exchange.client.set_send_limit("exchange", rep.email, 1, clear_window=True)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first, second = _email(rep), _email(rep, to="ben@customer.test")
        drain(channel)
    first.refresh_from_db()
    second.refresh_from_db()
    channel.refresh_from_db()
    assert first.status == Status.SENT
    assert second.status == Status.THROTTLED
    assert second.failure_reason == ""
    assert "sending limit" in second.waiting_reason
    assert channel.sending_paused_until > start


def test_a_full_mailbox_fails_the_batch_with_the_reason_instead_of_pausing(rep, exchange):
    """ErrorQuotaExceeded is the mailbox's storage, not a sending limit: waiting frees nothing."""
    channel = onprem_channel(exchange, rep)
    exchange.client.add_fault(
        "exchange", rep.email, 200, count=5, code="ErrorQuotaExceeded", endpoint="ews.CreateItem"
    )
    first, second = _email(rep), _email(rep, to="ben@customer.test")

    drain(channel)

    channel.refresh_from_db()
    for email in (first, second):
        email.refresh_from_db()
        assert email.status == Status.FAILED
        assert email.failure_reason.startswith("The Exchange mailbox is full")
    assert channel.sending_paused_until is None
    assert exchange.client.calls("exchange", rep.email)["ews.CreateItem"] == 1


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("ErrorMessageSizeExceeded", "exceeds the maximum supported size"),
        ("ErrorSendAsDenied", "does not have the right to send mail"),
    ],
)
def test_a_message_exchange_rejects_fails_with_exchanges_own_words(rep, exchange, code, words):
    channel = onprem_channel(exchange, rep)
    exchange.client.add_fault("exchange", rep.email, 200, code=code, endpoint="ews.CreateItem")
    email = _email(rep)

    drain(channel)

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert email.failure_reason.startswith("Exchange rejected the message")
    assert words in email.failure_reason


def test_exchange_unreachable_is_retried_later_not_failed(rep, exchange):
    channel = onprem_channel(exchange, rep)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    channel.ews_url = f"http://127.0.0.1:{closed_port}/EWS/Exchange.asmx"
    channel.save(update_fields=["ews_url"])
    email = _email(rep)

    drain(channel)

    email.refresh_from_db()
    assert email.status == Status.QUEUED
    assert email.attempts == 1
    assert email.next_attempt_at > timezone.now()
    assert email.failure_reason == ""


def test_an_exchange_server_behind_a_private_ca_is_trusted_through_the_provider_ca_bundle(
    client, rep, exchange, settings
):
    """On-prem Exchange usually presents a certificate from the company's own CA: exchangelib
    trusts MAILROOM_PROVIDER_CA_BUNDLE like every other provider client (the sandbox's HTTPS
    port is signed by its own CA, which certifi does not know)."""
    https_ews = f"{exchange.https_url}/exchange/EWS/Exchange.asmx"
    client.force_login(rep)

    settings.MAILROOM_PROVIDER_CA_BUNDLE = None  # certifi only: the private CA is unknown
    refused = connect(client, exchange, ews_url=https_ews)
    assert refused.status_code == 400
    assert not DeliveryChannel.objects.filter(owner=rep).exists()

    settings.MAILROOM_PROVIDER_CA_BUNDLE = exchange.ca_file
    page = connect(client, exchange, ews_url=https_ews)
    assert page.status_code == 200
    channel = DeliveryChannel.objects.get(owner=rep, kind=Kind.EXCHANGE_ONPREM)
    email = _email(rep)
    assert drain(channel).sent == 1
    email.refresh_from_db()
    [sent] = mailbox_sent(exchange, "exchange", rep.email)
    assert sent["Message-ID"] == email.message_id
