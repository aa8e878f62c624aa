"""What a parsed bounce says: the failed recipients and what identifies the returned message."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FailedRecipient:
    """One recipient the bounce reports as not delivered (or not yet delivered, for a delay).

    `status` is the RFC 3463 enhanced status code the message carries ("5.1.1"; a vague
    x.0.0 refined by a specific code found in the diagnostic). Where the message carries none,
    it is Sisimai's pseudo-code of the reason, `<class>.0.9NN` (userunknown "5.0.911",
    hostunknown "5.0.912", filtered "5.0.910", rejected "5.0.918", mailboxfull "5.0.922" or
    "4.0.922", expired "5.0.947" or "4.0.947", blocked "5.0.971" ...; see
    `reasons.pseudo_status`), so figures compare literally with Sisimai and its corpus.
    `reason` names that failure in Sisimai's vocabulary ("userunknown", "mailboxfull", ...).
    `hard` is true when the address itself is bad (unknown user, unknown or mail-less domain,
    mailbox moved away): the address should be marked invalid.
    """

    address: str
    status: str | None
    diagnostic: str
    hard: bool
    reason: str = "undefined"
    action: str = "failed"


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
