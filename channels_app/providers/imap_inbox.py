"""Read-only IMAP inbox for bounce polling: the folder of an SMTP channel's mailbox.

The cursor is "UIDVALIDITY:UID", the highest UID already listed in that UIDVALIDITY of the
folder. A poll EXAMINEs the folder (read-only: the server refuses any change, and
BODY.PEEK[] never sets \\Seen), and when UIDNEXT says nothing arrived since the cursor, it is
done: an idle mailbox costs LOGIN, EXAMINE, LOGOUT. Otherwise `UID SEARCH UID n:*` lists the
new UIDs and they are walked in pages of PAGE_SIZE: each page fetches only the few header
fields the poller's pre-filter reads (BODY.PEEK[HEADER.FIELDS (…)]), and the page's last UID
is a resumable cursor the poller saves only after the page's messages are stored. A fetch that
fails leaves the cursor before the page, so nothing is skipped.

A UIDVALIDITY that changed (the server rebuilt the folder: every UID means something else now),
or no cursor at all, re-scans the messages of the last few days (`UID SEARCH SINCE`). Messages
are known to the poller by their Message-ID (bounces.models.InboxMessage is unique per channel
and provider id), not by their UID, so a re-scan stores and processes nothing twice. A message
without a Message-ID is known as "uid:UIDVALIDITY:UID".

CONDSTORE is not used: it reports flag changes, and bounce tracking only needs arrivals, which
UIDNEXT already answers in EXAMINE's reply.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32

from channels_app.exceptions import PermanentProviderError, TransientProviderError

from . import imap
from .inbox import PREFILTER_HEADERS, InboxCandidate, InboxHeaders, InboxPage

PROVIDER = "IMAP"
PAGE_SIZE = 100
MAX_ID_LENGTH = 255
_FETCH_HEADERS = "(UID INTERNALDATE BODY.PEEK[HEADER.FIELDS ({})])".format(
    " ".join(name.upper() for name in PREFILTER_HEADERS)
)
_UID = re.compile(rb"\bUID (\d+)")
_IMAP_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def parse_cursor(cursor: int | str | None) -> tuple[int, int] | None:
    """(UIDVALIDITY, last UID) from a stored cursor, None when there is none (or garbage)."""
    validity, sep, last = str(cursor or "").partition(":")
    if not sep or not validity.isdigit() or not last.isdigit():
        return None
    return int(validity), int(last)


def message_key(headers: dict[str, str], *, uidvalidity: int, uid: int) -> str:
    """How the poller knows a message: its Message-ID (the same whatever its UID), hashed when
    longer than the column; "uid:V:U" for one without."""
    message_id = " ".join((headers.get("Message-ID") or "").split())
    if not message_id:
        return f"uid:{uidvalidity}:{uid}"
    if len(message_id) > MAX_ID_LENGTH:
        return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    return message_id


class ImapInbox:
    """One SMTP channel's IMAP folder, read-only. Opened at the first call, closed by
    `close()` (the poller calls it when it is done)."""

    cursor_field = "imap_cursor"

    def __init__(self, *, server: imap.ImapServer):
        self.server = server
        self.calls = 0  # IMAP commands sent: the poller reports them as API calls
        self._connection: imaplib.IMAP4 | None = None
        self._examined: imap.Examined | None = None
        self._uids: dict[str, int] = {}  # message key -> UID, for `raw`

    # --- the connection ------------------------------------------------------------------
    def _open(self) -> tuple[imaplib.IMAP4, imap.Examined]:
        if self._connection is None or self._examined is None:
            self.calls += 2  # LOGIN, EXAMINE
            try:
                self._connection, self._examined = imap.open_folder(self.server)
            except imap.ImapFailed as error:
                if error.transient:
                    raise TransientProviderError(error.message) from error
                raise PermanentProviderError(error.message) from error
        return self._connection, self._examined

    def _uid(self, command: str, *args: str) -> list:
        connection, _ = self._open()
        self.calls += 1
        try:
            status, data = connection.uid(command, *args)
        except imaplib.IMAP4.abort as error:
            self._drop()
            raise TransientProviderError(
                f"{self.server.where} closed the IMAP connection during UID {command}"
            ) from error
        except imaplib.IMAP4.error as error:
            raise TransientProviderError(
                f"{self.server.where} refused UID {command}: {imap.server_words(error)}"
            ) from error
        except OSError as error:
            self._drop()
            raise TransientProviderError(
                f"{self.server.where} could not be reached: {error.strerror or error}"
            ) from error
        if status != "OK":
            raise TransientProviderError(
                f"{self.server.where} answered UID {command} with {status}: "
                f"{imap.server_words(imaplib.IMAP4.error(data[-1] if data else b''))}"
            )
        return data

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(OSError):
                self._connection.shutdown()
        self._connection = self._examined = None

    def close(self) -> None:
        if self._connection is not None:
            self.calls += 1
            imap.close(self._connection)
        self._connection = self._examined = None

    # --- the Inbox verbs -----------------------------------------------------------------
    def changes(self, *, cursor: int | str | None, rescan_days: int) -> Iterator[InboxPage]:
        """New messages since the cursor, PAGE_SIZE UIDs a page, each page's last UID a
        resumable cursor; the final page's cursor covers everything below UIDNEXT. A missing
        cursor or a changed UIDVALIDITY re-scans the last `rescan_days` days."""
        _, examined = self._open()
        validity = examined.uidvalidity
        stored = parse_cursor(cursor)
        resynced = stored is None or stored[0] != validity
        last = 0 if resynced else stored[1]  # type: ignore[index]
        uidnext_seen = (examined.uidnext or 1) - 1
        if resynced:
            since = datetime.now(UTC) - timedelta(days=rescan_days)
            stamp = f"{since.day:02d}-{_IMAP_MONTHS[since.month - 1]}-{since.year}"
            uids = self._search("SINCE", stamp)
        elif examined.uidnext is not None and examined.uidnext <= last + 1:
            uids = []  # nothing arrived since the cursor
        else:
            uids = [uid for uid in self._search("UID", f"{last + 1}:*") if uid > last]
        final_cursor = f"{validity}:{max([last, uidnext_seen, *uids])}"
        if not uids:
            yield InboxPage(candidates=[], cursor=final_cursor, final=True, resynced=resynced)
            return
        for start in range(0, len(uids), PAGE_SIZE):
            page = uids[start : start + PAGE_SIZE]
            candidates = self._listed(page, validity=validity)
            is_last = start + PAGE_SIZE >= len(uids)
            yield InboxPage(
                candidates=candidates,
                cursor=final_cursor if is_last else f"{validity}:{page[-1]}",
                final=is_last,
                resynced=resynced,
            )

    def headers(self, *, message_id: str) -> InboxHeaders:
        """One message's pre-filter headers (the listing already carries them)."""
        uid = self._find(message_id)
        listed = self._fetch_headers([uid])
        if uid not in listed:
            raise PermanentProviderError(f"The message is no longer in {self.server.folder}")
        headers, received_at = listed[uid]
        return InboxHeaders(message_id=message_id, headers=headers, received_at=received_at)

    def raw(self, *, message_id: str) -> bytes:
        """The whole message, BODY.PEEK[] (never marks it read)."""
        uid = self._find(message_id)
        data = self._uid("FETCH", str(uid), "(UID BODY.PEEK[])")
        for item in data:
            if isinstance(item, tuple) and _uid_of(item[0]) == uid:
                return bytes(item[1])
        raise PermanentProviderError(
            f"The message (UID {uid}) is no longer in {self.server.folder}"
        )

    # --- helpers ---------------------------------------------------------------------------
    def _search(self, *criteria: str) -> list[int]:
        data = self._uid("SEARCH", *criteria)
        found: set[int] = set()
        for line in data:
            if isinstance(line, bytes):
                found.update(int(part) for part in line.split() if part.isdigit())
        return sorted(found)

    def _fetch_headers(self, uids: list[int]) -> dict[int, tuple[dict[str, str], datetime | None]]:
        data = self._uid("FETCH", ",".join(str(uid) for uid in uids), _FETCH_HEADERS)
        listed: dict[int, tuple[dict[str, str], datetime | None]] = {}
        for item in data:
            if not isinstance(item, tuple):
                continue
            uid = _uid_of(item[0])
            if uid is None:
                continue
            listed[uid] = (_header_dict(bytes(item[1])), _internal_date(item[0]))
        return listed

    def _listed(self, uids: list[int], *, validity: int) -> list[InboxCandidate]:
        listed = self._fetch_headers(uids)
        candidates = []
        for uid in uids:
            if uid not in listed:
                continue  # expunged since the search: nothing to read
            headers, received_at = listed[uid]
            key = message_key(headers, uidvalidity=validity, uid=uid)
            self._uids.setdefault(key, uid)
            candidates.append(InboxCandidate(key, headers=headers, received_at=received_at))
        return list({c.provider_message_id: c for c in candidates}.values())

    def _find(self, message_id: str) -> int:
        """The UID of a message the poller knows by its key: listed by this inbox, or (a
        message stored earlier without its MIME) looked up again by Message-ID."""
        if message_id in self._uids:
            return self._uids[message_id]
        _, examined = self._open()
        if message_id.startswith("uid:"):
            validity, _, uid = message_id[4:].partition(":")
            if validity == str(examined.uidvalidity) and uid.isdigit():
                return int(uid)
        elif not message_id.startswith("sha256:"):
            found = self._search("HEADER", "Message-ID", imap.quoted(message_id))
            if found:
                return found[-1]
        raise PermanentProviderError(f"The message is no longer in {self.server.folder}")


def _uid_of(meta: bytes) -> int | None:
    match = _UID.search(meta)
    return int(match.group(1)) if match else None


def _internal_date(meta: bytes) -> datetime | None:
    """INTERNALDATE, when the server sent one (imaplib gives it as local time)."""
    parsed = imaplib.Internaldate2tuple(meta)
    if parsed is None:
        return None
    return datetime.fromtimestamp(time.mktime(parsed), tz=UTC)


def _header_dict(block: bytes) -> dict[str, str]:
    message = BytesHeaderParser(policy=compat32).parsebytes(block)
    headers: dict[str, str] = {}
    for name, value in message.items():
        if name.lower() not in {known.lower() for known in headers}:
            headers[name] = " ".join(str(value).split())
    return headers
