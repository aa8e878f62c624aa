"""The live feed: each user's stream of events (bounces, replies, failures, throttling,
channels needing reconnect), its writes and its reads in one module.

Every app that has something to tell a user writes here, so this module sits low in the
dependency order (README, "Architecture"): it imports only models and accounts' selectors,
never another app's services."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from accounts.selectors import user_list_visible
from bounces.models import Bounce
from core.names import person_name

from .models import FeedEvent

# --- Texts -----------------------------------------------------------------------------------
# An event's words are stored in English (title, detail: what the admin, a search and an older
# event show) and, since issue 17, also as the message they were written from: a key of
# FEED_TEXTS and its arguments for the title, and a list of them for the detail (joined by a
# space). The feed renders the message in the reader's language at display time, so a Korean
# rep and an English manager read the same event each in their own; an event with no message,
# or a key this version does not know, shows its stored text.

FeedText = tuple[str, dict[str, Any]]

# What the texts quote (a subject, an address, the server's or a provider's words) stays as
# written; an argument named here is itself an English label and is translated when shown.
TRANSLATED_ARGUMENTS = ("reason", "channel_kind")

FEED_TEXTS = {
    "verbatim": "%(text)s",
    "quote": gettext_lazy("“%(text)s”"),
    "bounced": gettext_lazy("Email to %(who)s bounced"),
    "bounced.said": gettext_lazy("Email to %(who)s bounced: %(said)s"),
    "bounced.reason": gettext_lazy("Email to %(who)s bounced: %(reason)s (%(status)s)"),
    "bounced.reason_only": gettext_lazy("Email to %(who)s bounced: %(reason)s"),
    "bounced.hard": gettext_lazy("Hard bounce of “%(subject)s”."),
    "bounced.soft": gettext_lazy("Soft bounce of “%(subject)s”."),
    "bounced.invalid": gettext_lazy("The address is marked invalid and its campaigns are stopped."),
    "replied": gettext_lazy("%(who)s replied to “%(subject)s”"),
    "replied.stopped": gettext_lazy("Their campaign is stopped."),
    "removal_requested": gettext_lazy(
        "%(who)s asks to be removed: confirm to stop emailing %(address)s"
    ),
    "removal_requested.detail": gettext_lazy(
        "Their reply reads like an unsubscribe request. Confirm puts the address on the "
        "suppression list and stops all its campaigns."
    ),
    "unsubscribed": gettext_lazy("%(address)s unsubscribed"),
    "unsubscribed.link": gettext_lazy(
        "From “%(subject)s”. The address is on the suppression list and its campaigns are stopped."
    ),
    "unsubscribed.esp": gettext_lazy(
        "Reported by %(esp)s for “%(subject)s”. Their campaigns are stopped and Mailroom will "
        "not email them again."
    ),
    "complained": gettext_lazy("%(address)s marked “%(subject)s” as spam"),
    "complained.detail": gettext_lazy(
        "Their campaigns are stopped and Mailroom will not email them again. Many complaints "
        "hurt the whole team's delivery."
    ),
    "failed": gettext_lazy("Email to %(address)s failed: %(reason_text)s"),
    "campaign_hold": gettext_lazy("Campaign “%(campaign)s” paused for %(address)s"),
    "campaign_hold.detail": gettext_lazy(
        "The template “%(template)s” cannot be sent: %(reason_text)s Fix the template, then "
        "resume the enrollment."
    ),
    "mailbox_paused.protection": gettext_lazy(
        "Campaigns paused for %(mailbox)s: %(share)s of emails hard-bounced"
    ),
    "mailbox_paused.quota": gettext_lazy("Sending from %(mailbox)s paused until %(until)s"),
    "mailbox_paused.quota_detail": gettext_lazy(
        "%(reason_text)s Mail waits and goes out by itself when the pause ends."
    ),
    "throttled": gettext_lazy(
        "Sending from %(mailbox)s is throttled: the next send window opens at %(opens)s"
    ),
    "throttled.detail": gettext_lazy(
        "%(reason_text)s. Mail waits and goes out by itself; nothing is dropped."
    ),
    "needs_reconnect": gettext_lazy("%(channel_kind)s (%(label)s) needs reconnecting"),
    "needs_reconnect.detail": gettext_lazy(
        "%(error)s\nSending from it is paused; nothing is lost. Reconnect: %(url)s"
    ),
    "domain_check": gettext_lazy("Sending domain %(domain)s changed: %(changes)s"),
}


def feed_text(key: str, **arguments: Any) -> FeedText:
    if key not in FEED_TEXTS:
        raise KeyError(f"No feed text {key!r}")
    return key, arguments


def _render(text: Sequence) -> str:
    key, arguments = text
    shown = {
        name: gettext(value) if name in TRANSLATED_ARGUMENTS and value else value
        for name, value in arguments.items()
    }
    return str(FEED_TEXTS[key]) % shown


def feed_texts_render(*, title: Sequence, detail: Sequence[Sequence] = ()) -> tuple[str, str]:
    """The title and detail in the active language."""
    return _render(title), " ".join(_render(part) for part in detail)


def feed_texts_english(*, title: FeedText, detail: Sequence[FeedText] = ()) -> tuple[str, str]:
    """What an event stores: its words in English, whatever language the writer's request
    was in (a webhook or an unsubscribe page may run in Korean)."""
    with translation.override("en"):
        return feed_texts_render(title=title, detail=detail)


def feed_message(*, title: FeedText, detail: Sequence[FeedText] = ()) -> dict[str, Any]:
    """The event's `message` column: its texts, labels among the arguments in English."""

    def stored(text: FeedText) -> list:
        key, arguments = text
        return [key, {name: _plain(value) for name, value in arguments.items()}]

    with translation.override("en"):
        return {"title": stored(title), "detail": [stored(part) for part in detail]}


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Promise) else value


