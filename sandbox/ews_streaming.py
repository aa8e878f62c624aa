"""EWS notifications of the sandbox's Exchange (Microsoft's "Streaming notifications" and "Push
notifications" references), on the Inbox.

Streaming: ``Subscribe`` with a ``StreamingSubscriptionRequest``, then ``GetStreamingEvents``,
whose HTTP answer stays open for ``ConnectionTimeout`` minutes and carries one SOAP envelope per
batch of events as it happens (chunked), a keep-alive envelope (``ConnectionStatus`` OK) every
KEEPALIVE_SECONDS, and a last one with ``ConnectionStatus`` Closed; ``Unsubscribe`` ends it.

Push: ``Subscribe`` with a ``PushSubscriptionRequest`` (URL, StatusFrequency): each event is
POSTed to the URL as ``SendNotification``, and a StatusEvent every StatusFrequency minutes; an
answer whose SubscriptionStatus is not OK (Unsubscribe), or no answer after the retries, ends it.

A message arriving in the Inbox is a ``NewMailEvent`` and a ``CreatedEvent`` (whichever the
subscription asked for). An unknown subscription answers ``ErrorSubscriptionNotFound``;
subscriptions live as long as the sandbox process (as on a real Exchange server, a restart
forgets them).
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from . import ews
from .httpcore import Context, Response, deliver_with_retries
from .state import EwsUser, Mailbox, StoredMessage

KEEPALIVE_SECONDS = 5.0
EVENT_TYPES = {"NewMailEvent", "CreatedEvent"}


@dataclass
class Subscription:
    mailbox: str
    event_types: set[str]
    events: queue.Queue = field(default_factory=queue.Queue)
    # A push subscription (PushSubscriptionRequest): Exchange POSTs SendNotification to `url`
    # for each event, and a StatusEvent every `status_minutes`; an answer of Unsubscribe, or
    # no answer at all after its retries, ends it.
    url: str = ""
    status_minutes: int = 0
    last_status: float = field(default_factory=time.monotonic)


_subscriptions: dict[str, Subscription] = {}
_lock = threading.Lock()


PUSH_RETRY_WAITS = (0.5, 1.0, 2.0)
STATUS_EVENT = "<t:StatusEvent><t:Watermark>AQAAAA==</t:Watermark></t:StatusEvent>"


def notify(mb: Mailbox, message: StoredMessage) -> None:
    """A message arrived in an Exchange mailbox's Inbox: every subscription on it hears."""
    with _lock:
        listeners = [(i, s) for i, s in _subscriptions.items() if s.mailbox == mb.email.lower()]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    folder_id = ews._folder_id(mb, "inbox")
    for subscription_id, subscription in listeners:
        if subscription.url:
            events = _arrival_events(subscription, stamp, folder_id, message, watermark=True)
            threading.Thread(
                target=_push, args=(subscription_id, subscription, events), daemon=True
            ).start()
        else:
            subscription.events.put((stamp, folder_id, message))


def _arrival_events(
    subscription: Subscription,
    stamp: str,
    folder_id: str,
    message: StoredMessage,
    *,
    watermark: bool,
) -> str:
    """The events one arrival makes for a subscription (push notifications carry watermarks;
    streaming ones, in the sandbox as in the samples Microsoft shows, do not)."""
    mark = "<t:Watermark>AQAAAA==</t:Watermark>" if watermark else ""
    item = (
        f'<t:ItemId Id="{escape(message.id)}" ChangeKey="CQAAABYAAAA{message.seq}"/>'
        f'<t:ParentFolderId Id="{escape(folder_id)}" ChangeKey="AQAAAA=="/>'
    )
    return "".join(
        f"<t:{kind}>{mark}<t:TimeStamp>{stamp}</t:TimeStamp>{item}</t:{kind}>"
        for kind in ("NewMailEvent", "CreatedEvent")
        if kind in subscription.event_types
    )


def _notification(subscription_id: str, events: str) -> str:
    return (
        f"<m:Notification><t:SubscriptionId>{subscription_id}</t:SubscriptionId>"
        "<t:PreviousWatermark>AQAAAA==</t:PreviousWatermark>"
        f"<t:MoreEvents>false</t:MoreEvents>{events}</m:Notification>"
    )


