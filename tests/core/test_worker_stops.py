"""`make run` stops cleanly: honcho sends SIGTERM to the worker's whole process group and
SIGKILLs whatever is left after its grace period (5 s). The worker line of the real Procfile,
on the embedded broker, must end by itself with status 0 — no SIGKILL, no orphaned process.

Under the old line (prefork pool, no exec) the pool's children died of the group's SIGTERM
while holding the pool's queue lock, the parent hung at exit and honcho had to kill it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _procfile_line(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line
    raise AssertionError(f"no {name} line in Procfile")


@pytest.mark.worker
def test_make_run_worker_stops_on_sigterm_within_honchos_grace(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text(_procfile_line("worker") + "\n")
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.local",
        CELERY_BROKER_URL="filesystem://",  # make run's embedded broker, whatever CI uses
        MAILROOM_BROKER_DIR=str(tmp_path / "broker"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    honcho = subprocess.Popen(
        [sys.executable, "-m", "honcho", "start", "-f", str(procfile), "-d", str(ROOT)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert honcho.stdout is not None
        for line in honcho.stdout:
            lines.append(line)
            if " ready." in line:
                break
        assert any(" ready." in line for line in lines), "".join(lines)[-3000:]
        time.sleep(1)  # idle in the broker's wait, where a stop used to be late
        honcho.send_signal(signal.SIGINT)  # Ctrl-C in the terminal of make run
        rest, _ = honcho.communicate(timeout=60)
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
    output = "".join(lines) + rest
    assert "sending SIGTERM to worker.1" in output, output[-3000:]
    assert "SIGKILL" not in output, output[-3000:]
    assert "worker.1 stopped (rc=0)" in output, output[-3000:]