def feed_event_unsaved(
    *, title: FeedText, detail: Sequence[FeedText] = (), **fields: Any
) -> FeedEvent:
    """An event whose words are texts, not saved (history written with bulk_create)."""
    english_title, english_detail = feed_texts_english(title=title, detail=detail)
    return FeedEvent(
        title=english_title[:500],
        detail=english_detail,
        message=feed_message(title=title, detail=detail),
        **fields,
    )


def feed_event_words(event: FeedEvent) -> tuple[str, str]:
    """The event's title and detail in the active language, else as stored."""
    message = event.message or {}
    try:
        return feed_texts_render(title=message["title"], detail=message.get("detail", ()))
    except (KeyError, TypeError, ValueError):
        return event.title, event.detail


# --- Writes ----------------------------------------------------------------------------------


def feed_event_record(
    *,
    user: User,
    kind: str,
    title: str | FeedText,
    detail: str | Sequence[FeedText] = "",
    outbound_email=None,
    channel=None,
    dedupe_key: str = "",
) -> FeedEvent | None:
    """Add an event to `user`'s live feed. With a dedupe_key, the same event is recorded once
    (a bounce seen twice); returns None when it already existed.

    The title and detail are texts (feed_text(), shown in each reader's language), or plain
    words shown as they are to everyone."""
    message: dict[str, Any] = {}
    if not isinstance(title, str):
        texts = [] if isinstance(detail, str) else list(detail)
        message = feed_message(title=title, detail=texts)
        title, detail = feed_texts_english(title=title, detail=texts)
    assert isinstance(detail, str)
    event = FeedEvent(
        organization_id=user.organization_id,
        user=user,
        kind=kind,
        title=title[:500],
        detail=detail,
        message=message,
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
    "message",
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
    "bounces": (gettext_lazy("Bounces"), (FeedEvent.Kind.BOUNCED,)),
    "replies": (
        gettext_lazy("Replies"),
        (FeedEvent.Kind.REPLIED, FeedEvent.Kind.REMOVAL_REQUESTED),
    ),
    "failures": (gettext_lazy("Failed sends"), (FeedEvent.Kind.FAILED,)),
    "mailboxes": (
        gettext_lazy("Mailboxes and throttling"),
        (
            FeedEvent.Kind.CHANNEL_NEEDS_RECONNECT,
            FeedEvent.Kind.MAILBOX_PAUSED,
            FeedEvent.Kind.THROTTLED,
            FeedEvent.Kind.DOMAIN_CHECK,
        ),
    ),
    "unsubscribes": (
        gettext_lazy("Unsubscribes and complaints"),
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
            person_name(row.prospect_first_name, row.prospect_last_name) or row.to_address
        )
        row.sender_name = (
            person_name(row.sender_first_name, row.sender_last_name) or row.sender_email
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
