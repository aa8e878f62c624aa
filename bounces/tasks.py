"""Celery tasks for bounce tracking: thin wrappers around bounces.polling.

Task names are pinned (`name=`) to the strings they were first deployed under, so tasks
already queued, and django-celery-beat's periodic entries, survive a rename or a move."""

from celery import shared_task
from django.db import DatabaseError

from . import polling, services, webhooks


@shared_task(name="bounces.tasks.mailboxes_poll_due", ignore_result=True)
def channels_poll_due() -> int:
    """Every few minutes (beat): one poll task per batch of connected Gmail / Exchange Online
    mailboxes (a task per mailbox would cost more than an idle poll itself)."""
    return polling.channels_poll_fan_out(enqueue=channels_poll.delay)


@shared_task(name="bounces.tasks.mailboxes_poll_task", ignore_result=True)
def channels_poll(channel_ids: list[int]) -> dict:
    """Poll a batch of mailboxes one after the other; those not started within the batch's
    time budget go back to the queue as a new task. No Celery retry: a failed poll backs off
    per mailbox and the next cycle tries again; a mailbox another task is polling is skipped."""
    result = polling.channels_poll(channel_ids=channel_ids)
    if result.not_started:
        channels_poll.delay(result.not_started)
    outcomes: dict[str, int] = {}
    for report in result.reports:
        outcomes[report.outcome] = outcomes.get(report.outcome, 0) + 1
    return {"outcomes": outcomes, "handed_on": len(result.not_started)}


@shared_task(name="bounces.tasks.mailbox_poll_task", ignore_result=True)
def channel_poll(channel_id: int, ignore_backoff: bool = False) -> dict:
    """Poll one mailbox now ("Poll now" in the admin and on the bounces page). No Celery retry:
    a failed poll backs off per mailbox and the next cycle tries again; a second copy of this
    task finds the mailbox claimed and returns."""
    report = polling.channel_poll(channel_id=channel_id, ignore_backoff=ignore_backoff)
    return {"outcome": report.outcome, "api_calls": report.api_calls}


@shared_task(
    name="bounces.tasks.channel_poll_pushed",
    bind=True,
    ignore_result=True,
    max_retries=5,
)
def channel_poll_pushed(self, channel_id: int) -> dict:
    """The sync a Gmail push or Graph notification asked for. A mailbox another poll holds is
    tried again shortly: that poll may have read before the change."""
    report = polling.channel_poll_pushed(channel_id=channel_id)
    if report.outcome == "busy":
        raise self.retry(countdown=2)
    return {"outcome": report.outcome, "api_calls": report.api_calls}


@shared_task(
    name="bounces.tasks.channel_protection_check",
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=20,
)
def channel_protection_check(channel_id: int) -> bool:
    """Mailbox protection, tried again apart from the bounce that called for it (the bounce is
    already committed): pause the mailbox's campaigns if its hard-bounce rate says so."""
    return services.channel_protection_check(channel_id=channel_id)


@shared_task(name="bounces.tasks.esp_events_retry_due", ignore_result=True)
def esp_events_retry_due() -> int:
    """Every minute (beat): ESP webhook events that failed to process, tried again."""
    return webhooks.esp_events_retry_due()
