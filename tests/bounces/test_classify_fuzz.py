"""classify_message never raises, whatever the headers say.

The corpus fuzz beside this file (test_parsing_fuzz.py) mangles whole messages; this one
writes the headers the classifier decodes itself (Subject, From, In-Reply-To, References,
Message-ID, Precedence, Auto-Submitted, Content-Type) from pieces that break decoders:
RFC 2047 encoded words with bad base64, unknown charsets, truncated quoted-printable, raw
8-bit bytes, stray `=?` and `?=`, NULs and folding in odd places. A raise here is a bounce the
poller would retry and then lose (issue 13 item 1).
"""

from __future__ import annotations

import contextlib
import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bounces.classify import classify_message

KINDS = {"bounce", "auto_reply", "reply_candidate", "other"}
# The loggers of the guards that turn an internal exception into "not a bounce" / "other".
GUARD_LOGGERS = ("bounces.classify", "bounces.parsing.core")


class _Caught(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


@contextlib.contextmanager
def no_swallowed_exception():
    """Fails when a guard caught an exception: the guard hides a defect, it is not the fix."""
    handler = _Caught()
    loggers = [logging.getLogger(name) for name in GUARD_LOGGERS]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.addHandler(handler)
        each.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        for each, level in zip(loggers, levels, strict=True):
            each.removeHandler(handler)
            each.setLevel(level)
    assert not handler.records, handler.records[0].exc_info


def classify_checked(raw: bytes) -> str:
    with no_swallowed_exception():
        return classify_message(raw).kind


_CHARSETS = [
    "utf-8",
    "UTF-8",
    "iso-8859-1",
    "bogus-charset",
    "unknown-8bit",
    "x-unknown",
    "",
    "utf-8*en",
]
_ENCODINGS = ["b", "B", "q", "Q", "x", ""]
_PAYLOADS = st.one_of(
    st.sampled_from(
        ["A", "AA", "AAA", "=", "==", "QQ==", "w6k", "w6k=", "=FF", "=F", "=", "_", "?"]
    ),
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_?", max_size=12
    ),
)


@st.composite
def encoded_words(draw) -> bytes:
    charset = draw(st.sampled_from(_CHARSETS))
    encoding = draw(st.sampled_from(_ENCODINGS))
    payload = draw(_PAYLOADS)
    word = f"=?{charset}?{encoding}?{payload}?="
    if draw(st.booleans()):
        word = word[: draw(st.integers(min_value=0, max_value=len(word)))]
    return word.encode("ascii")


_PIECES = st.one_of(
    encoded_words(),
    st.sampled_from(
        [b"<a@b.example>", b" ", b"\t", b"\r\n ", b"\r\n\t", b"=?", b"?=", b"<", b">", b",", b'"']
    ),
    st.binary(max_size=8),
)
_HEADER_NAMES = [
    b"Subject",
    b"From",
    b"To",
    b"In-Reply-To",
    b"References",
    b"Message-ID",
    b"Precedence",
    b"Auto-Submitted",
    b"X-Autoreply",
    b"X-MS-Exchange-Organization-Message-Class",
    b"X-Failed-Recipients",
    b"Content-Type",
    b"Content-Transfer-Encoding",
]
_BODIES = [
    b"hello\r\n",
    b"This is the mail system at host mx.example.\r\n\r\n<a@b.example>: User unknown\r\n",
    b"I am out of the office until Monday.\r\n",
]


@st.composite
def messages_with_odd_headers(draw) -> bytes:
    headers = [b"From: MAILER-DAEMON@mx.example", b"To: rep@mailroom.example"]
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        name = draw(st.sampled_from(_HEADER_NAMES))
        value = b"".join(draw(st.lists(_PIECES, min_size=1, max_size=6)))
        headers.append(name + b": " + value)
    return b"\r\n".join(headers) + b"\r\n\r\n" + draw(st.sampled_from(_BODIES))


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(messages_with_odd_headers())
def test_classify_message_never_raises_on_odd_headers(raw):
    assert classify_checked(raw) in KINDS


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=600))
def test_classify_message_never_raises_on_any_bytes(raw):
    assert classify_checked(raw) in KINDS
