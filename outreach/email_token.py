"""The value of the X-Mailroom-Email-Id header on every email Mailroom sends: the email's id
signed with the project's secret key (django.core.signing, HMAC-SHA256, its own salt), so a
forged bounce cannot name an arbitrary email by guessing a sequential number.

Headers on mail sent before the signature, a bare id, are still read (`signed` False); the
bounce correlation accepts those only for an email sent from the mailbox the bounce came to."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core import signing

_SALT = "mailroom.outreach.x-mailroom-email-id"
_LEGACY = re.compile(r"\s*(\d{1,18})\s*")


@dataclass(frozen=True)
class EmailHeaderId:
    email_id: int
    signed: bool


def email_header_token(*, email_id: int) -> str:
    """'123:<signature>' — what the X-Mailroom-Email-Id header carries."""
    return signing.Signer(salt=_SALT).sign(str(email_id))


def email_header_id(*, value: str | None) -> EmailHeaderId | None:
    """The email an X-Mailroom-Email-Id value names: signed (verified), or a bare legacy id;
    None for anything else, a bad signature included."""
    text = (value or "").strip()
    if not text:
        return None
    legacy = _LEGACY.fullmatch(text)
    if legacy:
        return EmailHeaderId(email_id=int(legacy.group(1)), signed=False)
    try:
        unsigned = signing.Signer(salt=_SALT).unsign(text)
    except signing.BadSignature:
        return None
    return EmailHeaderId(email_id=int(unsigned), signed=True) if unsigned.isdigit() else None
