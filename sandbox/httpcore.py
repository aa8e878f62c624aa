"""Request/response plumbing shared by the Google, Microsoft and control handlers."""

from __future__ import annotations

import base64
import html
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from .mime import rfc3339
from .state import Store
from .tls import IdTokenSigner


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    base_url: str  # scheme://host:port as the client reached us
    # State that lives as long as the TCP connection (NTLM authenticates connections, not
    # requests): one dict per keep-alive connection.
    connection: dict[str, Any] = field(default_factory=dict)

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in self.form_lists().items()}

    def form_lists(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def bearer(self) -> str:
        value = self.header("authorization")
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # A body written as it is produced (chunked), for answers that stay open (EWS streaming).
    stream: Iterator[bytes] | None = None


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    all_headers = {"Content-Type": "application/json; charset=UTF-8"}
    all_headers.update(headers or {})
    return Response(status, json.dumps(payload).encode(), all_headers)


def html_response(status: int, body: str) -> Response:
    return Response(status, body.encode(), {"Content-Type": "text/html; charset=utf-8"})


def redirect(location: str) -> Response:
    return Response(302, b"", {"Location": location})


def add_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


@dataclass
class Context:
    """What every handler needs: the state and the id_token signer."""

    store: Store
    signer: IdTokenSigner
    google_issuer: str = "https://accounts.google.com"
    auto_consent: bool = False


def jwt_encode(claims: dict[str, Any], signer: IdTokenSigner) -> str:
    header = {"alg": "RS256", "kid": signer.kid, "typ": "JWT"}
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = signer.sign(signing_input.encode())
    return signing_input + "." + _b64(signature)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def request_ids() -> dict[str, str]:
    return {"request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}


def now_rfc3339() -> str:
    import time

    return rfc3339(time.time())


CONSENT_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>
 body {{ font-family: system-ui, sans-serif; background: #f3f4f6; margin: 0; }}
 main {{ max-width: 460px; margin: 48px auto; background: #fff; padding: 28px 32px;
        border-radius: 10px; box-shadow: 0 2px 10px rgba(0,0,0,.08); }}
 h1 {{ font-size: 20px; margin: 0 0 4px; }} .brand {{ color: {color}; font-weight: 600; }}
 .sandbox {{ font-size: 12px; color: #b45309; background: #fef3c7; padding: 4px 8px;
            border-radius: 4px; display: inline-block; margin-bottom: 16px; }}
 ul {{ padding-left: 20px; }} li {{ margin: 4px 0; font-size: 14px; word-break: break-all; }}
 label {{ display: block; font-size: 14px; margin: 16px 0 4px; }}
 label.scope {{ margin: 0; }}
 input[type=email], input[type=text] {{ width: 100%; padding: 8px; font-size: 15px;
   box-sizing: border-box; }}
 .buttons {{ display: flex; gap: 12px; justify-content: flex-end; margin-top: 24px; }}
 button {{ padding: 8px 20px; font-size: 15px; border-radius: 6px; border: 1px solid #d1d5db;
          background: #fff; cursor: pointer; }}
 button.allow {{ background: {color}; color: #fff; border-color: {color}; }}
</style></head>
<body><main>
<div class="sandbox">{t_sandbox}</div>
<h1><span class="brand">{brand}</span></h1>
<p>{t_wants}</p>
<form method="post" action="{action}">
<ul>{scopes}</ul>
{hidden}
<label for="email">{t_email}</label>
<input type="email" id="email" name="sandbox_email" value="{email}" required>
<label for="name">{t_name}</label>
<input type="text" id="name" name="sandbox_name" value="">
<div class="buttons">
 <button type="submit" name="sandbox_decision" value="deny" formnovalidate>{t_deny}</button>
 <button type="submit" class="allow" name="sandbox_decision" value="allow">{t_allow}</button>
</div>
</form>
</main></body></html>
"""


SCOPE_CHOICES_SHOWN = "sandbox_scope_choices"

# The consent page in the languages Mailroom speaks, chosen as Google and Microsoft choose
# theirs: the language the request names (Google's `hl`, OpenID Connect's `ui_locales`), else
# the browser's Accept-Language, else English.
CONSENT_TEXT = {
    "en": {
        "sandbox": "Mailroom sandbox: no real account is used",
        "wants": "The application <strong>{client_id}</strong> wants to access your account:",
        "email": "Mailbox email address",
        "name": "Display name (optional)",
        "deny": "Deny",
        "allow": "Allow",
        "title": "{brand} - sign in",
        "google": "Sign in with Google",
        "microsoft": "Microsoft - Permissions requested",
    },
    "ko": {
        "sandbox": "Mailroom 샌드박스: 실제 계정은 사용되지 않습니다",
        "wants": "<strong>{client_id}</strong> 앱에서 계정에 액세스하려고 합니다:",
        "email": "메일함 이메일 주소",
        "name": "표시 이름(선택 사항)",
        "deny": "거부",
        "allow": "허용",
        "title": "{brand} - 로그인",
        "google": "Google 계정으로 로그인",
        "microsoft": "Microsoft - 요청된 권한",
    },
}


def consent_language(req: Request, params: dict[str, str]) -> str:
    """The first of `hl`, `ui_locales` (space-separated) and Accept-Language (by q) that the
    page speaks."""
    named = [params.get("hl", ""), *params.get("ui_locales", "").split()]
    ranked = []
    for item in req.header("accept-language").split(","):
        tag, _, quality = item.strip().partition(";q=")
        try:
            ranked.append((float(quality or 1), tag.strip()))
        except ValueError:
            continue
    tags = named + [tag for _, tag in sorted(ranked, key=lambda pair: -pair[0])]
    for tag in tags:
        base = tag.lower().split("-")[0]
        if base in CONSENT_TEXT:
            return base
    return "en"


def consent_page(
    *,
    brand: str,
    color: str,
    action: str,
    params: dict[str, str],
    email: str,
    scopes: list[str],
    optional: set[str],
    language: str = "en",
) -> Response:
    """The consent page. Scopes in `optional` get a ticked checkbox the user may untick, as on
    Google's granular consent page; the others (sign-in basics) are always granted. `brand`
    is "google" or "microsoft", named in `language`."""
    words = CONSENT_TEXT.get(language, CONSENT_TEXT["en"])
    brand = words.get(brand, brand)
    hidden = "\n".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if not k.startswith("sandbox_")
    )
    hidden += f'\n<input type="hidden" name="{SCOPE_CHOICES_SHOWN}" value="1">'
    items = []
    for scope in scopes:
        text = html.escape(scope)
        if scope in optional:
            items.append(
                f'<li><label class="scope"><input type="checkbox" name="sandbox_scope" '
                f'value="{text}" checked> {text}</label></li>'
            )
        else:
            items.append(f"<li>{text}</li>")
    body = CONSENT_PAGE.format(
        lang=language,
        title=html.escape(words["title"].format(brand=brand)),
        brand=html.escape(brand),
        color=color,
        t_sandbox=words["sandbox"],
        t_wants=words["wants"].format(client_id=html.escape(params.get("client_id", ""))),
        t_email=words["email"],
        t_name=words["name"],
        t_deny=words["deny"],
        t_allow=words["allow"],
        scopes="".join(items) or "<li>(none)</li>",
        action=html.escape(action),
        hidden=hidden,
        email=html.escape(email),
    )
    return html_response(200, body)


def granted_scopes(req: Request, scopes: list[str], optional: set[str]) -> list[str]:
    """The scopes the user left ticked: every one when the answer did not come from the page
    (auto-consent, a script posting only the decision), else the required ones and the ticked
    optional ones."""
    answers = req.form_lists() if req.method == "POST" else {}
    if SCOPE_CHOICES_SHOWN not in answers:
        return scopes
    ticked = set(answers.get("sandbox_scope", []))
    return [s for s in scopes if s not in optional or s in ticked]


def error_page(status: int, title: str, detail: str) -> Response:
    return html_response(
        status,
        f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(detail)}</p>",
    )


def deliver_with_retries(
    url: str,
    body: bytes,
    *,
    headers: dict[str, str] | Callable[[], dict[str, str]],
    waits: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0),
    give_up_on_4xx: bool = True,
    on_answer: Callable[[bytes], None] | None = None,
) -> str:
    """POST `body` the way the providers deliver webhooks: again after each wait in `waits`
    while it fails ('' when it got a 2xx, else the last error). A 4xx other than 408 / 429 is
    final when `give_up_on_4xx` (wrong credentials or URL). `headers` may be a function, called
    per try (a signed token that must be fresh). `on_answer` is given the 2xx answer's body
    (EWS push reads the subscriber's SubscriptionStatus from it)."""
    last = ""
    for wait in (0.0, *waits):
        time.sleep(wait)
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers=headers() if callable(headers) else headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                if 200 <= response.status < 300:
                    if on_answer is not None:
                        on_answer(response.read())
                    return ""
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if give_up_on_4xx and 400 <= exc.code < 500 and exc.code not in (408, 429):
                break
        except OSError as exc:
            last = str(exc) or exc.__class__.__name__
    return last
