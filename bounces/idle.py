"""IMAP IDLE for SMTP channels with a mailbox, and EWS streaming notifications for Exchange
On-Prem mailboxes: bounces within seconds, polling kept as the safety net (`manage.py
imap_idle`, one process per installation, like beat; MailboxStreamer below for EWS).

One thread per mailbox holds a connection with the folder EXAMINEd (read-only) and sits in
IDLE (RFC 2177). When the server says a message arrived (`* N EXISTS`), the thread asks for
that mailbox's ordinary incremental poll (bounces.polling.channel_poll_on_push, coalesced like
Gmail's and Graph's pushes): nothing is read from the IDLE session but "look now". IDLE is
re-issued every IDLE_RENEW (servers drop an IDLE after 30 minutes).

While a thread holds IDLE, the channel's push window (`push_expires_at`) is kept a little
ahead, so the poller checks it only once per safety interval; a mailbox whose IDLE broke (the
reason in `push_error`), whose server does not offer IDLE, or whose holder stopped goes back
to the normal polling cycle by itself when the window ends — at once when the holder stops
cleanly."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from django.db import close_old_connections
from django.utils import timezone

from channels_app.exceptions import ProviderError
from channels_app.models import DeliveryChannel
from channels_app.providers import facade as providers
from channels_app.providers import imap
from channels_app.providers.ews_inbox import InboxStream
from channels_app.push import ews_push_enabled

from .polling import channel_poll_on_push

logger = logging.getLogger(__name__)

IDLE_RENEW_SECONDS = 25 * 60
PUSH_WINDOW = timedelta(seconds=IDLE_RENEW_SECONDS + 5 * 60)
RETRY_CAP_SECONDS = 300
NO_IDLE_RECHECK_SECONDS = 3600
NO_IDLE = "The IMAP server does not offer IDLE: checked on the polling cycle"


def _mark(channel_id: int, **fields) -> None:
    DeliveryChannel.objects.filter(pk=channel_id).update(**fields)
    close_old_connections()


def idle_channels() -> dict[int, imap.ImapServer]:
    """The connected SMTP channels with an IMAP inbox, and where that inbox is."""
    channels = DeliveryChannel.objects.filter(
        kind=DeliveryChannel.Kind.CUSTOM_SMTP, status=DeliveryChannel.Status.CONNECTED
    ).exclude(imap_host="")
    found = {}
    for channel in channels:
        server = providers.imap_server(channel)
        if server is not None:
            found[channel.pk] = server
    close_old_connections()
    return found


@dataclass
class MailboxIdler:
    """Holds IDLE on one channel's IMAP folder in its own thread until `stop()`."""

    channel_id: int
    server: imap.ImapServer

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        self.thread = threading.Thread(
            target=self.run, name=f"imap-idle-{self.channel_id}", daemon=True
        )
        self.events = 0  # arrivals the server announced

    def start(self) -> MailboxIdler:
        self.thread.start()
        return self

    def stop(self, *, wait: bool = True) -> None:
        self.stopping.set()
        if wait:
            self.thread.join(timeout=imap.TIMEOUT_SECONDS + 5)

    def run(self) -> None:
        delay = 5.0
        while not self.stopping.is_set():
            try:
                offered = self._hold()
            except imap.ImapFailed as error:
                logger.warning("IMAP IDLE of channel %s: %s", self.channel_id, error.message)
                _mark(self.channel_id, push_error=error.message[:500])
                self.stopping.wait(delay)
                delay = min(delay * 2, RETRY_CAP_SECONDS)
                continue
            except Exception as error:  # a thread that dies would leave the window open
                logger.exception("IMAP IDLE of channel %s failed", self.channel_id)
                _mark(self.channel_id, push_error=f"IDLE failed: {error}"[:500])
                self.stopping.wait(RETRY_CAP_SECONDS)
                continue
            delay = 5.0
            if not offered:
                self.stopping.wait(NO_IDLE_RECHECK_SECONDS)
        _mark(self.channel_id, push_expires_at=None)

    def _hold(self) -> bool:
        """One session: open, IDLE until stopped or the line breaks. False when the server
        does not offer IDLE."""
        connection, _ = imap.open_folder(self.server)
        try:
            if not imap.offers_idle(connection):
                _mark(self.channel_id, push_expires_at=None, push_error=NO_IDLE)
                return False
            line = imap.IdleLine(connection)
            # Anything that arrived while no IDLE was held is fetched now.
            self._live()
            channel_poll_on_push(channel_id=self.channel_id)
            close_old_connections()
            while not self.stopping.is_set():
                arrived = line.wait(seconds=IDLE_RENEW_SECONDS, stop=self.stopping.is_set)
                if arrived:
                    self.events += 1
                    self._live(event=True)
                    channel_poll_on_push(channel_id=self.channel_id)
                    close_old_connections()
                else:
                    self._live()
            return True
        finally:
            imap.close(connection)

    def _live(self, *, event: bool = False) -> None:
        now = timezone.now()
        fields = {"push_expires_at": now + PUSH_WINDOW, "push_error": ""}
        if event:
            fields["push_last_event_at"] = now
        _mark(self.channel_id, **fields)


