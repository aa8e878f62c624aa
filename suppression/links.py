"""Signed one-click unsubscribe links (RFC 8058).

A link carries the organization, the address and the email it came in, signed with the
project's secret and a purpose salt (django.core.signing): it cannot be forged, and its token
says nothing that lets anyone guess another recipient's link. The signature's timestamp tells a
replay apart: a link used once, whose suppression an admin lifted since, does nothing again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "mailroom.unsubscribe.v1"


@dataclass(frozen=True)
class UnsubscribeLink:
    organization_id: int
    address: str
    email_id: int | None
    issued_at: datetime


def unsubscribe_token(*, organization_id: int, address: str, email_id: int | None = None) -> str:
    payload = {"o": organization_id, "a": address.strip().lower(), "e": email_id}
    return signing.TimestampSigner(salt=SALT).sign_object(payload, compress=True)


def unsubscribe_url(*, organization_id: int, address: str, email_id: int | None = None) -> str:
    """The absolute https link (MAILROOM_PUBLIC_URL) for the header and the merge field."""
    token = unsubscribe_token(organization_id=organization_id, address=address, email_id=email_id)
    return settings.MAILROOM_PUBLIC_URL.rstrip("/") + reverse("unsubscribe", args=[token])


def unsubscribe_link_read(*, token: str) -> UnsubscribeLink | None:
    """The link's contents, or None when it was not made by Mailroom (forged, altered)."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        payload = signer.unsign_object(token)
        timestamp = signing.b62_decode(token.split(signer.sep)[-2])
    except (signing.BadSignature, ValueError, IndexError, TypeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("o"), int):
        return None
    email_id = payload.get("e")
    return UnsubscribeLink(
        organization_id=payload["o"],
        address=str(payload.get("a", "")),
        email_id=email_id if isinstance(email_id, int) else None,
        issued_at=datetime.fromtimestamp(timestamp, tz=UTC),
    )
