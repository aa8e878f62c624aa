"""The live feed: each user's stream of events (bounces, replies, failures, throttling,
channels needing reconnect), its writes and its reads in one module.

Every app that has something to tell a user writes here, so this module sits low in the
dependency order (README, "Architecture"): it imports only models and accounts' selectors,
never another app's services."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_list_visible
from bounces.models import Bounce

from .models import FeedEvent

# --- Writes ----------------------------------------------------------------------------------


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
    # The once-per-dedupe_key constraint is left to the database: a duplicate returns None.
    event.full_clean(exclude=["outbound_email", "channel"], validate_constraints=False)
    try:
        with transaction.atomic():
            event.save()
    except IntegrityError:
        if dedupe_key:
            return None
        raise
    return event


def feed_event_mark_read(*, user: User, event_id: int) -> bool:
    """Mark one of the user's own events read (another user's event is left alone)."""
    return bool(
        FeedEvent.objects.filter(pk=event_id, user=user, read_at__isnull=True).update(
            read_at=timezone.now(), updated_at=timezone.now()
        )
    )


def feed_event_mark_all_read(*, user: User) -> int:
    """Mark every unread event of the user's own feed read. Returns how many."""
    now = timezone.now()
    return FeedEvent.objects.filter(user=user, read_at__isnull=True).update(
        read_at=now, updated_at=now
    )


# --- Reads -------------------------------------------------------------------------------

FEED_PAGE_SIZE = 50
FEED_EVENT_FIELDS = (
    "id",
    "kind",
    "title",
    "detail",
    "created_at",
    "read_at",
    "user",
    "outbound_email",
    "channel",
)
UNREAD_CAP = 99


def feed_scope_users(*, user: User, scope: str) -> QuerySet[User] | None:
    """Whose events a feed shows: "mine", or "team" (a manager's teams, an admin's whole
    organization). None means only the user's own."""
    if scope == "team" and user.role in (User.Role.MANAGER, User.Role.ADMIN):
        return user_list_visible(user=user)
    return None


@dataclass(frozen=True)
class FeedPage:
    """Feed rows, newest first, and whether more lie beyond them: older events past a page,
    newer ones past a poll's batch (the page polls again at once)."""

    events: list[FeedEvent]
    more: bool


# The feed's filter by type: what a rep looks for, each a few event kinds.
FEED_TYPES = {
    "bounces": ("Bounces", (FeedEvent.Kind.BOUNCED,)),
    "replies": ("Replies", (FeedEvent.Kind.REPLIED, FeedEvent.Kind.REMOVAL_REQUESTED)),
    "failures": ("Failed sends", (FeedEvent.Kind.FAILED,)),
    "mailboxes": (
        "Mailboxes and throttling",
        (
            FeedEvent.Kind.CHANNEL_NEEDS_RECONNECT,
            FeedEvent.Kind.MAILBOX_PAUSED,
            FeedEvent.Kind.THROTTLED,
            FeedEvent.Kind.DOMAIN_CHECK,
        ),
    ),
    "unsubscribes": (
        "Unsubscribes and complaints",
        (FeedEvent.Kind.UNSUBSCRIBED, FeedEvent.Kind.COMPLAINED),
    ),
}


