"""The MIME message Mailroom sends: one text/plain part (with an HTML body, multipart/alternative:
the plain text, then the HTML), Mailroom's stored Message-ID and the
X-Mailroom-Email-Id header, so bounces and replies can be tied back to the email.

`email_mime_raw` writes the wire bytes directly (CRLF line ends), RFC-clean for any input:
- no line over 998 octets (RFC 5322 2.1.1): an ASCII body is 7bit while every line fits,
  quoted-printable once one does not; a UTF-8 body is base64 (76-character lines);
- non-ASCII subjects and display names become RFC 2047 encoded words of at most 75
  characters each (UTF-8, "B" encoding), one per folded line, never splitting a character;
- addresses carry their domain in IDNA 2008 form (`ann@bücher.de` -> `ann@xn--bcher-kva.de`),
  in the header and in the envelope; an address is never an encoded word. A non-ASCII local
  part is written as UTF-8 (RFC 6532) and needs a server that offers SMTPUTF8
  (`address_needs_smtputf8`)."""

import base64
import quopri
import re
import uuid
from datetime import datetime
from email.policy import compat32
from email.utils import format_datetime
from functools import lru_cache

from core.addresses import control_character, domain_ascii
from outreach.email_token import email_header_token
from outreach.models import OutboundEmail

MAILROOM_ID_HEADER = "X-Mailroom-Email-Id"
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's List-Unsubscribe-Post value
WIRE_POLICY = compat32.clone(linesep="\r\n")
MAX_LINE = 78  # recommended header line length: shorter lines are never folded
MAX_OCTETS = 998  # RFC 5322: no line longer than this, CRLF excluded
ENCODED_WORD_MAX = 75  # RFC 2047: an encoded word is at most 75 characters
_WORD_PREFIX, _WORD_SUFFIX = "=?utf-8?b?", "?="
# Largest UTF-8 chunk whose base64 fits one encoded word: 75 - 12 = 63 -> 60 chars -> 45 bytes.
_WORD_BYTES = (ENCODED_WORD_MAX - len(_WORD_PREFIX) - len(_WORD_SUFFIX)) // 4 * 3

_ASCII_HEAD = (
    b'Content-Type: text/plain; charset="us-ascii"\r\nMIME-Version: 1.0\r\n'
    b"Content-Transfer-Encoding: 7bit\r\n"
)
_QP_HEAD = (
    b'Content-Type: text/plain; charset="us-ascii"\r\nMIME-Version: 1.0\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n"
)
_UTF8_HEAD = (
    b'Content-Type: text/plain; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
)
# Written unchanged: printable ASCII, single spaces between words, no edge spaces.
_PLAIN_VALUE = re.compile(r"[!-~]+(?: [!-~]+)*\Z")
_NEWLINES = re.compile(r"\r\n|\r|\n")
# A display name that needs no quotes (RFC 5322 atoms and spaces).
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")


class AddressNotDeliverable(ValueError):
    """An address Mailroom cannot put on the wire; the message says why, for the rep."""


def message_id_new(*, sender_address: str) -> str:
    """A globally unique Message-ID on the sender's domain (RFC 5322 msg-id)."""
    try:
        domain = address_wire(sender_address).rpartition("@")[2]
    except AddressNotDeliverable:
        domain = "mailroom.invalid"
    return f"<mr.{uuid.uuid4().hex}@{domain}>"


