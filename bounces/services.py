"""Writes for bounce tracking: bounces (from the inbox or refused at send time), replies, and
mailbox protection. Every effect is idempotent: a notification seen twice, or the same bounce
reported by the SMTP server and later by a DSN, counts once."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from accounts.selectors import user_with_team_managers
from analytics.feed import FeedText, feed_event_record, feed_text, feed_texts_english
from analytics.models import FeedEvent
from channels_app.models import DeliveryChannel
from channels_app.sending.notices import notice_mailbox_paused
from outreach.effects import enrollments_stop_for_prospect, prospect_mark_invalid
from outreach.models import Enrollment, OutboundEmail, Prospect
from suppression.models import Suppression
from suppression.selectors import suppression_policy
from suppression.services import suppression_add

from .classify import classify_message
from .conf import bounce_settings
from .correlation import bounce_match, reply_match
from .models import Bounce, InboxMessage, MailboxPause
from .parsing import reason_of_reply, vocabulary
from .selectors import inbox_messages_due_q

# A message that failed is tried again after a growing wait, never given up on: it stays in the
# admin's "unreadable messages" with its error until it is processed (`bounces_reprocess`).
RETRY_BASE_SECONDS = 60
RETRY_CAP_SECONDS = 6 * 3600

logger = logging.getLogger(__name__)

_DIAGNOSTIC_TYPE = re.compile(r"^\s*(smtp|x-[\w-]+|X-Postfix)\s*;\s*", re.IGNORECASE)


def bounce_summary(*, status: str | None, diagnostic: str, reason: str = "") -> str:
    """'Address does not exist — 550 5.1.1 user unknown': the reason in words, then the code
    and the server's own words ('' when none is known)."""
    said = " ".join(_DIAGNOSTIC_TYPE.sub("", diagnostic or "").split())
    if status and status not in said:
        said = f"{status} {said}".strip()
    if len(said) > 160:
        said = said[:157].rstrip() + "…"
    words = vocabulary.label(reason) if reason and reason != "unknown" else ""
    return " — ".join(part for part in (words, said) if part)


def bounce_headline_text(
    *, recipient: str, status: str | None, diagnostic: str, reason: str = "", name: str = ""
) -> FeedText:
    """One line a person reads at a glance: 'Email to Ana Lima bounced: Address does not exist
    (5.1.1)' — who (the prospect's name, else the address), the reason in words and its code.
    Without a known reason, the first line of the server's words stands in, cut short; the
    whole diagnostic stays on the bounce, where the feed shows it behind a click."""
    who = name.strip() or recipient
    label = vocabulary.label(reason) if reason and reason != "unknown" else ""
    if label:
        if status:
            return feed_text("bounced.reason", who=who, reason=label, status=status)
        return feed_text("bounced.reason_only", who=who, reason=label)
    first_line = next(
        (line.strip() for line in _DIAGNOSTIC_TYPE.sub("", diagnostic or "").splitlines()),
        "",
    )
    said = first_line if len(first_line) <= 100 else first_line[:99].rstrip() + "…"
    if status and status not in said:
        said = f"{said} ({status})" if said else status
    return feed_text("bounced.said", who=who, said=said) if said else feed_text("bounced", who=who)


def bounce_headline(**facts) -> str:
    """bounce_headline_text() in English (bounce_headline_text's arguments)."""
    return feed_texts_english(title=bounce_headline_text(**facts))[0]


def bounce_detail_texts(*, subject: str, hard: bool, invalid: bool = False) -> list[FeedText]:
    """'Hard bounce of “Subject”.', and whether the address is now marked invalid."""
    texts = [feed_text("bounced.hard" if hard else "bounced.soft", subject=subject)]
    return texts + [feed_text("bounced.invalid")] if invalid else texts


