"""SMTP sending end to end through the sandbox's SMTP server (AUTH, STARTTLS)."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from bounces.models import Bounce
from channels_app.exceptions import PermanentProviderError
from channels_app.models import DeliveryChannel
from channels_app.providers import smtp
from channels_app.providers.smtp import AUTH_FAILED_REASON, SmtpServer
from channels_app.providers.smtp_auth import SmtpLoginFailed, authenticate
from channels_app.sending.services import MAX_ATTEMPTS
from outreach.email_token import email_header_token
from outreach.models import OutboundEmail, Prospect
from outreach.services import email_compose, email_enqueue, email_retry
from tests.factories import ProspectFactory
from tests.outreach.send_helpers import drain, smtp_channel, smtp_received


def _compose(rep, prospect):
    return email_compose(
        sender=rep,
        prospect=prospect,
        subject="Hello {{ first_name }}",
        body="Hi {{ first_name }}, does {{ company }} still hire?",
    )


def test_smtp_email_arrives_with_mailroom_message_id(sandbox, rep):
    channel = smtp_channel(sandbox, owner=rep)
    prospect = ProspectFactory(organization=rep.organization, first_name="Ana", company="Acme")
    email = _compose(rep, prospect)

    result = drain(channel)

    email.refresh_from_db()
    assert result.sent == 1
    assert email.status == OutboundEmail.Status.SENT
    assert email.sent_at is not None
    assert email.channel_kind == DeliveryChannel.Kind.CUSTOM_SMTP
    [received] = smtp_received(sandbox)
    assert received["Message-ID"] == email.message_id
    assert received["X-Mailroom-Email-Id"] == email_header_token(email_id=email.pk)
    assert received["Subject"] == "Hello Ana"
    assert "does Acme still hire?" in received.get_payload(decode=True).decode()
    assert received["To"] == prospect.email


def test_team_smtp_sends_as_the_rep(sandbox, rep, org_admin):
    smtp_channel(sandbox, organization=rep.organization, is_team_default=True)
    team_channel = DeliveryChannel.objects.get(is_team_default=True)
    email = email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hello")

    drain(team_channel)

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    [received] = smtp_received(sandbox)
    assert rep.email in received["From"]


def test_a_sent_email_is_not_sent_again_by_a_second_drain(sandbox, rep):
    channel = smtp_channel(sandbox, owner=rep)
    _compose(rep, ProspectFactory(organization=rep.organization))

    drain(channel)
    second = drain(channel)

    assert second.sent == 0
    assert len(smtp_received(sandbox)) == 1


def test_wrong_smtp_password_fails_with_a_reason_then_retry_after_fixing_it(sandbox, rep):
    channel = smtp_channel(sandbox, owner=rep, password="wrong")
    email = _compose(rep, ProspectFactory(organization=rep.organization))

    drain(channel)

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.FAILED
    assert email.failure_reason == AUTH_FAILED_REASON
    assert rep.feed_events.filter(kind="failed", outbound_email=email).exists()
    assert smtp_received(sandbox) == []

    channel.password = "sandbox"
    channel.save(update_fields=["password"])
    email_retry(email=email)
    drain(channel)

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    assert email.failure_reason == ""
    [received] = smtp_received(sandbox)
    assert received["Message-ID"] == email.message_id


def test_a_refused_login_fails_the_batch_with_one_attempt_and_shows_on_the_channel(
    sandbox, rep, client
):
    channel = smtp_channel(sandbox, owner=rep, password="wrong")
    emails = [_compose(rep, ProspectFactory(organization=rep.organization)) for _ in range(3)]
    stats = sandbox.client.smtp_stats
    with pytest.raises(SmtpLoginFailed):  # what one refused login costs the server
        authenticate(host=channel.host, port=channel.port, security="none",
                     username=channel.username, password="wrong")  # fmt: skip
    one_login = stats()["auth_failures"]
    assert one_login >= 1

    result = drain(channel)

    assert result.failed == 3
    assert {e.status for e in OutboundEmail.objects.filter(pk__in=[e.pk for e in emails])} == {
        OutboundEmail.Status.FAILED
    }
    # The server was asked once, not once per email (servers lock out repeated bad logins).
    assert stats()["auth_failures"] == 2 * one_login
    client.force_login(rep)
    page = client.get(reverse("email_settings")).content.decode()
    assert AUTH_FAILED_REASON in page  # Email settings says what is wrong with the channel

    # The password is fixed at the server's side (no change in Mailroom): sending works
    # again and the channel's error goes away by itself.
    channel.refresh_from_db()
    assert channel.last_error == AUTH_FAILED_REASON
    channel.password = "sandbox"
    channel.save(update_fields=["password"])
    email_retry(email=emails[0])
    assert drain(channel).sent == 1
    channel.refresh_from_db()
    assert channel.last_error == ""


def test_recipient_refused_at_rcpt_is_a_hard_bounce(sandbox, rep):
    channel = smtp_channel(sandbox, owner=rep)
    prospect = ProspectFactory(organization=rep.organization, email="bounce.ana@customer.test")
    email = _compose(rep, prospect)

    result = drain(channel)

    email.refresh_from_db()
    prospect.refresh_from_db()
    assert result.bounced == 1
    assert email.status == OutboundEmail.Status.BOUNCED
    bounce = Bounce.objects.get(outbound_email=email)
    assert bounce.is_hard
    assert bounce.status_code.startswith("5.1")
    assert prospect.email_status == Prospect.EmailStatus.INVALID
    assert smtp_received(sandbox) == []


def test_unreachable_server_retries_with_backoff_then_fails(sandbox, rep):
    channel = smtp_channel(sandbox, owner=rep)
    channel.port = 1  # nothing listens there
    channel.save(update_fields=["port"])
    email = email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hi")

    drain(channel)
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.QUEUED
    assert email.attempts == 1
    first_wait = email.next_attempt_at - timezone.now()
    assert timedelta(seconds=20) < first_wait < timedelta(seconds=40)
    assert "Could not connect" in email.waiting_reason

    # Not due yet: nothing happens.
    assert drain(channel).waiting == 0

    waits = [first_wait]
    for _ in range(MAX_ATTEMPTS - 1):
        with time_machine.travel(email.next_attempt_at + timedelta(seconds=1), tick=False):
            before = timezone.now()
            drain(channel)
            email.refresh_from_db()
            if email.status == OutboundEmail.Status.QUEUED:
                waits.append(email.next_attempt_at - before)
    assert email.status == OutboundEmail.Status.FAILED
    assert email.failure_reason.startswith(f"Gave up after {MAX_ATTEMPTS} tries")
    assert waits == sorted(waits)  # backoff grows


def test_a_non_ascii_smtp_password_logs_in(sandbox, rep):
    sandbox.client.add_smtp_user("mailroom", "pässwörd-€")
    channel = smtp_channel(sandbox, owner=rep, password="pässwörd-€")
    email = email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hello")

    drain(channel)

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT, email.failure_reason
    authenticate(
        host=sandbox.smtp_host, port=sandbox.smtp_port, security="starttls",
        username="mailroom", password="pässwörd-€",
    )  # fmt: skip


def test_an_internationalized_domain_goes_out_in_idna_form_in_header_and_envelope(sandbox, rep):
    channel = smtp_channel(sandbox, owner=rep)
    email = email_enqueue(sender=rep, to_address="ann@bücher.de", subject="Hi", body="Hello")

    drain(channel)

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT, email.failure_reason
    [record] = sandbox.client.smtp_messages()
    assert record["rcpt_tos"] == ["ann@xn--bcher-kva.de"]
    [received] = smtp_received(sandbox)
    assert received["To"] == "ann@xn--bcher-kva.de"


def test_a_non_ascii_local_part_goes_by_smtputf8_when_the_server_offers_it(sandbox):
    sandbox.client.add_smtp_user("mailroom", "sandbox")
    server = SmtpServer(
        host=sandbox.smtp_host, port=sandbox.smtp_port, security="starttls",
        username="mailroom", password="sandbox", checked=True,
    )  # fmt: skip
    raw = "To: jörg@xn--bcher-kva.de\r\nSubject: Hi\r\n\r\nHello\r\n".encode()

    smtp.send(
        server=server, raw_message=raw, envelope_from="rep@acme.test",
        recipients=["jörg@xn--bcher-kva.de"],
    )  # fmt: skip
    smtp.close_connections()

    [record] = sandbox.client.smtp_messages()
    assert record["rcpt_tos"] == ["jörg@xn--bcher-kva.de"]
    assert record["raw_bytes"].endswith(raw)


def test_a_non_ascii_local_part_is_refused_at_compose_with_a_reason(sandbox, rep):
    smtp_channel(sandbox, owner=rep)

    with pytest.raises(ValidationError, match="non-ASCII characters before the @"):
        email_enqueue(sender=rep, to_address="jörg@bücher.de", subject="Hi", body="Hello")

    assert OutboundEmail.objects.count() == 0


def test_exchange_online_basic_auth_refusal_tells_the_rep_to_connect_outlook(sandbox, rep):
    sandbox.client.settings(smtp_basic_auth=False)
    smtp.close_connections()  # no connection kept from an earlier test
    channel = smtp_channel(sandbox, owner=rep)
    email = email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hello")

    drain(channel)

    email.refresh_from_db()
    assert "Connect Outlook" in email.failure_reason, (email.status, email.waiting_reason)
    assert "update your SMTP credentials" not in (email.failure_reason + email.waiting_reason)
    with pytest.raises(SmtpLoginFailed, match="use Connect Outlook"):
        authenticate(
            host=sandbox.smtp_host, port=sandbox.smtp_port, security="starttls",
            username="mailroom", password="sandbox",
        )  # fmt: skip


def test_a_submission_server_offers_auth_only_after_starttls(sandbox, rep):
    sandbox.client.settings(smtp_submission=True)
    smtp.close_connections()  # no connection kept from an earlier test

    with pytest.raises(SmtpLoginFailed):
        authenticate(
            host=sandbox.smtp_host, port=sandbox.smtp_port, security="none",
            username="mailroom", password="sandbox",
        )  # fmt: skip
    authenticate(
        host=sandbox.smtp_host, port=sandbox.smtp_port, security="starttls",
        username="mailroom", password="sandbox",
    )  # fmt: skip
    channel = smtp_channel(sandbox, owner=rep)  # STARTTLS
    email = email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hello")
    drain(channel)
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT, email.failure_reason


def test_a_non_ascii_local_part_is_refused_with_a_reason_when_smtputf8_is_not_offered(sandbox):
    sandbox.client.settings(smtp_smtputf8=False)
    smtp.close_connections()  # no connection kept from an earlier test
    server = SmtpServer(
        host=sandbox.smtp_host, port=sandbox.smtp_port, security="starttls",
        username="mailroom", password="sandbox", checked=True,
    )  # fmt: skip

    with pytest.raises(PermanentProviderError, match="does not offer SMTPUTF8"):
        smtp.send(
            server=server, raw_message=b"Subject: Hi\r\n\r\nHello\r\n",
            envelope_from="rep@acme.test", recipients=["jörg@xn--bcher-kva.de"],
        )  # fmt: skip
    smtp.close_connections()

    assert sandbox.client.smtp_messages() == []
