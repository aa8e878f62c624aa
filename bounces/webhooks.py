"""Bounces, spam complaints and unsubscribes that an ESP (SendGrid, SparkPost, Postmark, …)
reports by webhook for an SMTP channel that sends through it.

The webhook view authenticates the POST and normalizes it with django-anymail; this module
takes the normalized events. Each relevant event is stored first (`EspEvent`, once per ESP
event id, so a retried POST changes nothing), then acted on in its own savepoint: a bounce
becomes a `Bounce` with the same effects as one read from an inbox; a complaint or an
unsubscribe puts the address on the suppression list and stops its campaigns. An event that
fails to process keeps its error and is retried with backoff (`esp_events_retry_due`, and
`bounces_reprocess`), never dropped. Delivered, opened and clicked events are acknowledged
and not kept: Mailroom does not track them."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from analytics.feed import feed_event_record, feed_text
from analytics.models import FeedEvent
from channels_app.models import DeliveryChannel
from channels_app.providers.esp import METADATA_KEY
from channels_app.providers.smtp import enhanced_status
from outreach.effects import address_unsubscribe, enrollments_stop_for_prospect
from outreach.models import Enrollment, OutboundEmail, Prospect
from suppression.models import Suppression
from suppression.services import suppression_add

from .correlation import bounce_match
from .models import Bounce, EspEvent
from .parsing import reason_of_reply, vocabulary
from .services import bounce_effects_apply, inbox_message_retry_at

logger = logging.getLogger(__name__)

Kind = EspEvent.Kind

# anymail's normalized event types that Mailroom acts on (the same words as EspEvent.Kind).
TRACKED = frozenset(Kind.values)

_REPLY_CODE = re.compile(r"^\s*([245]\d\d)\b")

# anymail's reject_reason -> the vocabulary, when the ESP's words say nothing we can read.
_REJECT_REASONS = {
    "invalid": "user_unknown",
    "bounced": "unknown",
    "timed_out": "expired",
    "blocked": "blocked",
    "spam": "spam",
}


@dataclass(frozen=True)
class NormalizedEvent:
    """What Mailroom keeps of one anymail tracking event (JSON-safe, replayable)."""

    kind: str
    recipient: str
    occurred_at: datetime | None
    message_id: str
    reject_reason: str
    mta_response: str
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "recipient": self.recipient,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
            "message_id": self.message_id,
            "reject_reason": self.reject_reason,
            "mta_response": self.mta_response,
            "description": self.description,
            "metadata": self.metadata,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NormalizedEvent:
        when = data.get("occurred_at")
        return cls(
            kind=data["kind"],
            recipient=data.get("recipient") or "",
            occurred_at=datetime.fromisoformat(when) if when else None,
            message_id=data.get("message_id") or "",
            reject_reason=data.get("reject_reason") or "",
            mta_response=data.get("mta_response") or "",
            description=data.get("description") or "",
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass
class ReceiveResult:
    new: int = 0
    duplicates: int = 0
    ignored: int = 0
    failed: int = 0


def _json_safe(value: Any) -> Any:
    """The ESP's own event as JSON (Mailgun's legacy form posts arrive as a QueryDict)."""
    if hasattr(value, "lists"):
        return {key: items if len(items) > 1 else items[0] for key, items in value.lists()}
    return json.loads(json.dumps(value, default=str))


def _esp_words(event: Any) -> str:
    """The ESP's own words when anymail normalized none: SendGrid's `dropped` events carry
    their cause ("Bounced Address", "Spam Reporting Address", …) only in `reason` / `type`."""
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    return str(event.description or raw.get("reason") or raw.get("type") or "")


def _normalize(event: Any) -> NormalizedEvent:
    kind = str(event.event_type)
    reject = str(event.reject_reason or "")
    description = _esp_words(event)
    # An ESP that drops mail to an address on its own unsubscribe or spam-report list reports a
    # rejection; for Mailroom the address asked to hear no more.
    if kind == Kind.REJECTED and reject == "unsubscribed":
        kind = Kind.UNSUBSCRIBED
    elif kind == Kind.REJECTED and "spam report" in description.lower():
        kind = Kind.COMPLAINED
    when = event.timestamp
    if when is not None and timezone.is_naive(when):
        when = when.replace(tzinfo=UTC)
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    return NormalizedEvent(
        kind=kind,
        recipient=str(event.recipient or "").strip().strip("<>").lower()[:320],
        occurred_at=when,
        message_id=str(event.message_id or "")[:998],
        reject_reason=reject,
        mta_response=str(event.mta_response or "")[:4000],
        description=description[:1000],
        metadata={str(k): str(v)[:500] for k, v in list(metadata.items())[:20]},
    )


def _event_id(event: Any, raw: Any) -> str:
    if event.event_id:
        return str(event.event_id)[:255]
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    return f"sha256:{digest}"


def esp_events_receive(*, channel: DeliveryChannel, events: list[Any]) -> ReceiveResult:
    """Store and act on the anymail tracking `events` one POST to `channel`'s webhook carried."""
    result = ReceiveResult()
    now = timezone.now()
    for event in events:
        if str(event.event_type) not in TRACKED:
            result.ignored += 1
            continue
        raw = _json_safe(event.esp_event)
        normalized = _normalize(event)
        try:
            with transaction.atomic():
                stored = EspEvent.objects.create(
                    channel=channel,
                    esp=channel.esp,
                    event_id=_event_id(event, raw),
                    kind=normalized.kind,
                    recipient=normalized.recipient,
                    occurred_at=normalized.occurred_at,
                    payload={"event": normalized.to_json(), "esp_event": raw},
                    next_attempt_at=now,
                )
        except IntegrityError:
            result.duplicates += 1  # the ESP retried a POST that was already stored
            continue
        result.new += 1
        if not esp_event_process(event=stored):
            result.failed += 1
    DeliveryChannel.objects.filter(pk=channel.pk).update(esp_last_event_at=now)
    return result