def bounce_record_send_rejection(
    *, email: OutboundEmail, recipient: str, status: str | None, diagnostic: str, hard: bool
) -> None:
    """The SMTP server refused `recipient` when `email` was sent: a bounce, known at send time.
    Calling it twice for the same email and recipient records it once."""
    recipient = recipient.strip().lower()
    reason = reason_of_reply(diagnostic or "", status)
    with transaction.atomic():
        bounce, created = Bounce.objects.get_or_create(
            outbound_email=email,
            recipient=recipient,
            source=Bounce.Source.SMTP_REJECT,
            defaults={
                "organization_id": email.organization_id,
                "channel_id": email.channel_id,
                "matched_by": Bounce.MatchedBy.SEND_TIME,
                "status_code": (status or "")[:16],
                "diagnostic": diagnostic or "",
                "reason": reason,
                "is_hard": hard,
                "occurred_at": timezone.now(),
            },
        )
        if created:
            _send_rejection_reason_in_outbox(email_id=email.pk, reason=reason)
            bounce_effects_apply(bounce=bounce)


def _send_rejection_reason_in_outbox(*, email_id: int, reason: str) -> None:
    """The outbox's "Why" of an email refused at send time opens with the reason in words."""
    words = vocabulary.label(reason) if reason != "unknown" else ""
    current = (
        OutboundEmail.objects.filter(pk=email_id).values_list("failure_reason", flat=True).first()
    )
    if words and current is not None and not current.startswith(words):
        OutboundEmail.objects.filter(pk=email_id).update(
            failure_reason=f"{words} — {current}"[:1000] if current else words,
            updated_at=timezone.now(),
        )


def bounce_effects_apply(*, bounce: Bounce) -> None:
    """What a newly recorded, matched bounce does: the email becomes bounced; a hard bounce (or
    the soft-bounce limit) invalidates the prospect and stops all its enrollments; the sender
    hears about it in the live feed; a hard bounce may pause the mailbox's campaigns.
    A delay notification is recorded but changes nothing: the email may still arrive."""
    email = bounce.outbound_email
    if email is None or bounce.is_delayed:
        return
    with transaction.atomic():
        OutboundEmail.objects.filter(pk=email.pk).exclude(
            status=OutboundEmail.Status.BOUNCED
        ).update(
            status=OutboundEmail.Status.BOUNCED,
            bounced_at=bounce.occurred_at,
            failure_reason=(
                f"{'Hard' if bounce.is_hard else 'Soft'} bounce: "
                + bounce_summary(
                    status=bounce.status_code, diagnostic=bounce.diagnostic, reason=bounce.reason
                )
            )[:1000],
            updated_at=timezone.now(),
        )
        prospect = (
            Prospect.objects.filter(pk=email.prospect_id).first() if email.prospect_id else None
        )
        invalid_reason = _invalidating_reason(bounce=bounce, email=email)
        if invalid_reason:
            # The address sent to (validated when queued) goes on the suppression list, prospect
            # or not: every send path refuses it from now on.
            suppression_add(
                organization_id=email.organization_id,
                value=email.to_address,
                reason=(
                    Suppression.Reason.HARD_BOUNCE
                    if bounce.is_hard
                    else Suppression.Reason.SOFT_BOUNCES
                ),
                detail=invalid_reason,
                source_bounce=bounce,
            )
        if prospect is not None and invalid_reason:
            prospect_mark_invalid(prospect=prospect, reason=invalid_reason)
            enrollments_stop_for_prospect(prospect=prospect, state=Enrollment.State.STOPPED_BOUNCED)
        headline = bounce_headline_text(
            recipient=bounce.recipient,
            status=bounce.status_code,
            diagnostic=bounce.diagnostic,
            reason=bounce.reason,
            name=prospect.full_name if prospect is not None else "",
        )
        feed_event_record(
            user=email.sender,
            kind=FeedEvent.Kind.BOUNCED,
            title=headline,
            detail=bounce_detail_texts(
                subject=email.subject,
                hard=bounce.is_hard,
                invalid=prospect is not None
                and prospect.email_status == Prospect.EmailStatus.INVALID,
            ),
            outbound_email=email,
            channel=email.channel,
            dedupe_key=f"bounced:{email.pk}:{bounce.recipient}",
        )
        if bounce.is_hard and email.channel_id:
            _protection_check_apart(channel_id=email.channel_id)


