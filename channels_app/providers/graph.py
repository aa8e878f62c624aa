"""Microsoft Graph client, send verb: `POST /me/sendMail` with the MIME message (base64); the
connect-time mailbox check; the look-up of a message in Sent Items by its Message-ID."""

import base64
import re
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from channels_app.exceptions import (
    MailboxFull,
    MailboxNotOnline,
    QuotaExhausted,
    TransientProviderError,
)

from .http import (
    DEFAULT_TIMEOUT,
    READ_PERMISSION_MISSING,
    SEND_PERMISSION_MISSING,
    error_reasons,
    http_session,
    provider_error_message,
    raise_for_provider_status,
    retry_after_seconds,
)

# Exchange Online says the mailbox's own sending limit is used up ("sender exceeded limits").
QUOTA_WORDS = re.compile(
    r"QuotaExceeded|exceeded (its|the)? ?(sending|message|recipient|submission)? ?limit|"
    r"sender exceeded|recipient rate limit",
    re.I,
)


# The mailbox itself cannot be used through Graph, whatever the call: fix the mailbox.
MAILBOX_FULL_CODES = {"ErrorQuotaExceeded"}
NOT_ONLINE_CODES = {"MailboxNotEnabledForRESTAPI", "MailboxNotSupportedForRESTAPI"}
NOT_ONLINE_REASON = (
    "This Microsoft account's mailbox is not in Exchange Online (Graph: {message}): it is "
    "hosted on an on-premises or hybrid Exchange server, which Connect Outlook cannot reach. "
    "Use Exchange On-Prem in Email settings instead."
)


def raise_for_mailbox_state(response: requests.Response) -> None:
    """A full mailbox (`ErrorQuotaExceeded`, 403 on send and on delta alike) or one Graph
    cannot serve (`MailboxNotEnabledForRESTAPI`, an on-prem or hybrid mailbox): errors about
    the mailbox, not the call, so they are told as such on every Graph call."""
    if response.status_code < 400:
        return
    codes = error_reasons(response)
    if not codes & (MAILBOX_FULL_CODES | NOT_ONLINE_CODES):
        return
    message = provider_error_message(response)
    if codes & NOT_ONLINE_CODES:
        raise MailboxNotOnline(NOT_ONLINE_REASON.format(message=message))
    raise MailboxFull(
        f"The Outlook mailbox is full (Exchange Online: {message}): Exchange cannot store "
        "the message. Free up space in the mailbox (empty Deleted Items, archive old mail), "
        "then Retry send."
    )


def _raise_for_quota(response: requests.Response) -> None:
    if response.status_code not in (403, 429, 503):
        return
    message = provider_error_message(response)
    try:
        code = str(response.json().get("error", {}).get("code", ""))
    except (ValueError, AttributeError):
        code = ""
    if QUOTA_WORDS.search(code) or QUOTA_WORDS.search(message):
        wait = retry_after_seconds(response)
        raise QuotaExhausted(
            f"Exchange Online says this mailbox exceeded its sending limits: {message[:200]}",
            resume_at=timezone.now() + timedelta(seconds=wait) if wait else None,
        )


