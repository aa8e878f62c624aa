"""Bounce parsing: `parse_bounce(raw) -> BounceReport | None`.

The public contract is `parse_bounce`, `BounceReport`, `FailedRecipient`, `reason_of_reply`
and the `vocabulary` module; everything else in this package is an implementation detail.
"""

from .core import parse_bounce, reason_of_reply
from .message import normalize_message_id
from .model import BounceReport, FailedRecipient

__all__ = [
    "BounceReport",
    "FailedRecipient",
    "normalize_message_id",
    "parse_bounce",
    "reason_of_reply",
]
