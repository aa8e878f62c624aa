"""Push notifications for connected Gmail and Outlook mailboxes: bounces seen within seconds.

Gmail: `users.watch` points the mailbox's INBOX at a Cloud Pub/Sub topic
(MAILROOM_GMAIL_PUSH_TOPIC); Pub/Sub POSTs each change to Mailroom's push endpoint with an
OIDC token its service account signs. The endpoint verifies the token (Google's signature,
issuer, audience, the service account's verified email), names the mailbox and triggers that
mailbox's ordinary incremental history sync: nothing is taken from the notification but
"look now". A watch lasts 7 days; `channels_push_renew_due` renews each a day ahead, and
disconnect stops it.

Exchange Online: a Graph change-notification subscription on the inbox's new messages
(MAILROOM_GRAPH_NOTIFICATION_URL; Graph validates the URL with a `validationToken` echo
before it answers), carrying a per-mailbox secret `clientState` that every notification must
repeat; renewed a day before it ends (3 days), deleted on disconnect. Lifecycle notifications:
`reauthorizationRequired` renews it, `subscriptionRemoved` makes a new one, `missed` syncs the
mailbox by delta. Notifications only trigger the delta sync.

Exchange On-Prem (when MAILROOM_EWS_PUSH_URL is set): an EWS push subscription on the Inbox's
new mail; Exchange POSTs SendNotification for each arrival and a StatusEvent every
EWS_STATUS_MINUTES, and keeps the subscription while Mailroom answers OK. A POST proves itself by
its subscription id, which only Exchange and Mailroom know (EWS lets a subscriber add nothing
else but the URL, and a secret in the URL would be written to every access log). Each POST
extends the push window; when they stop, the window lapses, the mailbox goes back to polling
and a new subscription is made. Without the setting, On-Prem mailboxes are followed by EWS
streams (bounces.idle).

Polling stays the safety net (bounces.polling polls a mailbox whose push is
live once an hour, and at the normal interval as soon as its watch lapses or fails)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import google.auth.exceptions
import google.auth.transport.requests
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from exchangelib.services import SendNotification
from google.oauth2 import id_token

from .exceptions import ProviderError
from .models import DeliveryChannel
from .providers import ews_inbox, gmail, graph
from .providers.http import http_session
from .tokens import channel_access_token

logger = logging.getLogger(__name__)

Kind = DeliveryChannel.Kind
Status = DeliveryChannel.Status

RENEW_AHEAD = timedelta(days=1)
GRAPH_SUBSCRIPTION_LIFETIME = timedelta(days=3)
# Exchange's StatusEvent period for push subscriptions (they cost Mailroom no call), and how long
# one POST keeps push live: a subscription Exchange lost (a server restart forgets them) is
# noticed within the window, and the mailbox polls and subscribes again.
EWS_STATUS_MINUTES = 15
EWS_PUSH_WINDOW = timedelta(minutes=EWS_STATUS_MINUTES * 2 + 15)
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


class PushRejected(Exception):
    """A push that is not from Google's Pub/Sub for Mailroom's subscription."""


@dataclass(frozen=True)
class GmailPush:
    email_address: str
    history_id: int


def gmail_push_enabled() -> bool:
    return bool(settings.MAILROOM_GMAIL_PUSH_TOPIC)


def graph_push_enabled() -> bool:
    return bool(settings.MAILROOM_GRAPH_NOTIFICATION_URL)


def ews_push_enabled() -> bool:
    return bool(settings.MAILROOM_EWS_PUSH_URL)


def _push_kinds() -> list[str]:
    return [
        kind
        for kind, enabled in (
            (Kind.GMAIL, gmail_push_enabled()),
            (Kind.EXCHANGE_ONLINE, graph_push_enabled()),
            (Kind.EXCHANGE_ONPREM, ews_push_enabled()),
        )
        if enabled
    ]


def channel_push_start(*, channel: DeliveryChannel, now: datetime | None = None) -> bool:
    """Start (or renew) push for a connected Gmail or Outlook mailbox that may read its inbox.
    False, with the reason on the channel, when the provider refused: the mailbox is then
    polled as usual."""
    if channel.kind not in _push_kinds():
        return False
    if channel.status != Status.CONNECTED or not channel.is_polled:
        return False
    now = now or timezone.now()
    if channel.kind == Kind.EXCHANGE_ONLINE:
        return _graph_subscribe(channel=channel, now=now)
    if channel.kind == Kind.EXCHANGE_ONPREM:
        return _ews_subscribe(channel=channel, now=now)
    try:
        _, expires = gmail.watch(
            access_token=channel_access_token(channel=channel),
            topic=settings.MAILROOM_GMAIL_PUSH_TOPIC,
        )
    except ProviderError as exc:
        return _push_failed(channel, "Gmail watch", exc, now)
    DeliveryChannel.objects.filter(pk=channel.pk).update(
        push_expires_at=expires, push_error="", updated_at=now
    )
    return True


def _graph_subscribe(*, channel: DeliveryChannel, now: datetime) -> bool:
    expires = now + GRAPH_SUBSCRIPTION_LIFETIME
    try:
        token = channel_access_token(channel=channel)
        if (
            channel.push_subscription_id
            and channel.push_expires_at
            and channel.push_expires_at > now
        ):
            subscription_id = channel.push_subscription_id
            expires = graph.subscription_renew(
                access_token=token, subscription_id=subscription_id, expires_at=expires
            )
            client_state = channel.push_client_state
        else:
            client_state = secrets.token_urlsafe(32)
            subscription_id, expires = graph.subscription_create(
                access_token=token,
                notification_url=settings.MAILROOM_GRAPH_NOTIFICATION_URL,
                lifecycle_url=settings.MAILROOM_GRAPH_LIFECYCLE_URL,
                client_state=client_state,
                expires_at=expires,
            )
    except ProviderError as exc:
        return _push_failed(channel, "Graph subscription", exc, now)
    return _subscribed(channel, subscription_id, client_state, expires, now)


def _subscribed(
    channel: DeliveryChannel, subscription_id: str, secret: str, expires: datetime, now: datetime
) -> bool:
    """Save a subscription the provider made (its id, the secret it carries, when it lapses)."""
    DeliveryChannel.objects.filter(pk=channel.pk).update(
        push_subscription_id=subscription_id,
        push_client_state=secret,
        push_expires_at=expires,
        push_error="",
        updated_at=now,
    )
    channel.push_subscription_id, channel.push_client_state = subscription_id, secret
    channel.push_expires_at = expires
    return True


def _push_failed(channel: DeliveryChannel, what: str, exc: ProviderError, now: datetime) -> bool:
    logger.warning("%s for channel %s failed: %s", what, channel.pk, exc)
    DeliveryChannel.objects.filter(pk=channel.pk).update(
        push_error=f"Push could not start: {exc}"[:500], updated_at=now
    )
    return False


def _ews_subscribe(*, channel: DeliveryChannel, now: datetime) -> bool:
    try:
        subscription_id = ews_inbox.push_subscribe(
            ews_url=channel.ews_url,
            mailbox_address=channel.mailbox_address,
            username=channel.username,
            password=channel.password,
            callback_url=settings.MAILROOM_EWS_PUSH_URL,
            status_minutes=EWS_STATUS_MINUTES,
        )
    except ProviderError as exc:
        return _push_failed(channel, "EWS push subscription", exc, now)
    return _subscribed(channel, subscription_id, "", now + EWS_PUSH_WINDOW, now)


@dataclass(frozen=True)
class EwsPush:
    """What an Exchange push POST proved: whose mailbox, and whether new mail arrived."""

    channel: DeliveryChannel | None  # None: not a live subscription of ours (answer Unsubscribe)
    new_mail: bool = False


def ews_push_verify(*, body: bytes) -> EwsPush:
    """A SendNotification POST to /webhooks/ews/: its subscription must be a connected On-Prem
    mailbox's current one; each such POST (an event or a StatusEvent) keeps push live. Raises
    PushRejected for a body that is not EWS's SendNotification."""
    try:
        notifications = list(SendNotification(protocol=None).parse(body))
    except Exception as exc:  # exchangelib raises many kinds for a body that is not SOAP
        raise PushRejected("not an EWS SendNotification") from exc
    subscriptions = {str(n.subscription_id or "") for n in notifications}
    if len(subscriptions) != 1 or "" in subscriptions:
        return EwsPush(channel=None)
    channel = DeliveryChannel.objects.filter(
        kind=Kind.EXCHANGE_ONPREM, status=Status.CONNECTED, push_subscription_id=subscriptions.pop()
    ).first()
    if channel is None:
        return EwsPush(channel=None)  # not ours, or an older subscription: let it end
    new_mail = any(
        type(event).__name__ in ews_inbox.InboxStream.EVENT_TYPES
        for notification in notifications
        for event in notification.events
    )
    now = timezone.now()
    fields = {"push_expires_at": now + EWS_PUSH_WINDOW, "push_error": "", "updated_at": now}
    if new_mail:
        fields["push_last_event_at"] = now
    DeliveryChannel.objects.filter(pk=channel.pk).update(**fields)
    return EwsPush(channel=channel, new_mail=new_mail)


