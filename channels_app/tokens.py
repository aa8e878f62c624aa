"""Access tokens for OAuth mailboxes (Gmail, Exchange Online), refreshed before they expire.

Refresh tokens rotate (Microsoft always, Google sometimes), so two workers refreshing the same
mailbox at once could each store a different one and lose the newer: the refresh runs with the
channel row locked (select_for_update), and a worker that waited for the lock uses the token
the other one just stored instead of refreshing again.

A grant that is gone for good (a refused refresh, a revoked consent, an SMTP login the server
now refuses) puts the channel in needs-reconnect here too, so the send pipeline and the poller
reach one module for both."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from analytics.feed import feed_event_record, feed_text
from analytics.models import FeedEvent

from .exceptions import ReconnectRequired
from .models import DeliveryChannel
from .providers import google_oauth, microsoft_oauth

REFRESH_MARGIN = timedelta(minutes=5)
Kind = DeliveryChannel.Kind


def _is_fresh(channel: DeliveryChannel) -> bool:
    return bool(
        channel.access_token
        and channel.token_expires_at is not None
        and channel.token_expires_at > timezone.now() + REFRESH_MARGIN
    )


def _refresh(channel: DeliveryChannel) -> google_oauth.RefreshedToken:
    if channel.kind == Kind.GMAIL:
        return google_oauth.refresh(refresh_token=channel.refresh_token)
    return microsoft_oauth.refresh(
        refresh_token=channel.refresh_token, scopes=channel.scopes.split() or None
    )


def _reconnect_required(channel: DeliveryChannel) -> ReconnectRequired:
    return ReconnectRequired(
        channel.last_error or f"Reconnect {channel.get_kind_display()} to resume sending."
    )


def _commit_durably() -> None:
    """This transaction's commit waits for the disk flush even inside a drain or a poll batch
    that commits fast (`synchronous_commit = off`): providers rotate refresh tokens and refuse
    the old one, so a refreshed token lost to a database crash would force a reconnect."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO ON")


def channel_access_token(*, channel: DeliveryChannel, force_refresh: bool = False) -> str:
    """A valid access token for a Gmail or Exchange Online channel.

    Refreshes when the token expires within REFRESH_MARGIN, or when `force_refresh` (the
    provider just answered 401). Raises ReconnectRequired when the grant is gone for good (and
    puts the channel in needs-reconnect, telling the rep), TransientProviderError when the
    provider cannot be reached. `channel` is updated in place with the stored token."""
    if channel.kind not in DeliveryChannel.POLLED_KINDS:
        raise ValueError(f"{channel.get_kind_display()} channels have no OAuth access token")
    if channel.status == DeliveryChannel.Status.NEEDS_RECONNECT:
        raise _reconnect_required(channel)
    if not force_refresh and _is_fresh(channel):
        return channel.access_token
    token_seen = channel.access_token

    failure: ReconnectRequired | None = None
    with transaction.atomic():
        locked = DeliveryChannel.objects.select_for_update().get(pk=channel.pk)
        another_worker_refreshed = locked.access_token != token_seen and _is_fresh(locked)
        if locked.status == DeliveryChannel.Status.NEEDS_RECONNECT:
            failure = _reconnect_required(locked)
        elif not another_worker_refreshed and (force_refresh or not _is_fresh(locked)):
            if not locked.refresh_token:
                failure = ReconnectRequired(
                    f"Mailroom holds no refresh token for this {locked.get_kind_display()} "
                    "mailbox. Reconnect it to resume sending."
                )
            else:
                try:
                    refreshed = _refresh(locked)
                except ReconnectRequired as exc:
                    failure = exc
                else:
                    locked.access_token = refreshed.access_token
                    locked.token_expires_at = refreshed.expires_at
                    fields = ["access_token", "token_expires_at", "updated_at"]
                    if refreshed.refresh_token:
                        locked.refresh_token = refreshed.refresh_token
                        fields.append("refresh_token")
                    _commit_durably()
                    locked.save(update_fields=fields)
    if failure is not None:
        channel_mark_needs_reconnect(channel=channel, reason=failure.reason)
        raise failure
    channel.access_token = locked.access_token
    channel.refresh_token = locked.refresh_token
    channel.token_expires_at = locked.token_expires_at
    return channel.access_token


# --- needs reconnect --------------------------------------------------------------------------


def channel_reconnect_url(*, channel: DeliveryChannel) -> str:
    return reverse("channel_reconnect", args=[channel.pk])


def _owner_or_admins(channel: DeliveryChannel) -> list[User]:
    if channel.owner_id is not None:
        return [channel.owner]
    return list(
        User.objects.filter(
            organization_id=channel.organization_id, role=User.Role.ADMIN, is_active=True
        )
    )


def channel_mark_needs_reconnect(*, channel: DeliveryChannel, reason: str) -> None:
    """The grant or the credentials are gone for good: sending from the channel pauses (its
    mail waits), the owner sees a banner and a live-feed event with a Reconnect link. An
    organization channel (team SMTP) tells the organization's admins. Idempotent: calling it
    again for the same connection changes nothing and records no second event."""
    with transaction.atomic():
        locked = (
            DeliveryChannel.objects.select_for_update(of=("self",))
            .select_related("owner")
            .filter(pk=channel.pk)
            .first()
        )
        if locked is None or locked.status == DeliveryChannel.Status.DISCONNECTED:
            return
        if locked.status != DeliveryChannel.Status.NEEDS_RECONNECT:
            locked.status = DeliveryChannel.Status.NEEDS_RECONNECT
            locked.last_error = reason[:1000]
            locked.full_clean(validate_constraints=False)
            locked.save(update_fields=["status", "last_error", "updated_at"])
        connected_at = locked.connected_at or locked.created_at
        dedupe_key = f"channel:{locked.pk}:needs_reconnect:{connected_at.timestamp():.0f}"
        url = channel_reconnect_url(channel=locked)
        label = locked.mailbox_address or locked.host or str(locked.get_kind_display())
        told = set(
            FeedEvent.objects.filter(dedupe_key=dedupe_key).values_list("user_id", flat=True)
        )
        for user in _owner_or_admins(locked):
            if user.pk in told:
                continue
            feed_event_record(
                user=user,
                kind="channel_needs_reconnect",
                title=feed_text(
                    "needs_reconnect", channel_kind=locked.get_kind_display(), label=label
                ),
                detail=[feed_text("needs_reconnect.detail", error=locked.last_error, url=url)],
                channel=locked,
                dedupe_key=dedupe_key,
            )
    channel.status = locked.status
    channel.last_error = locked.last_error
