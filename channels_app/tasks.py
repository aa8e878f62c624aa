"""Celery tasks of channels_app: thin wrappers around channels_app.push."""

from celery import shared_task

from . import push
from .models import DeliveryChannel


@shared_task(name="channels_app.tasks.channel_push_start", ignore_result=True)
def channel_push_start(channel_id: int) -> bool:
    """Right after a Gmail mailbox connects: start its push notifications."""
    channel = DeliveryChannel.objects.filter(pk=channel_id).first()
    if channel is None:
        return False
    return push.channel_push_start(channel=channel)


@shared_task(name="channels_app.tasks.channels_push_renew_due", ignore_result=True)
def channels_push_renew_due() -> int:
    """Every hour (beat): start missing watches and renew those ending within a day."""
    return push.channels_push_renew_due()
