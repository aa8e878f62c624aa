"""parse_bounce: is this message a delivery failure, and for whom?"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from email.message import Message

from . import dsn, families, plaintext, reasons, vocabulary
from .message import (
    MAX_INPUT_BYTES,
    PART_TYPES,
    as_part,
    content_param,
    content_type,
    decoded_text,
    first_address,
    header_text,
    header_values,
    iter_parts,
    normalize_message_id,
    parse_bytes,
)
from .model import BounceReport, FailedRecipient

logger = logging.getLogger(__name__)

FAILED_ACTIONS = frozenset({"failed", "delayed", "failure", "fail", "undeliverable"})
SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded", "deliverable"})
MAX_DIAGNOSTIC_CHARS = 1000
MAX_RAW_BODY_BYTES = 64 * 1024
MAX_CONTEXT_CHARS = 8000

# Senders that only ever speak for a mail system.
_DAEMON_SENDER = re.compile(
    r"mailer[-_ ]?daemon|postmaster|post_master|mail[ ._-]?delivery[ ._-]?(?:system|subsystem)"
    r"|\bmdaemon\b|\bmail ?administrator\b|ndr ?administrator|interscan|mailer@|\bbounces?@"
    r"|\bsysadmin@|no-?reply@.*(?:dion|ezweb|au)\.ne\.jp|mail ?deliver"
    # Exchange's system mailbox, which sends its NDRs ("MicrosoftExchange329e71ec…@").
    r"|microsoftexchange[0-9a-f]{32}@",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|not (?:be )?delivered|delivery (?:status notification|failure|failed"
    r"|problem|report|has failed|error|notification)|failure (?:notice|delivery)|failed delivery"
    r"|returned (?:mail|to sender)|returning message|mail delivery (?:failed|failure|error|system)"
    r"|could not (?:be )?deliver|delivery status|non[- ]?delivery|nondeliverable|rejected"
    r"|mail failure|warning: (?:message|could not)|delayed mail|unzustellbar|non remis"
    r"|no se puede entregar|impossible de remettre|niet bezorgd|delivery delayed|message delayed"
    r"|permanent (?:delivery )?(?:failure|error)|error sending|failed mail|bounced?\b"
    # KO, JA, ZH, IT, PT, NL: "delivery failed" / "undeliverable" as their mail systems title it.
    r"|(?:발송|전송|배달|전달|송신) ?실패|반송(?:된)? ?메일"
    r"|配信(?:エラー|失敗|不能)|送信エラー|未配達|未送達"
    r"|退信|投递失败|发送失败|無法投遞|傳送失敗"
    r"|non consegnat|não entregue|niet afgeleverd"
    # Exchange's localized "Undeliverable:" (PT, IT, NL, KO, ZH).
    r"|não é possível entregar|non recapitabile|onbestelbaar|배달 못 함|无法传递|無法傳遞",
    re.IGNORECASE,
)
# Phrases only a mail system writes when handing a message back.
_BOUNCE_BODY = re.compile(
    r"(?:wasn't|was not|were not|could not be|couldn't be|cannot be|can't be|has not been|not)"
    r" (?:able to )?(?:be )?delivered"
    r"|(?:error|problem|failure)s? (?:while )?deliver(?:ing|y)"
    r"|(?:failed|failure) (?:to deliver|permanently|delivery)|delivery (?:has )?failed"
    r"|unable to deliver|undeliverable|not reach (?:the |some or all)|permanent (?:fatal )?error"
    r"|the following (?:address(?:\(?es\)?)?|recipients?\(?s?\)?) (?:failed|had|cannot|could)"
    r"|returned (?:to sender|mail)|i'm afraid i wasn't able|qmail-send program"
    r"|this is the mail system at|mail delivery (?:failed|system)|delivery status notification"
    # The same sentence in the languages the reasons are read in.
    r"|전달되지 (?:못|않)|(?:발송|전송|배달|전달)(?:에|이|을|를)? 실패|보낼 수 없|전달할 수 없"
    r"|配信(?:でき|され)ませんでした|送信できませんでした|届きませんでした|配送(?:に失敗|できません)"
    r"|无法(?:投递|送达)|投递失败|未能送达|無法(?:投遞|傳送)|konnte nicht zugestellt"
    r"|n'a pas pu être (?:remis|distribué|délivré)|no (?:se )?(?:ha )?podido (?:ser )?entregar"
    r"|não (?:foi )?(?:possível )?(?:ser )?entreg|non è stato possibile (?:consegnare|recapitare)"
    r"|kon niet (?:worden )?(?:bezorgd|afgeleverd)"
    # Exchange's localized "Delivery has failed to these recipients or groups".
    r"|übermittlung an folgende empfänger[^\n]{0,30}fehlgeschlagen|la remise à ces destinataires"
    r"|error en la entrega a estos|falha na entrega para estes|recapito non riuscito"
    r"|bezorging is mislukt|配信に失敗しました|배달하지 못했습니다|无法传递到",
    re.IGNORECASE,
)
_REPLY_LINE = re.compile(
    r"^[ \t]*([245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b[^\n]{0,300})", re.MULTILINE
)
# Success notices written as plain text (Exchange's "Delivered:" receipt, a relay's "successfully
# delivered" report): not bounces, unless they also say something failed.
_SUCCESS_SUBJECT = re.compile(
    r"^\s*(?:delivered:|relayed:|delivery status notification \((?:success|relay)\)"
    r"|successful mail delivery|delivery notification: delivery has succeeded)",
    re.IGNORECASE,
)
_SUCCESS_TEXT = re.compile(
    r"(?:has|have|was|were) (?:been )?(?:successfully )?(?:delivered|relayed) to"
    r"|successfully delivered|delivery (?:to the following recipients? )?(?:was )?"
    r"(?:succeeded|successful)",
    re.IGNORECASE,
)
_FAILURE_TEXT = re.compile(
    r"could not|couldn't|cannot|unable|fail|undeliver|not (?:be )?delivered|not been delivered"
    r"|reject|refused|permanent|error|unknown|does not exist|delay|retry",
    re.IGNORECASE,
)
# Postfix's success template warns of errors that may come later: not a failure.
_LATER_ERRORS = re.compile(r"notifications? of (?:mail )?delivery errors", re.IGNORECASE)
_VIRUS_SUBJECT = re.compile(r"\bvirus|\bmalware|\binfected\b|\bworm\b", re.IGNORECASE)
# "Re:", "AW:", "SV:", "답장:", "回复:", "返信:": a person answering. A mail system titles its
# notice for the failure ("Undeliverable: Re: …"), never as a reply.
_REPLY_PREFIX = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:re|aw|sv|antw|odp|r|ynt|答复|回复|回覆|返信|답장|회신)\s*[:：]",
    re.IGNORECASE,
)
# "Fwd:", "FW:", "WG:", "RV:", "TR:", "Doorst:", "VS:", "I:": a person passing a bounce on.
_FORWARD_PREFIX = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:fwd?|fw|wg|rv|tr|doorst|vs|vb|i|enc|rif)\s*:", re.IGNORECASE
)
_DELAY_TEXT = re.compile(
    r"\(delay\)|delivery delayed|message delayed|has been delayed|delayed mail|warning: message"
    r"|will (?:keep|continue) (?:trying|to try|to retry)|still (?:being )?retr(?:y|ied)"
    r"|not (?:yet )?been delivered|delivery attempts will continue|temporary failure",
    re.IGNORECASE,
)
_REPORTING_HOST = re.compile(
    r"(?:qmail-send program|mail system|Mail Agent [^\s]+|MTA|mailer) at (?:host )?"
    r"([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)",
)
# Unquoted: SNS e-mail wraps SES's notification as an escaped JSON string (\"notificationType\").
_SES_MARKER = "notificationType"
# The family of reports whose recipient could only be taken from the returned message's To.
_RETURNED_TO = "text-returned-to"
_RFC822_PART = re.compile(rb"^content-type:[ \t]*message/rfc822", re.IGNORECASE | re.MULTILINE)
_BLANK_LINE = re.compile(rb"\r?\n\r?\n|\r\r")
_INLINE_DSN_FIELD = re.compile(
    r"^\s*(?:final|original)-recipient\s*:", re.IGNORECASE | re.MULTILINE
)
# A remote reply that opens with a permanent code and its enhanced status: "550 5.5.0 ...".
_PERMANENT_REPLY = re.compile(r"^5\d\d[ -](5\.\d{1,3}\.\d{1,3})\b")
_GAVE_UP = re.compile(r"permanent|gave up|given up", re.IGNORECASE)
_HEADER_LINE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,60}:[ \t]")
# Challenge/response systems (Boxbe, SpamArrest, TMDA, …) hold a message until its sender
# proves to be a person: the recipient exists and will read it once approved. Their requests
# say why the message waits and ask for an action, even when built as a failed DSN.
_CHALLENGE = re.compile(
    r"not pre-?approved|guest ?list|waitlisted|list of approved senders|challenge[- ]response"
    r"|(?:verify|confirm|prove) (?:that )?you are (?:a )?(?:real |human )?(?:person|human|sender)"
    r"|(?:address|sender) has not (?:yet )?been verified",
    re.IGNORECASE,
)
# Words one of which every challenge above contains: a cheap test before the patterns.
_CHALLENGE_WORDS = ("approv", "guest", "waitlist", "challenge", "verif", "you are")
_CHALLENGE_ACTION = re.compile(
    r"\bclick\b|https?://|reply to this|request (?:approval|form)|fill out|confirm",
    re.IGNORECASE,
)
# The line a mail program puts above a message its user forwards inline (Gmail, Outlook,
# Thunderbird, Apple Mail). Mail systems put theirs below their own report, never above it.
_FORWARDED_INLINE = re.compile(
    r"^[ \t>]*(?:-{2,}[ \t]*(?:forwarded message|original message|weitergeleitete nachricht"
    r"|ursprüngliche nachricht|message transféré|message d'origine|mensaje reenviado"
    r"|mensaje original|mensagem encaminhada|messaggio inoltrato|doorgestuurd bericht"
    r"|전달된 메시지|원본 메시지|転送されたメッセージ|元のメッセージ"
    r"|转发的邮件|原始邮件|轉寄的郵件)"
    r"[ \t]*-{2,}|begin forwarded message:)"
    # Outlook's: a rule of underscores, then the forwarded message's "From:" line.
    r"|^_{10,}[ \t]*\n(?:from|de|von|van|da|보낸 사람|差出人|发件人|寄件者)[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
_NULL_RETURN_PATH = re.compile(r"^\s*<\s*>\s*$")
_HTML_HIDDEN = re.compile(r"(?is)<(script|style)\b.*?</\1>")
_HTML_LINE_BREAK = re.compile(r"(?i)<br\s*/?>|</p>|</div>|</tr>|</li>")
_HTML_TAG = re.compile(r"<[^>]{0,2000}>")


def parse_bounce(raw: bytes) -> BounceReport | None:
    """The bounce report in `raw`, or None when the message is not a delivery failure/delay.

    Never raises: whatever goes wrong inside is logged and reads as "not a bounce".
    """
    try:
        headers_only = without_returned_body(raw)
        report = _parse_message(parse_bytes(headers_only), raw=raw, nested=False)
        if headers_only is not raw and (report is None or report.mta_family == _RETURNED_TO):
            # The answer may lie in the returned message after all (a bounce wrapping a bounce).
            report = _parse_message(parse_bytes(raw), raw=raw, nested=False) or report
        return report
    except Exception:  # the contract: malformed mail must never break the poller
        logger.debug("bounce parser failed on a message", exc_info=True)
        return None


def without_returned_body(raw: bytes) -> bytes:
    """`raw` cut after the headers of the attached returned message (message/rfc822).

    Only those headers matter (Message-ID, X-Mailroom-Email-Id, From); its body and
    attachments are most of a bounce's bytes and most of the MIME parser's work. Returns `raw`
    itself when there is nothing to cut.
    """
    found = _RFC822_PART.search(raw, 0, MAX_INPUT_BYTES)
    if found is None:
        return raw
    part_headers_end = _BLANK_LINE.search(raw, found.end())
    if part_headers_end is None:
        return raw
    inner_headers_end = _BLANK_LINE.search(raw, part_headers_end.end())
    if inner_headers_end is None:
        return raw
    return raw[: inner_headers_end.end()]


def parse_bounce_message(message: Message, raw: bytes) -> BounceReport | None:
    """parse_bounce for a caller that already parsed `raw` with `message.parse_bytes`."""
    try:
        return _parse_message(message, raw=raw, nested=False)
    except Exception:  # same contract as parse_bounce
        logger.debug("bounce parser failed on a message", exc_info=True)
        return None


def _parse_message(message: Message, *, raw: bytes | None, nested: bool) -> BounceReport | None:
    top_type = content_type(message)
    report_type = content_param(message, "report-type")
    if top_type == "multipart/report" and report_type in {
        "disposition-notification",
        "feedback-report",
    }:
        return None
    sender = header_text(message, "From")
    subject = header_text(message, "Subject")
    daemon_sender = bool(_DAEMON_SENDER.search(sender))
    if _FORWARD_PREFIX.match(subject) and not daemon_sender:
        return None

    collected = _collect_parts(message)
    if not daemon_sender and _is_challenge(collected.report_text[:6000]):
        # (A mail system's own notice may quote such words from the server that refused.)
        return None
    excluded = _own_addresses(message)
    mta = families.detect(message, collected.report_text)

    recipients: list[FailedRecipient] = []
    reporting_mta: str | None = None
    family = None
    saw_success = False
    unaddressed: list[str] = []
    for fields in collected.status_fields:
        status_report = dsn.read_delivery_status(fields)
        reporting_mta = reporting_mta or status_report.reporting_mta
        found, success = _from_delivery_status(status_report, collected.report_text, mta)
        recipients.extend(found)
        saw_success = saw_success or success
        unaddressed.extend(_unaddressed_statuses(status_report))
    if recipients:
        family = "rfc3464"
    elif saw_success or (
        top_type == "multipart/report" and report_type not in {"", "delivery-status"}
    ):
        return None

    if not recipients and _SES_MARKER in collected.report_text:
        recipients = _from_ses_notification(collected.report_text)
        family = "amazonses-notification" if recipients else None

    if not recipients and mta == families.FML:
        refused = families.fml_refusal(message, collected.report_text)
        if refused is None:
            return None
        address, diagnostic = refused
        recipients = [_recipient(address, diagnostic, None, "failed", family=mta)]
        family = families.FML

    if not recipients and _REPLY_PREFIX.match(subject) and not daemon_sender:
        return None  # a person's reply in words like a notice's; only a DSN would say otherwise
    if not recipients and _VIRUS_SUBJECT.search(subject) and not _BOUNCE_SUBJECT.search(subject):
        # A content filter telling the sender what it found ("VIRUS ALERT", "Virus found in
        # message"): a warning about the message, not a notice that an address failed. A server
        # refusing a message for a virus says so in a DSN or in its SMTP reply, under a
        # delivery-failure title.
        return None
    if not recipients:
        bounce_subject = bool(_BOUNCE_SUBJECT.search(subject))
        bounce_body = bool(_BOUNCE_BODY.search(collected.report_text[:4000]))
        if not (daemon_sender or bounce_subject or bounce_body):
            return None
        report_only = "\n".join(collected.region_of(text) for text in collected.texts)
        if _is_success_notice(subject, report_only):
            return None
        if not daemon_sender and _forwards_a_notice(collected.report_text[:8000]):
            # A person passing a notice on inline, under their own words, whatever the title.
            return None
        if not daemon_sender and _is_bulk_mail(message, report_only):
            # A newsletter or report about bounces ("4 bounced this week", 550 5.1.1 lines):
            # mail systems never send their notices as list mail.
            return None
        family = "text"
        recipients = _from_plain_text(
            message, [collected.region_of(text) for text in collected.texts], excluded, mta
        )
        machine_sender = daemon_sender or _is_null_sender(message)
        if not recipients and not nested and (machine_sender or bounce_subject):
            inner = _nested_bounce(collected)
            if inner is not None:
                return inner
        if not recipients and raw is not None:
            raw_body = _raw_body(raw)
            recipients = _from_plain_text(
                message, [plaintext.report_region(raw_body)[0]], excluded, mta
            )
        if (
            not recipients
            and (bounce_subject or bounce_body)
            and (machine_sender or (bounce_subject and bounce_body))
            and not _REPLY_PREFIX.match(subject)
        ):
            # No layout known: an address on a line that says delivery to it failed, in a
            # notice titled or worded as a delivery failure (a mail system's other notices,
            # such as a quota warning, are not). Not in a reply: a postmaster answering
            # someone writes such lines too.
            # Nor the returned message's sender, whom the notice is for.
            sent_by = first_address(_returned_headers(collected).get("from", ""))
            recipients = _from_plain_text(
                message,
                [collected.region_of(text) for text in collected.texts],
                excluded | {sent_by} if sent_by else excluded,
                mta,
                beside_failures=True,
                machine=machine_sender,
            )
        if not recipients and machine_sender and (bounce_subject or bounce_body):
            recipients = _from_returned_recipient(collected, excluded, mta)
            family = _RETURNED_TO
    if not recipients:
        return None

    if family != "rfc3464" and len(unaddressed) == 1 and len(recipients) == 1:
        # The report's one entry names no address the text could be matched with (Exim's
        # "save to /path", Sendmail's "@host"), the text names one: the entry's status is its.
        recipients = [_with_status(recipients[0], unaddressed[0], collected.report_text, mta)]
    if mta == families.OPENSMTPD:
        recipients = _opensmtpd_reading(recipients, collected.report_text)
    returned = _returned_headers(collected)
    if family == families.FML and not returned.get("message-id"):
        # fml returns no copy; its notice refers to the refused post.
        returned = {"message-id": header_text(message, "References").split(" ")[-1]}
    delayed = all(recipient.action == "delayed" for recipient in recipients)
    return BounceReport(
        recipients=_unique(recipients),
        original_message_id=normalize_message_id(returned.get("message-id")),
        reporting_mta=reporting_mta or _reporting_host(collected.report_text),
        is_delayed=delayed,
        original_mailroom_id=(returned.get("x-mailroom-email-id") or "").strip() or None,
        original_from=first_address(returned.get("from", "")),
        original_subject=returned.get("subject") or None,
        mta_family=family,
    )


def reason_of_reply(diagnostic: str, status: str | None) -> str:
    """The vocabulary reason of a server's reply read on its own, outside any notice (an SMTP
    refusal at send time, a bounce recorded before reasons were): its words, then its code."""
    reading = reasons.classify(" ".join((diagnostic or "").split())[:MAX_DIAGNOSTIC_CHARS], status)
    return vocabulary.from_internal(reading[0])


_UNSUBSCRIBE = re.compile(r"\bunsubscribe\b", re.IGNORECASE)


def _delivered_addresses(region: str) -> set[str]:
    """Addresses a mixed notice lists as delivered: those in the paragraphs from a "has been
    delivered to" sentence up to the next paragraph that speaks of a failure."""
    delivered: set[str] = set()
    region = region[:20000]
    if not _SUCCESS_TEXT.search(region):
        return delivered  # nearly every notice: no paragraph to split
    listing = False
    for paragraph in re.split(r"\n\s*\n", region):
        if _FAILURE_TEXT.search(_LATER_ERRORS.sub("", paragraph)):
            listing = False
        elif _SUCCESS_TEXT.search(paragraph):
            listing = True
        if listing:
            delivered.update(plaintext.addresses_in(paragraph))
    return delivered


