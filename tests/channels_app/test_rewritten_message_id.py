"""Issue 11, item 7: Mailroom does not rely on Gmail and Graph keeping its Message-ID. With the
sandbox's providers replacing it by one of their own, a bounce is still tied to the email
that caused it, through the signed X-Mailroom-Email-Id header the bounce returns."""

import pytest

from bounces.models import Bounce
from bounces.polling import channel_poll
from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail
from outreach.services import email_enqueue
from tests.outreach.send_helpers import drain, mailbox_sent, oauth_channel

Kind = DeliveryChannel.Kind
PROVIDER = {Kind.GMAIL: "google", Kind.EXCHANGE_ONLINE: "microsoft"}


@pytest.mark.parametrize("kind", [Kind.GMAIL, Kind.EXCHANGE_ONLINE])
def test_a_bounce_is_matched_when_the_provider_rewrote_the_message_id(sandbox, rep, kind):
    channel = oauth_channel(sandbox, owner=rep, kind=kind)
    assert channel_poll(channel_id=channel.pk, ignore_backoff=True).outcome == "ok"
    sandbox.client.settings(rewrite_message_ids=True)
    email = email_enqueue(
        sender=rep, to_address="bounce.kim@acme-prospect.test", subject="Hello", body="Hi"
    )

    drain(channel)

    email.refresh_from_db()
    [sent] = mailbox_sent(sandbox, PROVIDER[kind], rep.email)
    assert email.status == OutboundEmail.Status.SENT
    assert sent["Message-ID"] != email.message_id  # the provider put its own

    report = channel_poll(channel_id=channel.pk, ignore_backoff=True)

    assert report.outcome == "ok"
    bounce = Bounce.objects.get()
    assert bounce.outbound_email == email
    assert bounce.matched_by == Bounce.MatchedBy.MAILROOM_HEADER
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.BOUNCED
