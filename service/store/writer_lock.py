"""One SQLite writer at a time, queued by the kernel.

Every Amends transaction on SQLite takes the write lock (BEGIN IMMEDIATE). When writers
collide, SQLite's busy handler makes the loser sleep and retry, up to 100 ms a nap, which
under load gives long tails and idle cores. Taking an exclusive `flock` on a file beside the
database first makes writers wait in line instead and wake as soon as it is their turn.
SQLite's own locking still guards against any process that does not take this lock.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriterLock:
    def __init__(self, database: Path):
        self.path = database.with_name(database.name + "-writer.lock")
        self._local = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._local:  # threads of this process queue here; re-entry is free
            if self._depth == 0:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(self._file(), fcntl.LOCK_UN)

    def _file(self) -> int:
        # A forked worker must not share its parent's open file: flock belongs to it.
        if self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        assert self._fd is not None
        return self._fd
