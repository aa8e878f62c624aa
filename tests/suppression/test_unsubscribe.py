"""One-click unsubscribe (RFC 8058): the headers, the signed link, the public page, the merge
field, and replies that ask to be removed (flagged for the rep, never suppressed silently)."""

from datetime import timedelta
from email.message import EmailMessage

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import FeedEvent
from bounces.classify import classify_message
from outreach.merge import merge_values, render
from outreach.models import Enrollment, OutboundEmail
from outreach.services import campaign_steps_enqueue_due, email_enqueue
from suppression.links import unsubscribe_url
from suppression.models import Suppression, SuppressionPolicy
from suppression.selectors import suppression_find
from suppression.services import suppression_remove
from tests.factories import CampaignStepFactory, EnrollmentFactory, ProspectFactory
from tests.outreach.send_helpers import drain, smtp_channel, smtp_received


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.MAILROOM_PUBLIC_URL = "https://mailroom.example"


def _campaign_email(rep, sandbox):
    channel = smtp_channel(sandbox, owner=rep)
    step = CampaignStepFactory(campaign__owner=rep, delay=timedelta(0))
    prospect = ProspectFactory(organization=rep.organization, email="ana@acme-prospect.test")
    enrollment = EnrollmentFactory(
        campaign=step.campaign,
        prospect=prospect,
        sender=rep,
        state=Enrollment.State.ACTIVE,
        next_step=step,
        next_due_at=timezone.now() - timedelta(minutes=1),
    )
    assert campaign_steps_enqueue_due() == 1
    drain(channel)
    return channel, enrollment, smtp_received(sandbox)[-1]


def _path(url):
    return url.removeprefix("https://mailroom.example")


