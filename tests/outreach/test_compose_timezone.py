"""Compose reads "send at" in the organization's time zone and stores UTC; the outbox and
the other pages show scheduled times back in that zone, with its name."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from outreach.models import OutboundEmail
from tests.factories import DeliveryChannelFactory, ProspectFactory

# A winter day: New York is UTC-5 (EST), Berlin UTC+1 (CET).
NOON_UTC = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def sender(rep):
    DeliveryChannelFactory(owner=rep)
    return rep


def _in_zone(org, name):
    org.timezone = name
    org.save(update_fields=["timezone"])


def _schedule(client, user, send_at: str):
    prospect = ProspectFactory(organization=user.organization, owner=user)
    return client.post(
        reverse("compose"),
        {
            "prospect": prospect.pk,
            "subject": "Tomorrow morning",
            "body": "Hi",
            "send_at": send_at,
            "action": "send",
        },
    )


@time_machine.travel(NOON_UTC, tick=False)
def test_new_york_rep_schedules_nine_am_stored_as_fourteen_utc(client, org, sender):
    _in_zone(org, "America/New_York")
    client.force_login(sender)

    page = client.get(reverse("compose")).content.decode()
    assert "Send at (America/New_York)" in page

    # 09:00 in New York today is still ahead (it is 07:00 there), though 09:00 UTC has passed.
    answer = _schedule(client, sender, "2030-01-15T09:00")

    assert answer.status_code == 302
    email = OutboundEmail.objects.get()
    assert email.status == OutboundEmail.Status.SCHEDULED
    assert email.scheduled_at == datetime(2030, 1, 15, 14, 0, tzinfo=UTC)
    assert email.scheduled_at.utcoffset().total_seconds() == 0
    shown = client.get(answer.url).content.decode()
    assert "Scheduled for 2030-01-15 09:00 (America/New_York)" in shown


@time_machine.travel(NOON_UTC, tick=False)
def test_time_already_past_in_the_organizations_zone_is_refused(client, org, sender):
    _in_zone(org, "Europe/Berlin")
    client.force_login(sender)

    # 12:30 would still be ahead in UTC, but in Berlin it is 13:00 already.
    answer = _schedule(client, sender, "2030-01-15T12:30")

    assert answer.status_code == 200
    page = answer.content.decode()
    assert "2030-01-15 12:30 has already passed in Europe/Berlin" in page
    assert "it is 2030-01-15 13:00 there" in page
    assert not OutboundEmail.objects.exists()


@time_machine.travel(datetime(2030, 3, 1, 12, 0, tzinfo=UTC), tick=False)
def test_a_time_skipped_by_the_clock_change_is_refused(client, org, sender):
    _in_zone(org, "Europe/Berlin")
    client.force_login(sender)

    # Berlin's clocks jump from 02:00 to 03:00 on 31 March 2030.
    answer = _schedule(client, sender, "2030-03-31T02:30")

    assert "Clocks change around that time in Europe/Berlin" in answer.content.decode()
    assert not OutboundEmail.objects.exists()


@time_machine.travel(NOON_UTC, tick=False)
def test_outbox_shows_the_scheduled_time_in_the_organizations_zone(client, org, sender):
    _in_zone(org, "America/New_York")
    client.force_login(sender)
    _schedule(client, sender, "2030-01-16T09:00")

    outbox = client.get(reverse("outbox"), {"tab": "scheduled"}).content.decode()

    assert "When (America/New_York)" in outbox
    assert "2030-01-16 09:00 EST" in outbox
    prospect = OutboundEmail.objects.get().prospect
    detail = client.get(reverse("prospect_detail", args=[prospect.pk])).content.decode()
    assert "When (America/New_York)" in detail
    assert "2030-01-16 09:00" in detail


@time_machine.travel(NOON_UTC, tick=False)
def test_organization_without_a_known_zone_uses_utc(client, org, sender):
    _in_zone(org, "Mars/Olympus_Mons")
    client.force_login(sender)

    assert "Send at (UTC)" in client.get(reverse("compose")).content.decode()
    _schedule(client, sender, "2030-01-15T13:00")

    assert OutboundEmail.objects.get().scheduled_at == datetime(2030, 1, 15, 13, 0, tzinfo=UTC)


@time_machine.travel(NOON_UTC, tick=False)
def test_a_send_time_more_than_a_year_ahead_is_refused_at_compose(client, org, sender):
    _in_zone(org, "UTC")
    client.force_login(sender)
    page = _schedule(client, sender, "2031-01-16T12:00").content.decode()
    assert "at most a year ahead in Compose" in page
    assert not OutboundEmail.objects.exists()
    _schedule(client, sender, "2031-01-14T12:00")
    assert OutboundEmail.objects.get().scheduled_at == datetime(2031, 1, 14, 12, tzinfo=UTC)
