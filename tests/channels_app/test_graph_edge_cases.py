"""Graph edge cases (issue 11, item 6), against the sandbox injecting Graph's own error shapes:
a stored delta link refused with an unexpected 4xx resyncs (once per poll, never a loop); a
mailbox hosted on-premises (MailboxNotEnabledForRESTAPI) is refused at connect and explained
at send; ErrorQuotaExceeded is a full mailbox, not a sending limit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bounces.models import Bounce
from bounces.polling import channel_poll
from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail
from outreach.services import email_enqueue
from tests.bounces.poll_helpers import connect, send
from tests.channels_app.test_granular_consent import connect_unticking, messages_of
from tests.factories import OutboundEmailFactory, ProspectFactory
from tests.outreach.send_helpers import choose, drain, mailbox_sent

Kind = DeliveryChannel.Kind


def _poll(channel):
    report = channel_poll(channel_id=channel.pk, ignore_backoff=True)
    channel.refresh_from_db()
    return report


def _outlook(sandbox, rep):
    channel = connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    assert _poll(channel).outcome == "ok"  # the first round stores a delta link
    return channel


def _bounced_email(sandbox, rep, channel):
    prospect = ProspectFactory(
        organization=rep.organization, owner=rep, email="bounce.lee@acme-prospect.test"
    )
    email = OutboundEmailFactory(
        sender=rep, prospect=prospect, status=OutboundEmail.Status.SENDING, message_id=None
    )
    return send(channel, email)


def _delta_calls(sandbox, rep) -> int:
    return sandbox.client.calls("microsoft", rep.email).get("graph.delta", 0)


@pytest.mark.parametrize(
    ("status", "code"), [(400, "ErrorInvalidUrlQuery"), (404, "ErrorItemNotFound")]
)
def test_a_stored_delta_link_refused_with_another_4xx_resyncs_and_finds_the_bounce(
    sandbox, rep, status, code
):
    channel = _outlook(sandbox, rep)
    old_link = channel.graph_delta_link
    email = _bounced_email(sandbox, rep, channel)
    sandbox.client.add_fault("microsoft", rep.email, status, endpoint="graph.delta", code=code)

    report = _poll(channel)

    assert report.outcome == "ok" and report.resynced
    assert Bounce.objects.get().outbound_email == email
    assert channel.graph_delta_link and channel.graph_delta_link != old_link


def test_a_resync_refused_as_well_fails_the_poll_instead_of_looping(sandbox, rep):
    channel = _outlook(sandbox, rep)
    sandbox.client.reset_calls("microsoft", rep.email)
    sandbox.client.add_fault(
        "microsoft", rep.email, 400, count=50, endpoint="graph.delta", code="ErrorInvalidUrlQuery"
    )

    report = _poll(channel)

    assert report.outcome == "failed"
    assert _delta_calls(sandbox, rep) == 2  # the stored link, then one fresh round
    assert "ErrorInvalidUrlQuery" in channel.last_poll_result or "parameters" in (
        channel.last_poll_result
    )


def test_a_full_mailbox_at_poll_says_so(sandbox, rep):
    channel = _outlook(sandbox, rep)
    sandbox.client.add_fault(
        "microsoft", rep.email, 403, count=50, endpoint="graph.delta", code="ErrorQuotaExceeded"
    )

    report = _poll(channel)

    assert report.outcome == "failed"
    assert channel.last_poll_result.startswith("The Outlook mailbox is full")
    assert channel.status == DeliveryChannel.Status.CONNECTED


def test_a_full_mailbox_at_send_fails_the_batch_with_the_reason_and_does_not_pause(sandbox, rep):
    channel = connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    choose(rep, channel)
    sandbox.client.reset_calls("microsoft", rep.email)
    sandbox.client.add_fault(
        "microsoft",
        rep.email,
        403,
        count=50,
        endpoint="graph.sendMail",
        code="ErrorQuotaExceeded",
    )
    emails = [
        email_enqueue(sender=rep, to_address=f"ana{i}@customer.test", subject="Hi", body="Hi")
        for i in range(2)
    ]

    drain(channel)

    channel.refresh_from_db()
    for email in emails:
        email.refresh_from_db()
        assert email.status == OutboundEmail.Status.FAILED
        assert email.failure_reason.startswith("The Outlook mailbox is full")
        assert "Free up space" in email.failure_reason
    assert sandbox.client.calls("microsoft", rep.email)["graph.sendMail"] == 1
    assert channel.sending_paused_until is None  # not a sending limit: waiting does not help
    assert channel.last_error.startswith("The Outlook mailbox is full")


def test_a_mailbox_hosted_on_premises_is_refused_at_connect_with_what_to_use(client, rep, sandbox):
    sandbox.client.ensure_mailbox("microsoft", rep.email)
    sandbox.client.add_fault(
        "microsoft",
        rep.email,
        404,
        count=50,
        endpoint="graph.messages",
        code="MailboxNotEnabledForRESTAPI",
    )
    client.force_login(rep)

    page = connect_unticking(client, "microsoft", rep.email, untick=set())

    text = messages_of(page)
    assert "Outlook was not connected: This Microsoft account's mailbox is not in Exchange" in text
    assert "Use Exchange On-Prem in Email settings instead." in text
    assert not DeliveryChannel.objects.filter(owner=rep).exists()


def test_a_mailbox_hosted_on_premises_at_send_says_to_use_exchange_on_prem(sandbox, rep):
    channel = connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    choose(rep, channel)
    sandbox.client.add_fault(
        "microsoft",
        rep.email,
        404,
        count=50,
        endpoint="graph.sendMail",
        code="MailboxNotEnabledForRESTAPI",
    )
    email = email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hi")

    drain(channel)

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.FAILED
    assert email.failure_reason.endswith("Use Exchange On-Prem in Email settings instead.")
    assert mailbox_sent(sandbox, "microsoft", rep.email) == []


def test_a_connected_mailbox_that_passes_the_check_connects(client, rep, sandbox):
    """The connect-time check costs one read and does not get in the way."""
    client.force_login(rep)
    page = connect_unticking(client, "microsoft", rep.email, untick=set())
    assert f"Outlook connected: {rep.email}." in messages_of(page)
    assert sandbox.client.calls("microsoft", rep.email)["graph.messages.list"] == 1
    assert timezone.now() - DeliveryChannel.objects.get(owner=rep).connected_at < timedelta(
        minutes=1
    )
