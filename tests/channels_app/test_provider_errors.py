"""How Google's and Microsoft's HTTP errors are read: which ones are worth retrying."""

import json

import pytest
import requests

from channels_app.exceptions import (
    InsufficientPermissions,
    PermanentProviderError,
    RateLimited,
    TransientProviderError,
)
from channels_app.providers.http import raise_for_provider_status


def _response(status: int, body: dict, headers: dict | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers.update({"Content-Type": "application/json", **(headers or {})})
    return response


def _google(status: int, reason: str, message: str = "x") -> requests.Response:
    return _response(
        status,
        {"error": {"code": status, "message": message, "errors": [{"reason": reason}]}},
    )


@pytest.mark.parametrize("reason", ["rateLimitExceeded", "userRateLimitExceeded"])
def test_google_403_rate_limits_are_rate_limits(reason):
    with pytest.raises(RateLimited):
        raise_for_provider_status(_google(403, reason), provider="Gmail")


@pytest.mark.parametrize(
    ("status", "reason"), [(403, "backendError"), (500, "backendError"), (502, ""), (504, "")]
)
def test_google_backend_errors_are_transient(status, reason):
    with pytest.raises(TransientProviderError):
        raise_for_provider_status(_google(status, reason), provider="Gmail")


def test_google_insufficient_permissions_asks_for_a_reconnect():
    with pytest.raises(InsufficientPermissions, match="Reconnect"):
        raise_for_provider_status(_google(403, "insufficientPermissions"), provider="Gmail")


def test_any_other_403_is_permanent():
    with pytest.raises(PermanentProviderError):
        raise_for_provider_status(_google(403, "forbidden"), provider="Gmail")


@pytest.mark.parametrize(("status", "kind"), [(429, RateLimited), (503, TransientProviderError)])
def test_graph_throttling_honours_retry_after(status, kind):
    body = {"error": {"code": "ApplicationThrottled", "message": "slow down"}}
    with pytest.raises(kind) as raised:
        raise_for_provider_status(
            _response(status, body, {"Retry-After": "17"}), provider="Microsoft Graph"
        )
    assert raised.value.retry_after == 17
