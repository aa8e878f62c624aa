"""The Exchange on-prem look-alike (EWS over SOAP behind IIS-style NTLM) from the outside: raw
HTTP with requests / requests_ntlm and exchangelib, the way Mailroom's clients reach it; and the
Google revocation endpoint Disconnect uses."""

from __future__ import annotations

import base64
import email
import json
import struct
from pathlib import Path

import pytest
import requests
import spnego
from exchangelib import BASIC, DELEGATE, NTLM, Account, Configuration, Credentials, Message
from exchangelib.errors import ErrorSendAsDenied, UnauthorizedError
from requests_ntlm import HttpNtlmAuth

from sandbox import ntlm
from sandbox.state import Store
from tests.sandbox.helpers import google_connect, make_raw

PASSWORD = "Winter-2026!"  # noqa: S105 - a sandbox mailbox's password
SOAP_ENVELOPE = """<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header>
<s:Body>{body}</s:Body></s:Envelope>"""
GET_INBOX = SOAP_ENVELOPE.format(
    body="<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
    '<m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>'
)


@pytest.fixture
def mailbox(sandbox_server, unique_email):
    sandbox_server.client.add_ews_user(
        unique_email, PASSWORD, username="ACME\\" + unique_email[:14]
    )
    return unique_email


def _post(sandbox_server, body: str, **kwargs) -> requests.Response:
    return requests.post(
        sandbox_server.ews_url,
        data=body.encode(),
        headers={"Content-Type": "text/xml; charset=utf-8"},
        timeout=10,
        **kwargs,
    )


def _account(sandbox_server, address: str, username: str, password: str, **config) -> Account:
    return Account(
        primary_smtp_address=address,
        config=Configuration(
            service_endpoint=sandbox_server.ews_url,
            credentials=Credentials(username, password),
            **config,
        ),
        autodiscover=False,
        access_type=DELEGATE,
    )


