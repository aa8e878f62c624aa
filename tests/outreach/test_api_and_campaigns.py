"""The plug-in API (per-user tokens, plug-in rule, idempotency) and campaigns (enroll many,
due steps queued by the periodic task once, pause / resume, stop on bounce)."""

import json
from datetime import timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from channels_app.models import DeliveryChannel
from outreach.effects import enrollments_stop_for_prospect
from outreach.models import Enrollment, OutboundEmail
from outreach.services import (
    api_token_create,
    api_token_revoke,
    campaign_steps_enqueue_due,
    email_enqueue,
    enrollment_pause,
    enrollment_resume,
    enrollments_create,
)
from tests.factories import CampaignFactory, CampaignStepFactory, ProspectFactory
from tests.outreach.send_helpers import drain, mailbox_sent, oauth_channel, smtp_channel

Kind = DeliveryChannel.Kind


def _post(client, token, payload, **headers):
    return client.post(
        reverse("api_emails"),
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        **headers,
    )


def test_api_requires_a_valid_token(client, rep):
    assert _post(client, "mr_nope", {"to": "a@b.test"}).status_code == 401
    token, raw = api_token_create(user=rep, name="Outlook")
    api_token_revoke(token=token)
    assert _post(client, raw, {"to": "a@b.test"}).status_code == 401


