"""SQLite's two locks held as another process would hold them: the database's own (a
connection's BEGIN EXCLUSIVE) and the writer queue's file (service.store.writer_lock)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service.store.writer_lock import WriterLock


@contextmanager
def database_locked(database: str) -> Iterator[None]:
    """The database file locked by a connection of its own in an exclusive transaction."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.rollback()
        holder.close()


@contextmanager
def writer_queue_held(database: str, for_seconds: float | None = None) -> Iterator[Path]:
    """The writer queue's file locked (flock) by an open file of its own; let go after
    `for_seconds` when given. Gives the file's path."""
    path = WriterLock(Path(database)).path
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    timer = None
    if for_seconds is not None:
        timer = threading.Timer(for_seconds, fcntl.flock, (fd, fcntl.LOCK_UN))
        timer.start()
    try:
        yield path
    finally:
        if timer is not None:
            timer.join()
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def can_lock(path: str | Path) -> bool:
    """Whether the file at `path` could be locked (flock) now; it is not kept locked."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
