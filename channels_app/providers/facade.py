"""The one place that chooses a provider by the channel's kind.

Callers speak three verbs: `deliver(channel=…, message=…)` hands one built message to the
channel's provider, `already_sent(channel=…, message_id=…)` asks the mailbox whether a message
with that Message-ID is in its sent mail (None where the provider cannot be asked), and
`inbox(channel=…)` opens the channel's inbox for polling (None where the kind has no bounce
tracking yet). Each kind's wiring — which token, which server, how a
refused token is retried — lives in its `Provider` below; the protocol clients stay in their
own modules (gmail, graph, gmail_inbox, graph_inbox, imap_inbox, ews, smtp). Adding a provider
is its client module, a `Provider` when its wiring is new, and one line in `_PROVIDERS`.

This module sits above channels_app.tokens (it asks for access tokens); the clients sit below
it and know nothing of channels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings

from channels_app.exceptions import (
    AccessTokenExpired,
    PermanentProviderError,
    TransientProviderError,
)
from channels_app.models import DeliveryChannel
from channels_app.tokens import channel_access_token

from . import ews, gmail, graph, imap, smtp
from .ews_inbox import EwsInbox
from .gmail_inbox import GmailInbox
from .graph_inbox import GraphInbox
from .imap_inbox import ImapInbox
from .inbox import Inbox

Kind = DeliveryChannel.Kind
_T = TypeVar("_T")


@dataclass(frozen=True)
class OutgoingMessage:
    """A message ready to go: the RFC 5322 bytes and the SMTP envelope."""

    raw: bytes
    envelope_from: str
    recipients: list[str]


class Provider:
    """A kind's wiring. `deliver` returns the provider's message id ("" when it gives none)
    and raises channels_app.exceptions.ProviderError subclasses."""

    def deliver(self, channel: DeliveryChannel, message: OutgoingMessage) -> str:
        raise NotImplementedError

    def already_sent(self, channel: DeliveryChannel, message_id: str) -> str | None:
        """The provider's id ("" when it has none) of the message with this Message-ID in the
        mailbox's sent mail; None when there is none, or the provider cannot be asked."""
        return None

    def inbox(self, channel: DeliveryChannel, *, force_refresh: bool = False) -> Inbox | None:
        return None


@dataclass(frozen=True)
class OAuthMailbox(Provider):
    """Gmail and Exchange Online: the channel's access token; a token the provider refuses is
    refreshed and the call tried once more. The sent-mail look-up needs read access."""

    send: Callable[..., str | None]
    find_sent: Callable[..., str | None]
    inbox_class: Callable[..., Inbox]

    def _with_token(self, channel: DeliveryChannel, call: Callable[[str], _T]) -> _T:
        token = channel_access_token(channel=channel)
        try:
            return call(token)
        except AccessTokenExpired:
            token = channel_access_token(channel=channel, force_refresh=True)
            try:
                return call(token)
            except AccessTokenExpired as exc:
                raise TransientProviderError(
                    f"{channel.get_kind_display()} refused a freshly refreshed access token: "
                    f"{exc.reason}"
                ) from exc

    def deliver(self, channel: DeliveryChannel, message: OutgoingMessage) -> str:
        return self._with_token(
            channel, lambda token: self.send(access_token=token, raw_message=message.raw) or ""
        )

    def already_sent(self, channel: DeliveryChannel, message_id: str) -> str | None:
        if not channel.can_read_inbox:
            return None
        return self._with_token(
            channel, lambda token: self.find_sent(access_token=token, message_id=message_id)
        )

    def inbox(self, channel: DeliveryChannel, *, force_refresh: bool = False) -> Inbox:
        token = channel_access_token(channel=channel, force_refresh=force_refresh)
        return self.inbox_class(access_token=token)


def smtp_server(channel: DeliveryChannel) -> smtp.SmtpServer | None:
    """The channel's SMTP server: its own settings, the platform relay's for the legacy
    kind (each field the channel leaves empty), None when none is set."""
    if channel.kind == Kind.MSC_LEGACY:
        return smtp.SmtpServer(
            host=channel.host or settings.MAILROOM_LEGACY_SMTP_HOST,
            port=channel.port or settings.MAILROOM_LEGACY_SMTP_PORT,
            security=channel.security or settings.MAILROOM_LEGACY_SMTP_SECURITY,
            username=channel.username or settings.MAILROOM_LEGACY_SMTP_USERNAME,
            password=channel.password or settings.MAILROOM_LEGACY_SMTP_PASSWORD,
            checked=False,  # the operator's own relay, from settings
        )
    if not channel.host:
        return None
    return smtp.SmtpServer(
        host=channel.host,
        port=channel.port or 587,
        security=channel.security or DeliveryChannel.Security.STARTTLS,
        username=channel.username,
        password=channel.password,
    )