def test_gmail_plugin_email_goes_through_gmail(client, sandbox, rep):
    gmail = oauth_channel(sandbox, owner=rep, kind=Kind.GMAIL)
    smtp_channel(sandbox, organization=rep.organization, is_team_default=True)
    _, raw = api_token_create(user=rep, name="Gmail plug-in")
    answer = _post(
        client,
        raw,
        {"to": "ana@customer.test", "subject": "Hi", "body": "Hello", "source": "gmail_plugin"},
    )
    assert answer.status_code == 201
    data = answer.json()
    assert data["status"] == "queued" and data["channel"] == "gmail"
    drain(gmail)
    [sent] = mailbox_sent(sandbox, "google", rep.email)
    assert sent["Message-ID"] == data["message_id"]
    status = client.get(
        reverse("api_email_detail", args=[data["id"]]), HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert status.json()["status"] == "sent"


def test_api_sends_to_an_idn_domain_via_gmail_and_refuses_a_non_ascii_local_part(
    client, sandbox, rep
):
    gmail = oauth_channel(sandbox, owner=rep, kind=Kind.GMAIL)
    _, raw = api_token_create(user=rep, name="Script")

    refused = _post(client, raw, {"to": "jörg@bücher.de", "subject": "Hi", "body": "Hello"})
    accepted = _post(client, raw, {"to": "ann@bücher.de", "subject": "Hi", "body": "Hello"})

    assert refused.status_code == 400
    assert "non-ASCII characters before the @" in refused.json()["fields"]["to"]
    assert accepted.status_code == 201
    drain(gmail)
    [sent] = mailbox_sent(sandbox, "google", rep.email)
    assert sent["To"] == "ann@xn--bcher-kva.de"


def test_outlook_plugin_without_exchange_is_refused_not_rerouted(client, sandbox, rep):
    oauth_channel(sandbox, owner=rep, kind=Kind.GMAIL)
    _, raw = api_token_create(user=rep, name="Outlook plug-in")
    answer = _post(
        client,
        raw,
        {"to": "ana@customer.test", "subject": "Hi", "body": "Hi", "source": "outlook_plugin"},
    )
    assert answer.status_code == 409
    assert answer.json()["error"] == "exchange_not_connected"
    assert "Connect Outlook" in answer.json()["message"]
    assert not OutboundEmail.objects.exists()


def test_api_template_with_merge_values_and_idempotency_key(client, sandbox, rep):
    smtp_channel(sandbox, owner=rep)
    step = CampaignStepFactory(campaign__owner=rep)
    _, raw = api_token_create(user=rep, name="Plug-in")
    payload = {
        "to": "ana@customer.test",
        "template_id": step.template.pk,
        "merge": {"first_name": "Ana", "company": "Initech"},
    }
    first = _post(client, raw, payload, HTTP_IDEMPOTENCY_KEY="k-1")
    again = _post(client, raw, payload, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    email = OutboundEmail.objects.get()
    assert email.subject == "Quick question, Ana"
    assert "Initech" in email.body
    bad = _post(client, raw, {"to": "x", "subject": "", "body": "{{ nope }}"})
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"to", "subject"}


def test_campaign_enroll_many_steps_go_when_due_once_each(sandbox, rep):
    gmail = oauth_channel(sandbox, owner=rep, kind=Kind.GMAIL)
    campaign = CampaignFactory(owner=rep)
    CampaignStepFactory(campaign=campaign, position=1, delay=timedelta(0))
    CampaignStepFactory(campaign=campaign, position=2, delay=timedelta(days=2))
    prospects = [ProspectFactory(organization=rep.organization) for _ in range(3)]
    invalid = ProspectFactory(
        organization=rep.organization, email_status="invalid", invalidated_at=timezone.now()
    )
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        result = enrollments_create(campaign=campaign, prospects=[*prospects, invalid], sender=rep)
        assert (result.enrolled, result.invalid_address) == (3, 1)
        assert enrollments_create(campaign=campaign, prospects=prospects, sender=rep).enrolled == 0
        assert campaign_steps_enqueue_due() == 3
        assert campaign_steps_enqueue_due() == 0  # running it twice queues nothing more
        emails = OutboundEmail.objects.filter(enrollment__campaign=campaign)
        assert {e.priority for e in emails} == {OutboundEmail.Priority.CAMPAIGN}
        assert drain(gmail).sent == 2  # Gmail: 2 per second
    with time_machine.travel(start + timedelta(seconds=1), tick=False):
        assert drain(gmail).sent == 1
    with time_machine.travel(start + timedelta(days=2), tick=False):
        assert campaign_steps_enqueue_due() == 3
        assert set(Enrollment.objects.values_list("state", flat=True)) == {"finished"}
    assert len(mailbox_sent(sandbox, "google", rep.email)) == 3


def test_pause_resume_and_stop_on_bounce(sandbox, rep):
    channel = smtp_channel(sandbox, owner=rep)
    campaign = CampaignFactory(owner=rep)
    CampaignStepFactory(campaign=campaign, position=1, delay=timedelta(0))
    ana, ben = (ProspectFactory(organization=rep.organization) for _ in range(2))
    enrollments_create(campaign=campaign, prospects=[ana, ben], sender=rep)
    ana_enrollment = Enrollment.objects.get(prospect=ana)
    enrollment_pause(enrollment=ana_enrollment)
    assert campaign_steps_enqueue_due() == 1  # only Ben's step: Ana is paused
    enrollments_stop_for_prospect(prospect=ben, state=Enrollment.State.STOPPED_REPLIED)
    ben_email = OutboundEmail.objects.get(prospect=ben)
    assert ben_email.status == OutboundEmail.Status.CANCELLED  # a stopped step never goes

    enrollment_resume(enrollment=ana_enrollment)
    assert campaign_steps_enqueue_due() == 1
    assert drain(channel).sent == 1
    assert OutboundEmail.objects.get(prospect=ana).status == OutboundEmail.Status.SENT


def test_campaign_page_enrolls_selected_prospects(client, rep):
    campaign = CampaignFactory(owner=rep)
    CampaignStepFactory(campaign=campaign, position=1)
    prospects = [ProspectFactory(organization=rep.organization, owner=rep) for _ in range(3)]
    client.force_login(rep)
    page = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert prospects[0].email in page
    client.post(
        reverse("campaign_enroll", args=[campaign.pk]),
        {"prospects": [prospects[0].pk, prospects[1].pk]},
    )
    assert Enrollment.objects.filter(campaign=campaign).count() == 2
    client.post(reverse("campaign_enroll", args=[campaign.pk]), {"everyone_matching": "1"})
    assert Enrollment.objects.filter(campaign=campaign).count() == 3


def test_a_step_due_now_goes_when_the_enrollment_commits_not_a_minute_later(
    sandbox, rep, django_capture_on_commit_callbacks
):
    channel = smtp_channel(sandbox, owner=rep)
    now_campaign, later_campaign = CampaignFactory(owner=rep), CampaignFactory(owner=rep)
    CampaignStepFactory(campaign=now_campaign, position=1, delay=timedelta(0))
    CampaignStepFactory(campaign=later_campaign, position=1, delay=timedelta(days=1))
    ana, ben = (ProspectFactory(organization=rep.organization) for _ in range(2))
    with django_capture_on_commit_callbacks(execute=True):
        enrollments_create(campaign=later_campaign, prospects=[ben], sender=rep)
    assert not OutboundEmail.objects.exists()  # not due yet: nothing queued early
    with django_capture_on_commit_callbacks(execute=True):
        enrollments_create(campaign=now_campaign, prospects=[ana], sender=rep)
    # No periodic run happened: the enrollment itself started the campaign task.
    email = OutboundEmail.objects.get(prospect=ana)
    assert email.status == OutboundEmail.Status.SENT
    assert email.channel_id == channel.pk

    enrollment = Enrollment.objects.get(prospect=ben)
    enrollment_pause(enrollment=enrollment)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        with django_capture_on_commit_callbacks(execute=True):
            enrollment_resume(enrollment=enrollment)
        assert OutboundEmail.objects.get(prospect=ben).status == OutboundEmail.Status.SENT


def test_enroll_all_enrolls_exactly_the_number_on_its_button(client, rep):
    campaign = CampaignFactory(owner=rep)
    CampaignStepFactory(campaign=campaign, position=1, delay=timedelta(days=1))
    org = rep.organization
    enrolled = [ProspectFactory(organization=org, owner=rep) for _ in range(2)]
    fresh = [ProspectFactory(organization=org, owner=rep) for _ in range(3)]
    invalid = ProspectFactory(
        organization=org, owner=rep, email_status="invalid", invalidated_at=timezone.now()
    )
    enrollments_create(campaign=campaign, prospects=enrolled, sender=rep)
    client.force_login(rep)
    page = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert "Enroll all 3 not yet enrolled" in page
    assert f'value="{invalid.pk}" disabled' in page
    assert "1 not yet enrolled has an invalid address" in page

    response = client.post(
        reverse("campaign_enroll", args=[campaign.pk]), {"everyone_matching": "1"}, follow=True
    )
    assert "Enrolled 3 prospects." in response.content.decode()
    assert "already" not in response.content.decode()
    assert set(
        Enrollment.objects.filter(campaign=campaign).values_list("prospect_id", flat=True)
    ) == {p.pk for p in [*enrolled, *fresh]}


def test_pausing_a_campaign_holds_its_queued_steps_until_it_is_active_again(client, sandbox, rep):
    from channels_app.sending.services import sending_dispatch
    from outreach.models import Campaign

    channel = smtp_channel(sandbox, owner=rep)
    campaign = CampaignFactory(owner=rep, status=Campaign.Status.ACTIVE)
    CampaignStepFactory(campaign=campaign, position=1, delay=timedelta(0))
    prospect = ProspectFactory(organization=rep.organization, owner=rep)
    enrollments_create(campaign=campaign, prospects=[prospect], sender=rep)
    assert campaign_steps_enqueue_due() == 1
    one_off = email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hi")

    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.PAUSED)
    assert drain(channel).sent == 1  # the one-off goes; the campaign step waits
    step_email = OutboundEmail.objects.get(enrollment__campaign=campaign)
    assert step_email.status == OutboundEmail.Status.QUEUED
    one_off.refresh_from_db()
    assert one_off.status == OutboundEmail.Status.SENT
    client.force_login(rep)
    page = client.get(reverse("outbox") + "?tab=waiting").content.decode()
    assert "is paused: this step goes out when it is active again" in page

    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.ACTIVE)
    assert sending_dispatch(now=timezone.now()) == 1  # its mailbox is woken again
    assert drain(channel).sent == 1
    step_email.refresh_from_db()
    assert step_email.status == OutboundEmail.Status.SENT


