"""Read-only Microsoft Graph inbox client for bounce polling (scope Mail.Read).

`poll` follows the inbox's delta query one page at a time: from the stored link (an
`@odata.nextLink` or `@odata.deltaLink`, kept whole), or, with no link, from a new delta round
limited to recent mail (`$filter=receivedDateTime ge …`, the only filter delta accepts) so a
first sync or a resync costs what the last few days hold, not the whole mailbox. `$select` asks
for just the fields the pre-filter needs, so no message is downloaded unless it may be a bounce
or a reply; `raw` then fetches its MIME (`/messages/{id}/$value`). Nothing is ever modified.

An expired delta link (HTTP 410, or the `syncStateNotFound` error code) is `DeltaExpired`.
Any other 4xx Graph gives for a stored link (a link Graph no longer parses, a 404 for its
state) is treated the same way: the link is what is wrong, so a new round starts — once per
poll; a fresh round refused too is raised, so a mailbox never loops. A full mailbox or one Graph
cannot serve (channels_app.providers.graph.raise_for_mailbox_state) is said as such.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from channels_app.exceptions import (
    ChannelRefusesAll,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)

from .graph import raise_for_mailbox_state
from .http import (
    DEFAULT_TIMEOUT,
    READ_PERMISSION_MISSING,
    http_session,
    raise_for_provider_status,
)
from .inbox import InboxCandidate, InboxHeaders, InboxPage

logger = logging.getLogger(__name__)
PROVIDER = "Microsoft Graph"
SELECT_FIELDS = (
    "id",
    "internetMessageId",
    "subject",
    "from",
    "receivedDateTime",
    "internetMessageHeaders",
)
PAGE_SIZE = 100
_EXPIRED_CODES = {"syncstatenotfound", "syncstateinvalid", "resyncrequired"}


class DeltaExpired(ProviderError):
    """Graph no longer recognises the delta link (410 / syncStateNotFound): resync."""


@dataclass(frozen=True)
class DeltaPage:
    messages: list[InboxHeaders]
    next_link: str | None
    delta_link: str | None


class GraphInbox:
    """One mailbox's Graph inbox, read-only. Its cursor is the delta link (`changes`)."""

    cursor_field = "graph_delta_link"

    def __init__(self, *, access_token: str):
        self.access_token = access_token
        self.calls = 0  # HTTP requests made: the poller reports API calls per mailbox
        self.base_url = f"{settings.MAILROOM_GRAPH_URL.rstrip('/')}/v1.0/me"

    def _request(self, url: str, *, params: dict | None = None, raw: bool = False):
        headers = {
            "Authorization": f"Bearer {self.access_token}",
            "Prefer": f"odata.maxpagesize={PAGE_SIZE}",
        }
        self.calls += 1
        try:
            response = http_session().get(
                url, params=params, headers=headers, timeout=DEFAULT_TIMEOUT
            )
        except OSError as error:
            raise TransientProviderError(f"{PROVIDER} could not be reached: {error}") from error
        if response.status_code == 410 or _error_code(response) in _EXPIRED_CODES:
            raise DeltaExpired(f"{PROVIDER} no longer knows this mailbox's sync state")
        raise_for_mailbox_state(response)
        raise_for_provider_status(response, provider=PROVIDER, permission=READ_PERMISSION_MISSING)
        if raw:
            return response.content
        try:
            return response.json()
        except ValueError as error:
            raise TransientProviderError(f"{PROVIDER} answered with something not JSON") from error

    def changes(self, *, cursor: int | str | None, rescan_days: int) -> Iterator[InboxPage]:
        """The delta round from the stored link, page by page; each `@odata.nextLink` is a
        resumable cursor (a long first sync makes progress even if the poll stops half way)
        and the `@odata.deltaLink` ends the round. With no link, or one Graph no longer
        knows (410 / syncStateNotFound), a new round over the last `rescan_days` days; a
        fresh round refused as well is a transient error."""
        link = str(cursor) if cursor else None
        resynced = link is None
        since = None if link else timezone.now() - timedelta(days=rescan_days)
        resynced_now = False
        while True:
            try:
                page = self.poll(link=link, received_since=since)
            except DeltaExpired:
                if resynced_now:
                    raise TransientProviderError(
                        f"{PROVIDER} refused a fresh delta round; will try again"
                    ) from None
                resynced_now = resynced = True
                link, since = None, timezone.now() - timedelta(days=rescan_days)
                continue
            except ChannelRefusesAll:
                raise
            except PermanentProviderError as error:
                if link is None or resynced_now:
                    raise
                logger.warning("Graph refused a stored delta link, resyncing: %s", error.reason)
                resynced_now = resynced = True
                link, since = None, timezone.now() - timedelta(days=rescan_days)
                continue
            candidates = [
                InboxCandidate(m.message_id, headers=m.headers, received_at=m.received_at)
                for m in page.messages
            ]
            if page.next_link:
                link, since = page.next_link, None
                yield InboxPage(candidates=candidates, cursor=link, resynced=resynced)
                continue
            if not page.delta_link:
                raise TransientProviderError(f"{PROVIDER} ended a delta round without a link")
            yield InboxPage(
                candidates=candidates, cursor=page.delta_link, final=True, resynced=resynced
            )
            return

    def headers(self, *, message_id: str) -> InboxHeaders:
        """One message's headers (the delta listing already carries them, so the poller
        asks only for a candidate listed without)."""
        item = self._request(
            f"{self.base_url}/messages/{message_id}", params={"$select": ",".join(SELECT_FIELDS)}
        )
        return _message_headers(item)

    def poll(self, *, link: str | None, received_since: datetime | None = None) -> DeltaPage:
        """One page of inbox changes: from `link`, or a new delta round over recent mail."""
        if link:
            payload = self._request(link)
        else:
            params = {"$select": ",".join(SELECT_FIELDS), "changeType": "created"}
            if received_since is not None:
                stamp = received_since.strftime("%Y-%m-%dT%H:%M:%SZ")
                params["$filter"] = f"receivedDateTime ge {stamp}"
            payload = self._request(
                f"{self.base_url}/mailFolders/inbox/messages/delta", params=params
            )
        messages = []
        for item in payload.get("value") or []:
            if "@removed" in item or not item.get("id"):
                continue
            messages.append(_message_headers(item))
        return DeltaPage(
            messages=messages,
            next_link=payload.get("@odata.nextLink") or None,
            delta_link=payload.get("@odata.deltaLink") or None,
        )

    def raw(self, *, message_id: str) -> bytes:
        return self._request(f"{self.base_url}/messages/{message_id}/$value", raw=True)


def _message_headers(item: dict) -> InboxHeaders:
    """Headers as the pre-filter reads them: the real internet headers when Graph sent them,
    completed from the message's own fields."""
    headers: dict[str, str] = {}
    for header in item.get("internetMessageHeaders") or []:
        name, value = header.get("name"), header.get("value")
        if name and value is not None and name not in headers:
            headers[name] = str(value)
    present = {name.lower() for name in headers}
    sender = ((item.get("from") or {}).get("emailAddress")) or {}
    if "from" not in present and sender.get("address"):
        name = sender.get("name") or ""
        headers["From"] = f"{name} <{sender['address']}>" if name else sender["address"]
    if "subject" not in present and item.get("subject") is not None:
        headers["Subject"] = str(item["subject"])
    if "message-id" not in present and item.get("internetMessageId"):
        headers["Message-ID"] = str(item["internetMessageId"])
    received = item.get("receivedDateTime")
    return InboxHeaders(
        message_id=str(item["id"]),
        headers=headers,
        received_at=parse_datetime(received) if received else None,
    )


def _error_code(response) -> str:
    if response.status_code < 400:
        return ""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    if isinstance(error, dict):
        return str(error.get("code") or "").lower()
    return ""