def _protection_check_apart(*, channel_id: int) -> None:
    """Mailbox protection never shares the bounce's fate: it runs in a savepoint, so a failure
    to pause (a database error, a pause row left open by hand) rolls back the pause alone and
    the bounce is still recorded; the check is then tried again by its own task once the
    bounce is committed."""
    try:
        with transaction.atomic():
            channel_protection_check(channel_id=channel_id)
    except DatabaseError:
        logger.exception("Mailbox protection check of channel %s failed; retrying", channel_id)
        from . import tasks

        transaction.on_commit(lambda: tasks.channel_protection_check.delay(channel_id))


def _invalidating_reason(*, bounce: Bounce, email: OutboundEmail) -> str:
    """Why this bounce makes the address invalid (and suppressed), or '' when it does not: a
    hard bounce, or the organization's soft-bounce limit (separate emails within its window)."""
    detail = " ".join(f"{bounce.status_code} {bounce.diagnostic}".split())[:400]
    if bounce.is_hard:
        return f"Hard bounce: {detail}" if detail else "Hard bounce"
    policy = suppression_policy(organization_id=email.organization_id)
    soft_emails = (
        Bounce.objects.filter(
            organization_id=email.organization_id,
            outbound_email__to_address__iexact=email.to_address,
            is_hard=False,
            is_delayed=False,
            occurred_at__gte=bounce.occurred_at - timedelta(days=policy.soft_bounce_window_days),
        )
        .values("outbound_email_id")
        .distinct()
        .count()
    )
    if soft_emails >= policy.soft_bounce_limit:
        days = policy.soft_bounce_window_days
        return f"{soft_emails} soft bounces in {days} days; last: {detail}"
    return ""


def channel_protection_check(*, channel_id: int, now: datetime | None = None) -> bool:
    """Pause the mailbox's campaign sends when its hard-bounce rate over the last 24 hours
    passes the threshold (with enough mail sent to judge). Counting restarts when someone
    resumes the mailbox. Returns True when this call paused it."""
    config = bounce_settings()
    now = now or timezone.now()
    channel = DeliveryChannel.objects.select_related("owner").filter(pk=channel_id).first()
    if channel is None or channel.kind not in DeliveryChannel.MAILBOX_KINDS:
        return False
    if channel.campaigns_paused_at is not None:
        return False
    since = now - config.protection_window
    last_resume = (
        MailboxPause.objects.filter(channel=channel, resumed_at__isnull=False)
        .order_by("-resumed_at")
        .values_list("resumed_at", flat=True)
        .first()
    )
    if last_resume and last_resume > since:
        since = last_resume
    sent = (
        OutboundEmail.objects.filter(organization_id=channel.organization_id, channel=channel)
        .filter(Q(sent_at__gte=since) | Q(sent_at__isnull=True, bounced_at__gte=since))
        .count()
    )
    if sent < config.protection_min_sent:
        return False
    hard = (
        Bounce.objects.filter(
            outbound_email__channel=channel,
            is_hard=True,
            occurred_at__gte=since,
        )
        .values("outbound_email_id")
        .distinct()
        .count()
    )
    if hard / sent <= config.protection_rate:
        return False
    reason = (
        f"{hard} of {sent} emails hard-bounced in the last 24 hours "
        f"({hard / sent:.0%}, limit {config.protection_rate:.0%}): campaign sends are paused "
        "to protect the mailbox. One-off emails still go."
    )
    with transaction.atomic():
        paused = DeliveryChannel.objects.filter(
            pk=channel.pk, campaigns_paused_at__isnull=True
        ).update(campaigns_paused_at=now, campaigns_paused_reason=reason[:500], updated_at=now)
        if not paused:
            return False
        # A pause still open while the mailbox is not paused: its flag was cleared some other
        # way than the resume action. It ended then; close it so this one can open.
        MailboxPause.objects.filter(channel=channel, resumed_at__isnull=True).update(
            resumed_at=now, updated_at=now
        )
        pause = MailboxPause.objects.create(
            channel=channel, paused_at=now, reason=reason[:500], hard_bounces=hard, sent=sent
        )
        audience = user_with_team_managers(user=channel.owner) if channel.owner else []
        for user in audience:
            feed_event_record(
                user=user,
                kind=FeedEvent.Kind.MAILBOX_PAUSED,
                title=feed_text(
                    "mailbox_paused.protection",
                    mailbox=channel.mailbox_address or str(channel),
                    share=f"{hard / sent:.0%}",
                ),
                detail=[feed_text("verbatim", text=reason)],
                channel=channel,
                dedupe_key=f"mailbox_paused:{pause.pk}",
            )
    return True


