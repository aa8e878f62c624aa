"""The reason of a bounce, in words, beside its code: on the Bounces page, in the live feed,
in the outbox's "Why / what happened" column and in the Django admin (column and filter).
Bounces arrive the way they do in production: polled from the sandbox's mailbox, or refused
by the SMTP server at send time."""

import pytest
from django.urls import reverse

from bounces.models import Bounce
from bounces.polling import channel_poll
from bounces.services import bounce_record_send_rejection
from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail
from tests.bounces.poll_helpers import connect, send
from tests.factories import DeliveryChannelFactory, OutboundEmailFactory, ProspectFactory

BOTH = pytest.mark.parametrize(
    "kind", [DeliveryChannel.Kind.GMAIL, DeliveryChannel.Kind.EXCHANGE_ONLINE]
)


def _polled_bounce(sandbox, rep, kind, address):
    channel = connect(sandbox, owner=rep, kind=kind)
    channel_poll(channel_id=channel.pk)  # the first sync sets the cursor
    prospect = ProspectFactory(organization=rep.organization, owner=rep, email=address)
    email = OutboundEmailFactory(
        sender=rep, prospect=prospect, status=OutboundEmail.Status.SENDING, message_id=None
    )
    send(channel, email)
    channel_poll(channel_id=channel.pk)
    return Bounce.objects.get(recipient=address)


@pytest.fixture
def channel(rep):
    return DeliveryChannelFactory(owner=rep, mailbox_address="rep@acme.test")


@BOTH
def test_unknown_address_is_said_in_words_on_every_page(client, sandbox, rep, kind):
    bounce = _polled_bounce(sandbox, rep, kind, "bounce.ana@acme-prospect.test")
    assert bounce.reason == "user_unknown"
    client.force_login(rep)

    bounces_page = client.get(reverse("bounces")).content.decode()
    assert f'<code>{bounce.status_code}</code><div class="small">Address does not exist' in (
        bounces_page
    )
    feed = client.get(reverse("feed")).content.decode()
    assert f"bounced: Address does not exist ({bounce.status_code})" in feed
    assert "What the server said" in feed
    outbox = client.get(reverse("outbox") + "?tab=bounced").content.decode()
    assert "Hard bounce: Address does not exist — " in outbox
    assert bounce.status_code in outbox


@BOTH
def test_full_mailbox_is_told_apart_from_a_bad_address(client, sandbox, rep, kind):
    bounce = _polled_bounce(sandbox, rep, kind, "mailboxfull.bo@acme-prospect.test")
    assert bounce.reason == "mailbox_full"
    client.force_login(rep)
    bounces_page = client.get(reverse("bounces")).content.decode()
    assert "Mailbox full" in bounces_page
    assert "Address does not exist" not in bounces_page
    outbox = client.get(reverse("outbox") + "?tab=bounced").content.decode()
    assert "Soft bounce: Mailbox full — " in outbox


def test_send_time_refusal_opens_the_outbox_reason_with_the_words(client, rep, channel):
    email = OutboundEmailFactory(
        sender=rep,
        channel=channel,
        status=OutboundEmail.Status.BOUNCED,
        failure_reason="Rejected at send time: The server refused bo@x.test: 550 5.1.1 ...",
    )
    bounce_record_send_rejection(
        email=email,
        recipient=email.to_address,
        status="5.1.1",
        diagnostic="550 5.1.1 <bo@x.test>: Recipient address rejected: User unknown",
        hard=True,
    )
    email.refresh_from_db()
    assert email.failure_reason.startswith("Address does not exist — Rejected at send time: ")
    assert Bounce.objects.get().reason == "user_unknown"
    client.force_login(rep)
    outbox = client.get(reverse("outbox") + "?tab=bounced").content.decode()
    assert "Address does not exist — Rejected at send time" in outbox


def test_admin_lists_and_filters_bounces_by_reason(admin_client, rep, channel):
    for address, status, said in (
        ("gone@x.test", "5.1.1", "550 5.1.1 user unknown"),
        ("full@x.test", "5.2.2", "552 5.2.2 mailbox full"),
    ):
        bounce_record_send_rejection(
            email=OutboundEmailFactory(sender=rep, channel=channel, to_address=address),
            recipient=address,
            status=status,
            diagnostic=said,
            hard=status == "5.1.1",
        )
    changelist = reverse("admin:bounces_bounce_changelist")
    listing = admin_client.get(changelist).content.decode()
    assert "Address does not exist" in listing and "Mailbox full" in listing

    only_full = admin_client.get(changelist + "?reason=mailbox_full").content.decode()
    assert "full@x.test" in only_full
    assert "gone@x.test" not in only_full
