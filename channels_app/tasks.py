"""Celery tasks of channels_app: thin wrappers around channels_app.push."""

from celery import shared_task

from . import domain_check, push
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


@shared_task(name="channels_app.tasks.channel_domain_check", ignore_result=True)
def channel_domain_check(channel_id: int) -> str:
    """Check one channel's From domain (the settings page asks for it when none is stored)."""
    channel = DeliveryChannel.objects.filter(pk=channel_id).first()
    if channel is None:
        return ""
    check = domain_check.channel_domain_check(channel=channel)
    return check.state if check else ""


@shared_task(name="channels_app.tasks.sending_domains_recheck", ignore_result=True)
def sending_domains_recheck() -> int:
    """Every 6 hours (beat): re-check every connected channel's From domain."""
    return domain_check.sending_domains_recheck()
