"""Light MIME helpers shared by the bounce parser and the classifier.

`parse_bytes` splits with `light.parse_light` (only what the parser reads, several times
faster) and falls back to the stdlib parser with the `compat32` policy when the light
splitter cannot make sense of the structure. Both give objects with the same few methods
(`raw_items`, `get`, `get_payload`, `get_content_type`, `get_param`, ...), so the helpers
below take either. Everything here tolerates broken input:
unknown charsets, bad transfer encodings and truncated multiparts degrade to less text, never
to an exception.
"""

from __future__ import annotations

import binascii
import codecs
import re
from collections.abc import Iterator
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from .light import LightPart, parse_light, tolerant_base64

# Bounces put the failure report first; what follows is the returned message and its
# attachments. Scanning only this much bounds the time per message whatever its size.
MAX_INPUT_BYTES = 256 * 1024
MAX_PARTS = 40
MAX_TEXT_CHARS = 48 * 1024

_BYTES_PARSER = BytesParser(policy=compat32)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MULTIPART = re.compile(rb"^content-type:\s*(?:multipart|message)/", re.IGNORECASE | re.MULTILINE)

_MESSAGE_ID = re.compile(r"(?<![^<\s])<?\s*([^<>\s\"]{1,250}@[^<>\s\"]{1,250}?)\s*>?(?=\s|$|[>,;])")
_ADDRESS = re.compile(
    r"(?<![A-Za-z0-9!#$%&'*+/=?^_`{|}~.-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,128}"
    r"@[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63}){1,8}"
)
_BRACKETED_ID = re.compile(r"<([^<>\s]+)>")
_QUOTED_ADDRESS = re.compile(r'"[^"\r\n]{1,64}"@[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63}){1,8}')
_BRACKETED_ADDRESS = re.compile(r"<\s*([^<>\s@]+@[^<>\s]+?)\s*>")
# Header values and DSN fields are short; anything longer is damage, read no further.
MAX_VALUE_CHARS = 2000


# What `parse_bytes` may return, for isinstance checks on attached messages and parts.
PART_TYPES = (Message, LightPart)


def as_part(part: Message | LightPart) -> Message:
    """Either kind of part, typed as the stdlib one whose methods both offer."""
    return part  # type: ignore[return-value]  # same methods, see the module docstring


def parse_bytes(raw: bytes) -> Message:
    raw = raw[:MAX_INPUT_BYTES]
    light = parse_light(raw)
    if light is not None:
        return light  # type: ignore[return-value]  # same methods, see the module docstring
    return parse_bytes_stdlib(raw)


def parse_bytes_stdlib(raw: bytes) -> Message:
    """The stdlib parse, for structures the light splitter gives up on."""
    raw = raw[:MAX_INPUT_BYTES]
    if b"\r" in raw and b"\n" not in raw[:8192]:
        # Old Mac line ends: the stdlib parser splits headers on them but not MIME boundaries.
        raw = raw.replace(b"\r", b"\n")
    header_end = _HEADER_END.search(raw)
    header_block = raw[: header_end.start()] if header_end else raw
    # A single-part message has nothing for the MIME parser to split: reading only its
    # headers leaves the body as one payload, at a fraction of the cost.
    single_part = _MULTIPART.search(header_block) is None
    return _BYTES_PARSER.parsebytes(raw, headersonly=single_part)


_SURROGATE = re.compile("[\udc80-\udcff]")
_LINE_END = re.compile(r"\r+\n|\r")


def normalize_newlines(text: str) -> str:
    """LF line ends; CRLF, bare CR and the CR CR LF of some relays all count as one."""
    if "\r" not in text:
        return text
    return _LINE_END.sub("\n", text)


def header_text(message: Message, name: str) -> str:
    """The header's value with RFC 2047 words decoded and folding removed ('' when absent)."""
    value = _raw_header(message, name)
    return "" if value is None else decode_words(value)


