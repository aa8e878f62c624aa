"""One relative-time style everywhere: the feed and the Bounces page say the same thing."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from analytics.feed import feed_event_record
from analytics.models import FeedEvent
from bounces.models import Bounce
from core.timefmt import relative_time
from tests.factories import DeliveryChannelFactory, OutboundEmailFactory

NOW = timezone.now()


def test_past_and_future_read_in_one_short_style():
    assert relative_time(NOW - timedelta(seconds=20), NOW) == "just now"
    assert relative_time(NOW - timedelta(minutes=3, seconds=5), NOW) == "3 min ago"
    assert relative_time(NOW - timedelta(hours=5), NOW) == "5 h ago"
    assert relative_time(NOW - timedelta(days=2, hours=1), NOW) == "2 d ago"
    assert relative_time(NOW + timedelta(minutes=7, seconds=1), NOW) == "in 7 min"
    assert relative_time(NOW + timedelta(seconds=10), NOW) == "in under a minute"


def test_the_same_moment_reads_the_same_in_the_feed_and_on_the_bounces_page(client, rep):
    channel = DeliveryChannelFactory(owner=rep, mailbox_address=rep.email)
    three_minutes_ago = timezone.now() - timedelta(minutes=3, seconds=10)
    Bounce.objects.create(
        organization=rep.organization,
        channel=channel,
        outbound_email=OutboundEmailFactory(sender=rep, channel=channel),
        matched_by=Bounce.MatchedBy.MESSAGE_ID,
        recipient="ana@customer.test",
        status_code="5.1.1",
        diagnostic="550 5.1.1 user unknown",
        is_hard=True,
        occurred_at=three_minutes_ago,
    )
    event = feed_event_record(user=rep, kind=FeedEvent.Kind.BOUNCED, title="Email bounced")
    FeedEvent.objects.filter(pk=event.pk).update(created_at=three_minutes_ago)
    client.force_login(rep)

    bounces = client.get(reverse("bounces")).content.decode()
    feed = client.get(reverse("feed")).content.decode()
    assert "3 min ago" in bounces and "3 minutes" not in bounces
    assert "3 min ago" in feed
