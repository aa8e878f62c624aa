"""Microsoft look-alike: the identity platform (login.microsoftonline.com, v2.0 endpoints and the
OpenID discovery documents msal fetches) under ``/microsoft/login`` and Microsoft Graph mail
(graph.microsoft.com/v1.0) under ``/microsoft/graph``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import quote, unquote

from . import graph_notifications, mime
from .google import client_credentials, deliver_consequences, pkce_ok
from .httpcore import (
    Context,
    Request,
    Response,
    add_query,
    consent_language,
    consent_page,
    error_page,
    granted_scopes,
    json_response,
    jwt_encode,
    now_rfc3339,
    redirect,
    request_ids,
)
from .state import AccessToken, Grant, Mailbox, SandboxError, StoredMessage, normalize_scopes

OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
USER_SCOPES = {"user.read", "user.readwrite", "user.readbasic.all", "user.read.all"}
SEND_SCOPES = {"mail.send"}
READ_SCOPES = {"mail.read", "mail.readwrite", "mail.readbasic"}
# The sign-in basics are always granted; the sandbox lets the user untick the others, as
# Google's granular consent does (Entra's own page is all or nothing).
SIGN_IN_SCOPES = OIDC_SCOPES - {"offline_access"} | {"user.read"}
DEFAULT_DELTA_PAGE = 10
MAX_DELTA_PAGE = 1000
GRAPH = "https://graph.microsoft.com/"
AAD_ERRORS = {
    "revoked": (
        50173,
        "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token "
        "is needed. The user might have changed or reset their password.",
    ),
    "expired": (
        700082,
        "AADSTS700082: The refresh token has expired due to inactivity. The token was issued on "
        "2025-01-01T00:00:00Z and was inactive for 90.00:00:00.",
    ),
    "rotated": (
        70000,
        "AADSTS70000: Provided grant is invalid or malformed. (sandbox: this refresh token was "
        "replaced by a newer one and its grace window has ended)",
    ),
    "unknown": (9002313, "AADSTS9002313: Invalid request. Request is malformed or invalid."),
    "code": (
        70000,
        "AADSTS70000: Provided grant is invalid or malformed. The authorization code is unknown, "
        "expired or already redeemed.",
    ),
    "consent": (
        65001,
        "AADSTS65001: The user or administrator has not consented to use the application.",
    ),
}


def optional_scopes(scopes: list[str]) -> set[str]:
    return {s for s in scopes if s.lower() not in SIGN_IN_SCOPES}


def aad_error(status: int, error: str, code: int, description: str, **extra: Any) -> Response:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    return json_response(
        status,
        {
            "error": error,
            "error_description": f"{description}\r\nTrace ID: {trace}\r\nCorrelation ID: "
            f"{correlation}\r\nTimestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            **extra,
        },
    )


def graph_error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    inner: dict[str, str] | None = None,
) -> Response:
    inner_error = {"date": now_rfc3339(), **request_ids(), **(inner or {})}
    return json_response(
        status, {"error": {"code": code, "message": message, "innerError": inner_error}}, headers
    )


# What Graph says with the error codes a fault may name (`code`), as real answers carry them.
CODE_MESSAGES = {
    "MailboxNotEnabledForRESTAPI": "The mailbox is either inactive, soft-deleted, or is hosted "
    "on-premise.",
    "ErrorQuotaExceeded": "Mailbox has exceeded maximum mailbox size.",
    "ErrorInvalidUrlQuery": "The following parameters are not supported with change tracking "
    "over the 'Messages' resource: '$deltatoken'.",
}


def fault_response(status: int, retry_after: int | None, code: str = "") -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if code:
        return graph_error(
            status, code, CODE_MESSAGES.get(code, "Sandbox-injected error."), headers
        )
    if status == 429:
        return graph_error(
            429,
            "TooManyRequests",
            "Please retry again later.",
            headers,
            {"code": "429", "message": "Please retry after", "status": "429"},
        )
    if status == 503:
        return graph_error(503, "ServiceUnavailable", "Service Unavailable", headers)
    if status == 504:
        return graph_error(504, "UnknownError", "Gateway Timeout", headers)
    if status == 401:
        return invalid_token("Lifetime validation failed, the token is expired.")
    return graph_error(
        status,
        "ErrorInternalServerError",
        "An internal server error occurred. The operation failed.",
        headers,
    )


def invalid_token(message: str) -> Response:
    return graph_error(
        401,
        "InvalidAuthenticationToken",
        message,
        {
            "WWW-Authenticate": 'Bearer realm="", authorization_uri='
            '"https://login.microsoftonline.com/common/oauth2/authorize", '
            'client_id="00000003-0000-0000-c000-000000000000"'
        },
    )


def access_denied() -> Response:
    return graph_error(
        403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
    )


# --- identity platform ------------------------------------------------------------------------
def login_base(req: Request) -> str:
    return req.base_url + "/microsoft/login"


def openid_configuration(ctx: Context, req: Request, tenant: str) -> Response:
    base = login_base(req)
    issuer_tenant = "{tenantid}" if tenant in ("common", "organizations", "consumers") else tenant
    return json_response(
        200,
        {
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{issuer_tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{req.base_url}/microsoft/graph/oidc/userinfo",
            "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "email",
                "oid",
            ],
            "kerberos_endpoint": f"{base}/{tenant}/kerberos",
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        },
    )


def authorize(ctx: Context, req: Request, tenant: str) -> Response:
    params = {k: v[0] for k, v in req.query.items()}
    if req.method == "POST":
        params.update(req.form())
    client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
    if not client_id or not redirect_uri:
        return error_page(
            400, "AADSTS900144", "The request body must contain client_id and redirect_uri."
        )
    scopes = normalize_scopes("microsoft", params.get("scope", ""))
    decision = params.get("sandbox_decision") or ("allow" if ctx.auto_consent else "")
    email_address = params.get("sandbox_email") or params.get("login_hint") or ""
    if not decision:
        return consent_page(
            brand="microsoft",
            color="#0067b8",
            action=req.path,
            params=params,
            email=email_address or "rep@contoso.test",
            scopes=scopes,
            optional=optional_scopes(scopes),
            language=consent_language(req, params),
        )
    state = {"state": params["state"]} if params.get("state") else {}
    if decision != "allow":
        return redirect(
            add_query(
                redirect_uri,
                {
                    "error": "access_denied",
                    "error_description": "AADSTS65004: User declined to consent to access the app.",
                    **state,
                },
            )
        )
    scopes = granted_scopes(req, scopes, optional_scopes(scopes))
    try:
        mailbox = ctx.store.ensure_mailbox(
            "microsoft",
            email_address or "rep@contoso.test",
            display_name=params.get("sandbox_name") or None,
        )
    except SandboxError as exc:
        return error_page(400, "AADSTS50020", str(exc))
    code = ctx.store.create_auth_code(
        provider="microsoft",
        email=mailbox.email,
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        offline="offline_access" in scopes,
        code_challenge=params.get("code_challenge", ""),
        code_challenge_method=params.get("code_challenge_method", "plain"),
        nonce=params.get("nonce", ""),
    )
    return redirect(
        add_query(redirect_uri, {"code": code.code, **state, "session_state": str(uuid.uuid4())})
    )


def token(ctx: Context, req: Request, tenant: str) -> Response:
    form = req.form()
    client_id, client_secret = client_credentials(req, form)
    grant_type = form.get("grant_type", "")
    fault_mb = None
    if grant_type == "refresh_token":
        grant, _ = ctx.store.grant_for_refresh_token(form.get("refresh_token", ""))
        if grant:
            fault_mb = ctx.store.mailboxes.get(("microsoft", grant.email))
    fault = ctx.store.take_fault(fault_mb, "token", "oauth.token")
    if fault:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        response = aad_error(
            fault.status,
            "temporarily_unavailable",
            90033,
            "AADSTS90033: A transient error has occurred. Please try again.",
        )
        response.headers.update(headers)
        return response
    if not client_id:
        return aad_error(
            400,
            "invalid_request",
            900144,
            "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
        )
    if not client_secret and not form.get("client_assertion"):
        return aad_error(
            401,
            "invalid_client",
            7000218,
            "AADSTS7000218: The request body must contain the following parameter: "
            "'client_assertion' or 'client_secret'.",
        )
    if grant_type == "authorization_code":
        code = ctx.store.redeem_auth_code(form.get("code", ""))
        if code is None or code.provider != "microsoft" or code.client_id != client_id:
            return aad_error(400, "invalid_grant", *AAD_ERRORS["code"])
        if code.redirect_uri != form.get("redirect_uri", ""):
            return aad_error(
                400,
                "invalid_grant",
                50148,
                "AADSTS50148: The redirect_uri does not match the authorization request.",
            )
        if not pkce_ok(
            code.code_challenge, code.code_challenge_method, form.get("code_verifier", "")
        ):
            return aad_error(
                400,
                "invalid_grant",
                501481,
                "AADSTS501481: The Code_Verifier does not match the code_challenge.",
            )
        grant = ctx.store.issue_grant("microsoft", code.email, client_id, code.scopes)
        return token_success(ctx, grant, form, nonce=code.nonce, rotate=False)
    if grant_type == "refresh_token":
        grant, problem = ctx.store.grant_for_refresh_token(form.get("refresh_token", ""))
        if grant is None or problem:
            key = (grant.revoked_reason or "revoked") if problem == "revoked" else problem
            return aad_error(
                400, "invalid_grant", *AAD_ERRORS[key or "unknown"], suberror="bad_token"
            )
        if grant.client_id != client_id:
            return aad_error(
                400,
                "invalid_grant",
                700016,
                "AADSTS700016: Application with identifier was not found in the "
                "directory (refresh token issued to another client).",
            )
        return token_success(ctx, grant, form, nonce="", rotate=True)
    return aad_error(
        400,
        "unsupported_grant_type",
        70003,
        f"AADSTS70003: The app requested an unsupported grant type '{grant_type}'.",
    )


def token_success(
    ctx: Context, grant: Grant, form: dict[str, str], *, nonce: str, rotate: bool
) -> Response:
    requested = [
        s
        for s in normalize_scopes("microsoft", form.get("scope", ""))
        if s.lower() not in OIDC_SCOPES and not s.endswith(".default")
    ]
    granted_lower = {s.lower() for s in grant.scopes}
    if any(s.lower() not in granted_lower for s in requested):
        return aad_error(400, "invalid_grant", *AAD_ERRORS["consent"], suberror="consent_required")
    mailbox = ctx.store.mailbox("microsoft", grant.email)
    ctx.store.count_call(mailbox, "oauth.token")
    access = ctx.store.issue_access_token(grant)
    resource_scopes = [s for s in grant.scopes if s.lower() not in OIDC_SCOPES]
    payload: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join(GRAPH + s for s in (requested or resource_scopes)),
        "expires_in": int(access.expires_at - time.time()),
        "ext_expires_in": int(access.expires_at - time.time()),
        "access_token": access.token,
    }
    if "offline_access" in granted_lower:
        payload["refresh_token"] = (
            ctx.store.rotate_refresh_token(grant) if rotate else grant.refresh_token
        )
    if "openid" in granted_lower:
        payload["id_token"] = id_token(ctx, form, mailbox, grant.client_id, nonce)
    if form.get("client_info") == "1":
        info = json.dumps({"uid": mailbox.user_id, "utid": mailbox.tenant_id}).encode()
        payload["client_info"] = base64.urlsafe_b64encode(info).decode().rstrip("=")
    return json_response(200, payload)


def id_token(
    ctx: Context, form: dict[str, str], mailbox: Mailbox, client_id: str, nonce: str
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "ver": "2.0",
        "iss": f"https://login.microsoftonline.com/{mailbox.tenant_id}/v2.0",
        "sub": hashlib.sha256(f"{mailbox.user_id}:{client_id}".encode()).hexdigest()[:43],
        "aud": client_id,
        "exp": now + 3600,
        "iat": now,
        "nbf": now,
        "name": mailbox.display_name,
        "preferred_username": mailbox.email,
        "email": mailbox.email,
        "oid": mailbox.user_id,
        "tid": mailbox.tenant_id,
    }
    if nonce:
        claims["nonce"] = nonce
    return jwt_encode(claims, ctx.signer)


# --- Graph ------------------------------------------------------------------------------------
def authenticate(
    ctx: Context, req: Request, endpoint: str, needs: set[str] | None
) -> tuple[Mailbox, AccessToken] | Response:
    bearer = req.bearer()
    if not bearer:
        return invalid_token("Access token is empty.")
    access = ctx.store.access_tokens.get(bearer)
    if access is None or access.provider != "microsoft":
        return invalid_token("IDX14100: JWT is not well formed, there are no dots (.).")
    mailbox = ctx.store.mailboxes.get(("microsoft", access.email))
    if mailbox is None:
        return invalid_token("Access token validation failure.")
    ctx.store.count_call(mailbox, endpoint)
    if access.expires_at < time.time():
        return invalid_token("Lifetime validation failed, the token is expired.")
    if needs and ctx.store.enforce_scopes and not needs & {s.lower() for s in access.scopes}:
        return access_denied()
    fault = ctx.store.take_fault(mailbox, "api", endpoint)
    if fault:
        return fault_response(fault.status, fault.retry_after, fault.code)
    return mailbox, access


def me(ctx: Context, req: Request, mb: Mailbox) -> Response:
    given, _, surname = mb.display_name.partition(" ")
    profile: dict[str, Any] = {
        "businessPhones": [],
        "displayName": mb.display_name,
        "givenName": given,
        "jobTitle": None,
        "mail": mb.email,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "surname": surname or None,
        "userPrincipalName": mb.email,
        "id": mb.user_id,
    }
    select = _select(req)
    if select:
        profile = {k: v for k, v in profile.items() if k in select or k == "id"}
    context = f"{req.base_url}/microsoft/graph/v1.0/$metadata#users/$entity"
    return json_response(200, {"@odata.context": context, **profile})


def _select(req: Request) -> list[str]:
    return [s.strip() for s in req.arg("$select").split(",") if s.strip()]


# Graph reads JSON property names case-insensitively: msgraph-sdk writes sendMail's
# "Message" / "SaveToSentItems" capitalised. The names the sandbox reads, in Graph's casing.
_GRAPH_NAMES = {
    name.lower(): name
    for name in (
        "message",
        "saveToSentItems",
        "subject",
        "body",
        "content",
        "contentType",
        "toRecipients",
        "ccRecipients",
        "bccRecipients",
        "replyTo",
        "from",
        "emailAddress",
        "address",
        "name",
        "value",
        "internetMessageHeaders",
        "internetMessageId",
    )
}


def _graph_casing(value: Any) -> Any:
    if isinstance(value, list):
        return [_graph_casing(item) for item in value]
    if isinstance(value, dict):
        return {_GRAPH_NAMES.get(str(k).lower(), k): _graph_casing(v) for k, v in value.items()}
    return value


def send_mail(ctx: Context, req: Request, mb: Mailbox) -> Response:
    content_type = req.header("content-type").lower()
    if content_type.startswith("text/plain"):
        try:
            raw = base64.b64decode(req.body.strip(), validate=True)
        except (binascii.Error, ValueError):
            return graph_error(
                400,
                "ErrorMimeContentInvalidBase64String",
                "Invalid base64 string for MIME content.",
            )
        if not raw.strip():
            return graph_error(400, "ErrorMimeContentInvalid", "MIME content is empty.")
    else:
        try:
            body = _graph_casing(req.json())
            message = body["message"]
            assert isinstance(message, dict)
        except (ValueError, KeyError, TypeError, AssertionError):
            return graph_error(400, "ErrorInvalidRequest", "Empty Payload. JSON content expected.")
        for item in message.get("internetMessageHeaders") or []:
            name = str(item.get("name", ""))
            if not name.lower().startswith("x-"):
                return graph_error(
                    400,
                    "InvalidInternetMessageHeader",
                    f"The internet message header name '{name}' should start with 'x-' or 'X-'.",
                )
        raw = mime.mime_from_graph_json(message, mb.email, mb.display_name)
    headers = mime.parse_headers(raw)
    to_addresses = mime.recipients(headers)
    if not to_addresses:
        return graph_error(
            400,
            "ErrorInvalidRecipients",
            "At least one recipient isn't valid., A message can't be sent because "
            "it contains no recipients.",
        )
    if len(to_addresses) > 500:
        return graph_error(
            400,
            "ErrorTooManyRecipients",
            "The message exceeds the maximum supported number of recipients.",
        )
    wait = ctx.store.reserve_send(mb)
    if wait is not None:
        return graph_error(
            403,
            "ErrorSubmissionQuotaExceeded",
            "Cannot send message: the sender has exceeded the sending limits "
            f"({mb.send_limit} per day). 554 5.2.0 STOREDRV.Submission.Exception:"
            "SubmissionQuotaExceededException",
            {"Retry-After": str(int(wait) + 1)},
        )
    raw, _ = mime.ensure_message_id(raw, "BN8PR12MB3456.namprd12.prod.outlook.com")
    if ctx.store.rewrite_message_ids:
        raw = mime.replace_message_id(raw, "BN8PR12MB3456.namprd12.prod.outlook.com")
    if not mime.header(headers, "From"):
        raw = f"From: {mb.display_name} <{mb.email}>\r\n".encode() + raw
    ctx.store.add_message(mb, raw, folder="sent", labels=["SentItems"])
    deliver_consequences(ctx, mb, raw, to_addresses)
    return Response(202, b"", {})


def message_class(message: StoredMessage) -> str:
    content_type = mime.header(message.headers, "Content-Type").lower()
    if "multipart/report" in content_type and "delivery-status" in content_type:
        return "REPORT.IPM.Note.NDR"
    if mime.header(message.headers, "Auto-Submitted").lower().startswith("auto-replied"):
        return "IPM.Note.Rules.OofTemplate.Microsoft"
    return "IPM.Note"


def _people(value: str) -> list[dict[str, dict[str, str]]]:
    return mime.graph_recipient_json(value) if value else []


def message_json(
    message: StoredMessage, mb: Mailbox, select: list[str], expand: str = ""
) -> dict[str, Any]:
    h = message.headers
    received = mime.rfc3339(message.internal_date)
    sender = _people(mime.header(h, "From"))
    wants = set(select) if select else None

    def want(name: str) -> bool:
        return wants is None or name in wants

    data: dict[str, Any] = {"@odata.etag": f'W/"CQAAABYAAAA{message.seq}"', "id": message.id}
    fields: dict[str, Any] = {
        "createdDateTime": lambda: received,
        "lastModifiedDateTime": lambda: received,
        "changeKey": lambda: f"CQAAABYAAAA{message.seq}",
        "categories": lambda: [],
        "receivedDateTime": lambda: received,
        "sentDateTime": lambda: received,
        "hasAttachments": lambda: "multipart/mixed" in mime.header(h, "Content-Type").lower(),
        "internetMessageId": lambda: message.message_id,
        "subject": lambda: mime.decoded_header(h, "Subject"),
        "bodyPreview": lambda: " ".join(mime.text_body(message.raw, 400).split())[:255],
        "importance": lambda: "normal",
        "parentFolderId": lambda: "AQMkADInbox" if message.folder == "inbox" else "AQMkADSent",
        "conversationId": lambda: message.thread_id,
        "isDeliveryReceiptRequested": lambda: False,
        "isReadReceiptRequested": lambda: False,
        "isRead": lambda: "UNREAD" not in message.labels,
        "isDraft": lambda: False,
        "webLink": lambda: "https://outlook.office365.com/owa/?ItemID=" + quote(message.id),
        "inferenceClassification": lambda: "focused",
        "body": lambda: {"contentType": "text", "content": mime.text_body(message.raw)},
        "sender": lambda: sender[0] if sender else None,
        "from": lambda: sender[0] if sender else None,
        "toRecipients": lambda: _people(mime.header(h, "To")),
        "ccRecipients": lambda: _people(mime.header(h, "Cc")),
        "bccRecipients": lambda: [],
        "replyTo": lambda: _people(mime.header(h, "Reply-To")),
        "flag": lambda: {"flagStatus": "notFlagged"},
    }
    for name, compute in fields.items():
        if want(name):
            data[name] = compute()
    if wants and "internetMessageHeaders" in wants:
        data["internetMessageHeaders"] = [{"name": k, "value": v} for k, v in h]
    if "0x001a" in expand.lower():
        data["singleValueExtendedProperties"] = [
            {"id": "String 0x1a", "value": message_class(message)}
        ]
    return data


def _encode_token(payload: dict[str, Any]) -> str:
    data = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _decode_token(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return value if isinstance(value, dict) else None
    except (ValueError, binascii.Error):
        return None


def _mailbox_tag(mb: Mailbox) -> str:
    return hashlib.sha256(mb.email.encode()).hexdigest()[:10]


def _receive_floor(filter_text: str) -> float | None:
    found = re.search(r"receivedDateTime\s+(ge|gt)\s+(\S+)", filter_text)
    if not found:
        return None
    import calendar

    stamp = found.group(2).strip("'").replace("Z", "")[:19]
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def delta(ctx: Context, req: Request, mb: Mailbox, folder_path: str) -> Response:
    """Inbox delta: a round of ``@odata.nextLink`` pages ending in an ``@odata.deltaLink``.
    Tokens are opaque (base64 JSON): they carry the mailbox, the sync epoch (a control bumps it to
    expire every token) and the change sequence to resume after."""
    skip, delta_token = req.arg("$skiptoken"), req.arg("$deltatoken")
    state: dict[str, Any]
    if skip or delta_token:
        decoded = _decode_token(skip or delta_token)
        if (
            decoded is None
            or decoded.get("m") != _mailbox_tag(mb)
            or decoded.get("e") != mb.delta_epoch
        ):
            if mb.delta_expired_status == 400 or decoded is None:
                return graph_error(
                    400,
                    "syncStateNotFound",
                    "The sync state generation is not found. The delta token is "
                    "expired and data must be synchronized again.",
                )
            return graph_error(
                410,
                "SyncStateNotFound",
                "The sync state generation is not found. The delta token is "
                "expired and data must be synchronized again.",
            )
        state = decoded
        if delta_token:
            state["u"] = mb.seq  # a new round: everything that arrived since the last one
    else:
        state = {
            "m": _mailbox_tag(mb),
            "e": mb.delta_epoch,
            "a": 0,
            "u": mb.seq,
            "s": req.arg("$select"),
            "f": _receive_floor(req.arg("$filter")),
        }
    page_size = _page_size(req, state)
    select = [s for s in str(state.get("s") or "").split(",") if s]
    floor = state.get("f")
    page: list[dict[str, Any]] = []
    last_seq = int(state["a"])
    more = False
    with ctx.store.lock:
        for message in ctx.store.changes_after(mb, int(state["a"]), int(state["u"])):
            if message.folder != "inbox" or (floor and message.internal_date < floor):
                last_seq = message.seq
                continue
            if len(page) == page_size:
                more = True
                break
            page.append(message_json(message, mb, select))
            last_seq = message.seq
    link = f"{req.base_url}/microsoft/graph/v1.0/me/mailFolders('{folder_path}')/messages/delta"
    payload: dict[str, Any] = {
        "@odata.context": f"{req.base_url}/microsoft/graph/v1.0/$metadata#Collection(message)",
        "value": page,
    }
    token_state = {**state, "a": last_seq, "n": page_size}
    if more:
        payload["@odata.nextLink"] = f"{link}?$skiptoken={_encode_token(token_state)}"
    else:
        token_state["a"] = int(state["u"])
        payload["@odata.deltaLink"] = f"{link}?$deltatoken={_encode_token(token_state)}"
    headers = {"Preference-Applied": f"odata.maxpagesize={page_size}"}
    return json_response(200, payload, headers)


def _page_size(req: Request, state: dict[str, Any]) -> int:
    found = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", req.header("prefer"))
    if found:
        return max(1, min(MAX_DELTA_PAGE, int(found.group(1))))
    return int(state.get("n") or DEFAULT_DELTA_PAGE)


def _message_id_filter(filter_text: str) -> str | None:
    """`internetMessageId eq '<…>'` (an OData string: '' stands for one quote)."""
    found = re.search(r"internetMessageId\s+eq\s+'((?:[^']|'')*)'", filter_text)
    return found.group(1).replace("''", "'") if found else None


def list_messages(ctx: Context, req: Request, mb: Mailbox, folder: str | None) -> Response:
    try:
        top = max(1, min(1000, int(req.arg("$top") or 10)))
        skip = max(0, int(req.arg("$skip") or 0))
    except ValueError:
        return graph_error(400, "BadRequest", "Invalid $top or $skip.")
    floor = _receive_floor(req.arg("$filter"))
    wanted_id = _message_id_filter(req.arg("$filter"))
    select = _select(req)
    with ctx.store.lock:
        ids = (
            mb.history_ids
            if folder is None
            else (mb.inbox_ids if folder == "inbox" else mb.sent_ids)
        )
        candidates = [mb.messages[i] for i in reversed(ids)]
    if floor:
        candidates = [m for m in candidates if m.internal_date >= floor]
    if wanted_id is not None:
        candidates = [m for m in candidates if m.message_id == wanted_id]
    window = candidates[skip : skip + top]
    payload: dict[str, Any] = {
        "@odata.context": f"{req.base_url}/microsoft/graph/v1.0/$metadata#users('me')/messages",
        "value": [message_json(m, mb, select, req.arg("$expand")) for m in window],
    }
    if len(candidates) > skip + top:
        query = "&".join(
            f"{k}={quote(v[0], safe=',')}" for k, v in req.query.items() if k != "$skip"
        )
        payload["@odata.nextLink"] = (
            f"{req.base_url}/microsoft/graph{req.path.split('/microsoft/graph', 1)[1]}"
            f"?{query}{'&' if query else ''}$skip={skip + top}"
        )
    return json_response(200, payload)


def refuse_mutation(ctx: Context, req: Request, mb: Mailbox, rest: str) -> Response:
    with ctx.store.lock:
        mb.mutation_attempts.append(
            {"method": req.method, "path": "graph" + rest, "at": time.time()}
        )
    return access_denied()


FOLDER = r"mailFolders(?:/|\(')(?P<folder>[^/']+)(?:'\))?"
USER = r"(?:me|users/(?P<user>[^/]+))"


def graph(ctx: Context, req: Request, rest: str) -> Response:
    rest = unquote(rest)
    subscription = re.match(r"^/v1\.0/subscriptions(?:/(?P<id>[^/]+))?$", rest)
    if subscription:
        authed = authenticate(ctx, req, "graph.subscriptions", READ_SCOPES)
        if isinstance(authed, Response):
            return authed
        if subscription.group("id") and req.method in ("PATCH", "DELETE"):
            return graph_notifications.update(ctx, req, authed[0], subscription.group("id"))
        if not subscription.group("id") and req.method == "POST":
            return graph_notifications.create(ctx, req, authed[0])
        return graph_error(405, "MethodNotAllowed", "The sandbox creates, renews and deletes.")
    patterns: list[tuple[str, str, str, set[str] | None]] = [
        ("GET", rf"^/v1\.0/{USER}$", "graph.me", USER_SCOPES | READ_SCOPES | SEND_SCOPES),
        ("POST", rf"^/v1\.0/{USER}/sendMail$", "graph.sendMail", SEND_SCOPES),
        # Both URL forms Graph accepts: …/messages/delta and …/messages/delta() (the SDKs').
        ("GET", rf"^/v1\.0/{USER}/{FOLDER}/messages/delta(?:\(\))?$", "graph.delta", READ_SCOPES),
        ("GET", rf"^/v1\.0/{USER}/{FOLDER}/messages$", "graph.messages.list", READ_SCOPES),
        ("GET", rf"^/v1\.0/{USER}/messages$", "graph.messages.list", READ_SCOPES),
        (
            "GET",
            rf"^/v1\.0/{USER}/messages/(?P<id>[^/]+)/\$value$",
            "graph.messages.value",
            READ_SCOPES,
        ),
        ("GET", rf"^/v1\.0/{USER}/messages/(?P<id>[^/]+)$", "graph.messages.get", READ_SCOPES),
    ]
    for method, pattern, endpoint, needs in patterns:
        match = re.match(pattern, rest)
        if not match or req.method != method:
            continue
        authed = authenticate(ctx, req, endpoint, needs)
        if isinstance(authed, Response):
            return authed
        mb, _ = authed
        groups = match.groupdict()
        if groups.get("user") and groups["user"].lower() not in (mb.email, mb.user_id):
            return access_denied()
        folder = (groups.get("folder") or "").lower()
        if folder and folder not in ("inbox", "sentitems"):
            return graph_error(404, "ErrorInvalidIdMalformed", "Id is malformed.")
        if endpoint == "graph.me":
            return me(ctx, req, mb)
        if endpoint == "graph.sendMail":
            return send_mail(ctx, req, mb)
        if endpoint == "graph.delta":
            if folder != "inbox":
                return graph_error(400, "ErrorInvalidRequest", "The sandbox tracks the inbox only.")
            return delta(ctx, req, mb, groups.get("folder") or "inbox")
        if endpoint == "graph.messages.list":
            return list_messages(ctx, req, mb, folder or None)
        message = mb.messages.get(groups["id"])
        if message is None:
            return graph_error(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        if endpoint == "graph.messages.value":
            return Response(200, message.raw, {"Content-Type": "text/plain"})
        return json_response(200, message_json(message, mb, _select(req), req.arg("$expand")))
    if req.method in ("POST", "PATCH", "PUT", "DELETE") and re.match(rf"^/v1\.0/{USER}/", rest):
        authed = authenticate(ctx, req, "graph.mutation", None)
        if isinstance(authed, Response):
            return authed
        return refuse_mutation(ctx, req, authed[0], rest)
    return graph_error(400, "BadRequest", f"Resource not found for the segment '{rest}'.")


def route(ctx: Context, req: Request, rest: str) -> Response | None:
    """``rest`` is the path after ``/microsoft``."""
    if rest.startswith("/graph/"):
        return graph(ctx, req, rest[len("/graph") :])
    found = re.match(r"^/login/(?P<tenant>[^/]+)(?P<tail>/.*)$", rest)
    if not found:
        return None
    tenant, tail = found.group("tenant"), found.group("tail")
    if tail in ("/v2.0/.well-known/openid-configuration", "/.well-known/openid-configuration"):
        return openid_configuration(ctx, req, tenant)
    if tail == "/oauth2/v2.0/authorize":
        return authorize(ctx, req, tenant)
    if tail == "/oauth2/v2.0/token" and req.method == "POST":
        return token(ctx, req, tenant)
    if tail == "/discovery/v2.0/keys":
        jwks = ctx.signer.jwks()
        for key in jwks["keys"]:
            key["issuer"] = f"https://login.microsoftonline.com/{tenant}/v2.0"
        return json_response(200, jwks)
    if tail == "/discovery/instance":
        base = login_base(req)
        return json_response(
            200,
            {
                "tenant_discovery_endpoint": (
                    f"{base}/{tenant}/v2.0/.well-known/openid-configuration"
                ),
                "api-version": "1.1",
                "metadata": [],
            },
        )
    return None