def esp_event_process(*, event: EspEvent) -> bool:
    """Act on one stored event; False (with its error kept, retried later) when that failed."""
    if event.processed_at is not None:
        return True
    now = timezone.now()
    try:
        with transaction.atomic():
            _apply(event=event, normalized=NormalizedEvent.from_json(event.payload["event"]))
            event.processed_at = now
            event.last_error = ""
            event.next_attempt_at = None
            event.attempts += 1
            event.save(
                update_fields=[
                    "processed_at",
                    "last_error",
                    "next_attempt_at",
                    "attempts",
                    "outbound_email",
                    "updated_at",
                ]
            )
        return True
    except Exception as exc:  # noqa: BLE001 - kept with its error and retried, never dropped
        logger.exception("ESP event %s of channel %s failed to process", event.pk, event.channel_id)
        attempts = event.attempts + 1
        EspEvent.objects.filter(pk=event.pk).update(
            attempts=attempts,
            last_error=f"{type(exc).__name__}: {exc}"[:1000],
            next_attempt_at=inbox_message_retry_at(attempts=attempts, now=now),
            updated_at=now,
        )
        return False


def esp_events_retry_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Process again the stored events whose backoff ended; returns how many now worked."""
    now = now or timezone.now()
    due = EspEvent.objects.filter(processed_at__isnull=True).filter(
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True)
    )
    worked = 0
    for event in due.select_related("channel").order_by("next_attempt_at")[:limit]:
        worked += esp_event_process(event=event)
    return worked


def _apply(*, event: EspEvent, normalized: NormalizedEvent) -> None:
    channel = event.channel
    occurred_at = normalized.occurred_at or event.created_at
    email, matched_by = bounce_match(
        channel=channel,
        recipient=normalized.recipient,
        original_message_id=normalized.message_id or None,
        original_mailroom_id=normalized.metadata.get(METADATA_KEY),
        occurred_at=occurred_at,
    )
    event.outbound_email = email
    if normalized.kind in (Kind.BOUNCED, Kind.REJECTED, Kind.DEFERRED):
        _bounce(
            event=event,
            normalized=normalized,
            email=email,
            matched_by=matched_by,
            occurred_at=occurred_at,
        )
    elif normalized.kind == Kind.UNSUBSCRIBED:
        _unsubscribe(event=event, normalized=normalized, email=email)
    elif normalized.kind == Kind.COMPLAINED:
        _complaint(event=event, normalized=normalized, email=email)


def _status(text: str) -> str | None:
    found = enhanced_status(text)
    if found:
        return found
    return vocabulary.status_from_reply((_REPLY_CODE.match(text) or [None, None])[1])


def _bounce(
    *,
    event: EspEvent,
    normalized: NormalizedEvent,
    email: OutboundEmail | None,
    matched_by: str,
    occurred_at: datetime,
) -> None:
    diagnostic = normalized.mta_response or normalized.description
    status = _status(diagnostic)
    reason = reason_of_reply(diagnostic, status)
    if reason == "unknown":
        reason = _REJECT_REASONS.get(normalized.reject_reason, "unknown")
    delayed = normalized.kind == Kind.DEFERRED
    # With no status to read, an ESP's own "invalid address" / hard-bounce verdict is the
    # permanent answer.
    permanent = status.startswith("5") if status else normalized.reject_reason == "invalid"
    if normalized.kind == Kind.REJECTED and normalized.reject_reason == "bounced" and not status:
        # The ESP refused to send at all (SendGrid's "dropped: Bounced Address"): the address
        # is on its list of addresses that bounced for good, and every send to it is dropped.
        reason, permanent = "user_unknown", True
    bounce = Bounce.objects.create(
        organization_id=event.channel.organization_id,
        channel_id=event.channel_id,
        esp_event=event,
        outbound_email=email,
        source=Bounce.Source.WEBHOOK,
        matched_by=matched_by,
        recipient=(normalized.recipient or (email.to_address if email else ""))[:254],
        status_code=(status or "")[:16],
        diagnostic=diagnostic,
        reason=reason,
        is_hard=vocabulary.is_hard(reason, permanent=permanent, delayed=delayed),
        is_delayed=delayed,
        reporting_mta=_esp_label(event),
        occurred_at=occurred_at,
    )
    bounce_effects_apply(bounce=bounce)


def _esp_label(event: EspEvent) -> str:
    return DeliveryChannel.Esp(event.esp).label if event.esp in DeliveryChannel.Esp.values else ""


def _unsubscribe(
    *, event: EspEvent, normalized: NormalizedEvent, email: OutboundEmail | None
) -> None:
    address = normalized.recipient or (email.to_address if email else "")
    if not address:
        raise ValueError("The unsubscribe event names no recipient.")
    _, created = address_unsubscribe(
        organization_id=event.channel.organization_id, address=address, source_email=email
    )
    if created and email is not None:
        feed_event_record(
            user=email.sender,
            kind=FeedEvent.Kind.UNSUBSCRIBED,
            title=feed_text("unsubscribed", address=address),
            detail=[feed_text("unsubscribed.esp", esp=_esp_label(event), subject=email.subject)],
            outbound_email=email,
            channel=email.channel,
            dedupe_key=f"unsubscribed:{email.pk}",
        )


def _complaint(
    *, event: EspEvent, normalized: NormalizedEvent, email: OutboundEmail | None
) -> None:
    address = normalized.recipient or (email.to_address if email else "")
    if not address:
        raise ValueError("The complaint event names no recipient.")
    organization_id = event.channel.organization_id
    _, created = suppression_add(
        organization_id=organization_id,
        value=address,
        reason=Suppression.Reason.COMPLAINED,
        detail=f"Marked as spam; reported by {_esp_label(event)}.",
        source_email=email,
    )
    for prospect in Prospect.objects.filter(organization_id=organization_id, email__iexact=address):
        enrollments_stop_for_prospect(prospect=prospect, state=Enrollment.State.STOPPED_SUPPRESSED)
    if created and email is not None:
        feed_event_record(
            user=email.sender,
            kind=FeedEvent.Kind.COMPLAINED,
            title=feed_text("complained", address=address, subject=email.subject),
            detail=[feed_text("complained.detail")],
            outbound_email=email,
            channel=email.channel,
            dedupe_key=f"complained:{email.pk}",
        )
