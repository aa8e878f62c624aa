"""Google look-alike: OAuth 2.0 (accounts.google.com, oauth2.googleapis.com, userinfo, certs)
and the Gmail API (gmail.googleapis.com/gmail/v1), served under ``/google``."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from typing import Any

from . import mime, pubsub
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
    redirect,
)
from .rules import rule_for
from .state import AccessToken, Grant, Mailbox, SandboxError, StoredMessage

SCOPE_ALIASES = {
    "email": "https://www.googleapis.com/auth/userinfo.email",
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}
GMAIL = "https://www.googleapis.com/auth/gmail."
FULL_MAIL = "https://mail.google.com/"
SEND_SCOPES = {FULL_MAIL, GMAIL + "send", GMAIL + "compose", GMAIL + "modify"}
READ_SCOPES = {FULL_MAIL, GMAIL + "readonly", GMAIL + "modify", GMAIL + "metadata"}
METADATA_ONLY = GMAIL + "metadata"
DEFAULT_PAGE = 100
MAX_PAGE = 500


# Google's granular consent lets the user untick every scope but the sign-in basics.
SIGN_IN_SCOPES = {"openid", SCOPE_ALIASES["email"], SCOPE_ALIASES["profile"]}


def optional_scopes(scopes: list[str]) -> set[str]:
    return {s for s in scopes if s not in SIGN_IN_SCOPES}


def normalize_google_scopes(scope: str) -> list[str]:
    return list(dict.fromkeys(SCOPE_ALIASES.get(s, s) for s in scope.split() if s))


# --- errors ----------------------------------------------------------------------------------
def gmail_error(
    code: int,
    message: str,
    reason: str,
    status: str,
    *,
    domain: str = "global",
    headers: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
) -> Response:
    detail = {"message": message, "domain": domain, "reason": reason, **(extra or {})}
    return json_response(
        code,
        {"error": {"code": code, "message": message, "errors": [detail], "status": status}},
        headers,
    )


def not_found() -> Response:
    return gmail_error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")


def fault_response(status: int, retry_after: int | None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if status == 429:
        return gmail_error(
            429,
            "Resource has been exhausted (e.g. check quota).",
            "rateLimitExceeded",
            "RESOURCE_EXHAUSTED",
            headers=headers,
        )
    if status == 403:
        return gmail_error(
            403,
            "User Rate Limit Exceeded",
            "userRateLimitExceeded",
            "PERMISSION_DENIED",
            domain="usageLimits",
            headers=headers,
        )
    if status == 503:
        return gmail_error(
            503,
            "The service is currently unavailable.",
            "backendError",
            "UNAVAILABLE",
            headers=headers,
        )
    if status == 401:
        return unauthenticated("Request had invalid authentication credentials.")
    return gmail_error(
        status, "Internal error encountered.", "backendError", "INTERNAL", headers=headers
    )


def unauthenticated(message: str) -> Response:
    return gmail_error(
        401,
        message + " Expected OAuth 2 access token, login cookie or other valid authentication"
        " credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "authError",
        "UNAUTHENTICATED",
        headers={
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
        },
        extra={"location": "Authorization", "locationType": "header"},
    )


def insufficient_scope() -> Response:
    return gmail_error(
        403,
        "Request had insufficient authentication scopes.",
        "insufficientPermissions",
        "PERMISSION_DENIED",
        headers={
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
            'error="insufficient_scope"'
        },
    )


def oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})


# --- OAuth -----------------------------------------------------------------------------------
def authorize(ctx: Context, req: Request) -> Response:
    params = {k: v[0] for k, v in req.query.items()}
    if req.method == "POST":
        params.update(req.form())
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    if not client_id or not redirect_uri:
        return error_page(400, "Error 400: invalid_request", "Missing client_id or redirect_uri.")
    if params.get("response_type", "code") != "code":
        return error_page(400, "Error 400: unsupported_response_type", "Only code is supported.")
    scopes = normalize_google_scopes(params.get("scope", ""))
    if not scopes:
        return error_page(400, "Error 400: invalid_request", "Missing required parameter: scope")
    decision = params.get("sandbox_decision") or ("allow" if ctx.auto_consent else "")
    email_address = params.get("sandbox_email") or params.get("login_hint") or ""
    if not decision:
        return consent_page(
            brand="google",
            color="#1a73e8",
            action=req.path,
            params=params,
            email=email_address or "rep@example.test",
            scopes=scopes,
            optional=optional_scopes(scopes),
            language=consent_language(req, params),
        )
    state = {"state": params["state"]} if params.get("state") else {}
    if decision != "allow":
        return redirect(add_query(redirect_uri, {"error": "access_denied", **state}))
    scopes = granted_scopes(req, scopes, optional_scopes(scopes))
    if not email_address:
        email_address = "rep@example.test"
    try:
        mailbox = ctx.store.ensure_mailbox(
            "google", email_address, display_name=params.get("sandbox_name") or None
        )
    except SandboxError as exc:
        return error_page(400, "Error 400: invalid_request", str(exc))
    code = ctx.store.create_auth_code(
        provider="google",
        email=mailbox.email,
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        offline=params.get("access_type") == "offline",
        code_challenge=params.get("code_challenge", ""),
        code_challenge_method=params.get("code_challenge_method", "plain"),
        nonce=params.get("nonce", ""),
        grant_id="consent" if "consent" in params.get("prompt", "") else "",
    )
    return redirect(
        add_query(redirect_uri, {"code": code.code, "scope": " ".join(scopes), **state})
    )


def client_credentials(req: Request, form: dict[str, str]) -> tuple[str, str]:
    auth = req.header("authorization")
    if auth.lower().startswith("basic "):
        try:
            user, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            return user, secret
        except (ValueError, UnicodeError):
            return "", ""
    return form.get("client_id", ""), form.get("client_secret", "")


def pkce_ok(challenge: str, method: str, verifier: str) -> bool:
    if not challenge:
        return True
    if method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=") == challenge
    return verifier == challenge


def token(ctx: Context, req: Request) -> Response:
    form = req.form()
    client_id, client_secret = client_credentials(req, form)
    if not client_id:
        return oauth_error(400, "invalid_request", "Could not determine client ID from request.")
    mailbox = None
    fault_mb: Mailbox | None = None
    grant_type = form.get("grant_type", "")
    if grant_type == "refresh_token":
        grant, _ = ctx.store.grant_for_refresh_token(form.get("refresh_token", ""))
        if grant:
            fault_mb = ctx.store.mailboxes.get(("google", grant.email))
    fault = ctx.store.take_fault(fault_mb, "token", "oauth.token")
    if fault:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return json_response(
            fault.status,
            {
                "error": "internal_failure" if fault.status >= 500 else "rate_limit_exceeded",
                "error_description": "Sandbox-injected failure.",
            },
            headers,
        )
    if not client_secret:
        return oauth_error(401, "invalid_client", "Unauthorized")
    if grant_type == "authorization_code":
        code = ctx.store.redeem_auth_code(form.get("code", ""))
        if code is None or code.provider != "google":
            return oauth_error(400, "invalid_grant", "Malformed auth code.")
        if code.client_id != client_id:
            return oauth_error(400, "invalid_grant", "Unauthorized")  # code of another client
        if code.redirect_uri != form.get("redirect_uri", ""):
            return oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        if not pkce_ok(
            code.code_challenge, code.code_challenge_method, form.get("code_verifier", "")
        ):
            return oauth_error(400, "invalid_grant", "Missing code verifier.")
        existed = any(
            g.provider == "google"
            and g.email == code.email
            and g.client_id == client_id
            and not g.revoked
            for g in ctx.store.grants.values()
        )
        grant = ctx.store.issue_grant("google", code.email, client_id, code.scopes)
        mailbox = ctx.store.mailbox("google", code.email)
        ctx.store.count_call(mailbox, "oauth.token")
        access = ctx.store.issue_access_token(grant)
        # Google sends a refresh token on an offline exchange only the first time the user
        # consents to this client, or again when the request said prompt=consent.
        send_refresh = code.offline and (not existed or code.grant_id == "consent")
        return json_response(
            200,
            token_payload(
                ctx,
                grant,
                access,
                mailbox,
                client_id,
                code.scopes,
                refresh=send_refresh,
                nonce=code.nonce,
            ),
        )
    if grant_type == "refresh_token":
        grant, problem = ctx.store.grant_for_refresh_token(form.get("refresh_token", ""))
        if grant is None or problem:
            return oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        if grant.client_id != client_id:
            return oauth_error(401, "unauthorized_client", "Unauthorized")
        mailbox = ctx.store.mailbox("google", grant.email)
        ctx.store.count_call(mailbox, "oauth.token")
        access = ctx.store.issue_access_token(grant)
        requested = normalize_google_scopes(form.get("scope", ""))
        if requested and not set(requested) <= set(grant.scopes):
            return oauth_error(400, "invalid_scope", "Bad Request")
        return json_response(
            200,
            token_payload(
                ctx,
                grant,
                access,
                mailbox,
                client_id,
                requested or grant.scopes,
                refresh=False,
                nonce="",
            ),
        )
    return oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")


def token_payload(
    ctx: Context,
    grant: Grant,
    access: AccessToken,
    mailbox: Mailbox,
    client_id: str,
    scopes: list[str],
    *,
    refresh: bool,
    nonce: str,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "access_token": access.token,
        "expires_in": int(access.expires_at - time.time()),
        "scope": " ".join(scopes),
        "token_type": "Bearer",
    }
    if refresh:
        payload["refresh_token"] = grant.refresh_token
    if {"openid", SCOPE_ALIASES["email"], SCOPE_ALIASES["profile"]} & set(scopes):
        payload["id_token"] = id_token(ctx, mailbox, client_id, access.token, nonce)
    return payload


def id_token(ctx: Context, mailbox: Mailbox, client_id: str, access: str, nonce: str) -> str:
    now = int(time.time())
    at_hash = base64.urlsafe_b64encode(hashlib.sha256(access.encode()).digest()[:16])
    given, _, family = mailbox.display_name.partition(" ")
    claims: dict[str, Any] = {
        "iss": ctx.google_issuer,
        "azp": client_id,
        "aud": client_id,
        "sub": mailbox.user_id,
        "email": mailbox.email,
        "email_verified": True,
        "at_hash": at_hash.decode().rstrip("="),
        "name": mailbox.display_name,
        "given_name": given,
        "family_name": family,
        "hd": mailbox.email.rpartition("@")[2],
        "iat": now,
        "exp": now + 3600,
    }
    if nonce:
        claims["nonce"] = nonce
    return jwt_encode(claims, ctx.signer)


def revoke(ctx: Context, req: Request) -> Response:
    value = req.form().get("token") or req.arg("token")
    if not value or not ctx.store.revoke_token(value):
        return oauth_error(400, "invalid_token", "Token expired or revoked")
    return json_response(200, {})


def userinfo(ctx: Context, req: Request, version: str) -> Response:
    mb_or_error = authenticate(ctx, req, "oauth.userinfo", needs=None)
    if isinstance(mb_or_error, Response):
        return mb_or_error
    mailbox, _ = mb_or_error
    given, _, family = mailbox.display_name.partition(" ")
    common = {
        "email": mailbox.email,
        "name": mailbox.display_name,
        "given_name": given,
        "family_name": family,
        "hd": mailbox.email.rpartition("@")[2],
    }
    if version == "v3":
        return json_response(200, {"sub": mailbox.user_id, "email_verified": True, **common})
    return json_response(200, {"id": mailbox.user_id, "verified_email": True, **common})


def openid_configuration(ctx: Context, req: Request) -> Response:
    base = req.base_url + "/google"
    return json_response(
        200,
        {
            "issuer": ctx.google_issuer,
            "authorization_endpoint": f"{base}/accounts/o/oauth2/v2/auth",
            "token_endpoint": f"{base}/oauth2/token",
            "userinfo_endpoint": f"{base}/oauth2/v3/userinfo",
            "revocation_endpoint": f"{base}/oauth2/revoke",
            "jwks_uri": f"{base}/oauth2/v3/certs",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["plain", "S256"],
        },
    )


# --- Gmail API ---------------------------------------------------------------------------------
def authenticate(
    ctx: Context, req: Request, endpoint: str, *, needs: set[str] | None
) -> tuple[Mailbox, AccessToken] | Response:
    bearer = req.bearer()
    if not bearer:
        return unauthenticated("Request is missing required authentication credential.")
    access = ctx.store.access_tokens.get(bearer)
    if access is None or access.provider != "google":
        return unauthenticated("Request had invalid authentication credentials.")
    mailbox = ctx.store.mailboxes.get(("google", access.email))
    if mailbox is None:
        return unauthenticated("Request had invalid authentication credentials.")
    ctx.store.count_call(mailbox, endpoint)
    if access.expires_at < time.time():
        return unauthenticated("Request had invalid authentication credentials.")
    if needs and ctx.store.enforce_scopes and not needs & set(access.scopes):
        return insufficient_scope()
    fault = ctx.store.take_fault(mailbox, "api", endpoint)
    if fault:
        return fault_response(fault.status, fault.retry_after)
    return mailbox, access


GMAIL_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^profile$"), "gmail.profile"),
    ("GET", re.compile(r"^history$"), "gmail.history.list"),
    ("GET", re.compile(r"^messages$"), "gmail.messages.list"),
    ("POST", re.compile(r"^messages/send$"), "gmail.messages.send"),
    ("GET", re.compile(r"^messages/(?P<id>[^/]+)$"), "gmail.messages.get"),
    ("GET", re.compile(r"^threads/(?P<id>[^/]+)$"), "gmail.threads.get"),
    ("GET", re.compile(r"^labels$"), "gmail.labels.list"),
    ("POST", re.compile(r"^watch$"), "gmail.watch"),
    ("POST", re.compile(r"^stop$"), "gmail.stop"),
]


def gmail(ctx: Context, req: Request, user_id: str, rest: str, *, upload: bool = False) -> Response:
    for method, pattern, endpoint in GMAIL_ROUTES:
        match = pattern.match(rest)
        if match and req.method == method:
            needs = SEND_SCOPES if endpoint == "gmail.messages.send" else READ_SCOPES
            if endpoint == "gmail.profile":
                needs = READ_SCOPES | SEND_SCOPES
            if endpoint == "gmail.stop":
                needs = READ_SCOPES | SEND_SCOPES
            authed = authenticate(ctx, req, endpoint, needs=needs)
            if isinstance(authed, Response):
                return authed
            mailbox, access = authed
            if user_id not in ("me", mailbox.email):
                return gmail_error(
                    403, "Delegation denied for " + mailbox.email, "forbidden", "PERMISSION_DENIED"
                )
            handler = GMAIL_HANDLERS[endpoint]
            response = handler(ctx, req, mailbox, access, match.groupdict(), upload)
            if req.arg("fields") and response.status == 200:
                return partial_response(response, req.arg("fields"))
            return response
    if req.method in ("POST", "PUT", "PATCH", "DELETE"):
        return refuse_mutation(ctx, req, rest)
    return not_found()


def _field_mask(text: str) -> dict[str, Any]:
    """Google's partial-response syntax: `a,b/c,d(e,f)` -> {a: {}, b: {c: {}}, d: {e: {}, f: {}}}
    (an empty dict keeps the whole value)."""
    mask: dict[str, Any] = {}
    position = 0

    def parse(into: dict[str, Any]) -> None:
        nonlocal position
        while position < len(text):
            start = position
            while position < len(text) and text[position] not in ",()":
                position += 1
            path = [part for part in text[start:position].strip().split("/") if part]
            node = into
            for name in path:
                node = node.setdefault(name, {})
            if position < len(text) and text[position] == "(":
                position += 1
                parse(node)
                position += 1  # the closing parenthesis
            if position < len(text) and text[position] == ")":
                return
            position += 1  # a comma

    parse(mask)
    return mask


def _masked(value: Any, mask: dict[str, Any]) -> Any:
    if not mask or "*" in mask:
        return value
    if isinstance(value, list):
        return [_masked(item, mask) for item in value]
    if isinstance(value, dict):
        return {key: _masked(value[key], sub) for key, sub in mask.items() if key in value}
    return value


def partial_response(response: Response, fields: str) -> Response:
    """`fields=`: only the parts of the resource the caller named, as Google answers."""
    try:
        payload = json.loads(response.body)
    except ValueError:
        return response
    return json_response(
        200,
        _masked(payload, _field_mask(fields)),
        {k: v for k, v in response.headers.items() if k.lower() != "content-type"},
    )


def refuse_mutation(ctx: Context, req: Request, rest: str) -> Response:
    """Polling must never change a message: record who tried (benchmarks assert none did)."""
    access = ctx.store.access_tokens.get(req.bearer())
    if access is not None:
        mailbox = ctx.store.mailboxes.get(("google", access.email))
        if mailbox is not None:
            with ctx.store.lock:
                mailbox.mutation_attempts.append(
                    {"method": req.method, "path": "gmail/" + rest, "at": time.time()}
                )
            ctx.store.count_call(mailbox, "gmail.mutation")
    return insufficient_scope()


def profile(
    ctx: Context, req: Request, mb: Mailbox, access: AccessToken, _: dict[str, str], __: bool
) -> Response:
    with ctx.store.lock:
        threads = len({m.thread_id for m in mb.messages.values()})
        return json_response(
            200,
            {
                "emailAddress": mb.email,
                "messagesTotal": len(mb.messages),
                "threadsTotal": threads,
                "historyId": str(mb.seq),
            },
        )


def history_list(
    ctx: Context, req: Request, mb: Mailbox, access: AccessToken, _: dict[str, str], __: bool
) -> Response:
    start_text = req.arg("pageToken") or req.arg("startHistoryId")
    try:
        start = int(start_text)
    except ValueError:
        return gmail_error(400, "Invalid startHistoryId", "invalidArgument", "INVALID_ARGUMENT")
    if int(req.arg("startHistoryId") or start) < mb.history_floor:
        return not_found()
    limit = _page_size(req)
    label = req.arg("labelId")
    types = req.args("historyTypes")
    records: list[dict[str, Any]] = []
    next_token = ""
    with ctx.store.lock:
        current = mb.seq
        if types and "messageAdded" not in types:
            changes: list[StoredMessage] = []
        else:
            changes = ctx.store.changes_after(mb, start, current)
        for message in changes:
            if label and label not in message.labels:
                continue
            if len(records) == limit:
                next_token = str(records[-1]["id"])
                break
            item = {"id": message.id, "threadId": message.thread_id}
            records.append(
                {
                    "id": str(message.seq),
                    "messages": [item],
                    "messagesAdded": [{"message": {**item, "labelIds": list(message.labels)}}],
                }
            )
    payload: dict[str, Any] = {"historyId": str(current)}
    if records:
        payload["history"] = records
    if next_token:
        payload["nextPageToken"] = next_token
    return json_response(200, payload)


def _page_size(req: Request) -> int:
    try:
        return max(1, min(MAX_PAGE, int(req.arg("maxResults") or DEFAULT_PAGE)))
    except ValueError:
        return DEFAULT_PAGE


_UNITS = {"d": 86400, "h": 3600, "m": 30 * 86400, "y": 365 * 86400}


def _date_value(text: str) -> float | None:
    if text.isdigit():
        return float(text)
    for fmt in ("%Y/%m/%d", "%Y-%m-%d", "%m/%d/%Y"):
        try:
            import calendar

            return float(calendar.timegm(time.strptime(text, fmt)))
        except ValueError:
            continue
    return None


def query_filter(q: str) -> tuple[list[Any], str | None]:
    """Gmail search, the part pollers use: newer_than:, older_than:, after:, before:, in:,
    label:, is:unread, from:, to:, subject:, rfc822msgid:, and bare words (header search)."""
    now = time.time()
    checks: list[Any] = []
    for term in re.findall(r'(?:[^\s"]+:"[^"]*"|[^\s"]+|"[^"]*")', q):
        key, sep, value = term.partition(":")
        value = value.strip('"')
        key = key.lower() if sep else ""
        if key in ("newer_than", "older_than"):
            found = re.fullmatch(r"(\d+)([dhmy])", value.lower())
            if not found:
                return [], f"Invalid {key} value: {value}"
            cutoff = now - int(found.group(1)) * _UNITS[found.group(2)]
            if key == "newer_than":
                checks.append(lambda m, c=cutoff: m.internal_date >= c)
            else:
                checks.append(lambda m, c=cutoff: m.internal_date < c)
        elif key in ("after", "before"):
            moment = _date_value(value)
            if moment is None:
                return [], f"Invalid {key} value: {value}"
            if key == "after":
                checks.append(lambda m, c=moment: m.internal_date >= c)
            else:
                checks.append(lambda m, c=moment: m.internal_date < c)
        elif key in ("in", "label"):
            label = value.upper()
            checks.append(lambda m, lab=label: lab in m.labels)
        elif key == "is" and value.lower() == "unread":
            checks.append(lambda m: "UNREAD" in m.labels)
        elif key in ("from", "to", "subject", "rfc822msgid"):
            name = {"rfc822msgid": "message-id"}.get(key, key)
            needle = value.lower()
            checks.append(lambda m, n=name, s=needle: s in mime.header(m.headers, n).lower())
        else:
            needle = term.strip('"').lower()
            checks.append(lambda m, s=needle: any(s in v.lower() for _, v in m.headers))
    return checks, None


def messages_list(
    ctx: Context, req: Request, mb: Mailbox, access: AccessToken, _: dict[str, str], __: bool
) -> Response:
    q = req.arg("q")
    if (
        q
        and METADATA_ONLY in access.scopes
        and not (READ_SCOPES - {METADATA_ONLY}) & set(access.scopes)
    ):
        return gmail_error(
            403, "Metadata scope does not support 'q' parameter", "forbidden", "PERMISSION_DENIED"
        )
    checks, problem = query_filter(q)
    if problem:
        return gmail_error(400, problem, "invalidArgument", "INVALID_ARGUMENT")
    labels = req.args("labelIds")
    if req.arg("includeSpamTrash").lower() != "true":
        checks.append(lambda m: "SPAM" not in m.labels and "TRASH" not in m.labels)
    limit = _page_size(req)
    try:
        offset = int(req.arg("pageToken") or 0)
    except ValueError:
        return gmail_error(400, "Invalid pageToken", "invalidArgument", "INVALID_ARGUMENT")
    found: list[dict[str, str]] = []
    total = 0
    with ctx.store.lock:
        for message_id in reversed(mb.history_ids):  # newest first, as Gmail lists
            message = mb.messages[message_id]
            if labels and not all(label in message.labels for label in labels):
                continue
            if not all(check(message) for check in checks):
                continue
            if offset <= total < offset + limit:
                found.append({"id": message.id, "threadId": message.thread_id})
            total += 1
    payload: dict[str, Any] = {"resultSizeEstimate": total}
    if found:
        payload["messages"] = found
    if total > offset + limit:
        payload["nextPageToken"] = str(offset + limit)
    return json_response(200, payload)


def message_resource(message: StoredMessage, fmt: str, metadata_headers: list[str]) -> dict:
    snippet = getattr(message, "_snippet", None)
    if snippet is None and fmt != "minimal":
        snippet = " ".join(mime.text_body(message.raw, 400).split())[:200]
        message._snippet = snippet  # type: ignore[attr-defined]  # cache; bodies never change
    resource: dict[str, Any] = {
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": list(message.labels),
        "snippet": snippet or "",
        "sizeEstimate": len(message.raw),
        "historyId": str(message.seq),
        "internalDate": str(int(message.internal_date * 1000)),
    }
    if fmt == "raw":
        resource["raw"] = mime.b64url(message.raw)
    elif fmt == "metadata":
        resource["payload"] = mime.gmail_payload(
            message.raw, metadata_headers=metadata_headers, full=False
        )
    elif fmt == "full":
        resource["payload"] = mime.gmail_payload(message.raw, metadata_headers=None, full=True)
    return resource


def messages_get(
    ctx: Context, req: Request, mb: Mailbox, access: AccessToken, params: dict[str, str], __: bool
) -> Response:
    fmt = req.arg("format", "full").lower()
    if fmt not in ("minimal", "full", "raw", "metadata"):
        return gmail_error(
            400, f"Invalid value at 'format' ({fmt})", "invalidArgument", "INVALID_ARGUMENT"
        )
    only_metadata = METADATA_ONLY in access.scopes and not (
        (READ_SCOPES - {METADATA_ONLY}) & set(access.scopes)
    )
    if only_metadata and fmt in ("full", "raw"):
        return gmail_error(
            403,
            f"Metadata scope doesn't allow format {fmt.upper()}",
            "forbidden",
            "PERMISSION_DENIED",
        )
    message = mb.messages.get(params["id"])
    if message is None:
        return not_found()
    return json_response(200, message_resource(message, fmt, req.args("metadataHeaders")))


def threads_get(
    ctx: Context, req: Request, mb: Mailbox, access: AccessToken, params: dict[str, str], __: bool
) -> Response:
    fmt = req.arg("format", "full").lower()
    with ctx.store.lock:
        members = [
            mb.messages[i] for i in mb.history_ids if mb.messages[i].thread_id == params["id"]
        ]
    if not members:
        return not_found()
    return json_response(
        200,
        {
            "id": params["id"],
            "historyId": str(members[-1].seq),
            "messages": [message_resource(m, fmt, req.args("metadataHeaders")) for m in members],
        },
    )


def labels_list(
    ctx: Context, req: Request, mb: Mailbox, access: AccessToken, _: dict[str, str], __: bool
) -> Response:
    names = ["INBOX", "SENT", "UNREAD", "SPAM", "TRASH", "DRAFT", "CATEGORY_PERSONAL"]
    return json_response(200, {"labels": [{"id": n, "name": n, "type": "system"} for n in names]})


def _multipart_upload(req: Request) -> tuple[dict[str, Any], bytes]:
    """`uploadType=multipart`: multipart/related, the JSON metadata then the media (RFC 2387),
    as Google's upload protocol defines it."""
    content_type = req.header("content-type")
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/related") or boundary is None:
        raise ValueError("multipart upload without a multipart/related body")
    delimiter = b"--" + boundary.group(1).encode()
    parts = [p for p in req.body.split(delimiter)[1:] if not p.startswith(b"--")]
    if len(parts) != 2:
        raise ValueError("a multipart upload has exactly two parts")

    def content(part: bytes) -> bytes:
        # The part's own headers end at its first blank line (LF or CRLF, whichever the
        # client wrote); the body runs to the line break before the next delimiter.
        blank = re.search(rb"\r?\n\r?\n", part.lstrip(b"\r\n"))
        body = part.lstrip(b"\r\n")[blank.end() :] if blank else b""
        return body[:-2] if body.endswith(b"\r\n") else body[:-1] if body.endswith(b"\n") else body

    metadata = json.loads(content(parts[0]) or b"{}")
    return (metadata if isinstance(metadata, dict) else {}), content(parts[1])


