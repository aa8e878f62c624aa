"""The project's own errors for talking to mail providers. Provider clients translate HTTP and
SMTP failures into these; the send pipeline and the poller decide from the type alone whether
to retry, wait, fail the email, or ask the rep to reconnect."""

from dataclasses import dataclass
from datetime import datetime


class ProviderError(Exception):
    """Base class: `reason` is a sentence a person can read in the outbox or the feed."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TransientProviderError(ProviderError):
    """Try again later (network error, 5xx, timeout). `retry_after` in seconds when the
    provider said how long to wait."""

    def __init__(self, reason: str, *, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class RateLimited(TransientProviderError):
    """HTTP 429 or the provider's per-minute limit: wait `retry_after` seconds."""


class AccessTokenExpired(ProviderError):
    """The provider refused the access token (401): refresh it and retry once."""


class ReconnectRequired(ProviderError):
    """The grant is gone for good (invalid_grant, revoked consent): the rep must reconnect.
    Mail waits; nothing is failed."""


class InsufficientPermissions(ReconnectRequired):
    """The grant lacks a scope the call needs (Google 403 `insufficientPermissions`, an RFC 6750
    `insufficient_scope` challenge): the user unticked it on the consent page. Like any
    ReconnectRequired the channel needs reconnecting, with this reason; mail waits."""


class QuotaExhausted(ProviderError):
    """The provider says the mailbox's own sending quota is used up (Gmail's daily limit,
    Exchange's "sender exceeded limits"): the mailbox pauses until `resume_at`."""

    def __init__(self, reason: str, *, resume_at: datetime | None = None):
        super().__init__(reason)
        self.resume_at = resume_at


class PermanentProviderError(ProviderError):
    """Retrying will not help (bad credentials, message rejected): the email fails with
    `reason`, and the rep can "Retry send" after fixing the cause."""


class ChannelRefusesAll(PermanentProviderError):
    """Every email through the channel would fail the same way until someone fixes the
    channel itself, so the rest of the batch fails without asking the server again, and the
    channel shows the error in Email settings until it sends again."""


class CredentialsRejected(ChannelRefusesAll):
    """The server refused the channel's saved login (SMTP 535): someone must update the
    credentials."""


class MailboxFull(ChannelRefusesAll):
    """Exchange Online's `ErrorQuotaExceeded`: the mailbox has reached its storage size, so
    Exchange cannot store the message (nor the Sent Items copy). Not a sending limit: nothing
    comes back by waiting; the owner must free space."""


class MailboxNotOnline(ChannelRefusesAll):
    """Graph's `MailboxNotEnabledForRESTAPI`: the account signs in to Microsoft 365 but its
    mailbox lives on an on-premises (or hybrid) Exchange server, which Graph cannot reach."""


@dataclass(frozen=True)
class RejectedRecipient:
    address: str
    status: str | None
    diagnostic: str
    hard: bool


class RecipientsRejected(ProviderError):
    """The server refused recipients at send time (5xx to RCPT TO): a bounce of that email."""

    def __init__(self, reason: str, *, recipients: list[RejectedRecipient]):
        super().__init__(reason)
        self.recipients = recipients
