"""OAuth against the sandbox the way Mailroom does it: allauth-style code flow with requests,
refresh with google-auth and msal, revocation."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox.helpers import (
    GRAPH_SCOPES,
    REDIRECT_URI,
    bearer,
    consent,
    google_connect,
    jwt_claims,
    microsoft_connect,
)


def test_google_code_flow_refresh_and_revoke(sandbox_server, unique_email):
    base = sandbox_server.http_url
    tokens = google_connect(base, unique_email)
    assert tokens["token_type"] == "Bearer"
    assert tokens["refresh_token"]
    assert 3000 < tokens["expires_in"] <= 3600
    assert "https://www.googleapis.com/auth/gmail.send" in tokens["scope"].split()
    claims = jwt_claims(tokens["id_token"])
    # What allauth 65's Google provider checks: iss == ID_TOKEN_ISSUER, aud == client id.
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["aud"] == "google-client"
    assert claims["email"] == unique_email and claims["email_verified"] is True
    assert claims["sub"].isdigit()

    # The userinfo endpoints allauth can use instead (IDENTITY_URL) answer for the token.
    for version in ("v1", "v2"):
        info = bearer(tokens["access_token"]).get(f"{base}/google/oauth2/{version}/userinfo")
        assert info.json()["email"] == unique_email
        assert info.json()["id"] == claims["sub"]

    refreshed = requests.post(
        f"{base}/google/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "google-client",
            "client_secret": "google-secret",
        },
        timeout=10,
    ).json()
    assert refreshed["access_token"] != tokens["access_token"]
    assert "refresh_token" not in refreshed  # Google does not rotate refresh tokens

    sandbox_server.client.revoke("google", unique_email)
    answer = requests.post(
        f"{base}/google/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "google-client",
            "client_secret": "google-secret",
        },
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    profile = bearer(refreshed["access_token"]).get(f"{base}/google/gmail/v1/users/me/profile")
    assert profile.status_code == 401
    assert profile.json()["error"]["status"] == "UNAUTHENTICATED"


def test_google_id_token_signature_verifies_against_certs(sandbox_server, unique_email):
    jwt = pytest.importorskip("google.auth.jwt")
    tokens = google_connect(sandbox_server.http_url, unique_email)
    certs = requests.get(f"{sandbox_server.http_url}/google/oauth2/v1/certs", timeout=10).json()
    claims = jwt.decode(tokens["id_token"], certs=certs, audience="google-client")
    assert claims["email"] == unique_email


def test_google_deny_and_code_reuse(sandbox_server, unique_email):
    base = sandbox_server.http_url
    params = {
        "client_id": "google-client",
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "email https://www.googleapis.com/auth/gmail.send",
        "state": "s1",
    }
    denied = consent(f"{base}/google/accounts/o/oauth2/v2/auth", params, unique_email, "deny")
    assert denied == {"error": "access_denied", "state": "s1"}

    allowed = consent(f"{base}/google/accounts/o/oauth2/v2/auth", params, unique_email)
    form = {
        "grant_type": "authorization_code",
        "code": allowed["code"],
        "redirect_uri": REDIRECT_URI,
        "client_id": "google-client",
        "client_secret": "x",
    }
    first = requests.post(f"{base}/google/oauth2/token", data=form, timeout=10)
    assert first.status_code == 200
    assert "refresh_token" not in first.json()  # no access_type=offline
    again = requests.post(f"{base}/google/oauth2/token", data=form, timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_google_auth_credentials_refresh(sandbox_server, unique_email):
    credentials_module = pytest.importorskip("google.oauth2.credentials")
    transport = pytest.importorskip("google.auth.transport.requests")
    exceptions = pytest.importorskip("google.auth.exceptions")
    tokens = google_connect(sandbox_server.http_url, unique_email)
    credentials = credentials_module.Credentials(
        token=None,
        refresh_token=tokens["refresh_token"],
        token_uri=f"{sandbox_server.http_url}/google/oauth2/token",
        client_id="google-client",
        client_secret="google-secret",
    )
    credentials.refresh(transport.Request())
    assert credentials.token and credentials.valid
    profile = bearer(credentials.token).get(
        f"{sandbox_server.http_url}/google/gmail/v1/users/me/profile"
    )
    assert profile.json()["emailAddress"] == unique_email

    sandbox_server.client.revoke("google", unique_email)
    with pytest.raises(exceptions.RefreshError) as caught:
        credentials.refresh(transport.Request())
    assert "invalid_grant" in str(caught.value)


def test_microsoft_code_flow_rotation_and_revoke(sandbox_server, unique_email):
    base = sandbox_server.http_url
    tokens = microsoft_connect(base, unique_email)
    assert tokens["refresh_token"] and tokens["id_token"]
    assert "https://graph.microsoft.com/Mail.Send" in tokens["scope"].split()
    me = bearer(tokens["access_token"]).get(f"{base}/microsoft/graph/v1.0/me").json()
    assert me["mail"] == unique_email and me["userPrincipalName"] == unique_email and me["id"]

    token_url = f"{base}/microsoft/login/common/oauth2/v2.0/token"
    form = {
        "grant_type": "refresh_token",
        "client_id": "ms-client",
        "client_secret": "ms-secret",
        "scope": "Mail.Send Mail.Read offline_access",
    }
    first = requests.post(
        token_url, data={**form, "refresh_token": tokens["refresh_token"]}, timeout=10
    )
    rotated = first.json()["refresh_token"]
    assert rotated != tokens["refresh_token"]  # refresh tokens rotate on every use

    sandbox_server.client.revoke("microsoft", unique_email)
    answer = requests.post(token_url, data={**form, "refresh_token": rotated}, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert answer.json()["error_codes"] == [50173]
    assert answer.json()["error_description"].startswith("AADSTS50173")
    graph = bearer(first.json()["access_token"]).get(f"{base}/microsoft/graph/v1.0/me")
    assert graph.status_code == 401
    assert graph.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_microsoft_rotated_token_stops_working_after_grace(sandbox_server, unique_email):
    store = sandbox_server.store
    tokens = microsoft_connect(sandbox_server.http_url, unique_email)
    token_url = f"{sandbox_server.http_url}/microsoft/login/common/oauth2/v2.0/token"
    form = {"grant_type": "refresh_token", "client_id": "ms-client", "client_secret": "s"}
    requests.post(token_url, data={**form, "refresh_token": tokens["refresh_token"]}, timeout=10)
    grant, problem = store.grant_for_refresh_token(tokens["refresh_token"])
    assert problem == ""  # still inside the grace window
    grant.previous_valid_until = 0  # the window ends
    answer = requests.post(
        token_url, data={**form, "refresh_token": tokens["refresh_token"]}, timeout=10
    )
    assert answer.status_code == 400 and answer.json()["error_codes"] == [70000]


def test_msal_refresh_against_https_authority(sandbox_server, unique_email):
    msal = pytest.importorskip("msal")
    tokens = microsoft_connect(sandbox_server.http_url, unique_email)
    session = requests.Session()
    session.verify = sandbox_server.ca_file
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment override
    # session.verify (msal passes no per-request verify): without this the sandbox CA is ignored.
    session.trust_env = False
    app = msal.ConfidentialClientApplication(
        "ms-client",
        client_credential="ms-secret",
        authority=f"{sandbox_server.https_url}/microsoft/login/common",
        validate_authority=False,
        instance_discovery=False,
        http_client=session,
    )
    result = app.acquire_token_by_refresh_token(tokens["refresh_token"], ["Mail.Send", "Mail.Read"])
    assert "error" not in result, result
    assert result["access_token"] and result["refresh_token"] != tokens["refresh_token"]
    assert result["id_token_claims"]["preferred_username"] == unique_email
    me = bearer(result["access_token"]).get(f"{sandbox_server.http_url}/microsoft/graph/v1.0/me")
    assert me.json()["mail"] == unique_email

    sandbox_server.client.revoke("microsoft", unique_email, reason="expired")
    failed = app.acquire_token_by_refresh_token(result["refresh_token"], ["Mail.Send"])
    assert failed["error"] == "invalid_grant"
    assert 700082 in failed["error_codes"]


def test_token_endpoint_requires_client_secret(sandbox_server):
    base = sandbox_server.http_url
    google = requests.post(
        f"{base}/google/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": "c"},
        timeout=10,
    )
    assert google.status_code == 401 and google.json()["error"] == "invalid_client"
    microsoft = requests.post(
        f"{base}/microsoft/login/common/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": "c"},
        timeout=10,
    )
    assert microsoft.status_code == 401 and microsoft.json()["error"] == "invalid_client"


def test_discovery_documents_point_at_the_sandbox(sandbox_server):
    doc = requests.get(
        f"{sandbox_server.https_url}/microsoft/login/common/v2.0/.well-known/openid-configuration",
        verify=sandbox_server.ca_file,
        timeout=10,
    ).json()
    assert doc["token_endpoint"] == (
        f"{sandbox_server.https_url}/microsoft/login/common/oauth2/v2.0/token"
    )
    assert set(GRAPH_SCOPES[:3]) <= set(doc["scopes_supported"])


def test_consent_page_language_follows_hl_then_accept_language(sandbox_server):
    base = sandbox_server.http_url
    url = f"{base}/google/accounts/o/oauth2/v2/auth"
    params = {
        "client_id": "mailroom-test",
        "redirect_uri": "http://127.0.0.1/callback",
        "response_type": "code",
        "scope": "openid email",
    }
    english = requests.get(url, params=params, timeout=10).text
    assert ">Allow</button>" in english and '<html lang="en">' in english
    korean = requests.get(
        url, params=params, headers={"Accept-Language": "fr;q=0.9, ko-KR;q=0.8"}, timeout=10
    ).text
    assert ">허용</button>" in korean and "Google 계정으로 로그인" in korean
    named = requests.get(
        url, params={**params, "hl": "en"}, headers={"Accept-Language": "ko"}, timeout=10
    ).text
    assert ">Allow</button>" in named  # the language the request names wins