def watch(
    ctx: Context, req: Request, mb: Mailbox, access: AccessToken, _: dict[str, str], __: bool
) -> Response:
    """users.watch: push notifications of the mailbox's changes to a Pub/Sub topic."""
    try:
        body = req.json() or {}
        topic = str(body["topicName"])
    except (ValueError, KeyError, TypeError):
        return gmail_error(400, "Invalid topicName", "invalidArgument", "INVALID_ARGUMENT")
    if not re.fullmatch(r"projects/[^/]+/topics/[^/]+", topic):
        return gmail_error(400, "Invalid topicName does not match projects/*/topics/*",
                           "invalidArgument", "INVALID_ARGUMENT")  # fmt: skip
    if topic not in ctx.store.pubsub_subscriptions:
        # A topic Gmail may not publish to (gmail-api-push@system.gserviceaccount.com lacks
        # the Publisher role, or the topic does not exist).
        return gmail_error(
            403,
            f"User not authorized to perform this action. (topic {topic})",
            "forbidden",
            "PERMISSION_DENIED",
        )
    expiration = int((time.time() + pubsub.WATCH_SECONDS) * 1000)
    with ctx.store.lock:
        mb.watch = {
            "topic": topic,
            "expiration": expiration,
            "label_ids": list(body.get("labelIds") or []),
        }
        ctx.store.mark_dirty()
        history_id = mb.seq
    return json_response(200, {"historyId": str(history_id), "expiration": str(expiration)})


