"""The send pipeline: each mailbox (delivery channel) has its own queue of pending emails,
drained by `channel_drain` in whichever worker runs it.

Exactly once. A drain claims a batch of due emails in one short transaction
(`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers draining the same mailbox
take different emails and never wait for each other; on SQLite the IMMEDIATE transaction
mode serialises claims). A claimed email is `sending` with a random claim token and a lease.
Only the holder of the token may finish it (`… WHERE claim_token = %s`), and the "sent" mark
is committed on its own right after the provider accepted the message. A worker killed
mid-batch leaves its emails `sending`; when the lease expires, the dispatcher puts them back in
the queue. The provider may have accepted one of them before the worker died (the few
milliseconds before its "sent" commit). So an email claimed again after a try whose outcome
was never written (its lease expired, a timeout, an internal error: its `attempts` were not
given back) is first looked up in the mailbox's sent mail by its Message-ID where the provider
can be asked (Gmail and Exchange Online with read access, Exchange On-Prem through EWS):
found, it is marked sent and never handed over again. SMTP cannot be asked: there that window
stays open, and such an email goes out a second time, with the same Message-ID.

Waiting is data, not a sleeping task: a pending email has `next_attempt_at` (its schedule, the
next send window, a retry back-off, the end of a provider pause). A drain that cannot send
marks why on the emails and schedules itself for that time; the periodic dispatcher is the
safety net that restarts any queue with due mail."""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from bounces.services import bounce_record_send_rejection
from channels_app.exceptions import (
    ChannelRefusesAll,
    PermanentProviderError,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    RecipientsRejected,
    ReconnectRequired,
    TransientProviderError,
)
from channels_app.models import DeliveryChannel
from channels_app.providers import facade as providers
from channels_app.providers.esp import esp_metadata_header
from channels_app.tokens import channel_mark_needs_reconnect
from core.addresses import NON_ASCII_LOCAL_PART
from core.db import fast_commits
from outreach.email_token import email_header_token
from outreach.models import OutboundEmail
from suppression.links import unsubscribe_url
from suppression.models import Suppression
from suppression.selectors import suppression_policy, suppression_reason_text, suppressions_find

from .limits import (
    Allowance,
    SendWindow,
    allowance_locked,
    channel_send_windows,
    slots_return,
    slots_take,
)
from .limits import channel_backoff as _channel_backoff
from .mime import (
    AddressNotDeliverable,
    address_needs_smtputf8,
    address_wire,
    email_mime_raw,
)
from .models import MailboxSendState
from .notices import notice_email_failed, notice_mailbox_paused, notice_throttled, when_text
from .resolution import NoUsableChannel, email_channel_resolve
from .selectors import pending_due_q

logger = logging.getLogger(__name__)

Status = OutboundEmail.Status
Kind = DeliveryChannel.Kind
PENDING = OutboundEmail.PENDING_STATUSES

LEASE = timedelta(minutes=10)
# A batch older than this is handed back instead of sent, so a slow batch never outlives its
# lease (a second worker could then take the same email).
LEASE_SAFETY_SECONDS = LEASE.total_seconds() / 2
BATCH_SIZE = 50  # one claim (3 statements) for this many sends
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
DEFAULT_429_WAIT_SECONDS = 60
DEFAULT_QUOTA_PAUSE = timedelta(hours=1)
KICK_STALE_AFTER = timedelta(seconds=60)
# How many queued emails one wait is written on (see _mark_waiting).
MARK_WAITING_SHORT = 50
MARK_WAITING_LONG = 2000


@dataclass
class DrainResult:
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    waiting: int = 0
    suppressed: int = 0  # stopped just before the provider: the address was suppressed meanwhile
    more: bool = False  # stopped for the time budget with mail still due
    next_run_at: datetime | None = None  # nothing more can go before then
    moved_to: set[int] = field(default_factory=set)  # channels that received re-routed mail
    found_sent: int = 0  # of `sent`: found in the mailbox's sent mail, not handed over again


