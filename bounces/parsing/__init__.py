"""Bounce parsing: `parse_bounce(raw) -> BounceReport | None`.

The public contract is `parse_bounce`, `BounceReport` and `FailedRecipient`; everything else
in this package is an implementation detail.
"""

from .core import parse_bounce
from .message import normalize_message_id
from .model import BounceReport, FailedRecipient

__all__ = ["BounceReport", "FailedRecipient", "normalize_message_id", "parse_bounce"]