def _raw_header(message: Message, name: str) -> str | None:
    """The header as received: compat32 would turn 8-bit values into lossy Header objects."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return str(value)
    return None


def _undo_surrogates(value: str) -> str:
    """Raw 8-bit header bytes (RFC 6532 UTF-8, or legacy Latin-1) as the text they were."""
    if value.isascii() or not _SURROGATE.search(value):
        return value
    raw = value.encode("ascii", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def first_address(value: str) -> str | None:
    """The first e-mail address in a header value or a DSN field, lower case.

    `Name <a@b>` gives the bracketed address; a source route (`<@relay:a@b>`) is dropped.
    Plain regexes: email.utils.getaddresses is several times slower and no more useful here.
    """
    if not value:
        return None
    value = value[:MAX_VALUE_CHARS]
    quoted = _QUOTED_ADDRESS.search(value)
    if quoted:
        return quoted.group(0).lower()
    bracketed = _BRACKETED_ADDRESS.search(value)
    if bracketed:
        value = bracketed.group(1).rpartition(":")[2]
    found = _ADDRESS.search(value)
    return found.group(0).lower() if found else None


def normalize_message_id(value: str | None) -> str | None:
    """`<local@domain>` for any Message-ID-ish value; None when it holds no id."""
    if not value:
        return None
    found = _MESSAGE_ID.search(value[:MAX_VALUE_CHARS].strip())
    if found is None:
        return None
    return f"<{found.group(1).strip('<>')}>"


def message_id_list(value: str | None) -> list[str]:
    """All Message-IDs of an In-Reply-To / References value, in order, normalized."""
    if not value:
        return []
    value = value[: MAX_VALUE_CHARS * 4]
    ids = _BRACKETED_ID.findall(value)
    if not ids:
        single = normalize_message_id(value)
        return [single] if single else []
    return [f"<{message_id}>" for message_id in ids]


def iter_parts(message: Message) -> Iterator[tuple[Message, str]]:
    """(part, content type) depth-first, containers included, bounded in number.

    Attached messages (message/rfc822) are yielded but not entered: a bounce's own report
    never lives inside the message it returns.
    """
    stack = [message]
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        kind = content_type(part)
        yield part, kind
        if part is not message and kind == "message/rfc822":
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            children = [as_part(child) for child in payload if isinstance(child, PART_TYPES)]
            stack.extend(reversed(children))


def header_values(text: str, wanted: tuple[str, ...]) -> dict[str, str]:
    """The first value of each wanted header in a header block given as text.

    A plain line scan: the stdlib HeaderParser costs more than the rest of a bounce's reading.
    """
    found: dict[str, str] = {}
    current: str | None = None
    for line in text.split("\n", 400):
        if not line.strip():
            break
        if line[:1] in (" ", "\t"):
            if current is not None:
                found[current] += " " + line.strip()
            continue
        name, separator, value = line.partition(":")
        name = name.strip().lower()
        current = None
        if separator and name in wanted and name not in found:
            found[name] = value.strip()
            current = name
    return {name: decode_words(value) for name, value in found.items()}


def decode_words(value: str) -> str:
    """RFC 2047 words and raw 8-bit bytes decoded, folding removed. Never raises.

    The stdlib's decode_header raises on a bad base64 word or an unknown charset
    (`=?utf-8?b?A?=`, HeaderParseError / CharsetError); here each word degrades on its own:
    base64 is read as far as it goes, an unknown charset is read as UTF-8 (else Latin-1), and
    what is not an encoded word stays as written. Adjacent words are joined without the
    whitespace between them, their bytes decoded together when they share a charset (a
    multi-byte character may be split across two words).
    """
    value = _undo_surrogates(value)
    if "=?" in value:
        value = _decode_encoded_words(value)
    return " ".join(value.split())


_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,75})\?([BbQq])\?([^?\s]*)\?=")


def _decode_encoded_words(value: str) -> str:
    pieces: list[str] = []
    run: list[tuple[str, bytes]] = []  # (charset, bytes) of adjacent encoded words
    position = 0
    for found in _ENCODED_WORD.finditer(value, 0, MAX_VALUE_CHARS * 4):
        between = value[position : found.start()]
        if between and (not run or between.strip()):
            pieces.append(_decode_run(run))
            run = []
            pieces.append(between)
        charset, encoding, payload = found.groups()
        charset = charset.partition("*")[0].lower()  # RFC 2231 language suffix
        data = payload.encode("ascii", "replace")
        base64 = encoding in "Bb"
        data = tolerant_base64(data) if base64 else binascii.a2b_qp(data, header=True)
        if run and run[-1][0] == charset:
            run[-1] = (charset, run[-1][1] + data)
        else:
            run.append((charset, data))
        position = found.end()
    pieces.append(_decode_run(run))
    pieces.append(value[position:])
    return "".join(pieces)


def _decode_run(run: list[tuple[str, bytes]]) -> str:
    return "".join(decode_bytes(data, charset) for charset, data in run)


def decode_bytes(data: bytes, charset: str | None) -> str:
    """`data` as text in `charset`; UTF-8 then Latin-1 when it is unknown or wrong."""
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            codecs.lookup(candidate)
            return data.decode(candidate)
        except (LookupError, UnicodeError, ValueError, TypeError):
            continue
    return data.decode("latin-1")


def decoded_text(part: Message) -> str:
    """The part's body as text, transfer-decoded and charset-decoded, bounded in length."""
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, LookupError, UnicodeError, AssertionError, TypeError):
        payload = None
    if not isinstance(payload, bytes):
        raw_payload: object = part.get_payload()
        if isinstance(raw_payload, str):
            return normalize_newlines(raw_payload[:MAX_TEXT_CHARS])
        return ""
    return normalize_newlines(decode_bytes(payload[:MAX_TEXT_CHARS], _charset(part)))


def _charset(part: Message) -> str | None:
    try:
        charset = part.get_content_charset()
    except (ValueError, LookupError, UnicodeError, TypeError):
        return None
    if not charset:
        return None
    charset = charset.strip().strip('"').lower()
    # Japanese MTAs label ISO-2022-JP text as plain "jis"; Windows code pages are common too.
    return {"jis": "iso-2022-jp", "x-sjis": "shift_jis", "sjis": "shift_jis"}.get(charset, charset)


def content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except (ValueError, TypeError, AttributeError):
        return "text/plain"


def content_param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except (ValueError, TypeError, IndexError):
        return ""
    if isinstance(value, tuple):
        value = value[2]
    return str(value or "").strip().lower()