def push_status_all() -> int:
    """Send every push subscription its StatusEvent now (Exchange does every StatusFrequency
    minutes: `status_pinger` below, or a test). Returns how many were sent."""
    with _lock:
        pushed = [(i, s) for i, s in _subscriptions.items() if s.url]
    for subscription_id, subscription in pushed:
        subscription.last_status = time.monotonic()
        _push(subscription_id, subscription, STATUS_EVENT)
    return len(pushed)


def status_pinger(stopping: threading.Event) -> None:
    """The sandbox's own clock for StatusEvents: each push subscription hears one every
    StatusFrequency minutes (sandbox/server.py runs this in a thread)."""
    while not stopping.wait(5.0):
        now = time.monotonic()
        with _lock:
            due = [
                (i, s)
                for i, s in _subscriptions.items()
                if s.url and now - s.last_status >= s.status_minutes * 60
            ]
        for subscription_id, subscription in due:
            subscription.last_status = now
            _push(subscription_id, subscription, STATUS_EVENT)


def send_notification_body(subscription_id: str, events: str) -> bytes:
    """The SendNotification request Exchange POSTs to a push subscription's URL."""
    return ews._envelope(
        f'<m:SendNotification xmlns:m="{ews.M_NS}" xmlns:t="{ews.T_NS}"><m:ResponseMessages>'
        + ews._success("SendNotification", _notification(subscription_id, events))
        + "</m:ResponseMessages></m:SendNotification>"
    )


def _push(subscription_id: str, subscription: Subscription, events: str) -> None:
    """POST one SendNotification to the subscription's URL, as Exchange does: retried while
    the callback does not answer; an answer whose SubscriptionStatus is Unsubscribe (or a
    subscriber that never answers) ends the subscription."""
    answers: list[bytes] = []
    deliver_with_retries(
        subscription.url,
        send_notification_body(subscription_id, events),
        headers={"Content-Type": "text/xml; charset=utf-8"},
        waits=PUSH_RETRY_WAITS,
        on_answer=answers.append,
    )
    if not answers or b"<m:SubscriptionStatus>OK</m:SubscriptionStatus>" not in answers[0]:
        with _lock:
            _subscriptions.pop(subscription_id, None)


def push_subscriptions() -> dict[str, str]:
    """subscription id -> callback URL of the live push subscriptions (for tests)."""
    with _lock:
        return {i: s.url for i, s in _subscriptions.items() if s.url}


def subscribe(ctx: Context, user: EwsUser, body: ET.Element) -> Response:
    request = body.find(f"{{{ews.M_NS}}}StreamingSubscriptionRequest")
    push = body.find(f"{{{ews.M_NS}}}PushSubscriptionRequest")
    url, status_minutes = "", 0
    if request is None and push is not None:
        request = push
        url = ews._text(push, f"{{{ews.T_NS}}}URL")
        try:
            status_minutes = int(ews._text(push, f"{{{ews.T_NS}}}StatusFrequency") or "30")
        except ValueError:
            status_minutes = 0
        if not url.startswith(("http://", "https://")) or not 1 <= status_minutes <= 1440:
            return ews._response(
                "Subscribe", [ews._error("Subscribe", "ErrorInvalidPushSubscriptionUrl")]
            )
    if request is None:
        return ews._response(
            "Subscribe", [ews._error("Subscribe", "ErrorInvalidSubscriptionRequest")]
        )
    wanted = {e.text or "" for e in request.iter(f"{{{ews.T_NS}}}EventType")} & EVENT_TYPES
    folders = [e.get("Id", "") for e in request.iter(f"{{{ews.T_NS}}}DistinguishedFolderId")]
    mb = ctx.store.mailbox("exchange", user.email)
    if folders != ["inbox"] and not any(
        ews._folder_by_id(mb, e.get("Id", "")) == "inbox"
        for e in request.iter(f"{{{ews.T_NS}}}FolderId")
    ):
        return ews._response("Subscribe", [ews._error("Subscribe", "ErrorFolderNotFound")])
    subscription_id = uuid.uuid4().hex
    with _lock:
        _subscriptions[subscription_id] = Subscription(
            user.email.lower(), wanted or EVENT_TYPES, url=url, status_minutes=status_minutes
        )
    inner = f"<m:SubscriptionId>{subscription_id}</m:SubscriptionId>"
    if url:
        inner += "<m:Watermark>AQAAAA==</m:Watermark>"
    return ews._response("Subscribe", [ews._success("Subscribe", inner)])


