"""Garbage in query strings, forms and the API is answered with a 400 (JSON for the API) or a
form error saying what to fix, never a server error (issue 13, item 12)."""

import json
from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from outreach.models import OutboundEmail
from outreach.services import api_token_create
from tests.factories import DeliveryChannelFactory, EmailTemplateFactory, ProspectFactory


@dataclass(frozen=True)
class Case:
    """One request and what the person sending it should get back."""

    id: str
    method: str
    url: str
    status: int
    data: dict = field(default_factory=dict)
    api_json: dict | None = None
    headers: dict = field(default_factory=dict)
    says: str = ""  # text the answer must contain (the form error or the API field name)
    as_manager: bool = False


API_OK = {"to": "ana@customer.test", "subject": "Hi", "body": "Hello"}

CASES = [
    Case("compose-template-abc", "get", "/compose/?template=abc", 400, says="template"),
    Case("compose-prospect-abc", "get", "/compose/?prospect=abc", 400, says="prospect"),
    Case("outbox-sender-abc", "get", "/outbox/?sender=abc", 400, says="sender", as_manager=True),
    Case(
        "analytics-end-year-1", "get", "/analytics/?end=0001-01-01", 200, says="Pick dates between"
    ),
    Case(
        "analytics-end-year-9999",
        "get",
        "/analytics/?end=9999-12-31",
        200,
        says="Pick dates between",
    ),
    Case(
        "analytics-start-year-9999",
        "get",
        "/analytics/templates/?start=9999-12-31&end=9999-12-31",
        200,
        says="Pick dates between",
    ),
    Case("prospects-q-nul", "get", "/prospects/?q=%00", 400, says="NUL"),
    Case("feed-before-nul", "get", "/feed/?before=%00", 400, says="NUL"),
    Case("analytics-q-nul", "get", "/analytics/?sort=%00", 400, says="NUL"),
    Case(
        "compose-send-at-9999",
        "post",
        "/compose/",
        200,
        data={"subject": "Hi", "body": "Hi", "send_at": "9999-12-31T23:59", "action": "send"},
        says="within",
    ),
    Case(
        "api-template-id-abc",
        "post",
        "/api/v1/emails/",
        400,
        api_json={"to": "ana@customer.test", "template_id": "abc"},
        says="template_id",
    ),
    Case(
        "api-template-id-list",
        "post",
        "/api/v1/emails/",
        400,
        api_json={"to": "ana@customer.test", "template_id": [1]},
        says="template_id",
    ),
    Case(
        "api-send-at-february-30",
        "post",
        "/api/v1/emails/",
        400,
        api_json={**API_OK, "send_at": "2030-02-30T09:00:00Z"},
        says="send_at",
    ),
    Case(
        "api-send-at-year-9999",
        "post",
        "/api/v1/emails/",
        400,
        api_json={**API_OK, "send_at": "9999-12-31T23:59:59-05:00"},
        says="send_at",
    ),
    Case(
        "api-subject-nul",
        "post",
        "/api/v1/emails/",
        400,
        api_json={**API_OK, "subject": "Hi\x00there"},
        says="subject",
    ),
    Case(
        "api-body-nul",
        "post",
        "/api/v1/emails/",
        400,
        api_json={**API_OK, "body": "Hello\x00"},
        says="body",
    ),
    Case(
        "api-merge-value-nul",
        "post",
        "/api/v1/emails/",
        400,
        api_json={**API_OK, "body": "Hi {{ first_name }}", "merge": {"first_name": "A\x00"}},
        says="merge",
    ),
    Case(
        "api-idempotency-key-nul",
        "post",
        "/api/v1/emails/",
        400,
        api_json=API_OK,
        headers={"HTTP_IDEMPOTENCY_KEY": "k\x001"},
        says="Idempotency-Key",
    ),
    Case(
        "api-body-10-mb",
        "post",
        "/api/v1/emails/",
        413,
        api_json={**API_OK, "body": "x" * 10_000_000},
        says="too_large",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_garbage_gets_a_clear_answer_not_a_server_error(client, rep, manager, case):
    DeliveryChannelFactory(owner=rep)
    EmailTemplateFactory(owner=rep, organization=rep.organization)
    user = manager if case.as_manager else rep
    headers = dict(case.headers)
    if case.api_json is not None:
        _, raw = api_token_create(user=user, name="Plug-in")
        answer = client.post(
            case.url,
            data=json.dumps(case.api_json),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
            **headers,
        )
        assert answer.status_code == case.status, answer.content[:500]
        assert answer["Content-Type"] == "application/json"
        assert case.says in answer.content.decode()
        assert not OutboundEmail.objects.exists()
        return
    client.force_login(user)
    data = dict(case.data)
    if case.url == "/compose/" and case.method == "post":
        data["prospect"] = ProspectFactory(organization=user.organization, owner=user).pk
    answer = getattr(client, case.method)(case.url, data=data or None, **headers)
    assert answer.status_code == case.status, answer.content[:500]
    assert case.says in answer.content.decode()
    assert not OutboundEmail.objects.exists()


def test_api_reads_no_request_body_over_the_limit(client, rep, settings):
    """The limit is checked on Content-Length before the body is read, with a JSON answer
    that names the limit."""
    _, raw = api_token_create(user=rep, name="Plug-in")
    answer = client.post(
        reverse("api_emails"),
        data=json.dumps({**API_OK, "body": "x" * 2_000_000}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "request_too_large"
    assert "1 MB" in answer.json()["message"]
