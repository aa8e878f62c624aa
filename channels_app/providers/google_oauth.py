"""Google OAuth token refresh with google-auth (allauth never refreshes; this does, against
settings.MAILROOM_GOOGLE_OAUTH2_URL) and grant revocation at settings.MAILROOM_GOOGLE_REVOKE_URL
(Google in production, the sandbox in the demo and tests)."""

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
from channels_app.providers.http import http_session, provider_error_message

# Revocation runs while the rep waits for the Disconnect page: never long.
REVOKE_TIMEOUT = (5, 10)

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
    if not credentials.token:
        raise TransientProviderError("Google refreshed the grant but returned no access token")
    return RefreshedToken(access_token=credentials.token, expires_at=expiry, refresh_token=rotated)


def revoke(*, token: str) -> None:
    """Revoke Mailroom's grant for a mailbox: `POST /revoke` with the refresh token (or an
    access token) as the form field `token`, never in the URL, so it stays out of access logs
    and error messages. Google answers 200 with an empty body; 400 `invalid_token` when the
    token is unknown, expired or already revoked."""
    try:
        response = http_session().post(
            settings.MAILROOM_GOOGLE_REVOKE_URL,
            data={"token": token},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=REVOKE_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise TransientProviderError(f"Could not reach Google to revoke the grant: {exc}") from exc
    if response.status_code == 200:
        return
    message = provider_error_message(response)
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise TransientProviderError(
            f"Google could not revoke the grant ({response.status_code}): {message}"
        )
    raise PermanentProviderError(
        f"Google refused to revoke the grant ({response.status_code}): {message}"
    )
