"""Celery tasks of the send pipeline: thin, idempotent, ids in. Per-email retries are not
Celery retries: they live on the email (`next_attempt_at`), so a restart loses none and a
mailbox's queue order and limits still apply to them."""

import contextlib

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from . import services
from .limits import send_slots_prune as _send_slots_prune

# Waits this short (Gmail's 2 per second) are slept through inside the task.
INLINE_WAIT_SECONDS = 1.5
# A failed drain goes straight back to the broker (any worker may take it), then waits 1, 2,
# 4 … up to 30 seconds between tries while the failure lasts.
HAND_BACK_MAX_COUNTDOWN = 30
HAND_BACK_MAX_RETRIES = 40


@shared_task(
    bind=True,
    name="channels_app.sending.tasks.channel_drain",
    ignore_result=True,
    max_retries=HAND_BACK_MAX_RETRIES,
)
def channel_drain(self, channel_id: int) -> None:
    """Send what is due in one mailbox's queue, then make sure it wakes up again when needed.

    A drain that fails (its worker cannot reach the database, say) hands the mailbox back at
    once instead of holding it until its kick goes stale: the kick is released when the
    database answers, and the drain goes back to the broker for another worker."""
    try:
        result = services.channel_drain(channel_id=channel_id, inline_wait=INLINE_WAIT_SECONDS)
    except Exception as error:
        # Without the database here, the retry below still hands the mailbox on.
        with contextlib.suppress(DatabaseError):
            services.channel_drain_hand_back(channel_id=channel_id)
        retries = self.request.retries
        countdown = 0 if retries == 0 else min(2 ** (retries - 1), HAND_BACK_MAX_COUNTDOWN)
        raise self.retry(exc=error, countdown=countdown) from error
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
