"""Compose (merge fields, preview, send now or later), the outbox (scope, tabs, Retry send,
Cancel) and channel resolution with the plug-in rule."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_app.models import DeliveryChannel
from channels_app.sending.resolution import NoUsableChannel, email_channel_resolve
from outreach.merge import MergeError, merge_values, render
from outreach.models import OutboundEmail
from outreach.services import email_enqueue
from tests.factories import (
    DeliveryChannelFactory,
    EmailTemplateFactory,
    OutboundEmailFactory,
    ProspectFactory,
    UserFactory,
)
from tests.outreach.send_helpers import choose, drain, smtp_channel, smtp_received

Kind = DeliveryChannel.Kind


def test_merge_fields_render_with_defaults_and_never_run_template_code(rep):
    prospect = ProspectFactory(organization=rep.organization, first_name="Ana", company="")
    values = merge_values(prospect=prospect, sender=rep)
    rendered = render(
        subject="Hi {{ first_name }}",
        body='{{first_name}} at {{ company|default:"your team" }}, {{ title }}',
        values=values,
    )
    assert rendered.subject == "Hi Ana"
    assert rendered.body == f"Ana at your team, {prospect.title}"
    with pytest.raises(MergeError) as error:
        render(subject="x", body="{{ settings.SECRET_KEY }} {% load x %}", values=values)
    assert error.value.unknown == ["{{ settings.SECRET_KEY }}", "{% load x %}"]


def test_compose_preview_then_send_now(client, sandbox, rep):
    smtp_channel(sandbox, owner=rep)
    prospect = ProspectFactory(organization=rep.organization, owner=rep, first_name="Ana")
    template = EmailTemplateFactory(owner=rep)
    client.force_login(rep)
    form = {
        "prospect": prospect.pk,
        "template": template.pk,
        "subject": template.subject,
        "body": template.body,
    }
    page = client.post(reverse("compose"), {**form, "action": "preview"})
    assert page.status_code == 200
    assert "Quick question, Ana" in page.content.decode()
    assert not OutboundEmail.objects.exists()

    answer = client.post(reverse("compose"), {**form, "action": "send"})

    assert answer.status_code == 302
    email = OutboundEmail.objects.get()
    assert email.subject == "Quick question, Ana"
    assert email.status == OutboundEmail.Status.QUEUED
    assert email.message_id.startswith("<mr.")
    drain(email.channel)
    assert smtp_received(sandbox)[0]["Message-ID"] == email.message_id


def test_compose_schedules_for_later_and_cancel(client, sandbox, rep):
    channel = smtp_channel(sandbox, owner=rep)
    prospect = ProspectFactory(organization=rep.organization, owner=rep)
    client.force_login(rep)
    later = timezone.now() + timedelta(days=1)
    client.post(
        reverse("compose"),
        {
            "prospect": prospect.pk,
            "subject": "Later",
            "body": "Hi",
            "send_at": later.strftime("%Y-%m-%dT%H:%M"),
            "action": "send",
        },
    )
    email = OutboundEmail.objects.get()
    assert email.status == OutboundEmail.Status.SCHEDULED
    assert drain(channel).sent == 0

    outbox = client.get(reverse("outbox") + "?tab=scheduled").content.decode()
    assert "Cancel" in outbox
    client.post(reverse("outbox_cancel", args=[email.pk]))
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.CANCELLED


def test_compose_without_any_channel_says_what_to_connect(client, rep):
    ProspectFactory(organization=rep.organization, owner=rep)
    client.force_login(rep)
    page = client.get(reverse("compose")).content.decode()
    assert "Connect Gmail or Outlook to unlock sending." in page


def test_outbox_scope_rep_sees_own_manager_sees_team(client, rep, manager, other_org_user):
    colleague = UserFactory(organization=rep.organization, team=rep.team)
    outsider = UserFactory(organization=rep.organization)
    mine = OutboundEmailFactory(sender=rep, subject="mine-subject")
    theirs = OutboundEmailFactory(sender=colleague, subject="colleague-subject")
    OutboundEmailFactory(sender=outsider, subject="other-team-subject")
    OutboundEmailFactory(sender=other_org_user, subject="other-org-subject")

    client.force_login(rep)
    page = client.get(reverse("outbox")).content.decode()
    assert mine.subject in page and theirs.subject not in page

    client.force_login(manager)
    page = client.get(reverse("outbox")).content.decode()
    assert mine.subject in page and theirs.subject in page
    assert "other-team-subject" not in page and "other-org-subject" not in page
    page = client.get(reverse("outbox") + f"?sender={colleague.pk}").content.decode()
    assert theirs.subject in page and mine.subject not in page


def test_outbox_names_the_recipient_with_the_address_beneath(client, rep):
    prospect = ProspectFactory(
        organization=rep.organization, owner=rep, first_name="민준", last_name="김"
    )
    OutboundEmailFactory(sender=rep, prospect=prospect, to_address=prospect.email)
    client.force_login(rep)
    page = client.get(reverse("outbox")).content.decode()
    assert f'>김민준</a><br><span class="muted small">{prospect.email}</span>' in page


def test_outbox_shows_failure_reason_and_retry_send_and_throttle_window(client, rep):
    failed = OutboundEmailFactory(
        sender=rep, status="failed", sent_at=None, failure_reason="Authentication unsuccessful"
    )
    throttled = OutboundEmailFactory(
        sender=rep,
        status="throttled",
        sent_at=None,
        waiting_reason="Next send window at 2030-01-01 10:00:00 UTC: Gmail allows 2,000",
    )
    client.force_login(rep)
    page = client.get(reverse("outbox")).content.decode()
    assert "Authentication unsuccessful" in page
    assert "Retry send" in page
    assert "Next send window at 2030-01-01 10:00:00 UTC" in page
    assert reverse("outbox_retry", args=[failed.pk]) in page
    assert reverse("outbox_cancel", args=[throttled.pk]) in page


def test_another_reps_email_cannot_be_retried(client, rep):
    other = UserFactory(organization=rep.organization)
    email = OutboundEmailFactory(sender=other, status="failed", sent_at=None, failure_reason="x")
    client.force_login(rep)
    assert client.post(reverse("outbox_retry", args=[email.pk])).status_code == 404


def test_resolution_chosen_channel_then_team_smtp(rep, org):
    team_smtp = DeliveryChannelFactory(
        owner=None,
        organization=org,
        kind=Kind.CUSTOM_SMTP,
        is_team_default=True,
        mailbox_address="",
    )
    assert email_channel_resolve(sender=rep, source="web") == team_smtp
    gmail = choose(rep, DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL))
    assert email_channel_resolve(sender=rep, source="web") == gmail


def test_plugin_rule_never_reroutes(rep, org):
    DeliveryChannelFactory(
        owner=None,
        organization=org,
        kind=Kind.CUSTOM_SMTP,
        is_team_default=True,
        mailbox_address="",
    )
    gmail = DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL)
    assert email_channel_resolve(sender=rep, source="gmail_plugin") == gmail
    with pytest.raises(NoUsableChannel) as refused:
        email_channel_resolve(sender=rep, source="outlook_plugin")
    assert refused.value.code == "exchange_not_connected"
    exchange = DeliveryChannelFactory(
        owner=rep, kind=Kind.EXCHANGE_ONLINE, mailbox_address="rep@acme.onmicrosoft.test"
    )
    assert email_channel_resolve(sender=rep, source="outlook_plugin") == exchange
    # A mailbox that needs reconnecting still gets its plug-in mail (which waits).
    gmail.status = DeliveryChannel.Status.NEEDS_RECONNECT
    gmail.save()
    assert email_channel_resolve(sender=rep, source="gmail_plugin") == gmail


def test_channel_is_resolved_again_at_send_time(sandbox, rep):
    first = smtp_channel(sandbox, organization=rep.organization, is_team_default=True)
    email = email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hi")
    second = smtp_channel(sandbox, owner=rep)  # the rep chose their own SMTP meanwhile

    result = drain(first)

    email.refresh_from_db()
    assert result.moved_to == {second.pk}
    assert email.channel == second and email.status == OutboundEmail.Status.QUEUED
    drain(second)
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
