"""Gmail API and Graph mail against the sandbox: send, incremental sync, expiry, faults, bounces."""

from __future__ import annotations

import base64
import email
import email.policy

import requests

from tests.sandbox.helpers import bearer, gmail_raw, make_raw

GMAIL_SCOPES = [
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
]
GRAPH_SCOPES = ["User.Read", "Mail.Send", "Mail.Read", "offline_access"]


def gmail_session(sandbox_server, address):
    tokens = sandbox_server.client.grant("google", address, scopes=GMAIL_SCOPES)
    return bearer(tokens["access_token"]), f"{sandbox_server.http_url}/google/gmail/v1/users/me"


def graph_session(sandbox_server, address):
    tokens = sandbox_server.client.grant("microsoft", address, scopes=GRAPH_SCOPES)
    return bearer(tokens["access_token"]), f"{sandbox_server.http_url}/microsoft/graph/v1.0/me"


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_gmail_send_lands_in_sent_with_its_message_id(sandbox_server, unique_email):
    session, api = gmail_session(sandbox_server, unique_email)
    raw = make_raw(unique_email, "ana@prospect.test")
    answer = session.post(f"{api}/messages/send", json={"raw": gmail_raw(raw)})
    assert answer.status_code == 200
    assert answer.json()["labelIds"] == ["SENT"] and answer.json()["threadId"]
    sent = sandbox_server.client.sent("google", unique_email)
    assert len(sent) == 1
    assert sent[0]["message_id"] == parse(raw)["Message-ID"]
    assert sent[0]["raw_bytes"] == raw

    got = session.get(f"{api}/messages/{answer.json()['id']}", params={"format": "raw"}).json()
    assert base64.urlsafe_b64decode(got["raw"] + "==") == raw
    metadata = session.get(
        f"{api}/messages/{answer.json()['id']}",
        params=[
            ("format", "metadata"),
            ("metadataHeaders", "Message-ID"),
            ("metadataHeaders", "Subject"),
        ],
    ).json()
    names = {h["name"] for h in metadata["payload"]["headers"]}
    assert names == {"Message-ID", "Subject"}


def test_gmail_history_incremental_idle_cost_and_expiry(sandbox_server, unique_email):
    client = sandbox_server.client
    session, api = gmail_session(sandbox_server, unique_email)
    start = session.get(f"{api}/profile").json()["historyId"]
    for n in range(3):
        client.inject("google", unique_email, make_raw("x@y.test", unique_email, f"m{n}"))
    params = {
        "startHistoryId": start,
        "historyTypes": "messageAdded",
        "labelId": "INBOX",
        "maxResults": 2,
    }
    first = session.get(f"{api}/history", params=params).json()
    assert len(first["history"]) == 2 and first["nextPageToken"]
    second = session.get(f"{api}/history", params={**params, "pageToken": first["nextPageToken"]})
    assert len(second.json()["history"]) == 1 and "nextPageToken" not in second.json()
    latest = second.json()["historyId"]
    assert int(latest) > int(start)
    added = second.json()["history"][0]["messagesAdded"][0]["message"]
    assert "INBOX" in added["labelIds"]

    client.reset_calls("google", unique_email)
    idle = session.get(f"{api}/history", params={**params, "startHistoryId": latest})
    assert idle.status_code == 200 and "history" not in idle.json()
    assert client.calls("google", unique_email) == {"gmail.history.list": 1, "total": 1}

    client.expire_history("google", unique_email)
    expired = session.get(f"{api}/history", params={**params, "startHistoryId": latest})
    assert expired.status_code == 404
    assert expired.json()["error"]["errors"][0]["reason"] == "notFound"
    # Full resync: list + get, then the new historyId works again.
    listed = session.get(f"{api}/messages", params={"labelIds": "INBOX", "q": "newer_than:2d"})
    assert listed.json()["resultSizeEstimate"] == 3
    fresh = session.get(f"{api}/profile").json()["historyId"]
    assert session.get(f"{api}/history", params={**params, "startHistoryId": fresh}).ok


def test_gmail_polling_cannot_change_messages(sandbox_server, unique_email):
    session, api = gmail_session(sandbox_server, unique_email)
    message = sandbox_server.client.inject(
        "google", unique_email, make_raw("a@b.test", unique_email)
    )
    answer = session.post(
        f"{api}/messages/{message['id']}/modify", json={"removeLabelIds": ["UNREAD"]}
    )
    assert answer.status_code == 403
    attempts = sandbox_server.client.mutation_attempts("google", unique_email)
    assert attempts[0]["path"].endswith("/modify")


