"""Push notifications for connected Gmail mailboxes: bounces seen within seconds.

Gmail: `users.watch` points the mailbox's INBOX at a Cloud Pub/Sub topic
(MAILROOM_GMAIL_PUSH_TOPIC); Pub/Sub POSTs each change to Mailroom's push endpoint with an
OIDC token its service account signs. The endpoint verifies the token (Google's signature,
issuer, audience, the service account's verified email), names the mailbox and triggers that
mailbox's ordinary incremental history sync: nothing is taken from the notification but
"look now". A watch lasts 7 days; `channels_push_renew_due` renews each a day ahead, and
disconnect stops it. Polling stays the safety net (bounces.polling polls a mailbox whose push is
live once an hour, and at the normal interval as soon as its watch lapses or fails)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import google.auth.exceptions
import google.auth.transport.requests
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from google.oauth2 import id_token

from .exceptions import ProviderError
from .models import DeliveryChannel
from .providers import gmail
from .providers.http import http_session
from .tokens import channel_access_token

logger = logging.getLogger(__name__)

Kind = DeliveryChannel.Kind
Status = DeliveryChannel.Status

RENEW_AHEAD = timedelta(days=1)
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


class PushRejected(Exception):
    """A push that is not from Google's Pub/Sub for Mailroom's subscription."""


@dataclass(frozen=True)
class GmailPush:
    email_address: str
    history_id: int


def gmail_push_enabled() -> bool:
    return bool(settings.MAILROOM_GMAIL_PUSH_TOPIC)


def channel_push_start(*, channel: DeliveryChannel, now: datetime | None = None) -> bool:
    """Start (or renew) push for a connected Gmail mailbox that may read its inbox. False, with
    the reason on the channel, when Gmail refused: the mailbox is then polled as usual."""
    if channel.kind != Kind.GMAIL or not gmail_push_enabled():
        return False
    if channel.status != Status.CONNECTED or not channel.can_read_inbox:
        return False
    now = now or timezone.now()
    try:
        _, expires = gmail.watch(
            access_token=channel_access_token(channel=channel),
            topic=settings.MAILROOM_GMAIL_PUSH_TOPIC,
        )
    except ProviderError as exc:
        logger.warning("Gmail watch for channel %s failed: %s", channel.pk, exc)
        DeliveryChannel.objects.filter(pk=channel.pk).update(
            push_error=f"Push could not start: {exc}"[:500], updated_at=now
        )
        return False
    DeliveryChannel.objects.filter(pk=channel.pk).update(
        push_expires_at=expires, push_error="", updated_at=now
    )
    return True


def channel_push_stop(*, channel: DeliveryChannel) -> None:
    """Stop Gmail's pushes for a mailbox being disconnected (best effort: a watch that is not
    stopped lapses by itself within 7 days, and pushes for a disconnected mailbox are
    ignored)."""
    if channel.kind != Kind.GMAIL or not channel.push_expires_at:
        return
    try:
        gmail.stop(access_token=channel_access_token(channel=channel))
    except ProviderError as exc:
        logger.info("Gmail stop for channel %s failed (it lapses by itself): %s", channel.pk, exc)


def channels_push_renew_due(*, now: datetime | None = None) -> int:
    """The periodic step: start push for mailboxes that have none and renew watches that end
    within a day. Returns how many are live after it."""
    if not gmail_push_enabled():
        return 0
    now = now or timezone.now()
    due = DeliveryChannel.objects.filter(
        kind=Kind.GMAIL, status=Status.CONNECTED, can_read_inbox=True
    ).filter(Q(push_expires_at__isnull=True) | Q(push_expires_at__lt=now + RENEW_AHEAD))
    return sum(channel_push_start(channel=channel, now=now) for channel in due.iterator())


def gmail_push_verify(*, authorization: str) -> dict:
    """The claims of the OIDC token on a Pub/Sub push, checked: signed by Google, issued by
    Google, for Mailroom's audience, by the configured push service account (verified).
    Raises PushRejected otherwise."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise PushRejected("no bearer token")
    audience = settings.MAILROOM_GMAIL_PUSH_AUDIENCE
    try:
        claims = id_token.verify_token(
            token,
            google.auth.transport.requests.Request(session=http_session()),
            audience=audience,
            certs_url=settings.MAILROOM_GOOGLE_CERTS_URL,
        )
    except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
        raise PushRejected(f"token not valid: {exc}") from exc
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise PushRejected("token not issued by Google")
    expected = settings.MAILROOM_GMAIL_PUSH_SERVICE_ACCOUNT
    if not expected or claims.get("email") != expected or not claims.get("email_verified"):
        raise PushRejected("token not from the push subscription's service account")
    return claims


def gmail_push_parse(*, body: bytes) -> GmailPush:
    """The mailbox and historyId a Pub/Sub push names. Raises PushRejected for anything else."""
    try:
        envelope = json.loads(body)
        data = json.loads(base64.b64decode(envelope["message"]["data"], validate=True))
        return GmailPush(
            email_address=str(data["emailAddress"]).strip().lower(),
            history_id=int(data["historyId"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise PushRejected("not a Gmail push notification") from exc


def gmail_push_channel(*, push: GmailPush) -> DeliveryChannel | None:
    """The connected Gmail mailbox a push is for, when it tells something new (a historyId
    past the mailbox's cursor); None for an unknown or disconnected mailbox or an old id."""
    channel = (
        DeliveryChannel.objects.filter(
            kind=Kind.GMAIL,
            status=Status.CONNECTED,
            can_read_inbox=True,
            mailbox_address__iexact=push.email_address,
        )
        .order_by("pk")
        .first()
    )
    if channel is None:
        return None
    DeliveryChannel.objects.filter(pk=channel.pk).update(push_last_event_at=timezone.now())
    if channel.gmail_history_id is not None and push.history_id <= channel.gmail_history_id:
        return None
    return channel