def _is_success_notice(subject: str, report: str) -> bool:
    """A notice that says the message was delivered (or relayed) and nothing failed."""
    if not (_SUCCESS_SUBJECT.search(subject) or _SUCCESS_TEXT.search(report[:4000])):
        return False
    said = _LATER_ERRORS.sub("", report[:4000])
    return not _FAILURE_TEXT.search(_SUCCESS_TEXT.sub("", said))


def _is_null_sender(message: Message) -> bool:
    """Whether the message came with the null envelope sender ("Return-Path: <>") RFC 5321 has
    every delivery notice sent with, whatever its From says; people's mail never has it.
    Auto-replies do too, and mark themselves (RFC 3834's "Auto-Submitted: auto-replied",
    which notices from a named mail system such as Exim's also carry)."""
    return bool(
        _NULL_RETURN_PATH.match(header_text(message, "Return-Path"))
        and header_text(message, "Auto-Submitted").strip().lower() != "auto-replied"
    )


def _is_challenge(text: str) -> bool:
    lowered = text.lower()
    if not any(word in lowered for word in _CHALLENGE_WORDS):
        return False
    return bool(_CHALLENGE.search(text) and _CHALLENGE_ACTION.search(text))


def _forwards_a_notice(text: str) -> bool:
    """Whether the notice's words come only after a forwarded-message line."""
    marker = _FORWARDED_INLINE.search(text)
    if marker is None:
        return False
    said_before = _BOUNCE_BODY.search(text, 0, marker.start())
    return said_before is None and _BOUNCE_BODY.search(text, marker.end()) is not None


