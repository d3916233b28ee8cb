"""Stopping a real server (`amends serve`, gunicorn): a request in hand when the master is
told to stop is answered, whichever signal stops it, never cut off by a 500."""

import json
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from service.store.writer_lock import WriterLock
from tests.conftest import auth, design_example
from tests.support.servers import call, kill_group, start_server
from tests.support.sqlite_locks import can_lock, database_locked


def wait_until_writing(database: Path) -> None:
    """Until a worker holds the writer queue: its request is in hand, waiting for the
    database's lock."""
    path = WriterLock(database).path
    deadline = time.monotonic() + 20
    while not (path.exists() and not can_lock(path)):
        assert time.monotonic() < deadline, "the request never reached a worker"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGQUIT], ids=["SIGINT", "SIGQUIT"])
def test_a_request_in_hand_is_answered_when_the_master_is_told_to_quit(tmp_path, sig):
    """SIGINT (Ctrl-C) and SIGQUIT make gunicorn's master stop at once: its workers used to
    raise SystemExit inside the request in hand, answered with a 500 although the decision
    may have been stored. The request finishes as on SIGTERM: its real answer, then the
    worker and the server stop."""
    environment = {"AMENDS_DATA_DIR": str(tmp_path), "AMENDS_DATABASE_URL": "",
                   "DATABASE_URL": "", "AMENDS_DATABASE_TIMEOUT_SECONDS": "10"}
    process, base = start_server(environment, workers=1)
    database = tmp_path / "amends.db"
    body = design_example()
    answers: list = []

    def decide():
        try:
            answers.append(call(base, "/v1/decisions", body, auth(), timeout=60))
        except OSError as error:
            answers.append(error)

    try:
        with database_locked(str(database)):
            sender = threading.Thread(target=decide)
            sender.start()
            wait_until_writing(database)
            process.send_signal(sig)
            time.sleep(1)  # the worker has been told to quit while it waits
        sender.join(60)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            kill_group(process)
    [answer] = answers
    assert not isinstance(answer, OSError), answer
    status, decision = answer
    assert status == 201, decision
    with sqlite3.connect(database) as stored:
        ids = [row[0] for row in stored.execute("SELECT id FROM decisions")]
    assert ids == [decision["decision_id"]]
    log = [json.loads(line) for line in Path(process.log_path).read_text().splitlines()
           if line.strip()]
    assert not [entry for entry in log if entry["level"] == "ERROR"], log
