"""IMAP IDLE: a holder thread sits in IDLE on an SMTP channel's inbox, and a bounce that
arrives is recorded within seconds by the ordinary poll it triggers; while IDLE is held the
channel is polled only as the safety net. Against Dovecot and the sandbox's server alike."""

import time
import uuid

import pytest

from bounces.idle import NO_IDLE, MailboxIdler
from bounces.models import Bounce
from bounces.polling import channel_ids_due, channel_poll
from channels_app.models import DeliveryChannel
from channels_app.providers import facade as providers
from tests.bounces.test_imap_polling import bounce_of, sent_email, team_smtp
from tests.dovecot import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def _until(condition, *, within: float = 30.0):
    """Wait for something another thread does (not a timing assertion: a generous bound)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_bounce_arriving_during_idle_is_recorded_without_a_poll_cycle(
    peer,
    mailbox,
    org,
    rep,  # noqa: F811
):
    channel = team_smtp(org, peer=peer, mailbox=mailbox)
    channel_poll(channel_id=channel.pk)  # the first sync: the cursor is set
    idler = MailboxIdler(channel.pk, providers.imap_server(channel)).start()
    try:
        assert _until(lambda: DeliveryChannel.objects.get(pk=channel.pk).push_active)
        channel.refresh_from_db()
        assert channel.pk not in list(channel_ids_due())  # polled only as the safety net
        email = sent_email(channel, rep)

        peer.deliver(mailbox, bounce_of(email, mailbox=mailbox))

        assert _until(lambda: Bounce.objects.filter(outbound_email=email).exists())
        # That one may have been caught by the holder's own catch-up poll, which runs once
        # IDLE is up; a bounce arriving after it can only be heard through IDLE.
        later = sent_email(channel, rep, to="bo@northwind.test")
        peer.deliver(mailbox, bounce_of(later, mailbox=mailbox))
        assert _until(lambda: Bounce.objects.filter(outbound_email=later).exists())
        assert _until(lambda: idler.events >= 1)
        channel.refresh_from_db()
        assert channel.push_last_event_at is not None
    finally:
        idler.stop()
    channel.refresh_from_db()
    assert not channel.push_active  # back on the polling cycle at once
    assert channel.pk in list(channel_ids_due())


# What Dovecot announces by default, less IDLE: a real server configured as many are.
DOVECOT_WITHOUT_IDLE = (
    "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ AUTH=PLAIN"
)


@pytest.fixture(params=["dovecot", "sandbox_imap"])
def peer_without_idle(request, sandbox):
    """An IMAP server that does not offer IDLE: Dovecot told not to, or the sandbox's server
    started without it on the sandbox's mailboxes."""
    from sandbox.imap import ImapService
    from tests.bounces.conftest import SandboxImap
    from tests.dovecot import running_dovecot

    if request.param == "dovecot":
        with running_dovecot(extra_config=DOVECOT_WITHOUT_IDLE) as server:
            yield server
        return
    service = ImapService(sandbox.store.imap, offer_idle=False)
    service.start()
    peer = SandboxImap(sandbox)
    peer.port = service.port
    try:
        yield peer
    finally:
        service.stop()


def test_a_server_without_idle_keeps_the_channel_on_the_polling_cycle(peer_without_idle, org, rep):
    peer = peer_without_idle
    mailbox = f"bounces.{uuid.uuid4().hex[:8]}@acme.test"
    peer.add_user(mailbox, PASSWORD)
    channel = team_smtp(org, peer=peer, mailbox=mailbox)
    channel_poll(channel_id=channel.pk)
    idler = MailboxIdler(channel.pk, providers.imap_server(channel)).start()
    try:
        assert _until(lambda: DeliveryChannel.objects.get(pk=channel.pk).push_error == NO_IDLE)
        channel.refresh_from_db()
        assert not channel.push_active
        assert channel.pk in list(channel_ids_due())  # the ordinary 5-minute cycle
        email = sent_email(channel, rep)
        peer.deliver(mailbox, bounce_of(email, mailbox=mailbox))
        channel_poll(channel_id=channel.pk)  # the cycle's poll finds it
        assert Bounce.objects.filter(outbound_email=email).exists()
        assert idler.events == 0
    finally:
        idler.stop()