def _is_bulk_mail(message: Message, text: str) -> bool:
    """List mail by its headers, or an unsubscribe link in its own text (not the returned
    copy's: Mailroom's campaign emails carry one)."""
    if header_text(message, "List-Unsubscribe") or header_text(message, "List-Id"):
        return True
    if header_text(message, "Precedence").strip().lower() in ("bulk", "list"):
        return True
    return bool(_UNSUBSCRIBE.search(text[-3000:]))


def _opensmtpd_reading(recipients: list[FailedRecipient], text: str) -> list[FailedRecipient]:
    """OpenSMTPD's recipient lines are its whole diagnosis.

    The delivery-status part newer versions attach carries only a summary (4.4.7, 4.0.0,
    5.0.0); the line says what happened, and a delay notice still names a permanent fact
    ("No MX found for domain").
    """
    lines = families.opensmtpd_lines(text)
    reread = []
    for recipient in recipients:
        said = lines.get(recipient.address)
        if said is None:
            reread.append(recipient)
            continue
        reread.append(
            _verdict(
                recipient.address,
                said[:MAX_DIAGNOSTIC_CHARS],
                reasons.classify(said, None, family=families.OPENSMTPD),
                recipient.action,
                # Its delay notices name permanent facts ("No MX found for domain").
                hard_even_if_delayed=True,
            )
        )
    return reread


