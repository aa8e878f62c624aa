"""The "Authenticate and save" check for SMTP channels: connect, secure the connection as
configured, and log in, so wrong credentials are caught before anything is saved. Failures
carry the server's own reply, which is what a person fixing the settings needs to see."""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import ssl

from django.conf import settings

from .addresses import AddressRefused, resolve_checked

TIMEOUT_SECONDS = 15


# Exchange Online retiring basic authentication for SMTP submission: "550 5.7.30 Basic
# authentication is not supported for Client Submission", "535 5.7.139 Authentication
# unsuccessful, basic authentication is disabled".
BASIC_AUTH_OFF = re.compile(
    r"\b5\.7\.(?:30|139)\b|basic auth(?:entication)? is (?:not supported|disabled)", re.I
)
BASIC_AUTH_OFF_REASON = (
    "The server no longer accepts a password for SMTP (Microsoft 365 / Exchange Online has "
    "turned basic authentication off) — use Connect Outlook in Email settings instead"
)


def basic_auth_off(text: str) -> bool:
    """True for a reply saying the server refuses password (basic) authentication itself."""
    return bool(BASIC_AUTH_OFF.search(text))


class SmtpLoginFailed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.MAILROOM_PROVIDER_CA_BUNDLE:
        # The demo's local servers use the sandbox's own certificate.
        context.load_verify_locations(cafile=settings.MAILROOM_PROVIDER_CA_BUNDLE)
    return context


NOT_SMTP = "an answer that is not SMTP (is this the SMTP port?)"


def reply_text(code: int, message: bytes | str) -> str:
    """A server's reply as shown to a person: only an SMTP reply (a 2xx-5xx code) is quoted,
    never whatever else a port answered (an SSH or database banner)."""
    if not 200 <= code <= 599:
        return NOT_SMTP
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return f"{code} {' '.join(message.split())}".strip()


_reply_text = reply_text


class _PinnedSocket:
    """Connect to the checked address, not to whatever the name resolves to by then; the name
    stays `_host`, which smtplib uses as the TLS server name (SNI and certificate check)."""

    _address: str

    def _get_socket(self, host, port, timeout):
        return super()._get_socket(self._address, port, timeout)  # type: ignore[misc]


class _PinnedSMTP(_PinnedSocket, smtplib.SMTP):
    def __init__(self, address: str, **kwargs):
        self._address = address
        super().__init__(**kwargs)


class _PinnedSMTP_SSL(_PinnedSocket, smtplib.SMTP_SSL):  # noqa: N801 — smtplib's name
    def __init__(self, address: str, **kwargs):
        self._address = address
        super().__init__(**kwargs)


def _no_answer(where: str, timeout: float) -> str:
    return (
        f"{where} did not answer within {timeout:g} seconds. Check the host, the port and any "
        "firewall in between."
    )


def open_connection(
    *,
    host: str,
    port: int,
    security: str,
    timeout: float = TIMEOUT_SECONDS,
    checked: bool = True,
) -> smtplib.SMTP:
    """An SMTP connection secured as configured ("ssl", "starttls" or "none").

    `checked` (every server a user typed in): the host is resolved once and must be a public
    address (addresses.resolve_checked, raises AddressRefused), and the connection goes to
    that address. Only the operator's own legacy relay, from settings, is not checked."""
    connection: smtplib.SMTP
    if checked:
        address = resolve_checked(host, port)
        if security == "ssl":
            connection = _PinnedSMTP_SSL(
                address, host=host, port=port, timeout=timeout, context=_tls_context()
            )
        else:
            connection = _PinnedSMTP(address, host=host, port=port, timeout=timeout)
    elif security == "ssl":
        connection = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls_context())
    else:
        connection = smtplib.SMTP(host, port, timeout=timeout)
    connection.ehlo()
    if security == "starttls":
        connection.starttls(context=_tls_context())
        connection.ehlo()
    return connection