class _StopBatch(Exception):
    """The whole mailbox must wait (429, quota, reconnect): hand the rest of the batch back."""

    def __init__(self, until: datetime | None, reason: str, status: str):
        super().__init__(reason)
        self.until = until
        self.reason = reason
        self.status = status


# --- queue wake-ups --------------------------------------------------------------------------


def _ensure_state(channel_id: int) -> None:
    MailboxSendState.objects.bulk_create(
        [MailboxSendState(channel_id=channel_id)], ignore_conflicts=True
    )


_KICK_SQL: dict[str, str] = {}


def channel_queue_kick(*, channel_id: int, now: datetime | None = None) -> None:
    """Make sure one drain task is queued for the mailbox (not one per email): the task is
    queued on commit unless another kick is still waiting to start. One statement, an upsert
    on the mailbox's state row that claims the kick only when none is waiting (or the waiting
    one went stale), and creates the row the first time: queueing a thousand emails to one
    mailbox costs one statement each, and one task."""
    now = now or timezone.now()
    vendor = db_connection.vendor
    sql = _KICK_SQL.get(vendor)
    if sql is None:
        quote = db_connection.ops.quote_name
        table = quote(MailboxSendState._meta.db_table)
        kicked, channel = quote("kicked_at"), quote("channel_id")
        sql = _KICK_SQL[vendor] = (
            f"INSERT INTO {table} ({channel}, {quote('backoff_until')}, "
            f"{quote('backoff_reason')}, {kicked}, {quote('next_drain_at')}, "
            f"{quote('updated_at')}) VALUES (%s, NULL, '', %s, NULL, %s) "
            f"ON CONFLICT ({channel}) DO UPDATE SET {kicked} = excluded.{kicked} "
            f"WHERE {table}.{kicked} IS NULL OR {table}.{kicked} < %s "
            f"RETURNING {channel}"
        )
    field = MailboxSendState._meta.get_field("kicked_at")
    at = field.get_db_prep_save(now, db_connection)
    stale = field.get_db_prep_save(now - KICK_STALE_AFTER, db_connection)
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [channel_id, at, at, stale])
        claimed = cursor.fetchone() is not None
    if claimed:
        from . import tasks

        transaction.on_commit(lambda: tasks.channel_drain.delay(channel_id))


def channel_drain_hand_back(*, channel_id: int) -> None:
    """A drain that failed gives its mailbox back: the kick it held is released, so the next
    kick (a queued email, the dispatcher) starts a drain at once instead of after
    KICK_STALE_AFTER."""
    MailboxSendState.objects.filter(channel_id=channel_id).update(kicked_at=None)


def channel_queue_schedule(*, channel_id: int, at: datetime, now: datetime | None = None) -> bool:
    """Make sure a drain runs at `at` (a send window opens, a pause ends). Keeps one scheduled
    wake-up per mailbox: the earliest. Returns whether a task was scheduled."""
    now = now or timezone.now()
    _ensure_state(channel_id)
    claimed = (
        MailboxSendState.objects.filter(channel_id=channel_id)
        .filter(Q(next_drain_at__isnull=True) | Q(next_drain_at__lte=now) | Q(next_drain_at__gt=at))
        .update(next_drain_at=at)
    )
    if claimed:
        from . import tasks

        transaction.on_commit(lambda: tasks.channel_drain.apply_async((channel_id,), eta=at))
    return bool(claimed)


# --- claims ----------------------------------------------------------------------------------


