"""The login check for Exchange On-Prem (2013 / 2016) through EWS with exchangelib: an
explicit EWS URL, or Autodiscover from the mailbox address. Mailroom does not poll these
mailboxes for bounces (README, "Connecting a channel"), so a login that can read the inbox's
folder is all that is checked."""

from __future__ import annotations

import requests
from django.conf import settings
from exchangelib import DELEGATE, Account, Configuration, Credentials
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

TIMEOUT_SECONDS = 15


class _ProviderCAAdapter(requests.adapters.HTTPAdapter):
    """exchangelib's HTTP sessions verify TLS against MAILROOM_PROVIDER_CA_BUNDLE when it is
    set, like every other provider client: an on-prem Exchange server usually presents a
    certificate from the company's own CA, which certifi does not know."""

    def cert_verify(self, conn, url, verify, cert):
        bundle = settings.MAILROOM_PROVIDER_CA_BUNDLE
        super().cert_verify(conn, url, bundle if bundle and verify else verify, cert)


def ews_protocol_setup(*, timeout: int) -> None:
    """Before each exchangelib call: its HTTP timeout and TLS trust live on the protocol class."""
    BaseProtocol.TIMEOUT = timeout
    BaseProtocol.HTTP_ADAPTER_CLS = _ProviderCAAdapter


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
        raise EwsLoginFailed(f"Could not reach the Exchange server: {exc}") from exc
    except EWSError as exc:
        raise EwsLoginFailed(f"Exchange answered: {exc}") from exc
    except (requests.RequestException, OSError) as exc:
        raise EwsLoginFailed(f"Could not reach the Exchange server: {exc}") from exc
