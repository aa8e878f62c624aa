"""The live feed in words (issue 14, feed and bounce wording): links say what they point to,
a bounce's full server text is behind a click, and the feed filters by type."""

from django.urls import reverse

from analytics.feed import feed_event_record
from analytics.models import FeedEvent
from bounces.models import Bounce
from tests.factories import EmailTemplateFactory, OutboundEmailFactory, ProspectFactory

DIAGNOSTIC = (
    "550-5.1.1 The email account that you tried to reach does not exist.\n550 5.1.1 NoSuchUser"
)


def _bounced(rep):
    prospect = ProspectFactory(
        organization=rep.organization, owner=rep, first_name="Ana", last_name="Lima"
    )
    template = EmailTemplateFactory(owner=rep, name="Intro for CFOs")
    email = OutboundEmailFactory(sender=rep, prospect=prospect, template=template)
    Bounce.objects.create(
        organization=rep.organization,
        outbound_email=email,
        recipient=prospect.email,
        status_code="5.1.1",
        diagnostic=DIAGNOSTIC,
        is_hard=True,
        occurred_at=email.created_at,
    )
    feed_event_record(
        user=rep,
        kind=FeedEvent.Kind.BOUNCED,
        title="Email to Ana Lima bounced: Address does not exist (5.1.1)",
        outbound_email=email,
    )
    return prospect, template


def test_links_name_the_prospect_and_the_template_and_the_diagnostic_waits_behind_a_click(
    client, rep
):
    prospect, template = _bounced(rep)
    client.force_login(rep)
    page = client.get(reverse("feed")).content.decode()
    assert f'<a href="/prospects/{prospect.pk}/">Ana Lima</a>' in page
    assert f'template <a href="/templates/{template.pk}/">Intro for CFOs</a>' in page
    assert ">prospect</a>" not in page
    assert "<summary>What the server said</summary><pre>550-5.1.1 The email account" in page


def test_the_feed_filters_by_type_and_its_live_updates_keep_the_filter(client, rep):
    _bounced(rep)
    feed_event_record(user=rep, kind=FeedEvent.Kind.REPLIED, title="Bo Berg replied to “Hi”")
    client.force_login(rep)

    replies = client.get(reverse("feed"), {"type": "replies"}).content.decode()
    assert "Bo Berg replied" in replies and "Ana Lima bounced" not in replies
    assert 'data-url="/feed/events/?scope=mine&amp;type=replies"' in replies
    bounces = client.get(reverse("feed"), {"type": "bounces"}).content.decode()
    assert "Ana Lima bounced" in bounces and "Bo Berg replied" not in bounces
    polled = client.get(reverse("feed_events"), {"after": 0, "type": "bounces"}).json()
    assert polled["count"] == 1 and "Ana Lima bounced" in polled["html"]
    everything = client.get(reverse("feed"), {"type": "nonsense"}).content.decode()
    assert "Bo Berg replied" in everything and "Ana Lima bounced" in everything
