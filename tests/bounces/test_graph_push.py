"""Outlook push (issue 16 item 2): a Graph change-notification subscription on the inbox, the
validation handshake, clientState on every notification, lifecycle events, the delta sync at
once; polling only as the safety net."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from bounces.models import Bounce
from bounces.polling import channel_ids_due, channel_poll
from channels_app.models import DeliveryChannel
from channels_app.push import channel_push_start
from channels_app.services import channel_disconnect
from outreach.services import email_enqueue
from tests.bounces.poll_helpers import connect
from tests.outreach.send_helpers import choose, drain

Kind = DeliveryChannel.Kind


@pytest.fixture
def graph_push(live_server):
    with override_settings(
        MAILROOM_GRAPH_NOTIFICATION_URL=f"{live_server.url}/webhooks/graph/notify/",
        MAILROOM_GRAPH_LIFECYCLE_URL=f"{live_server.url}/webhooks/graph/lifecycle/",
    ):
        yield


@pytest.fixture
def subscribed(sandbox, rep, graph_push):
    channel = choose(rep, connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE))
    channel_poll(channel_id=channel.pk)
    assert channel_push_start(channel=channel)
    channel.refresh_from_db()
    return channel


def _wait(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_connect_subscribes_the_inbox_after_graphs_validation(sandbox, subscribed):
    [subscription] = sandbox.client.graph_subscriptions()["subscriptions"]

    assert subscription["id"] == subscribed.push_subscription_id
    assert subscription["resource"] == "me/mailFolders('inbox')/messages"
    assert subscription["notification_url"].endswith("/webhooks/graph/notify/")
    assert subscription["lifecycle_url"].endswith("/webhooks/graph/lifecycle/")
    assert len(subscribed.push_client_state) >= 32
    assert subscribed.push_active
    # While the subscription is live the 5-minute cycle leaves the mailbox to push.
    assert subscribed.pk not in set(channel_ids_due())


def test_a_bounce_reaches_mailroom_by_notification_within_seconds(sandbox, rep, subscribed):
    email = email_enqueue(
        sender=rep, to_address="bounce.jamie@northwind.test", subject="Hi", body="Hello"
    )
    drain(subscribed)

    _wait(Bounce.objects.exists)

    assert Bounce.objects.get().outbound_email == email
    assert sandbox.client.graph_subscriptions()["sent"] >= 1
    subscribed.refresh_from_db()
    assert subscribed.push_last_event_at is not None


def test_a_url_that_fails_graphs_validation_keeps_polling(sandbox, rep):
    with override_settings(
        MAILROOM_GRAPH_NOTIFICATION_URL="http://127.0.0.1:9/webhooks/graph/notify/",
        MAILROOM_GRAPH_LIFECYCLE_URL="http://127.0.0.1:9/webhooks/graph/lifecycle/",
    ):
        channel = choose(rep, connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE))
        assert not channel_push_start(channel=channel)

    channel.refresh_from_db()
    assert "validation request failed" in channel.push_error
    assert not channel.push_active
    assert channel.pk in set(channel_ids_due())


def test_a_plain_http_url_is_refused_in_graphs_words_and_keeps_polling(sandbox, rep):
    with override_settings(
        MAILROOM_GRAPH_NOTIFICATION_URL="http://mailroom.example.com/webhooks/graph/notify/",
        MAILROOM_GRAPH_LIFECYCLE_URL="http://mailroom.example.com/webhooks/graph/lifecycle/",
    ):
        channel = choose(rep, connect(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE))
        assert not channel_push_start(channel=channel)

    channel.refresh_from_db()
    assert "NotificationUrl scheme='http' is not supported." in channel.push_error
    assert not channel.push_active and channel.pk in set(channel_ids_due())


def test_the_validation_handshake_echoes_the_token_as_text(client, graph_push):
    response = client.post(f"{reverse('graph_notify')}?validationToken=Validation%3A%20abc")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"Validation: abc"


def _notification(subscription_id: str, client_state: str) -> str:
    return json.dumps(
        {
            "value": [
                {
                    "subscriptionId": subscription_id,
                    "clientState": client_state,
                    "changeType": "created",
                    "resource": "Users/x/Messages/y",
                }
            ]
        }
    )


@pytest.mark.parametrize("case", ["wrong clientState", "unknown subscription", "no clientState"])
def test_a_notification_that_does_not_prove_itself_changes_nothing(
    sandbox, client, subscribed, case
):
    sandbox.client.reset_calls("microsoft", subscribed.mailbox_address)
    subscription, state = subscribed.push_subscription_id, subscribed.push_client_state
    body = {
        "wrong clientState": _notification(subscription, state[:-1] + "x"),
        "unknown subscription": _notification("not-ours", state),
        "no clientState": _notification(subscription, ""),
    }[case]

    response = client.post(reverse("graph_notify"), data=body, content_type="application/json")

    assert response.status_code == 401
    calls = sandbox.client.calls("microsoft", subscribed.mailbox_address)
    assert calls.get("graph.delta") is None


def test_garbage_is_400(client, graph_push):
    response = client.post(reverse("graph_notify"), data="{", content_type="application/json")

    assert response.status_code == 400


def test_reauthorization_required_renews_the_subscription(sandbox, subscribed):
    soon = timezone.now() + timedelta(hours=1)
    DeliveryChannel.objects.filter(pk=subscribed.pk).update(push_expires_at=soon)

    assert sandbox.client.graph_lifecycle(subscribed.mailbox_address, "reauthorizationRequired")

    subscribed.refresh_from_db()
    assert subscribed.push_expires_at > soon + timedelta(days=1)
    [subscription] = sandbox.client.graph_subscriptions()["subscriptions"]
    assert subscription["id"] == subscribed.push_subscription_id


def test_subscription_removed_subscribes_again_and_syncs(sandbox, subscribed):
    old_id = subscribed.push_subscription_id
    sandbox.client.reset_calls("microsoft", subscribed.mailbox_address)

    assert sandbox.client.graph_lifecycle(subscribed.mailbox_address, "subscriptionRemoved")

    subscribed.refresh_from_db()
    assert subscribed.push_subscription_id and subscribed.push_subscription_id != old_id
    [subscription] = sandbox.client.graph_subscriptions()["subscriptions"]
    assert subscription["id"] == subscribed.push_subscription_id
    assert sandbox.client.calls("microsoft", subscribed.mailbox_address).get("graph.delta") == 1


def test_missed_notifications_sync_by_delta(sandbox, subscribed):
    sandbox.client.reset_calls("microsoft", subscribed.mailbox_address)

    assert sandbox.client.graph_lifecycle(subscribed.mailbox_address, "missed")

    assert sandbox.client.calls("microsoft", subscribed.mailbox_address).get("graph.delta") == 1


def test_disconnect_deletes_the_subscription(sandbox, subscribed, rep):
    channel_disconnect(user=rep, channel=subscribed)

    assert sandbox.client.graph_subscriptions()["subscriptions"] == []