def channel_can_resume_campaigns(*, channel: DeliveryChannel, user: User) -> bool:
    """The mailbox's rep, an admin of its organization, or a platform operator (superuser). Being
    staff (able to open the Django admin) is not enough on its own."""
    if user.is_superuser:
        return True
    if user.organization_id != channel.organization_id:
        return False
    return user.role == User.Role.ADMIN or channel.owner_id == user.pk


def channel_campaigns_resume(*, channel: DeliveryChannel, user: User) -> bool:
    """Lift mailbox protection: campaign sends go again. Returns False when it was not paused."""
    if not channel_can_resume_campaigns(channel=channel, user=user):
        raise PermissionDenied(
            gettext("Only the mailbox's rep or an admin can resume its campaigns.")
        )
    now = timezone.now()
    with transaction.atomic():
        resumed = DeliveryChannel.objects.filter(
            pk=channel.pk, campaigns_paused_at__isnull=False
        ).update(campaigns_paused_at=None, campaigns_paused_reason="", updated_at=now)
        MailboxPause.objects.filter(channel=channel, resumed_at__isnull=True).update(
            resumed_at=now, resumed_by=user, updated_at=now
        )
    channel.refresh_from_db(fields=["campaigns_paused_at", "campaigns_paused_reason"])
    return bool(resumed)


def inbox_message_retry_at(*, attempts: int, now: datetime) -> datetime:
    """When a message that failed `attempts` times may be tried again."""
    wait = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** min(max(attempts - 1, 0), 16))
    return now + timedelta(seconds=wait)


def inbox_message_store(
    *,
    channel: DeliveryChannel,
    provider_message_id: str,
    raw: bytes | None,
    received_at: datetime | None,
    fetch_error: str = "",
) -> InboxMessage:
    """Keep a fetched message before processing it, so a crash after the fetch loses nothing:
    the poller processes stored, unprocessed messages without fetching them again. A message
    the provider would not hand over (`fetch_error`) is kept too, without its MIME, so the
    cursor can move on without skipping it: it is fetched again with the retries."""
    now = timezone.now()
    defaults: dict = {"raw": raw, "received_at": received_at}
    if raw is None:
        defaults.update(
            attempts=1,
            last_error=f"Could not fetch: {fetch_error}"[:1000],
            next_attempt_at=inbox_message_retry_at(attempts=1, now=now),
        )
    message, created = InboxMessage.objects.get_or_create(
        channel=channel, provider_message_id=provider_message_id, defaults=defaults
    )
    if not created and raw is not None and message.raw is None and message.processed_at is None:
        message.raw = raw
        message.save(update_fields=["raw", "updated_at"])
    return message