def _nested_bounce(collected: _Collected) -> BounceReport | None:
    """A relay's bounce that only wraps the real bounce (attached, or pasted after its text)."""
    inner_messages = list(collected.returned_messages)
    for text in collected.texts:
        block = _header_block_of(collected.copy_of(text))
        if block:
            inner_messages.append(parse_bytes(block.encode("utf-8", "surrogateescape")))
    for inner in inner_messages[:2]:
        report = _parse_message(inner, raw=None, nested=True)
        if report is not None:
            return report
    return None


def _from_returned_recipient(
    collected: _Collected, excluded: set[str], family: str | None
) -> list[FailedRecipient]:
    """Some MTAs name nobody in their report: the returned message's To is who failed, when
    it names one address (of several, the notice does not say which failed: none is taken)."""
    returned = _returned_headers(collected)
    addresses = [
        address
        for address in plaintext.addresses_in(returned.get("to", ""))
        if address not in excluded
    ]
    if len(set(addresses)) != 1:
        return []
    diagnostic = _text_about(
        addresses[0], "\n".join(collected.region_of(text) for text in collected.texts)
    )
    return [_recipient(addresses[0], diagnostic, None, "failed", family=family)]


def _raw_body(raw: bytes) -> str:
    """The undecoded body, for MIME too broken to split (parts lost to a bad boundary)."""
    text = raw[:MAX_RAW_BODY_BYTES].decode("utf-8", "replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    _, _, body = text.partition("\n\n")
    return body


class _Collected:
    """The parts of a bounce that matter, found in one walk."""

    __slots__ = (
        "status_fields",
        "texts",
        "report_text",
        "returned_messages",
        "returned_header_texts",
        "_splits",
    )

    def __init__(self) -> None:
        self.status_fields: list[list[tuple[str, str]]] = []
        self.texts: list[str] = []
        self.report_text = ""
        self.returned_messages: list[Message] = []
        self.returned_header_texts: list[str] = []
        self._splits: dict[int, tuple[str, str]] = {}

    def _split(self, text: str) -> tuple[str, str]:
        key = id(text)
        if key not in self._splits:
            self._splits[key] = plaintext.report_region(text)
        return self._splits[key]

    def region_of(self, text: str) -> str:
        """The report part of one of `texts` (before the returned copy)."""
        return self._split(text)[0]

    def copy_of(self, text: str) -> str:
        """The returned copy pasted after the report in one of `texts` ('' when none)."""
        return self._split(text)[1]


def _collect_parts(message: Message) -> _Collected:
    collected = _Collected()
    for part, kind in iter_parts(message):
        if kind == "message/delivery-status" or kind == "message/global-delivery-status":
            collected.status_fields.append(dsn.fields_from_part(part, decoded_text(part)))
        elif kind in ("message/rfc822", "message/global") and part is not message:
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], PART_TYPES):
                collected.returned_messages.append(as_part(payload[0]))
            elif isinstance(payload, str):
                collected.returned_header_texts.append(payload)
        elif kind in (
            "text/rfc822-headers",
            "text/rfc822-header",
            "message/rfc822-headers",
            "message/global-headers",  # RFC 6533, an SMTPUTF8 message's returned headers
        ):
            collected.returned_header_texts.append(decoded_text(part))
        elif kind.startswith("text/") or not part.is_multipart() and kind == "multipart/mixed":
            if (
                part.get("Content-Disposition", "").lower().startswith("attachment")
                and collected.texts
            ):
                continue
            text = decoded_text(part)
            if kind == "text/html":
                # The HTML alternative only when the text before it names no address at all
                # (left empty, or "This message is in HTML" as some mail systems write).
                if any("@" in earlier for earlier in collected.texts):
                    continue
                text = _html_to_text(text)
            collected.texts.append(text)
    collected.report_text = "\n".join(collected.texts)
    return collected


