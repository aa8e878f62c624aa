"""Google OAuth token refresh with google-auth. allauth never refreshes; this does, against
settings.MAILROOM_GOOGLE_OAUTH2_URL (Google in production, the sandbox in the demo and tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import google.auth.exceptions
import requests
from django.conf import settings
from django.utils import timezone
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials

from channels_app.exceptions import (
    PermanentProviderError,
    ReconnectRequired,
    TransientProviderError,
)
from channels_app.providers.http import http_session

# The grant is gone for good: only the rep can fix it by connecting again.
RECONNECT_ERRORS = {"invalid_grant", "access_denied", "unauthorized_client"}


@dataclass(frozen=True)
class RefreshedToken:
    access_token: str
    expires_at: datetime | None
    refresh_token: str | None  # set when the provider rotated it


def _error_code(exc: google.auth.exceptions.RefreshError) -> str:
    for arg in exc.args[1:]:
        if isinstance(arg, dict) and isinstance(arg.get("error"), str):
            return arg["error"]
    return str(exc.args[0]).split(":", 1)[0] if exc.args else ""


def refresh(*, refresh_token: str) -> RefreshedToken:
    credentials = Credentials(
        token=None,
        refresh_token=refresh_token,
        token_uri=settings.MAILROOM_GOOGLE_OAUTH2_URL.rstrip("/") + "/token",
        client_id=settings.MAILROOM_GOOGLE_CLIENT_ID,
        client_secret=settings.MAILROOM_GOOGLE_CLIENT_SECRET,
    )
    try:
        credentials.refresh(Request(http_session()))
    except google.auth.exceptions.RefreshError as exc:
        code = _error_code(exc)
        description = str(exc.args[0]) if exc.args else code
        if code in RECONNECT_ERRORS:
            raise ReconnectRequired(
                f"Google no longer accepts Mailroom's access to this mailbox ({description}). "
                "Reconnect Gmail to resume sending."
            ) from exc
        if exc.retryable:
            raise TransientProviderError(
                f"Google could not refresh the token: {description}"
            ) from exc
        raise PermanentProviderError(
            f"Google refused the token refresh ({description}); Mailroom's Google app "
            "settings need an operator's attention."
        ) from exc
    except (google.auth.exceptions.TransportError, requests.RequestException) as exc:
        raise TransientProviderError(f"Could not reach Google to refresh the token: {exc}") from exc
    expiry = credentials.expiry
    if expiry is not None and timezone.is_naive(expiry):
        # google-auth reports expiry as naive UTC.
        expiry = expiry.replace(tzinfo=UTC)
    rotated = credentials.refresh_token if credentials.refresh_token != refresh_token else None
    return RefreshedToken(access_token=credentials.token, expires_at=expiry, refresh_token=rotated)
