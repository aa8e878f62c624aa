"""MIME helpers: parse what clients send, build what providers answer (DSNs, NDRs, replies,
out-of-office messages), and shape messages as Gmail and Graph return them."""

from __future__ import annotations

import base64
import email
import email.policy
import re
import secrets
import time
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import format_datetime, formatdate, getaddresses, make_msgid, parseaddr
from typing import Any

from .rules import RecipientRule

_HEADER_PARSER = BytesHeaderParser(policy=email.policy.compat32)


def parse_headers(raw: bytes) -> list[tuple[str, str]]:
    """Headers only (fast: the body is not parsed), unfolded, as (name, value) in order."""
    message = _HEADER_PARSER.parsebytes(raw)
    return [(name, _unfold(str(value))) for name, value in message.items()]


def _unfold(value: str) -> str:
    return " ".join(part.strip() for part in value.replace("\r", "").split("\n")).strip()


def header(headers: list[tuple[str, str]], name: str, default: str = "") -> str:
    lowered = name.lower()
    for key, value in headers:
        if key.lower() == lowered:
            return value
    return default


def decoded_header(headers: list[tuple[str, str]], name: str) -> str:
    raw_value = header(headers, name)
    if not raw_value:
        return ""
    try:
        return str(email.header.make_header(email.header.decode_header(raw_value)))
    except (ValueError, LookupError, UnicodeError):
        return raw_value


def recipients(headers: list[tuple[str, str]]) -> list[str]:
    values = [v for k, v in headers if k.lower() in {"to", "cc", "bcc"}]
    return [addr for _, addr in getaddresses(values) if addr and "@" in addr]


def ensure_message_id(raw: bytes, domain: str) -> tuple[bytes, str]:
    """Providers add a Message-ID when the client did not; return (raw, message_id)."""
    headers = parse_headers(raw)
    message_id = header(headers, "Message-ID")
    if message_id:
        return raw, message_id
    message_id = make_msgid(domain=domain)
    newline = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    return f"Message-ID: {message_id}".encode() + newline + raw, message_id


def replace_message_id(raw: bytes, domain: str) -> bytes:
    """The message with its Message-ID replaced by one of the provider's own."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    kept = [
        line
        for line in re.split(rb"\r?\n(?![ \t])", head)
        if not line.lower().startswith(b"message-id:")
    ]
    fresh = f"Message-ID: {make_msgid(domain=domain)}".encode()
    return newline.join([fresh, *kept]) + sep + body


def text_body(raw: bytes, limit: int = 4000) -> str:
    """The first text/plain (else text/html) part, decoded; for snippets and bodyPreview."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    part = message.get_body(preferencelist=("plain", "html")) if message.is_multipart() else message
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, KeyError, AssertionError, ValueError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content[:limit] if isinstance(content, str) else ""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    text = text.strip().replace("+", "-").replace("/", "_")  # clients mix the alphabets
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _returned_headers(original: bytes) -> bytes:
    head, sep, _ = original.partition(b"\r\n\r\n")
    if not sep:
        head, _, _ = original.partition(b"\n\n")
    return head.replace(b"\r\n", b"\n")


def _report(
    *,
    from_header: str,
    to: str,
    subject: str,
    human_text: str,
    status_fields: str,
    original: bytes,
    return_full_message: bool,
    extra_headers: dict[str, str],
    message_id_domain: str,
) -> bytes:
    boundary = "000000000000" + secrets.token_hex(8)
    original_headers = parse_headers(original)
    original_id = header(original_headers, "Message-ID")
    lines = [
        "Return-Path: <>",
        f"Delivered-To: {to}",
        f"From: {from_header}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {formatdate(localtime=False)}",
        f"Message-ID: {make_msgid(domain=message_id_domain)}",
    ]
    if original_id:
        lines += [f"References: {original_id}", f"In-Reply-To: {original_id}"]
    lines += [f"{k}: {v}" for k, v in extra_headers.items()]
    lines += [
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; boundary="{boundary}"; report-type=delivery-status',
        "",
        f"--{boundary}",
        'Content-Type: text/plain; charset="UTF-8"',
        "Content-Transfer-Encoding: 8bit",
        "",
        human_text,
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        status_fields,
        "",
        f"--{boundary}",
    ]
    if return_full_message:
        lines.append("Content-Type: message/rfc822")
        returned = original.replace(b"\r\n", b"\n").rstrip(b"\n")
    else:
        lines.append("Content-Type: text/rfc822-headers")
        returned = _returned_headers(original).rstrip(b"\n")
    # A blank line ends the part's headers; the original bytes go in as they are (their headers
    # may not survive a str round trip).
    text = "\n".join(lines).encode() + b"\n\n"
    return text + returned + f"\n\n--{boundary}--\n".encode()


