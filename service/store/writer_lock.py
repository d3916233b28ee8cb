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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service.store.errors import DatabaseUnavailable


class WriterLock:
    """`held()` waits at most `timeout_seconds` (None: as long as it takes), then raises
    DatabaseUnavailable: a writer that never lets go (a hung process holding the file) must
    give a 503, not a worker killed for its timeout."""

    def __init__(self, database: Path, timeout_seconds: float | None = None):
        self.path = database.with_name(database.name + "-writer.lock")
        self.timeout_seconds = timeout_seconds
        self._local = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid: int | None = None
        self._waiter: _Waiter | None = None
        self._locked: int | None = None  # the file descriptor holding the lock

    @contextmanager
    def held(self, deadline: float | None = None) -> Iterator[None]:
        """Hold the lock in the block; wait for it until `deadline` (time.monotonic()) when
        given, else for `timeout_seconds`."""
        if deadline is None and self.timeout_seconds is not None:
            deadline = time.monotonic() + self.timeout_seconds
        # Threads of this process queue here; re-entry is free.
        if not self._local.acquire(timeout=-1 if deadline is None
                                   else max(0.0, deadline - time.monotonic())):
            raise self._timed_out()
        try:
            if self._depth == 0:
                self._locked = self._lock_file(deadline)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    locked, self._locked = self._locked, None
                    fcntl.flock(locked, fcntl.LOCK_UN)
        finally:
            self._local.release()

    def _lock_file(self, deadline: float | None) -> int:
        """Take the lock; the file descriptor that holds it."""
        fd = self._file()
        if deadline is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: the usual case
            return fd
        except BlockingIOError:
            pass
        if self._waiter is None:
            self._waiter = _Waiter(self.path)
        if not self._waiter.take(deadline):
            raise self._timed_out()
        return self._waiter.fd

    def _timed_out(self) -> DatabaseUnavailable:
        return DatabaseUnavailable(
            f"the SQLite writer queue ({self.path.name}) was held by another writer past "
            f"the database timeout ({self.timeout_seconds} s)")

    def _file(self) -> int:
        # A forked worker must not share its parent's open file: flock belongs to it (nor
        # its waiting thread, which does not exist in the child).
        if self._pid != os.getpid():
            self._fd = _open(self.path)
            self._pid = os.getpid()
            self._waiter = None
        assert self._fd is not None
        return self._fd


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:  # the data folder is not this user's to write
        from service.store.database import StoreError
        raise StoreError(f"cannot open the writers' lock file {path}: "
                         f"{error.strerror or error} (the folder of the database must be "
                         "writable by the user Amends runs as)") from None


class _Waiter:
    """A thread that waits in the kernel's queue (a blocking flock, on a file of its own)
    for the thread that wants the lock, so that that one can stop waiting at its deadline:
    a blocking flock has no timeout, and polling with LOCK_NB would bring back the naps the
    queue avoids. A lock it takes after the wanting thread gave up is let go at once."""

    def __init__(self, path: Path):
        self.fd = _open(path)
        self._changed = threading.Condition()
        self._wanted = False  # a thread of this process is waiting for the lock
        self._taken = False  # the waiter took it, for the wanting thread to collect
        threading.Thread(target=self._run, name="amends-writer-lock", daemon=True).start()

    def take(self, deadline: float) -> bool:
        """Whether the lock was taken for the caller by `deadline`; the caller then holds
        it through `fd`, and unlocks that."""
        with self._changed:
            self._wanted = True
            self._changed.notify_all()
            while not self._taken:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._wanted = False
                    return False
                self._changed.wait(left)
            self._taken = self._wanted = False
            self._changed.notify_all()
            return True

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._taken or not self._wanted:
                    self._changed.wait()
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            with self._changed:
                if self._wanted:
                    self._taken = True  # handed over: the wanting thread unlocks it
                    self._changed.notify_all()
                else:  # the thread that wanted it stopped waiting
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
