"""Recipients and diagnostics of bounces that are not RFC 3464 reports.

qmail, Exim, old Sendmail, Exchange 2003, Yahoo, Gmail's old format, DragonFly, appliances...
all write a human-readable list of failed addresses, each followed (or preceded) by what the
remote server said. They share a few layouts, read here generically:

- an address alone at the start of a line, maybe in <>, maybe followed by ":", "...",
  " on <date>", "[reason]" or "(reason)", then indented or adjacent lines of diagnostic;
- a sentence naming the address ("There was an error delivering your mail to <a@b>");
- an SMTP transcript (">>> RCPT To:<a@b>" then "<<< 550 ...").

Only the report itself is read: it ends where the returned copy of the message starts (a
separator line, or the first block of real message headers).
"""

from __future__ import annotations

import re

# The lookbehind keeps searches linear: a local part never starts inside a run of its characters.
ADDRESS = (
    r"(?<![A-Za-z0-9!#$%&'*+/=?^_`{|}~.-])"
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,128}@[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24}"
)

_RECIPIENT_LINE = re.compile(
    rf"^\s*(?:>{{2,3}}\s*|[*\u2022]\s+|[45]\d\d\s+(?=<?{ADDRESS}>?\.\.\.)"
    # The address' type before it (Netscape Messaging Server lists "SMTP <a@b>"), or PMDF's
    # label (and the Sun / Oracle Messaging Server's after it): "Recipient address: a@b", its
    # "Reason:" and "Diagnostic code:" lines beneath.
    r"|(?i:smtp|rfc822)[ \t]*[:;]?[ \t]*(?=<)|(?i:recipient address)[ \t]*:[ \t]*)?"
    rf"[\"']?<?(?:mailto:)?({ADDRESS})>?[\"']?"
    r"(?P<rest>(?:\s*$|\s*[:;,]|\s*\.\.\.|\s+on\s|\s*[\[(]|\s+-+\s|\s+\S).*)$"
)
# Sentences that name the failed address: "error delivering your mail to <a@b>", "rejected
# recipient <a@b>", "mailbox is full: <a@b>", "did not reach the following recipient: a@b".
_SENTENCE_RECIPIENTS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"(?:deliver\w*|sent|sending|send|reach|transmit\w*|recipients?|address(?:es)?)"
        rf"\b[^<>\n@]{{0,60}}?(?:to|:)\s*['\"]?<({ADDRESS})>",
        rf"recipients?\b[^<>\n@:]{{0,40}}(?:failed|errors?|rejected)\w*:\s*({ADDRESS})",
        rf"(?:rejected|failed|unknown|invalid|bad) recipient:?\s*<?({ADDRESS})>?",
        # "Unknown local part dana in <dana@host>": a server's verdict on a local part.
        rf"unknown (?:local[- ]part|user|address) \S{{1,64}} in <({ADDRESS})>",
        rf"(?:full|unknown|not found|failed|rejected|invalid)[^<>\n@]{{0,20}}:\s*<({ADDRESS})>",
        rf"(?:following|these) (?:recipients?|address(?:es)?)\b[^:\n@]{{0,20}}:\s*<?({ADDRESS})>?",
        # "Recipient: a@b" labels in the languages the reasons are read in (KO, JA, ZH, DE, FR,
        # ES, PT, IT, NL).
        rf"(?:받는 ?사람|수신자|수신인|받는 ?주소|宛先|受信者|送信先|收件人|收件者|empfänger"
        rf"|destinataire|destinatario|destinatário|ontvanger)\s*(?:주소)?\s*[:：]\s*<?({ADDRESS})>?",
        # Gmail's: "Your message wasn't delivered to a@b because …", "Your message to a@b has
        # been blocked."
        rf"message (?:wasn['’]?t|was not|could not be|couldn['’]?t be|has not been) delivered to:?"
        rf"\s*<?({ADDRESS})>?",
        rf"message to:?\s*<?({ADDRESS})>?\s+has been (?:blocked|rejected)",
        # Exchange Online's summary line: "Your message to a@b couldn't be delivered."
        rf"message to:?\s*<?({ADDRESS})>?\s+(?:(?:couldn['’]?t|could not|can['’]?t|cannot) be"
        rf"|wasn['’]?t|was not|has not been) delivered",
        # XMail's error record: "[<00>] XMail bounce: Rcpt=[a@b];Error=[550 …]".
        rf"\brcpt=\[<?({ADDRESS})>?\]",
        # A "Recipient:" label on its own line, then "Error:" / "Reason:" lines.
        rf"^\s*(?:failed )?recipient\s*:\s*<?({ADDRESS})>?\s*$",
        # "Sorry, unable to deliver your message to a@b for the following reason:"
        rf"(?:unable to|could not|couldn't|cannot|can't) deliver (?:your |the |this )?"
        rf"(?:message|mail|e-?mail) to:?\s*<?({ADDRESS})>?",
    )
)
_FAILURE_CLAUSE = re.compile(
    r"(?:said|is|was|has|had|does|did|could|cannot|can't|failed|unknown|user|invalid|"
    r"mailbox|recipient|host|delivery|error|<<<|\d{3}\b)",
    re.IGNORECASE,
)
_BRACKETED_FIRST = re.compile(rf"\s*<({ADDRESS})>")
# A transcript's lines: Sendmail's ">>> " (sent) and "<<< " (received), InterScan's "Sent <<<" /
# "Received >>>", Postfix smtpd's error report's " In:" (the client's) and " Out:" (its own).
_TRANSCRIPT_RCPT = re.compile(
    rf"^\s*(?:(?:sent\s*)?[<>]{{3}}\s*|in:\s*)?RCPT\s+TO:\s*<?({ADDRESS})>?", re.IGNORECASE
)
_LEADING_REPLY = re.compile(r"^\s*[45]\d\d\s+<")
_SMTP_REPLY_LINE = re.compile(
    r"^(?:(?:received\s*)?[<>]{3}\s*|out:\s*)?[245]\d\d[ -]", re.IGNORECASE
)
_TRANSCRIPT_PREFIX = re.compile(r"^(?:received\s*)?[<>]{3}\s*|^(?:out|in):\s*", re.IGNORECASE)