def gmail_dsn(sender: str, original: bytes, failed: list[tuple[str, RecipientRule]]) -> bytes:
    """A Gmail "Delivery Status Notification (Failure)" as Google puts it in the sender's inbox.
    Note: real Gmail DSNs carry ``Auto-Submitted: auto-replied`` like out-of-office replies do,
    so a classifier must look at the multipart/report before the Auto-Submitted header."""
    now = formatdate(localtime=False)
    human, fields = (
        [],
        [
            "Reporting-MTA: dns; googlemail.com",
            f"Received-From-MTA: dns; {sender}",
            f"Arrival-Date: {now}",
        ],
    )
    original_id = header(parse_headers(original), "Message-ID")
    if original_id:
        fields.append(f"X-Original-Message-ID: {original_id}")
    for address, rule in failed:
        domain = address.rpartition("@")[2]
        diagnostic = rule.gmail_diagnostic.format(domain=domain, addr=address)
        if rule.hard and rule.status == "5.1.1":
            human.append(
                f"** Address not found **\n\nYour message wasn't delivered to {address} because "
                "the address couldn't be found, or is unable to receive mail.\n\n"
                "Learn more here: https://support.google.com/mail/?p=NoSuchUser"
            )
        elif rule.hard:
            human.append(
                f"** Address not found **\n\nYour message wasn't delivered to {address} because "
                f"the domain {domain} couldn't be found. Check for typos or unnecessary spaces "
                "and try again."
            )
        else:
            human.append(
                f"** Message blocked **\n\nYour message to {address} couldn't be delivered."
            )
        human.append(f"The response was:\n\n{diagnostic}")
        fields += [
            "",
            f"Final-Recipient: rfc822; {address}",
            "Action: failed",
            f"Status: {rule.status}",
            f"Remote-MTA: dns; mx.{domain}. (192.0.2.25, the server for the domain {domain}.)",
            f"Diagnostic-Code: smtp; {diagnostic}",
            f"Last-Attempt-Date: {now}",
        ]
    return _report(
        from_header="Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        to=sender,
        subject="Delivery Status Notification (Failure)",
        human_text="\n\n".join(human),
        status_fields="\n".join(fields),
        original=original,
        return_full_message=True,
        extra_headers={
            "Auto-Submitted": "auto-replied",
            "X-Failed-Recipients": ", ".join(a for a, _ in failed),
        },
        message_id_domain="mx.google.com",
    )


