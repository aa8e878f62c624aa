"""The sandbox's EWS reading operations (SyncFolderItems, GetItem with MimeContent) checked by
exchangelib, a client nobody here wrote: it pages through the inbox's changes with the sync
state as its cursor, is told ErrorInvalidSyncStateData for a state the server forgot, reads each
message's MIME as stored, and every element the sandbox answers with is one exchangelib's
models declare, in the order of the EWS types schema its models follow (exchangelib reads by
tag, so an unknown or misnamed element would otherwise be dropped without a word)."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET

import pytest
import requests
from exchangelib import DELEGATE, Account, Configuration, Credentials, Message
from exchangelib.errors import (
    ErrorInvalidSyncStateData,
    ErrorItemNotFound,
    ErrorSubscriptionNotFound,
)
from exchangelib.folders import Inbox, Root
from exchangelib.properties import Mailbox
from exchangelib.services import SyncFolderItems
from requests_ntlm import HttpNtlmAuth

from tests.sandbox.helpers import make_raw

PASSWORD = "Winter-2026!"  # noqa: S105 - a sandbox mailbox's password
M = "{http://schemas.microsoft.com/exchange/services/2006/messages}"
T = "{http://schemas.microsoft.com/exchange/services/2006/types}"
LISTED = ["item_class", "subject", "datetime_received", "author", "message_id", "in_reply_to"]
# SyncFolderItemsResponseMessage's sequence (Microsoft's reference for the element).
RESPONSE_ORDER = [
    "MessageText",
    "ResponseCode",
    "DescriptiveLinkKey",
    "MessageXml",
    "SyncState",
    "IncludesLastItemInRange",
    "Changes",
]


@pytest.fixture
def mailbox(sandbox_server, unique_email):
    sandbox_server.client.add_ews_user(unique_email, PASSWORD)
    return unique_email


def _account(sandbox_server, address: str) -> Account:
    return Account(
        primary_smtp_address=address,
        config=Configuration(
            service_endpoint=sandbox_server.ews_url, credentials=Credentials(address, PASSWORD)
        ),
        autodiscover=False,
        access_type=DELEGATE,
    )


def _sync(account: Account, state: str | None, *, limit: int = 100, fields=LISTED):
    """One SyncFolderItems call on the inbox: (changes, new state, includes last item)."""
    inbox = Inbox(root=Root(account=account))
    additional = {f for f in inbox.normalize_fields(fields=fields) if not f.field.is_attribute}
    service = SyncFolderItems(account=account)
    changes = list(
        service.call(
            folder=inbox,
            shape="IdOnly",
            additional_fields=additional,
            sync_state=state,
            ignore=None,
            max_changes_returned=limit,
            sync_scope="NormalItems",
        )
    )
    return changes, service.sync_state, service.includes_last_item_in_range


def _inject(sandbox_server, mailbox: str, count: int) -> list[bytes]:
    raws = [
        make_raw(f"ana{n}@prospect.test", mailbox, subject=f"Re: question {n}")
        for n in range(count)
    ]
    for raw in raws:
        sandbox_server.client.inject("exchange", mailbox, raw)
    return raws


def test_exchangelib_pages_through_the_inbox_with_the_sync_state(sandbox_server, mailbox):
    account = _account(sandbox_server, mailbox)
    _inject(sandbox_server, mailbox, 5)

    pages, state, last = [], None, False
    while not last:
        changes, state, last = _sync(account, state, limit=2)
        pages.append([item.subject for kind, item in changes if kind == "create"])

    assert pages == [
        ["Re: question 0", "Re: question 1"],
        ["Re: question 2", "Re: question 3"],
        ["Re: question 4"],
    ]
    assert _sync(account, state)[0] == []
    _inject(sandbox_server, mailbox, 1)
    [(kind, item)] = _sync(account, state)[0]
    assert (kind, item.subject) == ("create", "Re: question 0")
    assert item.author.email_address == "ana0@prospect.test"
    assert item.item_class == "IPM.Note"
    assert item.message_id.startswith("<") and item.datetime_received is not None


def test_a_state_the_server_forgot_is_invalid_sync_state_data(sandbox_server, mailbox):
    account = _account(sandbox_server, mailbox)
    _inject(sandbox_server, mailbox, 1)
    _, state, _ = _sync(account, None)

    sandbox_server.client.expire_delta("exchange", mailbox)

    with pytest.raises(ErrorInvalidSyncStateData):
        _sync(account, state)
    with pytest.raises(ErrorInvalidSyncStateData):
        _sync(account, state[:-4] + "AAA=")
    changes, _, last = _sync(account, None)
    assert len(changes) == 1 and last


def test_get_item_hands_over_the_mime_as_stored_and_changes_nothing(sandbox_server, mailbox):
    account = _account(sandbox_server, mailbox)
    [raw] = _inject(sandbox_server, mailbox, 1)
    [(_, listed)] = _sync(account, None)[0]

    [fetched, missing] = list(
        account.fetch(
            ids=[(listed.id, listed.changekey), ("AAMkAGI2gone", "CQAAAA")],
            only_fields=["mime_content"],
        )
    )

    assert fetched.mime_content == raw
    assert isinstance(missing, ErrorItemNotFound)
    [(_, again)] = _sync(account, None, fields=["is_read"])[0]
    assert again.is_read is False
    assert sandbox_server.client.mutation_attempts("exchange", mailbox) == []


def test_a_bounce_sent_through_ews_is_listed_as_an_ndr(sandbox_server, mailbox):
    account = _account(sandbox_server, mailbox)
    Message(account=account, mime_content=make_raw(mailbox, "bounce.jamie@northwind.test")).send(
        save_copy=True
    )

    [(_, ndr)] = _sync(account, None)[0]

    assert ndr.item_class == "REPORT.IPM.Note.NDR"
    assert ndr.subject.startswith("Undeliverable:")


def test_every_element_answered_is_one_exchangelib_declares_in_schema_order(
    sandbox_server, mailbox
):
    _inject(sandbox_server, mailbox, 1)
    uris = [
        "item:ItemClass",
        "item:Subject",
        "item:DateTimeReceived",
        "item:Size",
        "item:InReplyTo",
        "item:DateTimeSent",
        "item:HasAttachments",
        "message:Sender",
        "message:From",
        "message:InternetMessageId",
        "message:IsRead",
        "message:References",
    ]
    properties = "".join(f'<t:FieldURI FieldURI="{uri}"/>' for uri in uris)
    envelope = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
        'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
        '<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body>'
        "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>"
        f"<t:AdditionalProperties>{properties}</t:AdditionalProperties></m:ItemShape>"
        '<m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId>'
        "<m:MaxChangesReturned>10</m:MaxChangesReturned></m:SyncFolderItems>"
        "</s:Body></s:Envelope>"
    )
    answer = requests.post(
        sandbox_server.ews_url,
        data=envelope.encode(),
        headers={"Content-Type": "text/xml; charset=utf-8"},
        auth=HttpNtlmAuth(mailbox, PASSWORD),
        timeout=10,
    )
    assert answer.status_code == 200
    root = ET.fromstring(answer.content)  # noqa: S314 - the sandbox's own answer
    [message] = root.iter(f"{M}SyncFolderItemsResponseMessage")
    names = [child.tag.removeprefix(M) for child in message]
    assert names == [n for n in RESPONSE_ORDER if n in names]
    assert {"ResponseCode", "SyncState", "IncludesLastItemInRange", "Changes"} <= set(names)

    [item] = message.iter(f"{T}Message")
    declared = [field.response_tag() for field in Message.FIELDS]
    tags = [child.tag for child in item]
    assert all(tag in declared for tag in tags), set(tags) - set(declared)
    assert tags == sorted(tags, key=declared.index)
    answered = {child.tag.removeprefix(T) for child in item}
    assert answered >= {uri.split(":")[1] for uri in uris} - {"InReplyTo", "References"}

    mailbox_fields = [
        f"{T}{field.field_uri}" for field in Mailbox.FIELDS if field.name != "item_id"
    ]
    for person in item.iter(f"{T}Mailbox"):
        parts = [child.tag for child in person]
        assert all(tag in mailbox_fields for tag in parts)
        assert parts == sorted(parts, key=mailbox_fields.index)


def test_exchangelib_hears_new_mail_on_a_streaming_subscription(sandbox_server, mailbox):
    """Subscribe (streaming) and GetStreamingEvents as exchangelib speaks them: a message that
    arrives while the answer is open is announced as a NewMailEvent in the Inbox, on the same
    connection, and the answer ends with ConnectionStatus Closed when its time is up."""
    account = _account(sandbox_server, mailbox)
    inbox = account.inbox  # (a GetFolder: exchangelib subscribes by folder id)
    subscription = inbox.subscribe_to_streaming(event_types=["NewMailEvent"])
    threading.Timer(0.5, _inject, (sandbox_server, mailbox, 1)).start()
    heard = []
    for notification in inbox.get_streaming_events(subscription, connection_timeout=1):
        heard += [type(event).__name__ for event in notification.events]
        if heard:
            break
    assert heard == ["NewMailEvent"]
    inbox.unsubscribe(subscription)


def test_an_unknown_or_ended_subscription_is_subscription_not_found(sandbox_server, mailbox):
    account = _account(sandbox_server, mailbox)
    inbox = account.inbox  # (a GetFolder: exchangelib subscribes by folder id)
    subscription = inbox.subscribe_to_streaming(event_types=["NewMailEvent"])
    inbox.unsubscribe(subscription)
    with pytest.raises(ErrorSubscriptionNotFound):
        list(inbox.get_streaming_events(subscription, connection_timeout=1))
    with pytest.raises(ErrorSubscriptionNotFound):
        inbox.unsubscribe(subscription)
