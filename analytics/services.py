from django.db import IntegrityError, transaction

from accounts.models import User

from .models import FeedEvent


def feed_event_record(
    *,
    user: User,
    kind: str,
    title: str,
    detail: str = "",
    outbound_email=None,
    channel=None,
    dedupe_key: str = "",
) -> FeedEvent | None:
    """Add an event to `user`'s live feed. With a dedupe_key, the same event is recorded once
    (a bounce seen twice); returns None when it already existed."""
    event = FeedEvent(
        organization_id=user.organization_id,
        user=user,
        kind=kind,
        title=title[:500],
        detail=detail,
        outbound_email=outbound_email,
        channel=channel,
        dedupe_key=dedupe_key[:255],
    )
    event.full_clean(exclude=["outbound_email", "channel"])
    try:
        with transaction.atomic():
            event.save()
    except IntegrityError:
        if dedupe_key:
            return None
        raise
    return event