def test_gmail_bounce_is_a_google_dsn_returning_the_original(sandbox_server, unique_email):
    session, api = gmail_session(sandbox_server, unique_email)
    raw = make_raw(unique_email, "bounce.jamie@northwind.test", email_id="777")
    session.post(f"{api}/messages/send", json={"raw": gmail_raw(raw)}).raise_for_status()
    inbox = sandbox_server.client.inbox("google", unique_email)
    assert len(inbox) == 1
    dsn = parse(inbox[0]["raw_bytes"])
    assert dsn["From"] == "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    status = dsn.get_payload()[1]
    assert status.get_content_type() == "message/delivery-status"
    text = inbox[0]["raw_bytes"].decode()
    assert "Status: 5.1.1" in text and "Action: failed" in text
    assert "Final-Recipient: rfc822; bounce.jamie@northwind.test" in text
    returned = dsn.get_payload()[2].get_payload()[0]
    assert returned["Message-ID"] == parse(raw)["Message-ID"]
    assert returned["X-Mailroom-Email-Id"] == "777"
    # ... and the poller sees it through history.
    history = session.get(f"{api}/history", params={"startHistoryId": 1, "labelId": "INBOX"})
    assert history.json()["history"][0]["messages"][0]["id"] == inbox[0]["id"]


def test_reply_and_out_of_office(sandbox_server, unique_email):
    session, api = gmail_session(sandbox_server, unique_email)
    raw = make_raw(unique_email, "reply.taylor@globex.test, ooo.sam@initech.test")
    session.post(f"{api}/messages/send", json={"raw": gmail_raw(raw)}).raise_for_status()
    inbox = {
        m["from"]: parse(m["raw_bytes"])
        for m in sandbox_server.client.inbox("google", unique_email)
    }
    reply = next(m for k, m in inbox.items() if "reply.taylor" in k)
    ooo = next(m for k, m in inbox.items() if "ooo.sam" in k)
    assert reply["In-Reply-To"] == parse(raw)["Message-ID"]
    assert parse(raw)["Message-ID"] in reply["References"]
    assert reply["Auto-Submitted"] is None
    assert ooo["Auto-Submitted"] == "auto-replied"


def test_rate_limit_injection_with_retry_after(sandbox_server, unique_email):
    client = sandbox_server.client
    session, api = gmail_session(sandbox_server, unique_email)
    client.add_fault("google", unique_email, status=429, retry_after=7, count=1)
    limited = session.get(f"{api}/profile")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert limited.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    assert session.get(f"{api}/profile").status_code == 200

    graph, graph_api = graph_session(sandbox_server, unique_email)
    client.add_fault("microsoft", unique_email, status=503, count=2, endpoint="graph.delta")
    assert graph.get(f"{graph_api}").status_code == 200  # other endpoints unaffected
    assert graph.get(f"{graph_api}/mailFolders/inbox/messages/delta").status_code == 503
    assert graph.get(f"{graph_api}/mailFolders/inbox/messages/delta").status_code == 503
    assert graph.get(f"{graph_api}/mailFolders/inbox/messages/delta").status_code == 200


def test_expired_access_token_answers_401(sandbox_server, unique_email):
    session, api = gmail_session(sandbox_server, unique_email)
    sandbox_server.client.expire_access_tokens("google", unique_email)
    answer = session.get(f"{api}/profile")
    assert answer.status_code == 401
    assert "invalid_token" in answer.headers["WWW-Authenticate"]
    assert requests.get(f"{api}/profile", timeout=10).status_code == 401


def test_daily_send_limits(sandbox_server, unique_email):
    client = sandbox_server.client
    session, api = gmail_session(sandbox_server, unique_email)
    client.set_send_limit("google", unique_email, 1)
    raw = gmail_raw(make_raw(unique_email, "a@b.test"))
    assert session.post(f"{api}/messages/send", json={"raw": raw}).status_code == 200
    over = session.post(f"{api}/messages/send", json={"raw": raw})
    assert over.status_code == 429
    assert "(Mail sending)" in over.json()["error"]["message"]

    graph, graph_api = graph_session(sandbox_server, unique_email)
    client.set_send_limit("microsoft", unique_email, 1)
    body = {
        "message": {
            "subject": "hi",
            "body": {"contentType": "Text", "content": "x"},
            "toRecipients": [{"emailAddress": {"address": "a@b.test"}}],
        }
    }
    assert graph.post(f"{graph_api}/sendMail", json=body).status_code == 202
    over = graph.post(f"{graph_api}/sendMail", json=body)
    assert over.status_code == 403
    assert over.json()["error"]["code"] == "ErrorSubmissionQuotaExceeded"


