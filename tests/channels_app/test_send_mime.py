"""The message Mailroom puts on the wire: the fast writer gives exactly what the email package
(compat32) gives, and a mail reader decodes subject, sender and body as the rep wrote them."""

import email
from datetime import UTC, datetime
from email import policy

import pytest

from channels_app.sending.mime import email_mime_build, email_mime_bytes, email_mime_raw
from outreach.email_token import email_header_token
from outreach.models import OutboundEmail

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)

CASES = [
    ("Quick question", "Hi,\n\nDoes your team still hire?\n\nRep\n", "Rep Smith"),
    ("Grüße aus Köln — eine Frage", "Hallo Jörg,\r\nwie geht's?", "Jürgen Müller"),
    ("Re: " + "a very long subject line " * 8, "line one\rline two\n.dot line\n", "Smith, Jr."),
    ("  spaced   subject\twith tab ", "", ""),
    ("émoji 🚀 " * 12, "body 🚀\n" * 40, "Ann 🚀"),
    ('quotes "and" <angles> =?not-encoded?=', "x" * 1200, 'The "Boss"'),
]


@pytest.mark.parametrize(("subject", "body", "name"), CASES)
def test_wire_bytes_match_the_email_package(subject, body, name):
    outbound = OutboundEmail(
        pk=123456, to_address="ana@customer.test", subject=subject, body=body,
        message_id="<mr.abc@acme.test>",
    )  # fmt: skip
    reference = email_mime_bytes(
        email_mime_build(email=outbound, from_address="rep@acme.test", from_name=name, now=NOW)
    )

    raw = email_mime_raw(email=outbound, from_address="rep@acme.test", from_name=name, now=NOW)

    assert raw == reference
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"].strip() == " ".join(subject.splitlines()).strip()
    assert parsed["From"].addresses[0].addr_spec == "rep@acme.test"
    if name:
        assert parsed["From"].addresses[0].display_name == name
    assert parsed["Message-ID"] == "<mr.abc@acme.test>"
    assert parsed["X-Mailroom-Email-Id"] == email_header_token(email_id=123456)
    text = parsed.get_content()
    assert text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n") == (
        body.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    )
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
