"""What a bounce does, whatever told us about it: the send-time SMTP rejection path here; the
inbox path in the polling tests goes through the same effects."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from analytics.models import FeedEvent
from bounces.models import Bounce, MailboxPause
from bounces.services import (
    bounce_headline,
    bounce_record_send_rejection,
    channel_campaigns_resume,
)
from outreach.models import Enrollment, OutboundEmail, Prospect
from tests.factories import (
    DeliveryChannelFactory,
    EnrollmentFactory,
    OutboundEmailFactory,
    ProspectFactory,
)


@pytest.fixture
def channel(rep):
    return DeliveryChannelFactory(owner=rep, mailbox_address="rep@acme.test")


def _email(rep, channel, **kwargs):
    return OutboundEmailFactory(sender=rep, channel=channel, **kwargs)


def test_send_rejection_bounces_email_invalidates_prospect_and_stops_enrollments(rep, channel):
    prospect = ProspectFactory(organization=rep.organization, email="ana@acme.com")
    first = EnrollmentFactory(campaign__owner=rep, prospect=prospect)
    second = EnrollmentFactory(campaign__owner=rep, prospect=prospect)
    email = _email(rep, channel, prospect=prospect, enrollment=first)

    bounce_record_send_rejection(
        email=email,
        recipient="Ana@Acme.com",
        status="5.1.1",
        diagnostic="550 5.1.1 user unknown",
        hard=True,
    )

    email.refresh_from_db()
    prospect.refresh_from_db()
    assert email.status == OutboundEmail.Status.BOUNCED
    assert email.bounced_at is not None
    assert prospect.email_status == Prospect.EmailStatus.INVALID
    assert "5.1.1" in prospect.invalid_reason
    states = set(
        Enrollment.objects.filter(pk__in=[first.pk, second.pk]).values_list("state", flat=True)
    )
    assert states == {Enrollment.State.STOPPED_BOUNCED}
    bounce = Bounce.objects.get()
    assert bounce.source == Bounce.Source.SMTP_REJECT
    assert bounce.matched_by == Bounce.MatchedBy.SEND_TIME
    assert bounce.recipient == "ana@acme.com"
    event = FeedEvent.objects.get(user=rep)
    assert event.kind == FeedEvent.Kind.BOUNCED
    assert event.title == f"Email to {prospect.full_name} bounced: Address does not exist (5.1.1)"


def test_same_rejection_reported_twice_counts_once(rep, channel):
    email = _email(rep, channel)
    for _ in range(2):
        bounce_record_send_rejection(
            email=email, recipient=email.to_address, status="5.1.1", diagnostic="", hard=True
        )
    assert Bounce.objects.count() == 1
    assert FeedEvent.objects.filter(kind=FeedEvent.Kind.BOUNCED).count() == 1


def test_one_soft_bounce_keeps_the_address(rep, channel):
    email = _email(rep, channel)
    bounce_record_send_rejection(
        email=email,
        recipient=email.to_address,
        status="4.2.2",
        diagnostic="452 4.2.2 mailbox full",
        hard=False,
    )
    email.refresh_from_db()
    email.prospect.refresh_from_db()
    assert email.status == OutboundEmail.Status.BOUNCED
    assert email.prospect.email_status == Prospect.EmailStatus.VALID


def test_three_soft_bounces_within_thirty_days_invalidate(rep, channel):
    prospect = ProspectFactory(organization=rep.organization)
    enrollment = EnrollmentFactory(campaign__owner=rep, prospect=prospect)
    start = timezone.now()
    for day in (0, 10, 25):
        with time_machine.travel(start + timedelta(days=day)):
            email = _email(rep, channel, prospect=prospect)
            bounce_record_send_rejection(
                email=email, recipient=prospect.email, status="4.2.2", diagnostic="full", hard=False
            )
            prospect.refresh_from_db()
            if day < 25:
                assert prospect.email_status == Prospect.EmailStatus.VALID
    assert prospect.email_status == Prospect.EmailStatus.INVALID
    enrollment.refresh_from_db()
    assert enrollment.state == Enrollment.State.STOPPED_BOUNCED


def test_soft_bounces_spread_beyond_the_window_do_not_invalidate(rep, channel):
    prospect = ProspectFactory(organization=rep.organization)
    start = timezone.now()
    for day in (0, 20, 40):
        with time_machine.travel(start + timedelta(days=day)):
            email = _email(rep, channel, prospect=prospect)
            bounce_record_send_rejection(
                email=email, recipient=prospect.email, status="4.2.2", diagnostic="full", hard=False
            )
    prospect.refresh_from_db()
    assert prospect.email_status == Prospect.EmailStatus.VALID


def test_headline_reads_like_a_sentence():
    assert (
        bounce_headline(
            recipient="ana@acme.com",
            status="5.1.1",
            diagnostic="smtp; 550 5.1.1 user unknown",
        )
        == "Email to ana@acme.com bounced: 550 5.1.1 user unknown"
    )
    assert (
        bounce_headline(recipient="a@b.test", status="5.1.1", diagnostic="")
        == "Email to a@b.test bounced: 5.1.1"
    )
    assert (
        bounce_headline(recipient="a@b.test", status="5.2.2", diagnostic="", reason="mailbox_full")
        == "Email to a@b.test bounced: Mailbox full (5.2.2)"
    )


def test_a_headline_names_the_prospect_on_one_line_whatever_the_server_wrote():
    diagnostic = (
        "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please\n"
        "550-5.1.1 try double-checking the recipient's email address for typos or\n"
        "550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser"
    )
    headline = bounce_headline(
        recipient="ana@acme.com",
        status="5.1.1",
        diagnostic=diagnostic,
        reason="user_unknown",
        name="Ana Lima",
    )
    assert headline == "Email to Ana Lima bounced: Address does not exist (5.1.1)"
    unknown = bounce_headline(recipient="ana@acme.com", status="5.0.0", diagnostic=diagnostic)
    assert "\n" not in unknown and len(unknown) < 160
    assert unknown.startswith("Email to ana@acme.com bounced: 550-5.1.1 The email account")


def test_high_hard_bounce_rate_pauses_campaigns_and_tells_rep_and_manager(
    rep, manager, org_admin, channel
):
    emails = [_email(rep, channel) for _ in range(20)]
    bounce_record_send_rejection(
        email=emails[0], recipient=emails[0].to_address, status="5.1.1", diagnostic="", hard=True
    )
    channel.refresh_from_db()
    assert channel.campaigns_paused_at is None  # 1 of 20 = 5 %: under the limit

    bounce_record_send_rejection(
        email=emails[1], recipient=emails[1].to_address, status="5.1.1", diagnostic="", hard=True
    )
    channel.refresh_from_db()
    assert channel.campaigns_paused_at is not None  # 2 of 20 = 10 %
    assert "10%" in channel.campaigns_paused_reason
    paused_events = FeedEvent.objects.filter(kind=FeedEvent.Kind.MAILBOX_PAUSED)
    assert set(paused_events.values_list("user__email", flat=True)) == {
        rep.email,
        manager.email,
    }

    with pytest.raises(PermissionDenied):
        channel_campaigns_resume(channel=channel, user=manager)
    # Being staff (able to open the Django admin) does not make a manager an admin.
    manager.is_staff = True
    manager.save(update_fields=["is_staff"])
    with pytest.raises(PermissionDenied):
        channel_campaigns_resume(channel=channel, user=manager)
    assert channel_campaigns_resume(channel=channel, user=org_admin) is True
    channel.refresh_from_db()
    assert channel.campaigns_paused_at is None
    assert MailboxPause.objects.get().resumed_by == org_admin

    # Counting restarts after a resume: one more hard bounce of old mail does not re-pause.
    bounce_record_send_rejection(
        email=emails[2], recipient=emails[2].to_address, status="5.1.1", diagnostic="", hard=True
    )
    channel.refresh_from_db()
    assert channel.campaigns_paused_at is None


def test_few_sends_never_pause(rep, channel):
    emails = [_email(rep, channel) for _ in range(5)]
    for email in emails:
        bounce_record_send_rejection(
            email=email, recipient=email.to_address, status="5.1.1", diagnostic="", hard=True
        )
    channel.refresh_from_db()
    assert channel.campaigns_paused_at is None


def test_rep_resumes_their_own_mailbox(rep, channel):
    channel.campaigns_paused_at = timezone.now()
    channel.campaigns_paused_reason = "too many bounces"
    channel.save()
    assert channel_campaigns_resume(channel=channel, user=rep) is True
    assert channel.campaigns_paused_at is None
