"""Endpoints that providers call: the ESP webhook (one URL per SMTP channel that sends through
an ESP), Gmail's Pub/Sub push and Graph's change and lifecycle notifications.

django-anymail authenticates the POST (HTTP basic auth with the channel's own credentials, or
the ESP's signature with the signing key the admin pasted) and normalizes the ESP's event
format; bounces.webhooks stores and acts on the events. An unknown URL, wrong credentials, a
garbage or oversized body get a 4xx and change nothing."""

from __future__ import annotations

import json
import logging
import time
import warnings

from anymail.exceptions import AnymailError, AnymailNotSupportedWarning
from anymail.webhooks.base import AnymailCoreWebhookView
from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from anymail.webhooks.mailjet import MailjetTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from anymail.webhooks.sparkpost import SparkPostTrackingWebhookView
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from channels_app.models import DeliveryChannel
from channels_app.providers.esp import WEBHOOK_USERNAME
from channels_app.push import (
    PushRejected,
    ews_push_answer,
    ews_push_enabled,
    ews_push_verify,
    gmail_push_channel,
    gmail_push_enabled,
    gmail_push_parse,
    gmail_push_verify,
    graph_notifications_verify,
    graph_push_enabled,
    graph_subscription_forget,
)
from channels_app.selectors import channel_by_esp_webhook_key
from channels_app.tasks import channel_push_start

from .polling import channel_poll_on_push
from .webhooks import esp_events_receive

logger = logging.getLogger(__name__)

_VIEWS: dict[str, type[AnymailCoreWebhookView]] = {
    DeliveryChannel.Esp.SENDGRID: SendGridTrackingWebhookView,
    DeliveryChannel.Esp.SPARKPOST: SparkPostTrackingWebhookView,
    DeliveryChannel.Esp.POSTMARK: PostmarkTrackingWebhookView,
    DeliveryChannel.Esp.MAILGUN: MailgunTrackingWebhookView,
    DeliveryChannel.Esp.MAILJET: MailjetTrackingWebhookView,
    DeliveryChannel.Esp.BREVO: BrevoTrackingWebhookView,
}


def _anymail_view(channel: DeliveryChannel) -> AnymailCoreWebhookView:
    view_class = _VIEWS[channel.esp]
    if channel.esp == DeliveryChannel.Esp.MAILGUN:
        options = {"webhook_signing_key": channel.esp_webhook_secret, "webhook_secret": []}
    else:
        options = {"webhook_secret": [f"{WEBHOOK_USERNAME}:{channel.esp_webhook_secret}"]}
    with warnings.catch_warnings():
        # anymail warns that SendGrid is community-supported; its webhook format is stable.
        warnings.simplefilter("ignore", AnymailNotSupportedWarning)
        return view_class(**options)


# Mailgun signs only a timestamp and a token (HMAC-SHA256 with the signing key), not the event:
# a signature is accepted for a day around now (Mailgun retries for 8 hours) and once. A token is
# remembered once its POST was stored, so a retry after a failure before that is accepted.
MAILGUN_SIGNATURE_MAX_AGE = 24 * 3600


def _mailgun_signature(request: HttpRequest) -> tuple[str, str]:
    """(timestamp, token) of a POST anymail has already verified."""
    if request.content_type == "application/json":
        block = json.loads(request.body.decode("utf-8"))["signature"]
        return str(block["timestamp"]), str(block["token"])
    return request.POST["timestamp"], request.POST["token"]


def _mailgun_token_key(channel: DeliveryChannel, token: str) -> str:
    return f"mailgun-token:{channel.pk}:{token[:200]}"


def _mailgun_refusal(channel: DeliveryChannel, timestamp: str, token: str) -> JsonResponse | None:
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        age = float("inf")
    if age > MAILGUN_SIGNATURE_MAX_AGE:
        logger.warning("Mailgun webhook of channel %s: signature from long ago", channel.pk)
        return _refuse(401, "stale_signature", "The signature's timestamp is not recent.")
    if cache.get(_mailgun_token_key(channel, token)) is not None:
        logger.warning("Mailgun webhook of channel %s: signature used before", channel.pk)
        return _refuse(401, "replayed_signature", "This signature was already used.")
    return None


def _refuse(status: int, error: str, message: str) -> JsonResponse:
    return JsonResponse({"error": error, "message": message}, status=status)


@csrf_exempt
@require_http_methods(["POST", "HEAD"])
def esp_webhook(request: HttpRequest, key: str) -> HttpResponse:
    channel = channel_by_esp_webhook_key(key=key)
    if channel is None or not channel.esp_webhook_secret:
        return _refuse(404, "unknown_webhook", "No channel has this webhook URL.")
    if request.method == "HEAD":  # some ESPs check the URL when it is saved
        return HttpResponse()
    view = _anymail_view(channel)
    try:
        view.run_validators(request)
    except RequestDataTooBig:
        return _refuse(413, "too_large", "The request body is too large.")
    except (SuspiciousOperation, AnymailError):
        logger.warning("ESP webhook of channel %s: authentication failed", channel.pk)
        return _refuse(401, "unauthorized", "Wrong or missing webhook credentials.")
    mailgun = None
    if channel.esp == DeliveryChannel.Esp.MAILGUN:
        mailgun = _mailgun_signature(request)
        if (refusal := _mailgun_refusal(channel, *mailgun)) is not None:
            return refusal
    try:
        events = view.parse_events(request)
    except RequestDataTooBig:
        return _refuse(413, "too_large", "The request body is too large.")
    except (ValueError, KeyError, TypeError, AttributeError, AnymailError) as exc:
        # Not the ESP's event format: nothing is stored; the ESP's delivery log shows this.
        detail = str(exc) if isinstance(exc, json.JSONDecodeError | AnymailError) else ""
        return _refuse(400, "bad_payload", f"Not a {channel.get_esp_display()} event. {detail}")
    result = esp_events_receive(channel=channel, events=events)
    if mailgun is not None:
        cache.set(_mailgun_token_key(channel, mailgun[1]), 1, 2 * MAILGUN_SIGNATURE_MAX_AGE)
    return JsonResponse(
        {
            "stored": result.new,
            "duplicates": result.duplicates,
            "ignored": result.ignored,
            "failed": result.failed,
        }
    )


