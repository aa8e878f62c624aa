"""The live feed: newest first, read state, the unread counter, the team view, and the
short-polling endpoint the open page calls."""

import pytest
from django.urls import reverse

from accounts.models import User
from analytics.feed import feed_event_record
from analytics.models import FeedEvent
from tests.factories import UserFactory


def _event(user, title, kind=FeedEvent.Kind.BOUNCED, **extra):
    return feed_event_record(user=user, kind=kind, title=title, **extra)


def test_newest_first_and_unread_counter(client, rep):
    _event(rep, "Email to ana@acme.com bounced: 550 5.1.1 user unknown")
    _event(rep, "Bob replied to “Hello”", kind=FeedEvent.Kind.REPLIED)
    client.force_login(rep)
    response = client.get(reverse("feed"))
    titles = [e.title for e in response.context["events"]]
    assert titles == [
        "Bob replied to “Hello”",
        "Email to ana@acme.com bounced: 550 5.1.1 user unknown",
    ]
    assert b'id="feed-unread">2<' in response.content


def test_mark_one_then_all_read(client, rep):
    first = _event(rep, "first")
    _event(rep, "second")
    client.force_login(rep)
    client.post(reverse("feed_read", args=[first.pk]))
    first.refresh_from_db()
    assert first.read_at is not None
    assert client.get(reverse("feed")).context["feed_unread_count"] == 1
    response = client.post(reverse("feed_read_all"), headers={"x-requested-with": "fetch"})
    assert response.json() == {"unread": 0}
    assert not FeedEvent.objects.filter(read_at__isnull=True).exists()
    assert b'id="feed-unread"' not in client.get(reverse("feed")).content


def test_nobody_marks_someone_elses_event(client, rep, manager):
    event = _event(rep, "rep's bounce")
    client.force_login(manager)
    assert client.post(reverse("feed_read", args=[event.pk])).status_code == 404
    client.post(reverse("feed_read_all"))
    event.refresh_from_db()
    assert event.read_at is None


def test_unread_counter_caps_at_99(client, rep):
    FeedEvent.objects.bulk_create(
        FeedEvent(organization=rep.organization, user=rep, kind="failed", title=f"{n}")
        for n in range(120)
    )
    client.force_login(rep)
    assert b'id="feed-unread">99+<' in client.get(reverse("outbox")).content


def test_manager_switches_to_the_team_feed(client, org, team, rep, manager):
    west_rep = UserFactory(organization=org, role=User.Role.REP)
    _event(rep, "team bounce")
    _event(west_rep, "other team bounce")
    _event(manager, "my own")
    client.force_login(manager)
    mine = [e.title for e in client.get(reverse("feed")).context["events"]]
    team_feed = [e.title for e in client.get(reverse("feed"), {"scope": "team"}).context["events"]]
    assert mine == ["my own"]
    assert team_feed == ["my own", "team bounce"]


def test_a_rep_has_no_team_feed(client, rep, manager):
    _event(manager, "manager's event")
    _event(rep, "mine")
    client.force_login(rep)
    response = client.get(reverse("feed"), {"scope": "team"})
    assert [e.title for e in response.context["events"]] == ["mine"]
    assert b"Team&#x27;s feed" not in response.content and b"Team's feed" not in response.content


def test_poll_returns_only_newer_events(client, rep, other_org_user):
    old = _event(rep, "old one")
    client.force_login(rep)
    assert client.get(reverse("feed_events"), {"after": old.pk}).json()["count"] == 0
    _event(rep, "Email to bo@x.test bounced: 550 5.1.1 user unknown", detail="Hard bounce")
    _event(other_org_user, "not yours")
    data = client.get(reverse("feed_events"), {"after": old.pk}).json()
    assert data["count"] == 1
    assert "bo@x.test" in data["html"] and "Hard bounce" in data["html"]
    assert data["last_id"] > old.pk
    assert data["unread"] == 2


def test_reconnect_event_offers_the_button(client, rep):
    _event(rep, "Gmail needs reconnecting", kind=FeedEvent.Kind.CHANNEL_NEEDS_RECONNECT)
    client.force_login(rep)
    assert b"Reconnect</a>" in client.get(reverse("feed")).content


def test_empty_feed_says_what_happens_next(client, rep):
    client.force_login(rep)
    assert b"keep this page open" in client.get(reverse("feed")).content


@pytest.mark.parametrize("dedupe_key", ["bounced:1:ana@acme.com"])
def test_same_event_recorded_once(rep, dedupe_key):
    assert _event(rep, "x", dedupe_key=dedupe_key) is not None
    assert _event(rep, "x", dedupe_key=dedupe_key) is None
