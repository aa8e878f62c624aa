"""One relative-time style for every page: “just now”, “5 min ago”, “3 h ago”, “2 d ago”, and
for the future “in 5 min”. The feed, the Bounces page and the mailbox checks all use it, so the
same moment reads the same everywhere. Cheap enough for a feed of fifty rows (humanize's
naturaltime costs more than the query behind the page)."""

from datetime import datetime

from django.utils import timezone

_UNITS = (("d", 86_400), ("h", 3_600), ("min", 60))


def relative_time(moment: datetime, now: datetime | None = None) -> str:
    seconds = int(((now or timezone.now()) - moment).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    for unit, size in _UNITS:
        if seconds >= size:
            amount = f"{seconds // size} {unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return "in under a minute" if future else "just now"
