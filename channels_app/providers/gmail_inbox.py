"""Read-only Gmail inbox client for bounce polling (scope gmail.readonly).

Only what the poller needs: `poll` (history.list from a historyId), a bounded `recent` scan
(messages.list) for when the history cursor expired, the mailbox's current historyId, headers
of one message (format=metadata) and its raw MIME (format=raw). It never modifies a message:
no label changes, nothing marked read.

Every method is one HTTP request, so a caller can count its API calls. Failures become
channels_app.exceptions; an expired history cursor (HTTP 404) is `HistoryExpired`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from channels_app.exceptions import (
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)

from .http import (
    DEFAULT_TIMEOUT,
    READ_PERMISSION_MISSING,
    http_session,
    raise_for_provider_status,
)
from .inbox import PREFILTER_HEADERS, InboxCandidate, InboxHeaders, InboxPage

PROVIDER = "Gmail"
HISTORY_PAGE_SIZE = 500
LIST_PAGE_SIZE = 500


class HistoryExpired(ProviderError):
    """Gmail no longer keeps history from the stored historyId (HTTP 404): re-scan."""


@dataclass(frozen=True)
class HistoryPage:
    message_ids: list[str]
    history_id: int | None
    next_page_token: str | None


@dataclass(frozen=True)
class MessageListPage:
    message_ids: list[str]
    next_page_token: str | None


class GmailInbox:
    """One mailbox's Gmail API, read-only. Its cursor is the history id (`changes`)."""

    cursor_field = "gmail_history_id"

    def __init__(self, *, access_token: str):
        self.access_token = access_token
        self.calls = 0  # HTTP requests made: the poller reports API calls per mailbox
        self.base_url = f"{settings.MAILROOM_GMAIL_API_URL.rstrip('/')}/gmail/v1/users/me"

    def _get(self, path: str, params: dict | list | None = None) -> dict:
        self.calls += 1
        try:
            response = http_session().get(
                f"{self.base_url}{path}",
                params=params,
                headers={"Authorization": f"Bearer {self.access_token}"},
                timeout=DEFAULT_TIMEOUT,
            )
        except OSError as error:  # requests' ConnectionError and Timeout are OSErrors
            raise TransientProviderError(f"{PROVIDER} could not be reached: {error}") from error
        if response.status_code == 404 and path == "/history":
            raise HistoryExpired(f"{PROVIDER} no longer has history from that point")
        raise_for_provider_status(response, provider=PROVIDER, permission=READ_PERMISSION_MISSING)
        try:
            return response.json()
        except ValueError as error:
            raise TransientProviderError(f"{PROVIDER} answered with something not JSON") from error

    def changes(self, *, cursor: int | str | None, rescan_days: int) -> Iterator[InboxPage]:
        """history.list from the stored history id, every page, then the new messages at once
        with the newest history id as the new cursor (a history page has no resumable point of
        its own). With no cursor, or one Gmail no longer keeps (404): note the mailbox's
        current history id first, then list the last `rescan_days` days; whatever arrives
        meanwhile comes with the next history.list."""
        start = int(cursor) if cursor is not None else None
        if start is not None:
            message_ids: list[str] = []
            newest = start
            page_token = None
            try:
                while True:
                    page = self.poll(start_history_id=start, page_token=page_token)
                    message_ids.extend(page.message_ids)
                    if page.history_id is not None:
                        newest = max(newest, page.history_id)
                    page_token = page.next_page_token
                    if not page_token:
                        break
                    yield InboxPage(candidates=[])
            except HistoryExpired:
                pass
            else:
                candidates = [InboxCandidate(mid) for mid in dict.fromkeys(message_ids)]
                yield InboxPage(candidates=candidates, cursor=newest, final=True)
                return
        newest = self.current_history_id()
        page_token = None
        while True:
            listed = self.recent(newer_than_days=rescan_days, page_token=page_token)
            page_token = listed.next_page_token
            last = not page_token
            yield InboxPage(
                candidates=[InboxCandidate(mid) for mid in listed.message_ids],
                cursor=max(newest, start or 0) if last else None,
                final=last,
                resynced=True,
            )
            if last:
                return

    def poll(self, *, start_history_id: int, page_token: str | None = None) -> HistoryPage:
        """Messages added to the inbox after `start_history_id` (one page)."""
        params = {
            "startHistoryId": str(start_history_id),
            "historyTypes": "messageAdded",
            "labelId": "INBOX",
            "maxResults": str(HISTORY_PAGE_SIZE),
        }
        if page_token:
            params["pageToken"] = page_token
        payload = self._get("/history", params)
        message_ids: list[str] = []
        for record in payload.get("history") or []:
            for added in record.get("messagesAdded") or []:
                message = added.get("message") or {}
                labels = message.get("labelIds")
                if message.get("id") and (labels is None or "INBOX" in labels):
                    message_ids.append(str(message["id"]))
        return HistoryPage(
            message_ids=list(dict.fromkeys(message_ids)),
            history_id=_as_int(payload.get("historyId")),
            next_page_token=payload.get("nextPageToken") or None,
        )

    def current_history_id(self) -> int:
        """The mailbox's latest historyId (users.getProfile)."""
        history_id = _as_int(self._get("/profile").get("historyId"))
        if history_id is None:
            raise TransientProviderError(f"{PROVIDER} did not say the mailbox's historyId")
        return history_id

    def recent(self, *, newer_than_days: int, page_token: str | None = None) -> MessageListPage:
        """Inbox messages of the last few days (one page): the bounded re-scan."""
        params = {
            "labelIds": "INBOX",
            "q": f"newer_than:{newer_than_days}d",
            "maxResults": str(LIST_PAGE_SIZE),
        }
        if page_token:
            params["pageToken"] = page_token
        payload = self._get("/messages", params)
        return MessageListPage(
            message_ids=[str(m["id"]) for m in payload.get("messages") or [] if m.get("id")],
            next_page_token=payload.get("nextPageToken") or None,
        )

    def headers(self, *, message_id: str) -> InboxHeaders:
        params: list[tuple[str, str]] = [("format", "metadata")]
        params.extend(("metadataHeaders", name) for name in PREFILTER_HEADERS)
        payload = self._get(f"/messages/{message_id}", params)
        headers: dict[str, str] = {}
        for header in (payload.get("payload") or {}).get("headers") or []:
            name, value = header.get("name"), header.get("value")
            if name and value is not None and name.lower() not in {h.lower() for h in headers}:
                headers[name] = str(value)
        return InboxHeaders(
            message_id=message_id,
            headers=headers,
            label_ids=tuple(payload.get("labelIds") or ()),
            received_at=_from_millis(payload.get("internalDate")),
        )

    def raw(self, *, message_id: str) -> bytes:
        payload = self._get(f"/messages/{message_id}", {"format": "raw"})
        encoded = payload.get("raw") or ""
        try:
            return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (ValueError, TypeError) as error:
            raise PermanentProviderError(f"{PROVIDER} sent a message we cannot decode") from error


def _as_int(value) -> int | None:
    # historyIds are uint64 sent as strings: compare them as numbers, never as text.
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _from_millis(value) -> datetime | None:
    millis = _as_int(value)
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis else None