def _from_delivery_status(
    status_report: dsn.DeliveryStatus, report_text: str, family: str | None = None
) -> tuple[list[FailedRecipient], bool]:
    """Failed/delayed recipients of a delivery-status report, and whether any was a success."""
    found: list[FailedRecipient] = []
    saw_success = False
    for entry in status_report.recipients:
        address = entry.address
        if not address:
            continue
        action = entry.action
        status = entry.status
        if action in SUCCESS_ACTIONS or (not action and status and status.startswith("2")):
            saw_success = True
            continue
        if action and action not in FAILED_ACTIONS:
            continue
        if not action:
            action = "delayed" if status and status.startswith("4") else "failed"
        diagnostic = entry.diagnostic
        if action == "failed" and status and status.startswith("4"):
            permanent = _PERMANENT_REPLY.match(diagnostic)
            if permanent:
                # A permanent failure whose remote reply is itself permanent ("550 5.5.0"):
                # the report's class-4 status contradicts both; the server's own code stands.
                status = permanent.group(1)
        if not diagnostic or (not _says_something(diagnostic) and reasons.is_vague(status)):
            # The server's words with a specific status say why on their own: the report's
            # prose may be about other recipients or other attempts ("551 not our user" with
            # 5.1.6 is a moved mailbox, whatever the transcript below it says after DATA).
            diagnostic = " ".join([diagnostic, _text_about(address, report_text)]).strip()
        found.append(
            _recipient(
                address,
                diagnostic,
                status,
                "delayed" if action == "delayed" else "failed",
                report_text,
                family=family,
            )
        )
    return found, saw_success


