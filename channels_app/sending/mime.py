"""The MIME message Mailroom sends: one text/plain part, Mailroom's stored Message-ID and the
X-Mailroom-Email-Id header, so bounces and replies can be tied back to the email.

`email_mime_raw` is the send path: it writes the wire bytes directly, byte for byte what the
compat32 email API (`email_mime_build` + `email_mime_bytes`, kept as the reference) produces,
at a small fraction of the CPU. Header values that need folding or RFC 2047 encoding (long or
non-ASCII subjects, display names) go through compat32's own folding, so encodings stay
exactly as before; the common short ASCII header is written as is. A UTF-8 body is base64
(76-character lines), an ASCII body 7bit, line ends CRLF. The compat32 API itself, not the
modern EmailMessage policy: that one re-parses every header it is given."""

import base64
import re
import uuid
from datetime import datetime
from email.header import Header
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr
from functools import lru_cache

from outreach.email_token import email_header_token
from outreach.models import OutboundEmail

MAILROOM_ID_HEADER = "X-Mailroom-Email-Id"
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's List-Unsubscribe-Post value
WIRE_POLICY = compat32.clone(linesep="\r\n")
MAX_LINE = 78  # compat32's max_line_length: shorter header lines are never folded

_ASCII_HEAD = (
    b'Content-Type: text/plain; charset="us-ascii"\r\nMIME-Version: 1.0\r\n'
    b"Content-Transfer-Encoding: 7bit\r\n"
)
_UTF8_HEAD = (
    b'Content-Type: text/plain; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
)
# What compat32 writes unchanged: printable ASCII, single spaces between words, no edge spaces.
_PLAIN_VALUE = re.compile(r"[!-~]+(?: [!-~]+)*\Z")
_NEWLINES = re.compile(r"\r\n|\r|\n")


def message_id_new(*, sender_address: str) -> str:
    """A globally unique Message-ID on the sender's domain (RFC 5322 msg-id)."""
    domain = sender_address.rpartition("@")[2] or "mailroom.invalid"
    return f"<mr.{uuid.uuid4().hex}@{domain}>"


def _header(value: str) -> str | Header:
    # Header values never carry line breaks (a merge value must not inject headers).
    value = " ".join(value.splitlines())
    return value if value.isascii() else Header(value, "utf-8")


def _from_value(from_name: str, from_address: str) -> str:
    return formataddr((from_name, from_address), "utf-8") if from_name else from_address


def email_mime_build(
    *,
    email: OutboundEmail,
    from_address: str,
    from_name: str,
    now: datetime,
    unsubscribe_url: str = "",
) -> MIMEText:
    """The message as an email.message object (the reference for `email_mime_raw`)."""
    body = email.body if email.body.endswith("\n") else email.body + "\n"
    message = MIMEText(body, "plain", "us-ascii" if body.isascii() else "utf-8")
    message["From"] = _from_value(from_name, from_address)
    message["To"] = email.to_address
    message["Subject"] = _header(email.subject)  # type: ignore[assignment]  # a Header is accepted
    message["Date"] = format_datetime(now)
    message["Message-ID"] = email.message_id or ""
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = ONE_CLICK
    message[MAILROOM_ID_HEADER] = email_header_token(email_id=email.pk)
    return message


def email_mime_bytes(message: MIMEText) -> bytes:
    return message.as_bytes(policy=WIRE_POLICY)


def _header_line(name: str, value: str | Header) -> bytes:
    if (
        isinstance(value, str)
        and len(name) + 2 + len(value) <= MAX_LINE
        and _PLAIN_VALUE.match(value)
    ):
        return f"{name}: {value}\r\n".encode("ascii")
    return WIRE_POLICY.fold_binary(name, value)  # type: ignore[arg-type]  # a Header folds too


@lru_cache(maxsize=256)
def _from_line(from_name: str, from_address: str) -> bytes:
    # One per sender identity: cached (the display name may need RFC 2047 encoding).
    return _header_line("From", _from_value(from_name, from_address))


def _unsubscribe_lines(url: str) -> bytes:
    if not url:
        return b""
    # One line even past 78 characters: a URL has no whitespace to fold at (and compat32 would
    # move it alone onto a continuation line). Signed links are ASCII, well under 998.
    return (
        b"List-Unsubscribe: <" + url.encode("ascii") + b">\r\n"
        b"List-Unsubscribe-Post: " + ONE_CLICK.encode("ascii") + b"\r\n"
    )


def email_mime_raw(
    *,
    email: OutboundEmail,
    from_address: str,
    from_name: str,
    now: datetime,
    unsubscribe_url: str = "",
) -> bytes:
    """The wire bytes (CRLF line ends) of the message Mailroom sends for `email`; with an
    `unsubscribe_url`, the RFC 8058 one-click unsubscribe headers."""
    body = email.body if email.body.endswith("\n") else email.body + "\n"
    if body.isascii():
        head = _ASCII_HEAD
        payload = _NEWLINES.sub("\r\n", body).encode("ascii")
    else:
        head = _UTF8_HEAD
        payload = base64.encodebytes(body.encode("utf-8")).replace(b"\n", b"\r\n")
    return b"".join(
        (
            head,
            _from_line(from_name, from_address),
            _header_line("To", email.to_address),
            _header_line("Subject", _header(email.subject)),
            b"Date: " + format_datetime(now).encode("ascii") + b"\r\n",
            _header_line("Message-ID", email.message_id or ""),
            _unsubscribe_lines(unsubscribe_url),
            b"X-Mailroom-Email-Id: "
            + email_header_token(email_id=email.pk).encode("ascii")
            + b"\r\n\r\n",
            payload,
        )
    )
