"""Layout hook (settings.MAILROOM_NAVIGATION_CONTEXT): the unread counter in the navigation."""

from .feed import UNREAD_CAP, feed_unread_count


def feed_navigation(request) -> dict:
    count = feed_unread_count(user=request.user)
    return {"feed_unread_count": f"{UNREAD_CAP}+" if count > UNREAD_CAP else count}