def imap_server(channel: DeliveryChannel) -> imap.ImapServer | None:
    """The IMAP inbox of an SMTP channel with a mailbox, None when it has none."""
    if not channel.has_imap:
        return None
    security = channel.imap_security or DeliveryChannel.Security.SSL
    return imap.ImapServer(
        host=channel.imap_host,
        port=channel.imap_port or imap.DEFAULT_PORTS[security],
        security=security,
        username=channel.imap_username,
        password=channel.imap_password,
        folder=channel.imap_folder or "INBOX",
    )


class SmtpRelay(Provider):
    """Custom SMTP (a rep's or the team's) and the platform's legacy relay. A custom SMTP
    channel with IMAP settings has an inbox: its IMAP folder."""

    def inbox(self, channel: DeliveryChannel, *, force_refresh: bool = False) -> Inbox | None:
        server = imap_server(channel)
        return ImapInbox(server=server) if server is not None else None

    def deliver(self, channel: DeliveryChannel, message: OutgoingMessage) -> str:
        server = smtp_server(channel)
        if server is None:
            raise PermanentProviderError(
                "This SMTP channel has no server set — complete it in Email settings, "
                "then Retry send"
            )
        smtp.send(
            server=server,
            raw_message=message.raw,
            envelope_from=message.envelope_from,
            recipients=message.recipients,
        )
        return ""


class ExchangeOnPrem(Provider):
    """EWS with the mailbox's credentials, or SMTP submission when the channel names a host.
    Its inbox is read through EWS (SyncFolderItems) either way."""

    def inbox(self, channel: DeliveryChannel, *, force_refresh: bool = False) -> Inbox | None:
        if not channel.ews_url:
            return None
        return EwsInbox(
            ews_url=channel.ews_url,
            mailbox_address=channel.mailbox_address,
            username=channel.username,
            password=channel.password,
        )

    def deliver(self, channel: DeliveryChannel, message: OutgoingMessage) -> str:
        ews.send(
            smtp_server=smtp_server(channel),
            ews_url=channel.ews_url,
            mailbox_address=message.envelope_from,
            username=channel.username,
            password=channel.password,
            raw_message=message.raw,
            recipients=message.recipients,
        )
        return ""

    def already_sent(self, channel: DeliveryChannel, message_id: str) -> str | None:
        """Sent Items through EWS; a mailbox that submits over SMTP cannot be asked."""
        if smtp_server(channel) is not None or not channel.ews_url:
            return None
        return ews.sent_item_id(
            ews_url=channel.ews_url,
            mailbox_address=channel.mailbox_address,
            username=channel.username,
            password=channel.password,
            message_id=message_id,
        )


_PROVIDERS: dict[str, Provider] = {
    Kind.GMAIL: OAuthMailbox(
        send=gmail.send, find_sent=gmail.sent_message_id, inbox_class=GmailInbox
    ),
    Kind.EXCHANGE_ONLINE: OAuthMailbox(
        send=graph.send, find_sent=graph.sent_message_id, inbox_class=GraphInbox
    ),
    Kind.EXCHANGE_ONPREM: ExchangeOnPrem(),
    Kind.CUSTOM_SMTP: SmtpRelay(),
    Kind.MSC_LEGACY: SmtpRelay(),
}


def provider_for(channel: DeliveryChannel) -> Provider:
    return _PROVIDERS[channel.kind]


def deliver(*, channel: DeliveryChannel, message: OutgoingMessage) -> str:
    """Hand one message to the channel's provider; returns its message id if it gives one."""
    return provider_for(channel).deliver(channel, message)


def already_sent(*, channel: DeliveryChannel, message_id: str) -> str | None:
    """Whether the channel's mailbox already holds a sent message with this Message-ID: the
    provider's id for it ("" when it gives none), or None (not there, or cannot be asked)."""
    return provider_for(channel).already_sent(channel, message_id)


def inbox(*, channel: DeliveryChannel, force_refresh: bool = False) -> Inbox | None:
    """The channel's inbox for polling, with a fresh access token (`force_refresh` after the
    provider refused the last one), or None where the kind has no bounce tracking."""
    return provider_for(channel).inbox(channel, force_refresh=force_refresh)
