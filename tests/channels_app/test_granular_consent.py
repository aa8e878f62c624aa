"""Granular consent (issue 11, item 2), through the real OAuth flow against the sandbox: the
rep unticks a scope on the consent page, the token response names only the scopes granted,
Mailroom stores those, tells the rep what is missing and polls or sends only what the grant
allows; a provider's 403 for a missing scope at send or poll puts the mailbox in
needs-reconnect with the reason."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from bounces.polling import channel_ids_due, channel_poll
from channels_app.models import DeliveryChannel
from outreach.models import OutboundEmail
from outreach.services import email_enqueue
from tests.outreach.send_helpers import choose, drain, mailbox_sent

Kind = DeliveryChannel.Kind
Status = DeliveryChannel.Status
KIND = {"google": Kind.GMAIL, "microsoft": Kind.EXCHANGE_ONLINE}
LABEL = {"google": "Gmail", "microsoft": "Outlook"}
READ_SCOPE = {"google": "https://www.googleapis.com/auth/gmail.readonly", "microsoft": "Mail.Read"}
SEND_SCOPE = {"google": "https://www.googleapis.com/auth/gmail.send", "microsoft": "Mail.Send"}


def connect_unticking(client, provider: str, email: str, *, untick: set[str]):
    """Click Connect, untick `untick` on the sandbox's consent page, Allow, follow back."""
    start = client.post(f"/accounts/{provider}/login/?process=connect")
    authorize_url = start["Location"]
    consent = requests.get(authorize_url, timeout=10)
    offered = re.findall(r'name="sandbox_scope" value="([^"]+)" checked', consent.text)
    assert untick <= set(offered), offered
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', consent.text))
    form.update(sandbox_decision="allow", sandbox_email=email)
    form["sandbox_scope"] = [s for s in offered if s not in untick]
    answer = requests.post(authorize_url, data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}", follow=True)


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_unticked_read_access_connects_for_sending_and_says_bounce_tracking_is_off(
    client, rep, sandbox, provider
):
    client.force_login(rep)
    page = connect_unticking(client, provider, rep.email, untick={READ_SCOPE[provider]})

    assert (
        f"{LABEL[provider]} connected: {rep.email}. Sending works; bounce tracking needs read "
        "access — Reconnect and allow" in messages_of(page)
    )
    channel = DeliveryChannel.objects.get(owner=rep, kind=KIND[provider])
    assert channel.status == Status.CONNECTED
    assert not channel.can_read_inbox
    assert READ_SCOPE[provider].lower() not in channel.scopes.lower()
    assert SEND_SCOPE[provider].lower() in channel.scopes.lower()
    html = page.content.decode()
    assert "bounce tracking needs read access" in html
    # Not polled (a poll could only fail with 403), but sending works.
    assert channel.pk not in list(channel_ids_due())
    assert channel_poll(channel_id=channel.pk, ignore_backoff=True).outcome == "not_polled"
    email = email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hi")
    drain(channel)
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    provider_name = "google" if provider == "google" else "microsoft"
    assert len(mailbox_sent(sandbox, provider_name, rep.email)) == 1


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_reconnecting_with_read_access_turns_bounce_tracking_on(client, rep, sandbox, provider):
    client.force_login(rep)
    connect_unticking(client, provider, rep.email, untick={READ_SCOPE[provider]})

    page = connect_unticking(client, provider, rep.email, untick=set())

    assert f"{LABEL[provider]} connected: {rep.email}." in messages_of(page)
    channel = DeliveryChannel.objects.get(owner=rep, kind=KIND[provider])
    assert channel.can_read_inbox and channel.supports_bounce_tracking
    assert channel.pk in list(channel_ids_due())
    assert channel_poll(channel_id=channel.pk, ignore_backoff=True).outcome == "ok"


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_unticked_send_access_is_refused_with_what_to_allow(client, rep, sandbox, provider):
    client.force_login(rep)
    page = connect_unticking(client, provider, rep.email, untick={SEND_SCOPE[provider]})

    text = messages_of(page)
    assert f"{LABEL[provider]} was not connected: Mailroom needs permission to send email" in text
    assert "leave “Send" in text
    assert page.redirect_chain[-1][0] == reverse("email_settings")
    assert not DeliveryChannel.objects.filter(owner=rep).exists()


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_the_sandbox_token_response_names_only_the_granted_scopes(client, rep, sandbox, provider):
    """What Mailroom stores is what the provider answered, not what it asked for."""
    client.force_login(rep)
    connect_unticking(client, provider, rep.email, untick={READ_SCOPE[provider]})
    channel = DeliveryChannel.objects.get(owner=rep, kind=KIND[provider])

    base = settings.MAILROOM_GMAIL_API_URL if provider == "google" else settings.MAILROOM_GRAPH_URL
    path = (
        "/gmail/v1/users/me/history?startHistoryId=1"
        if provider == "google"
        else ("/v1.0/me/mailFolders/inbox/messages/delta")
    )
    answer = requests.get(
        base + path, headers={"Authorization": f"Bearer {channel.access_token}"}, timeout=10
    )
    assert answer.status_code == 403
    error = answer.json()["error"]
    if provider == "google":
        assert error["errors"][0]["reason"] == "insufficientPermissions"
    else:
        assert error["code"] == "ErrorAccessDenied"