def test_graph_send_mime_and_json(sandbox_server, unique_email):
    graph, api = graph_session(sandbox_server, unique_email)
    raw = make_raw(unique_email, "ana@prospect.test")
    answer = graph.post(
        f"{api}/sendMail", data=base64.b64encode(raw), headers={"Content-Type": "text/plain"}
    )
    assert answer.status_code == 202 and answer.content == b""
    body = {
        "message": {
            "subject": "JSON form",
            "body": {"contentType": "HTML", "content": "<p>Hello</p>"},
            "toRecipients": [{"emailAddress": {"address": "bo@prospect.test", "name": "Bo"}}],
            "internetMessageHeaders": [{"name": "X-Mailroom-Email-Id", "value": "9"}],
        },
        "saveToSentItems": True,
    }
    assert graph.post(f"{api}/sendMail", json=body).status_code == 202
    sent = sandbox_server.client.sent("microsoft", unique_email)
    assert sent[0]["message_id"] == parse(raw)["Message-ID"]
    assert parse(sent[1]["raw_bytes"])["X-Mailroom-Email-Id"] == "9"
    body["message"]["internetMessageHeaders"] = [{"name": "Mailroom-Id", "value": "9"}]
    bad = graph.post(f"{api}/sendMail", json=body)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidInternetMessageHeader"
    invalid = graph.post(f"{api}/sendMail", data=b"***", headers={"Content-Type": "text/plain"})
    assert invalid.json()["error"]["code"] == "ErrorMimeContentInvalidBase64String"


def test_graph_delta_paging_idle_and_expiry(sandbox_server, unique_email):
    client = sandbox_server.client
    graph, api = graph_session(sandbox_server, unique_email)
    for n in range(3):
        client.inject("microsoft", unique_email, make_raw("x@y.test", unique_email, f"m{n}"))
    url = f"{api}/mailFolders/inbox/messages/delta"
    prefer = {"Prefer": "odata.maxpagesize=2"}
    page = graph.get(url, params={"$select": "subject,from,internetMessageId"}, headers=prefer)
    assert page.headers["Preference-Applied"] == "odata.maxpagesize=2"
    assert [m["subject"] for m in page.json()["value"]] == ["m0", "m1"]
    assert set(page.json()["value"][0]) == {
        "@odata.etag",
        "id",
        "subject",
        "from",
        "internetMessageId",
    }
    last = graph.get(page.json()["@odata.nextLink"], headers=prefer).json()
    assert [m["subject"] for m in last["value"]] == ["m2"]
    delta_link = last["@odata.deltaLink"]

    client.inject("microsoft", unique_email, make_raw("x@y.test", unique_email, "m3"))
    changes = graph.get(delta_link, headers=prefer).json()
    assert [m["subject"] for m in changes["value"]] == ["m3"]
    client.reset_calls("microsoft", unique_email)
    idle = graph.get(changes["@odata.deltaLink"], headers=prefer).json()
    assert idle["value"] == [] and "@odata.deltaLink" in idle
    assert client.calls("microsoft", unique_email) == {"graph.delta": 1, "total": 1}

    client.expire_delta("microsoft", unique_email)
    gone = graph.get(idle["@odata.deltaLink"])
    assert gone.status_code == 410
    client.expire_delta("microsoft", unique_email, status=400)
    bad = graph.get(idle["@odata.deltaLink"])
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "syncStateNotFound"


def test_graph_bounce_is_an_exchange_ndr(sandbox_server, unique_email):
    graph, api = graph_session(sandbox_server, unique_email)
    raw = make_raw(unique_email, "nobody@nonexistent.test, bounce.x@acme.test", email_id="55")
    graph.post(
        f"{api}/sendMail", data=base64.b64encode(raw), headers={"Content-Type": "text/plain"}
    ).raise_for_status()
    listing = graph.get(f"{api}/mailFolders/inbox/messages/delta").json()["value"]
    assert len(listing) == 1
    ndr = listing[0]
    assert ndr["subject"] == "Undeliverable: Quick question"
    assert ndr["from"]["emailAddress"]["name"] == "Microsoft Outlook"
    selected = graph.get(
        f"{api}/messages/{ndr['id']}",
        params={
            "$select": "internetMessageHeaders,subject",
            "$expand": "singleValueExtendedProperties($filter=id eq 'String 0x001A')",
        },
    ).json()
    assert selected["singleValueExtendedProperties"][0]["value"] == "REPORT.IPM.Note.NDR"
    assert any(h["name"] == "Content-Type" for h in selected["internetMessageHeaders"])
    mime = graph.get(f"{api}/messages/{ndr['id']}/$value")
    text = mime.content.decode()
    assert "5.1.10 RESOLVER.ADR.RecipientNotFound" in text
    assert "Status: 5.4.310" in text  # the unknown domain
    returned = parse(mime.content).get_payload()[2]
    assert returned.get_content_type() == "text/rfc822-headers"
    assert "X-Mailroom-Email-Id: 55" in returned.get_payload()
    assert parse(raw)["Message-ID"] in returned.get_payload()
