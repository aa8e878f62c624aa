"""Celery application: configuration comes from Django settings under the CELERY_ namespace."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("mailroom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_db_connections(task=None, **kwargs) -> None:
    """Around each task, what Django does around each request: a connection that broke, or is
    older than CONN_MAX_AGE, is closed (CELERY_DB_REUSE_MAX stops Celery closing every one).
    Eager tasks run inside their caller's transaction and are left alone."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
