"""At a phone's 390 px the main pages do not scroll sideways: the menu and wide tables scroll
inside their own boxes."""

import pytest
from django.utils import timezone

from outreach.models import OutboundEmail
from tests.browser import sign_in
from tests.factories import DeliveryChannelFactory, OutboundEmailFactory, ProspectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = ["/outbox/", "/prospects/", "/compose/", "/analytics/", "/templates/new/", "/campaigns/"]


@pytest.mark.parametrize("user_fixture", ["rep", "manager"])
def test_main_pages_fit_a_390_px_phone(live_server, page, request, user_fixture, rep):
    user = request.getfixturevalue(user_fixture)
    DeliveryChannelFactory(owner=rep)
    long_name = "a.very.long.address.of.somebody.in.procurement"
    prospect = ProspectFactory(
        organization=rep.organization,
        owner=rep,
        email=f"{long_name}@northwind-industries.test",
        company="Northwind Industrial Holdings International",
    )
    for status in (OutboundEmail.Status.SENT, OutboundEmail.Status.FAILED):
        OutboundEmailFactory(
            sender=rep,
            prospect=prospect,
            to_address=prospect.email,
            status=status,
            failed_at=timezone.now(),
            failure_reason="Authentication unsuccessful — update your SMTP credentials, then "
            "Retry send (535 5.7.8 Username and Password not accepted)",
            subject="A rather long subject line about your quarterly pipeline review meeting",
        )
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, user)
    widths = {}
    for path in PAGES:
        page.goto(f"{live_server.url}{path}")
        widths[path] = page.evaluate("document.documentElement.scrollWidth")
    assert widths == dict.fromkeys(PAGES, 390)


def test_a_chart_is_redrawn_for_a_phone_with_labels_at_full_size(live_server, page, rep):
    """A desktop chart shrunk to 390 px would print its labels a third of their size: the phone
    gets the chart drawn for its width, the desktop the wide one."""
    OutboundEmailFactory(sender=rep, status=OutboundEmail.Status.SENT, sent_at=timezone.now())
    sign_in(page, live_server, rep)
    for width, shown in ((1280, ".chart-wide"), (390, ".chart-narrow")):
        page.set_viewport_size({"width": width, "height": 844})
        page.goto(f"{live_server.url}/analytics/")
        chart = page.locator(f"{shown} svg.chart")
        assert chart.is_visible()
        hidden = ".chart-narrow" if shown == ".chart-wide" else ".chart-wide"
        assert not page.locator(f"{hidden} svg.chart").is_visible()
        # A day label's rendered height: about the page's small text, never a speck.
        label_px = chart.locator("text").last.evaluate("t => t.getBoundingClientRect().height")
        assert label_px >= 9, (width, label_px)


def test_feed_events_take_the_phone_width_for_their_words(live_server, page, rep):
    from analytics.feed import feed_event_record
    from analytics.models import FeedEvent

    feed_event_record(
        user=rep,
        kind=FeedEvent.Kind.BOUNCED,
        title="Email to Ana Lima bounced: Address does not exist (5.1.1)",
        detail="Hard bounce of “Quick idea for Northwind”.",
    )
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, rep)
    page.goto(f"{live_server.url}/feed/")
    body = page.locator(".feed-event .feed-body").first
    # The words get the row to themselves (kind and Mark read above), not a third of it.
    assert body.evaluate("b => b.getBoundingClientRect().width") >= 300
