"""One Idempotency-Key, one email, and one answer shape: 201 for the request that created it,
200 with the same email for every replay, concurrent ones included (issue 13, item 12)."""

import json
import threading

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from outreach import services
from outreach.models import OutboundEmail
from outreach.services import api_token_create
from tests.factories import DeliveryChannelFactory, OutboundEmailFactory

PAYLOAD = {"to": "ana@customer.test", "subject": "Hi", "body": "Hello"}


def _post(client, raw, key):
    return client.post(
        reverse("api_emails"),
        data=json.dumps(PAYLOAD),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_sequential_replay_answers_200_with_the_same_email(client, rep):
    DeliveryChannelFactory(owner=rep)
    _, raw = api_token_create(user=rep, name="Plug-in")
    first, again = _post(client, raw, "k-1"), _post(client, raw, "k-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert OutboundEmail.objects.count() == 1


def test_the_request_that_loses_the_insert_race_answers_200_not_201(client, rep, monkeypatch):
    """The other request commits its email between this one's look-up and its insert: this
    one creates nothing and answers with the other's email, as a replay."""
    channel = DeliveryChannelFactory(owner=rep)
    _, raw = api_token_create(user=rep, name="Plug-in")
    resolve = services.email_channel_resolve
    winner = {}

    def the_other_request_commits_first(**kwargs):
        winner["email"] = OutboundEmailFactory(
            sender=rep, organization=rep.organization, channel=channel, idempotency_key="k-1"
        )
        return resolve(**kwargs)

    monkeypatch.setattr(services, "email_channel_resolve", the_other_request_commits_first)
    answer = _post(client, raw, "k-1")
    assert answer.status_code == 200
    assert answer.json()["id"] == winner["email"].pk
    assert OutboundEmail.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_on_postgresql(rep):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs concurrent connections racing on the unique index: SQLite serialises the "
            "writes, so the sequential and the lost-race tests cover it there; CI runs this on "
            "PostgreSQL"
        )
    DeliveryChannelFactory(owner=rep)
    _, raw = api_token_create(user=rep, name="Plug-in")
    barrier = threading.Barrier(6)
    answers, errors = [], []

    def request() -> None:
        try:
            barrier.wait()
            answers.append(_post(Client(), raw, "same-key"))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 200, 201]
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert OutboundEmail.objects.count() == 1
