"""The verbs every polled inbox speaks, whatever its provider (Gmail history, Graph delta;
IMAP, EWS), so the poller has one loop for all of them.

An inbox walks its changes since a cursor as a series of pages. The poller stores each page's
candidates, then stores the page's `cursor` when it has one (a resumable point: Graph's
`@odata.nextLink`), and at the `final` page stores that cursor as the mailbox's new one. A page
with neither marks a boundary where the poller renews its lease. An expired cursor is the
provider's own business: `changes` re-scans the last few days itself and says `resynced`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

# The headers the poller's pre-filter and correlation look at: enough to tell a possible bounce
# or reply from ordinary mail without downloading the message (Gmail's format=metadata, IMAP's
# BODY.PEEK[HEADER.FIELDS …]).
PREFILTER_HEADERS = (
    "From",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Content-Type",
    "Auto-Submitted",
    "Return-Path",
    "X-Failed-Recipients",
    "X-Autoreply",
    "X-Autorespond",
    "Precedence",
)


@dataclass(frozen=True)
class InboxCandidate:
    """A message the inbox listed. `headers` when the listing carried them (Graph's delta
    `$select`); otherwise the poller asks `headers()` before deciding to fetch the raw MIME."""

    provider_message_id: str
    headers: dict[str, str] | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class InboxHeaders:
    message_id: str
    headers: dict[str, str] = field(default_factory=dict)
    # Gmail's labels: a message no longer in INBOX is not processed. Empty: not known.
    label_ids: tuple[str, ...] = ()
    received_at: datetime | None = None


@dataclass(frozen=True)
class InboxPage:
    candidates: list[InboxCandidate]
    cursor: int | str | None = None
    final: bool = False
    resynced: bool = False


class Inbox(Protocol):
    """What bounces.polling needs from a provider's inbox client."""

    calls: int  # HTTP requests made: the poller reports API calls per mailbox
    cursor_field: str  # the DeliveryChannel field holding this inbox's cursor

    def changes(self, *, cursor: int | str | None, rescan_days: int) -> Iterator[InboxPage]: ...

    def headers(self, *, message_id: str) -> InboxHeaders: ...

    def raw(self, *, message_id: str) -> bytes: ...
