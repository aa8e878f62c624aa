"""Polling one inbox for bounces and replies: Gmail, Exchange Online, or the IMAP folder of
an SMTP channel with a mailbox.

How a poll stays dependable (README, "Bounce and reply tracking"):
- One poll per mailbox at a time: an atomic claim sets `poll_lease_until`; a poll that dies
  leaves a lease that simply expires (the watchdog in the fan-out clears it). Every write the
  poll makes to the channel is conditional on still holding its lease.
- Cheap enough for ~33 polls a second (10,000 mailboxes every 5 minutes): one Celery task polls a
  batch of mailboxes, one after the other, each claimed on its own just before its poll (a batch
  that dies holds at most one lease). The claim is one statement that also loads the mailbox and
  says whether stored messages wait to be processed, and the result is one more: an idle poll is
  two statements and one API call. The batch's commits skip the WAL flush (core.db.fast_commits),
  a token refresh's excepted: a database crash loses the last commits in order, so a lost claim or
  lease only lets another poll run, and a cursor never survives the messages stored before it (the
  next poll reads those changes again; processing is idempotent).
- Incremental and cheap: every inbox walks its changes from its stored cursor through the same
  verbs (channels_app.providers.inbox, chosen by channels_app.providers.facade): Gmail
  history.list from `gmail_history_id` (compared as numbers), Graph delta from
  `graph_delta_link`, IMAP UIDs after `imap_cursor` ("UIDVALIDITY:UID"). An idle mailbox
  costs one API call (IMAP: LOGIN, EXAMINE, LOGOUT). Headers come first
  (Gmail format=metadata, Graph `$select` in the delta itself) and raw MIME is fetched only for
  messages the pre-filter says may be a bounce or a reply.
- An expired cursor (Gmail 404, Graph 410 / syncStateNotFound) recovers by itself with a
  re-scan of the last few days, never by failing the mailbox.
- No message is ever skipped silently. A fetched message is stored (raw) before it is processed,
  and the cursor moves only after that; the next poll processes what is stored and not yet
  processed. A fetch that fails for now (429, 5xx, Google's 403 rate limits) stops the poll
  there, before the cursor passes the message: the next poll lists it again. A message the
  provider will not hand over is stored without its MIME, with the error, and fetched again
  with the retries. A stored message that fails to process keeps its error and is retried
  with a growing wait, forever (bounces.services.inbox_message_process), without holding the
  cursor back; admins see them as "unreadable messages", `bounces_reprocess` replays them.
- Read-only: only GET requests; nothing is marked read, moved or deleted.
- 429 / 5xx back off per mailbox (Retry-After honoured, with a cap); a few 401s in a row after
  a token refresh put the channel in needs-reconnect; one transient error does not.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from channels_app.exceptions import (
    AccessTokenExpired,
    InsufficientPermissions,
    PermanentProviderError,
    ProviderError,
    RateLimited,
    ReconnectRequired,
    TransientProviderError,
)
from channels_app.models import DeliveryChannel
from channels_app.providers import facade as providers
from channels_app.providers.inbox import Inbox, InboxCandidate
from channels_app.tokens import channel_mark_needs_reconnect
from core.db import fast_commits

from .classify import may_be_bounce_or_reply
from .conf import bounce_settings
from .models import InboxMessage
from .selectors import inbox_messages_due_q
from .services import inbox_message_process, inbox_message_store

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
BACKOFF_BASE_SECONDS = 60
BACKOFF_CAP_SECONDS = 30 * 60
AUTH_FAILURES_BEFORE_RECONNECT = 3
AUTH_FAILED = "Authentication failed"
Kind = DeliveryChannel.Kind
Status = DeliveryChannel.Status


@dataclass
class PollReport:
    """What one poll did; `outcome` is ok, busy (another poll holds the mailbox), not_polled
    (not a polled, connected mailbox, or backing off), backoff, failed or reconnect."""

    channel_id: int
    outcome: str
    api_calls: int = 0
    messages_seen: int = 0
    messages_fetched: int = 0
    messages_processed: int = 0
    resynced: bool = False
    detail: str = ""


@dataclass
class _Poll:
    channel: DeliveryChannel
    lease: datetime
    report: PollReport
    # Stored messages not processed yet (a crashed poll's, or ones that failed before), or
    # messages this poll stored: only then is there anything for _process_pending to do.
    has_pending_messages: bool = False
    clients: list[Inbox] = field(default_factory=list)
    inbox: Inbox | None = None

    @property
    def api_calls(self) -> int:
        return sum(client.calls for client in self.clients)


class LeaseLost(Exception):
    """Another poll took the mailbox over (this one ran past its lease)."""


_CLAIM_SQL: dict[tuple[str, bool], str] = {}


def _claim_sql(*, ignore_backoff: bool) -> str:
    """UPDATE … RETURNING: claims the mailbox, loads it, and says whether stored messages wait
    to be processed, in one statement (PostgreSQL; SQLite 3.35+)."""
    key = (connection.vendor, ignore_backoff)
    if key not in _CLAIM_SQL:
        quote = connection.ops.quote_name
        table = quote(DeliveryChannel._meta.db_table)
        columns = ", ".join(
            f"{table}.{quote(f.column)}" for f in DeliveryChannel._meta.concrete_fields
        )
        messages = quote(InboxMessage._meta.db_table)
        backoff = (
            ""
            if ignore_backoff
            else f" AND ({quote('poll_backoff_until')} IS NULL "
            f"OR {quote('poll_backoff_until')} <= %(now)s)"
        )
        _CLAIM_SQL[key] = (
            f"UPDATE {table} SET {quote('poll_lease_until')} = %(lease)s "
            f"WHERE {quote('id')} = %(id)s AND {quote('status')} = %(connected)s "
            f"AND (({quote('kind')} IN (%(gmail)s, %(graph)s) "
            f"AND {quote('can_read_inbox')} = %(readable)s) "
            f"OR ({quote('kind')} = %(smtp)s AND {quote('imap_host')} <> '') "
            f"OR ({quote('kind')} = %(onprem)s AND {quote('ews_url')} <> '')) "
            f"AND ({quote('poll_lease_until')} IS NULL OR {quote('poll_lease_until')} < %(now)s)"
            f"{backoff} "
            f"RETURNING {columns}, EXISTS (SELECT 1 FROM {messages} AS m "
            f"WHERE m.{quote('channel_id')} = {table}.{quote('id')} "
            f"AND m.{quote('processed_at')} IS NULL "
            f"AND (m.{quote('next_attempt_at')} IS NULL "
            f"OR m.{quote('next_attempt_at')} <= %(now)s)) AS {quote('has_pending_messages')}"
        )
    return _CLAIM_SQL[key]


def _claim(
    *, channel_id: int, now: datetime | None = None, ignore_backoff: bool = False
) -> DeliveryChannel | None:
    """Atomically claim the mailbox for one poll and load it (with `has_pending_messages`), or
    None when it is not to be polled now. The lease is `poll_lease_until`."""
    now = now or timezone.now()
    field = DeliveryChannel._meta.get_field("poll_lease_until")
    params = {
        "id": channel_id,
        "lease": field.get_db_prep_save(now + LEASE, connection),
        "now": field.get_db_prep_save(now, connection),
        "gmail": Kind.GMAIL.value,
        "graph": Kind.EXCHANGE_ONLINE.value,
        "smtp": Kind.CUSTOM_SMTP.value,
        "onprem": Kind.EXCHANGE_ONPREM.value,
        "connected": Status.CONNECTED.value,
        "readable": True,
    }
    claimed = list(DeliveryChannel.objects.raw(_claim_sql(ignore_backoff=ignore_backoff), params))
    return claimed[0] if claimed else None


def channel_poll_claim(
    *, channel_id: int, now: datetime | None = None, ignore_backoff: bool = False
) -> datetime | None:
    """Atomically claim the mailbox for one poll; returns the lease (the claim's token), or
    None when it is not to be polled now."""
    channel = _claim(channel_id=channel_id, now=now, ignore_backoff=ignore_backoff)
    return channel.poll_lease_until if channel is not None else None


def channel_poll(*, channel_id: int, ignore_backoff: bool = False) -> PollReport:
    """Poll one mailbox once. Safe to call twice at once and to re-run after a crash."""
    with fast_commits():
        return _mailbox_poll(channel_id=channel_id, ignore_backoff=ignore_backoff)


@dataclass
class BatchResult:
    reports: list[PollReport]
    not_started: list[int]  # left when the time budget ran out: for another task


def channels_poll(*, channel_ids: Sequence[int], time_budget: float | None = None) -> BatchResult:
    """Poll several mailboxes, one after the other (what one poll task does), each once. Each
    is claimed just before its own poll, so one held by another worker is skipped ("busy") and
    a batch that dies holds at most one lease. Mailboxes not started within `time_budget`
    seconds are returned for another task."""
    budget = bounce_settings().poll_batch_seconds if time_budget is None else time_budget
    channel_ids = list(dict.fromkeys(channel_ids))
    started = time.monotonic()
    reports: list[PollReport] = []
    with fast_commits():
        for index, channel_id in enumerate(channel_ids):
            if index and time.monotonic() - started > budget:
                return BatchResult(reports=reports, not_started=channel_ids[index:])
            reports.append(_mailbox_poll(channel_id=channel_id))
    return BatchResult(reports=reports, not_started=[])


def _mailbox_poll(*, channel_id: int, ignore_backoff: bool = False) -> PollReport:
    channel = _claim(channel_id=channel_id, ignore_backoff=ignore_backoff)
    if channel is None:
        current = DeliveryChannel.objects.filter(pk=channel_id).first()
        busy = current is not None and current.poll_lease_until is not None
        busy = busy and current.poll_lease_until > timezone.now()
        return PollReport(channel_id=channel_id, outcome="busy" if busy else "not_polled")
    poll = _Poll(
        channel=channel,
        lease=channel.poll_lease_until,
        report=PollReport(channel_id, "ok"),
        has_pending_messages=bool(channel.has_pending_messages),
    )
    try:
        cursor = _with_token_retry(poll)
    except LeaseLost:
        poll.report.outcome = "busy"
        poll.report.detail = "Another poll took this mailbox over."
    except InsufficientPermissions as error:
        _finish_failed(poll, outcome="reconnect", result=error.reason)
        channel_mark_needs_reconnect(channel=poll.channel, reason=error.reason)
    except ReconnectRequired as error:
        # channel_access_token already moved the channel to needs-reconnect and told the rep.
        _finish_failed(poll, outcome="reconnect", result=f"{AUTH_FAILED}: {error.reason}")
    except AccessTokenExpired as error:
        _auth_failure(poll, error)
    except RateLimited as error:
        _finish_failed(
            poll,
            outcome="backoff",
            result=f"Rate limited: {error.reason}",
            retry_after=error.retry_after,
        )
    except TransientProviderError as error:
        _finish_failed(poll, outcome="backoff", result=error.reason, retry_after=error.retry_after)
    except ProviderError as error:
        _finish_failed(poll, outcome="failed", result=error.reason)
    except Exception as error:
        logger.exception("Polling channel %s failed", channel_id)
        _finish_failed(poll, outcome="failed", result=f"Unexpected error: {error}")
        raise
    else:
        _finish_ok(poll, cursor)
    finally:
        _close_inboxes(poll.clients)
    poll.report.api_calls = poll.api_calls
    return poll.report


def _close_inboxes(boxes: Iterable[Inbox | None]) -> None:
    """Log out of what holds a connection (IMAP); the HTTP inboxes have nothing to close."""
    for box in boxes:
        close = getattr(box, "close", None)
        if close is not None:
            close()


def _with_token_retry(poll: _Poll):
    """Run the sync; on a 401, refresh the token once and run it again (the sync is
    idempotent, so starting over from the stored cursor is safe). A refresh commits durably
    even inside `fast_commits` (channels_app.tokens takes care of it): the provider may rotate
    the refresh token and soon refuse the one it replaced."""
    try:
        return _sync(poll, _open_inbox(poll))
    except AccessTokenExpired:
        return _sync(poll, _open_inbox(poll, force_refresh=True))


def _open_inbox(poll: _Poll, *, force_refresh: bool = False) -> Inbox:
    box = providers.inbox(channel=poll.channel, force_refresh=force_refresh)
    if box is None:  # the claim only takes polled kinds
        raise PermanentProviderError(f"{poll.channel.get_kind_display()} has no inbox to poll")
    poll.clients.append(box)
    poll.inbox = box
    return box


def _sync(poll: _Poll, box: Inbox):
    """One round of the inbox's changes (channels_app.providers.inbox): each page's
    candidates stored, a resumable cursor saved as soon as its page is stored, the lease
    renewed between pages; returns the round's final cursor."""
    stored = getattr(poll.channel, box.cursor_field)
    cursor = stored if stored not in (None, "") else None
    for page in box.changes(cursor=cursor, rescan_days=bounce_settings().poll_rescan_days):
        poll.report.resynced |= page.resynced
        _ingest(poll, page.candidates, box)
        if page.final:
            _process_pending(poll)
            return page.cursor
        if page.cursor is not None:
            _save_cursor(poll, **{box.cursor_field: page.cursor})
        else:
            _renew_lease(poll)
    raise TransientProviderError(
        f"{poll.channel.get_kind_display()} ended its changes without a cursor"
    )


def _ingest(poll: _Poll, candidates: list[InboxCandidate], client: Inbox) -> None:
    """Store every new message that may be a bounce or a reply (headers first, then raw)."""
    if not candidates:
        return
    poll.report.messages_seen += len(candidates)
    known = set(
        InboxMessage.objects.filter(
            channel=poll.channel,
            provider_message_id__in=[c.provider_message_id for c in candidates],
        ).values_list("provider_message_id", flat=True)
    )
    for candidate in candidates:
        if candidate.provider_message_id in known:
            continue
        try:
            headers, received_at = candidate.headers, candidate.received_at
            if headers is None:
                meta = client.headers(message_id=candidate.provider_message_id)
                headers, received_at = meta.headers, meta.received_at
                if meta.label_ids and "INBOX" not in meta.label_ids:
                    continue
            if not may_be_bounce_or_reply(headers):
                continue
            raw, fetch_error = client.raw(message_id=candidate.provider_message_id), ""
        except PermanentProviderError as error:
            # Refused for good as far as we can tell (gone since it was listed, undecodable):
            # kept without its MIME, with the error, and fetched again with the retries. A
            # transient error goes up instead: the poll stops before the cursor passes it.
            logger.warning(
                "Message %s of channel %s could not be fetched: %s",
                candidate.provider_message_id,
                poll.channel.pk,
                error.reason,
            )
            raw, fetch_error = None, error.reason
        inbox_message_store(
            channel=poll.channel,
            provider_message_id=candidate.provider_message_id,
            raw=raw,
            received_at=received_at,
            fetch_error=fetch_error,
        )
        poll.report.messages_fetched += 1
        poll.has_pending_messages = True
        known.add(candidate.provider_message_id)


def _process_pending(poll: _Poll) -> None:
    """Process every stored message not processed yet: those just fetched, those a crashed
    poll left behind, and those that failed before whose retry is due (fetched first when
    stored without their MIME). The claim said whether there were any before this poll; an
    idle poll does not ask again."""
    if not poll.has_pending_messages:
        return
    pending = (
        InboxMessage.objects.filter(inbox_messages_due_q(now=timezone.now()))
        .filter(channel=poll.channel)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    fetch = _fetcher(poll.inbox)
    for message_id in list(pending):
        if inbox_message_process(inbox_message_id=message_id, fetch=fetch) is not None:
            poll.report.messages_processed += 1


def _fetcher(box: Inbox | None) -> Callable[[str], bytes] | None:
    if box is None:
        return None
    return lambda provider_message_id: box.raw(message_id=provider_message_id)


def _held(poll: _Poll):
    return DeliveryChannel.objects.filter(pk=poll.channel.pk, poll_lease_until=poll.lease)


def _renew_lease(poll: _Poll) -> None:
    _save_cursor(poll)


def _save_cursor(poll: _Poll, **cursor) -> None:
    lease = timezone.now() + LEASE
    held = _held(poll).update(poll_lease_until=lease, **cursor)
    if not held:
        raise LeaseLost
    poll.lease = lease


def _finish_ok(poll: _Poll, cursor) -> None:
    report = poll.report
    now = timezone.now()
    result = f"OK: {report.messages_seen} new, {report.messages_processed} processed"
    if report.resynced:
        result += f" (re-scanned the last {bounce_settings().poll_rescan_days} days)"
    fields = {
        "poll_lease_until": None,
        "last_polled_at": now,
        "last_poll_result": result[:500],
        "poll_failures": 0,
        "poll_backoff_until": None,
    }
    if poll.inbox is not None:
        fields[poll.inbox.cursor_field] = cursor
    held = _held(poll).update(**fields)
    if not held:
        report.outcome = "busy"
        report.detail = "Another poll took this mailbox over; its cursor was kept."
        return
    report.detail = result


def _finish_failed(
    poll: _Poll,
    *,
    outcome: str,
    result: str,
    retry_after: float | None = None,
    failures: int | None = None,
) -> None:
    now = timezone.now()
    failures = failures if failures is not None else poll.channel.poll_failures + 1
    if retry_after is not None:
        delay = min(BACKOFF_CAP_SECONDS, max(retry_after, 1.0))
    else:
        delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(failures - 1, 10))
        delay *= random.uniform(0.9, 1.1)  # noqa: S311 — jitter, not security
    # last_polled_at stays the time of the last successful poll: the watchdog reads it.
    _held(poll).update(
        poll_lease_until=None,
        last_poll_result=result[:500],
        poll_failures=min(failures, 32767),
        poll_backoff_until=now + timedelta(seconds=delay) if outcome != "reconnect" else None,
    )
    poll.report.outcome = outcome
    poll.report.detail = result


def _auth_failure(poll: _Poll, error: AccessTokenExpired) -> None:
    """The provider refused a freshly refreshed token: count it; a few in a row (not one)
    mean the grant is unusable and the rep must reconnect."""
    channel = poll.channel
    streak = channel.poll_failures + 1 if channel.last_poll_result.startswith(AUTH_FAILED) else 1
    if streak >= AUTH_FAILURES_BEFORE_RECONNECT:
        _finish_failed(
            poll,
            outcome="reconnect",
            result=f"{AUTH_FAILED} ({streak} times in a row): {error.reason}",
            failures=streak,
        )
        channel_mark_needs_reconnect(
            channel=channel,
            reason=f"{channel.get_kind_display()} keeps refusing Mailroom's access. "
            "Reconnect the mailbox to resume bounce tracking and sending.",
        )
        return
    _finish_failed(
        poll,
        outcome="failed",
        result=f"{AUTH_FAILED} ({streak} in a row): {error.reason}",
        failures=streak,
    )


def channel_ids_due(*, now: datetime | None = None) -> Iterable[int]:
    """Mailboxes to poll this cycle: connected Gmail / Exchange Online with read access and
    SMTP channels with IMAP (DeliveryChannel.polled_q), not backing off, not
    held by a live poll. One whose push notifications are live only once per safety interval;
    one whose push lapsed or failed at every cycle, by itself."""
    now = now or timezone.now()
    push_live_recently_polled = Q(push_expires_at__gt=now, push_error="") & Q(
        last_polled_at__gt=now - bounce_settings().push_safety_poll
    )
    return (
        DeliveryChannel.objects.filter(DeliveryChannel.polled_q(), status=Status.CONNECTED)
        .exclude(push_live_recently_polled)
        .filter(Q(poll_backoff_until__isnull=True) | Q(poll_backoff_until__lte=now))
        .filter(Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now))
        .order_by("last_polled_at", "pk")
        .values_list("pk", flat=True)
        .iterator(chunk_size=2000)
    )


