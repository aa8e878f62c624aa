"""Exchange Autodiscover of the sandbox's on-premises Exchange, at the host's root as on a real
server: the SOAP service (``/autodiscover/autodiscover.svc``, GetUserSettings: what exchangelib
5 speaks) and the older POX one (``/autodiscover/autodiscover.xml``, the Outlook 2006a response
schema: what Outlook and older clients speak), both behind the EWS login (sandbox/ews.py:
Windows authentication, NTLM).

A client finds the service as Microsoft documents: https://<domain>/…, then
https://autodiscover.<domain>/…, then http://autodiscover.<domain>/ redirects, then the DNS SRV
record ``_autodiscover._tcp.<domain>`` (sandbox/dns.py serves one for acme.test, pointing at
``exchange.acme.test`` on 443). The answer names the EWS URL on the host the client asked
(``https://<that host>/exchange/EWS/Exchange.asmx``); a mailbox the server does not hold answers
``InvalidUser`` (SOAP) or error 500 "The e-mail address cannot be found." (POX), as Exchange
does.
"""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from . import ews
from .httpcore import Context, Request, Response

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
AD_NS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
WSA_NS = "http://www.w3.org/2005/08/addressing"
POX_REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
POX_RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_2006A = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
SOAP_PATH = "/autodiscover/autodiscover.svc"
POX_PATH = "/autodiscover/autodiscover.xml"
# Exchange 2016's schemas, oldest first (clients take the newest they know).
SUPPORTED_SCHEMAS = (
    "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, "
    "Exchange2013, Exchange2013_SP1, Exchange2016"
)


def route(ctx: Context, req: Request) -> Response | None:
    path = req.path.lower()
    if path == SOAP_PATH:
        return _soap_service(ctx, req)
    if path == POX_PATH:
        return _pox_service(ctx, req)
    return None


def _ews_url(req: Request) -> str:
    return f"{req.base_url}/exchange{ews.EWS_PATH}"


def _user(ctx: Context, address: str):
    address = address.strip().lower()
    with ctx.store.lock:
        return next(
            (user for user in ctx.store.ews_users.values() if user.email.lower() == address),
            None,
        )


def _parse(body: bytes) -> ET.Element | None:
    if b"<!DOCTYPE" in body[:4096].upper():
        return None
    try:
        return ET.fromstring(body)  # noqa: S314 - no DTD (above), stdlib expat
    except ET.ParseError:
        return None


# --- SOAP: GetUserSettings --------------------------------------------------------------------
def _soap_service(ctx: Context, req: Request) -> Response:
    login = ews.authenticate(ctx, req)
    if isinstance(login, Response):
        return login
    if req.method != "POST":
        return Response(405, b"", {"Allow": "POST"})
    envelope = _parse(req.body)
    request = None
    if envelope is not None:
        request = envelope.find(f"{{{SOAP_NS}}}Body/{{{AD_NS}}}GetUserSettingsRequestMessage")
    if request is None:
        return _soap_response("", error=("InvalidRequest", "The request is not valid."))
    wanted = [s.text or "" for s in request.iter(f"{{{AD_NS}}}Setting")]
    users = [m.text or "" for m in request.iter(f"{{{AD_NS}}}Mailbox")]
    return _soap_response("".join(_user_response(ctx, req, address, wanted) for address in users))


def _user_response(ctx: Context, req: Request, address: str, wanted: list[str]) -> str:
    user = _user(ctx, address)
    if user is None:
        return (
            "<UserResponse><ErrorCode>InvalidUser</ErrorCode>"
            f"<ErrorMessage>Invalid user: '{escape(address)}'</ErrorMessage>"
            '<RedirectTarget i:nil="true"/><UserSettingErrors/><UserSettings/></UserResponse>'
        )
    known = {
        "AutoDiscoverSMTPAddress": user.email,
        "UserDisplayName": user.email.split("@")[0],
        "ExternalEwsUrl": _ews_url(req),
        "InternalEwsUrl": _ews_url(req),
        "EwsSupportedSchemas": SUPPORTED_SCHEMAS,
        "CasVersion": "15.01.2507.006",
    }
    settings, errors = [], []
    for name in wanted:
        if name in known:
            settings.append(
                '<UserSetting i:type="StringSetting">'
                f"<Name>{escape(name)}</Name><Value>{escape(known[name])}</Value></UserSetting>"
            )
        else:
            errors.append(
                "<UserSettingError><ErrorCode>SettingIsNotAvailable</ErrorCode>"
                f"<ErrorMessage>User setting '{escape(name)}' is not available. </ErrorMessage>"
                f"<SettingName>{escape(name)}</SettingName></UserSettingError>"
            )
    return (
        "<UserResponse><ErrorCode>NoError</ErrorCode><ErrorMessage>No error.</ErrorMessage>"
        '<RedirectTarget i:nil="true"/>'
        f"<UserSettingErrors>{''.join(errors)}</UserSettingErrors>"
        f"<UserSettings>{''.join(settings)}</UserSettings></UserResponse>"
    )