def address_wire(address: str) -> str:
    """`address` with its domain in IDNA 2008 (A-label) form, as it goes into headers and the
    SMTP envelope. Raises AddressNotDeliverable when the domain has no valid IDNA form."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise AddressNotDeliverable(f"{address!r} is not an email address (local@domain).")
    control = control_character(address)
    if control:
        raise AddressNotDeliverable(
            f"The address {address!r} contains a control character ({control}), which no mail "
            "server accepts."
        )
    try:
        return f"{local}@{domain_ascii(domain)}"
    except ValueError as exc:
        raise AddressNotDeliverable(f"The domain of {address}: {exc}") from exc


def address_needs_smtputf8(address: str) -> bool:
    """True when the part before the @ is not ASCII: only a server offering SMTPUTF8 takes it
    (the domain alone never needs it, IDNA makes it ASCII)."""
    return not address.rpartition("@")[0].isascii()


def _encoded_words(text: str) -> list[str]:
    """`text` as RFC 2047 "B" encoded words of at most 75 characters, whole characters each.
    A word ends after a space where one is near (readers drop the folding whitespace between
    encoded words, so the text's own spaces travel inside them)."""
    chunks: list[bytes] = []
    chunk, last_space = b"", -1
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            cut = last_space if last_space > 0 else len(chunk)
            chunks.append(chunk[:cut])
            chunk = chunk[cut:]
            if len(chunk) + len(encoded) > _WORD_BYTES:  # the rest after the space is full too
                chunks.append(chunk)
                chunk = b""
            last_space = -1
        chunk += encoded
        if char == " ":
            last_space = len(chunk)
    if chunk or not chunks:
        chunks.append(chunk)
    return [_WORD_PREFIX + base64.b64encode(c).decode("ascii") + _WORD_SUFFIX for c in chunks]


def _fold(name: str, tokens: list[str]) -> bytes:
    """`name: token token ...`, a line break before a token that would pass MAX_LINE."""
    lines: list[str] = []
    line = f"{name}:"
    for token in tokens:
        if len(line) + 1 + len(token) > MAX_LINE and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _text_line(name: str, value: str) -> bytes:
    """An unstructured header (Subject): ASCII folded at spaces, encoded words otherwise."""
    value = " ".join(value.splitlines())  # a merge value must not inject headers
    if len(name) + 2 + len(value) <= MAX_LINE and _PLAIN_VALUE.match(value):
        return f"{name}: {value}\r\n".encode("ascii")
    if value.isascii() and all(len(word) < MAX_OCTETS - 2 for word in value.split(" ")):
        folded = WIRE_POLICY.fold_binary(name, value)
        if all(len(line) <= MAX_OCTETS for line in folded.split(b"\r\n")):
            return folded
    return _fold(name, _encoded_words(value))


def _mailbox_line(name: str, display_name: str, address: str) -> bytes:
    """An address header (From, To): the address itself is never encoded."""
    address = address_wire(address)
    display_name = " ".join(display_name.split())
    if not display_name:
        return _fold(name, [address])
    if display_name.isascii() and len(display_name) < 900:
        if not _ATOMS.match(display_name):
            escaped = display_name.replace("\\", "\\\\").replace('"', '\\"')
            display_name = f'"{escaped}"'
        return _fold(name, [display_name, f"<{address}>"])
    return _fold(name, [*_encoded_words(display_name), f"<{address}>"])


@lru_cache(maxsize=256)
def _from_line(from_name: str, from_address: str) -> bytes:
    # One per sender identity: cached (the display name may need RFC 2047 encoding).
    return _mailbox_line("From", from_name, from_address)


def _body(body: str) -> tuple[bytes, bytes]:
    if not body.isascii():
        return _UTF8_HEAD, base64.encodebytes(body.encode("utf-8")).replace(b"\n", b"\r\n")
    payload = _NEWLINES.sub("\r\n", body).encode("ascii")
    if all(len(line) <= MAX_OCTETS for line in payload.split(b"\r\n")):
        return _ASCII_HEAD, payload
    lines = _NEWLINES.sub("\n", body).encode("ascii")
    return _QP_HEAD, quopri.encodestring(lines).replace(b"\n", b"\r\n")


def _alternative(
    text_head: bytes, text_payload: bytes, html: str, message_id: str
) -> tuple[bytes, bytes]:
    """multipart/alternative: the plain text first, then the HTML (RFC 2046 5.1.4: the last
    part is the preferred one). Each part is encoded as a text/plain body would be."""
    html = html if html.endswith("\n") else html + "\n"
    html_head, html_payload = _body(html)
    html_head = html_head.replace(b"text/plain", b"text/html", 1)
    # "=_" never starts a base64 or quoted-printable line, and the rest is the email's own
    # hash: a 7bit part would hold it only by quoting this very email's boundary.
    boundary = b"=_mailroom_" + uuid.uuid5(uuid.NAMESPACE_URL, message_id).hex.encode("ascii")

    def part(head: bytes, payload: bytes) -> bytes:
        return (
            b"--"
            + boundary
            + b"\r\n"
            + head.replace(b"MIME-Version: 1.0\r\n", b"")
            + b"\r\n"
            + payload
        )

    body = b"".join(
        (
            part(text_head, text_payload),
            part(html_head, html_payload),
            b"--" + boundary + b"--\r\n",
        )
    )
    head = (
        b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n'
        b"MIME-Version: 1.0\r\n"
    )
    return head, body


def _message_id_line(message_id: str) -> bytes:
    if not message_id.isascii():  # an id stored before domains were IDNA-encoded
        message_id = "<" + address_wire(message_id.strip("<>")) + ">"
    return f"Message-ID: {message_id}\r\n".encode("ascii")


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
    extra_headers: bytes = b"",
) -> bytes:
    """The wire bytes (CRLF line ends) of the message Mailroom sends for `email`; with an
    `unsubscribe_url`, the RFC 8058 one-click unsubscribe headers; `extra_headers` are whole
    CRLF-terminated header lines (an ESP's metadata header). Raises
    AddressNotDeliverable for a recipient whose domain has no IDNA form."""
    body = email.body if email.body.endswith("\n") else email.body + "\n"
    head, payload = _body(body)
    if email.body_html:
        head, payload = _alternative(head, payload, email.body_html, email.message_id or "")
    return b"".join(
        (
            head,
            _from_line(from_name, from_address),
            _mailbox_line("To", "", email.to_address),
            _text_line("Subject", email.subject),
            b"Date: " + format_datetime(now).encode("ascii") + b"\r\n",
            _message_id_line(email.message_id or ""),
            _unsubscribe_lines(unsubscribe_url),
            extra_headers,
            b"X-Mailroom-Email-Id: "
            + email_header_token(email_id=email.pk).encode("ascii")
            + b"\r\n\r\n",
            payload,
        )
    )
