"""The outbox says why mail waits in the reader's organization's time, not the UTC the
pipeline stores."""

from datetime import UTC, datetime, timedelta

from django.urls import reverse
from django.utils import timezone

from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail
from outreach.selectors import localize_utc_stamps
from tests.factories import ProspectFactory
from tests.outreach.send_helpers import smtp_channel


def test_stored_utc_stamps_read_in_the_active_zone():
    with timezone.override("America/New_York"):
        assert (
            localize_utc_stamps("Next send window at 2030-01-15 14:00:05 UTC: the team rate")
            == "Next send window at 2030-01-15 09:00:05 EST: the team rate"
        )
        assert localize_utc_stamps("paused until 2030-07-01 12:30 UTC") == (
            "paused until 2030-07-01 08:30 EDT"
        )
        assert localize_utc_stamps("no time here, 5.7.1 UTC-ish") == "no time here, 5.7.1 UTC-ish"


def test_the_outbox_shows_throttle_and_pause_times_in_the_org_zone(client, sandbox, rep, org):
    org.timezone = "Europe/Berlin"
    org.save(update_fields=["timezone"])
    channel = smtp_channel(sandbox, owner=rep)
    window = datetime(2030, 1, 15, 14, 0, 5, tzinfo=UTC)
    OutboundEmail.objects.create(
        organization=org, sender=rep, prospect=ProspectFactory(organization=org),
        to_address="ana@customer.test", subject="Hi", body="Hi", channel=channel,
        status=OutboundEmail.Status.THROTTLED, next_attempt_at=window,
        waiting_reason="Next send window at 2030-01-15 14:00:05 UTC: the team rate (20 every 60 s)",
    )  # fmt: skip
    client.force_login(rep)
    page = client.get(reverse("outbox") + "?tab=waiting").content.decode()
    assert "Next send window at 2030-01-15 15:00:05 CET" in page
    assert "14:00:05 UTC" not in page

    DeliveryChannel.objects.filter(pk=channel.pk).update(
        sending_paused_until=timezone.now() + timedelta(hours=2),
        sending_paused_reason="Gmail's daily sending limit",
    )
    page = client.get(reverse("outbox") + "?tab=waiting").content.decode()
    assert "paused until" in page and " CET" in page and " UTC:" not in page