def _soap_response(user_responses: str, *, error: tuple[str, str] | None = None) -> Response:
    code, message = error or ("NoError", "")
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_NS}" xmlns:a="{WSA_NS}"><s:Header>'
        '<a:Action s:mustUnderstand="1">'
        f"{AD_NS}/Autodiscover/GetUserSettingsResponse</a:Action>"
        f'<h:ServerVersionInfo xmlns:h="{AD_NS}" '
        'xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
        "<h:MajorVersion>15</h:MajorVersion><h:MinorVersion>1</h:MinorVersion>"
        "<h:MajorBuildNumber>2507</h:MajorBuildNumber><h:MinorBuildNumber>6</h:MinorBuildNumber>"
        "<h:Version>Exchange2015</h:Version></h:ServerVersionInfo></s:Header><s:Body>"
        f'<GetUserSettingsResponseMessage xmlns="{AD_NS}">'
        '<Response xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
        f"<ErrorCode>{code}</ErrorCode><ErrorMessage>{escape(message)}</ErrorMessage>"
        f"<UserResponses>{user_responses}</UserResponses></Response>"
        "</GetUserSettingsResponseMessage></s:Body></s:Envelope>"
    )
    return Response(200, body.encode(), {"Content-Type": "text/xml; charset=utf-8"})


# --- POX: the Outlook provider ----------------------------------------------------------------
def _pox_service(ctx: Context, req: Request) -> Response:
    login = ews.authenticate(ctx, req)
    if isinstance(login, Response):
        return login
    if req.method != "POST":
        return Response(405, b"", {"Allow": "POST"})
    document = _parse(req.body)
    address = ""
    schema = ""
    if document is not None:
        address = (
            document.findtext(f"{{{POX_REQUEST_NS}}}Request/{{{POX_REQUEST_NS}}}EMailAddress") or ""
        ).strip()
        schema = (
            document.findtext(
                f"{{{POX_REQUEST_NS}}}Request/{{{POX_REQUEST_NS}}}AcceptableResponseSchema"
            )
            or ""
        ).strip()
    if not address or schema != OUTLOOK_2006A:
        return _pox_error("600", "Invalid Request")
    user = _user(ctx, address)
    if user is None:
        return _pox_error("500", "The e-mail address cannot be found.")
    url = escape(_ews_url(req))
    protocols = "".join(
        f"<Protocol><Type>{kind}</Type><Server>{escape(req.base_url.split('://', 1)[-1])}"
        f"</Server><ASUrl>{url}</ASUrl><EwsUrl>{url}</EwsUrl><AuthPackage>Ntlm</AuthPackage>"
        "</Protocol>"
        for kind in ("EXCH", "EXPR")
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<Autodiscover xmlns="{POX_RESPONSE_NS}"><Response xmlns="{OUTLOOK_2006A}">'
        f"<User><DisplayName>{escape(user.email.split('@')[0])}</DisplayName>"
        f"<AutoDiscoverSMTPAddress>{escape(user.email)}</AutoDiscoverSMTPAddress></User>"
        "<Account><AccountType>email</AccountType><Action>settings</Action>"
        f"{protocols}</Account></Response></Autodiscover>"
    )
    return Response(200, body.encode(), {"Content-Type": "text/xml; charset=utf-8"})


def _pox_error(code: str, message: str) -> Response:
    stamp = time.strftime("%H:%M:%S", time.gmtime())
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<Autodiscover xmlns="{POX_RESPONSE_NS}"><Response>'
        f'<Error Time="{stamp}" Id="{uuid.uuid4().int % 10**10}">'
        f"<ErrorCode>{code}</ErrorCode><Message>{escape(message)}</Message><DebugData/>"
        "</Error></Response></Autodiscover>"
    )
    return Response(200, body.encode(), {"Content-Type": "text/xml; charset=utf-8"})
