"""parse_bounce and classify_message survive mangled real bounces.

Corpus messages are damaged the way mail gets damaged in transit and by broken MTAs: flipped
bytes, truncation, changed line endings, lost headers, pieces of other messages spliced in.
The parser must never raise, and must stay fast: the per-message bound below is a generous
safety net against catastrophic regexes, not a benchmark (see bench/bounce_corpus.py).
Examples are derandomized so the suite gives the same answer on every run; change
`max_examples` or drop `derandomize` locally to explore further.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bounces.classify import classify_message
from bounces.parsing import BounceReport, parse_bounce
from tests.bounces.corpus import corpus_dir
from tests.bounces.test_classify_fuzz import no_swallowed_exception

CORPUS = corpus_dir()
# A hang detector, not a benchmark (bench/bounce_corpus.py measures speed): a runaway regex or
# loop costs seconds to minutes, while a normal parse costs milliseconds; 0.1 s of CPU was
# exceeded (0.42 s) on a 2-core machine under a load of 13, so the bound leaves that room.
SAFETY_BOUND_SECONDS = 1.0


def _corpus_messages() -> list[bytes]:
    paths = sorted((CORPUS / "sisimai" / "emails" / "bsd").glob("*.eml"))
    paths += sorted((CORPUS / "nonbounce" / "emails").glob("*.eml"))
    return [path.read_bytes() for path in paths]


MESSAGES = _corpus_messages()


@st.composite
def mangled_messages(draw) -> bytes:
    raw = bytearray(draw(st.sampled_from(MESSAGES or [b""])))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        mutation = draw(
            st.sampled_from(["flip", "truncate", "line_ends", "drop_header", "splice", "insert"])
        )
        if not raw:
            break
        if mutation == "flip":
            for _ in range(draw(st.integers(min_value=1, max_value=20))):
                position = draw(st.integers(min_value=0, max_value=len(raw) - 1))
                raw[position] = draw(st.integers(min_value=0, max_value=255))
        elif mutation == "truncate":
            raw = raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
        elif mutation == "line_ends":
            ending = draw(st.sampled_from([b"\r\n", b"\r", b"\n", b"\r\r\n", b""]))
            raw = bytearray(bytes(raw).replace(b"\r\n", b"\n").replace(b"\n", ending))
        elif mutation == "drop_header":
            lines = bytes(raw).split(b"\n")
            header_end = lines.index(b"") if b"" in lines else len(lines)
            if header_end:
                del lines[draw(st.integers(min_value=0, max_value=header_end - 1))]
            raw = bytearray(b"\n".join(lines))
        elif mutation == "splice":
            other = draw(st.sampled_from(MESSAGES or [b""]))
            start = draw(st.integers(min_value=0, max_value=len(other)))
            end = draw(st.integers(min_value=start, max_value=len(other)))
            at = draw(st.integers(min_value=0, max_value=len(raw)))
            raw[at:at] = other[start:end]
        else:
            at = draw(st.integers(min_value=0, max_value=len(raw)))
            raw[at:at] = draw(st.binary(max_size=200))
    return bytes(raw)


def _timed(function, raw: bytes):
    """Result and CPU seconds: CPU time, so a busy test machine does not fail the bound."""
    started = time.process_time()
    result = function(raw)
    return result, time.process_time() - started


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mangled_messages())
def test_parse_bounce_never_raises_and_stays_fast(raw):
    with no_swallowed_exception():
        report, elapsed = _timed(parse_bounce, raw)
    assert report is None or isinstance(report, BounceReport)
    assert elapsed < SAFETY_BOUND_SECONDS


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mangled_messages())
def test_classify_message_never_raises(raw):
    with no_swallowed_exception():
        classification, elapsed = _timed(classify_message, raw)
    assert classification.kind in {"bounce", "auto_reply", "reply_candidate", "other"}
    assert elapsed < SAFETY_BOUND_SECONDS


@pytest.mark.parametrize("size", [1_000_000, 5_000_000])
def test_huge_messages_are_bounded(size):
    raw = MESSAGES[0] + b"\n" + (b"x" * 998 + b"\n") * (size // 999)
    report, elapsed = _timed(parse_bounce, raw)
    assert report is None or isinstance(report, BounceReport)
    assert elapsed < SAFETY_BOUND_SECONDS * 5


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: x\n\n" + b"a@" * 50_000,
        b"Subject: x\n\n" + b"<" * 100_000,
        b"Subject: failure notice\nFrom: MAILER-DAEMON@x.example\n\n" + b" " * 100_000 + b"x",
        b"Subject: failure notice\nFrom: MAILER-DAEMON@x.example\n\n" + b"a.b.c@d.e.f " * 20_000,
        b"Content-Type: multipart/mixed; boundary=a\n\n" + b"--a\nContent-Type: multipart/mixed;"
        b" boundary=a\n\n" * 2_000,
    ],
)
def test_pathological_inputs_do_not_backtrack(raw):
    report, elapsed = _timed(parse_bounce, raw)
    assert report is None or isinstance(report, BounceReport)
    assert elapsed < SAFETY_BOUND_SECONDS * 5


def test_the_parser_runs_without_django_settings():
    """bench/bounce_corpus.py (and any tool) parses without configuring Django: the parser is
    plain Python. It once imported Django's gettext_noop, which needs settings, and the bench
    stopped at import."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "from bounces.parsing import parse_bounce; "
        "print(parse_bounce(b'Subject: hi\\r\\n\\r\\nhello'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"