def test_campaign_email_carries_one_click_headers_and_the_post_unsubscribes(client, rep, sandbox):
    channel, enrollment, message = _campaign_email(rep, sandbox)
    header = message["List-Unsubscribe"]
    assert header.startswith("<https://mailroom.example/unsubscribe/") and header.endswith(">")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    other = EnrollmentFactory(
        campaign__owner=rep,
        prospect=enrollment.prospect,
        state=Enrollment.State.ACTIVE,
        next_step=CampaignStepFactory(campaign__owner=rep),
        next_due_at=timezone.now(),
    )

    # What Gmail or Yahoo sends when the reader clicks "Unsubscribe": no cookie, no CSRF token.
    answer = client.post(
        _path(header[1:-1]),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert answer.status_code == 200
    assert "You are unsubscribed" in answer.content.decode()
    entry = suppression_find(organization_id=rep.organization_id, address="ana@acme-prospect.test")
    assert entry.reason == Suppression.Reason.UNSUBSCRIBED
    assert entry.source_email == OutboundEmail.objects.get(enrollment=enrollment)
    other.refresh_from_db()
    assert other.state == Enrollment.State.STOPPED_UNSUBSCRIBED
    assert FeedEvent.objects.filter(user=rep, kind=FeedEvent.Kind.UNSUBSCRIBED).exists()
    again = client.post(
        _path(header[1:-1]),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert "Already unsubscribed" in again.content.decode()
    assert Suppression.objects.count() == 1


def test_one_off_email_has_no_header_unless_the_organization_wants_it(rep, sandbox):
    channel = smtp_channel(sandbox, owner=rep)
    email_enqueue(sender=rep, to_address="one@acme-prospect.test", subject="Hi", body="x")
    drain(channel)
    assert smtp_received(sandbox)[-1]["List-Unsubscribe"] is None

    SuppressionPolicy.objects.create(organization=rep.organization, unsubscribe_header_one_off=True)
    email_enqueue(sender=rep, to_address="two@acme-prospect.test", subject="Hi", body="x")
    drain(channel)
    assert smtp_received(sandbox)[-1]["List-Unsubscribe"].startswith("<https://")


def test_page_confirms_on_get_and_refuses_forged_or_replayed_links(client, rep, org_admin):
    url = _path(unsubscribe_url(organization_id=rep.organization_id, address="Bo@X.test"))
    page = client.get(url)
    assert "Unsubscribe bo@x.test?" in page.content.decode()
    assert not Suppression.objects.exists()

    forged = url.replace("/unsubscribe/", "/unsubscribe/x")
    assert client.post(forged).status_code == 400
    assert "not valid" in client.get(forged).content.decode()
    other_org = _path(unsubscribe_url(organization_id=rep.organization_id + 1, address="bo@x.test"))
    tampered = other_org.split(":")[0] + ":" + url.split(":", 1)[1]
    assert client.post(tampered).status_code == 400
    assert not Suppression.objects.exists()

    client.post(url)
    entry = Suppression.objects.get()
    suppression_remove(entry=entry, user=org_admin, reason="Bo asked to hear from us again")
    replay = client.post(url)
    assert "already used" in replay.content.decode()
    assert suppression_find(organization_id=rep.organization_id, address="bo@x.test") is None


def test_unsubscribe_url_merge_field(rep):
    prospect = ProspectFactory(organization=rep.organization)
    rendered = render(
        subject="Hi",
        body="Not for you? {{ unsubscribe_url }}",
        values=merge_values(prospect=prospect, sender=rep),
    )
    assert "Not for you? https://mailroom.example/unsubscribe/" in rendered.body


@pytest.mark.parametrize(
    "words",
    [
        "Please unsubscribe me.",
        "Remove me from your list",
        "Bitte entfernen Sie mich aus dem Verteiler",
        "Merci de me désinscrire",
        "Por favor, darme de baja",
        "Por favor me remova da lista",
        "Cancellami, grazie",
        "Graag uitschrijven",
        "配信停止をお願いします",
        "수신거부 합니다",
        "请退订",
    ],
)
def test_a_reply_asking_to_be_removed_is_recognised(words):
    assert _reply(words).asks_removal


def test_an_ordinary_reply_is_not_a_removal_request():
    assert not _reply("Sounds good, call me Tuesday. I stopped by your booth.").asks_removal


def _reply(words):
    message = EmailMessage()
    message["From"] = "ana@acme-prospect.test"
    message["To"] = "rep@acme.test"
    message["Subject"] = "Re: Quick question"
    message["In-Reply-To"] = "<mr.1@acme.test>"
    message["Message-ID"] = "<reply.1@acme-prospect.test>"
    message.set_content(f"{words}\n\nOn Monday, Rep wrote:\n> unsubscribe link below\n")
    return classify_message(message.as_bytes())


def test_rep_confirms_a_flagged_reply_with_one_click(client, rep):
    prospect = ProspectFactory(organization=rep.organization, email="ana@acme-prospect.test")
    email = OutboundEmail.objects.create(
        organization=rep.organization,
        sender=rep,
        prospect=prospect,
        to_address=prospect.email,
        subject="Hello",
        body="Hi",
        status=OutboundEmail.Status.SENT,
        sent_at=timezone.now(),
    )
    event = FeedEvent.objects.create(
        organization=rep.organization,
        user=rep,
        kind=FeedEvent.Kind.REMOVAL_REQUESTED,
        title="ana asks to be removed",
        outbound_email=email,
    )
    assert not Suppression.objects.exists()  # flagged, not suppressed
    client.force_login(rep)
    feed = client.get(reverse("feed")).content.decode()
    assert reverse("removal_confirm", args=[event.pk]) in feed

    client.post(reverse("removal_confirm", args=[event.pk]))

    entry = Suppression.objects.get()
    assert (entry.address, entry.reason, entry.created_by) == (
        "ana@acme-prospect.test",
        Suppression.Reason.UNSUBSCRIBED,
        rep,
    )


def test_campaign_and_team_pages_count_unsubscribes_beside_the_bounce_rate(
    client, rep, manager, sandbox
):
    channel, enrollment, message = _campaign_email(rep, sandbox)
    client.post(_path(message["List-Unsubscribe"][1:-1]))
    client.force_login(manager)

    campaign = client.get(reverse("analytics_campaign_detail", args=[enrollment.campaign_id]))
    team = client.get(reverse("analytics"))

    for page in (campaign, team):
        assert page.context["suppression"].unsubscribed == 1
        assert page.context["suppression"].unsubscribe_rate == 1.0
        assert "unsubscribe rate" in page.content.decode()
