"""The bounce corpus the parser's tests read: given data, used where it lives
(`../shared/bounce-corpus` next to the project, or $BOUNCE_CORPUS_DIR), never copied here.
Missing, it is an error, not a skip: the parser's accuracy tests would otherwise pass unseen."""

import os
from pathlib import Path

import pytest

from bench.bounce_corpus import DEFAULT_CORPUS

CORPUS = Path(os.environ.get("BOUNCE_CORPUS_DIR", DEFAULT_CORPUS))


def corpus_dir() -> Path:
    """The corpus folder; fails the test module's collection when it is not there."""
    if not (CORPUS / "sisimai" / "expected.jsonl").exists():
        pytest.fail(
            f"The bounce corpus is not at {CORPUS}. The parser's tests read it there; set "
            "BOUNCE_CORPUS_DIR to the folder that holds sisimai/ and nonbounce/.",
            pytrace=False,
        )
    return CORPUS