def _unaddressed_statuses(status_report: dsn.DeliveryStatus) -> list[str]:
    """Statuses of the report's failed or delayed entries that name no e-mail address."""
    found = []
    for entry in status_report.recipients:
        if entry.address or not entry.status or entry.status.startswith("2"):
            continue
        if entry.action and entry.action not in FAILED_ACTIONS:
            continue
        found.append(entry.status)
    return found


def _with_status(
    recipient: FailedRecipient, status: str, context: str, family: str | None
) -> FailedRecipient:
    return _recipient(
        recipient.address, recipient.diagnostic, status, recipient.action, context, family=family
    )


def _from_plain_text(
    message: Message,
    regions: list[str],
    excluded: set[str],
    family: str | None,
    *,
    beside_failures: bool = False,
    machine: bool = False,
) -> list[FailedRecipient]:
    """The recipients a notice's text names by a known layout or, `beside_failures`, by the
    structural fallback (each address on a line that says delivery to it failed; `machine`:
    a mail system sent the notice)."""
    region = plaintext.unwrap_gateway_addresses("\n".join(regions))

    inline_fields = (
        dsn.fields_from_text(region)
        if not beside_failures and _INLINE_DSN_FIELD.search(region)
        else []
    )
    if inline_fields:
        found, saw_success = _from_delivery_status(
            dsn.read_delivery_status(inline_fields), region, family
        )
        if found:
            return found
        if saw_success:
            return []

    if beside_failures:
        pairs = plaintext.addresses_beside_failures(region, excluded=excluded, machine=machine)
    else:
        pairs = plaintext.extract_recipients(region, excluded=excluded) or _screen_name_recipients(
            message, region
        )
    failed_header = header_text(message, "X-Failed-Recipients")
    listed = list(dict.fromkeys(plaintext.addresses_in(failed_header)))
    if listed:
        # Exim's header names exactly who failed; the text supplies what was said.
        said = dict(pairs)
        pairs = [(address, said.get(address, "")) for address in listed]
    delayed = bool(_DELAY_TEXT.search(header_text(message, "Subject"))) or bool(
        _DELAY_TEXT.search(region[:3000])
    )
    action = "delayed" if delayed and not _GAVE_UP.search(region) else "failed"
    delivered = _delivered_addresses(region)
    if delivered:
        pairs = [(address, said) for address, said in pairs if address not in delivered]
    # One recipient, one remote reply quoted on a line of its own ("The response from the
    # remote server was:\n550 5.1.1 …"): the reply is that recipient's.
    replies = set(_REPLY_LINE.findall(region[:20000])) if len(pairs) == 1 else set()
    the_reply = replies.pop().strip() if len(replies) == 1 else ""
    recipients = []
    for address, diagnostic in pairs:
        if not _says_something(diagnostic):
            diagnostic = " ".join([diagnostic, _text_about(address, region)]).strip()
        if the_reply and not reasons.find_status(diagnostic):
            diagnostic = f"{diagnostic} {the_reply}".strip()
        recipients.append(_recipient(address, diagnostic, None, action, region, family=family))
    return recipients


