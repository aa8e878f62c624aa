"""Microsoft's sign-in errors reach the rep as sentences with the AADSTS code in small print,
never as Entra's raw text with its trace and correlation ids."""

from django.urls import reverse

from bounces.polling import channel_poll
from channels_app.models import DeliveryChannel
from channels_app.providers.microsoft_errors import microsoft_error_words
from tests.bounces.poll_helpers import connect

RAW = (
    "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token "
    "is needed.\r\nTrace ID: 0f3c\r\nCorrelation ID: 77ab\r\nTimestamp: 2026-12-02 10:00:00Z"
)


def test_a_known_code_becomes_a_sentence_and_the_code_goes_to_small_print():
    assert microsoft_error_words(RAW) == (
        "the sign-in was revoked (a password change, or an admin signed the account out)",
        "Microsoft code AADSTS50173",
    )


def test_an_unknown_code_keeps_microsofts_first_line_only():
    words, small_print = microsoft_error_words("AADSTS999999: Something new.\r\nTrace ID: 1")
    assert (words, small_print) == ("AADSTS999999: Something new.", "")


def test_a_revoked_outlook_grant_reads_as_a_sentence_in_email_settings(client, sandbox, rep):
    channel = connect(sandbox, owner=rep, kind=DeliveryChannel.Kind.EXCHANGE_ONLINE)
    channel_poll(channel_id=channel.pk)
    sandbox.client.revoke("microsoft", channel.mailbox_address)
    assert channel_poll(channel_id=channel.pk).outcome == "reconnect"
    channel.refresh_from_db()
    assert channel.last_error == (
        "Microsoft no longer accepts Mailroom's access to this mailbox: the sign-in was revoked "
        "(a password change, or an admin signed the account out). Reconnect Outlook to resume "
        "sending. (Microsoft code AADSTS50173)"
    )
    client.force_login(rep)
    page = client.get(reverse("email_settings")).content.decode()
    assert "the sign-in was revoked" in page
    assert "Trace ID" not in page and "fresh auth token" not in page
