"""The embedded broker (kombu's filesystem transport, config/broker.py) never hands a worker a
message that is still being written, and a message file it cannot read is kept aside with the
reason logged instead of crashing the worker.

kombu writes a message straight under its final name: a worker listing the folder between the
producer's open() and write() took the file and read it empty, and the JSONDecodeError ended
the worker (and with it the whole of `make run`)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection
from kombu.transport import filesystem


def _connection(folder: Path) -> Connection:
    (folder / "processed").mkdir(exist_ok=True)
    return Connection(
        transport="config.broker:Transport",
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
        },
    )


def _take(channel, *, within: float = 10.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            return channel._get("jobs")
        except Empty:
            time.sleep(0.01)
    raise AssertionError("no message arrived")


def test_a_message_being_written_is_not_taken_half_written(tmp_path, monkeypatch):
    # A producer held up between creating the file and writing it (a busy disk): kombu's
    # writer takes its lock there, so the lock is where the wait is put.
    writing = threading.Event()
    real_lock = filesystem.lock

    def slow_lock(file, flags):
        writing.set()
        time.sleep(0.3)
        return real_lock(file, flags)

    monkeypatch.setattr(filesystem, "lock", slow_lock)
    with _connection(tmp_path) as producer, _connection(tmp_path) as consumer:
        writer = threading.Thread(
            target=producer.default_channel._put, args=("jobs", {"n": 1, "body": "hello"})
        )
        writer.start()
        writing.wait(5)
        taken = _take(consumer.default_channel)
        writer.join()
    assert taken == {"n": 1, "body": "hello"}


def test_an_unreadable_message_file_is_kept_aside_and_the_next_one_delivered(tmp_path, caplog):
    (tmp_path / "1_broken.jobs.msg").write_bytes(b'{"n": 1, "bo')
    with _connection(tmp_path) as connection:
        channel = connection.default_channel
        channel._put("jobs", {"n": 2})
        assert _take(channel) == {"n": 2}
        with pytest.raises(Empty):
            channel._get("jobs")
    kept = list((tmp_path.parent / f"{tmp_path.name}-unreadable").iterdir())
    assert [path.read_bytes() for path in kept] == [b'{"n": 1, "bo']
    assert "1_broken.jobs.msg" in caplog.text
