"""The SQLite writer queue: one holder at a time across processes and threads, re-entrant."""

import multiprocessing
import os
import threading
import time

from service.store.writer_lock import WriterLock
from tests.support.sqlite_locks import can_lock


def _hold_repeatedly(lock: WriterLock, log: str, times: int) -> None:
    for _ in range(times):
        with lock.held():
            with open(log, "a") as out:
                out.write(f"start {os.getpid()}\n")
            time.sleep(0.002)
            with open(log, "a") as out:
                out.write(f"end {os.getpid()}\n")


def _assert_never_overlapping(lines: list[str], expected_pairs: int) -> None:
    assert len(lines) == 2 * expected_pairs
    for start, end in zip(lines[::2], lines[1::2], strict=True):
        assert start.split()[0] == "start" and end.split()[0] == "end"
        assert start.split()[1] == end.split()[1], "another holder entered before the end"


def test_forked_workers_take_turns_even_when_the_parent_held_the_lock(tmp_path):
    lock = WriterLock(tmp_path / "amends.db")
    with lock.held():  # the parent opened its lock file before forking, as a preloaded app
        pass
    log = str(tmp_path / "log")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_hold_repeatedly, args=(lock, log, 15)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    with open(log) as lines:
        _assert_never_overlapping(lines.read().splitlines(), 45)


def test_threads_of_one_process_take_turns(tmp_path):
    lock = WriterLock(tmp_path / "amends.db")
    inside, overlaps = [], []

    def work():
        for _ in range(50):
            with lock.held():
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(len(inside))
                time.sleep(0.0002)
                inside.pop()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []


def test_re_entry_keeps_the_lock_until_the_outer_block_ends(tmp_path):
    lock = WriterLock(tmp_path / "amends.db")
    with lock.held():
        with lock.held():
            assert not can_lock(lock.path)
        assert not can_lock(lock.path), "the inner block released the outer one's lock"
    assert can_lock(lock.path)


def test_the_lock_is_released_when_the_block_raises(tmp_path):
    lock = WriterLock(tmp_path / "amends.db")
    try:
        with lock.held():
            raise ValueError("a failed transaction")
    except ValueError:
        pass
    assert can_lock(lock.path)
