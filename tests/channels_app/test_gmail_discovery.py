"""Every request Mailroom's own Gmail client makes is one Google's published API defines.

The gmail.v1 discovery document bundled in google-api-python-client (Google's, not ours) lists
each method's HTTP verb, path template and parameters. Mailroom sends, polls (first sync,
incremental history, the re-scan after an expired history id) and fetches bounces against the
sandbox while every request through its provider session is recorded; each must match a
method of the document, with only parameters that method (or the API's global ones) declares,
every required one present, a repeated one only where the method allows it, and a JSON body
whose fields the method's request schema defines."""

from __future__ import annotations

import json
import re
from importlib import resources
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.conf import settings
from django.test import override_settings

from bounces.polling import channel_poll
from channels_app.models import DeliveryChannel
from channels_app.providers.http import ProviderSession
from channels_app.push import channel_push_start, channel_push_stop
from outreach.services import email_enqueue
from tests.bounces.poll_helpers import connect
from tests.outreach.send_helpers import choose, drain

Kind = DeliveryChannel.Kind


def _discovery() -> dict:
    documents = resources.files("googleapiclient.discovery_cache") / "documents"
    return json.loads((documents / "gmail.v1.json").read_text())


def _methods(node: dict) -> list[dict]:
    found = list(node.get("methods", {}).values())
    for child in node.get("resources", {}).values():
        found += _methods(child)
    return found


def _template(path: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{\+?(\w+)\}", r"(?P<\1>[^/]+)", path)
    return re.compile(f"^{pattern}$")


@pytest.fixture(scope="module")
def gmail_api():
    document = _discovery()
    entries = []
    for method in _methods(document):
        entries.append((method, _template(method["path"])))
        upload = method.get("mediaUpload", {}).get("protocols", {}).get("simple", {}).get("path")
        if upload:
            entries.append((method, _template(upload.lstrip("/"))))
    return document, entries


@pytest.fixture
def recorded(monkeypatch):
    calls: list[tuple[str, str, dict]] = []
    real = ProviderSession.request

    def record(self, method, url, **kwargs):
        calls.append((method.upper(), url, kwargs))
        return real(self, method, url, **kwargs)

    monkeypatch.setattr(ProviderSession, "request", record)
    return calls


def _check(document: dict, entries, method: str, url: str, kwargs: dict) -> str | None:
    """Why the request is not one the document defines (None when it is)."""
    base = settings.MAILROOM_GMAIL_API_URL.rstrip("/") + "/"
    if not url.startswith(base):
        return None  # not the Gmail API (OAuth token endpoint, Graph, …)
    parts = urlsplit(url)
    path = url[len(base) :].split("?", 1)[0]
    candidates = [m for m, pattern in entries if m["httpMethod"] == method and pattern.match(path)]
    if not candidates:
        return f"{method} {path}: no such method in gmail.v1"
    spec = candidates[0]
    declared = {**document.get("parameters", {}), **spec.get("parameters", {})}
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = kwargs.get("params") or {}
    query += list(params.items()) if isinstance(params, dict) else list(params)
    names = [name for name, _ in query]
    for name in names:
        if name not in declared or declared[name].get("location") == "path":
            return f"{spec['id']}: parameter {name!r} is not defined"
        if names.count(name) > 1 and not declared[name].get("repeated"):
            return f"{spec['id']}: parameter {name!r} repeated"
        enum = declared[name].get("enum")
        value = dict(query)[name]
        if enum and value not in enum:
            return f"{spec['id']}: {name}={value!r} is not one of {enum}"
    for name, parameter in spec.get("parameters", {}).items():
        if parameter.get("required") and parameter.get("location") == "query" and name not in names:
            return f"{spec['id']}: required parameter {name!r} missing"
    body = kwargs.get("json")
    if body is not None:
        schema = document["schemas"][spec["request"]["$ref"]]
        unknown = set(body) - set(schema["properties"])
        if unknown:
            return f"{spec['id']}: body fields {sorted(unknown)} not in {spec['request']['$ref']}"
    return None


def test_every_gmail_request_mailroom_makes_is_in_the_discovery_document(
    sandbox, rep, gmail_api, recorded
):
    document, entries = gmail_api
    channel = choose(rep, connect(sandbox, owner=rep, kind=Kind.GMAIL))
    for address in ("ana@customer.test", "bounce.jamie@northwind.test", "reply.kim@customer.test"):
        email_enqueue(sender=rep, to_address=address, subject="Hello", body="Hi there")
    drain(channel)
    channel_poll(channel_id=channel.pk)  # first sync: the bounce and the reply
    email_enqueue(sender=rep, to_address="bounce.lee@northwind.test", subject="Hi", body="Hello")
    drain(channel)
    channel_poll(channel_id=channel.pk, ignore_backoff=True)  # incremental history
    sandbox.client.expire_history("google", channel.mailbox_address)
    channel_poll(channel_id=channel.pk, ignore_backoff=True)  # 404: the bounded re-scan
    topic = "projects/mailroom-test/topics/gmail-push"
    sandbox.client.pubsub_subscribe(
        topic, endpoint="http://127.0.0.1:9/push", service_account="push@mailroom-test.test"
    )
    with override_settings(MAILROOM_GMAIL_PUSH_TOPIC=topic):
        assert channel_push_start(channel=channel)  # users.watch
        channel.refresh_from_db()
        channel_push_stop(channel=channel)  # users.stop

    gmail_calls = [c for c in recorded if c[1].startswith(settings.MAILROOM_GMAIL_API_URL)]
    problems = [_check(document, entries, *call) for call in gmail_calls]

    assert [p for p in problems if p] == []
    used = {
        next(m["id"] for m, pattern in entries if m["httpMethod"] == verb and pattern.match(
            url[len(settings.MAILROOM_GMAIL_API_URL.rstrip("/")) + 1 :].split("?", 1)[0]
        ))
        for verb, url, _ in gmail_calls
    }  # fmt: skip
    assert {
        "gmail.users.messages.send",
        "gmail.users.getProfile",
        "gmail.users.history.list",
        "gmail.users.messages.list",
        "gmail.users.messages.get",
        "gmail.users.watch",
        "gmail.users.stop",
    } <= used


def test_the_check_itself_catches_a_request_google_does_not_define(gmail_api):
    document, entries = gmail_api
    base = settings.MAILROOM_GMAIL_API_URL.rstrip("/")

    assert _check(document, entries, "GET", f"{base}/gmail/v1/users/me/messages/x/raw", {})
    assert _check(
        document, entries, "GET", f"{base}/gmail/v1/users/me/history", {"params": {"since": "1"}}
    )
    assert _check(
        document,
        entries,
        "GET",
        f"{base}/gmail/v1/users/me/messages/abc",
        {"params": {"format": "mime"}},
    )
    assert _check(
        document,
        entries,
        "POST",
        f"{base}/gmail/v1/users/me/messages/send",
        {"json": {"raw": "x", "priority": "high"}},
    )
    assert (
        _check(
            document,
            entries,
            "GET",
            f"{base}/gmail/v1/users/me/history",
            {"params": {"startHistoryId": "5"}},
        )
        is None
    )
