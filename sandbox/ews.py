"""Exchange Web Services of an on-premises Exchange 2016 server: ``/exchange/EWS/Exchange.asmx``.

What a client such as exchangelib needs to log in to a mailbox and send from it, over the same
SOAP 1.1 and HTTP the real server speaks:

- IIS Windows authentication: ``WWW-Authenticate: Negotiate, NTLM`` on 401; the NTLM handshake
  (NEGOTIATE -> CHALLENGE -> AUTHENTICATE) is checked for real against the login's password
  (sandbox/ntlm.py) and, like IIS, authenticates the keep-alive connection. HTTP Basic only when
  switched on (``ews_basic_auth``; Exchange 2016 ships with it off on /EWS). A wrong password is
  a 401 again, with the connection kept open.
- ``ConvertId`` (exchangelib's version probe: its dummy id answers ErrorInvalidIdMalformed),
  ``GetFolder`` (distinguished ids and the ids it returned), ``CreateItem`` with
  ``MessageDisposition`` SendOnly / SendAndSaveCopy and the message as ``MimeContent`` (or as
  Subject / Body / ToRecipients). Every answer carries ``ServerVersionInfo`` (15.1, Exchange 2016).
- Sent mail lands in the mailbox's ``sent`` list of the store (provider ``exchange``) with the
  client's own Message-ID; the magic recipients (sandbox/rules.py) put an Exchange NDR, a reply
  or an out-of-office into its inbox.
- Errors the way Exchange reports them: ResponseMessage errors (ErrorSendAsDenied when the MIME
  From is another mailbox, ErrorInvalidRecipients, ErrorSubmissionQuotaExceeded over the daily
  send limit, ErrorNonExistentMailbox / ErrorAccessDenied for another mailbox's folders) and
  SOAP faults (ErrorServerBusy with BackOffMilliseconds, HTTP 500; ErrorInvalidServerVersion;
  ErrorSchemaValidation for XML it cannot read). Faults added through the control API with a
  ``code`` answer that code; without one, the bare HTTP status.

FindItem on Sent Items or the Inbox, restricted (if at all) to one InternetMessageId: sent mail
is searchable by Message-ID.

Reading, the way a client tracks a folder (Microsoft's SyncFolderItems and GetItem reference):
- ``SyncFolderItems`` on the Inbox or Sent Items: without a ``SyncState`` every item of the
  folder, else the items that arrived since that state, oldest first, at most
  ``MaxChangesReturned`` (1..512) per answer, each a ``t:Create`` holding a ``t:Message`` with
  the ``ItemId`` and the properties the ``ItemShape`` asked for (IdOnly plus
  ``AdditionalProperties``; Default adds a summary set), in the schema's order;
  ``IncludesLastItemInRange`` false while more wait. The ``SyncState`` is an opaque base64 blob
  bound to the mailbox, the folder and the mailbox's sync epoch: a state the server no longer
  knows (``expire_delta`` on the mailbox bumps the epoch) or a garbled one answers
  ``ErrorInvalidSyncStateData`` with an empty ``SyncState``, as documented.
- ``GetItem`` by ``ItemId``: the same properties, and ``item:MimeContent`` (or
  ``IncludeMimeContent``) as base64 with its ``CharacterSet``; an unknown id is
  ``ErrorItemNotFound`` and a malformed one ``ErrorInvalidIdMalformed``, per item.
- Nothing is ever changed by reading; a write a reader should never make (UpdateItem,
  MoveItem, DeleteItem, MarkAsJunk, ...) is recorded in the mailbox's ``mutation_attempts``.

Autodiscover is sandbox/autodiscover.py. Not implemented: Kerberos (a SPNEGO token is
refused), the rest of EWS (it answers ErrorInvalidOperation), drafts (SaveOnly), attachments
as EWS objects (they travel inside MimeContent), Update / Delete / ReadFlagChange sync changes
(the sandbox's folders only grow and Mailroom marks nothing read).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time
import xml.etree.ElementTree as ET
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from xml.sax.saxutils import escape

from . import mime, ntlm
from .google import deliver_consequences
from .httpcore import Context, Request, Response
from .state import EwsUser, Fault, Mailbox, StoredMessage

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
M_NS = "http://schemas.microsoft.com/exchange/services/2006/messages"
T_NS = "http://schemas.microsoft.com/exchange/services/2006/types"
E_NS = "http://schemas.microsoft.com/exchange/services/2006/errors"
EWS_PATH = "/EWS/Exchange.asmx"

NETBIOS_DOMAIN = "SANDBOX"
NETBIOS_COMPUTER = "EXCH01"
DNS_DOMAIN = "sandbox.test"
# Exchange 2016 CU23. The versions a request may name in RequestServerVersion:
SERVER_VERSION = ("15", "1", "2507", "6", "V2017_07_11")
REQUEST_VERSIONS = {
    "Exchange2007",
    "Exchange2007_SP1",
    "Exchange2010",
    "Exchange2010_SP1",
    "Exchange2010_SP2",
    "Exchange2013",
    "Exchange2013_SP1",
    "Exchange2015",
    "Exchange2016",
    "V2015_10_05",
    "V2016_01_06",
    "V2016_04_13",
    "V2016_07_13",
    "V2016_10_10",
    "V2017_01_07",
    "V2017_04_14",
    "V2017_07_11",
}
FOLDERS = {  # distinguished id -> (display name, folder class)
    "root": ("Top of Information Store", ""),
    "msgfolderroot": ("Top of Information Store", "IPF.Note"),
    "inbox": ("Inbox", "IPF.Note"),
    "sentitems": ("Sent Items", "IPF.Note"),
    "drafts": ("Drafts", "IPF.Note"),
    "deleteditems": ("Deleted Items", "IPF.Note"),
    "outbox": ("Outbox", "IPF.Note"),
    "junkemail": ("Junk Email", "IPF.Note"),
}
MESSAGES = {
    "ErrorServerBusy": "The server cannot service this request right now. Try again later.",
    "ErrorSubmissionQuotaExceeded": "Cannot send message: the sender has exceeded the "
    "submission quota. 554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
    "ErrorQuotaExceeded": "The mailbox quota has been exceeded.",
    "ErrorMessageSizeExceeded": "The message exceeds the maximum supported size.",
    "ErrorInvalidRecipients": "At least one recipient isn't valid., A message can't be sent "
    "because it contains no recipients.",
    "ErrorSendAsDenied": "The user account which was used to submit this request does not have "
    "the right to send mail on behalf of the specified sending account., Cannot submit message.",
    "ErrorAccessDenied": "Access is denied. Check credentials and try again.",
    "ErrorNonExistentMailbox": "The SMTP address has no mailbox associated with it.",
    "ErrorItemNotFound": "The specified object was not found in the store., The process failed "
    "to get the correct properties.",
    "ErrorInvalidIdMalformed": "Id is malformed.",
    "ErrorInvalidOperation": "This operation isn't supported by the Mailroom sandbox.",
    "ErrorInternalServerError": "An internal server error occurred. The operation failed.",
    "ErrorInvalidSyncStateData": "Synchronization state data is corrupt or otherwise invalid.",
    "ErrorFolderNotFound": "The specified folder could not be found in the store.",
}
UNAUTHORIZED_PAGE = (
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN">\r\n<html><head>'
    b"<title>401 - Unauthorized: Access is denied due to invalid credentials.</title></head>"
    b"<body><h2>401 - Unauthorized: Access is denied due to invalid credentials.</h2>"
    b"<h3>You do not have permission to view this directory or page using the credentials "
    b"that you supplied.</h3></body></html>"
)


# --- authentication -------------------------------------------------------------------------
def _unauthorized(ctx: Context, req: Request) -> Response:
    offered = "Negotiate, NTLM"
    if ctx.store.ews_basic_auth:
        host = req.base_url.split("://", 1)[-1].split(":")[0]
        offered += f', Basic realm="{host}"'
    return Response(
        401,
        UNAUTHORIZED_PAGE,
        {
            "Content-Type": "text/html",
            "WWW-Authenticate": offered,
            "X-Powered-By": "ASP.NET",
        },
    )


def _login_failed(ctx: Context, req: Request) -> Response:
    with ctx.store.lock:
        ctx.store.ews_auth_failures += 1
    return _unauthorized(ctx, req)


def _password_for(ctx: Context, identity: ntlm.Identity) -> str | None:
    user = ctx.store.ews_user_for_login(identity.login)
    return user.password if user is not None else None


def authenticate(ctx: Context, req: Request) -> EwsUser | Response:
    """The logged-in user, or the 401 (or NTLM challenge) to answer."""
    value = req.header("authorization")
    if not value:
        # IIS keeps an NTLM-authenticated connection authenticated.
        login = req.connection.get("ews_login")
        user = ctx.store.ews_user_for_login(login) if login else None
        return user if user is not None else _unauthorized(ctx, req)
    scheme, _, token = value.strip().partition(" ")
    scheme_lower = scheme.lower()
    if scheme_lower in ("ntlm", "negotiate"):
        req.connection.pop("ews_login", None)
        try:
            message = base64.b64decode(token.strip(), validate=True)
            kind = ntlm.message_type(message)  # a Kerberos / SPNEGO token is not NTLMSSP
            if kind == 1:
                state = ntlm.challenge(
                    message,
                    netbios_domain=NETBIOS_DOMAIN,
                    netbios_computer=NETBIOS_COMPUTER,
                    dns_domain=DNS_DOMAIN,
                )
                req.connection["ntlm"] = state
                challenge = base64.b64encode(state.message).decode()
                return Response(
                    401,
                    UNAUTHORIZED_PAGE,
                    {"Content-Type": "text/html", "WWW-Authenticate": f"{scheme} {challenge}"},
                )
            state = req.connection.pop("ntlm", None)
            if kind != 3 or state is None:
                return _login_failed(ctx, req)
            identity = ntlm.authenticate(message, state, lambda who: _password_for(ctx, who))
        except (binascii.Error, ValueError, ntlm.NtlmError):
            return _login_failed(ctx, req)
        user = ctx.store.ews_user_for_login(identity.login)
        if user is None:
            return _login_failed(ctx, req)
        req.connection["ews_login"] = identity.login
        return user
    if scheme_lower == "basic" and ctx.store.ews_basic_auth:
        try:
            login, _, password = base64.b64decode(token.strip()).decode("utf-8").partition(":")
        except (binascii.Error, ValueError):
            return _login_failed(ctx, req)
        user = ctx.store.ews_user_for_login(login)
        if user is None or not _same(user.password, password):
            return _login_failed(ctx, req)
        return user
    return _login_failed(ctx, req)


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


# --- SOAP -----------------------------------------------------------------------------------
def _version_header() -> str:
    major, minor, build, minor_build, version = SERVER_VERSION
    return (
        f'<h:ServerVersionInfo MajorVersion="{major}" MinorVersion="{minor}" '
        f'MajorBuildNumber="{build}" MinorBuildNumber="{minor_build}" Version="{version}" '
        f'xmlns:h="{T_NS}" xmlns="{T_NS}" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
    )


def _envelope(body: str, *, with_version: bool = True) -> bytes:
    header = f"<s:Header>{_version_header()}</s:Header>" if with_version else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_NS}">{header}'
        '<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema">{body}</s:Body></s:Envelope>'
    ).encode()


def _soap(status: int, body: str, *, with_version: bool = True) -> Response:
    return Response(
        status,
        _envelope(body, with_version=with_version),
        {"Content-Type": "text/xml; charset=utf-8", "X-Powered-By": "ASP.NET"},
    )


def soap_fault(code: str, message: str = "", *, back_off_ms: int | None = None) -> Response:
    """A SOAP fault, HTTP 500, as Exchange sends for throttling and malformed requests."""
    message = message or MESSAGES.get(code, code)
    detail_xml = ""
    if back_off_ms is not None:
        detail_xml = (
            f'<t:MessageXml xmlns:t="{T_NS}">'
            f'<t:Value Name="BackOffMilliseconds">{back_off_ms}</t:Value></t:MessageXml>'
        )
    body = (
        "<s:Fault>"
        f'<faultcode xmlns:a="{T_NS}">a:{code}</faultcode>'
        f'<faultstring xml:lang="en-US">{escape(message)}</faultstring>'
        "<detail>"
        f'<e:ResponseCode xmlns:e="{E_NS}">{code}</e:ResponseCode>'
        f'<e:Message xmlns:e="{E_NS}">{escape(message)}</e:Message>'
        f"{detail_xml}</detail></s:Fault>"
    )
    return _soap(500, body, with_version=code != "ErrorSchemaValidation")


def _response(operation: str, messages: list[str]) -> Response:
    return _soap(
        200,
        f'<m:{operation}Response xmlns:m="{M_NS}" xmlns:t="{T_NS}">'
        f"<m:ResponseMessages>{''.join(messages)}</m:ResponseMessages>"
        f"</m:{operation}Response>",
    )


def _success(operation: str, inner: str = "") -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Success">'
        f"<m:ResponseCode>NoError</m:ResponseCode>{inner}</m:{operation}ResponseMessage>"
    )


def _error(operation: str, code: str, message: str = "", inner: str = "") -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Error">'
        f"<m:MessageText>{escape(message or MESSAGES.get(code, code))}</m:MessageText>"
        f"<m:ResponseCode>{code}</m:ResponseCode>"
        f"<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{inner}"
        f"</m:{operation}ResponseMessage>"
    )


def _fault_answer(fault: Fault, operation: str) -> Response:
    if not fault.code:
        if fault.status == 401:
            return Response(401, UNAUTHORIZED_PAGE, {"Content-Type": "text/html"})
        return Response(
            fault.status,
            b"<html><body><h1>Service Unavailable</h1></body></html>",
            {"Content-Type": "text/html", **_retry_after(fault)},
        )
    if fault.code == "ErrorServerBusy" or fault.status >= 500:
        back_off = (fault.retry_after or 5) * 1000 if fault.code == "ErrorServerBusy" else None
        return soap_fault(fault.code, back_off_ms=back_off)
    container = "<m:Items/>" if operation == "CreateItem" else ""
    return _response(operation, [_error(operation, fault.code, inner=container)])


def _retry_after(fault: Fault) -> dict[str, str]:
    return {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: ET.Element | None, path: str) -> str:
    if element is None:
        return ""
    found = element.find(path)
    return (found.text or "").strip() if found is not None and found.text else ""


# --- folders --------------------------------------------------------------------------------
def _folder_id(mb: Mailbox, name: str) -> str:
    digest = hashlib.sha256(f"{mb.email}/{name}".encode()).digest()
    return base64.b64encode(b"\x00\x00\x00\x00" + digest[:40]).decode()


def _folder_by_id(mb: Mailbox, folder_id: str) -> str | None:
    for name in FOLDERS:
        if _folder_id(mb, name) == folder_id:
            return name
    return None


def _folder_item_ids(mb: Mailbox, name: str) -> list[str]:
    """The folder's items, oldest first (call under the store's lock)."""
    if name == "inbox":
        return list(mb.inbox_ids)
    if name == "sentitems":
        return [i for i in mb.sent_ids if "SentItems" in mb.messages[i].labels]
    return []


def _folder_xml(ctx: Context, mb: Mailbox, name: str) -> str:
    display, folder_class = FOLDERS[name]
    with ctx.store.lock:
        ids = _folder_item_ids(mb, name)
        unread = sum(1 for i in ids if "UNREAD" in mb.messages[i].labels)
    parent = "root" if name in ("root", "msgfolderroot") else "msgfolderroot"
    class_xml = f"<t:FolderClass>{folder_class}</t:FolderClass>" if folder_class else ""
    change_key = base64.b64encode(f"{mb.seq}".encode()).decode()
    return (
        "<t:Folder>"
        f'<t:FolderId Id="{_folder_id(mb, name)}" ChangeKey="{change_key}"/>'
        f'<t:ParentFolderId Id="{_folder_id(mb, parent)}" ChangeKey="AQAAAA=="/>'
        f"{class_xml}<t:DisplayName>{escape(display)}</t:DisplayName>"
        f"<t:TotalCount>{len(ids)}</t:TotalCount>"
        f"<t:ChildFolderCount>0</t:ChildFolderCount>"
        f"<t:UnreadCount>{unread}</t:UnreadCount>"
        "</t:Folder>"
    )


def _target_mailbox(ctx: Context, user: EwsUser, folder: ET.Element) -> tuple[Mailbox | None, str]:
    """(mailbox, error code) for a folder id element that may name another mailbox."""
    address = _text(folder, f"{{{T_NS}}}Mailbox/{{{T_NS}}}EmailAddress").lower()
    if address and address != user.email:
        if ("exchange", address) not in ctx.store.mailboxes:
            return None, "ErrorNonExistentMailbox"
        return None, "ErrorAccessDenied"  # no delegate rights in the sandbox
    return ctx.store.mailbox("exchange", user.email), ""


def get_folder(ctx: Context, user: EwsUser, body: ET.Element) -> Response:
    messages = []
    ids = body.find(f"{{{M_NS}}}FolderIds")
    for element in list(ids) if ids is not None else []:
        kind = _local(element.tag)
        mb, problem = _target_mailbox(ctx, user, element)
        if mb is None:
            messages.append(_error("GetFolder", problem))
            continue
        if kind == "DistinguishedFolderId":
            name = element.get("Id", "")
            found = name if name in FOLDERS else None
        else:
            found = _folder_by_id(mb, element.get("Id", ""))
        if found is None:
            code = "ErrorInvalidIdMalformed" if kind == "FolderId" else "ErrorFolderNotFound"
            messages.append(_error("GetFolder", code))
            continue
        messages.append(
            _success("GetFolder", f"<m:Folders>{_folder_xml(ctx, mb, found)}</m:Folders>")
        )
    if not messages:
        return soap_fault("ErrorSchemaValidation", "The request failed schema validation.")
    return _response("GetFolder", messages)


def convert_id(ctx: Context, user: EwsUser, body: ET.Element) -> Response:
    ids = body.find(f"{{{M_NS}}}SourceIds")
    count = len(list(ids)) if ids is not None else 0
    return _response("ConvertId", [_error("ConvertId", "ErrorInvalidIdMalformed")] * max(count, 1))


# --- sending --------------------------------------------------------------------------------
def _mime_from_properties(message: ET.Element, user: EwsUser, mb: Mailbox) -> bytes:
    """A message given as EWS properties rather than MimeContent."""
    built = EmailMessage()
    built["From"] = formataddr((mb.display_name, mb.email))
    for element, header in (("ToRecipients", "To"), ("CcRecipients", "Cc")):
        people = message.findall(f"{{{T_NS}}}{element}/{{{T_NS}}}Mailbox")
        addresses = [
            formataddr((_text(p, f"{{{T_NS}}}Name"), _text(p, f"{{{T_NS}}}EmailAddress")))
            for p in people
        ]
        if addresses:
            built[header] = ", ".join(addresses)
    built["Subject"] = _text(message, f"{{{T_NS}}}Subject")
    built["Date"] = formatdate(localtime=False)
    built["Message-ID"] = make_msgid(domain=f"{NETBIOS_COMPUTER.lower()}.{DNS_DOMAIN}")
    body = message.find(f"{{{T_NS}}}Body")
    text = (body.text or "") if body is not None else ""
    if body is not None and body.get("BodyType", "").lower() == "html":
        built.set_content(text, subtype="html")
    else:
        built.set_content(text)
    return built.as_bytes()


def _send_one(
    ctx: Context, user: EwsUser, mb: Mailbox, message: ET.Element, save_copy: bool
) -> str:
    """Submit one message; returns the error ResponseCode, or "" when it went."""
    mime_content = message.find(f"{{{T_NS}}}MimeContent")
    if mime_content is not None:
        try:
            raw = base64.b64decode((mime_content.text or "").strip(), validate=True)
        except (binascii.Error, ValueError):
            return "ErrorMimeContentInvalidBase64String"
        if not raw.strip():
            return "ErrorMimeContentInvalid"
    else:
        raw = _mime_from_properties(message, user, mb)
    headers = mime.parse_headers(raw)
    extra = [
        _text(p, f"{{{T_NS}}}EmailAddress")
        for group in ("ToRecipients", "CcRecipients", "BccRecipients")
        for p in message.findall(f"{{{T_NS}}}{group}/{{{T_NS}}}Mailbox")
    ]
    to_addresses = list(dict.fromkeys(mime.recipients(headers) + [a for a in extra if a]))
    if not to_addresses:
        return "ErrorInvalidRecipients"
    sender = parseaddr(mime.header(headers, "From"))[1].lower()
    if sender and sender != mb.email:
        return "ErrorSendAsDenied"
    wait = ctx.store.reserve_send(mb)
    if wait is not None:
        return "ErrorSubmissionQuotaExceeded"
    raw, _ = mime.ensure_message_id(raw, f"{NETBIOS_COMPUTER.lower()}.{DNS_DOMAIN}")
    if not sender:
        raw = f"From: {formataddr((mb.display_name, mb.email))}\r\n".encode() + raw
    ctx.store.add_message(mb, raw, folder="sent", labels=["SentItems"] if save_copy else [])
    deliver_consequences(ctx, mb, raw, to_addresses)
    return ""


def create_item(ctx: Context, user: EwsUser, body: ET.Element) -> Response:
    disposition = body.get("MessageDisposition", "")
    if disposition not in ("SendOnly", "SendAndSaveCopy", "SaveOnly"):
        return soap_fault(
            "ErrorSchemaValidation",
            "The request failed schema validation: The 'MessageDisposition' attribute is invalid.",
        )
    if disposition == "SaveOnly":
        return _response(
            "CreateItem",
            [_error("CreateItem", "ErrorInvalidOperation", "The sandbox does not keep drafts.")],
        )
    mb = ctx.store.mailbox("exchange", user.email)
    saved_in = body.find(f"{{{M_NS}}}SavedItemFolderId")
    if saved_in is not None:
        if disposition == "SendOnly":
            return _response(
                "CreateItem",
                [
                    _error(
                        "CreateItem",
                        "ErrorInvalidRequest",
                        "SavedItemFolderId cannot be set when MessageDisposition is SendOnly.",
                    )
                ],
            )
        for element in list(saved_in):
            target, problem = _target_mailbox(ctx, user, element)
            if target is None:
                return _response("CreateItem", [_error("CreateItem", problem, inner="<m:Items/>")])
    items = body.find(f"{{{M_NS}}}Items")
    messages = items.findall(f"{{{T_NS}}}Message") if items is not None else []
    if not messages:
        return soap_fault("ErrorSchemaValidation", "The request failed schema validation.")
    answers = []
    for message in messages:
        problem = _send_one(ctx, user, mb, message, disposition == "SendAndSaveCopy")
        answers.append(
            _error("CreateItem", problem, inner="<m:Items/>")
            if problem
            else _success("CreateItem", "<m:Items/>")
        )
    return _response("CreateItem", answers)


def _message_id_restriction(body: ET.Element) -> str | None:
    """The Message-ID of a `<t:IsEqualTo>` on `message:InternetMessageId` in the Restriction;
    None without one. Other restrictions are not supported by the sandbox."""
    for equal in body.iter(f"{{{T_NS}}}IsEqualTo"):
        field = equal.find(f"{{{T_NS}}}FieldURI")
        constant = equal.find(f"{{{T_NS}}}FieldURIOrConstant/{{{T_NS}}}Constant")
        if field is not None and field.get("FieldURI") == "message:InternetMessageId":
            return constant.get("Value", "") if constant is not None else ""
    return None


def find_item(ctx: Context, user: EwsUser, body: ET.Element) -> Response:
    """FindItem on Sent Items or the Inbox (shallow), optionally restricted to one
    InternetMessageId: what a client asks to learn whether a message was already sent."""
    parents = body.find(f"{{{M_NS}}}ParentFolderIds")
    if parents is None or not len(parents):
        return soap_fault("ErrorSchemaValidation", "The request failed schema validation.")
    if body.find(f"{{{M_NS}}}Restriction") is not None and _message_id_restriction(body) is None:
        return _response(
            "FindItem",
            [
                _error(
                    "FindItem", "ErrorInvalidOperation", "The sandbox restricts on Message-ID only."
                )
            ],
        )
    wanted = _message_id_restriction(body)
    answers = []
    for element in list(parents):
        mb, problem = _target_mailbox(ctx, user, element)
        if mb is None:
            answers.append(_error("FindItem", problem))
            continue
        if _local(element.tag) == "DistinguishedFolderId":
            name = element.get("Id", "")
        else:
            name = _folder_by_id(mb, element.get("Id", "")) or ""
        if name not in ("inbox", "sentitems"):
            answers.append(_error("FindItem", "ErrorFolderNotFound"))
            continue
        with ctx.store.lock:
            ids = _folder_item_ids(mb, name)
            found = [
                mb.messages[i]
                for i in reversed(ids)
                if wanted is None or mb.messages[i].message_id == wanted
            ]
        items = "".join(
            f'<t:Message><t:ItemId Id="{escape(m.id)}" ChangeKey="CQAAABYAAAA{m.seq}"/>'
            f"<t:InternetMessageId>{escape(m.message_id)}</t:InternetMessageId></t:Message>"
            for m in found
        )
        answers.append(
            _success(
                "FindItem",
                f'<m:RootFolder IndexedPagingOffset="{len(found)}" TotalItemsInView='
                f'"{len(found)}" IncludesLastItemInRange="true"><t:Items>{items}</t:Items>'
                "</m:RootFolder>",
            )
        )
    return _response("FindItem", answers)


# --- reading: SyncFolderItems, GetItem ------------------------------------------------------
MAX_SYNC_CHANGES = 512
_SYNC_STATE_TAG = b"MRsync1"
_SYNC_STATE_KEY = b"mailroom-sandbox-ews-sync-state"
# What BaseShape Default returns for a message besides its ItemId (a summary, as Exchange's).
DEFAULT_FIELDS = (
    "item:ItemClass",
    "item:Subject",
    "item:DateTimeReceived",
    "item:Size",
    "item:HasAttachments",
    "message:From",
    "message:InternetMessageId",
    "message:IsRead",
)
# Mutations a mailbox reader must never make: recorded, then refused as unsupported.
MUTATIONS = {
    "UpdateItem",
    "MoveItem",
    "CopyItem",
    "DeleteItem",
    "SendItem",
    "MarkAsJunk",
    "MarkAllItemsAsRead",
    "EmptyFolder",
    "ArchiveItem",
    "UpdateFolder",
    "DeleteFolder",
}


def _sync_state(mb: Mailbox, folder: str, seq: int) -> str:
    """An opaque state for "everything up to change `seq`" of this mailbox's folder."""
    body = _SYNC_STATE_TAG + struct.pack(">Q", seq)
    tag = hmac.new(
        _SYNC_STATE_KEY, f"{mb.email}/{folder}/{mb.delta_epoch}".encode() + body, hashlib.sha256
    ).digest()[:16]
    return base64.b64encode(body + tag).decode()


