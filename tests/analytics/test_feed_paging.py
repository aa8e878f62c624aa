"""The live feed's "Show older": keyset pages of 50 by (when it happened, id), scoped exactly
like the feed; polling for newer events keeps working beside it."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from analytics.feed import feed_event_page
from analytics.models import FeedEvent
from tests.factories import UserFactory

ROW_ID = re.compile(r'<li class="feed-event[^"]*" data-id="(\d+)"')


def _events(user, count, *, start, title="event"):
    """`count` events of `user`, one a minute going back from `start`; every third shares the
    minute of the one before it, and ids do not follow time (history is back-dated)."""
    created = FeedEvent.objects.bulk_create(
        FeedEvent(organization=user.organization, user=user, kind="bounced", title=f"{title} {n}")
        for n in range(count)
    )
    for n, event in enumerate(created):
        minute = n - (1 if n % 3 == 2 else 0)
        when = start - timedelta(minutes=(minute * 7) % count)  # shuffled against the ids
        FeedEvent.objects.filter(pk=event.pk).update(created_at=when)
    return list(FeedEvent.objects.filter(pk__in=[e.pk for e in created]))


def _feed_order(events):
    return [e.pk for e in sorted(events, key=lambda e: (e.created_at, e.pk), reverse=True)]


def _page_through(client, scope="mine"):
    """Every event id the viewer reaches: the page, then "Show older" until there is no more."""
    page = client.get(reverse("feed"), {"scope": scope})
    seen = [int(i) for i in ROW_ID.findall(page.content.decode())]
    pages = [len(seen)]
    more, before = page.context["has_older"], page.context["oldest_id"]
    while more:
        data = client.get(reverse("feed_events"), {"scope": scope, "before": before}).json()
        ids = [int(i) for i in ROW_ID.findall(data["html"])]
        assert len(ids) == data["count"]
        seen += ids
        pages.append(len(ids))
        more, before = data["more"], data["oldest_id"]
    return seen, pages


def test_rep_pages_through_120_events_without_gaps_or_repeats(client, rep):
    events = _events(rep, 120, start=timezone.now())
    client.force_login(rep)

    seen, pages = _page_through(client)

    assert pages == [50, 50, 20]
    assert seen == _feed_order(events)  # every event once, in the feed's order


def test_show_older_link_only_when_there_is_more(client, rep):
    _events(rep, 50, start=timezone.now())
    client.force_login(rep)
    page = client.get(reverse("feed"))
    assert page.context["has_older"] is False
    assert b'id="feed-more" hidden' in page.content

    _events(rep, 1, start=timezone.now() - timedelta(days=30), title="oldest")
    page = client.get(reverse("feed"))
    assert page.context["has_older"] is True
    assert b'id="feed-more" hidden' not in page.content
    assert f"before={page.context['oldest_id']}".encode() in page.content


def test_older_page_without_javascript_is_history_not_live(client, rep):
    events = _events(rep, 60, start=timezone.now())
    client.force_login(rep)
    first = client.get(reverse("feed"))

    older = client.get(reverse("feed"), {"before": first.context["oldest_id"]})

    shown = [int(i) for i in ROW_ID.findall(older.content.decode())]
    assert shown == _feed_order(events)[50:]
    assert b"Back to the newest" in older.content
    assert b"data-poll-seconds" not in older.content  # no polling on a history page
    assert older.context["has_older"] is False


def test_manager_team_paging_stays_in_the_team(client, org, team, rep, manager, other_org_user):
    colleague = UserFactory(organization=org, team=team, role=User.Role.REP)
    other_team_rep = UserFactory(organization=org, role=User.Role.REP)
    now = timezone.now()
    team_events = (
        _events(rep, 40, start=now, title="rep")
        + _events(colleague, 40, start=now, title="colleague")
        + _events(manager, 10, start=now, title="manager")
    )
    outsiders = _events(other_team_rep, 60, start=now, title="other team") + _events(
        other_org_user, 60, start=now, title="other org"
    )
    client.force_login(manager)

    seen, pages = _page_through(client, scope="team")

    assert pages == [50, 40]
    assert seen == _feed_order(team_events)
    # An outsider's event id as the cursor shows nothing rather than the events around it.
    for outsider in (outsiders[0], outsiders[-1]):
        data = client.get(reverse("feed_events"), {"scope": "team", "before": outsider.pk}).json()
        assert data["count"] == 0 and data["more"] is False


def test_rep_paging_never_shows_another_org_or_another_rep(client, org, rep, other_org_user):
    neighbour = UserFactory(organization=org, team=rep.team, role=User.Role.REP)
    now = timezone.now()
    mine = _events(rep, 70, start=now, title="mine")
    theirs = _events(neighbour, 70, start=now, title="neighbour")
    foreign = _events(other_org_user, 70, start=now, title="globex")
    client.force_login(rep)

    seen, _ = _page_through(client)
    # A rep asking for the team scope still gets their own feed.
    seen_team, _ = _page_through(client, scope="team")

    assert seen == seen_team == _feed_order(mine)
    for event in (theirs[5], foreign[5]):
        assert client.get(reverse("feed_events"), {"before": event.pk}).json()["count"] == 0


def test_other_organization_admin_pages_only_their_own_org(client, rep, other_org_user):
    _events(rep, 30, start=timezone.now(), title="acme")
    globex = _events(other_org_user, 55, start=timezone.now(), title="globex")
    client.force_login(other_org_user)

    seen, _ = _page_through(client, scope="team")

    assert seen == _feed_order(globex)


def test_a_page_is_one_query_without_offset(rep):
    events = _events(rep, 120, start=timezone.now())
    cursor = _feed_order(events)[49]
    with CaptureQueriesContext(connection) as queries:
        page = feed_event_page(user=rep, before_id=cursor)
    assert len(page.events) == 50 and page.more is True
    assert len(queries) == 1
    assert "OFFSET" not in queries[0]["sql"].upper()


def test_bad_cursor_is_a_clear_error(client, rep):
    client.force_login(rep)
    answer = client.get(reverse("feed_events"), {"before": "abc"})
    assert answer.status_code == 400
    assert answer.json() == {"error": "before must be the id of a feed event."}
    assert client.get(reverse("feed"), {"before": "abc"}).status_code == 200


def test_polling_brings_a_burst_bigger_than_a_batch_without_skipping(client, rep):
    client.force_login(rep)
    after = client.get(reverse("feed")).context["last_id"]
    burst = FeedEvent.objects.bulk_create(
        FeedEvent(organization=rep.organization, user=rep, kind="bounced", title=f"burst {n}")
        for n in range(120)
    )

    seen, counts = [], []
    more = True
    while more:
        data = client.get(reverse("feed_events"), {"after": after}).json()
        seen += [int(i) for i in ROW_ID.findall(data["html"])]
        counts.append(data["count"])
        more, after = data["more"], data["last_id"]

    assert counts == [50, 50, 20]
    assert sorted(seen) == sorted(e.pk for e in burst)
    assert client.get(reverse("feed_events"), {"after": after}).json()["count"] == 0


@pytest.mark.parametrize("scope", ["mine", "team"])
def test_polling_and_paging_meet_without_overlap(client, manager, rep, scope):
    _events(manager, 60, start=timezone.now() - timedelta(hours=1))
    client.force_login(manager)
    page = client.get(reverse("feed"), {"scope": scope})
    new = FeedEvent.objects.create(
        organization=manager.organization, user=manager, kind="replied", title="just now"
    )
    polled = client.get(
        reverse("feed_events"), {"scope": scope, "after": page.context["last_id"]}
    ).json()
    older = client.get(
        reverse("feed_events"), {"scope": scope, "before": page.context["oldest_id"]}
    ).json()
    assert [int(i) for i in ROW_ID.findall(polled["html"])] == [new.pk]
    assert new.pk not in [int(i) for i in ROW_ID.findall(older["html"])]
    assert older["count"] == 10
