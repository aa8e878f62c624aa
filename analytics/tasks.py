from celery import shared_task

from .services import analytics_refresh_all


@shared_task(name="analytics.tasks.analytics_refresh_rollups", ignore_result=True)
def analytics_refresh_rollups() -> int:
    """Absorb queued changes into the analytics rollups, so pages rarely have work to do."""
    return analytics_refresh_all()
