"""Microsoft identity platform token refresh with msal. Refresh tokens rotate: the caller
stores the one that comes back. The authority comes from settings (msal needs https: the
sandbox's TLS port in the demo and tests, trusted through MAILROOM_PROVIDER_CA_BUNDLE)."""

from __future__ import annotations

from datetime import timedelta

import msal
import requests
from django.conf import settings
from django.utils import timezone

from channels_app.exceptions import (
    PermanentProviderError,
    ReconnectRequired,
    TransientProviderError,
)
from channels_app.providers.google_oauth import RefreshedToken
from channels_app.providers.microsoft_errors import microsoft_error_words

GRAPH_SCOPES = ("Mail.Send", "Mail.Read", "User.Read")
# msal adds these itself and refuses them in a request.
RESERVED_SCOPES = {"offline_access", "openid", "profile"}
RECONNECT_ERRORS = {"invalid_grant", "interaction_required", "consent_required"}
TRANSIENT_ERRORS = {"temporarily_unavailable", "server_error", "service_unavailable"}
TIMEOUT = (5, 15)


class _TimeoutSession(requests.Session):
    """msal's http_client: a session that never waits forever and trusts the provider CA."""

    def request(self, method, url, **kwargs):  # type: ignore[override]  # adds defaults only
        kwargs.setdefault("timeout", TIMEOUT)
        # Per request: REQUESTS_CA_BUNDLE in the environment would otherwise win over
        # session.verify and reject the sandbox's certificate.
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, **kwargs)


def _application() -> msal.ConfidentialClientApplication:
    session = _TimeoutSession()
    session.verify = settings.MAILROOM_PROVIDER_CA_BUNDLE or True
    authority = (
        settings.MAILROOM_MICROSOFT_AUTHORITY_URL.rstrip("/")
        + "/"
        + settings.MAILROOM_MICROSOFT_TENANT
    )
    is_microsoft = authority.startswith("https://login.microsoftonline.com/")
    # A fresh application per refresh: msal keeps tokens in an in-memory cache per application,
    # which must neither grow with every mailbox nor be shared between reps.
    return msal.ConfidentialClientApplication(
        settings.MAILROOM_MICROSOFT_CLIENT_ID,
        client_credential=settings.MAILROOM_MICROSOFT_CLIENT_SECRET,
        authority=authority,
        validate_authority=is_microsoft,
        instance_discovery=is_microsoft,
        http_client=session,
    )


def refresh(*, refresh_token: str, scopes: list[str] | None = None) -> RefreshedToken:
    requested = [s for s in (scopes or GRAPH_SCOPES) if s and s not in RESERVED_SCOPES]
    try:
        result = _application().acquire_token_by_refresh_token(refresh_token, scopes=requested)
    except requests.RequestException as exc:
        raise TransientProviderError(
            f"Could not reach Microsoft to refresh the token: {exc}"
        ) from exc
    except ValueError as exc:
        # msal raises ValueError when the authority's metadata cannot be read.
        raise TransientProviderError(f"Microsoft sign-in is unavailable: {exc}") from exc
    if "access_token" in result:
        expires_in = int(result.get("expires_in") or 3600)
        return RefreshedToken(
            access_token=result["access_token"],
            expires_at=timezone.now() + timedelta(seconds=expires_in),
            refresh_token=result.get("refresh_token") or None,
        )
    code = str(result.get("error") or "")
    words, small_print = microsoft_error_words(str(result.get("error_description") or code))
    description = f"{words} ({small_print})" if small_print else words
    if code in RECONNECT_ERRORS:
        raise ReconnectRequired(
            f"Microsoft no longer accepts Mailroom's access to this mailbox: {words}. "
            f"Reconnect Outlook to resume sending.{f' ({small_print})' if small_print else ''}"
        )
    if code in TRANSIENT_ERRORS or not code:
        raise TransientProviderError(f"Microsoft could not refresh the token: {description}")
    raise PermanentProviderError(
        f"Microsoft refused the token refresh ({description}); Mailroom's Microsoft app "
        "settings need an operator's attention."
    )