def ews_push_answer(*, keep: bool) -> bytes:
    """The SendNotificationResult Exchange expects: OK keeps the subscription, Unsubscribe
    ends it."""
    service = SendNotification(protocol=None)
    return service.ok_payload() if keep else service.unsubscribe_payload()


def channel_push_stop(*, channel: DeliveryChannel) -> None:
    """Stop the pushes of a mailbox being disconnected (best effort: a watch or subscription
    left behind lapses by itself within days, and its pushes for a disconnected mailbox are
    ignored)."""
    if not channel.push_expires_at:
        return
    if channel.kind == Kind.EXCHANGE_ONPREM:
        # Nothing to call: the subscription is forgotten, so Exchange's next POST is answered
        # Unsubscribe, which ends an EWS push subscription.
        DeliveryChannel.objects.filter(pk=channel.pk).update(push_subscription_id="")
        return
    try:
        token = channel_access_token(channel=channel)
        if channel.kind == Kind.GMAIL:
            gmail.stop(access_token=token)
        elif channel.kind == Kind.EXCHANGE_ONLINE and channel.push_subscription_id:
            graph.subscription_delete(
                access_token=token, subscription_id=channel.push_subscription_id
            )
    except ProviderError as exc:
        logger.info("Push stop for channel %s failed (it lapses by itself): %s", channel.pk, exc)