def unsubscribe(ctx: Context, user: EwsUser, body: ET.Element) -> Response:
    subscription_id = ews._text(body, f"{{{ews.M_NS}}}SubscriptionId")
    with _lock:
        found = _subscriptions.get(subscription_id)
        if found is not None and found.mailbox == user.email.lower():
            del _subscriptions[subscription_id]
        else:
            found = None
    if found is None:
        return ews._response(
            "Unsubscribe", [ews._error("Unsubscribe", "ErrorSubscriptionNotFound")]
        )
    return ews._response("Unsubscribe", [ews._success("Unsubscribe")])


def get_streaming_events(ctx: Context, user: EwsUser, body: ET.Element) -> Response:
    ids = [e.text or "" for e in body.iter(f"{{{ews.T_NS}}}SubscriptionId")]
    try:
        minutes = int(ews._text(body, f"{{{ews.M_NS}}}ConnectionTimeout") or "0")
    except ValueError:
        minutes = 0
    if not 1 <= minutes <= 30:
        return ews.soap_fault("ErrorInvalidArgument", "ConnectionTimeout must be 1 to 30.")
    with _lock:
        found = [_subscriptions.get(i) for i in ids]
    if not ids or any(s is None or s.mailbox != user.email.lower() for s in found):
        return ews._response(
            "GetStreamingEvents",
            [ews._error("GetStreamingEvents", "ErrorSubscriptionNotFound")],
        )
    subscriptions = dict(zip(ids, found, strict=True))
    return Response(
        200,
        b"",
        {"Content-Type": "text/xml; charset=utf-8", "X-Powered-By": "ASP.NET"},
        stream=_stream(subscriptions, deadline=time.monotonic() + minutes * 60),
    )


def _envelope(inner: str) -> bytes:
    return ews._envelope(
        f'<m:GetStreamingEventsResponse xmlns:m="{ews.M_NS}" xmlns:t="{ews.T_NS}">'
        f"<m:ResponseMessages>{ews._success('GetStreamingEvents', inner)}</m:ResponseMessages>"
        "</m:GetStreamingEventsResponse>"
    )


def _stream(subscriptions: dict[str, Subscription], *, deadline: float) -> Iterator[bytes]:
    next_keepalive = time.monotonic() + KEEPALIVE_SECONDS
    while time.monotonic() < deadline:
        notifications = []
        for subscription_id, subscription in subscriptions.items():
            events = []
            while True:
                try:
                    stamp, folder_id, message = subscription.events.get_nowait()
                except queue.Empty:
                    break
                events.append(
                    _arrival_events(subscription, stamp, folder_id, message, watermark=False)
                )
            if events:
                notifications.append(_notification(subscription_id, "".join(events)))
        if notifications:
            yield _envelope(f"<m:Notifications>{''.join(notifications)}</m:Notifications>")
        elif time.monotonic() >= next_keepalive:
            yield _envelope("<m:ConnectionStatus>OK</m:ConnectionStatus>")
            next_keepalive = time.monotonic() + KEEPALIVE_SECONDS
        time.sleep(0.05)
    yield _envelope("<m:ConnectionStatus>Closed</m:ConnectionStatus>")


OPERATIONS = {
    "Subscribe": subscribe,
    "Unsubscribe": unsubscribe,
    "GetStreamingEvents": get_streaming_events,
}
# Served by sandbox/ews.py's dispatcher (sandbox/server.py imports this module).
ews.OPERATIONS.update(OPERATIONS)
