"""RFC 3464 delivery-status fields, from a message/delivery-status part or from plain text.

Real DSNs are often sloppy: blank lines missing between recipients, fields folded oddly, the
whole report pasted into a text/plain part. Fields are read in order and a new recipient
starts whenever a recipient field repeats, so none of that matters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

from .message import first_address
from .plaintext import unwrap_gateway_addresses

_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]{1,40})[ \t]*:[ \t]*(.*)$")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")

RECIPIENT_FIELDS = frozenset(
    {
        "final-recipient",
        "original-recipient",
        "x-actual-recipient",
        "action",
        "status",
        "diagnostic-code",
        "remote-mta",
        "last-attempt-date",
        "will-retry-until",
        "x-supplementary-info",
        "x-display-name",
    }
)


@dataclass
class DsnRecipient:
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str | None:
        for name in ("final-recipient", "original-recipient", "x-actual-recipient"):
            value = self.fields.get(name, "")
            if "smtp=" in value.lower() or "imceasmtp-" in value.lower():
                # "X400; c=US;a= ;p=Org;o=Site;dda:SMTP=a@b;" (Exchange 5.5 and other X.400
                # gateways): the SMTP address inside the O/R address.
                value = unwrap_gateway_addresses(_after_type(value))
            address = _utf8_address(value) or first_address(_after_type(value))
            if address and "@" in address:
                return address
        return None

    @property
    def action(self) -> str:
        return self.fields.get("action", "").strip().lower().split(" ")[0].rstrip(";")

    @property
    def status(self) -> str | None:
        found = _STATUS.search(self.fields.get("status", ""))
        return ".".join(found.groups()) if found else None

    @property
    def diagnostic(self) -> str:
        return " ".join(_after_type(self.fields.get("diagnostic-code", "")).split())


@dataclass
class DeliveryStatus:
    per_message: dict[str, str] = field(default_factory=dict)
    recipients: list[DsnRecipient] = field(default_factory=list)

    @property
    def reporting_mta(self) -> str | None:
        value = _after_type(self.per_message.get("reporting-mta", "")).strip()
        return value.split()[0].strip(";") if value else None


# Stands between two blank-line separated blocks in a field list.
BLOCK_BREAK = ("", "")


def fields_from_part(part: Message, text: str) -> list[tuple[str, str]]:
    """The fields of a message/delivery-status part, however the MIME parser stored them."""
    payload = part.get_payload()
    if isinstance(payload, list):
        found: list[tuple[str, str]] = []
        for block in payload:
            if isinstance(block, Message):
                found.extend(
                    (str(name), " ".join(str(value).split())) for name, value in block.items()
                )
                found.append(BLOCK_BREAK)
        if any(name for name, _ in found):
            return found
    return fields_from_text(text)


def fields_from_text(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for line in text.split("\n"):
        if not line.strip():
            if found and found[-1] != BLOCK_BREAK:
                found.append(BLOCK_BREAK)
            continue
        if line[:1] in (" ", "\t") and found and found[-1] != BLOCK_BREAK:
            name, value = found[-1]
            found[-1] = (name, f"{value} {line.strip()}")
            continue
        matched = _FIELD.match(line.strip())
        if matched:
            found.append((matched.group(1), matched.group(2).strip()))
    return found


def read_delivery_status(fields: list[tuple[str, str]]) -> DeliveryStatus:
    report = DeliveryStatus()
    current: DsnRecipient | None = None
    for raw_name, value in fields:
        if not raw_name:
            current = None
            continue
        name = raw_name.lower()
        if name not in RECIPIENT_FIELDS:
            report.per_message.setdefault(name, value)
            continue
        repeats = (
            name in {"final-recipient", "original-recipient"}
            and current is not None
            and (name in current.fields)
        )
        if current is None or repeats:
            current = DsnRecipient()
            report.recipients.append(current)
        current.fields.setdefault(name, value)
    return report


# RFC 6533 (SMTPUTF8 DSNs, message/global-delivery-status): "utf-8; josé@example.org", where
# a character may also be written \x{HHHH}. The address is the whole value, taken as written.
_UTF8_TYPE = re.compile(r"^\s*utf-8\s*;\s*<?([^\s<>;@]{1,128}@[^\s<>;@]{1,255}?)>?\s*$", re.I)
_UNITEXT = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")


def _utf8_address(value: str) -> str | None:
    matched = _UTF8_TYPE.match(value)
    if matched is None:
        return None
    address = _UNITEXT.sub(lambda m: chr(int(m.group(1), 16)), matched.group(1))
    return address.lower() if address.isprintable() else None


def _after_type(value: str) -> str:
    """`rfc822; a@b` -> `a@b`, `smtp; 550 ...` -> `550 ...` (the address/diagnostic type)."""
    head, separator, tail = value.partition(";")
    if separator and len(head) <= 20 and " " not in head.strip():
        return tail.strip()
    return value.strip()