@csrf_exempt
@require_http_methods(["POST"])
def gmail_push(request: HttpRequest) -> HttpResponse:
    """Cloud Pub/Sub's push for Gmail's users.watch: verified, then that mailbox syncs now.
    An unknown or disconnected mailbox, or a historyId the mailbox already has, is
    acknowledged (204) and changes nothing; a push without Google's token for Mailroom's
    subscription is refused."""
    if not gmail_push_enabled():
        return _refuse(404, "push_disabled", "Gmail push is not configured.")
    try:
        gmail_push_verify(authorization=request.headers.get("Authorization", ""))
        push = gmail_push_parse(body=request.body)
    except RequestDataTooBig:
        return _refuse(413, "too_large", "The request body is too large.")
    except PushRejected as exc:
        logger.warning("Gmail push refused: %s", exc)
        return _refuse(401, "unauthorized", "Not a push from Google for this subscription.")
    channel = gmail_push_channel(push=push)
    if channel is not None:
        channel_poll_on_push(channel_id=channel.pk)
    return HttpResponse(status=204)


def _graph_validation(request: HttpRequest) -> HttpResponse | None:
    """Graph's handshake when a subscription is made: echo `validationToken` as plain text."""
    token = request.GET.get("validationToken")
    if token is None:
        return None
    return HttpResponse(token[:2000], content_type="text/plain; charset=utf-8")


def _graph_verified(request: HttpRequest):
    if not graph_push_enabled():
        return _refuse(404, "push_disabled", "Outlook push is not configured.")
    try:
        verified = graph_notifications_verify(body=request.body)
    except RequestDataTooBig:
        return _refuse(413, "too_large", "The request body is too large.")
    except PushRejected as exc:
        return _refuse(400, "bad_payload", str(exc))
    if not verified:
        logger.warning("Graph notification with no known subscription and clientState refused")
        return _refuse(401, "unauthorized", "Unknown subscription or wrong clientState.")
    return verified


@csrf_exempt
@require_http_methods(["POST"])
def graph_notify(request: HttpRequest) -> HttpResponse:
    """Graph's change notifications for the inbox subscriptions: each verified one (its
    subscription a live mailbox's, its clientState that mailbox's secret) syncs that mailbox
    by delta now; nothing is read from the notification itself."""
    handshake = _graph_validation(request)
    if handshake is not None:
        return handshake
    verified = _graph_verified(request)
    if isinstance(verified, HttpResponse):
        return verified
    for notification in verified:
        channel_poll_on_push(channel_id=notification.channel.pk)
    return HttpResponse(status=202)


@csrf_exempt
@require_http_methods(["POST"])
def graph_lifecycle(request: HttpRequest) -> HttpResponse:
    """Graph's lifecycle notifications: `reauthorizationRequired` renews the subscription,
    `subscriptionRemoved` makes a new one and syncs, `missed` syncs by delta."""
    handshake = _graph_validation(request)
    if handshake is not None:
        return handshake
    verified = _graph_verified(request)
    if isinstance(verified, HttpResponse):
        return verified
    for notification in verified:
        channel_id, event = notification.channel.pk, notification.lifecycle_event
        if event == "subscriptionRemoved":
            graph_subscription_forget(channel=notification.channel)
        if event in ("reauthorizationRequired", "subscriptionRemoved"):
            channel_push_start.delay(channel_id)
        if event in ("missed", "subscriptionRemoved"):
            channel_poll_on_push(channel_id=channel_id)
    return HttpResponse(status=202)


@csrf_exempt
@require_http_methods(["POST"])
def ews_push(request: HttpRequest) -> HttpResponse:
    """Exchange's SendNotification for an On-Prem mailbox's push subscription: a verified one
    (its subscription a connected mailbox's current one) keeps push live and, when it announces
    new mail, syncs the mailbox now; any other is answered Unsubscribe, which ends that
    subscription at Exchange, and changes nothing here."""
    if not ews_push_enabled():
        return _refuse(404, "push_disabled", "Exchange push is not configured.")
    try:
        push = ews_push_verify(body=request.body)
    except RequestDataTooBig:
        return _refuse(413, "too_large", "The request body is too large.")
    except PushRejected as exc:
        return _refuse(400, "bad_payload", str(exc))
    if push.channel is None:
        logger.warning("EWS push for no live subscription answered Unsubscribe")
    elif push.new_mail:
        channel_poll_on_push(channel_id=push.channel.pk)
    return HttpResponse(
        ews_push_answer(keep=push.channel is not None), content_type="text/xml; charset=utf-8"
    )
