"""Read-only EWS inbox for bounce polling of Exchange On-Prem mailboxes (exchangelib).

The cursor is the inbox's SyncFolderItems sync state, the opaque token Exchange hands back
with every page of changes (Microsoft's "synchronize items" pattern). A poll asks for the
changes since the state, PAGE_SIZE at a time; each page's state is a resumable cursor the poller
saves once the page's messages are stored, and the page that says IncludesLastItemInRange is
the last. An idle mailbox costs one call.

Without a state (the first sync) Exchange lists every item of the folder; only the ones
received in the last `rescan_days` days are candidates, the rest are walked past. A state
Exchange no longer knows (ErrorInvalidSyncStateData: the mailbox moved, the state aged out)
starts the same way again, marked `resynced`. Messages are known to the poller by their
Internet Message-ID (bounces.models.InboxMessage is unique per channel and provider id), so a
resync stores and processes nothing twice; one without a Message-ID by its EWS item id.

Each listed item carries the properties the pre-filter reads (From, Subject, Message-ID,
In-Reply-To, References; an item class REPORT.* — a delivery report or NDR — reads as a
multipart/report), so only a possible bounce or reply has its MIME fetched (GetItem MimeContent).
The shapes are IdOnly plus named properties: nothing is marked read, moved or changed.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import requests
from exchangelib import Account
from exchangelib.errors import (
    ErrorInvalidSyncStateData,
    ErrorItemNotFound,
    ErrorServerBusy,
    EWSError,
    ResponseMessageError,
    TransportError,
    UnauthorizedError,
)
from exchangelib.folders import Inbox, Root
from exchangelib.services import GetStreamingEvents, SyncFolderItems

from channels_app.exceptions import (
    CredentialsRejected,
    PermanentProviderError,
    RateLimited,
    TransientProviderError,
)

from .addresses import AddressRefused
from .ews import TIMEOUT_SECONDS, TRANSIENT_RESPONSE_ERRORS, _account, unreachable
from .ews_auth import ews_protocol_setup
from .inbox import InboxCandidate, InboxHeaders, InboxPage

PROVIDER = "Exchange (EWS)"
PAGE_SIZE = 100
MAX_ID_LENGTH = 255
LISTED = ["item_class", "subject", "datetime_received", "author", "message_id", "in_reply_to"]


def message_key(message_id: str | None, item_id: str) -> str:
    """How the poller knows a message: its Message-ID (the same whatever Exchange's item id),
    hashed when longer than the column; "ews:<hash of the item id>" for one without."""
    message_id = " ".join((message_id or "").split())
    if not message_id:
        return "ews:" + hashlib.sha256(item_id.encode()).hexdigest()
    if len(message_id) > MAX_ID_LENGTH:
        return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    return message_id


@contextmanager
def _reading_errors() -> Iterator[None]:
    """exchangelib's and the network's errors while reading, as channels_app.exceptions."""
    try:
        yield
    except AddressRefused as exc:
        raise PermanentProviderError(exc.message) from exc
    except UnauthorizedError as exc:
        raise CredentialsRejected(
            "Exchange refused the username or password — update them in Email settings"
        ) from exc
    except ErrorServerBusy as exc:
        raise RateLimited(
            f"Exchange is busy: {exc}", retry_after=getattr(exc, "back_off", None)
        ) from exc
    except TRANSIENT_RESPONSE_ERRORS as exc:
        raise TransientProviderError(f"Exchange could not answer now: {exc}") from exc
    except ResponseMessageError as exc:
        raise PermanentProviderError(f"Exchange refused to list the inbox: {exc}") from exc
    except TransportError as exc:
        raise unreachable(exc) from exc
    except EWSError as exc:
        raise TransientProviderError(f"Exchange could not answer now: {exc}") from exc
    except (requests.RequestException, OSError) as exc:
        raise unreachable(exc) from exc


class _SyncStateForgotten(Exception):
    """Exchange answered ErrorInvalidSyncStateData: the sync starts again without a state."""


class EwsInbox:
    """One Exchange On-Prem mailbox's Inbox, read-only, through EWS."""

    cursor_field = "ews_sync_state"

    def __init__(self, *, ews_url: str, mailbox_address: str, username: str, password: str):
        self.ews_url = ews_url
        self.mailbox_address = mailbox_address
        self.username = username
        self.password = password
        self.calls = 0  # EWS requests: the poller reports them as API calls
        self._account: Account | None = None
        # message key -> (item id, change key, headers, received at)
        self._items: dict[str, tuple] = {}

    def _open(self) -> Account:
        if self._account is None:
            ews_protocol_setup(timeout=TIMEOUT_SECONDS)
            self._account = _account(
                ews_url=self.ews_url,
                mailbox_address=self.mailbox_address,
                username=self.username,
                password=self.password,
            )
        return self._account

    def _inbox(self) -> Inbox:
        # The distinguished Inbox by name: no GetFolder round trip before each call.
        return Inbox(root=Root(account=self._open()))

    def close(self) -> None:
        # exchangelib shares one protocol (and its HTTP sessions) per server and login across
        # the process: the sender's too. Nothing to close here.
        self._account = None

    # --- the Inbox verbs -----------------------------------------------------------------
    def changes(self, *, cursor: int | str | None, rescan_days: int) -> Iterator[InboxPage]:
        state = str(cursor) if cursor else None
        resynced = state is None
        since = datetime.now(UTC) - timedelta(days=rescan_days)
        while True:
            try:
                created, state, last = self._sync_page(state)
            except _SyncStateForgotten:
                if resynced:
                    raise TransientProviderError(
                        "Exchange refused a new sync of the inbox (ErrorInvalidSyncStateData)"
                    ) from None
                state, resynced = None, True  # Exchange forgot the state: sync anew
                continue
            candidates = [
                candidate
                for candidate in created
                if not resynced or candidate.received_at is None or candidate.received_at >= since
            ]
            yield InboxPage(candidates=candidates, cursor=state, final=last, resynced=resynced)
            if last:
                return

    def headers(self, *, message_id: str) -> InboxHeaders:
        """The listing carries the headers; a message known only by key is looked up again."""
        item = self._find(message_id)
        return InboxHeaders(message_id=message_id, headers=item[2], received_at=item[3])

    def raw(self, *, message_id: str) -> bytes:
        """The whole message as Exchange stores it (GetItem with MimeContent)."""
        item_id, change_key = self._find(message_id)[:2]
        self.calls += 1
        with _reading_errors():
            [fetched] = list(
                self._open().fetch(ids=[(item_id, change_key)], only_fields=["mime_content"])
            )
        if isinstance(fetched, ErrorItemNotFound):
            raise PermanentProviderError("The message is no longer in the Exchange inbox")
        if isinstance(fetched, Exception):
            raise PermanentProviderError(f"Exchange could not hand over the message: {fetched}")
        return bytes(fetched.mime_content or b"")

    # --- helpers ---------------------------------------------------------------------------
    def _sync_page(self, state: str | None) -> tuple[list[InboxCandidate], str, bool]:
        inbox = self._inbox()
        additional = {f for f in inbox.normalize_fields(fields=LISTED) if not f.field.is_attribute}
        service = SyncFolderItems(account=self._open())
        self.calls += 1
        with _reading_errors():
            try:
                changes = list(
                    service.call(
                        folder=inbox,
                        shape="IdOnly",
                        additional_fields=additional,
                        sync_state=state,
                        ignore=None,
                        max_changes_returned=PAGE_SIZE,
                        sync_scope="NormalItems",
                    )
                )
            except ErrorInvalidSyncStateData as exc:
                raise _SyncStateForgotten() from exc
        candidates = []
        for kind, item in changes:
            if kind != "create" or isinstance(item, Exception):
                continue
            key = message_key(item.message_id, item.id)
            headers = _headers(item)
            received = _plain(item.datetime_received)
            self._items[key] = (item.id, item.changekey, headers, received)
            candidates.append(InboxCandidate(key, headers=headers, received_at=received))
        return candidates, service.sync_state, bool(service.includes_last_item_in_range)

    def _find(self, message_id: str) -> tuple:
        """The item of a message the poller knows by its key: listed by this inbox, or (one
        stored earlier without its MIME) looked up again in the Inbox by its Message-ID."""
        if message_id in self._items:
            return self._items[message_id]
        if message_id.startswith(("ews:", "sha256:")):
            raise PermanentProviderError("The message is no longer in the Exchange inbox")
        self.calls += 1
        with _reading_errors():
            found = list(
                self._inbox().filter(message_id=message_id).only("id", "changekey", *LISTED)[:1]
            )
        if not found:
            raise PermanentProviderError("The message is no longer in the Exchange inbox")
        item = found[0]
        entry = (item.id, item.changekey, _headers(item), _plain(item.datetime_received))
        self._items[message_id] = entry
        return entry


def _plain(when) -> datetime | None:
    """exchangelib's EWSDateTime as a plain aware datetime (Django cannot store its tzinfo)."""
    return datetime.fromtimestamp(when.timestamp(), tz=UTC) if when is not None else None


def _headers(item) -> dict[str, str]:
    """The pre-filter's headers from an item's properties."""
    headers: dict[str, str] = {}
    author = getattr(item, "author", None)
    if author is not None and author.email_address:
        headers["From"] = (
            f"{author.name} <{author.email_address}>" if author.name else author.email_address
        )
    if item.subject is not None:
        headers["Subject"] = str(item.subject)
    if item.message_id:
        headers["Message-ID"] = str(item.message_id)
    if getattr(item, "in_reply_to", None):
        headers["In-Reply-To"] = str(item.in_reply_to)
    if str(item.item_class or "").upper().startswith("REPORT."):
        # Exchange files delivery reports and NDRs (REPORT.IPM.Note.NDR, .DR, .IPNNRN) as
        # report items: MIME multipart/report.
        headers["Content-Type"] = "multipart/report; report-type=delivery-status"
    return headers


class StreamStopped(Exception):
    """The holder asked the stream to end (InboxStream.arrivals' `stopping`)."""


class _StoppableStreamingEvents(GetStreamingEvents):
    """GetStreamingEvents that ends at the next message on the open answer (an event or a
    keep-alive) once `stopping` is set: exchangelib yields nothing for a keep-alive, so without
    this a holder asked to stop would wait for the connection's end (up to 30 minutes) with one of
    the login's sessions held. Raising here makes exchangelib close the answer and hand the
    session back."""

    def __init__(self, *args, stopping: threading.Event, **kwargs):
        super().__init__(*args, **kwargs)
        self._stopping = stopping

    def _get_element_container(self, message, name=None):
        if self._stopping.is_set():
            raise StreamStopped
        return super()._get_element_container(message=message, name=name)


class InboxStream:
    """EWS streaming notifications on one mailbox's Inbox (Subscribe, then GetStreamingEvents):
    `arrivals(minutes)` yields once per batch of new mail the server announces, and ends when
    Exchange closes the connection after `minutes`, or at the next keep-alive once `stopping` is
    set. Nothing is read from the events but "look now": the poller's ordinary sync fetches what
    arrived."""

    EVENT_TYPES = ("NewMailEvent", "CreatedEvent")

    def __init__(self, *, ews_url: str, mailbox_address: str, username: str, password: str):
        self._box = EwsInbox(
            ews_url=ews_url, mailbox_address=mailbox_address, username=username, password=password
        )
        self._inbox: Inbox | None = None
        self.subscription_id: str | None = None

    def subscribe(self) -> None:
        with _reading_errors():
            # exchangelib subscribes by folder id: the Inbox is looked up once (GetFolder).
            inbox = self._inbox = self._box._open().inbox
            self.subscription_id = inbox.subscribe_to_streaming(event_types=list(self.EVENT_TYPES))

    def arrivals(self, *, minutes: int, stopping: threading.Event) -> Iterator[int]:
        if self._inbox is None or not self.subscription_id:
            raise PermanentProviderError("Not subscribed to the Exchange inbox")
        service = _StoppableStreamingEvents(account=self._box._open(), stopping=stopping)
        try:
            with _reading_errors():
                for notification in service.call(
                    subscription_ids=[self.subscription_id], connection_timeout=minutes
                ):
                    new = [e for e in notification.events if type(e).__name__ in self.EVENT_TYPES]
                    if new:
                        yield len(new)
        except StreamStopped:
            return

    def unsubscribe(self) -> None:
        if self._inbox is None or not self.subscription_id:
            return
        try:
            with _reading_errors():
                self._inbox.unsubscribe(self.subscription_id)
        except (TransientProviderError, PermanentProviderError):
            pass  # Exchange lets an unused subscription expire by itself
        self.subscription_id = None


def push_subscribe(
    *,
    ews_url: str,
    mailbox_address: str,
    username: str,
    password: str,
    callback_url: str,
    status_minutes: int,
) -> str:
    """An EWS push subscription on the Inbox's new mail: Exchange POSTs SendNotification to
    `callback_url` for each arrival and a StatusEvent every `status_minutes`; it lasts while the
    callback answers OK. Returns the subscription id. (A push subscription is ended by answering
    a notification with Unsubscribe: EWS's Unsubscribe operation is for pull and streaming.)"""
    box = EwsInbox(
        ews_url=ews_url, mailbox_address=mailbox_address, username=username, password=password
    )
    with _reading_errors():
        subscription_id, _watermark = box._open().inbox.subscribe_to_push(
            callback_url=callback_url,
            event_types=list(InboxStream.EVENT_TYPES),
            status_frequency=status_minutes,
        )
    return subscription_id