def _screen_name_recipients(message: Message, region: str) -> list[tuple[str, str]]:
    """Members named without a domain (AOL's own notices name screen names): each at the
    domain of the mail system that wrote the notice."""
    names = plaintext.screen_names(region)
    notice_domain = (first_address(header_text(message, "From")) or "").rpartition("@")[2]
    if not names or not notice_domain:
        return []
    return [(f"{name}@{notice_domain}", "") for name in names[: plaintext.MAX_RECIPIENTS]]


def _from_ses_notification(text: str) -> list[FailedRecipient]:
    """Amazon SES bounce notifications delivered by SNS e-mail: a JSON document."""
    start = text.find("{")
    end = text.rfind("}")
    if start < 0 or end <= start:
        return []
    try:
        document = json.loads(text[start : end + 1], strict=False)
    except ValueError:
        return []
    if isinstance(document, dict) and isinstance(document.get("Message"), str):
        try:
            document = json.loads(document["Message"], strict=False)
        except ValueError:
            return []
    if not isinstance(document, dict) or document.get("notificationType") != "Bounce":
        return []
    bounce = document.get("bounce") or {}
    transient = bounce.get("bounceType") == "Transient"
    found = []
    for entry in bounce.get("bouncedRecipients") or []:
        if not isinstance(entry, dict) or not entry.get("emailAddress"):
            continue
        address = first_address(str(entry["emailAddress"]))
        if address:
            diagnostic = str(entry.get("diagnosticCode") or bounce.get("bounceSubType") or "")
            status = entry.get("status")
            found.append(
                _recipient(
                    address,
                    diagnostic,
                    str(status) if status else None,
                    "delayed" if transient else "failed",
                )
            )
    return found


