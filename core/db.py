"""Database helpers shared by the apps' hot paths."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction


@contextmanager
def fast_commits() -> Iterator[None]:
    """While the block runs, its PostgreSQL session commits without waiting for the WAL flush
    (`synchronous_commit = off`). A commit is still atomic and visible to every other worker at
    once, and safe from a crash of the worker the moment it returns; only a crash of the
    database server itself could lose the last ~0.6 s of commits (3 × wal_writer_delay), in
    commit order. Callers say why that is acceptable for what they write; a write that must not
    be lost opts back in for its own transaction (`SET LOCAL synchronous_commit TO ON`, as
    channels_app.tokens does for a refreshed token). Does nothing on SQLite or inside an
    atomic block (the setting would outlive neither correctly)."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")
