"""Outreach's Celery tasks: thin, ids in, safe to run twice."""

from celery import shared_task

from .services import campaign_steps_enqueue_due


@shared_task(name="outreach.tasks.campaign_steps_send_due", ignore_result=True)
def campaign_steps_send_due() -> None:
    """Queue every campaign step that came due (periodic)."""
    batch = 500
    while campaign_steps_enqueue_due(limit=batch) == batch:
        continue
