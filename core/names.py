"""A person's whole name from its two parts, in the order their language writes it: Korean
family name first with no space (김민준), Chinese and Japanese family name first (王 伟,
山田 太郎), everything else given name first (Ana Ruiz)."""

from __future__ import annotations


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"


def _is_cjk(ch: str) -> bool:
    # CJK ideographs (and extension A), hiragana, katakana.
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\u3040" <= ch <= "\u30ff"


def _written_in(text: str, script) -> bool:
    letters = [ch for ch in text if not ch.isspace()]
    return bool(letters) and all(script(ch) for ch in letters)


def person_name(first: str | None, last: str | None) -> str:
    """The whole name; either part may be empty or None (a row without a person joined)."""
    first, last = (first or "").strip(), (last or "").strip()
    if not (first and last):
        return first or last
    if _written_in(first + last, _is_hangul):
        return f"{last}{first}"
    if _written_in(first + last, lambda ch: _is_cjk(ch) or _is_hangul(ch)):
        return f"{last} {first}"
    return f"{first} {last}"
