"""Bounce tracking's settings, typed, in one place: read from Django's settings (every value is
defined, with its default and its environment variable, in config/settings/base.py) once, and
read again only when a setting changes (a test's `settings` fixture, `override_settings`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@dataclass(frozen=True)
class BounceSettings:
    # Mailbox protection: campaigns pause past this hard-bounce rate over the window, once the
    # mailbox sent at least protection_min_sent.
    protection_rate: float
    protection_min_sent: int
    protection_window: timedelta
    # Correlation by recipient and time: how far back a bounce looks for the email it reports.
    match_window: timedelta
    # Polling: mailboxes per poll task, and its time budget before it hands the rest on.
    poll_batch_size: int
    poll_batch_seconds: float
    # How far back a first sync or an expired cursor re-scans.
    poll_rescan_days: int
    # A mailbox whose push notifications are live is polled this rarely (the safety net).
    push_safety_poll: timedelta


@cache
def bounce_settings() -> BounceSettings:
    return BounceSettings(
        protection_rate=settings.MAILROOM_MAILBOX_PROTECTION_RATE,
        protection_min_sent=settings.MAILROOM_MAILBOX_PROTECTION_MIN_SENT,
        protection_window=timedelta(hours=24),
        match_window=timedelta(days=settings.MAILROOM_BOUNCE_MATCH_WINDOW_DAYS),
        poll_batch_size=max(1, settings.MAILROOM_POLL_BATCH_SIZE),
        poll_batch_seconds=settings.MAILROOM_POLL_BATCH_SECONDS,
        poll_rescan_days=settings.MAILROOM_POLL_RESCAN_DAYS,
        push_safety_poll=timedelta(seconds=settings.MAILROOM_PUSH_SAFETY_POLL_SECONDS),
    )


@receiver(setting_changed)
def _reread(*, setting: str, **kwargs) -> None:
    if setting.startswith("MAILROOM_"):
        bounce_settings.cache_clear()
