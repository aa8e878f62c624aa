"""What an email address and a person's name must be before Mailroom queues mail with them.

Every way mail enters the queue (compose, the API, campaign enrollment, prospect forms and
imports, user names in the admin) asks the same questions here, so a poison value is refused
with one clear sentence where a person typed it, instead of failing at send time where nobody
can fix it. The rules come from what can go on the wire:
- no control characters anywhere (RFC 5321's quoted local parts allow only printable ASCII;
  a CR or LF in a header would start a new header, a NUL is refused by every store);
- at most 64 octets before the @ and 254 in all (RFC 5321 4.5.3.1);
- a domain that has an IDNA 2008 form (`bücher.de` -> `xn--bcher-kva.de`; an ASCII label
  starting `xn--` must decode);
- an ASCII local part: a non-ASCII one needs SMTPUTF8 end to end, which Mailroom cannot
  promise, so it is refused with advice.
Each check returns the problem as a sentence, or "" when the value is fine."""

from __future__ import annotations

import re

import idna
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext, gettext_noop

MAX_LOCAL_OCTETS = 64
MAX_ADDRESS_OCTETS = 254

NON_ASCII_LOCAL_PART = gettext_noop(
    "{address} has non-ASCII characters before the @, which only mail servers offering "
    "SMTPUTF8 accept; Mailroom refuses it rather than lose the email on the way. Ask the "
    "recipient for an ASCII address (most such mailboxes have one)."
)

# C0 controls (CR, LF, TAB, VT, NUL …), DEL, C1 controls and the Unicode line separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def control_character(value: str) -> str:
    """The first control character in `value`, escaped for a message (`\\x0b`), or ""."""
    found = _CONTROL.search(value)
    return repr(found.group())[1:-1] if found else ""


def domain_ascii(domain: str) -> str:
    """The domain as it goes on the wire (IDNA 2008 A-labels). Raises ValueError with the
    reason when it has no such form."""
    try:
        if domain.isascii():
            if "xn--" in domain.lower():
                idna.decode(domain)  # a malformed A-label cannot be delivered to
            return domain
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"{domain} is not a valid internationalized domain name ({exc}).") from exc


def address_problem(address: str) -> str:
    """Why `address` cannot be sent to, or ""."""
    shown = address[:100]
    control = control_character(address)
    if control:
        escaped = repr(shown)[1:-1]
        return gettext(
            "The address “%(address)s” contains a control character (%(control)s): remove it."
        ) % {"address": escaped, "control": control}
    address = address.strip()
    local, _, domain = address.rpartition("@")
    if local and domain and not local.isascii():
        return gettext(NON_ASCII_LOCAL_PART).format(address=address)
    try:
        validate_email(address)
    except ValidationError:
        return gettext("“%(address)s” is not an email address.") % {"address": shown}
    if len(local) > MAX_LOCAL_OCTETS:
        return gettext(
            "The part of %(address)s before the @ is %(length)s characters long; mail servers "
            "accept at most %(limit)s."
        ) % {"address": shown, "length": len(local), "limit": MAX_LOCAL_OCTETS}
    try:
        wire_domain = domain_ascii(domain)
    except ValueError as exc:
        return gettext("The domain of %(address)s cannot be written on the wire: %(error)s") % {
            "address": shown,
            "error": exc,
        }
    if len(local) + 1 + len(wire_domain) > MAX_ADDRESS_OCTETS:
        return gettext(
            "%(address)s is longer than the %(limit)s characters mail servers accept."
        ) % {"address": shown, "limit": MAX_ADDRESS_OCTETS}
    return ""


def name_problem(value: str, *, what: str = "name") -> str:
    """A name that goes into a From or To header: no line breaks or control characters."""
    control = control_character(value)
    if control:
        return (
            f"The {what} contains a line break or control character ({control}), which cannot "
            "go into an email's From line: remove it."
        )
    return ""


def validate_sendable_address(value: str) -> None:
    """Django validator for fields holding an address Mailroom sends to."""
    problem = address_problem(value)
    if problem:
        raise ValidationError(problem, code="unsendable_address")


def validate_header_name(value: str) -> None:
    """Django validator for names that go into From / To headers."""
    problem = name_problem(value)
    if problem:
        raise ValidationError(problem, code="control_character")
