"""Gmail API and Microsoft Graph sending end to end through the sandbox: Message-IDs, token
refresh, invalid_grant (mail waits for the reconnect), 429 Retry-After, provider quotas."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from analytics.models import FeedEvent
from channels_app.models import DeliveryChannel
from channels_app.sending import services as sending_services
from channels_app.services import channel_connect_oauth
from outreach.email_token import email_header_token
from outreach.models import OutboundEmail
from outreach.services import email_enqueue
from tests.outreach.send_helpers import drain, mailbox_sent, oauth_channel, oauth_grant

Kind = DeliveryChannel.Kind
PROVIDER = {Kind.GMAIL: "google", Kind.EXCHANGE_ONLINE: "microsoft"}


def _email(rep, to="ana@customer.test"):
    return email_enqueue(sender=rep, to_address=to, subject="Quick question", body="Hi Ana")


@pytest.mark.parametrize("kind", [Kind.GMAIL, Kind.EXCHANGE_ONLINE])
def test_mailbox_send_carries_mailroom_message_id(sandbox, rep, kind):
    channel = oauth_channel(sandbox, owner=rep, kind=kind)
    email = _email(rep)

    drain(channel)

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    assert email.channel_kind == kind
    [sent] = mailbox_sent(sandbox, PROVIDER[kind], rep.email)
    assert sent["Message-ID"] == email.message_id
    assert sent["X-Mailroom-Email-Id"] == email_header_token(email_id=email.pk)
    assert sent["To"] == "ana@customer.test"
    if kind == Kind.GMAIL:
        assert email.provider_message_id


@pytest.mark.parametrize("kind", [Kind.GMAIL, Kind.EXCHANGE_ONLINE])
def test_expired_access_token_is_refreshed_and_the_send_retried_once(sandbox, rep, kind):
    channel = oauth_channel(sandbox, owner=rep, kind=kind)
    old_token = channel.access_token
    sandbox.client.expire_access_tokens(PROVIDER[kind], rep.email)  # Mailroom still trusts it
    email = _email(rep)

    drain(channel)

    email.refresh_from_db()
    channel.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    assert channel.access_token != old_token
    assert len(mailbox_sent(sandbox, PROVIDER[kind], rep.email)) == 1


@pytest.mark.parametrize("kind", [Kind.GMAIL, Kind.EXCHANGE_ONLINE])
def test_invalid_grant_makes_mail_wait_for_the_reconnect_then_it_goes(sandbox, rep, kind):
    channel = oauth_channel(sandbox, owner=rep, kind=kind)
    sandbox.client.revoke(PROVIDER[kind], rep.email)
    first, second = _email(rep), _email(rep, to="ben@customer.test")

    drain(channel)

    channel.refresh_from_db()
    assert channel.status == DeliveryChannel.Status.NEEDS_RECONNECT
    for email in (first, second):
        email.refresh_from_db()
        assert email.status == OutboundEmail.Status.QUEUED  # waits, never failed
        assert email.failure_reason == ""
    assert "reconnect" in first.waiting_reason.lower()
    assert FeedEvent.objects.filter(user=rep, kind="channel_needs_reconnect").exists()
    assert drain(channel).sent == 0  # still waiting

    provider = PROVIDER[kind]
    grant = oauth_grant(sandbox, kind=kind, address=rep.email)
    channel_connect_oauth(
        user=rep,
        kind=kind,
        provider_account_id="id-1",
        mailbox_address=rep.email,
        access_token=grant["access_token"],
        refresh_token=grant["refresh_token"],
        expires_at=timezone.now() + timedelta(minutes=50),
        scopes=channel.scopes,
    )
    drain(channel)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == OutboundEmail.Status.SENT
    sent_ids = {m["Message-ID"] for m in mailbox_sent(sandbox, provider, rep.email)}
    assert sent_ids == {first.message_id, second.message_id}


@pytest.mark.parametrize("kind", [Kind.GMAIL, Kind.EXCHANGE_ONLINE])
def test_429_honours_retry_after_for_the_whole_mailbox(sandbox, rep, kind):
    channel = oauth_channel(sandbox, owner=rep, kind=kind)
    sandbox.client.add_fault(PROVIDER[kind], rep.email, 429, retry_after=120, endpoint="")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first, second = _email(rep), _email(rep, to="ben@customer.test")
        drain(channel)
        for email in (first, second):
            email.refresh_from_db()
            assert email.status == OutboundEmail.Status.THROTTLED
            assert email.next_attempt_at == start + timedelta(seconds=120)
        assert first.attempts == 0  # being told to wait is not a failed try
    with time_machine.travel(start + timedelta(seconds=60), tick=False):
        assert drain(channel).sent == 0
    with time_machine.travel(start + timedelta(seconds=121), tick=False):
        drain(channel)
    for email in (first, second):
        email.refresh_from_db()
        assert email.status == OutboundEmail.Status.SENT
    assert len(mailbox_sent(sandbox, PROVIDER[kind], rep.email)) == 2


def test_gmail_403_rate_limit_retries_the_send_instead_of_failing_it(sandbox, rep):
    """Google documents 403 userRateLimitExceeded as "retry with exponential backoff"."""
    channel = oauth_channel(sandbox, owner=rep, kind=Kind.GMAIL)
    sandbox.client.add_fault("google", rep.email, 403, endpoint="gmail.messages.send")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        email = _email(rep)
        drain(channel)
        email.refresh_from_db()
        assert email.status == OutboundEmail.Status.THROTTLED
        assert email.failure_reason == ""
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        drain(channel)
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    assert len(mailbox_sent(sandbox, "google", rep.email)) == 1


@pytest.mark.parametrize("kind", [Kind.GMAIL, Kind.EXCHANGE_ONLINE])
def test_provider_quota_exhausted_pauses_the_mailbox_until_it_resumes(sandbox, rep, kind):
    channel = oauth_channel(sandbox, owner=rep, kind=kind)
    sandbox.client.set_send_limit(PROVIDER[kind], rep.email, 1, clear_window=True)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first = _email(rep)
        second = _email(rep, to="ben@customer.test")
        drain(channel)
        first.refresh_from_db()
        second.refresh_from_db()
        channel.refresh_from_db()
        assert first.status == OutboundEmail.Status.SENT
        assert second.status == OutboundEmail.Status.THROTTLED
        assert second.failure_reason == ""
        assert "paused" in second.waiting_reason.lower()
        assert channel.sending_paused_until > start
        assert channel.sending_paused_reason
        assert FeedEvent.objects.filter(user=rep, kind="mailbox_paused").count() == 1
        assert drain(channel).sent == 0
    sandbox.client.set_send_limit(PROVIDER[kind], rep.email, 2000, clear_window=True)
    with time_machine.travel(channel.sending_paused_until + timedelta(seconds=1), tick=False):
        drain(channel)
    second.refresh_from_db()
    channel.refresh_from_db()
    assert second.status == OutboundEmail.Status.SENT
    assert channel.sending_paused_until is None


@pytest.mark.django_db(transaction=True)
def test_a_token_refreshed_inside_a_fast_committing_drain_is_committed_durably(
    sandbox, rep, monkeypatch
):
    """A drain commits its sends without waiting for the WAL flush, but not a refreshed token:
    Microsoft rotates the refresh token, and losing the new one to a database crash would
    force the rep to reconnect."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is a PostgreSQL setting")

    def synchronous_commit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    server_default = synchronous_commit()
    channel = oauth_channel(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    DeliveryChannel.objects.filter(pk=channel.pk).update(token_expires_at=timezone.now())
    seen: list[tuple[str, str]] = []
    real_save = DeliveryChannel.save

    def save(self, *args, **kwargs):
        if "access_token" in (kwargs.get("update_fields") or ()):
            seen.append(("token saved", synchronous_commit()))
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(DeliveryChannel, "save", save)
    real_deliver = sending_services.email_deliver

    def deliver(**kwargs):
        seen.append(("send", synchronous_commit()))
        return real_deliver(**kwargs)

    monkeypatch.setattr("channels_app.sending.services.email_deliver", deliver)

    email = _email(rep)  # committed: the queue's drain runs (eagerly, in tests) and sends it
    drain(channel)

    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    # The drain commits fast; the token refresh inside the send waits for the flush.
    assert seen == [("send", "off"), ("token saved", server_default)]
    assert synchronous_commit() == server_default  # the session is left as it was