def exchange_ndr(sender: str, original: bytes, failed: list[tuple[str, RecipientRule]]) -> bytes:
    """An Exchange Online non-delivery report ("Undeliverable: ...") with the original headers
    returned as text/rfc822-headers, as Outlook puts it in the sender's inbox."""
    sender_domain = sender.rpartition("@")[2] or "contoso.onmicrosoft.com"
    reporting = "BN8PR12MB3456.namprd12.prod.outlook.com"
    now = formatdate(localtime=False)
    subject = decoded_header(parse_headers(original), "Subject")
    human, fields = (
        [],
        [
            f"Reporting-MTA: dns;{reporting}",
            f"Received-From-MTA: dns;{reporting}",
            f"Arrival-Date: {now}",
        ],
    )
    for address, rule in failed:
        local, _, domain = address.rpartition("@")
        diagnostic = rule.exchange_diagnostic.format(domain=domain, addr=address)
        human.append(
            f"Your message to {address} couldn't be delivered.\n\n"
            f"{local} wasn't found at {domain}.\n\n{sender.partition('@')[0]}    Office 365    "
            f"{local}\nAction Required                 Recipient\n\n"
            f"Diagnostic information for administrators:\n\nGenerating server: {reporting}\n\n"
            f"{address}\nRemote server returned '{diagnostic}'"
        )
        fields += [
            "",
            f"Final-Recipient: rfc822;{address}",
            "Action: failed",
            f"Status: {rule.exchange_status}",
            f"Diagnostic-Code: smtp;{diagnostic}",
        ]
    return _report(
        from_header=f"Microsoft Outlook <postmaster@{sender_domain}>",
        to=sender,
        subject=f"Undeliverable: {subject}",
        human_text="\n\n".join(human),
        status_fields="\n".join(fields),
        original=original,
        return_full_message=False,
        extra_headers={
            "X-MS-Exchange-Message-Is-Ndr": "",
            "Content-Language": "en-US",
            "X-MS-Exchange-Organization-SCL": "-1",
        },
        message_id_domain=reporting,
    )


def postfix_dsn(
    sender: str, original: bytes, failed: list[tuple[str, RecipientRule]], *, reporting: str
) -> bytes:
    """A Postfix "Undelivered Mail Returned to Sender" report, as an SMTP provider's MTA
    sends it back to the submitting account when the remote server refused the mail."""
    now = formatdate(localtime=False)
    fields = [f"Reporting-MTA: dns; {reporting}", f"Arrival-Date: {now}"]
    human = [
        f"This is the mail system at host {reporting}.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        "                   The mail system"
    ]
    for address, rule in failed:
        domain = address.rpartition("@")[2]
        reply = rule.smtp_reply.format(addr=address)
        human.append(
            f"<{address}>: host mx.{domain}[192.0.2.25] said: {reply} (in reply to RCPT TO command)"
        )
        fields += [
            "",
            f"Final-Recipient: rfc822; {address}",
            f"Original-Recipient: rfc822;{address}",
            "Action: failed",
            f"Status: {rule.status}",
            f"Remote-MTA: dns; mx.{domain}",
            f"Diagnostic-Code: smtp; {reply}",
        ]
    return _report(
        from_header=f"MAILER-DAEMON@{reporting} (Mail Delivery System)",
        to=sender,
        subject="Undelivered Mail Returned to Sender",
        human_text="\n\n".join(human),
        status_fields="\n".join(fields),
        original=original,
        return_full_message=True,
        extra_headers={"Auto-Submitted": "auto-replied"},
        message_id_domain=reporting,
    )


def human_reply(sender: str, responder: str, original: bytes, *, provider: str) -> bytes:
    headers = parse_headers(original)
    original_id = header(headers, "Message-ID")
    references = (header(headers, "References") + " " + original_id).strip()
    name = responder.partition("@")[0].replace(".", " ").title()
    reply = EmailMessage()
    reply["From"] = f"{name} <{responder}>"
    reply["To"] = sender
    reply["Subject"] = "Re: " + decoded_header(headers, "Subject")
    reply["Date"] = formatdate(localtime=False)
    reply["Message-ID"] = make_msgid(domain=responder.rpartition("@")[2] or "example.test")
    if original_id:
        reply["In-Reply-To"] = original_id
        reply["References"] = references
    quoted = "\n".join("> " + line for line in text_body(original, 2000).splitlines())
    reply.set_content(f"Thanks for reaching out - happy to talk next week.\n\n{name}\n\n{quoted}\n")
    return reply.as_bytes(policy=email.policy.SMTP)


