"""Email settings tells the truth about each channel (issue 14, honest states): a channel whose
server refused its mail is never a green "Connected", the card in use says "In use", and
Microsoft's codes read as words with the code in small print."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from channels_app.models import ChannelChoice, DeliveryChannel
from tests.factories import DeliveryChannelFactory

Kind = DeliveryChannel.Kind
Status = DeliveryChannel.Status


def _card(page: str, card_id: str) -> str:
    start = page.index(f'id="{card_id}"')
    return page[start : page.index("</section>", start)]


def test_a_channel_whose_login_was_refused_is_not_shown_connected(client, rep):
    smtp = DeliveryChannelFactory(
        owner=rep,
        kind=Kind.CUSTOM_SMTP,
        mailbox_address="",
        host="smtp.example.test",
        port=587,
        last_error="Authentication unsuccessful — update your SMTP credentials, then Retry send.",
    )
    ChannelChoice.objects.create(user=rep, channel=smtp)
    client.force_login(rep)
    page = client.get(reverse("email_settings")).content.decode()
    card = _card(page, "own-smtp")
    assert "Not sending: the server refused" in card
    assert "Authentication unsuccessful" in card
    assert '<span class="pill ok" data-state="connected">' not in page


def test_a_mailbox_paused_by_its_provider_says_so(client, rep):
    DeliveryChannelFactory(
        owner=rep,
        sending_paused_until=timezone.now() + timedelta(minutes=30),
        sending_paused_reason="Gmail's daily sending limit is used up",
    )
    client.force_login(rep)
    card = strip_tags(_card(client.get(reverse("email_settings")).content.decode(), "google"))
    assert "Paused by the provider" in card and "daily sending limit" in card
    assert "resumes in 29 min" in card or "resumes in 30 min" in card


def test_the_card_in_use_says_in_use_and_only_that_one(client, rep):
    gmail = DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL)
    outlook = DeliveryChannelFactory(owner=rep, kind=Kind.EXCHANGE_ONLINE)
    ChannelChoice.objects.create(user=rep, channel=outlook)
    client.force_login(rep)
    page = client.get(reverse("email_settings")).content.decode()
    assert "In use" in _card(page, "microsoft")
    assert "In use" not in _card(page, "google")
    assert gmail.mailbox_address in _card(page, "google")


def test_connecting_another_mailbox_asks_first_and_names_both(client, rep):
    DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL, mailbox_address="rep@acme.test")
    client.force_login(rep)
    card = _card(client.get(reverse("email_settings")).content.decode(), "microsoft")
    assert (
        'data-confirm="Connect Outlook? Sending moves from Gmail (rep@acme.test) to Outlook' in card
    )


def test_choosing_another_channel_asks_on_its_radio_button(client, rep):
    gmail = DeliveryChannelFactory(owner=rep, kind=Kind.GMAIL, mailbox_address="rep@acme.test")
    outlook = DeliveryChannelFactory(
        owner=rep, kind=Kind.EXCHANGE_ONLINE, mailbox_address="rep@acme.onmicrosoft.test"
    )
    ChannelChoice.objects.create(user=rep, channel=gmail)
    client.force_login(rep)
    page = client.get(reverse("email_settings")).content.decode()
    assert (
        f'value="{outlook.pk}"  data-confirm="Sending moves from Gmail (rep@acme.test) to '
        "Outlook (rep@acme.onmicrosoft.test)" in page
    )
    gmail_radio = page[page.index(f'value="{gmail.pk}"') :].split(">", 1)[0]
    assert "data-confirm" not in gmail_radio


def test_a_first_channel_connects_without_a_question(client, rep):
    client.force_login(rep)
    page = client.get(reverse("email_settings")).content.decode()
    assert "Sending moves" not in page


def test_a_raw_microsoft_error_in_the_banner_reads_as_words_with_the_code_small(client, rep):
    DeliveryChannelFactory(
        owner=rep,
        kind=Kind.EXCHANGE_ONLINE,
        status=Status.NEEDS_RECONNECT,
        last_error=(
            "Microsoft refused the token refresh: AADSTS50173: The provided grant has expired "
            "due to it being revoked, a fresh auth token is needed.\r\nTrace ID: 0f3c\r\n"
            "Correlation ID: 77ab"
        ),
    )
    client.force_login(rep)
    page = client.get(reverse("outbox")).content.decode()
    assert "the sign-in was revoked" in page
    assert '<small class="support-code">Microsoft code AADSTS50173</small>' in page
    assert "Trace ID" not in page and "fresh auth token" not in page