def send(*, access_token: str, raw_message: bytes) -> None:
    """Send `raw_message` from the token's mailbox. Graph answers 202 with no body."""
    url = f"{settings.MAILROOM_GRAPH_URL}/v1.0/me/sendMail"
    try:
        response = http_session().post(
            url,
            data=base64.b64encode(raw_message),
            headers={"Authorization": f"Bearer {access_token}", "Content-Type": "text/plain"},
            timeout=DEFAULT_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise TransientProviderError(f"Microsoft Graph could not be reached: {exc}") from exc
    raise_for_mailbox_state(response)
    _raise_for_quota(response)
    raise_for_provider_status(
        response, provider="Microsoft Graph", permission=SEND_PERMISSION_MISSING
    )


def mailbox_check(*, access_token: str) -> None:
    """One cheap read (the newest inbox message's id) to learn at connect whether Graph can
    serve the mailbox at all: raises MailboxNotOnline for an on-prem or hybrid mailbox,
    MailboxFull, or the call's own error. Needs read access (Mail.Read)."""
    url = f"{settings.MAILROOM_GRAPH_URL}/v1.0/me/mailFolders/inbox/messages"
    try:
        response = http_session().get(
            url,
            params={"$top": "1", "$select": "id"},
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=DEFAULT_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise TransientProviderError(f"Microsoft Graph could not be reached: {exc}") from exc
    raise_for_mailbox_state(response)
    raise_for_provider_status(response, provider="Microsoft Graph")


def sent_message_id(*, access_token: str, message_id: str) -> str | None:
    """Graph's id of the message with this Message-ID in the mailbox's Sent Items
    (`$filter=internetMessageId eq '…'`), or None when there is none. Needs Mail.Read."""
    quoted = message_id.strip().replace("'", "''")  # OData string literal
    url = f"{settings.MAILROOM_GRAPH_URL}/v1.0/me/mailFolders/sentitems/messages"
    try:
        response = http_session().get(
            url,
            params={"$filter": f"internetMessageId eq '{quoted}'", "$select": "id", "$top": "1"},
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=DEFAULT_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise TransientProviderError(f"Microsoft Graph could not be reached: {exc}") from exc
    raise_for_mailbox_state(response)
    raise_for_provider_status(
        response, provider="Microsoft Graph", permission=READ_PERMISSION_MISSING
    )
    try:
        found = response.json().get("value") or []
    except ValueError as exc:
        raise TransientProviderError("Microsoft Graph answered with something not JSON") from exc
    return str(found[0].get("id", "")) if found else None


INBOX_RESOURCE = "me/mailFolders('inbox')/messages"


def _subscription_call(method: str, path: str, *, access_token: str, json: dict | None = None):
    url = f"{settings.MAILROOM_GRAPH_URL}/v1.0/subscriptions{path}"
    try:
        response = http_session().request(
            method,
            url,
            json=json,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=DEFAULT_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise TransientProviderError(f"Microsoft Graph could not be reached: {exc}") from exc
    raise_for_mailbox_state(response)
    raise_for_provider_status(
        response, provider="Microsoft Graph", permission=READ_PERMISSION_MISSING
    )
    return response


def subscription_create(
    *,
    access_token: str,
    notification_url: str,
    lifecycle_url: str,
    client_state: str,
    expires_at: datetime,
) -> tuple[str, datetime]:
    """A change-notification subscription on the inbox's new messages (`POST /subscriptions`;
    Graph validates both URLs before it answers). Returns (its id, when it expires)."""
    response = _subscription_call(
        "POST",
        "",
        access_token=access_token,
        json={
            "changeType": "created",
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": lifecycle_url,
            "resource": INBOX_RESOURCE,
            "expirationDateTime": expires_at.isoformat().replace("+00:00", "Z"),
            "clientState": client_state,
        },
    )
    return _subscription_answer(response)


def subscription_renew(
    *, access_token: str, subscription_id: str, expires_at: datetime
) -> datetime:
    response = _subscription_call(
        "PATCH",
        f"/{subscription_id}",
        access_token=access_token,
        json={"expirationDateTime": expires_at.isoformat().replace("+00:00", "Z")},
    )
    return _subscription_answer(response)[1]


def subscription_delete(*, access_token: str, subscription_id: str) -> None:
    _subscription_call("DELETE", f"/{subscription_id}", access_token=access_token)


def _subscription_answer(response: requests.Response) -> tuple[str, datetime]:
    try:
        payload = response.json()
        expires = parse_datetime(str(payload["expirationDateTime"]))
        if expires is None:
            raise ValueError(payload["expirationDateTime"])
        return str(payload["id"]), expires
    except (ValueError, KeyError, TypeError) as exc:
        raise TransientProviderError("Graph's subscription answer had no id / expiry") from exc