def channels_push_renew_due(*, now: datetime | None = None) -> int:
    """The periodic step: start push for mailboxes that have none and renew watches that end
    within a day. Returns how many are live after it."""
    kinds = _push_kinds()
    if not kinds:
        return 0
    now = now or timezone.now()
    lapsed = Q(push_expires_at__isnull=True) | Q(push_expires_at__lt=now)
    due = DeliveryChannel.objects.filter(kind__in=kinds, status=Status.CONNECTED).filter(
        # An EWS push subscription has no end date: it is renewed only once its StatusEvents
        # stopped; Gmail's watch and Graph's subscription a day before they end.
        Q(kind=Kind.EXCHANGE_ONPREM, ews_url__gt="") & lapsed
        | ~Q(kind=Kind.EXCHANGE_ONPREM)
        & Q(can_read_inbox=True)
        & (lapsed | Q(push_expires_at__lt=now + RENEW_AHEAD))
    )
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


@dataclass(frozen=True)
class GraphNotification:
    channel: DeliveryChannel
    lifecycle_event: str  # "" for a change notification


def graph_notifications_verify(*, body: bytes) -> list[GraphNotification]:
    """The notifications of a Graph POST whose subscription is a live mailbox's and whose
    clientState is that mailbox's secret (compared in constant time); others are dropped.
    Raises PushRejected for a body that is not Graph's notification collection."""
    try:
        items = json.loads(body)["value"]
        assert isinstance(items, list)
        pairs = [
            (
                str(item["subscriptionId"]),
                str(item.get("clientState") or ""),
                str(item.get("lifecycleEvent") or ""),
            )
            for item in items[:100]
        ]
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise PushRejected("not a Graph notification collection") from exc
    channels = {
        channel.push_subscription_id: channel
        for channel in DeliveryChannel.objects.filter(
            kind=Kind.EXCHANGE_ONLINE,
            status=Status.CONNECTED,
            push_subscription_id__in={subscription for subscription, _, _ in pairs},
        ).exclude(push_subscription_id="")
    }
    verified: list[GraphNotification] = []
    for subscription, client_state, lifecycle_event in pairs:
        channel = channels.get(subscription)
        if channel is None or not constant_time_compare(client_state, channel.push_client_state):
            continue
        verified.append(GraphNotification(channel=channel, lifecycle_event=lifecycle_event))
    if verified:
        DeliveryChannel.objects.filter(pk__in={n.channel.pk for n in verified}).update(
            push_last_event_at=timezone.now()
        )
    return verified


def graph_subscription_forget(*, channel: DeliveryChannel) -> None:
    """Graph removed the subscription (lifecycle `subscriptionRemoved`): a new one is needed."""
    DeliveryChannel.objects.filter(pk=channel.pk).update(
        push_subscription_id="", push_expires_at=None, updated_at=timezone.now()
    )
