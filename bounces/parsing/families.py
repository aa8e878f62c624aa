"""Which mail system wrote a bounce, from the structural marks of its format.

Some formats say at which SMTP stage the remote server refused (Exim's "SMTP error from remote
mail server after RCPT TO:", m-FILTER's "SMTP command" section), others never do (X2, Zoho,
Exchange 2003's Internet Mail Connector). Sisimai, whose reading the corpus follows, takes
"user unknown" wording as a bad address only when the stage was RCPT (or the status code is
x.1.x): said at another stage, or where the format names no stage, it is a filter's verdict.
Knowing the family tells which of the two a report falls in, without guessing from wording.

Marks are headers and fixed sentences of each MTA's template, never hosts or addresses.
"""

from __future__ import annotations

import re
from email.message import Message

from .message import header_text

EXIM = "exim"
MXLOGIC = "mxlogic"
X2 = "x2"
ZOHO = "zoho"
MFILTER = "mfilter"
EXCHANGE2003 = "exchange2003"
GMX = "gmx"
OPENSMTPD = "opensmtpd"
AMAZONSES = "amazonses"
FML = "fml"

# Zoho's wording of a connection that never succeeded until the retry period ran out.
ZOHO_EXPIRED = "Host not reachable"

# Families whose template names the SMTP stage only in the sentences matched by
# `command_of` (or never): "user unknown" wording outside RCPT is "filtered" there.
STAGE_EXPLICIT = frozenset({EXIM, MXLOGIC, X2, ZOHO, MFILTER, EXCHANGE2003, AMAZONSES})

_EXIM_MESSAGE_ID = re.compile(r"^\s*<\w{6,7}-\w{6}-\w{2,4}@")
_EXIM_SUBJECT = re.compile(
    r"mail delivery failed|warning: message \S+ delayed|delivery status notification"
    r"|mail failure|message frozen|error\(s\) in forwarding or filtering",
    re.IGNORECASE,
)
_EXIM_BODY = "This message was created automatically by mail delivery software."
_GMX_SEPARATOR = "--- The header of the original message is following. ---"
_OPENSMTPD_BODY = "This is the MAILER-DAEMON, please DO NOT REPLY to this"
# OpenSMTPD's notice: one "address: what happened" line per recipient, the only diagnosis.
_OPENSMTPD_LINE = re.compile(r"^([^\s:@]+@[^\s:]+): +(\S.*)$", re.MULTILINE)
_X2_BODY = "Unable to deliver message to the following address"
_X2_SUBJECT = re.compile(r"^\s*(?:delivery failure|failure delivery|failed delivery)", re.I)
_EXCHANGE2003_MAILER = (
    "Internet Mail Service (",
    "Microsoft Exchange Server Internet Mail Connector",
)

# fml, a Japanese mailing-list manager: its own notices carry its X-MLServer header and a
# Message-ID it makes up ("<date.FMLxxxx.list@host>"); the posts it relays keep the author's.
_FML_MESSAGE_ID = re.compile(r"^\s*<?\d+\.FML", re.IGNORECASE)
# Its refusals of a post, said to the poster (notices to the list's maintainer, such as loop
# and security alerts, are about other people's mail and never reach a sender).
_FML_REFUSAL = re.compile(
    r"are not (?:a )?member|not member article from|reject(?:ed)? mail from"
    r"|spam mail from a spammer is rejected",
    re.IGNORECASE,
)
# The list the post was refused by, as the notice names it: "... this mailing list <list@host>."
_FML_LIST_ADDRESS = re.compile(
    r"mailing list <([^<>\s@]+@[^<>\s]+)>\.?[ \t]*$", re.IGNORECASE | re.MULTILINE
)

# The stage named by each family's template.
_EXIM_COMMAND = re.compile(
    r"(?:SMTP error from remote (?:mail server|mailer)|LMTP error) after (?:end of )?([A-Za-z]{4})"
)
_MFILTER_COMMAND = re.compile(r"-+ ?SMTP command\s*\n?\s*([A-Za-z]{4})", re.IGNORECASE)

# Exchange 2003 names the failure by an MSEXCH code; only "Unknown Recipient" is a bad address.
_MSEXCH_CODE = re.compile(r"MSEXCH:\S*.{0,80}?\(([0-9A-F]{8})\)")
MSEXCH_REASONS = {
    "000C05A6": "userunknown",
    "000C0595": "filtered",
    "00010256": "systemerror",
    "000D06B5": "systemerror",
    "00120270": "networkerror",
    "00050311": "contenterror",
    "000502CC": "contenterror",
    "000B0981": "securityerror",
}


def detect(message: Message, text: str) -> str | None:
    """The family of the bounce `message` whose report text is `text`, when its marks show."""
    if header_text(message, "X-ZohoMail"):
        return ZOHO
    mailer = header_text(message, "X-Mailer").strip()
    if mailer.startswith("m-FILTER"):
        return MFILTER
    if (
        mailer.startswith(_EXCHANGE2003_MAILER)
        or header_text(message, "X-MS-Embedded-Report")
        or header_text(message, "X-MimeOLE").startswith("Produced By Microsoft Exchange")
    ):
        return EXCHANGE2003
    if _OPENSMTPD_BODY in text:
        return OPENSMTPD
    if header_text(message, "X-MLServer").lower().startswith("fml") and _FML_MESSAGE_ID.match(
        header_text(message, "Message-ID")
    ):
        return FML
    sender = header_text(message, "From")
    subject = header_text(message, "Subject")
    if _EXIM_BODY in text:
        if _GMX_SEPARATOR in text:
            # GMX's template borrows Exim's opening and names the stage in its own words.
            return GMX
        if (
            header_text(message, "X-MX-Bounce")
            or header_text(message, "X-MXL-Hash")
            or "Included is a copy of the message header:" in text
        ):
            return MXLOGIC
        marks = (
            sender.lstrip('" ').startswith("Mail Delivery System")
            + bool(_EXIM_MESSAGE_ID.match(header_text(message, "Message-ID")))
            + bool(_EXIM_SUBJECT.search(subject))
        )
        if marks >= 1:
            return EXIM
    if _X2_BODY in text and "MAILER-DAEMON@" in sender and _X2_SUBJECT.match(subject):
        return X2
    return None


def command_of(family: str | None, diagnostic: str, context: str) -> str:
    """The SMTP command the family's template says the refusal answered ('' when unsaid)."""
    if family in (EXIM, MXLOGIC):
        found = _EXIM_COMMAND.search(diagnostic) or _EXIM_COMMAND.search(context)
    elif family == MFILTER:
        found = _MFILTER_COMMAND.search(context)
    else:
        return ""
    return found.group(1).upper() if found else ""


def msexch_reason(context: str) -> str | None:
    found = _MSEXCH_CODE.search(context)
    return MSEXCH_REASONS.get(found.group(1)) if found else None


def fml_refusal(message: Message, text: str) -> tuple[str, str] | None:
    """(list address, what fml said) when an fml notice refuses the recipient's post."""
    subject = header_text(message, "Subject")
    if not (_FML_REFUSAL.search(subject) or _FML_REFUSAL.search(text[:2000])):
        return None
    found = _FML_LIST_ADDRESS.search(text[:4000])
    if found is None:
        return None
    return found.group(1).lower(), " ".join(text[: found.end()].split())


def opensmtpd_lines(text: str) -> dict[str, str]:
    """What OpenSMTPD's notice says of each recipient, by lower-cased address."""
    found: dict[str, str] = {}
    for match in _OPENSMTPD_LINE.finditer(text[:20000]):
        found.setdefault(match.group(1).lower(), match.group(2).strip())
    return found