def login(connection: smtplib.SMTP, username: str, password: str) -> None:
    """`connection.login`, for any Unicode user name and password. smtplib encodes the
    credentials as ASCII and fails on anything else; SASL PLAIN (RFC 4616) and LOGIN carry
    UTF-8, which is what servers expect, so a non-ASCII pair is sent that way. Raises what
    `login` raises."""
    if username.isascii() and password.isascii():
        connection.login(username, password)
        return
    connection.ehlo_or_helo_if_needed()
    if not connection.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    offered = connection.esmtp_features["auth"].upper().split()
    user, secret = username.encode("utf-8"), password.encode("utf-8")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    if "PLAIN" in offered:
        code, reply = connection.docmd("AUTH", "PLAIN " + b64(b"\0" + user + b"\0" + secret))
    elif "LOGIN" in offered:
        code, reply = connection.docmd("AUTH", "LOGIN " + b64(user))
        if code == 334:
            code, reply = connection.docmd(b64(secret))
    else:
        raise smtplib.SMTPException("No suitable authentication method found.")
    if code not in (235, 503):
        raise smtplib.SMTPAuthenticationError(code, reply)


def authenticate(
    *,
    host: str,
    port: int,
    security: str,
    username: str,
    password: str,
    timeout: float = TIMEOUT_SECONDS,
) -> None:
    """Log in to the server, or raise SmtpLoginFailed saying why, in the server's words when
    it gave any. Never waits more than TIMEOUT_SECONDS for a step."""
    where = f"{host}:{port}"
    connection = None
    try:
        connection = open_connection(host=host, port=port, security=security, timeout=timeout)
        if username:
            login(connection, username, password)
    except AddressRefused as exc:
        raise SmtpLoginFailed(exc.message) from exc
    except smtplib.SMTPAuthenticationError as exc:
        text = _reply_text(exc.smtp_code, exc.smtp_error)
        if basic_auth_off(text):
            raise SmtpLoginFailed(f"{BASIC_AUTH_OFF_REASON} ({text}).") from exc
        raise SmtpLoginFailed(f"{where} refused the login: {text}") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise SmtpLoginFailed(
            f"{where} does not offer {'STARTTLS' if security == 'starttls' else 'that'}: {exc}. "
            "Choose another security setting."
        ) from exc
    except smtplib.SMTPResponseException as exc:
        text = _reply_text(exc.smtp_code, exc.smtp_error)
        if basic_auth_off(text):
            raise SmtpLoginFailed(f"{BASIC_AUTH_OFF_REASON} ({text}).") from exc
        raise SmtpLoginFailed(f"{where} answered: {text}") from exc
    except ssl.CertificateError as exc:
        raise SmtpLoginFailed(f"{where}'s certificate is not valid: {exc}") from exc
    except ssl.SSLError as exc:
        raise SmtpLoginFailed(
            f"TLS with {where} failed: {exc.reason or exc}. Check the port and the security "
            "setting (SSL/TLS is usually port 465, STARTTLS port 587)."
        ) from exc
    except TimeoutError as exc:
        raise SmtpLoginFailed(_no_answer(where, timeout)) from exc
    except socket.gaierror as exc:
        raise SmtpLoginFailed(f"Unknown host {host!r}: {exc.strerror or exc}") from exc
    except ConnectionRefusedError as exc:
        raise SmtpLoginFailed(f"{where} refused the connection: is the port right?") from exc
    except smtplib.SMTPServerDisconnected as exc:
        if "timed out" in str(exc):
            # smtplib reports a reply that never came as a disconnection.
            raise SmtpLoginFailed(_no_answer(where, timeout)) from exc
        raise SmtpLoginFailed(f"{where} closed the connection: {exc}") from exc
    except smtplib.SMTPException as exc:
        raise SmtpLoginFailed(f"{where}: {exc}") from exc
    except OSError as exc:
        raise SmtpLoginFailed(f"Could not connect to {where}: {exc.strerror or exc}") from exc
    finally:
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()