# Exchange On-Prem: one GetStreamingEvents connection lasts this long (Exchange's maximum),
# then is opened again.
STREAM_MINUTES = 30
STREAM_WINDOW = timedelta(minutes=STREAM_MINUTES + 5)


@dataclass(frozen=True)
class EwsMailbox:
    """Where an Exchange On-Prem channel's mailbox is (compared to notice a change)."""

    ews_url: str
    mailbox_address: str
    username: str
    password: str


def stream_channels() -> dict[int, EwsMailbox]:
    """The connected Exchange On-Prem channels read through EWS, and where their mailbox is;
    none when Exchange pushes to Mailroom instead (MAILROOM_EWS_PUSH_URL, channels_app.push)."""
    if ews_push_enabled():
        return {}
    channels = DeliveryChannel.objects.filter(
        kind=DeliveryChannel.Kind.EXCHANGE_ONPREM, status=DeliveryChannel.Status.CONNECTED
    ).exclude(ews_url="")
    found = {
        channel.pk: EwsMailbox(
            channel.ews_url, channel.mailbox_address, channel.username, channel.password
        )
        for channel in channels
    }
    close_old_connections()
    return found


@dataclass
class MailboxStreamer:
    """EWS streaming notifications on one Exchange On-Prem channel's Inbox, in its own thread
    until `stop()`: each announced arrival runs the channel's ordinary poll (coalesced like a
    push), and while the stream is up the channel is polled only as the safety net, as with
    IMAP IDLE. A broken stream (its reason in `push_error`) is retried with back-off, the
    channel back on the polling cycle meanwhile."""

    channel_id: int
    server: EwsMailbox

    def __post_init__(self) -> None:
        self.stopping = threading.Event()
        self.thread = threading.Thread(
            target=self.run, name=f"ews-stream-{self.channel_id}", daemon=True
        )
        self.events = 0

    def start(self) -> MailboxStreamer:
        self.thread.start()
        return self

    def stop(self, *, wait: bool = True) -> None:
        """The thread ends when its open GetStreamingEvents answer next speaks (a keep-alive or
        an event), handing its session back; the channel goes back to the polling cycle at
        once."""
        self.stopping.set()
        _mark(self.channel_id, push_expires_at=None)
        if wait:
            self.thread.join(timeout=30)

    def run(self) -> None:
        delay = 5.0
        while not self.stopping.is_set():
            stream = InboxStream(**self.server.__dict__)
            try:
                stream.subscribe()
                self._live()
                # Anything that arrived while no stream was held is fetched now.
                channel_poll_on_push(channel_id=self.channel_id)
                close_old_connections()
                while not self.stopping.is_set():
                    for _ in stream.arrivals(minutes=STREAM_MINUTES, stopping=self.stopping):
                        if self.stopping.is_set():
                            break
                        self.events += 1
                        self._live(event=True)
                        channel_poll_on_push(channel_id=self.channel_id)
                        close_old_connections()
                    if not self.stopping.is_set():
                        self._live()  # Exchange closed the connection on time: open it again
                delay = 5.0
            except ProviderError as error:
                logger.warning("EWS stream of channel %s: %s", self.channel_id, error.reason)
                _mark(self.channel_id, push_expires_at=None, push_error=error.reason[:500])
                self.stopping.wait(delay)
                delay = min(delay * 2, RETRY_CAP_SECONDS)
            except Exception as error:  # a thread that dies would leave the window open
                logger.exception("EWS stream of channel %s failed", self.channel_id)
                _mark(self.channel_id, push_expires_at=None, push_error=f"{error}"[:500])
                self.stopping.wait(RETRY_CAP_SECONDS)
            finally:
                stream.unsubscribe()
        _mark(self.channel_id, push_expires_at=None)

    def _live(self, *, event: bool = False) -> None:
        if self.stopping.is_set():
            return
        now = timezone.now()
        fields = {"push_expires_at": now + STREAM_WINDOW, "push_error": ""}
        if event:
            fields["push_last_event_at"] = now
        _mark(self.channel_id, **fields)


class IdleSupervisor:
    """Keeps one MailboxIdler per IMAP channel and one MailboxStreamer per Exchange On-Prem
    channel: started for new channels, restarted when their settings change, stopped when they
    go (`sync`, every few seconds from the command)."""

    def __init__(self) -> None:
        self.idlers: dict[int, MailboxIdler | MailboxStreamer] = {}

    def sync(self) -> None:
        wanted: dict[int, imap.ImapServer | EwsMailbox] = {**idle_channels(), **stream_channels()}
        for channel_id, idler in list(self.idlers.items()):
            if wanted.get(channel_id) != idler.server:
                idler.stop(wait=False)
                del self.idlers[channel_id]
        for channel_id, server in wanted.items():
            if channel_id not in self.idlers:
                holder = (
                    MailboxIdler(channel_id, server)
                    if isinstance(server, imap.ImapServer)
                    else MailboxStreamer(channel_id, server)
                )
                self.idlers[channel_id] = holder.start()

    def stop(self) -> None:
        for idler in self.idlers.values():
            idler.stop(wait=False)
        for idler in self.idlers.values():
            # A streamer's thread ends at its answer's next keep-alive.
            idler.thread.join(timeout=imap.TIMEOUT_SECONDS + 5)
        self.idlers.clear()
