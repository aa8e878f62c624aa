"""The MIME message Mailroom sends: one text/plain part, Mailroom's stored Message-ID and the
X-Mailroom-Email-Id header, so bounces and replies can be tied back to the email."""

import uuid
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from outreach.models import OutboundEmail

MAILROOM_ID_HEADER = "X-Mailroom-Email-Id"


def message_id_new(*, sender_address: str) -> str:
    """A globally unique Message-ID on the sender's domain (RFC 5322 msg-id)."""
    domain = sender_address.rpartition("@")[2] or "mailroom.invalid"
    return f"<mr.{uuid.uuid4().hex}@{domain}>"


def email_mime_build(
    *, email: OutboundEmail, from_address: str, from_name: str, now: datetime
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((from_name, from_address)) if from_name else from_address
    message["To"] = email.to_address
    # Header values never carry line breaks (a merge value must not inject headers).
    message["Subject"] = " ".join(email.subject.splitlines())
    message["Date"] = format_datetime(now)
    message["Message-ID"] = email.message_id
    message[MAILROOM_ID_HEADER] = str(email.pk)
    message.set_content(email.body)
    return message
