"""A template that cannot be filled in (saved in the admin with an unclosed `{{`) pauses only
the enrollments that use it, with a feed notice; every other campaign's steps still go."""

from django.utils import timezone

from analytics.models import FeedEvent
from outreach.models import Enrollment, OutboundEmail
from outreach.services import campaign_steps_enqueue_due
from tests.factories import CampaignFactory, CampaignStepFactory, EnrollmentFactory


def _due_enrollment(rep, *, body):
    campaign = CampaignFactory(owner=rep)
    step = CampaignStepFactory(campaign=campaign, position=1)
    step.template.body = body
    step.template.save()
    return EnrollmentFactory(
        campaign=campaign,
        sender=rep,
        state=Enrollment.State.ACTIVE,
        next_step=step,
        next_due_at=timezone.now(),
    )


def test_a_broken_template_pauses_its_enrollment_and_not_the_run(rep):
    broken = _due_enrollment(rep, body="Hi {{ first_name, see you")
    fine = _due_enrollment(rep, body="Hi {{ first_name }}")

    assert campaign_steps_enqueue_due() == 1

    assert OutboundEmail.objects.filter(enrollment=fine).count() == 1
    assert not OutboundEmail.objects.filter(enrollment=broken).exists()
    broken.refresh_from_db()
    assert broken.state == Enrollment.State.PAUSED
    event = FeedEvent.objects.get(user=rep, kind=FeedEvent.Kind.FAILED)
    assert broken.prospect.email in event.title
    assert "Fix the template, then resume" in event.detail
    assert campaign_steps_enqueue_due() == 0  # paused: no failure every minute