def channels_poll_fan_out(
    *, enqueue: Callable[[list[int]], None], now: datetime | None = None
) -> int:
    """The periodic step: free leases of polls that died, note mailboxes that have not synced
    for too long, and enqueue the due mailboxes in batches (one poll task per batch). Returns
    how many mailboxes were enqueued."""
    now = now or timezone.now()
    freed = DeliveryChannel.objects.filter(poll_lease_until__lt=now).update(poll_lease_until=None)
    if freed:
        logger.warning("Freed %s mailbox poll(s) that ran past their lease", freed)
    stale = channel_sync_overdue_count(now=now)
    if stale:
        logger.warning("%s connected mailbox(es) have not synced for over an hour", stale)
    size, count, batch = bounce_settings().poll_batch_size, 0, []
    for channel_id in channel_ids_due(now=now):
        batch.append(channel_id)
        count += 1
        if len(batch) == size:
            enqueue(batch)
            batch = []
    if batch:
        enqueue(batch)
    return count


SYNC_OVERDUE_AFTER = timedelta(hours=1)


def channel_sync_overdue_q(*, now: datetime | None = None) -> Q:
    """Connected polled mailboxes whose last successful poll is older than an hour."""
    cutoff = (now or timezone.now()) - SYNC_OVERDUE_AFTER
    return (DeliveryChannel.polled_q() & Q(status=Status.CONNECTED)) & (
        Q(last_polled_at__lt=cutoff) | Q(last_polled_at__isnull=True, created_at__lt=cutoff)
    )


