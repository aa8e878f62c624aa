"""The limits on what a person (compose) or a plug-in (the API) may queue, and the checks that
apply them, shared so both refuse the same input with the same words.

Each check returns the problem as a sentence to show next to the field, or "" when the value
is fine; it never raises, so a caller can collect every problem of a request at once. The
sentences are in the request's language (they are shown at once, never stored)."""

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

# RFC 5322's line limit; a longer subject cannot be written as one header line anyway.
MAX_SUBJECT_CHARS = 998
# A sales email is a few kilobytes; 100,000 characters is a long letter with room to spare,
# and keeps one request's merge-field check and MIME build small.
MAX_BODY_CHARS = 100_000
# How far ahead an email may be scheduled. Also keeps every time arithmetic on it (time zones,
# back-off) far from the year 9999 where Python's datetime ends.
SEND_AT_HORIZON = timedelta(days=2 * 365)
SEND_AT_TOO_FAR = gettext_lazy(
    "Mail can be scheduled at most 2 years ahead: pick a time within the next 2 years."
)


def _text_problem(value: str, *, limit: int, nul: str, too_long: str) -> str:
    """NUL bytes (which no mail or database text may hold) or more than `limit` characters."""
    if "\x00" in value:
        return nul
    if len(value) > limit:
        return too_long % {"length": f"{len(value):,}", "limit": f"{limit:,}"}
    return ""


def subject_problem(value: str) -> str:
    return _text_problem(
        value,
        limit=MAX_SUBJECT_CHARS,
        nul=gettext("The subject contains a NUL character (\\x00): remove it."),
        too_long=gettext(
            "The subject is %(length)s characters long; the limit is %(limit)s characters."
        ),
    )


def body_problem(value: str) -> str:
    return _text_problem(
        value,
        limit=MAX_BODY_CHARS,
        nul=gettext("The body contains a NUL character (\\x00): remove it."),
        too_long=gettext(
            "The body is %(length)s characters long; the limit is %(limit)s characters."
        ),
    )


# Compose: a rep scheduling one email means this year, not a date two years out (a typo for
# 2027 as 2072 is refused rather than kept waiting).
COMPOSE_HORIZON = timedelta(days=365)
COMPOSE_TOO_FAR = gettext_lazy(
    "An email can be scheduled at most a year ahead in Compose: pick a time within the next "
    "12 months."
)


def compose_send_at_problem(send_at: datetime) -> str:
    """A Compose "Send at" more than a year ahead (an aware datetime)."""
    if send_at - timezone.now() > COMPOSE_HORIZON:
        return str(COMPOSE_TOO_FAR)
    return ""


def send_at_problem(send_at: datetime) -> str:
    """A scheduled time too far ahead (an aware datetime)."""
    if send_at - timezone.now() > SEND_AT_HORIZON:
        return str(SEND_AT_TOO_FAR)
    return ""
