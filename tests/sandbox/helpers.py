"""Shared helpers for the sandbox tests: raw messages and OAuth flows driven with requests."""

from __future__ import annotations

import base64
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, urlsplit

import requests

GMAIL_SCOPES = [
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
]
GRAPH_SCOPES = ["openid", "profile", "offline_access", "User.Read", "Mail.Send", "Mail.Read"]
REDIRECT_URI = "http://testserver/accounts/callback/"


def make_raw(sender: str, to: str, subject: str = "Quick question", email_id: str = "42") -> bytes:
    message = EmailMessage()
    message["From"] = f"Rep <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="mailroom.test")
    message["X-Mailroom-Email-Id"] = email_id
    message.set_content("Hi there,\n\nDo you have 15 minutes next week?\n")
    return message.as_bytes()


def gmail_raw(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def consent(authorize_url: str, params: dict[str, str], email: str, decision: str = "allow"):
    """Render the consent page, then click a button, the way a browser would."""
    page = requests.get(authorize_url, params=params, timeout=10)
    assert page.status_code == 200
    assert params["client_id"] in page.text
    form = {**params, "sandbox_email": email, "sandbox_decision": decision}
    answer = requests.post(authorize_url, data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(params["redirect_uri"])
    return query_of(location)


def google_connect(base: str, email: str, client_id: str = "google-client") -> dict:
    state = uuid.uuid4().hex
    params = {
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": " ".join(GMAIL_SCOPES),
        "access_type": "offline",
        "prompt": "consent",
        "state": state,
        "login_hint": email,
    }
    answer = consent(f"{base}/google/accounts/o/oauth2/v2/auth", params, email)
    assert answer["state"] == state
    response = requests.post(
        f"{base}/google/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "client_secret": "google-secret",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def microsoft_connect(base: str, email: str, client_id: str = "ms-client") -> dict:
    state = uuid.uuid4().hex
    authorize = f"{base}/microsoft/login/common/oauth2/v2.0/authorize"
    params = {
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": " ".join(GRAPH_SCOPES),
        "state": state,
    }
    answer = consent(authorize, params, email)
    assert answer["state"] == state
    response = requests.post(
        f"{base}/microsoft/login/common/oauth2/v2.0/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "client_secret": "ms-secret",
            "scope": " ".join(GRAPH_SCOPES),
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def jwt_claims(token: str) -> dict:
    import json

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