def _recipient(
    address: str,
    diagnostic: str,
    status: str | None,
    action: str,
    context: str = "",
    *,
    family: str | None = None,
) -> FailedRecipient:
    diagnostic = " ".join(diagnostic.split())[:MAX_DIAGNOSTIC_CHARS]
    reading = reasons.classify(
        diagnostic,
        status,
        delayed=action == "delayed",
        context=context[:MAX_CONTEXT_CHARS],
        family=family,
    )
    return _verdict(address, diagnostic, reading, action)


def _verdict(
    address: str,
    diagnostic: str,
    reading: tuple[str, str, bool],
    action: str,
    *,
    hard_even_if_delayed: bool = False,
) -> FailedRecipient:
    """The internal reading (`reasons.classify`) told in the product's terms (`vocabulary`).

    Its code is either one the notice states or a stand-in (`<class>.0.9NN`) whose class is
    the failure's: the stand-in is never shown, the SMTP reply's class or nothing is.
    """
    internal_reason, internal_status, _ = reading
    temporary = internal_status.startswith("4")
    status: str | None = internal_status
    source = "notice"
    if reasons.is_stand_in(internal_status):
        status = vocabulary.status_from_reply(reasons.find_reply_code(diagnostic))
        source = "reply_code" if status else ""
    reason = vocabulary.from_internal(internal_reason)
    return FailedRecipient(
        address=address.lower(),
        status=status,
        diagnostic=diagnostic,
        hard=vocabulary.is_hard(
            reason,
            permanent=not temporary,
            delayed=action == "delayed" and not hard_even_if_delayed,
        ),
        reason=reason,
        action=action,
        temporary=temporary,
        status_source=source,
    )


def _says_something(diagnostic: str) -> bool:
    return bool(reasons.find_status(diagnostic) or reasons.reason_from_text(diagnostic))


def _text_about(address: str, text: str) -> str:
    """The paragraph of the human-readable report that names the address, with the next ones
    when it only names it ("There was an error delivering your mail to <a@b>." then the
    remote server's reply), or the report's first lines."""
    lowered = text.lower()
    position = lowered.find(address)
    if position < 0:
        return " ".join(text[:1500].split())
    start = max(0, lowered.rfind("\n\n", 0, position))
    end = position + len(address)
    for _ in range(3):
        following = lowered.find("\n\n", end)
        end = following if following > 0 else min(len(text), position + 800)
        excerpt = text[start:end]
        if _says_something(excerpt) or following < 0:
            break
        while end < len(text) and text[end] == "\n":
            end += 1
    if not _says_something(excerpt):
        excerpt = text[:2500]
    return " ".join(excerpt[:2500].split())


_RETURNED_HEADERS = ("message-id", "from", "x-mailroom-email-id", "subject", "to")


def _returned_headers(collected: _Collected) -> dict[str, str]:
    """Headers of the returned message: an attached copy first, then pasted headers or text."""
    first_with_from: dict[str, str] = {}
    for values in _returned_candidates(collected):
        if values.get("message-id") or values.get("x-mailroom-email-id"):
            return values
        if values.get("from") and not first_with_from:
            first_with_from = values
    return first_with_from


def _returned_candidates(collected: _Collected) -> Iterator[dict[str, str]]:
    """Each place the returned headers may be, read only when the previous ones had no id."""
    for returned in collected.returned_messages:
        yield {name: header_text(returned, name) for name in _RETURNED_HEADERS}
    for text in collected.returned_header_texts:
        yield header_values(text.lstrip("\n"), _RETURNED_HEADERS)
    for text in collected.texts:
        copy = collected.copy_of(text)
        if copy:
            yield header_values(_header_block_of(copy), _RETURNED_HEADERS)


def _header_block_of(copy: str) -> str:
    """The returned copy from its first header line on (skipping the separator and blanks)."""
    lines = copy.split("\n")
    for index, line in enumerate(lines):
        if _HEADER_LINE.match(line):
            return "\n".join(lines[index : index + 200])
    return ""


def _own_addresses(message: Message) -> set[str]:
    """Addresses of the mailbox that received the bounce: never a failed recipient."""
    address = first_address(header_text(message, "To"))
    return {address} if address else set()


def _reporting_host(text: str) -> str | None:
    found = _REPORTING_HOST.search(text[:3000])
    return found.group(1).lower() if found else None


def _unique(recipients: list[FailedRecipient]) -> list[FailedRecipient]:
    seen: dict[str, FailedRecipient] = {}
    for recipient in recipients:
        seen.setdefault(recipient.address, recipient)
    return list(seen.values())


def _html_to_text(html: str) -> str:
    text = _HTML_HIDDEN.sub(" ", html[:100_000])
    text = _HTML_LINE_BREAK.sub("\n", text)
    text = _HTML_TAG.sub(" ", text)
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ").replace("&amp;", "&")
    )
