"""What a parsed bounce says: the failed recipients and what identifies the returned message."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FailedRecipient:
    """One recipient the bounce reports as not delivered (or not yet delivered, for a delay).

    `status` is the RFC 3463 enhanced status code the notice states ("5.1.1"; a vague x.0.0
    refined by a specific code found in the diagnostic); where it states none, the class of
    the SMTP reply code it quotes ("550" gives "5.0.0"); else None. `status_source` says which
    ("notice", "reply_code", or "" for none).
    `reason` is a word of the closed vocabulary in `vocabulary.REASONS` ("user_unknown",
    "mailbox_full", ...; `vocabulary.label` gives its words), and `hard` (the address itself
    is bad: mark it invalid) follows from it by the rule written in `vocabulary`.
    `temporary` is the failure's class as the server or the notice told it (a 4xx reply,
    "temporary" wording, a retry period run out), even when the notice gave up on it.
    """

    address: str
    status: str | None
    diagnostic: str
    hard: bool
    reason: str = "unknown"
    action: str = "failed"
    temporary: bool = False
    status_source: str = "notice"


@dataclass(frozen=True, slots=True)
class BounceReport:
    """A delivery failure (or delay) notice.

    Message-IDs (`original_message_id`) are normalized to the angle-bracket form `<id@host>`:
    surrounding whitespace, comments and duplicate brackets removed, case kept.
    `original_mailroom_id` and `original_from` come from the returned copy of the message (its
    `X-Mailroom-Email-Id` and `From` headers) when the bounce includes it.
    """

    recipients: list[FailedRecipient]
    original_message_id: str | None = None
    reporting_mta: str | None = None
    is_delayed: bool = False
    original_mailroom_id: str | None = None
    original_from: str | None = None
    original_subject: str | None = None
    mta_family: str | None = field(default=None, compare=False)

    @property
    def has_hard_failure(self) -> bool:
        return any(recipient.hard for recipient in self.recipients)
