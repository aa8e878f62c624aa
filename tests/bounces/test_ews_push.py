"""Exchange On-Prem push (issue 16, its API-call target): with MAILROOM_EWS_PUSH_URL set, each
mailbox gets an EWS push subscription; Exchange's SendNotification POSTs (parsed and answered
with exchangelib's own SendNotification), proved by their subscription id, sync the mailbox at
once and keep push live; anything else is answered Unsubscribe and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from bounces.idle import stream_channels
from bounces.models import Bounce
from bounces.polling import channel_ids_due
from channels_app.models import DeliveryChannel
from channels_app.push import EWS_PUSH_WINDOW, channel_push_start, channels_push_renew_due
from channels_app.services import channel_disconnect
from outreach.services import email_enqueue
from sandbox import ews_streaming
from tests.bounces.test_ews_polling import poll
from tests.bounces.test_imap_idle import _until
from tests.channels_app.test_exchange_onprem import PASSWORD, onprem_channel
from tests.outreach.send_helpers import drain

OK = b"<m:SubscriptionStatus>OK</m:SubscriptionStatus>"
UNSUBSCRIBE = b"<m:SubscriptionStatus>Unsubscribe</m:SubscriptionStatus>"


@pytest.fixture
def ews_push(live_server):
    with override_settings(MAILROOM_EWS_PUSH_URL=f"{live_server.url}/webhooks/ews/"):
        yield


@pytest.fixture
def subscribed(sandbox, rep, ews_push):
    sandbox.client.add_ews_user(rep.email, PASSWORD, username="ACME\\rep")
    channel = onprem_channel(sandbox, rep)
    poll(channel)
    assert channel_push_start(channel=channel)
    channel.refresh_from_db()
    return channel


def test_the_inbox_is_subscribed_and_push_replaces_the_stream(subscribed):
    callback = ews_streaming.push_subscriptions()[subscribed.push_subscription_id]
    assert callback.endswith("/webhooks/ews/")  # no secret in a URL that access logs keep
    assert subscribed.push_active
    assert subscribed.pk not in set(channel_ids_due())  # polled only as the safety net
    assert subscribed.pk not in stream_channels()  # no EWS stream is held beside it


def test_a_bounce_reaches_the_feed_by_push_within_seconds(rep, subscribed):
    email = email_enqueue(
        sender=rep, to_address="bounce.jamie@northwind.test", subject="Hi", body="Hello"
    )
    drain(subscribed)

    assert _until(lambda: Bounce.objects.filter(outbound_email=email).exists())
    subscribed.refresh_from_db()
    assert subscribed.push_last_event_at is not None


def test_a_status_event_keeps_push_live_and_a_silent_subscription_is_made_again(subscribed):
    DeliveryChannel.objects.filter(pk=subscribed.pk).update(
        push_expires_at=timezone.now() + timedelta(minutes=1)
    )
    assert ews_streaming.push_status_all() >= 1
    subscribed.refresh_from_db()
    assert subscribed.push_expires_at > timezone.now() + EWS_PUSH_WINDOW - timedelta(minutes=1)
    assert channels_push_renew_due() == 0  # live: nothing to renew, however far ahead

    # Exchange stopped calling (its StatusEvents lapsed): polling again, and a new subscription.
    DeliveryChannel.objects.filter(pk=subscribed.pk).update(
        push_expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert subscribed.pk in set(channel_ids_due())
    assert channels_push_renew_due() == 1
    renewed = DeliveryChannel.objects.get(pk=subscribed.pk)
    assert renewed.push_subscription_id != subscribed.push_subscription_id
    assert renewed.push_active


def test_a_notification_that_is_not_a_mailboxs_current_one_is_answered_unsubscribe(
    client, subscribed
):
    body = ews_streaming.send_notification_body("an-older-subscription", ews_streaming.STATUS_EVENT)
    before = DeliveryChannel.objects.get(pk=subscribed.pk).push_expires_at

    answer = client.post(reverse("ews_push"), data=body, content_type="text/xml; charset=utf-8")

    assert answer.status_code == 200 and UNSUBSCRIBE in answer.content
    assert DeliveryChannel.objects.get(pk=subscribed.pk).push_expires_at == before


def test_garbage_is_400_and_changes_nothing(client, subscribed):
    answer = client.post(
        reverse("ews_push"),
        data=b"<not-soap/>",
        content_type="text/xml",
    )
    assert answer.status_code == 400


def test_disconnect_ends_the_subscription_at_its_next_notification(rep, subscribed):
    subscription_id = subscribed.push_subscription_id
    channel_disconnect(user=rep, channel=subscribed)

    ews_streaming.push_status_all()

    assert subscription_id not in ews_streaming.push_subscriptions()
