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
    PermanentProviderError,
    RateLimited,
    TransientProviderError,
)

DEFAULT_TIMEOUT = (5, 30)
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


def raise_for_provider_status(response: requests.Response, *, provider: str) -> None:
    """Map an unsuccessful response to the project's exceptions; return on success."""
    if response.status_code < 400:
        return
    message = provider_error_message(response)
    if response.status_code == 401:
        raise AccessTokenExpired(f"{provider} refused the access token: {message}")
    if response.status_code == 429:
        raise RateLimited(
            f"{provider} asked us to slow down: {message}",
            retry_after=retry_after_seconds(response),
        )
    if response.status_code >= 500 or response.status_code == 408:
        raise TransientProviderError(
            f"{provider} is unavailable ({response.status_code}): {message}",
            retry_after=retry_after_seconds(response),
        )
    raise PermanentProviderError(
        f"{provider} rejected the request ({response.status_code}): {message}"
    )
