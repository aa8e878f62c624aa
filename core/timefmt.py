"""One relative-time style for every page: “just now”, “5 min ago”, “3 h ago”, “2 d ago”, and
for the future “in 5 min” (in Korean “방금”, “5분 전”, “3시간 전”, “2일 전”, “5분 후”). The feed,
the Bounces page and the mailbox checks all use it, so the same moment reads the same everywhere.
Cheap enough for a feed of fifty rows (humanize's naturaltime costs more than the query behind
the page). Plural forms are kept although English abbreviates every count alike."""

from datetime import datetime

from django.utils import timezone
from django.utils.translation import ngettext, pgettext

_UNITS = (("d", 86_400), ("h", 3_600), ("min", 60))


def _words(unit: str, amount: int, future: bool) -> str:
    if unit == "d":
        if future:
            return ngettext("in %(count)s d", "in %(count)s d", amount) % {"count": amount}
        return ngettext("%(count)s d ago", "%(count)s d ago", amount) % {"count": amount}
    if unit == "h":
        if future:
            return ngettext("in %(count)s h", "in %(count)s h", amount) % {"count": amount}
        return ngettext("%(count)s h ago", "%(count)s h ago", amount) % {"count": amount}
    if future:
        return ngettext("in %(count)s min", "in %(count)s min", amount) % {"count": amount}
    return ngettext("%(count)s min ago", "%(count)s min ago", amount) % {"count": amount}


def relative_time(moment: datetime, now: datetime | None = None) -> str:
    seconds = int(((now or timezone.now()) - moment).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    for unit, size in _UNITS:
        if seconds >= size:
            return _words(unit, seconds // size, future)
    if future:
        return pgettext("relative time", "in under a minute")
    return pgettext("relative time", "just now")