def test_enroll_all_does_not_count_suppressed_prospects_and_says_why(client, rep):
    from suppression.models import Suppression
    from suppression.services import suppression_add

    campaign = CampaignFactory(owner=rep)
    CampaignStepFactory(campaign=campaign, position=1, delay=timedelta(days=1))
    org = rep.organization
    fresh = [ProspectFactory(organization=org, owner=rep) for _ in range(2)]
    left = ProspectFactory(organization=org, owner=rep, email="Gone.Away@northwind.test")
    rival = ProspectFactory(organization=org, owner=rep, email="sam@rival.test")
    suppression_add(
        organization_id=org.pk,
        value="gone.away@northwind.test",
        reason=Suppression.Reason.UNSUBSCRIBED,
    )
    suppression_add(organization_id=org.pk, value="rival.test", reason=Suppression.Reason.MANUAL)
    client.force_login(rep)

    page = client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()

    assert "Enroll all 2 not yet enrolled" in page
    assert "2 not yet enrolled are on the" in page and "will be skipped" in page
    response = client.post(
        reverse("campaign_enroll", args=[campaign.pk]), {"everyone_matching": "1"}, follow=True
    )
    enrolled = set(
        Enrollment.objects.filter(campaign=campaign).values_list("prospect_id", flat=True)
    )
    assert enrolled == {p.pk for p in fresh}
    assert left.pk not in enrolled and rival.pk not in enrolled
    assert response.status_code == 200
