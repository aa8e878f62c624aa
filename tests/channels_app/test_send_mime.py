"""The message Mailroom puts on the wire is RFC-clean for any input: it parses under
email.policy.strict, no line passes 998 octets, encoded words stay within 75 characters, an
internationalized domain is in IDNA form (never an encoded word), and a mail reader decodes
subject, sender and body as the rep wrote them."""

import email
import re
from datetime import UTC, datetime
from email import policy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels_app.sending.mime import (
    AddressNotDeliverable,
    address_needs_smtputf8,
    address_wire,
    email_mime_raw,
)
from outreach.email_token import email_header_token
from outreach.models import OutboundEmail

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")

CASES = [
    ("Quick question", "Hi,\n\nDoes your team still hire?\n\nRep\n", "Rep Smith"),
    ("Grüße aus Köln — eine Frage", "Hallo Jörg,\r\nwie geht's?", "Jürgen Müller"),
    ("Re: " + "a very long subject line " * 8, "line one\rline two\n.dot line\n", "Smith, Jr."),
    ("  spaced   subject\twith tab ", "", ""),
    ("émoji 🚀 " * 12, "body 🚀\n" * 40, "Ann 🚀"),
    ('quotes "and" <angles> =?not-encoded?=', "x" * 1200, 'The "Boss"'),
    ("ü" * 200, "A paragraph. " * 120, "Ünïcødé " * 20),
    ("x" * 1500, "y" * 3000 + "\n", "z" * 1200),
    # Found by the property test: the rest after a space had no room for the next character.
    ("", "", "000" + "¡" * 21 + " 0000" + "¡" * 21),
]


def _raw(subject, body, name, to="ana@customer.test", from_address="rep@acme.test"):
    outbound = OutboundEmail(
        pk=123456, to_address=to, subject=subject, body=body, message_id="<mr.abc@acme.test>"
    )
    return email_mime_raw(email=outbound, from_address=from_address, from_name=name, now=NOW)


def _check_clean(raw: bytes, *, subject: str, body: str, name: str, to: str, sender: str):
    lines = raw.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert all(len(word) <= 75 for word in ENCODED_WORD.findall(head))
    parsed = email.message_from_bytes(raw, policy=policy.strict)  # raises on any defect
    assert not parsed.defects
    assert " ".join(parsed["Subject"].split()) == " ".join(subject.split())
    [sender_box] = parsed["From"].addresses
    assert sender_box.addr_spec == address_wire(sender)
    if name.strip():
        # Python's phrase parser keeps the folding space between encoded words (RFC 2047 6.2
        # says drop it), so spaces are compared loosely here; the characters exactly.
        assert "".join(sender_box.display_name.split()) == "".join(name.split())
    [to_box] = parsed["To"].addresses
    assert to_box.addr_spec == address_wire(to)
    assert b"=?" not in b"".join(line for line in lines if line.startswith(b"To:"))
    assert parsed["Message-ID"] == "<mr.abc@acme.test>"
    assert parsed["X-Mailroom-Email-Id"] == email_header_token(email_id=123456)
    text = parsed.get_content()
    assert text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n") == (
        body.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    )


@pytest.mark.parametrize(("subject", "body", "name"), CASES)
def test_wire_bytes_are_rfc_clean_and_read_back_as_written(subject, body, name):
    raw = _raw(subject, body, name)

    _check_clean(
        raw, subject=subject, body=body, name=name, to="ana@customer.test", sender="rep@acme.test"
    )


def test_a_long_paragraph_goes_quoted_printable_not_as_one_1500_octet_line():
    paragraph = "This is one long paragraph without a line break. " * 30  # ~1,500 chars

    raw = _raw("Hi", paragraph, "")

    assert b"Content-Transfer-Encoding: quoted-printable" in raw
    assert max(len(line) for line in raw.split(b"\r\n")) <= 76


def test_a_short_ascii_body_stays_7bit():
    raw = _raw("Hi", "Hello there\n", "")

    assert b"Content-Transfer-Encoding: 7bit" in raw
    assert raw.endswith(b"\r\n\r\nHello there\r\n")


def test_an_internationalized_domain_goes_out_in_idna_form_never_as_an_encoded_word():
    raw = _raw("Hi", "Hello", "", to="ann@bücher.de")

    assert b"To: ann@xn--bcher-kva.de\r\n" in raw
    assert address_wire("ann@bücher.de") == "ann@xn--bcher-kva.de"
    assert address_wire("Ann@Faß.de") == "Ann@xn--fa-hia.de"  # IDNA 2008: ß kept, not "ss"


def test_an_address_whose_domain_has_no_idna_form_is_refused_with_a_reason():
    with pytest.raises(AddressNotDeliverable, match="not a valid internationalized domain"):
        address_wire("ann@bü\u200dcher.de")


def test_only_a_non_ascii_local_part_needs_smtputf8():
    assert address_needs_smtputf8("jörg@example.de")
    assert not address_needs_smtputf8("ann@bücher.de")


_DOMAINS = st.sampled_from(
    ["customer.test", "bücher.de", "münchen.example", "例え.jp", "xn--bcher-kva.de", "a.b.c.test"]
)
_LOCAL = st.from_regex(r"\A[a-z0-9][a-z0-9.+_-]{0,20}[a-z0-9]\Z").filter(lambda s: ".." not in s)
_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029\x85"),
    max_size=400,
)
_BODY = st.text(
    st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="\x00\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e",
    ),
    max_size=3000,
) | st.builds(
    lambda word, n: (word + " ") * n,
    st.text(min_size=1, max_size=30).filter(str.isascii),
    st.integers(0, 200),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=_TEXT, body=_BODY, name=_TEXT, local=_LOCAL, domain=_DOMAINS, sender_domain=_DOMAINS)
def test_property_any_subject_name_body_and_address_makes_an_rfc_clean_message(
    subject, body, name, local, domain, sender_domain
):
    to, sender = f"{local}@{domain}", f"rep@{sender_domain}"
    raw = _raw(subject, body, name, to=to, from_address=sender)

    _check_clean(raw, subject=subject, body=body, name=name, to=to, sender=sender)