# Lines that introduce the returned copy of the message.
_COPY_SEPARATOR = re.compile(
    r"^\s*+[-=_*]*+\s*+(?:"
    r"below this line is a copy of the message"
    r"|this is a copy of (?:the|your) message"
    r"|original message(?: follows| headers?| info)?[.:]?\s*[-=_*]*\s*$"
    r"|(?:the )?(?:header|headers) of the original message"
    r"|message headers follow"
    r"|unsent message follows"
    r"|below is a copy of the original message"
    r"|original mail info"
    r"|(?:original|returned) message (?:header|text)"
    r"|content-type: message/rfc822"
    r"|the (?:first|following) .{0,30}of the (?:original )?message"
    r")",
    re.IGNORECASE,
)
_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]{1,60}):[ \t]")
_TRANSPORT_HEADERS = frozenset(
    {
        "received",
        "return-path",
        "message-id",
        "dkim-signature",
        "mime-version",
        "delivered-to",
        "x-received",
        "authentication-results",
        "content-type",
    }
)
_ADDRESS_IN_TEXT = re.compile(ADDRESS)

# Gateways that wrap an SMTP address in their own addressing. Exchange 5.5 and other X.400
# MTAs write the O/R address with the SMTP one as a domain-defined attribute
# ("c=US;a= ;p=Org;o=Site;dda:SMTP=a@b;", or with "/" separators); Exchange's IMCEA
# encapsulation writes "IMCEASMTP-a+40b+2Ecom@host" (RFC 1891 xtext: "+XX" is a hex byte).
_X400_WRAPPED = re.compile(
    r"['\"]?(?:/?[A-Za-z]{1,5}=[^;/'\"\n]{0,64}[;/])*dda[:.]smtp="
    r"([A-Za-z0-9!#$%&*+=?^_`{|}~.-]{1,128}@[A-Za-z0-9.-]{1,255}\.[A-Za-z]{2,24})[;/]?['\"]?",
    re.IGNORECASE,
)
_IMCEA_WRAPPED = re.compile(r"IMCEASMTP-([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,200})@[\w.-]+")
_XTEXT_BYTE = re.compile(r"\+([0-9A-Fa-f]{2})")

