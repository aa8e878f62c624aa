"""A light MIME splitter for the parser's hot path.

Bounces are small, mostly well-formed multiparts, and the parser reads a handful of headers
and two or three parts. The stdlib parser builds far more than that (header objects, defects,
every part's policy), and costs most of a bounce's reading. This splitter does only what the
parser needs: the header block split and unfolded, the Content-Type and its parameters,
boundaries split, message/rfc822 parts entered, and transfer decoding (base64,
quoted-printable) only of the parts actually read. It answers `None` when it cannot make
sense of the structure, and the caller then uses the stdlib parser.

`LightPart` offers the few `email.message.Message` methods the parser calls, with the same
conventions as the stdlib's compat32 policy: the input is read as ASCII with surrogate escapes,
so 8-bit header bytes survive to `message._undo_surrogates` and 8-bit bodies to `get_payload`.
"""

from __future__ import annotations

import binascii
import re

MAX_DEPTH = 8
MAX_LIGHT_PARTS = 60

_HEADER_NAME = re.compile(r"[!-9;-~]{1,200}")
_PARAM = re.compile(r';\s*([A-Za-z0-9_.*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
# A Content-Type parameter on a line of its own that its writer forgot to indent.
_UNINDENTED_PARAM = re.compile(r'[A-Za-z0-9_.*-]{1,40}=(?:"[^"]*"|[^\s;:"]+)\s*;?\s*$')
# A delimiter line as the body actually writes it: "--" then a boundary with a letter or digit.
_DELIMITER_LINE = re.compile(r"^--([!-~][ -~]{0,69})$", re.MULTILINE)
_ALPHANUMERIC = re.compile(r"[A-Za-z0-9]")
_SPLIT_FAILED = object()


class LightPart:
    """One MIME entity: its headers in order, and its body text or its parts."""

    __slots__ = ("_headers", "_body", "_children", "_type", "_params")

    def __init__(
        self, headers: list[tuple[str, str]], body: str, children: list[LightPart] | None
    ) -> None:
        self._headers = headers
        self._body = body
        self._children = children
        self._type: str | None = None
        self._params: dict[str, str] | None = None

    # -- headers -----------------------------------------------------------------------------

    def raw_items(self) -> list[tuple[str, str]]:
        return self._headers

    def items(self) -> list[tuple[str, str]]:
        return self._headers

    def get(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self._headers:
            if key.lower() == wanted:
                return value
        return default

    def __getitem__(self, name: str) -> str | None:
        return self.get(name)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    # -- content type --------------------------------------------------------------------------

    def _content_type(self) -> None:
        value = self.get("Content-Type") or ""
        kind, _, rest = value.partition(";")
        kind = "".join(kind.split()).lower()
        self._type = kind if kind.count("/") == 1 else "text/plain"
        params: dict[str, str] = {}
        for name, raw in _PARAM.findall(";" + rest):
            name = name.lower().rstrip("*")
            if name not in params:
                if raw.startswith('"'):
                    raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                params[name] = raw
        self._params = params

    def get_content_type(self) -> str:
        if self._type is None:
            self._content_type()
        return self._type or "text/plain"

    def get_param(self, name: str, failobj: str | None = None) -> str | None:
        if self._params is None:
            self._content_type()
        return (self._params or {}).get(name.lower(), failobj)

    def get_content_charset(self, failobj: str | None = None) -> str | None:
        charset = self.get_param("charset")
        return charset.lower() if charset else failobj

    # -- body -------------------------------------------------------------------------------------

    def is_multipart(self) -> bool:
        return self._children is not None

    def get_payload(self, decode: bool = False) -> str | bytes | list[LightPart] | None:
        if self._children is not None:
            return None if decode else self._children
        if not decode:
            return self._body
        raw = self._body.encode("ascii", "surrogateescape")
        encoding = (self.get("Content-Transfer-Encoding") or "").strip().lower()
        if encoding == "base64":
            return tolerant_base64(raw)
        if encoding == "quoted-printable":
            return binascii.a2b_qp(raw)
        return raw


def tolerant_base64(raw: bytes) -> bytes:
    """Tolerant base64: whitespace and junk ignored, missing padding added, broken tail cut."""
    data = b"".join(raw.split())
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except binascii.Error:
        usable = len(data) - len(data) % 4
        try:
            return binascii.a2b_base64(data[:usable])
        except binascii.Error:
            return b""


def parse_light(raw: bytes) -> LightPart | None:
    """The message split into parts, or None when its structure needs the stdlib parser."""
    text = raw.decode("ascii", "surrogateescape")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    budget = [MAX_LIGHT_PARTS]
    part = _entity(text, 0, budget)
    return None if part is _SPLIT_FAILED else part


def _entity(text: str, depth: int, budget: list[int]):
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        return _SPLIT_FAILED
    headers, body = _split_headers(text)
    part = LightPart(headers, body, None)
    kind = part.get_content_type()
    if kind.startswith("multipart/"):
        boundary = part.get_param("boundary")
        if not boundary:
            return part  # the stdlib also leaves it as one text payload
        children = _split_multipart(body, boundary, depth, budget)
        if children is _SPLIT_FAILED:
            used = _boundary_in_use(body, boundary)
            if used:
                children = _split_multipart(body, used, depth, budget)
        if children is _SPLIT_FAILED:
            if depth == 0:
                return _SPLIT_FAILED
            return part  # a nested multipart cut short (a returned copy read headers-only)
        part._children = children
        part._body = ""
    elif kind in ("message/rfc822", "message/global") and depth < MAX_DEPTH:
        encoding = (part.get("Content-Transfer-Encoding") or "").strip().lower()
        if encoding in ("base64", "quoted-printable"):
            return part
        inner = _entity(body, depth + 1, budget)
        if inner is _SPLIT_FAILED:
            return _SPLIT_FAILED
        part._children = [inner]
        part._body = ""
    return part


def _split_headers(text: str) -> tuple[list[tuple[str, str]], str]:
    """(headers in order, unfolded to one line each with their folds kept, body)."""
    headers: list[tuple[str, str]] = []
    position = 0
    length = len(text)
    if text.startswith("From "):  # an mbox separator line
        position = text.find("\n") + 1 or length
    while position < length:
        end = text.find("\n", position)
        if end < 0:
            end = length
        line = text[position:end]
        if not line:
            return headers, text[end + 1 :]
        if line[0] in " \t":
            if headers:
                name, value = headers[-1]
                headers[-1] = (name, value + "\n" + line)
            position = end + 1
            continue
        name, colon, value = line.partition(":")
        if not colon or not _HEADER_NAME.fullmatch(name.rstrip()):
            if _continues_parameters(headers, line):
                headers[-1] = (headers[-1][0], headers[-1][1] + "\n " + line)
                position = end + 1
                continue
            return headers, text[position:]  # not a header: the body starts here
        headers.append((name.rstrip(), value.lstrip()))
        position = end + 1
    return headers, ""


def _continues_parameters(headers: list[tuple[str, str]], line: str) -> bool:
    """Whether `line` is a Content-Type parameter whose fold lost its indentation.

    Some mobile gateways write `Content-Type: multipart/alternative;` and `boundary="..."`
    on the next line flush left: the header is unfinished (it ends in ";"), and the line is
    one `name=value` parameter, not the body.
    """
    if not headers or headers[-1][0].lower() != "content-type":
        return False
    return headers[-1][1].rstrip().endswith(";") and bool(_UNINDENTED_PARAM.match(line))


def _boundary_in_use(body: str, declared: str) -> str | None:
    """The boundary the body's delimiter lines use when the declared one never appears.

    A relay that rewrites the Content-Type header (or a hand-edited copy) can leave a
    boundary parameter that no longer matches the body. The first delimiter-shaped line
    counts only when it comes back later as a delimiter, with or without the closing "--".
    """
    for tried, found in enumerate(_DELIMITER_LINE.finditer(body, 0, 16384)):
        if tried >= 5:
            break
        candidate = found.group(1).rstrip()
        if candidate.endswith("--") or candidate == declared or not _ALPHANUMERIC.search(candidate):
            continue
        if body.find("\n--" + candidate, found.end()) >= 0:
            return candidate
    return None


def _split_multipart(body: str, boundary: str, depth: int, budget: list[int]):
    """The parts between the boundary's delimiter lines (preamble and epilogue dropped)."""
    delimiter = "\n--" + boundary
    text = "\n" + body
    marks: list[tuple[int, int, bool]] = []  # (newline before the delimiter, line end, closing)
    search = 0
    while True:
        found = text.find(delimiter, search)
        if found < 0:
            break
        line_end = text.find("\n", found + 1)
        if line_end < 0:
            line_end = len(text)
        rest = text[found + len(delimiter) : line_end]
        search = line_end
        if rest.startswith("--"):
            marks.append((found, line_end, True))
            break
        if rest.strip():
            continue  # a longer boundary that only starts like ours
        marks.append((found, line_end, False))
    if not marks:
        return _SPLIT_FAILED
    children = []
    for index, (_, line_end, closing) in enumerate(marks):
        if closing:
            break
        end = marks[index + 1][0] if index + 1 < len(marks) else len(text)
        child = _entity(text[line_end + 1 : end], depth + 1, budget)
        if child is _SPLIT_FAILED:
            return _SPLIT_FAILED
        children.append(child)
    return children
