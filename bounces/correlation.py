"""Tie an inbox message to the email Mailroom sent.

A bounce: by the Message-ID in its returned headers, then by our own X-Mailroom-Email-Id
header, then by recipient + sender within a time window. A reply: by In-Reply-To / References
(or, rarely, a Message-ID) naming one of our emails.

Only emails sent from the mailbox that received the message match (`emails_sent_from_q`): a
forged bounce delivered to one mailbox can never touch another mailbox's email or prospect,
in the same organization or not. The X-Mailroom-Email-Id header carries a signed token
(outreach.email_token); a bare id, the header of mail sent before the signature, is accepted
only under that same rule."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.db.models import Q

from bounces.models import Bounce
from channels_app.models import DeliveryChannel
from outreach.email_token import email_header_id
from outreach.models import OutboundEmail

from .conf import bounce_settings

_MESSAGE_IDS = re.compile(r"<([^<>\s]+)>")
# Past a sane header length the list is noise (a References header can grow very long).
MAX_REFERENCES = 50


def message_id_forms(value: str | None) -> list[str]:
    """The ways a Message-ID may have been stored: with and without angle brackets."""
    if not value:
        return []
    bare = value.strip().strip("<>").strip()
    if not bare:
        return []
    return [f"<{bare}>", bare]


def message_ids_in(*values: str | None) -> list[str]:
    """Every Message-ID named in In-Reply-To / References style header values, in order."""
    found: list[str] = []
    for value in values:
        if not value:
            continue
        ids = _MESSAGE_IDS.findall(value) or value.split()
        found.extend(item.strip() for item in ids if "@" in item)
    return list(dict.fromkeys(found))[:MAX_REFERENCES]


def emails_sent_from_q(*, channel: DeliveryChannel) -> Q:
    """Emails whose bounces and replies come back to `channel`'s mailbox: those it sent, and
    those its owner sent through an SMTP relay as the same address (a relay sends as the rep)."""
    sent_here = Q(organization_id=channel.organization_id, channel_id=channel.pk)
    owner = channel.owner
    address = (channel.mailbox_address or "").strip().lower()
    if owner is not None and address and owner.email.strip().lower() == address:
        relayed = Q(
            organization_id=channel.organization_id,
            sender_id=owner.pk,
            channel_kind__in=[DeliveryChannel.Kind.CUSTOM_SMTP, DeliveryChannel.Kind.MSC_LEGACY],
        )
        return sent_here | relayed
    return sent_here


def _emails_of(channel: DeliveryChannel):
    return OutboundEmail.objects.filter(emails_sent_from_q(channel=channel)).select_related(
        "sender", "prospect", "channel", "enrollment"
    )


def email_by_message_ids(
    *, channel: DeliveryChannel, message_ids: list[str]
) -> OutboundEmail | None:
    forms: list[str] = []
    for message_id in message_ids:
        forms.extend(message_id_forms(message_id))
    if not forms:
        return None
    return _emails_of(channel).filter(message_id__in=forms).order_by("-sent_at").first()


def email_by_mailroom_id(*, channel: DeliveryChannel, value: str | None) -> OutboundEmail | None:
    """Our X-Mailroom-Email-Id header: a signed token of the email's id (or, on mail sent
    before the signature, the bare id), of an email this mailbox sent."""
    named = email_header_id(value=value)
    if named is None:
        return None
    return _emails_of(channel).filter(pk=named.email_id).first()


def email_by_recipient(
    *, channel: DeliveryChannel, recipient: str, occurred_at: datetime
) -> OutboundEmail | None:
    """The latest email the mailbox's owner sent to `recipient` within the window before the
    bounce arrived."""
    if channel.owner_id is None or not recipient:
        return None
    emails = _emails_of(channel).filter(
        sender_id=channel.owner_id,
        sent_at__gte=occurred_at - bounce_settings().match_window,
        sent_at__lte=occurred_at + timedelta(minutes=5),
    )
    candidates = {recipient, recipient.lower()}
    found = emails.filter(to_address__in=candidates).order_by("-sent_at").first()
    if found is None:
        found = emails.filter(to_address__iexact=recipient).order_by("-sent_at").first()
    return found


def bounce_match(
    *,
    channel: DeliveryChannel,
    recipient: str,
    original_message_id: str | None,
    original_mailroom_id: str | None,
    occurred_at: datetime,
) -> tuple[OutboundEmail | None, str]:
    """(the email that bounced, how it was found) — (None, unmatched) when nothing fits."""
    email = email_by_message_ids(
        channel=channel, message_ids=[original_message_id] if original_message_id else []
    )
    if email is not None:
        return email, Bounce.MatchedBy.MESSAGE_ID
    email = email_by_mailroom_id(channel=channel, value=original_mailroom_id)
    if email is not None:
        return email, Bounce.MatchedBy.MAILROOM_HEADER
    email = email_by_recipient(channel=channel, recipient=recipient, occurred_at=occurred_at)
    if email is not None:
        return email, Bounce.MatchedBy.RECIPIENT
    return None, Bounce.MatchedBy.UNMATCHED


def reply_match(
    *,
    channel: DeliveryChannel,
    in_reply_to: str | list[str] | None,
    references: str | list[str] | None,
) -> OutboundEmail | None:
    """Our email this message answers: In-Reply-To first, then References newest first."""

    def as_text(value) -> str:
        if isinstance(value, list | tuple):
            return " ".join(f"<{str(item).strip().strip('<>')}>" for item in value if item)
        return value or ""

    replied_to = message_ids_in(as_text(in_reply_to))
    referenced = list(reversed(message_ids_in(as_text(references))))
    ids = list(dict.fromkeys(replied_to + referenced))[:MAX_REFERENCES]
    return email_by_message_ids(channel=channel, message_ids=ids)
