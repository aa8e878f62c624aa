"""Outreach's Celery tasks: thin, ids in, safe to run twice."""

import logging

from celery import shared_task

from .imports import prospect_import_fail, prospect_import_process
from .services import campaign_steps_enqueue_due

logger = logging.getLogger(__name__)


@shared_task(name="outreach.tasks.campaign_steps_send_due", ignore_result=True)
def campaign_steps_send_due() -> None:
    """Queue every campaign step that came due (periodic)."""
    batch = 500
    while campaign_steps_enqueue_due(limit=batch) == batch:
        continue


@shared_task(name="outreach.tasks.prospect_import_run", ignore_result=True)
def prospect_import_run(import_id: int) -> None:
    """Read an uploaded CSV of prospects (resumes after the last committed chunk)."""
    try:
        prospect_import_process(import_id=import_id)
    except Exception:
        logger.exception("prospect import %s stopped", import_id)
        prospect_import_fail(
            import_id=import_id,
            reason="The import stopped on an unexpected error; the rows before it are imported "
            "and listed. Upload the rest of the file again.",
        )
        raise
