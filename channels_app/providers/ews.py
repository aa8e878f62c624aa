"""Exchange On-Prem (2013 / 2016), send verb, and the look-up of a message already in Sent
Items by its Message-ID.

Two ways out, chosen by what IT gave the rep:
- an SMTP submission host on the channel (`host`, usually port 587 with STARTTLS): plain
  authenticated SMTP submission, the same client and error mapping as every SMTP channel;
- otherwise EWS with exchangelib, at the EWS URL the channel was verified with: one CreateItem
  with the whole MIME message (`mime_content`) and SendAndSaveCopy into the mailbox's Sent
  Items, so the Message-ID and the X-Mailroom-Email-Id header Mailroom set are the ones that
  leave the server, and the rep finds what Mailroom sent in Outlook (as with Gmail and Graph).
EWS is the default because it is the endpoint the credentials were checked against when the
mailbox was connected; many Exchange servers have client SMTP submission switched off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
from exchangelib import DELEGATE, Account, Configuration, Credentials, Message
from exchangelib.errors import (
    ErrorADUnavailable,
    ErrorBatchProcessingStopped,
    ErrorConnectionFailed,
    ErrorConnectionFailedTransientError,
    ErrorExceededConnectionCount,
    ErrorInternalServerError,
    ErrorInternalServerTransientError,
    ErrorMailboxMoveInProgress,
    ErrorMailboxStoreUnavailable,
    ErrorProxyRequestProcessingFailed,
    ErrorQuotaExceeded,
    ErrorServerBusy,
    ErrorSubmissionQuotaExceeded,
    ErrorTimeoutExpired,
    ErrorTooManyObjectsOpened,
    EWSError,
    RedirectError,
    ResponseMessageError,
    TransportError,
    UnauthorizedError,
)
from exchangelib.folders import Root, SentItems

from channels_app.exceptions import (
    CredentialsRejected,
    MailboxFull,
    PermanentProviderError,
    QuotaExhausted,
    RateLimited,
    TransientProviderError,
)

from . import smtp
from .addresses import AddressRefused
from .ews_auth import address_refused, ews_protocol_setup, reachability_text

TIMEOUT_SECONDS = 30
# exchangelib makes every EWS ResponseCode a TransportError subclass (ResponseMessageError):
# these are the server's own trouble and worth retrying; any other code is Exchange's verdict
# on this message (ErrorSendAsDenied, ErrorInvalidRecipients, ErrorMessageSizeExceeded, …).
TRANSIENT_RESPONSE_ERRORS = (
    ErrorADUnavailable,
    ErrorBatchProcessingStopped,
    ErrorConnectionFailed,
    ErrorConnectionFailedTransientError,
    ErrorExceededConnectionCount,
    ErrorInternalServerError,
    ErrorInternalServerTransientError,
    ErrorMailboxMoveInProgress,
    ErrorMailboxStoreUnavailable,
    ErrorProxyRequestProcessingFailed,
    ErrorTimeoutExpired,
    ErrorTooManyObjectsOpened,
)


EWS_CONNECTIONS = 4


def _account(*, ews_url: str, mailbox_address: str, username: str, password: str) -> Account:
    return Account(
        primary_smtp_address=mailbox_address,
        config=Configuration(
            service_endpoint=ews_url,
            credentials=Credentials(username=username or mailbox_address, password=password),
            # exchangelib shares one session pool per server and login across the process; an
            # EWS stream (bounces.idle) holds one session for minutes, so sends and polls of the
            # same mailbox need others beside it (Exchange allows 27 per user by default).
            max_connections=EWS_CONNECTIONS,
        ),
        autodiscover=False,
        access_type=DELEGATE,
    )


def _sent_items(account: Account) -> SentItems:
    # The distinguished Sent Items folder by name: exchangelib would otherwise look the
    # folder up (two more GetFolder round trips) before every call.
    return SentItems(root=Root(account=account))


@contextmanager
def _exchange_errors() -> Iterator[None]:
    """exchangelib's and the network's errors as channels_app.exceptions."""
    try:
        yield
    except AddressRefused as exc:
        raise PermanentProviderError(
            f"{exc.message} — change the Exchange server in Email settings, then Retry send"
        ) from exc
    except UnauthorizedError as exc:
        # One refused login per batch, not per email: each one counts as a bad password in
        # Active Directory, and a few in a row lock the rep's Windows account out.
        raise CredentialsRejected(
            "Exchange refused the username or password — update them in Email settings, "
            "then Retry send"
        ) from exc
    except ErrorServerBusy as exc:
        raise RateLimited(
            f"Exchange is busy: {exc}", retry_after=getattr(exc, "back_off", None)
        ) from exc
    except ErrorSubmissionQuotaExceeded as exc:
        raise QuotaExhausted(
            f"Exchange says this mailbox exceeded the sending limit IT set: {exc}"
        ) from exc
    except ErrorQuotaExceeded as exc:
        raise MailboxFull(
            f"The Exchange mailbox is full ({exc}): Exchange cannot store the message. Free up "
            "space in the mailbox (empty Deleted Items, archive old mail), then Retry send."
        ) from exc
    except RedirectError as exc:
        raise PermanentProviderError(
            f"Exchange redirected Mailroom to {exc.url} instead of answering: the EWS URL is "
            "not right — reconnect the mailbox in Email settings, then Retry send"
        ) from exc
    except TRANSIENT_RESPONSE_ERRORS as exc:
        raise TransientProviderError(f"Exchange could not take the message now: {exc}") from exc
    except ResponseMessageError as exc:
        raise PermanentProviderError(f"Exchange rejected the message: {exc}") from exc
    except TransportError as exc:
        raise unreachable(
            exc, fix=" — change the Exchange server in Email settings, then Retry send"
        ) from exc
    except EWSError as exc:
        raise PermanentProviderError(f"Exchange rejected the message: {exc}") from exc
    except (requests.RequestException, OSError) as exc:
        raise unreachable(exc) from exc


def unreachable(
    exc: BaseException, *, fix: str = ""
) -> PermanentProviderError | TransientProviderError:
    """What a network failure talking to Exchange means: an address Mailroom may not connect to
    (for good, with `fix` said after it), else a server out of reach for now."""
    refused = address_refused(exc) if isinstance(exc, TransportError) else None
    if refused is not None:
        return PermanentProviderError(f"{refused.message}{fix}")
    return TransientProviderError(f"Could not reach the Exchange server: {reachability_text(exc)}")


def send_via_ews(
    *, ews_url: str, mailbox_address: str, username: str, password: str, raw_message: bytes
) -> None:
    ews_protocol_setup(timeout=TIMEOUT_SECONDS)
    with _exchange_errors():
        account = _account(
            ews_url=ews_url, mailbox_address=mailbox_address, username=username, password=password
        )
        Message(
            account=account, folder=_sent_items(account), mime_content=raw_message
        ).send_and_save()


def sent_item_id(
    *, ews_url: str, mailbox_address: str, username: str, password: str, message_id: str
) -> str | None:
    """The EWS item id of the message with this Message-ID in the mailbox's Sent Items (a
    FindItem restricted on `message:InternetMessageId`), or None when there is none. Rare (a
    send whose outcome was lost), so exchangelib may look the folder up first: its paging
    loses track of a folder built by name, as the send builds it."""
    ews_protocol_setup(timeout=TIMEOUT_SECONDS)
    with _exchange_errors():
        account = _account(
            ews_url=ews_url, mailbox_address=mailbox_address, username=username, password=password
        )
        found = list(account.sent.filter(message_id=message_id).values_list("id", flat=True)[:1])
    return str(found[0]) if found else None


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
