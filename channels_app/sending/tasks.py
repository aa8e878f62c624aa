"""Celery tasks of the send pipeline: thin, idempotent, ids in. Per-email retries are not
Celery retries: they live on the email (`next_attempt_at`), so a restart loses none and a
mailbox's queue order and limits still apply to them."""

from celery import shared_task
from django.utils import timezone

from . import services
from .limits import send_slots_prune as _send_slots_prune

# Waits this short (Gmail's 2 per second) are slept through inside the task.
INLINE_WAIT_SECONDS = 1.5


@shared_task(name="channels_app.sending.tasks.channel_drain", ignore_result=True)
def channel_drain(channel_id: int) -> None:
    """Send what is due in one mailbox's queue, then make sure it wakes up again when needed."""
    result = services.channel_drain(channel_id=channel_id, inline_wait=INLINE_WAIT_SECONDS)
    for other_id in result.moved_to:
        services.channel_queue_kick(channel_id=other_id)
    if result.more:
        services.channel_queue_kick(channel_id=channel_id)
    elif result.next_run_at is not None:
        services.channel_queue_schedule(channel_id=channel_id, at=result.next_run_at)


@shared_task(name="channels_app.sending.tasks.sending_dispatch", ignore_result=True)
def sending_dispatch() -> None:
    """Periodic safety net: re-queue emails of dead workers, wake every queue with due mail."""
    services.sending_dispatch(now=timezone.now())


@shared_task(name="channels_app.sending.tasks.send_slots_prune", ignore_result=True)
def send_slots_prune() -> None:
    _send_slots_prune(now=timezone.now())
