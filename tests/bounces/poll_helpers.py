"""Helpers for the polling tests: mailboxes connected to the local sandbox, and sending an
email the way the send pipeline does (Mailroom's Message-ID and X-Mailroom-Email-Id header)
through the sandbox's Gmail / Graph send endpoints."""

from __future__ import annotations

import uuid
from datetime import timedelta
from email.message import EmailMessage

from django.conf import settings
from django.utils import timezone

from channels_app.models import DeliveryChannel
from channels_app.providers import facade as providers
from outreach.email_token import email_header_token
from outreach.models import OutboundEmail

GMAIL_SCOPES = [
    "openid",
    "email",
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
]
GRAPH_SCOPES = ["openid", "offline_access", "User.Read", "Mail.Send", "Mail.Read"]
PROVIDER = {DeliveryChannel.Kind.GMAIL: "google", DeliveryChannel.Kind.EXCHANGE_ONLINE: "microsoft"}


def connect(sandbox, *, owner, kind: str, address: str | None = None) -> DeliveryChannel:
    """A Gmail or Exchange Online channel holding a real token pair from the sandbox."""
    address = address or owner.email
    if kind == DeliveryChannel.Kind.GMAIL:
        client_id, scopes = settings.MAILROOM_GOOGLE_CLIENT_ID, GMAIL_SCOPES
    else:
        client_id, scopes = settings.MAILROOM_MICROSOFT_CLIENT_ID, GRAPH_SCOPES
    grant = sandbox.client.grant(PROVIDER[kind], address, client_id=client_id, scopes=scopes)
    return DeliveryChannel.objects.create(
        organization=owner.organization,
        owner=owner,
        kind=kind,
        mailbox_address=address,
        access_token=grant["access_token"],
        refresh_token=grant["refresh_token"],
        token_expires_at=timezone.now() + timedelta(seconds=3000),
        scopes=" ".join(scopes),
    )


def mime_for(email: OutboundEmail, *, from_address: str) -> bytes:
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Message-ID"] = email.message_id
    message["X-Mailroom-Email-Id"] = email_header_token(email_id=email.pk)
    message.set_content(email.body)
    return message.as_bytes()


def send(channel: DeliveryChannel, email: OutboundEmail) -> OutboundEmail:
    """Deliver `email` through the channel's sandbox mailbox and mark it sent."""
    if not email.message_id:
        email.message_id = f"<mr.{uuid.uuid4().hex}@{channel.mailbox_address.split('@')[1]}>"
    email.channel = channel
    email.channel_kind = channel.kind
    email.save()
    raw = mime_for(email, from_address=channel.mailbox_address)
    providers.deliver(
        channel=channel,
        message=providers.OutgoingMessage(
            raw=raw, envelope_from=channel.mailbox_address, recipients=[email.to_address]
        ),
    )
    OutboundEmail.objects.filter(pk=email.pk).update(
        status=OutboundEmail.Status.SENT, sent_at=timezone.now()
    )
    email.refresh_from_db()
    return email


def dsn_for(*, mailbox: str, recipient: str, returned_headers: str, status: str = "5.1.1") -> bytes:
    """A plain RFC 3464 bounce whose returned part holds only `returned_headers`."""
    boundary = "dsn-boundary-1"
    return (
        f"From: Mail Delivery Subsystem <mailer-daemon@mx.example.test>\r\n"
        f"To: {mailbox}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mx.example.test>\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: text/plain\r\n\r\n"
        f"This is the mail system at host mx.example.test.\r\n"
        f"<{recipient}>: host mx.example.test said: 550 {status} User unknown\r\n\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.test\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Action: failed\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} User unknown\r\n\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: text/rfc822-headers\r\n\r\n"
        f"{returned_headers}\r\n"
        f"--{boundary}--\r\n"
    ).encode()