def _sync_state_seq(mb: Mailbox, folder: str, state: str) -> int | None:
    """The change number a state stands for; None when it is not one of this folder's states
    in the mailbox's current epoch (garbled, truncated, another folder's, or expired)."""
    try:
        blob = base64.b64decode(state.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(blob) != len(_SYNC_STATE_TAG) + 8 + 16 or not blob.startswith(_SYNC_STATE_TAG):
        return None
    (seq,) = struct.unpack(">Q", blob[len(_SYNC_STATE_TAG) : len(_SYNC_STATE_TAG) + 8])
    return seq if hmac.compare_digest(_sync_state(mb, folder, seq), state.strip()) else None


def _shape(body: ET.Element) -> tuple[set[str], bool]:
    """(the FieldURIs an ItemShape asks for, whether it asks for the MIME content)."""
    shape = body.find(f"{{{M_NS}}}ItemShape")
    if shape is None:
        return set(), False
    base = _text(shape, f"{{{T_NS}}}BaseShape")
    fields = set(DEFAULT_FIELDS) if base in ("Default", "AllProperties") else set()
    for uri in shape.iterfind(f"{{{T_NS}}}AdditionalProperties/{{{T_NS}}}FieldURI"):
        fields.add(uri.get("FieldURI", ""))
    with_mime = _text(shape, f"{{{T_NS}}}IncludeMimeContent").lower() == "true"
    return fields, with_mime or "item:MimeContent" in fields


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _item_class(message: StoredMessage) -> str:
    """Exchange's message class, read from what the message is."""
    headers = message.headers
    content_type = mime.header(headers, "Content-Type").lower()
    if "x-ms-exchange-message-is-ndr" in {name.lower() for name, _ in headers} or (
        "multipart/report" in content_type and "delivery-status" in content_type
    ):
        return "REPORT.IPM.Note.NDR"
    if mime.header(headers, "X-Autoreply") or mime.header(headers, "Auto-Submitted").lower() == (
        "auto-replied"
    ):
        return "IPM.Note.Rules.OofTemplate.Microsoft"
    return "IPM.Note"


def _mailbox_element(tag: str, value: str) -> str:
    name, address = parseaddr(value)
    if not address:
        return ""
    return (
        f"<t:{tag}><t:Mailbox><t:Name>{escape(name or address)}</t:Name>"
        f"<t:EmailAddress>{escape(address)}</t:EmailAddress>"
        f"<t:RoutingType>SMTP</t:RoutingType><t:MailboxType>OneOff</t:MailboxType>"
        f"</t:Mailbox></t:{tag}>"
    )


def _message_xml(mb: Mailbox, message: StoredMessage, fields: set[str], with_mime: bool) -> str:
    """One t:Message with the asked-for properties the sandbox knows, in the order of the
    types schema's ItemType then MessageType sequence (a client may rely on it)."""
    headers = message.headers
    parts = []
    if with_mime:
        content = base64.b64encode(message.raw).decode()
        parts.append(f'<t:MimeContent CharacterSet="UTF-8">{content}</t:MimeContent>')
    parts.append(f'<t:ItemId Id="{escape(message.id)}" ChangeKey="CQAAABYAAAA{message.seq}"/>')
    if "item:ParentFolderId" in fields:
        folder = "inbox" if message.folder == "inbox" else "sentitems"
        parts.append(f'<t:ParentFolderId Id="{_folder_id(mb, folder)}" ChangeKey="AQAAAA=="/>')
    if "item:ItemClass" in fields:
        parts.append(f"<t:ItemClass>{_item_class(message)}</t:ItemClass>")
    if "item:Subject" in fields:
        parts.append(f"<t:Subject>{escape(mime.decoded_header(headers, 'Subject'))}</t:Subject>")
    if "item:DateTimeReceived" in fields:
        parts.append(f"<t:DateTimeReceived>{_when(message.internal_date)}</t:DateTimeReceived>")
    if "item:Size" in fields:
        parts.append(f"<t:Size>{len(message.raw)}</t:Size>")
    in_reply_to = mime.header(headers, "In-Reply-To")
    if "item:InReplyTo" in fields and in_reply_to:
        parts.append(f"<t:InReplyTo>{escape(in_reply_to)}</t:InReplyTo>")
    if "item:DateTimeSent" in fields:
        parts.append(f"<t:DateTimeSent>{_when(message.internal_date)}</t:DateTimeSent>")
    if "item:DateTimeCreated" in fields:
        parts.append(f"<t:DateTimeCreated>{_when(message.internal_date)}</t:DateTimeCreated>")
    if "item:HasAttachments" in fields:
        has = "multipart/mixed" in mime.header(headers, "Content-Type").lower()
        parts.append(f"<t:HasAttachments>{'true' if has else 'false'}</t:HasAttachments>")
    sender = mime.decoded_header(headers, "Sender") or mime.decoded_header(headers, "From")
    if "message:Sender" in fields:
        parts.append(_mailbox_element("Sender", sender))
    if "message:From" in fields:
        parts.append(_mailbox_element("From", mime.decoded_header(headers, "From")))
    if "message:InternetMessageId" in fields and message.message_id:
        parts.append(f"<t:InternetMessageId>{escape(message.message_id)}</t:InternetMessageId>")
    if "message:IsRead" in fields:
        parts.append(f"<t:IsRead>{'false' if 'UNREAD' in message.labels else 'true'}</t:IsRead>")
    references = mime.header(headers, "References")
    if "message:References" in fields and references:
        parts.append(f"<t:References>{escape(references)}</t:References>")
    return f"<t:Message>{''.join(parts)}</t:Message>"


def _sync_folder(ctx: Context, user: EwsUser, body: ET.Element) -> tuple[Mailbox | None, str]:
    """(mailbox, folder name) of the SyncFolderId, or (None, error code)."""
    target = body.find(f"{{{M_NS}}}SyncFolderId")
    element = next(iter(target), None) if target is not None else None
    if element is None:
        return None, "ErrorSchemaValidation"
    mb, problem = _target_mailbox(ctx, user, element)
    if mb is None:
        return None, problem
    if _local(element.tag) == "DistinguishedFolderId":
        name = element.get("Id", "")
        return (mb, name) if name in FOLDERS else (None, "ErrorFolderNotFound")
    found = _folder_by_id(mb, element.get("Id", ""))
    return (mb, found) if found else (None, "ErrorInvalidIdMalformed")


def _sync_error(code: str) -> str:
    return _error(
        "SyncFolderItems",
        code,
        inner="<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>",
    )


def sync_folder_items(ctx: Context, user: EwsUser, body: ET.Element) -> Response:
    mb, folder = _sync_folder(ctx, user, body)
    if mb is None:
        if folder == "ErrorSchemaValidation":
            return soap_fault(folder, "The request failed schema validation.")
        return _response("SyncFolderItems", [_sync_error(folder)])
    try:
        limit = int(_text(body, f"{{{M_NS}}}MaxChangesReturned") or "0")
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_SYNC_CHANGES:
        return soap_fault(
            "ErrorSchemaValidation",
            "The request failed schema validation: MaxChangesReturned must be 1 to 512.",
        )
    state = _text(body, f"{{{M_NS}}}SyncState")
    after = 0
    if state:
        known = _sync_state_seq(mb, folder, state)
        if known is None:
            return _response("SyncFolderItems", [_sync_error("ErrorInvalidSyncStateData")])
        after = known
    ignored = {
        element.get("Id", "") for element in body.iterfind(f"{{{M_NS}}}Ignore/{{{T_NS}}}ItemId")
    }
    fields, _ = _shape(body)
    with ctx.store.lock:
        newer = [mb.messages[i] for i in _folder_item_ids(mb, folder) if mb.messages[i].seq > after]
        current = mb.seq
    page, rest = newer[:limit], newer[limit:]
    upto = page[-1].seq if rest else max(current, after)
    changes = "".join(
        f"<t:Create>{_message_xml(mb, message, fields, with_mime=False)}</t:Create>"
        for message in page
        if message.id not in ignored
    )
    inner = (
        f"<m:SyncState>{_sync_state(mb, folder, upto)}</m:SyncState>"
        f"<m:IncludesLastItemInRange>{'false' if rest else 'true'}</m:IncludesLastItemInRange>"
        f"<m:Changes>{changes}</m:Changes>"
    )
    return _response("SyncFolderItems", [_success("SyncFolderItems", inner)])


def get_item(ctx: Context, user: EwsUser, body: ET.Element) -> Response:
    ids = body.find(f"{{{M_NS}}}ItemIds")
    elements = list(ids) if ids is not None else []
    if not elements:
        return soap_fault("ErrorSchemaValidation", "The request failed schema validation.")
    fields, with_mime = _shape(body)
    mb = ctx.store.mailbox("exchange", user.email)
    answers = []
    for element in elements:
        item_id = element.get("Id", "")
        with ctx.store.lock:
            message = mb.messages.get(item_id)
        if message is None:
            code = "ErrorItemNotFound" if item_id.startswith("AAMk") else "ErrorInvalidIdMalformed"
            answers.append(_error("GetItem", code, inner="<m:Items/>"))
            continue
        answers.append(
            _success(
                "GetItem", f"<m:Items>{_message_xml(mb, message, fields, with_mime)}</m:Items>"
            )
        )
    return _response("GetItem", answers)


def _mutation_refused(ctx: Context, user: EwsUser, operation: str) -> Response:
    mb = ctx.store.mailbox("exchange", user.email)
    with ctx.store.lock:
        mb.mutation_attempts.append(
            {"method": "POST", "path": f"ews/{operation}", "at": time.time()}
        )
    return _response(operation, [_error(operation, "ErrorInvalidOperation")])


OPERATIONS = {
    "GetFolder": get_folder,
    "ConvertId": convert_id,
    "CreateItem": create_item,
    "FindItem": find_item,
    "SyncFolderItems": sync_folder_items,
    "GetItem": get_item,
}


def ews(ctx: Context, req: Request) -> Response:
    if req.method != "POST":
        # GET on /EWS/Exchange.asmx without credentials is a 401 on a real server too.
        user_or_error = authenticate(ctx, req)
        if isinstance(user_or_error, Response):
            return user_or_error
        return Response(
            200,
            b"<html><body>You have created a service.</body></html>",
            {"Content-Type": "text/html"},
        )
    user_or_error = authenticate(ctx, req)
    if isinstance(user_or_error, Response):
        return user_or_error
    user = user_or_error
    if b"<!DOCTYPE" in req.body[:4096].upper():
        # EWS refuses DTDs; refusing them here also keeps entity expansion out of the parser.
        return soap_fault("ErrorSchemaValidation", "DTD is prohibited in this XML document.")
    try:
        envelope = ET.fromstring(req.body)  # noqa: S314 - no DTD (above), stdlib expat
    except ET.ParseError:
        return soap_fault("ErrorSchemaValidation", "The request failed schema validation.")
    header = envelope.find(f"{{{SOAP_NS}}}Header")
    version = header.find(f"{{{T_NS}}}RequestServerVersion") if header is not None else None
    if version is not None and version.get("Version") not in REQUEST_VERSIONS:
        return soap_fault("ErrorInvalidServerVersion", "The specified server version is invalid.")
    body = envelope.find(f"{{{SOAP_NS}}}Body")
    operation_element = next(iter(body), None) if body is not None else None
    if operation_element is None:
        return soap_fault("ErrorSchemaValidation", "The request failed schema validation.")
    operation = _local(operation_element.tag)
    mb = ctx.store.mailbox("exchange", user.email)
    endpoint = f"ews.{operation}"
    ctx.store.count_call(mb, endpoint)
    fault = ctx.store.take_fault(mb, "api", endpoint)
    if fault:
        return _fault_answer(fault, operation)
    if operation in MUTATIONS:
        return _mutation_refused(ctx, user, operation)
    handler = OPERATIONS.get(operation)
    if handler is None:
        return _response(operation, [_error(operation, "ErrorInvalidOperation")])
    return handler(ctx, user, operation_element)


def route(ctx: Context, req: Request, rest: str) -> Response | None:
    """``rest`` is the path after ``/exchange``."""
    if rest.lower() == EWS_PATH.lower():
        return ews(ctx, req)
    return None
