"""What a failed recipient's `reason`, `status` and `hard` mean: the one place they are decided.

`reason` is one word of the closed vocabulary `REASONS` (its value is the words the pages show
beside the code). `status` is the RFC 3463 enhanced code the notice states; where it states
none, the class of its SMTP reply code ("550" gives "5.0.0"); where it quotes no code at all,
None. No code is ever invented: the vocabulary, not the status, says why.

`hard` (the address itself is bad: mark the prospect invalid) follows from the reason:
- always hard: `user_unknown`, `mailbox_moved`;
- hard when the failure is permanent: `host_unknown`, `no_mail_accepted` (a domain that
  names no mail server, or says it takes no mail, may be fixed; a permanent answer says
  it was not). Permanent is the status class (5) or, with no status, the notice's own
  wording ("temporary", "retry timeout" read as temporary);
- every other reason is soft (the message, the sender or the network failed, not the
  address), and nothing is hard in a delay notice (but OpenSMTPD's delay lines, which name
  permanent facts such as "No MX found for domain").

`reasons.py` reads the wording in finer, internal categories; `from_internal` is the only
bridge from them to this vocabulary.
"""

from __future__ import annotations


def gettext_noop(message: str) -> str:
    """Marks `message` for the catalogue (makemessages reads this name) and returns it as is:
    the parser stays free of Django (bench/bounce_corpus.py runs it without settings)."""
    return message


# reason -> the words shown beside the status code, in English; marked for the catalogue and
# translated where they are shown (gettext of the words), so what is stored stays English.
REASONS: dict[str, str] = {
    "user_unknown": gettext_noop("Address does not exist"),
    "host_unknown": gettext_noop("Domain does not exist or has no mail server"),
    "mailbox_moved": gettext_noop("Mailbox has moved"),
    "no_mail_accepted": gettext_noop("Domain accepts no mail"),
    "mailbox_full": gettext_noop("Mailbox full"),
    "mailbox_disabled": gettext_noop("Mailbox disabled or suspended"),
    "message_too_large": gettext_noop("Message too large"),
    "limit_exceeded": gettext_noop("Over the recipient's limits"),
    "rejected": gettext_noop("Refused by the receiving server"),
    "sender_rejected": gettext_noop("Receiving server refused the sender address"),
    "relaying_denied": gettext_noop("Relaying refused"),
    "blocked": gettext_noop("Sending server or address blocked"),
    "filtered": gettext_noop("Refused by a filter after reading the message"),
    "spam": gettext_noop("Judged to be spam"),
    "virus": gettext_noop("Virus or malware detected"),
    "policy": gettext_noop("Refused by the receiving organization's policy"),
    "content_rejected": gettext_noop("Message content refused"),
    "authentication_failed": gettext_noop("Sender authentication failed (SPF, DKIM, DMARC)"),
    "no_reverse_dns": gettext_noop("Sending server has no reverse DNS"),
    "bad_reputation": gettext_noop("Sender reputation too low"),
    "not_rfc_compliant": gettext_noop("Message does not follow the mail standards"),
    "tls_failed": gettext_noop("Secure connection failed"),
    "security_error": gettext_noop("Security check failed"),
    "too_many_connections": gettext_noop("Too many connections or messages at once"),
    "expired": gettext_noop("Gave up after retrying"),
    "network_error": gettext_noop("Network or DNS error"),
    "system_error": gettext_noop("Receiving mail system error"),
    "system_full": gettext_noop("Receiving mail system out of space"),
    "mailer_error": gettext_noop("Delivery program on the receiving side failed"),
    "syntax_error": gettext_noop("Mail protocol error"),
    "unknown": gettext_noop("Reason not stated"),
}

ALWAYS_HARD = frozenset({"user_unknown", "mailbox_moved"})
HARD_WHEN_PERMANENT = frozenset({"host_unknown", "no_mail_accepted"})

# The internal reading (`reasons.py`, named after Sisimai's categories) -> the vocabulary.
FROM_INTERNAL: dict[str, str] = {
    "undefined": "unknown",
    "onhold": "sender_rejected",
    "syntaxerror": "syntax_error",
    "norelaying": "relaying_denied",
    "filtered": "filtered",
    "userunknown": "user_unknown",
    "hostunknown": "host_unknown",
    "hasmoved": "mailbox_moved",
    "rejected": "rejected",
    "suspend": "mailbox_disabled",
    "mailboxfull": "mailbox_full",
    "exceedlimit": "limit_exceeded",
    "systemerror": "system_error",
    "systemfull": "system_full",
    "notaccept": "no_mail_accepted",
    "mesgtoobig": "message_too_large",
    "mailererror": "mailer_error",
    "networkerror": "network_error",
    "toomanyconn": "too_many_connections",
    "speeding": "too_many_connections",
    "expired": "expired",
    "contenterror": "content_rejected",
    "securityerror": "security_error",
    "blocked": "blocked",
    "virusdetected": "virus",
    "policyviolation": "policy",
    "requireptr": "no_reverse_dns",
    "notcompliantrfc": "not_rfc_compliant",
    "authfailure": "authentication_failed",
    "failedstarttls": "tls_failed",
    "badreputation": "bad_reputation",
    "spamdetected": "spam",
}


def from_internal(name: str) -> str:
    return FROM_INTERNAL.get(name, "unknown")


def label(reason: str) -> str:
    """The words for a reason ('' for none); an unknown word is shown as itself."""
    if not reason:
        return ""
    return REASONS.get(reason, reason.replace("_", " "))


def status_from_reply(reply_code: str | None) -> str | None:
    """The enhanced status an SMTP reply code implies, its class only ("550" -> "5.0.0")."""
    return f"{reply_code[0]}.0.0" if reply_code else None


def is_hard(reason: str, *, permanent: bool, delayed: bool = False) -> bool:
    """The rule of the module docstring."""
    if delayed:
        return False
    return reason in ALWAYS_HARD or (reason in HARD_WHEN_PERMANENT and permanent)
