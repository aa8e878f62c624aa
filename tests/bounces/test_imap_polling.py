"""Bounce and reply tracking for SMTP channels with an IMAP mailbox: the poller reads the
folder read-only (EXAMINE, BODY.PEEK[]), by UID from its cursor, and a bounce an MTA drops into
the mailbox becomes a Bounce of the email. Run against Dovecot (a real server nobody here
wrote) and the sandbox's IMAP server, which must agree."""

from __future__ import annotations

import imaplib
import uuid

import pytest
from django.test import override_settings
from django.utils import timezone

from analytics.models import FeedEvent
from bounces.models import Bounce, InboxMessage
from bounces.polling import channel_ids_due, channel_poll
from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail
from tests.bounces.poll_helpers import dsn_for
from tests.dovecot import PASSWORD
from tests.factories import OutboundEmailFactory, ProspectFactory

Kind = DeliveryChannel.Kind


def team_smtp(org, *, peer, mailbox, security="none", port=None) -> DeliveryChannel:
    return DeliveryChannel.objects.create(
        organization=org,
        kind=Kind.CUSTOM_SMTP,
        is_team_default=True,
        host="smtp.acme.test",
        port=587,
        security="starttls",
        username="mailroom",
        password="smtp-secret",  # noqa: S106
        imap_host=peer.host,
        imap_port=port or peer.port,
        imap_security=security,
        imap_username=mailbox,
        imap_password=PASSWORD,
    )


def sent_email(channel, rep, *, to="ana@northwind.test") -> OutboundEmail:
    prospect = ProspectFactory(organization=rep.organization, owner=rep, email=to)
    return OutboundEmailFactory(
        sender=rep,
        prospect=prospect,
        channel=channel,
        channel_kind=Kind.CUSTOM_SMTP,
        message_id=f"<mr.{uuid.uuid4().hex}@acme.test>",
        status=OutboundEmail.Status.SENT,
        sent_at=timezone.now(),
    )


def bounce_of(email: OutboundEmail, *, mailbox: str) -> bytes:
    return dsn_for(
        mailbox=mailbox,
        recipient=email.to_address,
        returned_headers=f"Message-ID: {email.message_id}\r\nTo: {email.to_address}\r\n",
    )


def poll(channel: DeliveryChannel):
    report = channel_poll(channel_id=channel.pk)
    channel.refresh_from_db()
    return report


def seen_flags(peer, mailbox: str) -> list[bool]:
    """Whether each message of the mailbox is marked read, asked by a client of our own."""
    connection = imaplib.IMAP4(peer.host, peer.port)
    try:
        connection.login(mailbox, PASSWORD)
        connection.select("INBOX", readonly=True)
        _, data = connection.fetch("1:*", "(FLAGS)")
        return [b"\\Seen" in line for line in data if isinstance(line, bytes) and line]
    finally:
        connection.logout()


def test_a_bounce_in_the_mailbox_becomes_a_bounce_of_the_email(peer, mailbox, org, rep):
    channel = team_smtp(org, peer=peer, mailbox=mailbox)
    assert channel.pk in list(channel_ids_due())
    email = sent_email(channel, rep)
    peer.deliver(mailbox, bounce_of(email, mailbox=mailbox))

    report = poll(channel)

    assert report.outcome == "ok", report.detail
    assert report.messages_processed == 1
    bounce = Bounce.objects.get()
    assert bounce.outbound_email == email
    assert bounce.status_code == "5.1.1" and bounce.is_hard
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.BOUNCED
    assert FeedEvent.objects.filter(user=rep, kind=FeedEvent.Kind.BOUNCED).exists()
    assert channel.imap_cursor.endswith(":1")
    # Read-only: the bounce is still unread in the mailbox.
    assert seen_flags(peer, mailbox) == [False]

    again = poll(channel)
    assert again.outcome == "ok" and again.messages_seen == 0
    assert Bounce.objects.count() == 1