def feed_event_list(
    *,
    user: User,
    scope: str = "mine",
    after_id: int | None = None,
    before_id: int | None = None,
    limit: int = FEED_PAGE_SIZE,
    kind_filter: str = "",
) -> list[FeedEvent]:
    """Newest first (by when it happened, then id), at most `limit` events, in one query.

    With after_id: the oldest `limit` events newer than it (the live update; taking the oldest
    first means a burst of more than `limit` events comes over several polls, none skipped).
    With before_id: the page that follows that event in the feed's order (keyset paging: the
    event's own time is read in the same query, scoped like the feed, so an id from outside the
    viewer's feed yields nothing).

    Each event carries what its row shows besides its own columns, read in the same query
    as plain values rather than as related model instances (building a User and an
    OutboundEmail per row cost more than the row's markup): `prospect_id` and `prospect_name`,
    `template_id` and `template_name` (or None), `diagnostic` (a bounce's full server text),
    and in the team scope `sender_name` (full name, else email). `kind_filter` is a FEED_TYPES
    key (anything else: every kind)."""
    if user.organization_id is None:
        return []
    events = FeedEvent.objects.filter(organization_id=user.organization_id)
    members = feed_scope_users(user=user, scope=scope)
    if members is None:
        events = events.filter(user=user)
    elif user.role != User.Role.ADMIN:
        events = events.filter(user__in=members)
    if before_id is not None:
        # (created_at, id) < (the event's created_at, before_id). The <= bound on its own lets
        # the (…, -created_at, -id) index start the scan right at the event.
        anchor = Subquery(events.filter(pk=before_id).values("created_at")[:1])
        events = events.filter(created_at__lte=anchor).filter(
            Q(created_at__lt=anchor) | Q(id__lt=before_id)
        )
    if kind_filter in FEED_TYPES:
        events = events.filter(kind__in=FEED_TYPES[kind_filter][1])
    extra = {
        "prospect_id": F("outbound_email__prospect_id"),
        "prospect_first_name": F("outbound_email__prospect__first_name"),
        "prospect_last_name": F("outbound_email__prospect__last_name"),
        "to_address": F("outbound_email__to_address"),
        "template_id": F("outbound_email__template_id"),
        "template_name": F("outbound_email__template__name"),
        "diagnostic": Subquery(
            Bounce.objects.filter(outbound_email_id=OuterRef("outbound_email_id"))
            .order_by("-id")
            .values("diagnostic")[:1]
        ),
    }
    if members is not None:
        extra |= {
            "sender_first_name": F("user__first_name"),
            "sender_last_name": F("user__last_name"),
            "sender_email": F("user__email"),
        }
    events = events.only(*FEED_EVENT_FIELDS).annotate(**extra)
    if after_id is not None:
        rows = list(events.filter(id__gt=after_id).order_by("id")[:limit])
        rows.sort(key=lambda row: (row.created_at, row.id), reverse=True)
    else:
        rows = list(events.order_by("-created_at", "-id")[:limit])
    for row in rows:
        row.prospect_name = (
            f"{row.prospect_first_name} {row.prospect_last_name}".strip() or row.to_address
        )
        row.sender_name = (
            f"{row.sender_first_name} {row.sender_last_name}".strip() or row.sender_email
            if members is not None
            else ""
        )
    return rows


def feed_event_page(
    *,
    user: User,
    scope: str = "mine",
    after_id: int | None = None,
    before_id: int | None = None,
    size: int = FEED_PAGE_SIZE,
    kind_filter: str = "",
) -> FeedPage:
    """feed_event_list() and whether more events lie beyond: one row more is read, not counted."""
    rows = feed_event_list(
        user=user,
        scope=scope,
        after_id=after_id,
        before_id=before_id,
        limit=size + 1,
        kind_filter=kind_filter,
    )
    if len(rows) <= size:
        return FeedPage(rows, more=False)
    if after_id is None:
        return FeedPage(rows[:size], more=True)  # the extra row is the page's oldest, the last
    newest = max(rows, key=lambda row: row.id)  # a poll's batch goes up to an id
    return FeedPage([row for row in rows if row is not newest], more=True)


def feed_event_is_own(*, user: User, event_id: int) -> bool:
    """Only the owner of an event may mark it read (a manager reading the team's feed may not)."""
    return FeedEvent.objects.filter(pk=event_id, user=user).exists()


def feed_unread_count(*, user: User) -> int:
    """The user's unread events, counted up to UNREAD_CAP + 1 (the badge shows "99+"), so
    the count costs the same for a user who never reads their feed."""
    if not user.is_authenticated or user.organization_id is None:
        return 0
    unread = FeedEvent.objects.filter(user=user, read_at__isnull=True).order_by()
    return unread[: UNREAD_CAP + 1].count()


def feed_has_team_view(*, user: User) -> bool:
    return user.role in (User.Role.MANAGER, User.Role.ADMIN)