def test_md4_and_nt_hash_match_the_published_vectors():
    assert ntlm.md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"
    assert ntlm.md4(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"
    assert ntlm.md4(b"1234567890" * 8).hex() == "e33b4ddc9c38f2199c3e7b164fcc0536"
    assert ntlm.nt_hash("password").hex() == "8846f7eaee8fb117ad06bdd830b7586c"


def test_without_credentials_it_offers_windows_auth_only(sandbox_server, mailbox):
    answer = _post(sandbox_server, GET_INBOX)

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Negotiate, NTLM"
    assert "Basic" not in answer.headers["WWW-Authenticate"]
    assert answer.headers.get("Connection", "").lower() != "close"


def test_ntlm_with_the_right_password_reads_the_inbox(sandbox_server, mailbox):
    login = "ACME\\" + mailbox[:14]

    answer = _post(sandbox_server, GET_INBOX, auth=HttpNtlmAuth(login, PASSWORD))

    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/xml")
    assert b'ResponseClass="Success"' in answer.content
    assert b"<t:DisplayName>Inbox</t:DisplayName>" in answer.content
    assert b'MajorVersion="15" MinorVersion="1"' in answer.content  # Exchange 2016
    assert sandbox_server.client.calls("exchange", mailbox)["ews.GetFolder"] == 1


@pytest.mark.parametrize("login", ["upn", "domain"])
def test_ntlm_with_a_wrong_password_is_401_again(sandbox_server, mailbox, login):
    name = mailbox if login == "upn" else "ACME\\" + mailbox[:14]
    failures = sandbox_server.client.ews_users()["auth_failures"]

    answer = _post(sandbox_server, GET_INBOX, auth=HttpNtlmAuth(name, "wrong"))

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Negotiate, NTLM"
    assert sandbox_server.client.ews_users()["auth_failures"] == failures + 1
    assert sandbox_server.client.calls("exchange", mailbox) == {}


def test_an_unknown_login_is_refused_even_with_a_known_password(sandbox_server, mailbox):
    answer = _post(sandbox_server, GET_INBOX, auth=HttpNtlmAuth("ACME\\nobody", PASSWORD))

    assert answer.status_code == 401


def test_a_tampered_authenticate_message_fails_its_mic(sandbox_server, mailbox):
    client = spnego.client(mailbox, PASSWORD, hostname="127.0.0.1", service="http", protocol="ntlm")
    with requests.Session() as session:  # one keep-alive connection, as NTLM needs
        first = session.post(
            sandbox_server.ews_url,
            data=GET_INBOX,
            headers={"Authorization": "NTLM " + base64.b64encode(client.step()).decode()},
            timeout=10,
        )
        challenge = base64.b64decode(first.headers["WWW-Authenticate"].split(" ", 1)[1])
        assert ntlm.message_type(challenge) == 2
        authenticate = bytearray(client.step(challenge))
        assert struct.unpack_from("<I", authenticate, 8)[0] == 3
        authenticate[80] ^= 0x01  # one bit of the MIC
        second = session.post(
            sandbox_server.ews_url,
            data=GET_INBOX,
            headers={"Authorization": "NTLM " + base64.b64encode(bytes(authenticate)).decode()},
            timeout=10,
        )
    assert second.status_code == 401


def test_basic_only_when_switched_on(sandbox_server, mailbox):
    try:
        assert _post(sandbox_server, GET_INBOX, auth=(mailbox, PASSWORD)).status_code == 401
        sandbox_server.client.settings(ews_basic_auth=True)
        offered = _post(sandbox_server, GET_INBOX).headers["WWW-Authenticate"]
        assert offered.startswith("Negotiate, NTLM, Basic realm=")
        assert _post(sandbox_server, GET_INBOX, auth=(mailbox, PASSWORD)).status_code == 200
        assert _post(sandbox_server, GET_INBOX, auth=(mailbox, "wrong")).status_code == 401
        account = _account(sandbox_server, mailbox, mailbox, PASSWORD, auth_type=BASIC)
        account.inbox.refresh()
    finally:
        sandbox_server.client.settings(ews_basic_auth=False)


def test_exchangelib_logs_in_with_ntlm_and_sends_the_mime_as_is(sandbox_server, mailbox):
    account = _account(sandbox_server, mailbox, "ACME\\" + mailbox[:14], PASSWORD)
    assert account.protocol.auth_type == NTLM
    account.inbox.refresh()
    raw = make_raw(mailbox, "ana@prospect.test", email_id="77")

    Message(account=account, mime_content=raw).send(save_copy=True)

    [sent] = sandbox_server.client.sent("exchange", mailbox)
    assert sent["raw_bytes"] == raw
    assert sent["labels"] == ["SentItems"]
    assert sent["message_id"] == email.message_from_bytes(raw)["Message-ID"]


def test_send_only_is_recorded_but_not_in_sent_items(sandbox_server, mailbox):
    account = _account(sandbox_server, mailbox, mailbox, PASSWORD)

    Message(account=account, mime_content=make_raw(mailbox, "ana@prospect.test")).send(
        save_copy=False
    )

    [sent] = sandbox_server.client.sent("exchange", mailbox)
    assert sent["labels"] == []


def test_sending_as_another_mailbox_is_denied(sandbox_server, mailbox):
    account = _account(sandbox_server, mailbox, mailbox, PASSWORD)

    with pytest.raises(ErrorSendAsDenied):
        Message(account=account, mime_content=make_raw("ceo@acme.test", "ana@prospect.test")).send(
            save_copy=False
        )
    assert sandbox_server.client.sent("exchange", mailbox) == []


def test_a_bounce_address_gets_an_exchange_ndr_in_the_inbox(sandbox_server, mailbox):
    account = _account(sandbox_server, mailbox, mailbox, PASSWORD)

    Message(account=account, mime_content=make_raw(mailbox, "bounce.jamie@northwind.test")).send(
        save_copy=False
    )

    [ndr] = sandbox_server.client.inbox("exchange", mailbox)
    assert ndr["subject"].startswith("Undeliverable:")


def test_server_busy_is_a_soap_fault_with_the_back_off(sandbox_server, mailbox):
    sandbox_server.client.add_fault(
        "exchange", mailbox, 500, code="ErrorServerBusy", retry_after=30, endpoint="ews.GetFolder"
    )

    answer = _post(sandbox_server, GET_INBOX, auth=HttpNtlmAuth(mailbox, PASSWORD))

    assert answer.status_code == 500
    assert b"<faultcode" in answer.content and b"a:ErrorServerBusy</faultcode>" in answer.content
    assert b'<t:Value Name="BackOffMilliseconds">30000</t:Value>' in answer.content
    assert _post(sandbox_server, GET_INBOX, auth=HttpNtlmAuth(mailbox, PASSWORD)).ok


def test_an_unknown_server_version_and_a_dtd_are_refused(sandbox_server, mailbox):
    old = GET_INBOX.replace('Version="Exchange2016"', 'Version="Exchange2099"')
    answer = _post(sandbox_server, old, auth=HttpNtlmAuth(mailbox, PASSWORD))
    assert answer.status_code == 500
    assert b"ErrorInvalidServerVersion" in answer.content

    dtd = GET_INBOX.replace("<s:Envelope", '<!DOCTYPE x [<!ENTITY a "b">]><s:Envelope', 1)
    answer = _post(sandbox_server, dtd, auth=HttpNtlmAuth(mailbox, PASSWORD))
    assert answer.status_code == 500
    assert b"ErrorSchemaValidation" in answer.content


def test_wrong_password_through_exchangelib_is_unauthorized(sandbox_server, mailbox):
    with pytest.raises(UnauthorizedError):
        _account(sandbox_server, mailbox, mailbox, "wrong").inbox.refresh()


def test_ews_logins_survive_a_restart_through_the_state_file(tmp_path: Path):
    state_file = str(tmp_path / "state.json")
    store = Store(state_file=state_file)
    store.add_ews_user("rep@acme.test", PASSWORD, username="ACME\\rep")
    store.save()

    again = Store(state_file=state_file)

    user = again.ews_user_for_login("acme\\REP")
    assert user is not None and user.email == "rep@acme.test" and user.password == PASSWORD
    assert "exchange" in {
        m["provider"] for m in json.loads(Path(state_file).read_text())["mailboxes"]
    }


def test_google_revoke_kills_the_refresh_token_and_answers_400_the_second_time(
    sandbox_server, unique_email
):
    base = sandbox_server.http_url
    tokens = google_connect(base, unique_email)

    first = requests.post(
        f"{base}/google/oauth2/revoke", data={"token": tokens["refresh_token"]}, timeout=10
    )
    again = requests.post(
        f"{base}/google/oauth2/revoke", data={"token": tokens["refresh_token"]}, timeout=10
    )
    refresh = requests.post(
        f"{base}/google/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "google-client",
            "client_secret": "google-secret",
        },
        timeout=10,
    )

    assert first.status_code == 200
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_token"
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"
