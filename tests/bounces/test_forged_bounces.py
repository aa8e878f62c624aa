"""A forged bounce cannot invalidate another mailbox's prospect: correlation matches only emails
sent from the mailbox that received the bounce, and X-Mailroom-Email-Id carries a signed token
instead of the guessable sequential id."""

import pytest
from django.utils import timezone

from bounces.models import Bounce
from bounces.services import inbox_message_process, inbox_message_store
from channels_app.models import DeliveryChannel
from outreach.email_token import email_header_id, email_header_token
from outreach.models import OutboundEmail, Prospect
from tests.bounces.poll_helpers import dsn_for
from tests.factories import (
    DeliveryChannelFactory,
    OutboundEmailFactory,
    ProspectFactory,
    UserFactory,
)


def _deliver_bounce(channel, *, recipient: str, returned_headers: str) -> Bounce:
    raw = dsn_for(
        mailbox=channel.mailbox_address, recipient=recipient, returned_headers=returned_headers
    )
    message = inbox_message_store(
        channel=channel,
        provider_message_id=f"m-{Bounce.objects.count()}-{recipient}",
        raw=raw,
        received_at=timezone.now(),
    )
    assert inbox_message_process(inbox_message_id=message.pk) is not None
    return Bounce.objects.get(inbox_message=message)


@pytest.fixture
def victim(org, team):
    """Another rep's mailbox and an email it sent to a prospect."""
    other_rep = UserFactory(organization=org, team=team, email="rep2@acme.test")
    mailbox = DeliveryChannelFactory(
        owner=other_rep, kind=DeliveryChannel.Kind.GMAIL, mailbox_address=other_rep.email
    )
    prospect = ProspectFactory(organization=org, owner=other_rep, email="ana@customer.test")
    email = OutboundEmailFactory(
        sender=other_rep, channel=mailbox, prospect=prospect, to_address=prospect.email
    )
    return email


@pytest.fixture
def attacked(rep):
    return DeliveryChannelFactory(
        owner=rep, kind=DeliveryChannel.Kind.GMAIL, mailbox_address=rep.email
    )


@pytest.mark.parametrize("header", ["bare id", "signed token", "Message-ID"])
def test_a_forged_bounce_in_another_mailbox_has_no_effect(attacked, victim, header):
    returned = {
        "bare id": f"X-Mailroom-Email-Id: {victim.pk}\r\n",
        # Even a token copied from a real email counts only in the mailbox that sent it.
        "signed token": f"X-Mailroom-Email-Id: {email_header_token(email_id=victim.pk)}\r\n",
        "Message-ID": f"Message-ID: {victim.message_id}\r\n",
    }[header]

    bounce = _deliver_bounce(attacked, recipient=victim.to_address, returned_headers=returned)

    assert bounce.outbound_email is None and bounce.matched_by == Bounce.MatchedBy.UNMATCHED
    victim.refresh_from_db()
    assert victim.status == OutboundEmail.Status.SENT
    assert victim.prospect.email_status != Prospect.EmailStatus.INVALID
    victim.prospect.refresh_from_db()
    assert victim.prospect.email_status != Prospect.EmailStatus.INVALID


def test_a_signed_header_matches_in_the_mailbox_that_sent_the_email(victim):
    token = email_header_token(email_id=victim.pk)
    bounce = _deliver_bounce(
        victim.channel,
        recipient="someone-else@customer.test",  # not the recipient: only the header can match
        returned_headers=f"X-Mailroom-Email-Id: {token}\r\n",
    )
    assert bounce.outbound_email == victim
    assert bounce.matched_by == Bounce.MatchedBy.MAILROOM_HEADER


def test_a_bare_id_from_before_the_signature_still_matches_in_its_own_mailbox(victim):
    bounce = _deliver_bounce(
        victim.channel,
        recipient="someone-else@customer.test",
        returned_headers=f"X-Mailroom-Email-Id: {victim.pk}\r\n",
    )
    assert bounce.outbound_email == victim


def test_a_token_with_a_wrong_signature_names_nothing():
    token = email_header_token(email_id=41)
    assert email_header_id(value=token).email_id == 41
    assert email_header_id(value=token.replace("41:", "42:")) is None
    assert email_header_id(value="41:forged") is None