def channel_sync_overdue_count(*, now: datetime | None = None) -> int:
    return DeliveryChannel.objects.filter(channel_sync_overdue_q(now=now)).count()


PUSH_COALESCE_SECONDS = 1
# A pending push sync is forgotten after this long even if its task was lost (the safety-net
# poll still comes; a later push queues a new sync).
PUSH_PENDING_SECONDS = 120


def _push_pending_key(channel_id: int) -> str:
    return f"mailroom:push-sync:{channel_id}"


def channel_poll_on_push(*, channel_id: int) -> bool:
    """A push said the mailbox changed: one sync soon, however many pushes arrive before it
    starts (the first of a burst queues it a second later; the others find it pending). False
    when one is already pending."""
    from django.core.cache import cache

    from . import tasks

    if not cache.add(_push_pending_key(channel_id), 1, timeout=PUSH_PENDING_SECONDS):
        return False
    tasks.channel_poll_pushed.apply_async((channel_id,), countdown=PUSH_COALESCE_SECONDS)
    return True


def channel_poll_pushed(*, channel_id: int) -> PollReport:
    """The sync a push asked for. Its pending mark is cleared before it reads, so a push that
    arrives from here on queues a sync of its own and no change waits for the safety poll."""
    from django.core.cache import cache

    cache.delete(_push_pending_key(channel_id))
    return channel_poll(channel_id=channel_id)


