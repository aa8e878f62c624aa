"""A real Celery worker process, on the configured broker (the filesystem broker by default,
Redis in CI), runs a task queued by another process, end to end into the database."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from core.models import WorkerHeartbeat

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_process_runs_a_queued_task(tmp_path):
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        CELERY_TASK_ALWAYS_EAGER="0",
        DATABASE_URL=_database_url(),
        MAILROOM_BROKER_DIR=str(tmp_path / "broker"),
    )
    queue = f"worker-test-{os.getpid()}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup();"
                "from core.tasks import worker_heartbeat;"
                f"worker_heartbeat.apply_async(queue={queue!r})",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=60,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not WorkerHeartbeat.objects.exists():
            time.sleep(0.25)
        heartbeat = WorkerHeartbeat.objects.first()
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert heartbeat is not None, output[-3000:]
    assert heartbeat.hostname.startswith(queue)


@pytest.mark.django_db(transaction=True)
def test_tasks_keep_a_healthy_database_connection_and_drop_an_obsolete_one():
    """Workers reuse their connection across tasks (no new PostgreSQL connection per task) but
    drop one past CONN_MAX_AGE, like Django around a request; eager tasks are left alone."""
    from types import SimpleNamespace

    from config.celery import app, close_old_db_connections

    assert app.conf.db_reuse_max  # Celery's own close-around-every-task is off
    task = SimpleNamespace(request=SimpleNamespace(is_eager=False))
    connection.ensure_connection()
    kept = connection.connection
    connection.close_at = None  # as with CONN_MAX_AGE = None

    close_old_db_connections(task=task)
    assert connection.connection is kept

    connection.close_at = time.monotonic() - 1  # past CONN_MAX_AGE
    close_old_db_connections(task=task)
    assert connection.connection is None

    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1
    close_old_db_connections(task=SimpleNamespace(request=SimpleNamespace(is_eager=True)))
    assert connection.connection is not None