# LMail's report format, which L-Soft's LSMTP and LISTSERV write (and read): one block per
# recipient, "Error-For:" then "Error-Code:" / "Error-Text:" lines, closed by "Error-End:".
_ERROR_FOR = re.compile(rf"^\s*Error-For:\s*<?({ADDRESS})>?", re.IGNORECASE)
_ERROR_TEXT = re.compile(r"^\s*(?:Error-Text|Error-Code|Alias):\s*(.*)$", re.IGNORECASE)
# Ipswitch IMail (SMTP32) writes what happened first, then the address: "Unknown user: a@b",
# "Delivery failed 4 attempts: a@b". The phrase must name a failure (a "To: a@b" is not one).
_PHRASE_THEN_ADDRESS = re.compile(
    rf"^\s*(?P<phrase>[A-Za-z][A-Za-z0-9 '(),./-]{{2,80}}?)\s*:\s*<?(?P<address>{ADDRESS})>?\s*\.?$"
)
_FAILURE_PHRASE = re.compile(
    r"\b(?:unknown|invalid|fail\w*|exceed\w*|reject\w*|refused|denied|error|unable|not|no such"
    r"|undeliverable|full|over quota|bad)\b",
    re.IGNORECASE,
)
# An alias the recipient was reached through. Sendmail lists the alias' target with
# "(expanded from: <alias>)": the alias is the address that was mailed. Exim lists a
# forward's target with "(generated from <parent>)", the target being the address that
# failed, unless it hides the target as "an undisclosed address": then only the parent is known.
# (Postfix writes "<target> (expanded from <alias>): ...", without Sendmail's colon.)
_EXPANDED_FROM = re.compile(rf"\(?\s*expanded from:?\s*<?({ADDRESS})>?\s*\)?", re.IGNORECASE)
_GENERATED_FROM = re.compile(rf"\(\s*generated from\s*<?({ADDRESS})>?\s*\)", re.IGNORECASE)
_UNDISCLOSED = re.compile(r"^\s*an undisclosed address\s*$", re.IGNORECASE)
# A list of bare screen names (AOL names its members without a domain) after its heading.
_LIST_HEADING = re.compile(r"following (?:recipients?|address(?:es)?|users?)\b.*:\s*$", re.I)
_SCREEN_NAME = re.compile(r"^[ \t]+([A-Za-z][A-Za-z0-9._-]{1,31})\s*$")
MAX_RECIPIENTS = 50
MAX_LINE_CHARS = 2000
_MAX_DIAGNOSTIC_LINES = 12


