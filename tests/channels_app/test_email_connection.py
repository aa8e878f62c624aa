"""Connect Gmail / Connect Outlook end to end through the local sandbox: allauth's connect
flow, the consent page, the callback, tokens stored encrypted (and nowhere else), refresh,
a revoked grant turning into needs-reconnect with a banner, and reconnecting."""

import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from analytics.models import FeedEvent
from channels_app.exceptions import ReconnectRequired
from channels_app.models import DeliveryChannel
from channels_app.selectors import channel_for_user
from channels_app.tokens import channel_access_token
from tests.factories import UserFactory

Kind = DeliveryChannel.Kind
Status = DeliveryChannel.Status
PROVIDER_KIND = {"google": Kind.GMAIL, "microsoft": Kind.EXCHANGE_ONLINE}


def connect(client, provider: str, email: str, *, decision: str = "allow"):
    """Click "Connect", answer the sandbox's consent page, follow the callback home."""
    start = client.post(f"/accounts/{provider}/login/?process=connect")
    assert start.status_code == 302, start.content
    authorize_url = start["Location"]
    consent = requests.get(authorize_url, timeout=10)
    assert consent.status_code == 200 and "sandbox_decision" in consent.text
    answer = requests.post(
        authorize_url,
        data={"sandbox_decision": decision, "sandbox_email": email},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    assert callback.path == f"/accounts/{provider}/login/callback/"
    return client.get(f"{callback.path}?{callback.query}", follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_a_rep_connects_a_mailbox_and_comes_back_connected(client, rep, sandbox, provider):
    client.force_login(rep)
    users_before = User.objects.count()
    page = connect(client, provider, "rep@acme.test")

    assert page.redirect_chain[-1][0] == reverse("email_settings")
    label = "Gmail" if provider == "google" else "Outlook"
    assert f"{label} connected: rep@acme.test" in " ".join(messages_of(page))
    channel = DeliveryChannel.objects.get(owner=rep, kind=PROVIDER_KIND[provider])
    assert channel.status == Status.CONNECTED
    assert channel.mailbox_address == "rep@acme.test"
    assert channel.access_token and channel.refresh_token
    assert channel.token_expires_at > timezone.now()
    assert channel_for_user(user=rep) == channel
    # Still the same Mailroom user, signed in as before; nobody new was created.
    assert User.objects.count() == users_before
    assert int(client.session["_auth_user_id"]) == rep.pk
    # The page shows the connected mailbox with bounce tracking.
    html = page.content.decode()
    assert "rep@acme.test" in html and "Connected" in html and "Bounce tracking" in html


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_tokens_are_encrypted_and_never_in_allauths_tables(client, rep, sandbox, provider):
    client.force_login(rep)
    connect(client, provider, "rep@acme.test")
    channel = DeliveryChannel.objects.get(owner=rep)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM channels_app_deliverychannel WHERE id = %s",
            [channel.pk],
        )
        raw_access, raw_refresh = cursor.fetchone()
    assert channel.access_token not in raw_access
    assert channel.refresh_token not in raw_refresh
    assert SocialToken.objects.count() == 0
    account = SocialAccount.objects.get(user=rep, provider=provider)
    dumped = str(account.extra_data)
    assert channel.access_token not in dumped and channel.refresh_token not in dumped


def test_the_provider_accepts_the_stored_gmail_token(client, rep, sandbox):
    client.force_login(rep)
    connect(client, "google", "rep@acme.test")
    channel = DeliveryChannel.objects.get(owner=rep)
    from django.conf import settings

    profile = requests.get(
        f"{settings.MAILROOM_GMAIL_API_URL}/gmail/v1/users/me/profile",
        headers={"Authorization": f"Bearer {channel_access_token(channel=channel)}"},
        timeout=10,
    )
    assert profile.status_code == 200
    assert profile.json()["emailAddress"] == "rep@acme.test"


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_an_expiring_token_is_refreshed_and_a_rotated_refresh_token_kept(
    client, rep, sandbox, provider
):
    client.force_login(rep)
    connect(client, provider, "rep@acme.test")
    channel = DeliveryChannel.objects.get(owner=rep)
    old_access, old_refresh = channel.access_token, channel.refresh_token
    channel.token_expires_at = timezone.now() + timedelta(minutes=1)
    channel.save(update_fields=["token_expires_at"])

    token = channel_access_token(channel=channel)

    channel.refresh_from_db()
    assert token == channel.access_token != old_access
    assert channel.token_expires_at > timezone.now() + timedelta(minutes=30)
    if provider == "microsoft":
        # Microsoft rotates refresh tokens; the new one is stored and works.
        assert channel.refresh_token != old_refresh
    assert channel_access_token(channel=channel, force_refresh=True) != token


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_a_revoked_grant_needs_reconnect_with_a_banner_and_a_feed_event(
    client, rep, sandbox, provider
):
    client.force_login(rep)
    connect(client, provider, "rep@acme.test")
    channel = DeliveryChannel.objects.get(owner=rep)
    sandbox.client.revoke(provider, "rep@acme.test")

    with pytest.raises(ReconnectRequired):
        channel_access_token(channel=channel, force_refresh=True)

    channel.refresh_from_db()
    assert channel.status == Status.NEEDS_RECONNECT
    assert "invalid_grant" in channel.last_error or "revoked" in channel.last_error.lower()
    reconnect_url = reverse("channel_reconnect", args=[channel.pk])
    event = FeedEvent.objects.get(user=rep, kind="channel_needs_reconnect")
    assert reconnect_url in event.detail
    # Every page shows the banner with a Reconnect button.
    outbox = client.get(reverse("outbox"))
    assert "needs reconnecting" in outbox.content.decode()
    assert reconnect_url in outbox.content.decode()
    # Reconnecting through the same consent flow brings the same channel back.
    assert client.get(reconnect_url).status_code == 200
    connect(client, provider, "rep@acme.test")
    channel.refresh_from_db()
    assert channel.status == Status.CONNECTED and channel.last_error == ""
    assert channel_access_token(channel=channel, force_refresh=True)
    assert "needs reconnecting" not in client.get(reverse("outbox")).content.decode()


def test_a_mailbox_connected_by_another_user_is_refused(client, rep, org, sandbox):
    client.force_login(rep)
    connect(client, "google", "shared@acme.test")
    colleague = UserFactory(organization=org, email="rep2@acme.test")
    client.force_login(colleague)

    page = connect(client, "google", "shared@acme.test")

    assert "already connected by another Mailroom user" in " ".join(messages_of(page))
    assert not DeliveryChannel.objects.filter(owner=colleague).exists()
    assert DeliveryChannel.objects.get(owner=rep).status == Status.CONNECTED


def test_declining_consent_connects_nothing_and_says_so(client, rep, sandbox):
    client.force_login(rep)
    page = connect(client, "microsoft", "rep@acme.test", decision="deny")
    assert "declined" in " ".join(messages_of(page))
    assert not DeliveryChannel.objects.filter(owner=rep).exists()


def test_signing_in_with_google_never_creates_a_user_or_logs_in(client, rep, sandbox):
    client.force_login(rep)
    connect(client, "google", "rep@acme.test")
    client.logout()
    users_before = User.objects.count()

    start = client.post("/accounts/google/login/?process=login")
    authorize_url = start["Location"]
    answer = requests.post(
        authorize_url,
        data={"sandbox_decision": "allow", "sandbox_email": "rep@acme.test"},
        allow_redirects=False,
        timeout=10,
    )
    callback = urlsplit(answer.headers["Location"])
    page = client.get(f"{callback.path}?{callback.query}", follow=True)

    assert "_auth_user_id" not in client.session
    assert User.objects.count() == users_before
    assert page.redirect_chain[-1][0].startswith(reverse("account_login"))
    assert "not a way to sign in" in " ".join(messages_of(page))


def test_disconnect_then_connect_again(client, rep, sandbox):
    client.force_login(rep)
    connect(client, "google", "rep@acme.test")
    channel = DeliveryChannel.objects.get(owner=rep)

    client.post(reverse("channel_disconnect", args=[channel.pk]))

    channel.refresh_from_db()
    assert channel.status == Status.DISCONNECTED and not channel.refresh_token
    assert not SocialAccount.objects.filter(user=rep).exists()
    assert channel_for_user(user=rep) is None
    connect(client, "google", "rep@acme.test")
    live = DeliveryChannel.objects.exclude(status=Status.DISCONNECTED).get(owner=rep)
    assert live.pk != channel.pk and live.status == Status.CONNECTED


@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_at_once_refresh_once_and_keep_the_rotated_token(sandbox):
    from tests.factories import OrganizationFactory

    rep = UserFactory(organization=OrganizationFactory(slug="acme"), email="rep@acme.test")
    from django.test import Client

    web = Client()
    web.force_login(rep)
    connect(web, "microsoft", "rep@acme.test")
    DeliveryChannel.objects.filter(owner=rep).update(
        token_expires_at=timezone.now() - timedelta(minutes=1)
    )
    sandbox.client.reset_calls("microsoft", "rep@acme.test")
    tokens, errors = [], []
    barrier = threading.Barrier(2)

    def worker():
        try:
            channel = DeliveryChannel.objects.get(owner=rep)
            barrier.wait()
            tokens.append(channel_access_token(channel=channel))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert len(set(tokens)) == 1
    assert sandbox.client.calls("microsoft", "rep@acme.test").get("oauth.token") == 1
    channel = DeliveryChannel.objects.get(owner=rep)
    assert channel_access_token(channel=channel, force_refresh=True)


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_reconnect_asks_the_provider_for_the_same_mailbox(client, rep, sandbox, provider):
    import html
    import re

    client.force_login(rep)
    connect(client, provider, "rep@acme.test")
    channel = DeliveryChannel.objects.get(owner=rep)
    page = client.get(reverse("channel_reconnect", args=[channel.pk])).content.decode()
    action = html.unescape(
        re.search(rf'action="(/accounts/{provider}/login/[^"]+)"', page).group(1)
    )

    start = client.post(action)

    assert "login_hint=rep%40acme.test" in start["Location"]
