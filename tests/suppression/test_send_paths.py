"""Every send path obeys the suppression list, twice: when an email is queued (Compose, the
plug-in API, Retry send, campaign steps) and just before the provider is called. The issue's
repro: after a hard bounce marked bounce.jamie@northwind.test invalid, Compose and the API
still sent."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bounces.services import bounce_record_send_rejection
from outreach.models import Enrollment, OutboundEmail
from outreach.services import (
    api_token_create,
    campaign_steps_enqueue_due,
    email_enqueue,
    email_retry,
)
from suppression.selectors import RecipientSuppressed
from suppression.services import suppression_add
from tests.factories import (
    CampaignStepFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    OutboundEmailFactory,
    ProspectFactory,
)
from tests.outreach.send_helpers import drain, smtp_channel, smtp_received

JAMIE = "bounce.jamie@northwind.test"


@pytest.fixture
def jamie(rep):
    """Jamie hard-bounced once: the bounce suppressed the address."""
    prospect = ProspectFactory(organization=rep.organization, owner=rep, email=JAMIE)
    email = OutboundEmailFactory(sender=rep, prospect=prospect)
    bounce_record_send_rejection(
        email=email, recipient=JAMIE, status="5.1.1", diagnostic="550 5.1.1 unknown", hard=True
    )
    return prospect


def test_compose_refuses_a_hard_bounced_address_and_says_why(client, sandbox, rep, jamie):
    smtp_channel(sandbox, owner=rep)
    template = EmailTemplateFactory(owner=rep)
    client.force_login(rep)
    before = OutboundEmail.objects.count()

    page = client.post(
        reverse("compose"),
        {
            "prospect": jamie.pk,
            "template": template.pk,
            "subject": "Hi",
            "body": "Hello",
            "action": "send",
        },
    )

    assert page.status_code == 200
    text = page.content.decode()
    assert "Not sent" in text and "suppression list" in text and "Hard bounce" in text
    assert OutboundEmail.objects.count() == before


def test_api_answers_422_recipient_suppressed(client, sandbox, rep, jamie):
    smtp_channel(sandbox, owner=rep)
    _, raw = api_token_create(user=rep, name="Outlook")

    answer = client.post(
        reverse("api_emails"),
        data=json.dumps({"to": JAMIE.upper(), "subject": "Hi", "body": "Hello"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )

    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "recipient_suppressed"
    assert "Hard bounce" in body["reason"]


def test_whole_domain_entry_refuses_every_address_there(rep, sandbox):
    smtp_channel(sandbox, owner=rep)
    suppression_add(organization_id=rep.organization_id, value="rival.test", reason="manual")
    with pytest.raises(RecipientSuppressed) as refused:
        email_enqueue(sender=rep, to_address="ceo@Rival.test", subject="Hi", body="x")
    assert "every address at rival.test" in refused.value.reason


def test_retry_send_refuses_an_address_suppressed_since(rep, sandbox):
    smtp_channel(sandbox, owner=rep)
    failed = OutboundEmailFactory(
        sender=rep,
        to_address="ana@acme.test",
        prospect=None,
        status=OutboundEmail.Status.FAILED,
        failure_reason="535 Authentication unsuccessful",
        sent_at=None,
    )
    suppression_add(
        organization_id=rep.organization_id, value="ana@acme.test", reason="unsubscribed"
    )
    with pytest.raises(RecipientSuppressed):
        email_retry(email=failed)
    failed.refresh_from_db()
    assert failed.status == OutboundEmail.Status.FAILED


def test_campaign_step_for_a_suppressed_prospect_is_skipped_with_the_reason(rep, sandbox):
    smtp_channel(sandbox, owner=rep)
    step = CampaignStepFactory(campaign__owner=rep, delay=timedelta(0))
    prospect = ProspectFactory(organization=rep.organization, email="gone@acme.test")
    enrollment = EnrollmentFactory(
        campaign=step.campaign,
        prospect=prospect,
        sender=rep,
        state=Enrollment.State.ACTIVE,
        next_step=step,
        next_due_at=timezone.now() - timedelta(minutes=1),
    )
    suppression_add(organization_id=rep.organization_id, value=prospect.email, reason="manual")

    assert campaign_steps_enqueue_due() == 0

    email = OutboundEmail.objects.get(enrollment=enrollment)
    assert email.status == OutboundEmail.Status.CANCELLED
    assert email.failure_reason.startswith("Not sent: gone@acme.test is on the suppression list")
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.STOPPED_SUPPRESSED


def test_an_address_suppressed_while_the_email_waited_is_never_sent(rep, sandbox):
    channel = smtp_channel(sandbox, owner=rep)
    waiting = email_enqueue(sender=rep, to_address="late@acme.test", subject="Hi", body="x")
    other = email_enqueue(sender=rep, to_address="fine@acme.test", subject="Hi", body="x")
    suppression_add(
        organization_id=rep.organization_id, value="late@acme.test", reason="unsubscribed"
    )

    result = drain(channel)

    assert (result.sent, result.suppressed) == (1, 1)
    waiting.refresh_from_db()
    other.refresh_from_db()
    assert waiting.status == OutboundEmail.Status.CANCELLED
    assert "Unsubscribed" in waiting.failure_reason
    assert other.status == OutboundEmail.Status.SENT
    assert [m["To"] for m in smtp_received(sandbox)] == ["fine@acme.test"]
