"""Celery tasks for bounce tracking: thin wrappers around bounces.polling."""

from celery import shared_task

from .polling import mailbox_poll, mailboxes_poll_fan_out


@shared_task(ignore_result=True)
def mailboxes_poll_due() -> int:
    """Every few minutes (beat): one poll task per connected Gmail / Exchange Online mailbox."""
    return mailboxes_poll_fan_out(enqueue=lambda channel_id: mailbox_poll_task.delay(channel_id))


@shared_task(ignore_result=True)
def mailbox_poll_task(channel_id: int, ignore_backoff: bool = False) -> dict:
    """Poll one mailbox. No Celery retry: a failed poll backs off per mailbox and the next
    cycle tries again; a second copy of this task finds the mailbox claimed and returns."""
    report = mailbox_poll(channel_id=channel_id, ignore_backoff=ignore_backoff)
    return {"outcome": report.outcome, "api_calls": report.api_calls}
