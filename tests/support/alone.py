"""Tests marked `alone` run while no other test does, when the suite runs in several
processes (pytest-xdist, as `./dev test` does): they hold a bound on time (a 503 within the
database timeout, a second instance following within its poll interval), and a test beside
them loading the machine's cores would make them fail for no fault of the service.

The run's first process makes a folder for two lock files and names it in the environment,
which the test processes it starts inherit. Every other test holds a shared lock on the
`room` file while it runs (set-up, call and tear-down), an `alone` test an exclusive one. The
`turnstile` file keeps them fair: an `alone` test waiting for the room holds the turnstile,
so tests that would take a shared lock after it wait their turn instead of keeping it out
for the rest of the run. With no folder named, nothing is locked.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

MARKER = "alone: runs while no other test does (it holds a bound on time)"
_FOLDER = "AMENDS_TEST_LOCKS"
_opened: dict[str, tuple[int, int]] = {}


def start_run(config: pytest.Config) -> None:
    """In the run's first process (not a test process xdist started): make the folder."""
    if hasattr(config, "workerinput") or _FOLDER in os.environ:
        return
    os.environ[_FOLDER] = tempfile.mkdtemp(prefix="amends-test-locks-")
    config.add_cleanup(_end_run)


def _end_run() -> None:
    shutil.rmtree(os.environ.pop(_FOLDER), ignore_errors=True)


def _files(folder: str) -> tuple[int, int]:
    if folder not in _opened:
        turnstile, room = (os.open(Path(folder) / f"{name}.lock",
                                   os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                           for name in ("turnstile", "room"))
        _opened[folder] = (turnstile, room)
    return _opened[folder]


@contextmanager
def turn(item: pytest.Item) -> Iterator[None]:
    """Hold the run's room for `item`: alone when it is marked `alone`."""
    folder = os.environ.get(_FOLDER)
    if folder is None:
        yield
        return
    turnstile, room = _files(folder)
    if item.get_closest_marker("alone"):
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(room, fcntl.LOCK_EX)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
    else:
        fcntl.flock(turnstile, fcntl.LOCK_EX)  # in line behind an `alone` test waiting
        fcntl.flock(turnstile, fcntl.LOCK_UN)
        fcntl.flock(room, fcntl.LOCK_SH)
    try:
        yield
    finally:
        fcntl.flock(room, fcntl.LOCK_UN)