def _channel_with_grant(sandbox, rep, provider: str, scopes: list[str], claimed: list[str]):
    """A mailbox whose stored scopes say `claimed` while the provider's grant holds only
    `scopes` (an admin restricted the app's access after the rep connected)."""
    client_id = (
        settings.MAILROOM_GOOGLE_CLIENT_ID
        if provider == "google"
        else settings.MAILROOM_MICROSOFT_CLIENT_ID
    )
    grant = sandbox.client.grant(provider, rep.email, client_id=client_id, scopes=scopes)
    channel = DeliveryChannel.objects.create(
        organization=rep.organization,
        owner=rep,
        kind=KIND[provider],
        mailbox_address=rep.email,
        access_token=grant["access_token"],
        refresh_token=grant["refresh_token"],
        token_expires_at=timezone.now() + timedelta(seconds=3000),
        scopes=" ".join(claimed),
    )
    return choose(rep, channel)


SIGN_IN = {"google": ["openid", "email"], "microsoft": ["openid", "offline_access", "User.Read"]}


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_a_403_for_a_missing_scope_at_send_asks_for_a_reconnect_and_the_mail_waits(
    rep, sandbox, provider
):
    channel = _channel_with_grant(
        sandbox,
        rep,
        provider,
        scopes=SIGN_IN[provider] + [READ_SCOPE[provider]],
        claimed=SIGN_IN[provider] + [READ_SCOPE[provider], SEND_SCOPE[provider]],
    )
    email = email_enqueue(sender=rep, to_address="ana@customer.test", subject="Hi", body="Hi")

    drain(channel)

    channel.refresh_from_db()
    email.refresh_from_db()
    assert channel.status == Status.NEEDS_RECONNECT
    assert channel.last_error.startswith("Sending needs permission to send email")
    assert "Reconnect the mailbox and allow it" in channel.last_error
    assert email.status == OutboundEmail.Status.QUEUED  # waits for the reconnect, not failed
    assert mailbox_sent(sandbox, provider, rep.email) == []


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_a_403_for_a_missing_scope_at_poll_asks_for_a_reconnect(rep, sandbox, provider):
    channel = _channel_with_grant(
        sandbox,
        rep,
        provider,
        scopes=SIGN_IN[provider] + [SEND_SCOPE[provider]],
        claimed=SIGN_IN[provider] + [READ_SCOPE[provider], SEND_SCOPE[provider]],
    )

    report = channel_poll(channel_id=channel.pk, ignore_backoff=True)

    channel.refresh_from_db()
    assert report.outcome == "reconnect"
    assert channel.status == Status.NEEDS_RECONNECT
    assert channel.last_error.startswith("Sending works; bounce tracking needs read access")