def channel_poll_request(*, channel: DeliveryChannel) -> bool:
    """ "Poll this mailbox now" (the admin action, the bounces page): queue one poll that skips
    the mailbox's backoff. Returns False for a mailbox that is not polled or not connected."""
    if not channel.supports_bounce_tracking or not channel.is_usable:
        return False
    from . import tasks

    channel_id = channel.pk
    transaction.on_commit(lambda: tasks.channel_poll.delay(channel_id, True))
    return True


@dataclass
class ReprocessReport:
    processed: int = 0
    still_failing: int = 0


def inbox_messages_reprocess(*, message_ids: Iterable[int]) -> ReprocessReport:
    """Replay stored, unprocessed messages now, their backoff ignored (after a fix: the
    admin action "Reprocess", `manage.py bounces_reprocess`). One stored without its MIME is
    fetched from its mailbox first. A message that fails again keeps its (new) error and its
    retries; nothing is dropped."""
    report = ReprocessReport()
    pending = (
        InboxMessage.objects.filter(pk__in=list(message_ids), processed_at__isnull=True)
        .order_by("channel_id", "pk")
        .values_list("pk", "channel_id")
    )
    boxes: dict[int, Inbox | None] = {}

    def fetch_from(channel_id: int) -> Callable[[str], bytes]:
        def fetch(provider_message_id: str) -> bytes:
            if channel_id not in boxes:  # opened once, and only for a message without MIME
                boxes[channel_id] = _reprocess_inbox(channel_id=channel_id)
            box = boxes[channel_id]
            if box is None:
                raise PermanentProviderError("The mailbox is not connected: reconnect it first")
            return box.raw(message_id=provider_message_id)

        return fetch

    try:
        for message_id, channel_id in pending:
            processed = inbox_message_process(
                inbox_message_id=message_id, fetch=fetch_from(channel_id), force=True
            )
            if processed is not None:
                report.processed += 1
            else:
                report.still_failing += 1
    finally:
        _close_inboxes(boxes.values())
    return report


def _reprocess_inbox(*, channel_id: int) -> Inbox | None:
    channel = DeliveryChannel.objects.filter(pk=channel_id).first()
    if channel is None or not channel.is_usable:
        return None
    try:
        return providers.inbox(channel=channel)
    except ProviderError as error:
        logger.warning("Cannot open the inbox of channel %s: %s", channel_id, error.reason)
        return None