def test_only_new_uids_are_read_and_replies_are_tracked_too(peer, mailbox, org, rep):
    channel = team_smtp(org, peer=peer, mailbox=mailbox)
    first = sent_email(channel, rep)
    peer.deliver(mailbox, bounce_of(first, mailbox=mailbox))
    poll(channel)
    other = sent_email(channel, rep, to="bo@initech.test")
    peer.deliver(
        mailbox,
        (
            f"From: Bo <bo@initech.test>\r\nTo: {mailbox}\r\nSubject: Re: {other.subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@initech.test>\r\n"
            f"In-Reply-To: {other.message_id}\r\nReferences: {other.message_id}\r\n\r\n"
            "Sounds good, let's talk on Tuesday.\r\n"
        ).encode(),
    )

    report = poll(channel)

    assert report.outcome == "ok", report.detail
    assert report.messages_seen == 1 and report.messages_processed == 1
    other.refresh_from_db()
    assert other.replied_at is not None
    assert FeedEvent.objects.filter(user=rep, kind=FeedEvent.Kind.REPLIED).count() == 1
    assert channel.imap_cursor.endswith(":2")


def test_a_new_uidvalidity_rescans_without_recording_anything_twice(peer, mailbox, org, rep):
    channel = team_smtp(org, peer=peer, mailbox=mailbox)
    email = sent_email(channel, rep)
    peer.deliver(mailbox, bounce_of(email, mailbox=mailbox))
    poll(channel)
    validity = channel.imap_cursor.split(":")[0]

    peer.rebuild(mailbox)
    later = sent_email(channel, rep, to="cy@globex.test")
    peer.deliver(mailbox, bounce_of(later, mailbox=mailbox))
    report = poll(channel)

    assert report.outcome == "ok", report.detail
    assert report.resynced
    assert channel.imap_cursor.split(":")[0] != validity
    assert InboxMessage.objects.filter(channel=channel).count() == 2
    assert sorted(b.outbound_email.to_address for b in Bounce.objects.all()) == [
        "ana@northwind.test",
        "cy@globex.test",
    ]


def test_a_refused_login_fails_the_poll_with_the_servers_words(peer, mailbox, org):
    channel = team_smtp(org, peer=peer, mailbox=mailbox)
    DeliveryChannel.objects.filter(pk=channel.pk).update(imap_password="wrong")

    report = poll(channel)

    assert report.outcome == "failed"
    assert "refused the IMAP login" in channel.last_poll_result
    assert channel.poll_backoff_until is not None
    assert channel.imap_cursor == ""


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_dovecot_over_tls(dovecot, org, rep, security):  # noqa: F811 - the fixture
    address = f"tls.{uuid.uuid4().hex[:8]}@acme.test"
    dovecot.add_user(address, PASSWORD)
    port = dovecot.ssl_port if security == "ssl" else dovecot.port
    channel = team_smtp(org, peer=dovecot, mailbox=address, security=security, port=port)
    email = sent_email(channel, rep)
    dovecot.deliver(address, bounce_of(email, mailbox=address))

    with override_settings(MAILROOM_PROVIDER_CA_BUNDLE=dovecot.ca_file):
        report = poll(channel)

    assert report.outcome == "ok", report.detail
    assert Bounce.objects.get().outbound_email == email


def test_a_message_that_cannot_be_fetched_holds_the_cursor_back(sandbox, sandbox_imap, org, rep):
    imap_server = sandbox_imap
    mailbox = f"bounces.{uuid.uuid4().hex[:8]}@acme.test"
    imap_server.add_user(mailbox, PASSWORD)
    channel = team_smtp(org, peer=imap_server, mailbox=mailbox)
    first = sent_email(channel, rep)
    imap_server.deliver(mailbox, bounce_of(first, mailbox=mailbox))
    poll(channel)
    validity = channel.imap_cursor.split(":")[0]
    later = [sent_email(channel, rep, to=f"p{i}@globex.test") for i in range(2)]
    for email in later:
        imap_server.deliver(mailbox, bounce_of(email, mailbox=mailbox))
    sandbox.client.imap_fault(mailbox, "FETCH BODY[]")

    stopped = poll(channel)

    assert stopped.outcome == "backoff"
    assert "could not be read for now" in channel.last_poll_result
    assert channel.imap_cursor == f"{validity}:1"  # not past the message it could not read
    assert Bounce.objects.count() == 1

    report = channel_poll(channel_id=channel.pk, ignore_backoff=True)
    channel.refresh_from_db()

    assert report.outcome == "ok", report.detail
    assert channel.imap_cursor == f"{validity}:3"
    assert Bounce.objects.count() == 3
    assert sandbox.client.imap_mailbox(mailbox)["mutation_attempts"] == []
