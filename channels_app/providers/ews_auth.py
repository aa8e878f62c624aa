"""The login check for Exchange On-Prem (2013 / 2016) through EWS with exchangelib: an
explicit EWS URL, or Autodiscover from the mailbox address (exchangelib's SOAP Autodiscover:
https://<domain>/, https://autodiscover.<domain>/, the http redirect, then DNS SRV
_autodiscover._tcp.<domain>), then a login that can read the inbox's folder."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from exchangelib import DELEGATE, Account, Configuration, Credentials
from exchangelib.autodiscover.discovery import Autodiscovery
from exchangelib.errors import (
    AutoDiscoverFailed,
    ErrorAccessDenied,
    ErrorNonExistentMailbox,
    EWSError,
    RedirectError,
    ResponseMessageError,
    TransportError,
    UnauthorizedError,
)
from exchangelib.protocol import BaseProtocol
from requests.utils import select_proxy

from .addresses import AddressRefused, resolve_checked

TIMEOUT_SECONDS = 15
# exchangelib's own default for one nameserver's answer during Autodiscover.
AUTODISCOVER_DNS_TIMEOUT = Autodiscovery.DNS_RESOLVER_ATTRS.get("timeout", 4.0)


class _ProviderCAAdapter(requests.adapters.HTTPAdapter):
    """exchangelib's HTTP sessions verify TLS against MAILROOM_PROVIDER_CA_BUNDLE when it is
    set, like every other provider client: an on-prem Exchange server usually presents a
    certificate from the company's own CA, which certifi does not know."""

    def cert_verify(self, conn, url, verify, cert):
        bundle = settings.MAILROOM_PROVIDER_CA_BUNDLE
        super().cert_verify(conn, url, bundle if bundle and verify else verify, cert)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        """Every EWS and Autodiscover request (redirects included) goes to an address checked
        by the address rule (addresses.resolve_checked, raises AddressRefused), resolved once
        here; TLS still sends and verifies the host name."""
        if select_proxy(request.url, proxies):
            parts = urlsplit(request.url)
            resolve_checked(parts.hostname or "", _port(parts))  # the proxy connects
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        parts = urlsplit(request.url)
        name = parts.hostname or ""
        target_host, target_port = connect_target(name, _port(parts))
        address = resolve_checked(target_host, target_port)
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = address
        host_params["port"] = target_port
        request.headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = name  # type: ignore[typeddict-unknown-key]
            pool_kwargs["assert_hostname"] = name  # type: ignore[typeddict-unknown-key]
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)


def _port(parts) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def connect_target(host: str, port: int) -> tuple[str, int]:
    """Where to connect for host:port: MAILROOM_CONNECT_TO's entry for it, else itself."""
    target = settings.MAILROOM_CONNECT_TO.get(f"{host.lower()}:{port}")
    if not target:
        return host, port
    target_host, _, target_port = target.rpartition(":")
    return target_host.strip("[]"), int(target_port)


NOT_HTTP = "the server did not answer as an HTTP server (is this the EWS address?)"


def reachability_text(exc: BaseException) -> str:
    """Why a server could not be reached, without quoting what a non-HTTP port answered (an
    SSH or database banner is nobody's business in Mailroom)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, http.client.HTTPException | urllib3.exceptions.ProtocolError):
            return NOT_HTTP
        current = current.__cause__ or current.__context__
    text = str(exc)
    if any(word in text for word in ("BadStatusLine", "LineTooLong", "ProtocolError")):
        return NOT_HTTP
    return text


def ews_protocol_setup(*, timeout: int) -> None:
    """Before each exchangelib call: its HTTP timeout and TLS trust live on the protocol class,
    and Autodiscover's DNS look-ups (the SRV record, the hosts' names) ask the nameserver
    Mailroom is set to use (MAILROOM_DNS_NAMESERVER; the system's when empty)."""
    BaseProtocol.TIMEOUT = timeout
    BaseProtocol.HTTP_ADAPTER_CLS = _ProviderCAAdapter
    if settings.MAILROOM_DNS_NAMESERVER:
        Autodiscovery.DNS_RESOLVER_KWARGS = {"configure": False}
        Autodiscovery.DNS_RESOLVER_ATTRS = {
            "nameservers": [settings.MAILROOM_DNS_NAMESERVER],
            "port": settings.MAILROOM_DNS_PORT,
            "timeout": settings.MAILROOM_DNS_TIMEOUT,
            "lifetime": settings.MAILROOM_DNS_TIMEOUT,
        }
    else:
        Autodiscovery.DNS_RESOLVER_KWARGS = {}
        Autodiscovery.DNS_RESOLVER_ATTRS = {"timeout": AUTODISCOVER_DNS_TIMEOUT}


class EwsLoginFailed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def authenticate(*, email_address: str, username: str, password: str, ews_url: str = "") -> str:
    """Log in and return the EWS URL that worked (the one given, or Autodiscover's)."""
    ews_protocol_setup(timeout=TIMEOUT_SECONDS)
    credentials = Credentials(username=username or email_address, password=password)
    try:
        if ews_url:
            config = Configuration(service_endpoint=ews_url, credentials=credentials)
            account = Account(
                primary_smtp_address=email_address,
                config=config,
                autodiscover=False,
                access_type=DELEGATE,
            )
        else:
            account = Account(
                primary_smtp_address=email_address,
                credentials=credentials,
                autodiscover=True,
                access_type=DELEGATE,
            )
        account.inbox.refresh()
        return str(account.protocol.service_endpoint)
    except AddressRefused as exc:
        raise EwsLoginFailed(exc.message) from exc
    except UnauthorizedError as exc:
        raise EwsLoginFailed(
            f"Exchange refused the username or password ({exc}). Check them with your IT team."
        ) from exc
    except AutoDiscoverFailed as exc:
        raise EwsLoginFailed(
            f"Autodiscover could not find the Exchange server for {email_address} ({exc}). "
            "Enter the EWS URL instead (ask IT; it usually ends in /EWS/Exchange.asmx)."
        ) from exc
    except ErrorNonExistentMailbox as exc:
        raise EwsLoginFailed(f"Exchange has no mailbox {email_address}: {exc}") from exc
    except ErrorAccessDenied as exc:
        raise EwsLoginFailed(
            f"Exchange accepted the login but it may not open the mailbox {email_address} "
            f"({exc}). Log in as that mailbox's user, or ask IT for access."
        ) from exc
    except RedirectError as exc:
        raise EwsLoginFailed(
            f"The server redirected to {exc.url} instead of answering as EWS: check the EWS "
            "URL (it usually ends in /EWS/Exchange.asmx)."
        ) from exc
    except ResponseMessageError as exc:
        # exchangelib files EWS's own error codes under TransportError: the server answered.
        raise EwsLoginFailed(f"Exchange answered: {exc}") from exc
    except TransportError as exc:
        refused = address_refused(exc)
        if refused is not None:
            raise EwsLoginFailed(refused.message) from exc
        raise EwsLoginFailed(
            f"Could not reach the Exchange server: {reachability_text(exc)}"
        ) from exc
    except EWSError as exc:
        raise EwsLoginFailed(f"Exchange answered: {exc}") from exc
    except (requests.RequestException, OSError) as exc:
        raise EwsLoginFailed(
            f"Could not reach the Exchange server: {reachability_text(exc)}"
        ) from exc


def address_refused(exc: BaseException) -> AddressRefused | None:
    """exchangelib may wrap what the adapter raised; find the address rule's refusal."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, AddressRefused):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