def inbox_message_process(
    *,
    inbox_message_id: int,
    fetch: Callable[[str], bytes] | None = None,
    force: bool = False,
) -> InboxMessage | None:
    """Classify one stored message and apply what it means (bounce, reply); returns it once
    processed, else None. Idempotent: a processed message is left alone. A message stored
    without its MIME is fetched first with `fetch(provider_message_id)`. Not yet due for a
    retry: left alone unless `force` (a reprocess after a fix).

    A failure is recorded on the message (attempts, last_error, next_attempt_at) and not
    raised; the message is tried again after a growing wait, forever. The attempt and the
    next retry time are written before the work, so even a message that kills the worker is
    retried later rather than at once."""
    now = timezone.now()
    due = InboxMessage.objects.filter(pk=inbox_message_id, processed_at__isnull=True)
    if not force:
        due = due.filter(inbox_messages_due_q(now=now))
    attempts = due.values_list("attempts", flat=True).first()
    if attempts is None:
        return None
    claimed = due.filter(attempts=attempts).update(
        attempts=attempts + 1,
        next_attempt_at=inbox_message_retry_at(attempts=attempts + 1, now=now),
        updated_at=now,
    )
    if not claimed:
        return None  # another poll took it meanwhile
    try:
        message = InboxMessage.objects.get(pk=inbox_message_id)
        if message.raw is None:
            if fetch is None:
                return None  # the poller or a reprocess with the mailbox will fetch it
            raw = fetch(message.provider_message_id)
            InboxMessage.objects.filter(pk=inbox_message_id, raw__isnull=True).update(raw=raw)
        with transaction.atomic():
            message = InboxMessage.objects.select_for_update().get(pk=inbox_message_id)
            if message.processed_at is not None:
                return message
            _classify_and_apply(message=message)
    except Exception as error:  # noqa: BLE001 — any failure is recorded; the mailbox goes on
        reason = getattr(error, "reason", None) or str(error)
        logger.warning(
            "Inbox message %s failed (try %s): %s", inbox_message_id, attempts + 1, reason
        )
        InboxMessage.objects.filter(pk=inbox_message_id).update(
            last_error=f"{type(error).__name__}: {reason}"[:1000], updated_at=timezone.now()
        )
        return None
    return message


def _classify_and_apply(*, message: InboxMessage) -> None:
    raw = bytes(message.raw or b"")
    classification = classify_message(raw)
    channel = message.channel
    occurred_at = message.received_at or timezone.now()
    message.internet_message_id = (classification.message_id or "")[:998]
    message.subject = (classification.subject or "")[:998]
    message.from_address = (classification.from_address or "")[:320]
    kind = classification.kind
    if kind == "bounce" and classification.bounce is not None:
        message.kind = InboxMessage.Kind.BOUNCE
        _bounce_apply_report(message=message, report=classification.bounce, occurred_at=occurred_at)
    elif kind in ("reply_candidate", "auto_reply"):
        email = reply_match(
            channel=channel,
            in_reply_to=classification.in_reply_to,
            references=classification.references,
        )
        message.outbound_email = email
        if kind == "auto_reply":
            message.kind = InboxMessage.Kind.AUTO_REPLY
        elif email is not None:
            message.kind = InboxMessage.Kind.REPLY
            reply_record(
                email=email,
                inbox_message=message,
                occurred_at=occurred_at,
                asks_removal=classification.asks_removal,
                opening=classification.opening,
            )
        else:
            message.kind = InboxMessage.Kind.OTHER
    else:
        message.kind = InboxMessage.Kind.OTHER
    if message.kind not in (InboxMessage.Kind.BOUNCE, InboxMessage.Kind.REPLY):
        message.raw = None  # only bounces and replies are worth keeping
    message.processed_at = timezone.now()
    message.next_attempt_at = None
    message.last_error = ""
    message.save()


def _bounce_apply_report(*, message: InboxMessage, report, occurred_at: datetime) -> None:
    channel = message.channel
    matched_emails = []
    for failed in report.recipients:
        recipient = (failed.address or "").strip().lower()[:254]
        if not recipient:
            continue
        email, matched_by = bounce_match(
            channel=channel,
            recipient=recipient,
            original_message_id=report.original_message_id,
            original_mailroom_id=getattr(report, "original_mailroom_id", None),
            occurred_at=occurred_at,
        )
        bounce, created = Bounce.objects.get_or_create(
            inbox_message=message,
            recipient=recipient,
            defaults={
                "organization_id": channel.organization_id,
                "channel": channel,
                "outbound_email": email,
                "source": Bounce.Source.INBOX,
                "matched_by": matched_by,
                "status_code": (failed.status or "")[:16],
                "diagnostic": failed.diagnostic or "",
                "reason": failed.reason or "",
                "is_hard": bool(failed.hard),
                "is_delayed": bool(report.is_delayed),
                "reporting_mta": (report.reporting_mta or "")[:255],
                "occurred_at": occurred_at,
            },
        )
        if email is not None:
            matched_emails.append(email)
        if created:
            bounce_effects_apply(bounce=bounce)
    if matched_emails:
        message.outbound_email = matched_emails[0]
    if any(_is_sending_limit(failed) for failed in report.recipients):
        channel_pause_for_sending_limit(channel=channel)


