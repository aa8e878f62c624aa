"""Gmail API client, send verb: `users.messages.send` with the raw MIME message; and the
look-up of a message already in the mailbox's sent mail by its Message-ID."""

import base64
import re
from datetime import UTC, datetime

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from channels_app.exceptions import QuotaExhausted, TransientProviderError

from .http import (
    DEFAULT_TIMEOUT,
    READ_PERMISSION_MISSING,
    SEND_PERMISSION_MISSING,
    error_reasons,
    http_session,
    raise_for_provider_status,
)

# Gmail says its own sending limit is used up (as opposed to "slow down a little").
QUOTA_REASONS = {"dailyLimitExceeded", "quotaExceeded"}
QUOTA_WORDS = re.compile(r"sending limit|daily user sending|\(Mail sending\)", re.I)
RETRY_AFTER_TIME = re.compile(r"Retry after (\S+)", re.I)


def _resume_time(message: str) -> datetime | None:
    match = RETRY_AFTER_TIME.search(message)
    when = parse_datetime(match.group(1).rstrip(".")) if match else None
    if when is not None and timezone.is_naive(when):
        when = when.replace(tzinfo=UTC)
    return when


def _raise_for_quota(response: requests.Response) -> None:
    if response.status_code not in (403, 429):
        return
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    error = payload.get("error") if isinstance(payload, dict) else None
    message = str(error.get("message", "")) if isinstance(error, dict) else ""
    if error_reasons(response) & QUOTA_REASONS or QUOTA_WORDS.search(message):
        raise QuotaExhausted(
            f"Gmail's sending limit for this mailbox is used up: {message[:200]}",
            resume_at=_resume_time(message),
        )


def send(*, access_token: str, raw_message: bytes) -> str:
    """Send `raw_message` (RFC 5322 bytes) from the token's mailbox; returns Gmail's message id."""
    url = f"{settings.MAILROOM_GMAIL_API_URL}/gmail/v1/users/me/messages/send"
    try:
        response = http_session().post(
            url,
            json={"raw": base64.urlsafe_b64encode(raw_message).decode("ascii")},
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=DEFAULT_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise TransientProviderError(f"Gmail could not be reached: {exc}") from exc
    _raise_for_quota(response)
    raise_for_provider_status(response, provider="Gmail", permission=SEND_PERMISSION_MISSING)
    try:
        return str(response.json().get("id", ""))
    except ValueError:
        return ""


def _call(method: str, path: str, *, access_token: str, **kwargs) -> requests.Response:
    """One Gmail API call on the token's mailbox (`path` after users/me), its errors in the
    project's own exception types."""
    url = f"{settings.MAILROOM_GMAIL_API_URL}/gmail/v1/users/me{path}"
    try:
        response = http_session().request(
            method,
            url,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=DEFAULT_TIMEOUT,
            **kwargs,
        )
    except requests.RequestException as exc:
        raise TransientProviderError(f"Gmail could not be reached: {exc}") from exc
    raise_for_provider_status(response, provider="Gmail", permission=READ_PERMISSION_MISSING)
    return response


def sent_message_id(*, access_token: str, message_id: str) -> str | None:
    """Gmail's id of the message with this Message-ID in the mailbox's sent mail
    (`messages.list`, `q=rfc822msgid:… in:sent`), or None when there is none. Needs read
    access (gmail.readonly: gmail.metadata refuses `q`)."""
    bare = message_id.strip().strip("<>")
    response = _call(
        "GET", "/messages", access_token=access_token,
        params={"q": f"rfc822msgid:{bare} in:sent", "maxResults": "1"},
    )  # fmt: skip
    try:
        found = response.json().get("messages") or []
    except ValueError as exc:
        raise TransientProviderError("Gmail answered with something not JSON") from exc
    return str(found[0].get("id", "")) if found else None


def watch(*, access_token: str, topic: str) -> tuple[int, datetime]:
    """`users.watch`: Gmail pushes the INBOX's changes to Pub/Sub `topic` until the returned
    expiry (7 days; renew daily). Returns (the mailbox's historyId now, when the watch ends)."""
    response = _call(
        "POST", "/watch", access_token=access_token,
        json={"topicName": topic, "labelIds": ["INBOX"], "labelFilterBehavior": "include"},
    )  # fmt: skip
    try:
        payload = response.json()
        expires = datetime.fromtimestamp(int(payload["expiration"]) / 1000, tz=UTC)
        return int(payload["historyId"]), expires
    except (ValueError, KeyError, TypeError) as exc:
        raise TransientProviderError("Gmail's watch answer had no historyId / expiration") from exc


def stop(*, access_token: str) -> None:
    """`users.stop`: no more push notifications for this mailbox."""
    _call("POST", "/stop", access_token=access_token)