def report_region(text: str) -> tuple[str, str]:
    """Split a bounce body into (the report, the returned copy)."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if _COPY_SEPARATOR.match(line[:MAX_LINE_CHARS]) or _starts_header_block(lines, index):
            return "\n".join(lines[:index]), "\n".join(lines[index:])
    return text, ""


def _starts_header_block(lines: list[str], index: int) -> bool:
    matched = _HEADER_LINE.match(lines[index])
    if not matched or matched.group(1).lower() not in _TRANSPORT_HEADERS:
        return False
    header_lines = 1
    for following in lines[index + 1 : index + 8]:
        if not following.strip():
            break
        if following[:1] in (" ", "\t") or _HEADER_LINE.match(following):
            header_lines += 1
    return header_lines >= 2


def unwrap_gateway_addresses(text: str) -> str:
    """`text` with X.400- and IMCEA-wrapped SMTP addresses written as the plain address."""
    lowered = text.lower()
    if "smtp=" in lowered:
        text = _X400_WRAPPED.sub(lambda found: found.group(1), text)
    if "imceasmtp-" in lowered:
        text = _IMCEA_WRAPPED.sub(
            lambda found: _XTEXT_BYTE.sub(lambda byte: chr(int(byte.group(1), 16)), found.group(1)),
            text,
        )
    return text


def screen_names(region: str) -> list[str]:
    """Bare names listed, indented, under a "the following recipients ...:" heading."""
    names: list[str] = []
    lines = region.split("\n")
    for index, line in enumerate(lines):
        if not _LIST_HEADING.search(line[:MAX_LINE_CHARS]):
            continue
        for following in lines[index + 1 : index + 1 + MAX_RECIPIENTS]:
            found = _SCREEN_NAME.match(following)
            if not found:
                break
            names.append(found.group(1).lower())
    return names


def extract_recipients(region: str, *, excluded: set[str]) -> list[tuple[str, str]]:
    """(address, diagnostic) pairs in order of appearance, one per address.

    `excluded` (the mailbox the bounce came to) is dropped unless it is the only address found:
    people do send to themselves.
    """
    pairs = [pair for pair in _recipients_in(region) if not is_return_path(pair[0])]
    kept = [pair for pair in pairs if pair[0] not in excluded]
    # A mail system's own mailbox (a contact line, "postmaster@host") only when nothing else is.
    named = [pair for pair in kept if not _SYSTEM_LOCAL_PART.match(pair[0])]
    return named or kept or pairs


# Return paths a sender's mail system makes up for bounces to come back to: VERP
# ("bounce+token@", "bounces-123-x=y@"), BATV ("prvs=tag=user@"), SRS ("SRS0=…@"). A notice is
# sent to one; it is never the recipient that failed.
_RETURN_PATH = re.compile(r"^(?:bounces?|return|verp|prvs|btv1|srs[01])[-+=.]", re.IGNORECASE)


def is_return_path(address: str) -> bool:
    return bool(_RETURN_PATH.match(address))


def _recipients_in(region: str) -> list[tuple[str, str]]:
    found: dict[str, list[str]] = {}
    aliases: dict[str, str] = {}  # an alias' target -> the alias (Sendmail's expansions)
    lines = [line[:MAX_LINE_CHARS] for line in region.split("\n")]
    index = 0
    while index < len(lines) and len(found) < MAX_RECIPIENTS:
        line = lines[index]
        error_for = _ERROR_FOR.match(line)
        if error_for:
            said = []
            for following in lines[index + 1 : index + 1 + _MAX_DIAGNOSTIC_LINES]:
                text = _ERROR_TEXT.match(following)
                if not text:
                    break
                said.append(text.group(1).strip())
            found.setdefault(error_for.group(1).lower(), []).append(" ".join(said))
            index += 1
            continue
        if _UNDISCLOSED.match(line) and index + 1 < len(lines):
            parent = _GENERATED_FROM.search(lines[index + 1])
            if parent:
                diagnostic, index = _diagnostic_after(lines, index + 1, "")
                found.setdefault(parent.group(1).lower(), []).append(diagnostic)
                continue
        phrase_first = _PHRASE_THEN_ADDRESS.match(line)
        if phrase_first and _FAILURE_PHRASE.search(phrase_first.group("phrase")):
            diagnostic, index = _diagnostic_after(lines, index, "")
            phrase = phrase_first.group("phrase")
            found.setdefault(phrase_first.group("address").lower(), []).append(
                f"{phrase} {diagnostic}".strip()
            )
            continue
        transcript = _TRANSCRIPT_RCPT.match(line)
        if transcript:
            address = transcript.group(1).lower()
            replies = []
            for following in lines[index + 1 : index + 6]:
                if _SMTP_REPLY_LINE.match(following.strip()):
                    replies.append(_TRANSCRIPT_PREFIX.sub("", following.strip()))
                elif replies:
                    break
            if replies and all(reply.startswith("2") for reply in replies):
                # Accepted at RCPT: what failed came later in the session (at DATA, or at the
                # end of it), the first refusal after, unless another RCPT comes first (the
                # refusal is then that recipient's, or again the message's, said after it).
                later = _refusal_after(lines, index)
                if not later:
                    # Accepted and nothing refused after: not a failed recipient by this line.
                    index += 1
                    continue
                replies = [_TRANSCRIPT_PREFIX.sub("", later)]
            found.setdefault(address, []).extend(replies)
            index += 1
            continue
        matched = _RECIPIENT_LINE.match(line)
        if matched and _looks_like_recipient_line(matched):
            address = matched.group(1).lower()
            bracketed = _BRACKETED_FIRST.match(matched.group("rest"))
            if bracketed:
                # "name@host <real@host>: ...": the bracketed one is the address used.
                address = bracketed.group(1).lower()
            diagnostic, index = _diagnostic_after(lines, index, matched.group("rest"))
            parent = _EXPANDED_FROM.search(diagnostic[:400])
            if parent:
                # "a@b (expanded from: <alias@b>)": the alias is the address that was mailed;
                # the transcript's lines about a@b are about it too.
                aliases[address] = parent.group(1).lower()
                address = aliases[address]
                diagnostic = diagnostic[: parent.start()] + diagnostic[parent.end() :]
                diagnostic = diagnostic.strip(" :;,")
            found.setdefault(address, []).append(diagnostic)
            continue
        if "@" in line:  # every sentence names its address
            for pattern in _SENTENCE_RECIPIENTS:
                for sentence in pattern.finditer(line):
                    found.setdefault(sentence.group(1).lower(), [])
        index += 1
    for target, alias in aliases.items():
        found.setdefault(alias, []).extend(found.pop(target, []))
    return [(address, " ".join(part for part in parts if part)) for address, parts in found.items()]


# What a line says of an address it names when no layout above knows the notice: that the
# message failed to reach it, or that the address, its mailbox or its domain is bad.
_DELIVERY_FAILURE = re.compile(
    r"(?:could not|couldn['’]?t|cannot|can['’]?t|unable to|was not|wasn['’]?t|not) (?:be )?"
    r"deliver|undeliverable|non-?delivery|delivery (?:to \S+ )?(?:has )?failed|failed to deliver"
    r"|\b(?:was|were|been|is) (?:rejected|refused|returned|bounced)|\bbounced\b|\brejected\b"
    r"|(?:send|sending|sent) to \S+ failed|does(?: not|n't) exist|no such (?:user|mailbox|address)"
    r"|(?:user|recipient|address|mailbox) (?:is )?(?:unknown|invalid|not found|unavailable|full)"
    r"|(?:unknown|invalid|bad) (?:user|recipient|address|mailbox)|mailbox (?:is )?full"
    r"|over quota|not (?:a )?valid",
    re.IGNORECASE,
)
# Mail systems' own mailboxes, named in a notice for replies, never as the failed recipient.
_SYSTEM_LOCAL_PART = re.compile(
    r"^(?:postmaster|mailer-daemon|mail-daemon|hostmaster|abuse)@", re.IGNORECASE
)


_RECIPIENT_LABEL = re.compile(r"^\s*(?:failed |undelivered )?recipients?(?:\(s\))?\s*:", re.I)
_NOT_RECIPIENT_LABEL = re.compile(
    r"^\s*(?:from|sender|reply-to|return-path|date|subject|message-id|cc|bcc)\s*:", re.I
)


def addresses_beside_failures(
    region: str, *, excluded: set[str], machine: bool
) -> list[tuple[str, str]]:
    """(address, the line) for each address on a line that says delivery to it failed, for
    notices no layout reads: the structural fallback of last resort. From a mail system
    (`machine`), also each address listed under a failure heading or a "Recipient:" label;
    from anyone else, never a quoted line (a person quoting a notice)."""
    found: dict[str, str] = {}
    listed_until = -1  # the lines under a failure heading ("… could not be delivered:") end
    lines = region.split("\n")[:200]
    for number, line in enumerate(lines):
        line = line[:MAX_LINE_CHARS]
        # "the mailbox a@b is full": the sentence read with each address as one blank; from a
        # mail system, a sentence the line leaves unfinished goes on on the next one ("Your
        # message to: a@b" / "was not delivered.").
        sentence = line
        if machine and "@" in line and not line.rstrip().endswith((".", ":", "!", "?")):
            sentence = (
                f"{line} {lines[number + 1][:MAX_LINE_CHARS]}" if number + 1 < len(lines) else line
            )
        said = " ".join(_ADDRESS_IN_TEXT.sub(" ", sentence).split())
        failure = _DELIVERY_FAILURE.search(said)
        if not machine and line.lstrip().startswith(">"):
            continue
        if machine and failure is not None and said.endswith(":") and "@" not in line:
            listed_until = number + 8
            continue
        if "@" not in line:
            continue
        if failure is not None:
            words = failure.group(0)
        elif machine and (number <= listed_until or _RECIPIENT_LABEL.match(line)):
            # A line of the list under the heading, or a "Recipient(s):" label: what it names
            # is what failed, unless it is the message's sender or its other headers.
            if _NOT_RECIPIENT_LABEL.match(line):
                continue
            words = ""
        else:
            continue
        candidates = [
            match
            for match in _ADDRESS_IN_TEXT.finditer(line)
            if match.group(0).strip("'`").lower() not in excluded
            and not _SYSTEM_LOCAL_PART.match(match.group(0).strip("'`"))
            and not is_return_path(match.group(0).strip("'`"))
        ]
        if not candidates:
            continue
        # Several addresses on the line ("a@b does not exist, use c@d"): the failure is said
        # of the one nearest its words.
        nearest = min(candidates, key=lambda match: _distance(match, line, words))
        found.setdefault(nearest.group(0).strip("'`").lower(), " ".join(line.split()))
        if len(found) >= MAX_RECIPIENTS:
            break
    return list(found.items())


def _distance(address: re.Match[str], line: str, words: str) -> int:
    """Characters between an address and the failure `words` on its line (none: the first)."""
    start = line.find(words) if words else -1
    if start < 0:
        start = address.end()
    end = start + len(words)
    if address.end() <= start:
        return start - address.end()
    return max(0, address.start() - end)


def _refusal_after(lines: list[str], index: int) -> str:
    """The first refusal after the RCPT on `lines[index]` that answers no other RCPT: every
    recipient accepted before DATA shares what DATA met."""
    after_rcpt = False
    for following in lines[index + 1 : index + 40]:
        if _TRANSCRIPT_RCPT.match(following):
            after_rcpt = True
            continue
        reply = following.strip()
        if _SMTP_REPLY_LINE.match(reply):
            if not after_rcpt and _TRANSCRIPT_PREFIX.sub("", reply)[:1] in ("4", "5"):
                return reply
            after_rcpt = False
    return ""


def _looks_like_recipient_line(matched: re.Match[str]) -> bool:
    rest = matched.group("rest").strip()
    if not rest or rest[0] in ":;,.[(<-" or rest.startswith("on "):
        return True
    # "user@host said: ...", "user@host is unknown": a verb-led failure clause.
    return bool(_FAILURE_CLAUSE.match(rest))


def _diagnostic_after(lines: list[str], index: int, rest: str) -> tuple[str, int]:
    """The diagnostic of the recipient on `lines[index]`, and the index of the next line to read."""
    parts = [rest.strip(" \t:;,.-[]()")] if rest.strip(" \t:;,.-") else []
    indent = _indent(lines[index])
    # Sendmail's transcript line "550 <a@b>... User unknown" is a whole reply: only a wrapped
    # (indented) line continues it; the next flush-left line is the next statement.
    whole_reply = bool(_LEADING_REPLY.match(lines[index]))
    index += 1
    taken = 0
    while index < len(lines) and taken < _MAX_DIAGNOSTIC_LINES:
        following = lines[index]
        if not following.strip() or _TRANSCRIPT_RCPT.match(following):
            break
        if whole_reply and not following[:1].isspace():
            break
        matched = _RECIPIENT_LINE.match(following)
        if matched and _looks_like_recipient_line(matched) and _indent(following) <= indent:
            # The next recipient of the list, at the same depth (Exim indents each address
            # by two and its diagnostic by four).
            break
        if matched and not parts and following.startswith(("  ", "\t")) and matched.start(1) < 8:
            break
        parts.append(following.strip())
        index += 1
        taken += 1
    return " ".join(parts), index


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def addresses_in(text: str) -> list[str]:
    return [address.lower() for address in _ADDRESS_IN_TEXT.findall(text)]
