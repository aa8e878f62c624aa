"""What an inbox message is, for bounce and reply tracking.

`classify_message(raw)` sorts a message into:
- "bounce": a delivery failure or delay report (`bounce` holds the parsed report);
- "auto_reply": an automatic answer (out-of-office, vacation, ticket acknowledgement,
  challenge-response) — never a bounce and never a human reply;
- "reply_candidate": a person's message that refers to earlier mail (In-Reply-To/References);
  the caller decides whether those ids belong to an email Mailroom sent;
- "other": everything else (newsletters, read receipts, success notifications...).

`may_be_bounce_or_reply(headers)` is the poller's cheap pre-filter on a few headers: it says
whether the raw message is worth downloading. It errs on the side of yes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message

from .parsing import BounceReport
from .parsing.core import parse_bounce_message
from .parsing.message import (
    content_param,
    content_type,
    decoded_text,
    first_address,
    header_text,
    iter_parts,
    message_id_list,
    normalize_message_id,
    parse_bytes,
)

logger = logging.getLogger(__name__)

BOUNCE = "bounce"
AUTO_REPLY = "auto_reply"
REPLY_CANDIDATE = "reply_candidate"
OTHER = "other"

# Out-of-office subjects: EN, DE, FR, ES, IT, NL, PT, JA, KO, ZH (and the Outlook/Gmail
# defaults).
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)?(?:"
    r"auto(?:matic|matische|matique|mática|matica|mático|matico)?[ -]?(?:reply|response|"
    r"antwort|réponse|reponse|respuesta|risposta|resposta|antwoord|odpowied)"
    r"|autoreply|auto-reply|auto response|autosvar|automatisch antwoord"
    r"|out of (?:the )?office|ooo\b|on vacation|on leave|away from (?:the )?office|vacation reply"
    r"|abwesen|abwesenheit|nicht im b[üu]ro|au[ßs]er haus|urlaub"
    r"|absent|absence|en cong[ée]|hors du bureau|r[ée]ponse automatique"
    r"|fuera de la oficina|ausente|ausencia|de vacaciones|respuesta autom[áa]tica"
    r"|fuori (?:ufficio|sede)|assente|assenza|in ferie|risposta automatica"
    r"|afwezig|niet aanwezig|buiten kantoor|met vakantie|automatisch antwoord"
    r"|fora do escrit[óo]rio|ausência|de f[ée]rias|resposta autom[áa]tica"
    r"|自動返信|自動応答|不在(?:のお知らせ|通知)?|休暇"
    r"|자동\s?(?:회신|응답|답장)|부재\s?중"
    r"|自动回复|自動回覆|自動回复|自动答复|不在办公室|不在辦公室|休假"
    r")",
    re.IGNORECASE,
)
# Phrases an out-of-office body opens with, in the same languages.
_AUTO_REPLY_BODY = re.compile(
    r"out of (?:the )?office|until I return|I am (?:currently )?(?:away|out|on (?:annual |"
    r"parental |sick )?leave|on vacation|travell?ing|on holiday)|limited access to (?:my )?e-?mail"
    r"|I will (?:be )?(?:back|returning|return) (?:on|in|to the office)|automatic reply"
    r"|bin (?:ich )?(?:bis|vom) .{0,40}(?:nicht im b[üu]ro|abwesend|im urlaub)|abwesend|"
    r"nicht im b[üu]ro|au[ßs]er haus|je suis (?:actuellement )?absente?|absente? du bureau"
    r"|de retour le|estoy (?:fuera|ausente|de vacaciones)|fuera de la oficina|estar[ée] de vuelta"
    r"|sono (?:attualmente )?(?:assente|fuori ufficio|in ferie)|fuori ufficio|rientrer[òo]"
    r"|ik ben (?:afwezig|niet aanwezig|met vakantie)|buiten kantoor|weer aanwezig"
    r"|estou (?:ausente|de f[ée]rias|fora do escrit[óo]rio)|fora do escrit[óo]rio|retorno em"
    r"|不在にして(?:おります|います)|休暇(?:を|中)|外出して(?:おります|います)"
    r"|부재\s?중입니다|휴가\s?중입니다|사무실에\s?없습니다"
    r"|(?:目前|现在|現在)?不在(?:办公室|辦公室)|(?:正在|目前)休假|休假中",
    re.IGNORECASE,
)
# A person asking not to be emailed again, in the parser's languages (EN, DE, FR, ES, PT, IT,
# NL, JA, KO, ZH). Only ever flags the reply for the rep to confirm: a phrase match is a guess.
_REMOVAL_REQUEST = re.compile(
    r"\bunsubscribe|\bremove me\b|\btake me off\b|\bplease stop\b|\bstop (?:e-?mailing|"
    r"sending|contacting)|\bopt(?:[ -])?out\b|\bdo not (?:contact|e-?mail) me|\bdon'?t (?:contact|"
    r"e-?mail) me|\bno more e-?mails"
    r"|\babmelden|\babbestellen|\baustragen|\bentfernen sie mich|\bbitte entfernen"
    r"|\bkeine (?:weiteren )?e-?mails|\bnicht mehr (?:kontaktieren|anschreiben)"
    r"|d[ée]sabonner|d[ée]sinscri|\bretirez[- ]moi|\bsupprimez[- ]moi|\bne plus recevoir"
    r"|\bne me contactez plus|\barr[êe]tez de m'envoyer"
    r"|\bdar(?:me)? de baja|\bbaja de la lista|\bcancelar (?:la )?suscripci[óo]n"
    r"|\belim[íi]n(?:e|a)me"
    r"|\beliminarme|\bno me (?:escriba|envíe|envie)n? m[áa]s|\bdejen? de (?:enviar|escribir)"
    r"|\bno quiero recibir"
    r"|\bdescadastr|\bcancelar (?:a )?inscri[çc][ãa]o|\bremova[- ]me|\bme remova"
    r"|\bn[ãa]o quero receber"
    r"|\bparem de (?:enviar|mandar)|\bn[ãa]o me (?:envie|mande)m? mais"
    r"|\bdisiscriv|\bdisiscrizione|\bcancellami|\brimuovimi|\bnon voglio pi[ùu] ricevere"
    r"|\bsmettete di (?:inviare|scrivere)|\bnon contattatemi pi[ùu]"
    r"|\bafmelden|\buitschrijven|\bverwijder (?:mij|me)|\bgeen e-?mails? meer|\bstop met mailen"
    r"|\bniet meer (?:benaderen|mailen)"
    r"|配信停止|配信解除|登録解除|購読解除|送らないで|送信しないで"
    r"|수신\s?거부|구독\s?취소|보내지\s?마|그만\s?보내"
    r"|退订|退訂|取消订阅|取消訂閱|不要再发|请勿再发|別再寄|别再发|請勿再寄|移除我",
    re.IGNORECASE,
)
_QUOTE_HEADER = re.compile(r"^(?:On .{0,80} wrote:|-{2,} ?Original|From: |Von: |De: |Da: |Van: )")
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_OOF_MESSAGE_CLASSES = re.compile(r"IPM\.Note\.Rules\.(?:Oof|ExternalOof)Template", re.I)
_REPORT_CLASSES = re.compile(r"^REPORT\.IPM\.|IPM\.Report|\.NDR\b|\.DR\b", re.I)

# Pre-filter signals: a mail system speaking, or a subject a bounce/auto-reply uses.
_SYSTEM_SENDER = re.compile(
    r"mailer[-_ ]?daemon|postmaster|post_master|mail[ ._-]?deliver|mdaemon|mail ?administrator"
    r"|ndr|interscan|bounce|no-?reply|noreply|donotreply|do-not-reply|-admin@|owner-|-request@"
    r"|sysadmin|root@|microsoftexchange|sns\.amazonaws\.com|notification",
    re.IGNORECASE,
)
_PREFILTER_SUBJECT = re.compile(
    r"undeliver|deliver|failure|failed|fail|returned|bounce|notification|notice|error|rejected"
    r"|delay|could not|not be|warning|mail system|problem|unzustellbar|zugestellt|non remis"
    r"|no se puede|entregad|niet bezorgd|recapit|returning|loop|not member|aws notification",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Classification:
    kind: str
    bounce: BounceReport | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    message_id: str | None = None
    from_address: str | None = None
    subject: str = ""
    asks_removal: bool = False  # a reply whose own words ask not to be emailed again
    opening: str = ""  # a reply's own words above the quote (the feed's snippet)


def classify_message(raw: bytes) -> Classification:
    """Sort one raw message (see the module docstring). Never raises on malformed mail.

    Header decoding and bounce parsing tolerate any bytes by themselves; this last guard only
    keeps a defect found later from making the poller retry a message until it gives up on
    it. It logs a warning (the fuzz tests fail on one), and the message reads as "other".
    """
    try:
        return _classify(raw)
    except Exception:
        logger.warning("classify_message failed on a %d-byte message", len(raw), exc_info=True)
        return Classification(kind=OTHER)


def _classify(raw: bytes) -> Classification:
    try:
        message = parse_bytes(raw)
    except Exception:  # unparseable mail is simply not something we track
        return Classification(kind=OTHER)
    subject = header_text(message, "Subject")
    identity = {
        "in_reply_to": message_id_list(header_text(message, "In-Reply-To")),
        "references": message_id_list(header_text(message, "References")),
        "message_id": normalize_message_id(header_text(message, "Message-ID")),
        "from_address": first_address(header_text(message, "From")),
        "subject": subject,
    }
    if _is_out_of_office(message, subject):
        return Classification(kind=AUTO_REPLY, **identity)
    report = parse_bounce_message(message, raw)
    if report is not None:
        return Classification(kind=BOUNCE, bounce=report, **identity)
    if _is_system_report(message):
        return Classification(kind=OTHER, **identity)
    if _is_automatic(message) or _body_says_out_of_office(message):
        return Classification(kind=AUTO_REPLY, **identity)
    if identity["in_reply_to"] or identity["references"]:
        if header_text(message, "Precedence").lower() in _BULK_PRECEDENCE:
            return Classification(kind=OTHER, **identity)
        return Classification(
            kind=REPLY_CANDIDATE,
            asks_removal=asks_removal(message, subject),
            opening=reply_opening(message),
            **identity,
        )
    return Classification(kind=OTHER, **identity)


def may_be_bounce_or_reply(headers: Mapping[str, str]) -> bool:
    """Whether a message with these headers could be a bounce, an auto-reply or a reply.

    Takes whichever of From, Subject, Content-Type, Auto-Submitted, In-Reply-To, References,
    Return-Path and the Exchange message class the provider's listing gives (any case).
    """
    lowered = {str(name).lower(): str(value or "") for name, value in headers.items()}
    if lowered.get("in-reply-to", "").strip() or lowered.get("references", "").strip():
        return True
    if "multipart/report" in lowered.get("content-type", "").lower():
        return True
    auto_submitted = lowered.get("auto-submitted", "").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if lowered.get("return-path", "").strip() in {"<>", ""} and "return-path" in lowered:
        return True
    message_class = lowered.get("x-ms-exchange-message-class", "") or lowered.get(
        "x-ms-exchange-organization-message-class", ""
    )
    if _OOF_MESSAGE_CLASSES.search(message_class) or _REPORT_CLASSES.search(message_class):
        return True
    subject = lowered.get("subject", "")
    return bool(
        _SYSTEM_SENDER.search(lowered.get("from", ""))
        or _PREFILTER_SUBJECT.search(subject)
        or _AUTO_REPLY_SUBJECT.search(subject)
    )


def _is_out_of_office(message: Message, subject: str) -> bool:
    """Explicit auto-reply markers, checked before bounce parsing: an OOF is never a bounce."""
    if message.get("X-Autoreply") or message.get("X-Autorespond") or message.get("X-Autoresponder"):
        return True
    if header_text(message, "Precedence").lower() == "auto_reply":
        return True
    message_class = header_text(message, "X-MS-Exchange-Organization-Message-Class") or (
        header_text(message, "X-MS-Exchange-Message-Class")
    )
    if _OOF_MESSAGE_CLASSES.search(message_class):
        return True
    return bool(_AUTO_REPLY_SUBJECT.search(subject))


def _is_automatic(message: Message) -> bool:
    """RFC 3834: Auto-Submitted other than "no" marks a message no person wrote."""
    auto_submitted = header_text(message, "Auto-Submitted").lower()
    return bool(auto_submitted) and not auto_submitted.startswith("no")


def _is_system_report(message: Message) -> bool:
    """Read receipts, success notices, abuse reports: reports, but not bounces or replies."""
    if content_type(message) == "multipart/report":
        return True
    message_class = header_text(message, "X-MS-Exchange-Organization-Message-Class")
    return bool(_REPORT_CLASSES.search(message_class))


def _body_says_out_of_office(message: Message) -> bool:
    """Client-side rules (Apple Mail, Thunderbird) send OOFs with no header marker at all."""
    for part, kind in iter_parts(message):
        if kind == "text/plain" and not content_param(part, "name"):
            opening = _opening_text(decoded_text(part))
            return bool(_AUTO_REPLY_BODY.search(opening))
    return False


def reply_opening(message: Message) -> str:
    """A reply's own words, above the quote of what it answers (its first plain-text part; at
    most 600 characters, on one line)."""
    for part, kind in iter_parts(message):
        if kind == "text/plain" and not content_param(part, "name"):
            return " ".join(_opening_text(decoded_text(part)).split())
    return ""


def asks_removal(message: Message, subject: str = "") -> bool:
    """Whether a person's reply asks to be removed ("unsubscribe", "remove me", "bitte
    entfernen", "配信停止", …): the subject, or the reply's own words above the quote."""
    return bool(_REMOVAL_REQUEST.search(subject) or _REMOVAL_REQUEST.search(reply_opening(message)))


def _opening_text(text: str) -> str:
    """The message's own words: up to the first quoted line or quote header, at most 600 chars."""
    kept = []
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith(">") or _QUOTE_HEADER.match(stripped):
            break
        kept.append(stripped)
    return " ".join(kept)[:600]