def emails_claim(
    *,
    channel: DeliveryChannel,
    windows: list[SendWindow],
    limit: int,
    now: datetime,
    senders: dict[int, User] | None = None,
) -> tuple[list[OutboundEmail], Allowance | None]:
    """Claim up to `limit` due emails of the mailbox, in queue order (one-off before campaign
    steps, then oldest due first), within what the limiter allows now. Returns the claimed
    emails and, when the limiter allows nothing, why and until when. `senders` (a drain's
    cache, filled here) gives each email its sender without loading it again per row."""
    with transaction.atomic():
        if windows:
            allowance = allowance_locked(
                channel_id=channel.pk, windows=windows, want=limit, now=now
            )
            if allowance.available == 0:
                return [], allowance
            limit = allowance.available
        due = (
            OutboundEmail.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pending_due_q(now=now), channel_id=channel.pk)
            .order_by("priority", "next_attempt_at", "id")
        )
        if channel.campaigns_paused_at is not None:
            # Mailbox protection: campaign steps wait, one-off mail still goes.
            due = due.filter(enrollment__isnull=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return [], None
        token = uuid.uuid4()
        OutboundEmail.objects.filter(id__in=ids).update(
            status=Status.SENDING,
            claim_token=token,
            lease_until=now + LEASE,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        if windows:
            slots_take(channel_id=channel.pk, count=len(ids), now=now)
    emails = list(
        OutboundEmail.objects.filter(id__in=ids, claim_token=token).order_by(
            "priority", "next_attempt_at", "id"
        )
    )
    # A batch mostly comes from a few reps: each sender (with organization and team, for
    # channel resolution) is read once per drain, not joined onto every row.
    senders = {} if senders is None else senders
    missing = {email.sender_id for email in emails} - senders.keys()
    if missing:
        senders.update(User.objects.select_related("organization", "team").in_bulk(list(missing)))
    for email in emails:
        email.sender = senders[email.sender_id]
    return emails, None


def _finish(email: OutboundEmail, **fields) -> bool:
    """Write the outcome of a claimed email, if this worker still holds the claim."""
    fields.setdefault("updated_at", timezone.now())
    updated = OutboundEmail.objects.filter(
        pk=email.pk, status=Status.SENDING, claim_token=email.claim_token
    ).update(lease_until=None, claim_token=None, **fields)
    if not updated:
        logger.error("email %s: claim lost before its outcome was written", email.pk)
    return bool(updated)


_SENT_SQL: dict[str, str] = {}


def _finish_sent(email: OutboundEmail, *, now: datetime, provider_id: str, kind: str) -> bool:
    """The "sent" mark, the one write per email on the hot path: `_finish` as one prepared
    UPDATE statement (same columns, same claim-token guard) without building an ORM query
    per email. Committed on its own at once (autocommit), so the unclosable window stays one
    round trip to the database."""
    vendor = db_connection.vendor
    sql = _SENT_SQL.get(vendor)
    if sql is None:
        quote = db_connection.ops.quote_name
        sql = _SENT_SQL[vendor] = (
            f"UPDATE {quote(OutboundEmail._meta.db_table)} SET "
            f"{quote('status')} = %s, {quote('sent_at')} = %s, "
            f"{quote('provider_message_id')} = %s, {quote('channel_kind')} = %s, "
            f"{quote('waiting_reason')} = '', {quote('failure_reason')} = '', "
            f"{quote('next_attempt_at')} = NULL, {quote('lease_until')} = NULL, "
            f"{quote('claim_token')} = NULL, {quote('updated_at')} = %s "
            f"WHERE {quote('id')} = %s AND {quote('status')} = %s AND {quote('claim_token')} = %s"
        )
    fields = OutboundEmail._meta
    when = fields.get_field("sent_at").get_db_prep_save(now, db_connection)
    token = fields.get_field("claim_token").get_db_prep_save(email.claim_token, db_connection)
    with db_connection.cursor() as cursor:
        cursor.execute(
            sql,
            [Status.SENT, when, provider_id[:255], kind, when, email.pk, Status.SENDING, token],
        )
        updated = cursor.rowcount
    if not updated:
        logger.error("email %s: claim lost before its outcome was written", email.pk)
    return bool(updated)


def _release(
    emails: list[OutboundEmail], *, status: str, until: datetime, reason: str, refund: bool
) -> None:
    """Hand claimed emails back to the queue (not sent). `refund`: the try does not count."""
    for email in emails:
        _finish(
            email,
            status=status,
            next_attempt_at=until,
            waiting_reason=reason[:500],
            attempts=F("attempts") - 1 if refund else F("attempts"),
        )


def emails_recover_expired_leases(*, now: datetime) -> int:
    """Emails whose worker died mid-send go back to the queue (see the module docstring for
    the one case where that sends an email twice)."""
    return OutboundEmail.objects.filter(status=Status.SENDING, lease_until__lt=now).update(
        status=Status.QUEUED,
        lease_until=None,
        claim_token=None,
        next_attempt_at=now,
        waiting_reason="Back in the queue: the worker sending it stopped.",
        updated_at=now,
    )


def _mark_waiting(
    *, channel: DeliveryChannel, status: str, until: datetime, reason: str, now: datetime
) -> int:
    """The due emails at the head of the mailbox's queue wait until `until`, and say why in
    the outbox. Bounded: a long backlog behind a 2-per-second pace is not rewritten every
    second; the head shows the window, the rest stays queued behind it. Returns how many."""
    due = OutboundEmail.objects.filter(pending_due_q(now=now), channel_id=channel.pk)
    if channel.campaigns_paused_at is not None:
        due = due.filter(enrollment__isnull=True)
    short_wait = (until - now).total_seconds() < 60
    head = list(
        due.order_by("priority", "next_attempt_at", "id").values_list("id", flat=True)[
            : MARK_WAITING_SHORT if short_wait else MARK_WAITING_LONG
        ]
    )
    return OutboundEmail.objects.filter(id__in=head).update(
        status=status, next_attempt_at=until, waiting_reason=reason[:500], updated_at=now
    )


# --- provider calls ----------------------------------------------------------------------------


def _from_identity(channel: DeliveryChannel, sender: User) -> tuple[str, str]:
    """Mailboxes send as the mailbox; SMTP relays send as the rep."""
    if channel.kind in DeliveryChannel.MAILBOX_KINDS and channel.mailbox_address:
        return channel.mailbox_address, sender.display_name
    return sender.email, sender.display_name


def _esp_headers(channel: DeliveryChannel, email: OutboundEmail) -> bytes:
    """An SMTP relay run by an ESP gets the header that makes its webhook events name the email."""
    if channel.kind != DeliveryChannel.Kind.CUSTOM_SMTP or not channel.esp:
        return b""
    return esp_metadata_header(esp=channel.esp, token=email_header_token(email_id=email.pk))


def email_deliver(
    *, channel: DeliveryChannel, email: OutboundEmail, now: datetime, unsubscribe_url: str = ""
) -> str:
    """Build the email's MIME and hand it to the channel's provider (channels_app.providers
    .facade chooses it); returns the provider's message id if any. Raises
    channels_app.exceptions.ProviderError subclasses."""
    from_address, from_name = _from_identity(channel, email.sender)
    if channel.kind in DeliveryChannel.MAILBOX_KINDS and address_needs_smtputf8(email.to_address):
        raise PermanentProviderError(NON_ASCII_LOCAL_PART.format(address=email.to_address))
    try:
        raw = email_mime_raw(
            email=email,
            from_address=from_address,
            from_name=from_name,
            now=now,
            unsubscribe_url=unsubscribe_url,
            extra_headers=_esp_headers(channel, email),
        )
        envelope_from, recipient = address_wire(from_address), address_wire(email.to_address)
    except AddressNotDeliverable as exc:
        raise PermanentProviderError(str(exc)) from exc
    return providers.deliver(
        channel=channel,
        message=providers.OutgoingMessage(
            raw=raw, envelope_from=envelope_from, recipients=[recipient]
        ),
    )


# --- outcomes ----------------------------------------------------------------------------------


def _backoff_seconds(attempts: int, retry_after: float | None) -> float:
    wait = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    wait *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
    return max(wait, retry_after or 0)


def _fail(
    email: OutboundEmail, *, channel: DeliveryChannel | None, reason: str, now: datetime
) -> None:
    if not _finish(
        email,
        status=Status.FAILED,
        failed_at=now,
        failure_reason=reason[:1000],
        waiting_reason="",
        next_attempt_at=None,
    ):
        return
    notice_email_failed(email=email, channel=channel, reason=reason)


def _bounce_at_send(email: OutboundEmail, exc: RecipientsRejected, now: datetime) -> None:
    with transaction.atomic():
        if not _finish(
            email,
            status=Status.BOUNCED,
            bounced_at=now,
            failure_reason=f"Rejected at send time: {exc.reason}"[:1000],
            waiting_reason="",
            next_attempt_at=None,
        ):
            return
        for rejected in exc.recipients:
            bounce_record_send_rejection(
                email=email,
                recipient=rejected.address,
                status=rejected.status,
                diagnostic=rejected.diagnostic,
                hard=rejected.hard,
            )


def _pause_mailbox(channel: DeliveryChannel, exc: QuotaExhausted, now: datetime) -> datetime:
    until = exc.resume_at if exc.resume_at and exc.resume_at > now else now + DEFAULT_QUOTA_PAUSE
    DeliveryChannel.objects.filter(pk=channel.pk).update(
        sending_paused_until=until, sending_paused_reason=exc.reason[:500], updated_at=now
    )
    channel.sending_paused_until = until
    channel.sending_paused_reason = exc.reason[:500]
    notice_mailbox_paused(channel=channel, until=until, reason=exc.reason)
    return until


def _send_claimed(
    email: OutboundEmail, *, channel: DeliveryChannel, result: DrainResult, resolved: dict
) -> bool:
    """Send one claimed email and write its outcome; False when nothing reached the provider
    (its send slot is given back). Raises _StopBatch when the mailbox as a whole must wait."""
    now = timezone.now()
    key = (email.sender_id, email.source)
    if key not in resolved:
        try:
            resolved[key] = email_channel_resolve(sender=email.sender, source=email.source)
        except NoUsableChannel as exc:
            resolved[key] = exc
    target = resolved[key]
    if isinstance(target, NoUsableChannel):
        result.failed += 1
        _fail(email, channel=channel, reason=f"{target.reason} Then Retry send.", now=now)
        return False
    if target.pk != channel.pk:
        # The sender's channel changed since the email was queued: it goes the new way.
        _finish(
            email,
            status=Status.QUEUED,
            channel_id=target.pk,
            channel_kind=target.kind,
            next_attempt_at=now,
            waiting_reason="",
            attempts=F("attempts") - 1,
        )
        result.moved_to.add(target.pk)
        return False
    try:
        provider_id = _found_in_sent_mail(email, channel=channel, result=result)
        if provider_id is None:
            provider_id = email_deliver(
                channel=channel,
                email=email,
                now=now,
                unsubscribe_url=_unsubscribe_url(email, resolved),
            )
    except RecipientsRejected as exc:
        result.bounced += 1
        _bounce_at_send(email, exc, now)
    except ChannelRefusesAll as exc:
        result.failed += 1
        _fail(email, channel=channel, reason=exc.reason, now=now)
        _channel_note_error(channel, exc.reason, now)
        raise _StopBatch(None, exc.reason, Status.FAILED) from exc
    except PermanentProviderError as exc:
        result.failed += 1
        _fail(email, channel=channel, reason=exc.reason, now=now)
    except RateLimited as exc:
        until = now + timedelta(seconds=exc.retry_after or DEFAULT_429_WAIT_SECONDS)
        reason = f"{exc.reason} Next try at {when_text(until)}."
        _channel_backoff(channel_id=channel.pk, until=until, reason=reason)
        raise _StopBatch(until, reason, Status.THROTTLED) from exc
    except QuotaExhausted as exc:
        until = _pause_mailbox(channel, exc, now)
        reason = f"Mailbox paused until {when_text(until)}: {exc.reason}"
        raise _StopBatch(until, reason, Status.THROTTLED) from exc
    except ReconnectRequired as exc:
        channel_mark_needs_reconnect(channel=channel, reason=exc.reason)
        reason = (
            f"Waiting for you to reconnect {channel.get_kind_display()}: it goes out by itself "
            "once the mailbox is reconnected."
        )
        raise _StopBatch(None, reason, Status.QUEUED) from exc
    except (TransientProviderError, ProviderError) as exc:
        if email.attempts >= MAX_ATTEMPTS:
            result.failed += 1
            _fail(
                email,
                channel=channel,
                reason=f"Gave up after {email.attempts} tries: {exc.reason}",
                now=now,
            )
            return True
        retry_after = getattr(exc, "retry_after", None)
        until = now + timedelta(seconds=_backoff_seconds(email.attempts, retry_after))
        result.waiting += 1
        _finish(
            email,
            status=Status.QUEUED,
            next_attempt_at=until,
            waiting_reason=f"Try {email.attempts} failed, next at {when_text(until)}: {exc.reason}"[
                :500
            ],
        )
    else:
        result.sent += 1
        _finish_sent(email, now=now, provider_id=provider_id, kind=channel.kind)
        if channel.last_error:
            _channel_note_error(channel, "", now)  # it works again
    return True


def _found_in_sent_mail(
    email: OutboundEmail, *, channel: DeliveryChannel, result: DrainResult
) -> str | None:
    """For an email an earlier try may have handed over without its outcome being written
    (claimed before and not given back: `attempts` above 1), the provider's id of the copy
    already in the mailbox's sent mail; None when there is none or it cannot be asked."""
    if email.attempts <= 1 or not email.message_id:
        return None
    found = providers.already_sent(channel=channel, message_id=email.message_id)
    if found is not None:
        logger.warning(
            "email %s: already in the mailbox's sent mail, marked sent without sending again",
            email.pk,
        )
        result.found_sent += 1
    return found


def _unsubscribe_url(email: OutboundEmail, resolved: dict) -> str:
    """The one-click unsubscribe link for the email's headers: every campaign email, and
    one-off emails when the organization chose so (its policy read once per drain)."""
    if email.enrollment_id is None:
        key = ("unsubscribe_one_off", email.organization_id)
        if key not in resolved:
            policy = suppression_policy(organization_id=email.organization_id)
            resolved[key] = policy.unsubscribe_header_one_off
        if not resolved[key]:
            return ""
    return unsubscribe_url(
        organization_id=email.organization_id, address=email.to_address, email_id=email.pk
    )


def _channel_note_error(channel: DeliveryChannel, error: str, now: datetime) -> None:
    """What Email settings shows next to the channel (the server refused its login), or
    nothing once it sends again. Saving new credentials clears it too."""
    DeliveryChannel.objects.filter(pk=channel.pk).update(last_error=error[:1000], updated_at=now)
    channel.last_error = error[:1000]


def _reroute_pending(*, channel: DeliveryChannel, now: datetime, result: DrainResult) -> None:
    """The channel is gone (disconnected): its pending mail is resolved again."""
    pending = OutboundEmail.objects.filter(
        channel_id=channel.pk, status__in=PENDING
    ).select_related("sender__organization")[:500]
    for email in pending:
        try:
            target = email_channel_resolve(sender=email.sender, source=email.source)
        except NoUsableChannel as exc:
            OutboundEmail.objects.filter(pk=email.pk, status__in=PENDING).update(
                status=Status.FAILED,
                failed_at=now,
                failure_reason=f"{exc.reason} Then Retry send."[:1000],
                updated_at=now,
            )
            result.failed += 1
            continue
        if target.pk != channel.pk:
            OutboundEmail.objects.filter(pk=email.pk, status__in=PENDING).update(
                channel_id=target.pk, channel_kind=target.kind, updated_at=now
            )
            result.moved_to.add(target.pk)


def channel_drain(*, channel_id: int, **options) -> DrainResult:
    """Drain the mailbox's queue (see _channel_drain). Its commits skip the WAL flush
    (core.db.fast_commits), the largest cost of the hot path: an email whose "sent" mark a
    database crash lost goes once more when its lease expires."""
    with fast_commits():
        return _channel_drain(channel_id=channel_id, **options)


def _channel_drain(
    *,
    channel_id: int,
    batch_size: int = BATCH_SIZE,
    time_budget: float = 30.0,
    inline_wait: float = 0.0,
) -> DrainResult:
    """Drain the mailbox's queue: send what is due, as fast as its limits allow, for at most
    `time_budget` seconds (then `more` is set so other mailboxes get their turn). Waits of up
    to `inline_wait` seconds (Gmail's 2 per second) are slept through; longer ones are written
    on the emails and returned as `next_run_at`."""
    result = DrainResult()
    MailboxSendState.objects.filter(channel_id=channel_id).update(kicked_at=None)
    channel = DeliveryChannel.objects.select_related("owner__team").filter(pk=channel_id).first()
    if channel is None:
        return result
    now = timezone.now()
    if channel.status == DeliveryChannel.Status.DISCONNECTED:
        _reroute_pending(channel=channel, now=now, result=result)
        return result
    if channel.status != DeliveryChannel.Status.CONNECTED:
        return result  # needs reconnect: the mail waits, the outbox says why
    if channel.sending_paused_until:
        if channel.sending_paused_until > now:
            reason = (
                f"Mailbox paused until {when_text(channel.sending_paused_until)}: "
                f"{channel.sending_paused_reason}"
            )
            _mark_waiting(
                channel=channel,
                status=Status.THROTTLED,
                until=channel.sending_paused_until,
                reason=reason,
                now=now,
            )
            result.next_run_at = channel.sending_paused_until
            return result
        DeliveryChannel.objects.filter(pk=channel.pk, sending_paused_until__lte=now).update(
            sending_paused_until=None, sending_paused_reason="", updated_at=now
        )
    windows = channel_send_windows(channel=channel)
    resolved: dict = {}
    senders: dict[int, User] = {}
    started = time.monotonic()
    fanned_out = False
    while time.monotonic() - started < time_budget:
        now = timezone.now()
        emails, blocked = emails_claim(
            channel=channel, windows=windows, limit=batch_size, now=now, senders=senders
        )
        if blocked is not None:
            opens_at = blocked.opens_at or now
            wait = (opens_at - now).total_seconds()
            if wait <= inline_wait:
                time.sleep(max(wait, 0))
                continue
            reason = f"Next send window at {when_text(opens_at)}: {blocked.reason}"
            if _mark_waiting(
                channel=channel,
                status=Status.THROTTLED,
                until=opens_at,
                reason=reason,
                now=now,
            ):
                result.next_run_at = opens_at
                notice_throttled(channel=channel, allowance=blocked)
            return result
        if not emails:
            return result
        if len(emails) == batch_size and not windows and not fanned_out:
            # More mail than one batch on an unthrottled channel: let another worker help.
            fanned_out = True
            channel_queue_kick(channel_id=channel.pk)
        if not _send_batch(
            emails,
            channel=channel,
            result=result,
            resolved=resolved,
            claimed_at=now,
            throttled=bool(windows),
        ):
            return result
        if len(emails) < batch_size and not windows:
            return result
    result.more = True
    return result


def _send_batch(
    emails: list[OutboundEmail],
    *,
    channel: DeliveryChannel,
    result: DrainResult,
    resolved: dict,
    claimed_at: datetime,
    throttled: bool,
) -> bool:
    """Send a claimed batch in order. False when the mailbox must stop for now. Send slots
    of emails that never reached the provider are given back to the limiter."""
    started = time.monotonic()
    unused_slots = 0
    keep_going = True
    suppressed = _suppressed_among(emails)
    for index, email in enumerate(emails):
        entry = suppressed.get(email.to_address.strip().lower())
        if entry is not None:
            # Suppressed while it waited (a bounce, an unsubscribe): never handed to the provider.
            result.suppressed += 1
            unused_slots += 1
            _finish(
                email,
                status=Status.CANCELLED,
                failure_reason=f"Not sent: {suppression_reason_text(entry=entry)}"[:1000],
                waiting_reason="",
                next_attempt_at=None,
            )
            continue
        if time.monotonic() - started > LEASE_SAFETY_SECONDS:
            rest = emails[index:]
            _release(rest, status=Status.QUEUED, until=timezone.now(), reason="", refund=True)
            unused_slots += len(rest)
            result.more = True
            keep_going = False
            break
        try:
            if not _send_claimed(email, channel=channel, result=result, resolved=resolved):
                unused_slots += 1
        except _StopBatch as stop:
            now = timezone.now()
            if stop.status == Status.FAILED:
                # The channel's login was refused: the rest fails the same way, without
                # asking the server again (one refused login per batch, not per email).
                rest = emails[index + 1 :]
                for other in rest:
                    result.failed += 1
                    _fail(other, channel=channel, reason=stop.reason, now=now)
                unused_slots += len(rest)
                keep_going = False
                break
            until = stop.until or now
            rest = emails[index:]
            _release(rest, status=stop.status, until=until, reason=stop.reason, refund=True)
            unused_slots += len(rest)
            if stop.until:
                _mark_waiting(
                    channel=channel, status=stop.status, until=until, reason=stop.reason, now=now
                )
                result.next_run_at = stop.until
            keep_going = False
            break
        except Exception as exc:
            # A bug or a database hiccup with one email must not strand the rest of the batch,
            # and an email that keeps failing this way fails alone, with the reason, once it
            # reaches the attempt cap (its Retry button sends it again after a fix).
            logger.exception("email %s: unexpected error while sending", email.pk)
            now = timezone.now()
            if email.attempts >= MAX_ATTEMPTS:
                result.failed += 1
                _fail(
                    email,
                    channel=channel,
                    reason=(
                        f"Gave up after {email.attempts} tries: Mailroom could not build or hand "
                        f"over this email ({type(exc).__name__}). Its other mail is not held up; "
                        "tell your admin, then Retry send."
                    ),
                    now=now,
                )
                continue
            until = now + timedelta(seconds=_backoff_seconds(email.attempts, None))
            _release(
                [email],
                status=Status.QUEUED,
                until=until,
                reason=f"Try {email.attempts} hit an internal error; next at {when_text(until)}.",
                refund=False,
            )
    if throttled and unused_slots:
        slots_return(channel_id=channel.pk, count=unused_slots, taken_at=claimed_at)
    return keep_going


def _suppressed_among(emails: list[OutboundEmail]) -> dict[str, Suppression]:
    """The batch's recipients on their organization's suppression list: one query per
    organization in the batch (a mailbox's batch is one organization's)."""
    found: dict[str, Suppression] = {}
    for organization_id in {email.organization_id for email in emails}:
        found |= suppressions_find(
            organization_id=organization_id,
            addresses=[e.to_address for e in emails if e.organization_id == organization_id],
        )
    return found


def sending_dispatch(*, now: datetime) -> int:
    """Re-queue emails whose lease expired and wake every mailbox queue that has due mail
    and may send (connected, not paused). Returns how many queues were woken."""
    emails_recover_expired_leases(now=now)
    due_channel_ids = set(
        OutboundEmail.objects.filter(pending_due_q(now=now))
        .order_by()
        .values_list("channel_id", flat=True)
        .distinct()
    )
    if None in due_channel_ids:
        due_channel_ids.discard(None)
        due_channel_ids |= _emails_assign_channel(now=now)
    sendable = (
        DeliveryChannel.objects.filter(pk__in=due_channel_ids)
        .exclude(status=DeliveryChannel.Status.NEEDS_RECONNECT)
        .exclude(sending_paused_until__gt=now)
        .values_list("pk", flat=True)
    )
    woken = 0
    for channel_id in sendable:
        channel_queue_kick(channel_id=channel_id, now=now)
        woken += 1
    return woken


def _emails_assign_channel(*, now: datetime) -> set[int]:
    """Pending emails without a channel (it was deleted, or none existed when a campaign step
    came due) are resolved again; those that still have nowhere to go keep waiting."""
    assigned: set[int] = set()
    orphans = (
        OutboundEmail.objects.filter(pending_due_q(now=now), channel__isnull=True)
        .select_related("sender__organization")
        .order_by("next_attempt_at")[:500]
    )
    for email in orphans:
        try:
            target = email_channel_resolve(sender=email.sender, source=email.source)
        except NoUsableChannel as exc:
            OutboundEmail.objects.filter(pk=email.pk).update(
                next_attempt_at=now + timedelta(minutes=5),
                waiting_reason=exc.reason[:500],
                updated_at=now,
            )
            continue
        OutboundEmail.objects.filter(pk=email.pk, channel__isnull=True).update(
            channel_id=target.pk, channel_kind=target.kind, waiting_reason="", updated_at=now
        )
        assigned.add(target.pk)
    return assigned
