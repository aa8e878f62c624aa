"""The sandbox's Gmail API, checked by a client nobody here wrote: Google's own
google-api-python-client, built from the gmail.v1 discovery document it bundles
(static_discovery), drives every call Mailroom makes — send (JSON `raw` and the /upload/ media
and multipart forms), getProfile, history.list and messages.list with paging, messages.get in
the raw and metadata formats, `fields=` — and reads the error shapes Mailroom relies on."""

from __future__ import annotations

import base64
import io
import uuid

import pytest
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload
from httplib2 import Http

GMAIL_SCOPES = [
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
]


def _message(to: str, subject: str, message_id: str | None = None) -> bytes:
    message_id = message_id or f"<{uuid.uuid4().hex}@mailroom.test>"
    return (
        f"From: rep@acme.test\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nHello from the contract test.\r\n"
    ).encode()


def _bounce(address: str, n: int) -> bytes:
    return (
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
        f"To: {address}\r\nSubject: Delivery Status Notification (Failure) {n}\r\n"
        f"Message-ID: <dsn-{n}-{uuid.uuid4().hex}@mx.google.com>\r\n\r\n"
        "Address not found.\r\n"
    ).encode()


def _client(sandbox, address: str, scopes: list[str]):
    """Google's client as an app would build it, over HTTPS (uploads go to the host's root,
    /upload/gmail/v1/…, as on gmail.googleapis.com), trusting the sandbox's CA."""
    grant = sandbox.client.grant("google", address, scopes=scopes)
    http = AuthorizedHttp(Credentials(grant["access_token"]), http=Http(ca_certs=sandbox.ca_file))
    service = build(
        "gmail",
        "v1",
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": f"{sandbox.https_url}/google/"},
    )
    service.address = address
    return service


@pytest.fixture
def gmail(sandbox, unique_email):
    return _client(sandbox, unique_email, GMAIL_SCOPES)


def test_send_with_raw_json_then_the_message_is_in_sent_mail(sandbox, gmail):
    raw = _message("ana@customer.test", "Raw JSON send")

    sent = (
        gmail.users()
        .messages()
        .send(userId="me", body={"raw": base64.urlsafe_b64encode(raw).decode()})
        .execute()
    )

    assert sent["id"] and sent["threadId"] and "SENT" in sent["labelIds"]
    [stored] = sandbox.client.sent("google", gmail.address)
    assert b"Subject: Raw JSON send" in stored["raw_bytes"]


@pytest.mark.parametrize("with_metadata", [False, True], ids=["uploadType=media", "multipart"])
def test_send_as_an_upload(sandbox, gmail, with_metadata):
    raw = _message("ana@customer.test", f"Upload send {with_metadata}")
    media = MediaIoBaseUpload(io.BytesIO(raw), mimetype="message/rfc822", resumable=False)

    request = (
        gmail.users()
        .messages()
        .send(userId="me", media_body=media, body={"labelIds": []} if with_metadata else None)
    )
    assert ("uploadType=multipart" if with_metadata else "uploadType=media") in request.uri
    sent = request.execute()

    assert sent["id"]
    stored = sandbox.client.sent("google", gmail.address)
    assert [s["raw_bytes"] for s in stored if s["id"] == sent["id"]][0].startswith(b"From:")
    assert any(b"Subject: Upload send" in s["raw_bytes"] for s in stored)


def test_profile_history_and_messages_page_like_gmail(sandbox, gmail):
    start = int(gmail.users().getProfile(userId="me").execute()["historyId"])
    for n in range(5):
        sandbox.client.inject("google", gmail.address, _bounce(gmail.address, n))

    seen: list[str] = []
    request = (
        gmail.users()
        .history()
        .list(
            userId="me",
            startHistoryId=start,
            historyTypes="messageAdded",
            labelId="INBOX",
            maxResults=2,
        )
    )
    pages = 0
    while request is not None:
        response = request.execute()
        pages += 1
        for record in response.get("history", []):
            seen += [added["message"]["id"] for added in record.get("messagesAdded", [])]
        request = gmail.users().history().list_next(request, response)
    assert len(seen) == 5 and pages == 3
    assert int(response["historyId"]) > start

    listed: list[str] = []
    request = (
        gmail.users()
        .messages()
        .list(userId="me", labelIds="INBOX", q="newer_than:2d", maxResults=2)
    )
    while request is not None:
        response = request.execute()
        listed += [m["id"] for m in response.get("messages", [])]
        request = gmail.users().messages().list_next(request, response)
    assert set(listed) == set(seen)


def test_messages_get_raw_metadata_and_fields(sandbox, gmail):
    sandbox.client.inject("google", gmail.address, _bounce(gmail.address, 1))
    [first] = gmail.users().messages().list(userId="me", labelIds="INBOX").execute()["messages"]

    raw = gmail.users().messages().get(userId="me", id=first["id"], format="raw").execute()
    metadata = (
        gmail.users()
        .messages()
        .get(userId="me", id=first["id"], format="metadata", metadataHeaders=["Subject", "From"])
        .execute()
    )
    partial = (
        gmail.users().messages().get(userId="me", id=first["id"], fields="id,labelIds").execute()
    )

    assert base64.urlsafe_b64decode(raw["raw"] + "==").startswith(b"From: Mail Delivery")
    names = {h["name"] for h in metadata["payload"]["headers"]}
    assert names == {"Subject", "From"}
    assert set(partial) == {"id", "labelIds"}


def test_a_message_is_found_by_its_rfc822_message_id(sandbox, gmail):
    message_id = f"<{uuid.uuid4().hex}@mailroom.test>"
    gmail.users().messages().send(
        userId="me",
        body={"raw": base64.urlsafe_b64encode(_message("a@b.test", "x", message_id)).decode()},
    ).execute()

    found = gmail.users().messages().list(userId="me", q=f"rfc822msgid:{message_id}").execute()
    missing = (
        gmail.users().messages().list(userId="me", q="rfc822msgid:<nobody@nowhere.test>").execute()
    )

    assert len(found["messages"]) == 1
    assert missing.get("resultSizeEstimate", 0) == 0 and not missing.get("messages")


@pytest.mark.parametrize(
    "status, reason",
    [(403, "userRateLimitExceeded"), (429, "rateLimitExceeded"), (503, "backendError")],
)
def test_error_shapes_read_by_googles_client(sandbox, gmail, status, reason):
    sandbox.client.add_fault("google", gmail.address, status, endpoint="gmail.profile")

    with pytest.raises(HttpError) as caught:
        gmail.users().getProfile(userId="me").execute(num_retries=0)

    assert caught.value.resp.status == status
    assert caught.value.error_details[0]["reason"] == reason


def test_an_expired_history_id_is_404_and_a_missing_scope_is_403(sandbox, gmail):
    start = int(gmail.users().getProfile(userId="me").execute()["historyId"])
    sandbox.client.expire_history("google", gmail.address)
    with pytest.raises(HttpError) as expired:
        gmail.users().history().list(userId="me", startHistoryId=start).execute()
    assert expired.value.resp.status == 404

    # Another mailbox (Google merges a client's grants for one account): sending only.
    reader = _client(
        sandbox,
        f"send.only.{uuid.uuid4().hex[:8]}@acme.test",
        ["https://www.googleapis.com/auth/gmail.send"],
    )
    with pytest.raises(HttpError) as refused:
        reader.users().messages().list(userId="me").execute()
    assert refused.value.resp.status == 403
    assert refused.value.error_details[0]["reason"] == "insufficientPermissions"
