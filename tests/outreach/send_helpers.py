"""Helpers for the send pipeline tests: channels wired to the local sandbox."""

from __future__ import annotations

import email
from datetime import timedelta
from email.message import Message

from django.conf import settings
from django.utils import timezone

from channels_app.models import ChannelChoice, DeliveryChannel
from channels_app.sending.services import DrainResult, channel_drain

GMAIL_SCOPES = [
    "openid",
    "email",
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
]
GRAPH_SCOPES = ["openid", "offline_access", "User.Read", "Mail.Send", "Mail.Read"]


def choose(user, channel: DeliveryChannel) -> DeliveryChannel:
    ChannelChoice.objects.update_or_create(user=user, defaults={"channel": channel})
    return channel


def smtp_channel(
    sandbox,
    *,
    owner=None,
    organization=None,
    username="mailroom",
    password="sandbox",  # noqa: S107 - the sandbox's own login
    **extra,
):
    channel = DeliveryChannel.objects.create(
        organization=organization or owner.organization,
        owner=owner,
        kind=DeliveryChannel.Kind.CUSTOM_SMTP,
        host=sandbox.smtp_host,
        port=sandbox.smtp_port,
        security=DeliveryChannel.Security.STARTTLS,
        username=username,
        password=password,
        **extra,
    )
    if owner is not None:
        choose(owner, channel)
    return channel


def oauth_grant(sandbox, *, kind: str, address: str) -> dict:
    """Access and refresh tokens for Mailroom's own client, as the consent flow gives them."""
    if kind == DeliveryChannel.Kind.GMAIL:
        return sandbox.client.grant(
            "google", address, client_id=settings.MAILROOM_GOOGLE_CLIENT_ID, scopes=GMAIL_SCOPES
        )
    return sandbox.client.grant(
        "microsoft", address, client_id=settings.MAILROOM_MICROSOFT_CLIENT_ID, scopes=GRAPH_SCOPES
    )


def oauth_channel(sandbox, *, owner, kind: str, address: str | None = None, **extra):
    """A Gmail or Exchange Online channel holding a real, unexpired token pair obtained from
    the sandbox's identity provider for Mailroom's own client id."""
    address = address or owner.email
    grant = oauth_grant(sandbox, kind=kind, address=address)
    scopes = GMAIL_SCOPES if kind == DeliveryChannel.Kind.GMAIL else GRAPH_SCOPES
    channel = DeliveryChannel.objects.create(
        organization=owner.organization,
        owner=owner,
        kind=kind,
        mailbox_address=address,
        access_token=grant["access_token"],
        refresh_token=grant["refresh_token"],
        token_expires_at=timezone.now() + timedelta(seconds=3000),
        scopes=" ".join(scopes),
        **extra,
    )
    return choose(owner, channel)


def drain(channel: DeliveryChannel) -> DrainResult:
    return channel_drain(channel_id=channel.pk)


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw)


def smtp_received(sandbox) -> list[Message]:
    return [parse(m["raw_bytes"]) for m in sandbox.client.smtp_messages()]


def mailbox_sent(sandbox, provider: str, address: str) -> list[Message]:
    return [parse(m["raw_bytes"]) for m in sandbox.client.sent(provider, address)]
