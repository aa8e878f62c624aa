"""Poison emails (issue 13 item 11): input that cannot go on the wire is refused where it is
typed — compose, the API, prospect forms and imports, campaign enrollment, a user's name — and an
email that still fails to build fails alone, with its reason, once it reaches the attempt cap,
while the rest of its sender's mail goes out."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from channels_app.sending import services as sending
from outreach.imports import _field_limits, _row_problem
from outreach.models import Enrollment, OutboundEmail, Prospect
from outreach.services import (
    api_token_create,
    campaign_steps_enqueue_due,
    email_enqueue,
    enrollments_create,
)
from tests.factories import (
    CampaignFactory,
    CampaignStepFactory,
    EmailTemplateFactory,
    ProspectFactory,
)
from tests.outreach.send_helpers import drain, smtp_channel, smtp_received

Status = OutboundEmail.Status

POISON_ADDRESSES = {
    "vertical tab in a quoted local part": '"ann\x0bsmith"@customer.test',
    "line break": "ann\r\n@customer.test",
    "malformed IDNA label": "ann@xn--a.test",
    "local part over 64 octets": "a" * 65 + "@customer.test",
    "non-ASCII local part": "jörg@customer.test",
}


@pytest.mark.parametrize("address", POISON_ADDRESSES.values(), ids=POISON_ADDRESSES.keys())
def test_unsendable_addresses_are_refused_at_queue_time(sandbox, rep, address):
    smtp_channel(sandbox, owner=rep)
    with pytest.raises(ValidationError) as refused:
        email_enqueue(sender=rep, to_address=address, subject="Hi", body="Hi")
    assert refused.value.message_dict["to_address"][0]  # a sentence for the person
    assert not OutboundEmail.objects.exists()


def test_an_internationalized_domain_is_still_accepted(sandbox, rep):
    smtp_channel(sandbox, owner=rep)
    email = email_enqueue(sender=rep, to_address="ann@bücher.de", subject="Hi", body="Hi")
    drain(email.channel)
    email.refresh_from_db()
    assert email.status == Status.SENT


@pytest.mark.parametrize("address", POISON_ADDRESSES.values(), ids=POISON_ADDRESSES.keys())
def test_the_api_answers_400_naming_the_address(client, sandbox, rep, address):
    smtp_channel(sandbox, owner=rep)
    _, raw = api_token_create(user=rep, name="plug-in")
    answer = client.post(
        reverse("api_emails"),
        data=json.dumps({"to": address, "subject": "Hi", "body": "Hi"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert answer.status_code == 400
    assert answer.json()["fields"]["to"]
    assert not OutboundEmail.objects.exists()


def test_prospects_cannot_be_saved_or_imported_with_an_unsendable_address(rep):
    prospect = Prospect(organization=rep.organization, email='"a\x0bb"@customer.test')
    with pytest.raises(ValidationError) as refused:
        prospect.full_clean()
    assert "control character" in " ".join(refused.value.message_dict["email"])
    problem = _row_problem("ann@xn--a.test", {}, _field_limits())
    assert "internationalized domain name" in problem


def test_compose_to_a_prospect_stored_with_a_poison_address_shows_a_form_error(
    client, sandbox, rep
):
    smtp_channel(sandbox, owner=rep)
    prospect = ProspectFactory(organization=rep.organization, owner=rep)
    # Stored before addresses were checked (an old import, a direct database write).
    Prospect.objects.filter(pk=prospect.pk).update(email='"ann\x0bsmith"@customer.test')
    client.force_login(rep)
    page = client.post(
        reverse("compose"),
        {"prospect": prospect.pk, "subject": "Hi", "body": "Hello", "action": "send"},
    )
    assert page.status_code == 200
    assert "control character" in page.content.decode()
    assert not OutboundEmail.objects.exists()


def test_a_line_break_in_a_users_name_is_refused_and_never_reaches_a_from_line(
    client, sandbox, rep
):
    rep.first_name = "Ann\r\nBcc: everyone@customer.test"
    with pytest.raises(ValidationError) as refused:
        rep.full_clean()
    assert "first_name" in refused.value.message_dict
    rep.save()  # as a direct database write would, before names were checked
    smtp_channel(sandbox, owner=rep)
    with pytest.raises(ValidationError) as refused:
        email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hi")
    assert "profile" in refused.value.message_dict["sender"][0]
    _, raw = api_token_create(user=rep, name="plug-in")
    answer = client.post(
        reverse("api_emails"),
        data=json.dumps({"to": "ana@customer.test", "subject": "Hi", "body": "Hi"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert answer.status_code == 400 and "sender" in answer.json()["fields"]
    assert not OutboundEmail.objects.exists()


def test_campaigns_skip_a_poison_address_with_the_reason(sandbox, rep):
    smtp_channel(sandbox, owner=rep)
    campaign = CampaignFactory(organization=rep.organization, owner=rep)
    CampaignStepFactory(
        campaign=campaign, position=1, template=EmailTemplateFactory(owner=rep), delay=timedelta(0)
    )
    good = ProspectFactory(organization=rep.organization, owner=rep)
    bad = ProspectFactory(organization=rep.organization, owner=rep)
    Prospect.objects.filter(pk=bad.pk).update(email="ann@xn--a.test")
    bad.refresh_from_db()

    result = enrollments_create(campaign=campaign, prospects=[good, bad], sender=rep)
    assert (result.enrolled, result.invalid_address) == (1, 1)

    # One enrolled before the check existed: its step is not sent, and the outbox says why.
    legacy = Enrollment.objects.create(
        campaign=campaign,
        prospect=bad,
        sender=rep,
        state=Enrollment.State.ACTIVE,
        next_step=campaign.steps.get(),
        next_due_at=timezone.now(),
    )
    campaign_steps_enqueue_due(now=timezone.now())
    skipped = OutboundEmail.objects.get(enrollment=legacy)
    assert skipped.status == Status.CANCELLED
    assert "internationalized domain name" in skipped.failure_reason
    bad.refresh_from_db()
    assert bad.email_status == Prospect.EmailStatus.INVALID
    assert OutboundEmail.objects.filter(prospect=good, status=Status.QUEUED).count() == 1


def test_an_email_that_cannot_be_built_fails_alone_after_the_cap(sandbox, rep, monkeypatch):
    channel = smtp_channel(sandbox, owner=rep)
    poison = email_enqueue(sender=rep, to_address="poison@customer.test", subject="P", body="P")
    others = [
        email_enqueue(sender=rep, to_address=f"p{i}@customer.test", subject="Hi", body="Hi")
        for i in range(3)
    ]
    build = sending.email_mime_raw

    def email_mime_raw(*, email, **kwargs):
        if email.pk == poison.pk:
            raise UnicodeEncodeError("ascii", "x", 0, 1, "a bug in building this one email")
        return build(email=email, **kwargs)

    monkeypatch.setattr(sending, "email_mime_raw", email_mime_raw)

    drain(channel)
    for other in others:
        other.refresh_from_db()
        assert other.status == Status.SENT  # not held up behind the poison email
    for _ in range(sending.MAX_ATTEMPTS + 5):
        OutboundEmail.objects.filter(pk=poison.pk, status=Status.QUEUED).update(
            next_attempt_at=timezone.now()
        )
        drain(channel)
    poison.refresh_from_db()
    assert poison.status == Status.FAILED
    assert poison.attempts == sending.MAX_ATTEMPTS  # never past the cap
    assert "Gave up after" in poison.failure_reason
    assert "UnicodeEncodeError" in poison.failure_reason
    assert len(smtp_received(sandbox)) == 3
