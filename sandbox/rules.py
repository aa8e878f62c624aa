"""The magic recipient addresses: what the sandbox does when a mailbox sends to them.

One table, first match wins. Matching is case-insensitive on the local part's *prefix*
(``bounce.jamie@northwind.test`` matches ``bounce``) or on the whole domain.

Gmail / Graph sends: a matching ``bounce`` rule puts a provider-style DSN / NDR into the sender's
inbox at once; ``reply`` puts a human reply there; ``auto_reply`` an out-of-office auto-reply.
SMTP: a ``bounce`` rule rejects the RCPT TO with ``smtp_reply``; other rules accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Behaviour = Literal["bounce", "reply", "auto_reply"]


@dataclass(frozen=True)
class RecipientRule:
    behaviour: Behaviour
    local_prefix: str = ""  # matches when the local part starts with this (case-insensitive)
    domains: tuple[str, ...] = ()  # or when the domain is one of these
    hard: bool = True  # the address itself is bad (for bounces)
    status: str = ""  # RFC 3463 enhanced status code in Gmail's DSN
    exchange_status: str = ""  # ... and in Exchange Online's NDR
    gmail_diagnostic: str = ""
    exchange_diagnostic: str = ""
    smtp_reply: str = ""  # "{addr}" is replaced by the recipient

    def matches(self, address: str) -> bool:
        local, _, domain = address.strip().strip("<>").lower().rpartition("@")
        if self.local_prefix and local.startswith(self.local_prefix):
            return True
        return bool(self.domains) and domain in self.domains


RECIPIENT_RULES: tuple[RecipientRule, ...] = (
    RecipientRule(
        behaviour="bounce",
        local_prefix="bounce",
        status="5.1.1",
        exchange_status="5.1.10",
        gmail_diagnostic=(
            "550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
            " 550-5.1.1 double-checking the recipient's email address for typos or\n"
            " 550-5.1.1 unnecessary spaces. For more information, go to\n"
            " 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser"
        ),
        exchange_diagnostic=(
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
        ),
        smtp_reply="550 5.1.1 <{addr}>: Recipient address rejected: User unknown",
    ),
    RecipientRule(
        behaviour="bounce",
        domains=("invalid.test", "nonexistent.test"),
        status="5.1.2",
        exchange_status="5.4.310",
        gmail_diagnostic="DNS Error: DNS type 'mx' lookup of {domain} responded with code NXDOMAIN",
        exchange_diagnostic=(
            "550 5.4.310 DNS domain {domain} does not exist [Message=InfoDomainNonexistent]"
        ),
        smtp_reply="550 5.1.1 <{addr}>: Recipient address rejected: User unknown",
    ),
    RecipientRule(
        behaviour="bounce",
        local_prefix="mailboxfull",
        hard=False,
        status="5.2.2",
        exchange_status="5.2.2",
        gmail_diagnostic=(
            "552-5.2.2 The recipient's inbox is out of storage space. Please direct the\n"
            " 552 5.2.2 recipient to https://support.google.com/mail/?p=OverQuotaPerm"
        ),
        exchange_diagnostic="552 5.2.2 STOREDRV.Deliver; mailbox full",
        smtp_reply="552 5.2.2 <{addr}>: Recipient address rejected: Mailbox full",
    ),
    RecipientRule(
        behaviour="bounce",
        local_prefix="blocked",
        hard=False,
        status="5.7.1",
        exchange_status="5.7.1",
        gmail_diagnostic=(
            "550-5.7.1 Our system has detected that this message is likely unsolicited mail.\n"
            " 550 5.7.1 To reduce the amount of spam sent to Gmail, this message has been blocked."
        ),
        exchange_diagnostic="550 5.7.1 Service unavailable, Client host blocked using Spamhaus",
        smtp_reply="550 5.7.1 <{addr}>: Recipient address rejected: Access denied",
    ),
    RecipientRule(behaviour="reply", local_prefix="reply"),
    RecipientRule(behaviour="auto_reply", local_prefix="ooo"),
)


def rule_for(address: str) -> RecipientRule | None:
    for rule in RECIPIENT_RULES:
        if rule.matches(address):
            return rule
    return None