# Gmail reports its daily sending limit late, as a bounce (a 200 from messages.send does not
# prove the email went): 5.4.5 "Daily user sending limit exceeded".
_SENDING_LIMIT_WORDS = re.compile(r"daily user sending (limit|quota) exceeded", re.IGNORECASE)
SENDING_LIMIT_PAUSE = timedelta(hours=1)


def _is_sending_limit(failed) -> bool:
    if (failed.status or "").strip() == "5.4.5":
        return True
    return bool(_SENDING_LIMIT_WORDS.search(failed.diagnostic or ""))


def channel_pause_for_sending_limit(
    *, channel: DeliveryChannel, now: datetime | None = None
) -> datetime:
    """The mailbox's provider bounced mail for its own sending limit: its sending pauses, as
    when the provider refuses a send for quota (the outbox shows the mail waiting until then,
    the rep hears it in the feed). A pause already running longer is kept."""
    now = now or timezone.now()
    until = now + SENDING_LIMIT_PAUSE
    reason = (
        f"{channel.get_kind_display()} bounced mail for its daily sending limit "
        "(5.4.5 Daily user sending limit exceeded): sending from this mailbox pauses."
    )
    paused = (
        DeliveryChannel.objects.filter(pk=channel.pk)
        .filter(Q(sending_paused_until__isnull=True) | Q(sending_paused_until__lt=until))
        .update(sending_paused_until=until, sending_paused_reason=reason, updated_at=now)
    )
    if paused:
        channel.sending_paused_until, channel.sending_paused_reason = until, reason
        notice_mailbox_paused(channel=channel, until=until, reason=reason)
    return until


def reply_record(
    *,
    email: OutboundEmail,
    inbox_message: InboxMessage,
    occurred_at: datetime,
    asks_removal: bool = False,
    opening: str = "",
) -> None:
    """A prospect answered: the email shows replied, the prospect's enrollment in that campaign
    stops, and the sender hears about it. A reply seen twice counts once. A reply asking to be
    removed is flagged for the rep to confirm with one click, never suppressed by itself."""
    with transaction.atomic():
        OutboundEmail.objects.filter(pk=email.pk, replied_at__isnull=True).update(
            replied_at=occurred_at, updated_at=timezone.now()
        )
        campaign_id = _campaign_id(email)
        if email.prospect_id and campaign_id is not None:
            enrollments_stop_for_prospect(
                prospect=email.prospect,
                state=Enrollment.State.STOPPED_REPLIED,
                campaign_id=campaign_id,
            )
        prospect = email.prospect if email.prospect_id else None
        who = (
            prospect.full_name
            if prospect is not None
            else inbox_message.from_address or email.to_address
        )
        reply_id = inbox_message.internet_message_id or inbox_message.provider_message_id
        snippet = opening if len(opening) <= 200 else opening[:199].rstrip() + "…"
        detail = [feed_text("quote", text=snippet)] if snippet else []
        if campaign_id is not None:
            detail.append(feed_text("replied.stopped"))
        feed_event_record(
            user=email.sender,
            kind=FeedEvent.Kind.REPLIED,
            title=feed_text("replied", who=who, subject=email.subject),
            detail=detail,
            outbound_email=email,
            channel=email.channel,
            dedupe_key=f"replied:{email.pk}:{reply_id}",
        )
        if asks_removal:
            feed_event_record(
                user=email.sender,
                kind=FeedEvent.Kind.REMOVAL_REQUESTED,
                title=feed_text("removal_requested", who=who, address=email.to_address),
                detail=[feed_text("removal_requested.detail")],
                outbound_email=email,
                channel=email.channel,
                dedupe_key=f"removal_requested:{email.pk}:{reply_id}",
            )


def _campaign_id(email: OutboundEmail) -> int | None:
    if email.enrollment_id:
        return (
            Enrollment.objects.filter(pk=email.enrollment_id)
            .values_list("campaign_id", flat=True)
            .first()
        )
    if email.campaign_step_id:
        return email.campaign_step.campaign_id
    return None
