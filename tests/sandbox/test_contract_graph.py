"""The sandbox's Microsoft Graph mail API, checked by a client nobody here wrote: Microsoft's
msgraph-sdk (kiota-generated, with its default middleware: retry on 429 honouring Retry-After,
redirects) drives every call Mailroom makes — /me, sendMail in the SDK's JSON casing, the inbox
delta in its `…/messages/delta()` URL form with paging to the delta link, the raw MIME of a
message ($value), Sent Items filtered on internetMessageId — and reads Graph's error shapes."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from kiota_abstractions.authentication import AccessTokenProvider, AllowedHostsValidator
from kiota_abstractions.authentication.base_bearer_token_authentication_provider import (
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.internet_message_header import InternetMessageHeader
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.message import Message
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.recipient import Recipient
from msgraph.generated.users.item.mail_folders.item.messages.messages_request_builder import (
    MessagesRequestBuilder,
)
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import (
    SendMailPostRequestBody,
)
from msgraph.graph_request_adapter import GraphRequestAdapter

GRAPH_SCOPES = ["openid", "offline_access", "User.Read", "Mail.Send", "Mail.Read"]


class _StaticToken(AccessTokenProvider):
    def __init__(self, token: str) -> None:
        self.token = token

    async def get_authorization_token(self, uri, additional_authentication_context=None) -> str:
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([])


def _graph(sandbox, address: str, scopes: list[str]) -> GraphServiceClient:
    grant = sandbox.client.grant("microsoft", address, scopes=scopes)
    auth = BaseBearerTokenAuthenticationProvider(_StaticToken(grant["access_token"]))
    # The SDK's own HTTP client and middleware (retry, redirect, the /users/me-token-to-replace
    # → /me rewrite), only the base URL changed.
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = f"{sandbox.http_url}/microsoft/graph/v1.0"
    return GraphServiceClient(request_adapter=adapter)


@pytest.fixture
def mailbox(sandbox, unique_email):
    return unique_email, _graph(sandbox, unique_email, GRAPH_SCOPES)


_LOOP = asyncio.new_event_loop()  # one loop: the SDK's HTTP client stays bound to it


def _run(coroutine):
    return _LOOP.run_until_complete(coroutine)


def _ndr(address: str, n: int) -> bytes:
    return (
        f"From: Microsoft Outlook <postmaster@acme.test>\r\nTo: {address}\r\n"
        f"Subject: Undeliverable: hello {n}\r\nMessage-ID: <ndr-{n}-{uuid.uuid4().hex}@acme.test>"
        "\r\n\r\nDelivery has failed to these recipients.\r\n"
    ).encode()


def test_me_and_send_mail_in_the_sdks_json(sandbox, mailbox):
    address, graph = mailbox
    body = SendMailPostRequestBody(
        message=Message(
            subject="Sent by msgraph-sdk",
            body=ItemBody(content_type=BodyType.Text, content="Hello from the SDK."),
            to_recipients=[Recipient(email_address=EmailAddress(address="ana@customer.test"))],
            internet_message_headers=[
                InternetMessageHeader(name="X-Mailroom-Email-Id", value="contract-1")
            ],
        ),
        save_to_sent_items=True,
    )

    me = _run(graph.me.get())
    _run(graph.me.send_mail.post(body))

    assert me.mail == address or me.user_principal_name == address
    [sent] = sandbox.client.sent("microsoft", address)
    assert b"Subject: Sent by msgraph-sdk" in sent["raw_bytes"]
    assert b"X-Mailroom-Email-Id: contract-1" in sent["raw_bytes"]
    assert b"ana@customer.test" in sent["raw_bytes"]


def test_inbox_delta_pages_to_a_delta_link_then_raw_mime(sandbox, mailbox):
    address, graph = mailbox
    for n in range(3):
        sandbox.client.inject("microsoft", address, _ndr(address, n))

    async def walk():
        delta = graph.me.mail_folders.by_mail_folder_id("inbox").messages.delta
        page = await delta.get()
        ids = [m.id for m in page.value]
        pages = 1
        while page.odata_next_link:
            page = await delta.with_url(page.odata_next_link).get()
            ids += [m.id for m in page.value]
            pages += 1
        first_raw = await graph.me.messages.by_message_id(ids[0]).content.get()
        return ids, page.odata_delta_link, first_raw

    ids, delta_link, raw = _run(walk())

    assert len(ids) == 3 and delta_link
    assert raw.startswith(b"From: Microsoft Outlook")

    sandbox.client.inject("microsoft", address, _ndr(address, 9))

    async def again():
        delta = graph.me.mail_folders.by_mail_folder_id("inbox").messages.delta
        return await delta.with_url(delta_link).get()

    later = _run(again())
    assert len(later.value) == 1


def test_sent_items_are_found_by_internet_message_id(sandbox, mailbox):
    address, graph = mailbox
    body = SendMailPostRequestBody(
        message=Message(
            subject="Find me",
            body=ItemBody(content_type=BodyType.Text, content="x"),
            to_recipients=[Recipient(email_address=EmailAddress(address="ana@customer.test"))],
        )
    )
    _run(graph.me.send_mail.post(body))
    [sent] = sandbox.client.sent("microsoft", address)
    message_id = sent["message_id"]

    def query(value: str):
        params = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(
            filter=f"internetMessageId eq '{value}'", select=["id", "internetMessageId"]
        )
        config = RequestConfiguration(query_parameters=params)
        sent_items = graph.me.mail_folders.by_mail_folder_id("sentitems").messages
        return _run(sent_items.get(request_configuration=config))

    found = query(message_id)
    assert [m.internet_message_id for m in found.value] == [message_id]
    assert query("<nobody@nowhere.test>").value == []


def test_a_429_is_retried_by_the_sdk_honouring_retry_after(sandbox, mailbox):
    address, graph = mailbox
    sandbox.client.add_fault("microsoft", address, 429, count=1, retry_after=1)

    me = _run(graph.me.get())

    assert me is not None
    assert sandbox.client.calls("microsoft", address)["graph.me"] == 2


@pytest.mark.parametrize(
    "status, code",
    [(404, "ErrorItemNotFound"), (403, "ErrorAccessDenied")],
)
def test_graph_error_shapes_read_by_the_sdk(sandbox, unique_email, status, code):
    if status == 403:
        # A grant without Mail.Read: reading the inbox is refused as Graph refuses it.
        graph = _graph(sandbox, unique_email, ["openid", "User.Read", "Mail.Send"])
        call = graph.me.mail_folders.by_mail_folder_id("inbox").messages.delta.get()
    else:
        graph = _graph(sandbox, unique_email, GRAPH_SCOPES)
        call = graph.me.messages.by_message_id("AAMkADoesNotExist").get()

    with pytest.raises(ODataError) as caught:
        _run(call)

    assert caught.value.response_status_code == status
    assert caught.value.error.code == code
