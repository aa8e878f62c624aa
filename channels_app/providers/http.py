"""HTTP plumbing shared by the Gmail and Graph clients: one pooled session per process, the
provider CA bundle (the local sandbox uses a self-signed certificate), and translation of
HTTP failures into channels_app.exceptions."""

import threading
from email.utils import parsedate_to_datetime

import requests
from django.conf import settings
from django.utils import timezone

from channels_app.exceptions import (
    AccessTokenExpired,
    InsufficientPermissions,
    PermanentProviderError,
    RateLimited,
    TransientProviderError,
)

DEFAULT_TIMEOUT = (5, 30)
# Google's documented "retry with exponential backoff" reasons (a 403 or a 5xx carries them):
# https://developers.google.com/gmail/api/guides/handle-errors
GOOGLE_RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
GOOGLE_TRANSIENT_REASONS = {"backendError", "internalError"}
GOOGLE_SCOPE_REASONS = {"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
# Graph answers a call on the signed-in user's own mailbox (every call Mailroom makes is on
# /me) that the token's scopes do not cover with 403 ErrorAccessDenied.
GRAPH_SCOPE_CODES = {"ErrorAccessDenied"}
SEND_PERMISSION_MISSING = "Sending needs permission to send email"
READ_PERMISSION_MISSING = "Sending works; bounce tracking needs read access"
_local = threading.local()


class ProviderSession(requests.Session):
    """A session that trusts the configured provider CA bundle on every call.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment override
    `session.verify` unless each call passes `verify=`, so it is passed here; a library that
    takes a session (msal) gets the same behaviour."""

    def request(self, method, url, **kwargs):  # type: ignore[override]  # adds defaults only
        kwargs.setdefault("verify", settings.MAILROOM_PROVIDER_CA_BUNDLE or True)
        kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
        return super().request(method, url, **kwargs)


def http_session() -> requests.Session:
    """A keep-alive session per thread (requests sessions are not thread-safe)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = ProviderSession()
        adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=16)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
    return session


def retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def provider_error_message(response: requests.Response) -> str:
    """The provider's own words, from Google's or Microsoft's JSON error shape."""
    try:
        payload = response.json()
    except ValueError:
        return (response.text or response.reason or "")[:300]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or error)[:300]
    if isinstance(error, str):
        return str(payload.get("error_description") or error)[:300]
    return str(payload)[:300]


def error_reasons(response: requests.Response) -> set[str]:
    """Google's `error.errors[].reason`s and `error.status`, and Graph's `error.code`."""
    try:
        payload = response.json()
    except ValueError:
        return set()
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return set()
    reasons = {str(e.get("reason", "")) for e in error.get("errors") or [] if isinstance(e, dict)}
    details = error.get("details") or []
    reasons |= {str(d.get("reason", "")) for d in details if isinstance(d, dict)}
    reasons |= {str(error.get("status") or ""), str(error.get("code") or "")}
    return reasons - {""}


def _insufficient_scope(response: requests.Response, reasons: set[str]) -> bool:
    # RFC 6750: a bearer token lacking a scope answers 403 error="insufficient_scope".
    challenge = response.headers.get("WWW-Authenticate", "")
    scope_reasons = GOOGLE_SCOPE_REASONS | GRAPH_SCOPE_CODES
    return bool(reasons & scope_reasons) or "insufficient_scope" in challenge


def raise_for_provider_status(
    response: requests.Response, *, provider: str, permission: str = ""
) -> None:
    """Map an unsuccessful response to the project's exceptions; return on success.

    Transient (retry with backoff): 408, 429, every 5xx, and a 403 whose reason
    Google documents as a rate limit (`rateLimitExceeded`, `userRateLimitExceeded`) or
    `backendError`; Retry-After is honoured when given. A 403 for a missing scope is
    InsufficientPermissions (the rep must reconnect and allow it; `permission` says what is
    missing, e.g. SEND_PERMISSION_MISSING). Any other 4xx is permanent."""
    status = response.status_code
    if status < 400:
        return
    message = provider_error_message(response)
    retry_after = retry_after_seconds(response)
    if status == 401:
        raise AccessTokenExpired(f"{provider} refused the access token: {message}")
    reasons = error_reasons(response) if status == 403 else set()
    if status == 429 or reasons & GOOGLE_RATE_LIMIT_REASONS:
        raise RateLimited(f"{provider} asked us to slow down: {message}", retry_after=retry_after)
    if status >= 500 or status == 408 or reasons & GOOGLE_TRANSIENT_REASONS:
        raise TransientProviderError(
            f"{provider} is unavailable ({status}): {message}", retry_after=retry_after
        )
    if status == 403 and _insufficient_scope(response, reasons):
        needed = permission or "Mailroom's access to this mailbox lacks a permission it needs"
        raise InsufficientPermissions(
            f"{needed} ({provider}: {message}) — Reconnect the mailbox and allow it."
        )
    raise PermanentProviderError(f"{provider} rejected the request ({status}): {message}")
