"""Disconnect revokes Mailroom's Gmail grant at Google (the sandbox's OAuth 2.0 revocation
endpoint) once the disconnect is committed; Google being down or refusing never stops the
disconnect, and the token never reaches the log. Exchange Online's grant is left alone."""

import logging
import socket

import pytest
from django.urls import reverse

from channels_app.exceptions import ReconnectRequired
from channels_app.models import DeliveryChannel
from channels_app.providers import google_oauth, microsoft_oauth
from channels_app.services import channel_disconnect
from tests.channels_app.test_email_connection import connect
from tests.outreach.send_helpers import oauth_channel

Kind = DeliveryChannel.Kind
Status = DeliveryChannel.Status


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_disconnecting_gmail_revokes_the_grant_at_google_and_reconnecting_works(
    client, rep, sandbox, django_capture_on_commit_callbacks
):
    client.force_login(rep)
    connect(client, "google", "rep@acme.test")
    channel = DeliveryChannel.objects.get(owner=rep, kind=Kind.GMAIL)
    refresh_token = channel.refresh_token
    google_oauth.refresh(refresh_token=refresh_token)  # the grant works before

    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(reverse("channel_disconnect", args=[channel.pk]), follow=True)

    assert "Gmail disconnected." in page.content.decode()
    channel.refresh_from_db()
    assert channel.status == Status.DISCONNECTED
    assert channel.refresh_token == "" and channel.access_token == ""
    with pytest.raises(ReconnectRequired, match="invalid_grant"):
        google_oauth.refresh(refresh_token=refresh_token)

    connect(client, "google", "rep@acme.test")  # Google asks for consent again

    live = DeliveryChannel.objects.exclude(status=Status.DISCONNECTED).get(owner=rep)
    assert live.refresh_token and live.refresh_token != refresh_token
    assert google_oauth.refresh(refresh_token=live.refresh_token).access_token


def test_nothing_is_revoked_until_the_disconnect_commits(
    rep, sandbox, django_capture_on_commit_callbacks
):
    channel = oauth_channel(sandbox, owner=rep, kind=Kind.GMAIL)
    refresh_token = channel.refresh_token

    with django_capture_on_commit_callbacks(execute=False) as pending:
        channel_disconnect(user=rep, channel=channel)
        assert google_oauth.refresh(refresh_token=refresh_token).access_token

    assert len(pending) == 1
    pending[0]()
    with pytest.raises(ReconnectRequired):
        google_oauth.refresh(refresh_token=refresh_token)


def test_a_revoke_endpoint_that_is_down_does_not_stop_the_disconnect(
    rep, sandbox, settings, caplog, django_capture_on_commit_callbacks
):
    channel = oauth_channel(sandbox, owner=rep, kind=Kind.GMAIL)
    refresh_token = channel.refresh_token
    settings.MAILROOM_GOOGLE_REVOKE_URL = f"http://127.0.0.1:{_closed_port()}/revoke"

    with caplog.at_level(logging.INFO), django_capture_on_commit_callbacks(execute=True):
        channel_disconnect(user=rep, channel=channel)

    channel.refresh_from_db()
    assert channel.status == Status.DISCONNECTED
    assert channel.refresh_token == "" and channel.access_token == ""
    assert "Google did not revoke its grant" in caplog.text
    assert refresh_token not in caplog.text


def test_a_grant_already_revoked_by_the_user_still_disconnects(
    rep, sandbox, caplog, django_capture_on_commit_callbacks
):
    channel = oauth_channel(sandbox, owner=rep, kind=Kind.GMAIL)
    refresh_token = channel.refresh_token
    sandbox.client.revoke("google", rep.email)  # removed in the Google account already

    with caplog.at_level(logging.INFO), django_capture_on_commit_callbacks(execute=True):
        channel_disconnect(user=rep, channel=channel)

    channel.refresh_from_db()
    assert channel.status == Status.DISCONNECTED
    assert "Google refused to revoke the grant (400): Token expired or revoked" in caplog.text
    assert refresh_token not in caplog.text


def test_exchange_online_has_no_per_token_revoke_so_the_grant_is_left_alone(
    rep, sandbox, django_capture_on_commit_callbacks
):
    channel = oauth_channel(sandbox, owner=rep, kind=Kind.EXCHANGE_ONLINE)
    refresh_token = channel.refresh_token

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        channel_disconnect(user=rep, channel=channel)

    channel.refresh_from_db()
    assert channel.status == Status.DISCONNECTED and channel.refresh_token == ""
    assert callbacks == []
    # Microsoft still honours the grant: only the user or their admin can remove it.
    assert microsoft_oauth.refresh(refresh_token=refresh_token).access_token