def stop(
    ctx: Context, req: Request, mb: Mailbox, access: AccessToken, _: dict[str, str], __: bool
) -> Response:
    with ctx.store.lock:
        mb.watch = {}
        ctx.store.mark_dirty()
    return Response(204, b"", {})


def messages_send(
    ctx: Context, req: Request, mb: Mailbox, access: AccessToken, _: dict[str, str], upload: bool
) -> Response:
    thread_hint = ""
    try:
        if upload and req.arg("uploadType") == "multipart":
            metadata, raw = _multipart_upload(req)
            thread_hint = metadata.get("threadId") or ""
        elif upload and not req.header("content-type").startswith("application/json"):
            raw = req.body
        else:
            body = req.json()
            raw = mime.b64url_decode(body.get("raw", ""))
            thread_hint = body.get("threadId") or ""
    except (ValueError, TypeError, AttributeError):
        return gmail_error(
            400, "Invalid value for ByteString", "invalidArgument", "INVALID_ARGUMENT"
        )
    if not raw.strip():
        return gmail_error(
            400,
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
            "invalidArgument",
            "INVALID_ARGUMENT",
        )
    headers = mime.parse_headers(raw)
    to_addresses = mime.recipients(headers)
    if not to_addresses:
        return gmail_error(400, "Recipient address required", "invalidArgument", "INVALID_ARGUMENT")
    if len(to_addresses) > 100:
        return gmail_error(400, "Too many recipients", "invalidArgument", "INVALID_ARGUMENT")
    wait = ctx.store.reserve_send(mb)
    if wait is not None:
        until = mime.rfc3339(time.time() + wait)
        return gmail_error(
            429,
            f"User-rate limit exceeded.  Retry after {until} (Mail sending)",
            "rateLimitExceeded",
            "RESOURCE_EXHAUSTED",
            domain="usageLimits",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    raw, _ = mime.ensure_message_id(raw, "mail.gmail.com")
    if ctx.store.rewrite_message_ids:
        raw = mime.replace_message_id(raw, "mail.gmail.com")
    if not mime.header(headers, "From"):
        raw = f"From: {mb.display_name} <{mb.email}>\r\n".encode() + raw
    headers = mime.parse_headers(raw)
    sent = ctx.store.add_message(mb, raw, folder="sent", headers=headers)
    if thread_hint:
        sent.thread_id = thread_hint
    deliver_consequences(ctx, mb, raw, to_addresses)
    return json_response(200, {"id": sent.id, "threadId": sent.thread_id, "labelIds": ["SENT"]})


def deliver_consequences(ctx: Context, mb: Mailbox, raw: bytes, to_addresses: list[str]) -> None:
    """What the outside world does with the mail: bounces, replies, auto-replies, at once."""
    failed, generated = [], []
    for address in to_addresses:
        rule = rule_for(address)
        if rule is None:
            continue
        if rule.behaviour == "bounce":
            failed.append((address.lower(), rule))
        elif rule.behaviour == "reply":
            generated.append(mime.human_reply(mb.email, address, raw, provider=mb.provider))
        else:
            generated.append(mime.out_of_office(mb.email, address, raw, provider=mb.provider))
    if failed:
        builder = mime.gmail_dsn if mb.provider == "google" else mime.exchange_ndr
        generated.insert(0, builder(mb.email, raw, failed))
    for message in generated:
        ctx.store.add_message(mb, message, folder="inbox")


GMAIL_HANDLERS = {
    "gmail.profile": profile,
    "gmail.history.list": history_list,
    "gmail.messages.list": messages_list,
    "gmail.messages.get": messages_get,
    "gmail.messages.send": messages_send,
    "gmail.threads.get": threads_get,
    "gmail.labels.list": labels_list,
    "gmail.watch": watch,
    "gmail.stop": stop,
}


def route(ctx: Context, req: Request, rest: str) -> Response | None:
    """``rest`` is the path after ``/google``."""
    if rest in ("/accounts/o/oauth2/v2/auth", "/accounts/o/oauth2/auth"):
        return authorize(ctx, req)
    if rest in ("/oauth2/token", "/oauth2/v4/token", "/token") and req.method == "POST":
        return token(ctx, req)
    if rest in ("/oauth2/revoke", "/revoke", "/accounts/o/oauth2/revoke"):
        return revoke(ctx, req)
    if rest in ("/oauth2/v1/certs",):
        return json_response(200, ctx.signer.pem_certificates())
    if rest in ("/oauth2/v3/certs",):
        return json_response(200, ctx.signer.jwks())
    if rest in ("/accounts/.well-known/openid-configuration", "/.well-known/openid-configuration"):
        return openid_configuration(ctx, req)
    found = re.match(r"^/oauth2/(v[123])/userinfo$|^/openidconnect/v1/userinfo$", rest)
    if found:
        return userinfo(ctx, req, found.group(1) or "v3")
    found = re.match(r"^/(upload/)?gmail/v1/users/(?P<user>[^/]+)/(?P<rest>.+)$", rest)
    if found:
        from urllib.parse import unquote

        return gmail(
            ctx,
            req,
            unquote(found.group("user")).lower(),
            found.group("rest"),
            upload=bool(found.group(1)),
        )
    return None
