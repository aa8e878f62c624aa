"""The outbox acts on many emails at once (retry or cancel the ticked ones), searches by
recipient or subject, and says when it refreshes itself."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from outreach.models import Enrollment, OutboundEmail
from outreach.services import campaign_steps_enqueue_due
from suppression.services import suppression_add
from tests.factories import (
    CampaignFactory,
    CampaignStepFactory,
    DeliveryChannelFactory,
    EnrollmentFactory,
    OutboundEmailFactory,
    UserFactory,
)

Status = OutboundEmail.Status


def _failed(sender, **fields):
    return OutboundEmailFactory(
        sender=sender,
        status=Status.FAILED,
        sent_at=None,
        failed_at=timezone.now(),
        failure_reason="Authentication unsuccessful",
        **fields,
    )


def _bulk(client, action, emails):
    return client.post(
        reverse("outbox_bulk"),
        {"bulk": action, "emails": [e.pk for e in emails], "next": "/outbox/?tab=failed"},
        follow=True,
    )


def test_retry_selected_sends_the_ticked_failed_emails_again(client, rep):
    DeliveryChannelFactory(owner=rep)
    ticked = [_failed(rep) for _ in range(3)]
    left = _failed(rep)
    client.force_login(rep)
    page = _bulk(client, "retry", ticked).content.decode()
    assert "Sending 3 emails again." in page
    for email in ticked:
        email.refresh_from_db()
        assert email.status == Status.QUEUED and email.failure_reason == ""
    left.refresh_from_db()
    assert left.status == Status.FAILED


def test_retry_selected_says_why_some_did_not_go(client, rep):
    DeliveryChannelFactory(owner=rep)
    suppression_add(organization_id=rep.organization_id, value="rival.test", reason="manual")
    blocked = _failed(rep, to_address="ann@rival.test")
    sent = OutboundEmailFactory(sender=rep, status=Status.SENT)
    client.force_login(rep)
    page = _bulk(client, "retry", [blocked, sent]).content.decode()
    assert "1 not retried: every address at rival.test is on the suppression list" in page
    assert "1 of the ticked emails had not failed" in page
    blocked.refresh_from_db()
    assert blocked.status == Status.FAILED


def test_cancel_selected_stops_only_waiting_mail_in_scope(client, rep):
    colleague = UserFactory(organization=rep.organization, email="rep3@acme.test")
    waiting = [
        OutboundEmailFactory(
            sender=rep, status=status, sent_at=None, next_attempt_at=timezone.now()
        )
        for status in (Status.QUEUED, Status.THROTTLED)
    ]
    sent = OutboundEmailFactory(sender=rep, status=Status.SENT)
    theirs = OutboundEmailFactory(
        sender=colleague, status=Status.QUEUED, sent_at=None, next_attempt_at=timezone.now()
    )
    client.force_login(rep)
    page = _bulk(client, "cancel", [*waiting, sent, theirs]).content.decode()
    assert "Cancelled 2 emails." in page
    assert "1 of the ticked emails were not waiting any more" in page
    statuses = {e.pk: e.status for e in OutboundEmail.objects.all()}
    assert [statuses[e.pk] for e in waiting] == [Status.CANCELLED, Status.CANCELLED]
    assert (statuses[sent.pk], statuses[theirs.pk]) == (Status.SENT, Status.QUEUED)


def test_search_by_recipient_or_subject_keeps_the_tab(client, rep):
    OutboundEmailFactory(sender=rep, to_address="ana@northwind.test", subject="Pricing")
    OutboundEmailFactory(sender=rep, to_address="bo@initech.test", subject="Northwind intro")
    OutboundEmailFactory(sender=rep, to_address="cy@globex.test", subject="Hello")
    client.force_login(rep)
    page = client.get(reverse("outbox"), {"q": "northwind"}).content.decode()
    assert "ana@northwind.test" in page and "bo@initech.test" in page
    assert "cy@globex.test" not in page
    assert "?tab=sent&q=northwind" in page
    assert (
        "No emails to or about “zzz” here."
        in client.get(reverse("outbox"), {"q": "zzz"}).content.decode()
    )


def test_the_page_refreshes_itself_only_while_mail_is_on_its_way(client, rep):
    client.force_login(rep)
    OutboundEmailFactory(sender=rep, status=Status.SENT)
    assert 'data-moving=""' in client.get(reverse("outbox")).content.decode()
    OutboundEmailFactory(
        sender=rep, status=Status.THROTTLED, sent_at=None, next_attempt_at=timezone.now()
    )
    page = client.get(reverse("outbox"), {"tab": "sent"}).content.decode()
    assert 'data-moving="1"' in page and "Updating by itself" in page


def test_retry_all_failed_on_a_channel_once_it_is_fixed(client, rep):
    fixed = DeliveryChannelFactory(owner=rep, mailbox_address="rep@acme.test")
    other = DeliveryChannelFactory(
        owner=rep, kind="custom_smtp", mailbox_address="", host="smtp.other.test"
    )
    on_fixed = [_failed(rep, channel=fixed) for _ in range(2)]
    on_other = _failed(rep, channel=other)
    client.force_login(rep)
    page = client.get(reverse("outbox"), {"tab": "failed"}).content.decode()
    assert f'value="retry_channel:{fixed.pk}"' in page
    assert "Retry all 2 failed on Gmail (rep@acme.test)" in page
    assert "Retry all 1 failed on Custom SMTP (smtp.other.test)" in page
    answer = client.post(
        reverse("outbox_bulk"), {"bulk": f"retry_channel:{fixed.pk}", "next": "/outbox/"}
    )
    assert answer.status_code == 302
    statuses = [OutboundEmail.objects.get(pk=e.pk).status for e in [*on_fixed, on_other]]
    assert statuses == [Status.QUEUED, Status.QUEUED, Status.FAILED]


def test_cancel_all_throttled_keeps_to_the_sender_shown(client, manager, rep):
    def throttled(sender):
        return OutboundEmailFactory(
            sender=sender, status=Status.THROTTLED, sent_at=None, next_attempt_at=timezone.now()
        )

    reps = [throttled(rep) for _ in range(2)]
    managers = throttled(manager)
    client.force_login(manager)
    page = client.get(reverse("outbox"), {"tab": "waiting", "sender": rep.pk}).content.decode()
    assert "Cancel all 2 throttled" in page
    client.post(
        reverse("outbox_bulk"), {"bulk": "cancel_throttled", "sender": rep.pk, "next": "/outbox/"}
    )
    assert [OutboundEmail.objects.get(pk=e.pk).status for e in reps] == [Status.CANCELLED] * 2
    assert OutboundEmail.objects.get(pk=managers.pk).status == Status.THROTTLED


def test_the_page_keeps_refreshing_while_campaign_steps_are_due_but_not_yet_queued(client, rep):
    """Right after "Enrolled N" the step emails are written by the next campaign run, seconds
    later: the outbox says so and refreshes itself until they appear, instead of showing
    nothing and staying still."""
    client.force_login(rep)
    step = CampaignStepFactory(campaign=CampaignFactory(owner=rep), delay=timedelta(0))
    for _ in range(2):
        EnrollmentFactory(
            campaign=step.campaign,
            sender=rep,
            state=Enrollment.State.ACTIVE,
            next_step=step,
            next_due_at=timezone.now(),
        )
    later = EnrollmentFactory(
        campaign=step.campaign,
        sender=rep,
        state=Enrollment.State.ACTIVE,
        next_step=step,
        next_due_at=timezone.now() + timedelta(days=3),
    )
    page = client.get(reverse("outbox")).content.decode()
    assert 'data-moving="1"' in page
    assert "2 campaign emails are due: they appear here in a moment." in page

    # Another rep's due steps are not this rep's outbox's business.
    client.force_login(UserFactory(organization=rep.organization, team=rep.team))
    assert 'data-moving=""' in client.get(reverse("outbox")).content.decode()

    client.force_login(rep)
    campaign_steps_enqueue_due()
    page = client.get(reverse("outbox")).content.decode()
    assert OutboundEmail.objects.filter(enrollment__campaign=step.campaign).count() == 2
    assert "campaign emails are due" not in page and "campaign email is due" not in page
    later.refresh_from_db()
    assert later.next_due_at > timezone.now()  # not due: never counted