def out_of_office(sender: str, responder: str, original: bytes, *, provider: str) -> bytes:
    headers = parse_headers(original)
    original_id = header(headers, "Message-ID")
    name = responder.partition("@")[0].replace(".", " ").title()
    reply = EmailMessage()
    reply["From"] = f"{name} <{responder}>"
    reply["To"] = sender
    prefix = "Automatic reply: " if provider == "microsoft" else "Out of Office: "
    reply["Subject"] = prefix + decoded_header(headers, "Subject")
    reply["Date"] = formatdate(localtime=False)
    reply["Message-ID"] = make_msgid(domain=responder.rpartition("@")[2] or "example.test")
    reply["Auto-Submitted"] = "auto-replied"
    reply["X-Autoreply"] = "yes"
    if original_id:
        reply["In-Reply-To"] = original_id
        reply["References"] = original_id
    return_date = time.strftime("%B %d", time.gmtime(time.time() + 7 * 86400))
    reply.set_content(
        f"I am out of the office until {return_date} with limited access to email.\n"
        "For urgent matters please contact my colleague.\n"
    )
    return reply.as_bytes(policy=email.policy.SMTP)


def mime_from_graph_json(message: dict[str, Any], sender: str, display_name: str) -> bytes:
    """Build the MIME Exchange would send for a Graph JSON ``message`` (sendMail JSON form)."""
    mime = EmailMessage()
    mime["From"] = f"{display_name} <{sender}>" if display_name else sender
    for field, header_name in (
        ("toRecipients", "To"),
        ("ccRecipients", "Cc"),
        ("bccRecipients", "Bcc"),
        ("replyTo", "Reply-To"),
    ):
        people = message.get(field) or []
        addresses = [_graph_recipient(person) for person in people]
        if addresses:
            mime[header_name] = ", ".join(addresses)
    mime["Subject"] = message.get("subject") or ""
    mime["Date"] = formatdate(localtime=False)
    mime["Message-ID"] = message.get("internetMessageId") or make_msgid(
        domain="BN8PR12MB3456.namprd12.prod.outlook.com"
    )
    for item in message.get("internetMessageHeaders") or []:
        mime[item["name"]] = item["value"]
    body = message.get("body") or {}
    content = body.get("content") or ""
    if str(body.get("contentType", "text")).lower() == "html":
        mime.set_content(content, subtype="html")
    else:
        mime.set_content(content)
    return mime.as_bytes(policy=email.policy.SMTP)


def _graph_recipient(person: dict[str, Any]) -> str:
    address = (person.get("emailAddress") or {}).get("address", "")
    name = (person.get("emailAddress") or {}).get("name", "")
    return f"{name} <{address}>" if name else address


def graph_recipient_json(value: str) -> list[dict[str, dict[str, str]]]:
    return [
        {"emailAddress": {"name": name or addr, "address": addr}}
        for name, addr in getaddresses([value])
        if addr
    ]


def gmail_payload(raw: bytes, *, metadata_headers: list[str] | None, full: bool) -> dict[str, Any]:
    """The ``payload`` of a Gmail message resource (format=metadata or full)."""
    if not full:
        headers = parse_headers(raw)
        if metadata_headers:
            wanted = {h.lower() for h in metadata_headers}
            headers = [(k, v) for k, v in headers if k.lower() in wanted]
        message = _HEADER_PARSER.parsebytes(raw)
        return {
            "partId": "",
            "mimeType": message.get_content_type(),
            "filename": "",
            "headers": [{"name": k, "value": v} for k, v in headers],
            "body": {"size": 0},
        }
    return _gmail_part(email.message_from_bytes(raw, policy=email.policy.compat32), "")


def _gmail_part(part: Message, part_id: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": part.get_filename() or "",
        "headers": [{"name": k, "value": _unfold(str(v))} for k, v in part.items()],
    }
    if part.is_multipart():
        children = part.get_payload()
        result["body"] = {"size": 0}
        result["parts"] = [
            _gmail_part(child, f"{part_id}.{i}" if part_id else str(i))
            for i, child in enumerate(children if isinstance(children, list) else [])
        ]
    else:
        data = part.get_payload(decode=True) or b""
        result["body"] = {"size": len(data), "data": b64url(data)} if data else {"size": 0}
    return result


def rfc3339(epoch_seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


def http_date(epoch_seconds: float) -> str:
    import datetime as dt

    return format_datetime(dt.datetime.fromtimestamp(epoch_seconds, dt.UTC), usegmt=True)


def sender_address(headers: list[tuple[str, str]]) -> tuple[str, str]:
    return parseaddr(header(headers, "From"))
