"""A rep keeps the live feed open; a bounce arrives; it appears without a reload."""

import pytest
from django.test import Client
from playwright.sync_api import expect

from analytics.feed import feed_event_record
from analytics.models import FeedEvent
from bounces.polling import channel_poll
from channels_app.models import DeliveryChannel
from tests.bounces.poll_helpers import connect, dsn_for
from tests.factories import OutboundEmailFactory, ProspectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The page polls every 2 s; the product promises new events within 5 s.
WITHIN_5_SECONDS = 5_000


def _open_feed(page, live_server, user, *, empty=True):
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/feed/")
    if empty:
        expect(page.locator("#feed-empty")).to_be_visible()
    # A marker that a reload would wipe out.
    page.evaluate("window.stillTheSamePage = true")


def test_bounce_polled_from_the_sandbox_inbox_appears_without_reload(
    live_server, page, sandbox, rep
):
    channel = connect(sandbox, owner=rep, kind=DeliveryChannel.Kind.GMAIL)
    assert channel_poll(channel_id=channel.pk).outcome == "ok"  # first sync sets the cursor
    prospect = ProspectFactory(organization=rep.organization, email="ana@acme-prospect.test")
    email = OutboundEmailFactory(
        sender=rep,
        prospect=prospect,
        channel=channel,
        message_id="<mr.browser-test@acme.test>",
    )
    _open_feed(page, live_server, rep)

    sandbox.client.inject(
        "google",
        channel.mailbox_address,
        dsn_for(
            mailbox=channel.mailbox_address,
            recipient=prospect.email,
            returned_headers=f"Message-ID: {email.message_id}\r\nSubject: {email.subject}",
        ),
    )
    report = channel_poll(channel_id=channel.pk)
    assert report.outcome == "ok" and report.messages_processed == 1

    row = page.locator("#feed-events li.feed-event").first
    expect(row).to_contain_text(f"Email to {prospect.full_name} bounced", timeout=WITHIN_5_SECONDS)
    expect(row).to_contain_text("5.1.1")
    expect(page.locator("#feed-unread")).to_have_text("1")
    assert page.evaluate("window.stillTheSamePage") is True


def test_recorded_event_appears_and_is_marked_read_in_place(live_server, page, rep):
    _open_feed(page, live_server, rep)
    feed_event_record(
        user=rep,
        kind=FeedEvent.Kind.BOUNCED,
        title="Email to bo@globex.test bounced: 550 5.1.1 user unknown",
        detail="Hard bounce of “Hello”.",
    )
    row = page.locator("#feed-events li.feed-event").first
    expect(row).to_contain_text("bo@globex.test", timeout=WITHIN_5_SECONDS)
    expect(page.locator("#feed-unread")).to_have_text("1")

    row.get_by_role("button", name="Mark read").click()
    expect(page.locator("#feed-unread")).to_have_count(0)
    expect(row).not_to_have_class("unread")
    assert page.evaluate("window.stillTheSamePage") is True
    assert FeedEvent.objects.get().read_at is not None


def test_show_older_appends_the_next_page_while_new_events_keep_arriving(live_server, page, rep):
    FeedEvent.objects.bulk_create(
        FeedEvent(organization=rep.organization, user=rep, kind="failed", title=f"old event {n}")
        for n in range(70)
    )
    _open_feed(page, live_server, rep, empty=False)
    rows = page.locator("#feed-events li.feed-event")
    expect(rows).to_have_count(50)

    page.get_by_role("link", name="Show older").click()

    expect(rows).to_have_count(70)
    expect(rows.last).to_contain_text("old event 0")
    expect(page.locator("#feed-more")).to_be_hidden()
    feed_event_record(user=rep, kind=FeedEvent.Kind.REPLIED, title="Ana replied to “Hello”")
    expect(rows.first).to_contain_text("Ana replied", timeout=WITHIN_5_SECONDS)
    expect(rows).to_have_count(71)
    assert page.evaluate("window.stillTheSamePage") is True
