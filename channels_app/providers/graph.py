"""Microsoft Graph client, send verb: `POST /me/sendMail` with the MIME message (base64)."""

import base64
import re
from datetime import timedelta

import requests
from django.conf import settings
from django.utils import timezone

from channels_app.exceptions import QuotaExhausted, TransientProviderError

from .http import (
    DEFAULT_TIMEOUT,
    SEND_PERMISSION_MISSING,
    http_session,
    provider_error_message,
    raise_for_provider_status,
    retry_after_seconds,
)

# Exchange Online says the mailbox's own sending limit is used up ("sender exceeded limits").
QUOTA_WORDS = re.compile(
    r"QuotaExceeded|exceeded (its|the)? ?(sending|message|recipient|submission)? ?limit|"
    r"sender exceeded|recipient rate limit",
    re.I,
)


def _raise_for_quota(response: requests.Response) -> None:
    if response.status_code not in (403, 429, 503):
        return
    message = provider_error_message(response)
    try:
        code = str(response.json().get("error", {}).get("code", ""))
    except (ValueError, AttributeError):
        code = ""
    if QUOTA_WORDS.search(code) or QUOTA_WORDS.search(message):
        wait = retry_after_seconds(response)
        raise QuotaExhausted(
            f"Exchange Online says this mailbox exceeded its sending limits: {message[:200]}",
            resume_at=timezone.now() + timedelta(seconds=wait) if wait else None,
        )


def send(*, access_token: str, raw_message: bytes) -> None:
    """Send `raw_message` from the token's mailbox. Graph answers 202 with no body."""
    url = f"{settings.MAILROOM_GRAPH_URL}/v1.0/me/sendMail"
    try:
        response = http_session().post(
            url,
            data=base64.b64encode(raw_message),
            headers={"Authorization": f"Bearer {access_token}", "Content-Type": "text/plain"},
            timeout=DEFAULT_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise TransientProviderError(f"Microsoft Graph could not be reached: {exc}") from exc
    _raise_for_quota(response)
    raise_for_provider_status(
        response, provider="Microsoft Graph", permission=SEND_PERMISSION_MISSING
    )
