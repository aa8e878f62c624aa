"""Exchange On-Prem (2013 / 2016), send verb.

Two ways out, chosen by what IT gave the rep:
- an SMTP submission host on the channel (`host`, usually port 587 with STARTTLS): plain
  authenticated SMTP submission, the same client and error mapping as every SMTP channel;
- otherwise EWS with exchangelib, at the EWS URL the channel was verified with: CreateItem
  with the whole MIME message (`mime_content`) and SendOnly, so the Message-ID and the
  X-Mailroom-Email-Id header Mailroom set are the ones that leave the server.
EWS is the default because it is the endpoint the credentials were checked against when the
mailbox was connected; many Exchange servers have client SMTP submission switched off."""

from __future__ import annotations

import requests
from exchangelib import DELEGATE, Account, Configuration, Credentials, Message
from exchangelib.errors import (
    ErrorQuotaExceeded,
    ErrorServerBusy,
    EWSError,
    TransportError,
    UnauthorizedError,
)
from exchangelib.protocol import BaseProtocol

from channels_app.exceptions import (
    PermanentProviderError,
    QuotaExhausted,
    RateLimited,
    TransientProviderError,
)

from . import smtp

TIMEOUT_SECONDS = 30


def send_via_ews(
    *, ews_url: str, mailbox_address: str, username: str, password: str, raw_message: bytes
) -> None:
    BaseProtocol.TIMEOUT = TIMEOUT_SECONDS
    try:
        account = Account(
            primary_smtp_address=mailbox_address,
            config=Configuration(
                service_endpoint=ews_url,
                credentials=Credentials(username=username or mailbox_address, password=password),
            ),
            autodiscover=False,
            access_type=DELEGATE,
        )
        Message(account=account, mime_content=raw_message).send(save_copy=False)
    except UnauthorizedError as exc:
        raise PermanentProviderError(
            "Exchange refused the username or password — update them in Email settings, "
            "then Retry send"
        ) from exc
    except ErrorServerBusy as exc:
        raise RateLimited(
            f"Exchange is busy: {exc}", retry_after=getattr(exc, "back_off", None)
        ) from exc
    except ErrorQuotaExceeded as exc:
        raise QuotaExhausted(f"Exchange says the sending quota is used up: {exc}") from exc
    except TransportError as exc:
        raise TransientProviderError(f"Could not reach the Exchange server: {exc}") from exc
    except EWSError as exc:
        raise PermanentProviderError(f"Exchange rejected the message: {exc}") from exc
    except (requests.RequestException, OSError) as exc:
        raise TransientProviderError(f"Could not reach the Exchange server: {exc}") from exc


def send(
    *,
    smtp_server: smtp.SmtpServer | None,
    ews_url: str,
    mailbox_address: str,
    username: str,
    password: str,
    raw_message: bytes,
    recipients: list[str],
) -> None:
    if smtp_server is not None:
        smtp.send(
            server=smtp_server,
            raw_message=raw_message,
            envelope_from=mailbox_address,
            recipients=recipients,
        )
        return
    if not ews_url:
        raise PermanentProviderError(
            "This Exchange mailbox has neither an EWS URL nor an SMTP host — reconnect it in "
            "Email settings, then Retry send"
        )
    send_via_ews(
        ews_url=ews_url,
        mailbox_address=mailbox_address,
        username=username,
        password=password,
        raw_message=raw_message,
    )
