from celery import shared_task

from .services import worker_heartbeat_record


@shared_task(name="core.tasks.worker_heartbeat", bind=True, ignore_result=True)
def worker_heartbeat(self) -> None:
    worker_heartbeat_record(hostname=self.request.hostname or "unknown")
