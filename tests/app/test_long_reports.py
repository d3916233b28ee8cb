"""A report's reads are bounded by the report's own deadline (over the API, before the worker
timeout; on the command line none), not by the database timeout: a report longer than the
timeout answers, and one that runs past its deadline, even inside one statement, stops
there and is Invalid naming `since` (a 422), never DatabaseUnavailable (a 503). SQLite and
PostgreSQL.

A report is made slow by stalling its transaction (`stalling`): pg_sleep on PostgreSQL; on
SQLite a statement that counts until a moment, its every row a step of SQLite's machine."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from service.app.errors import Invalid
from service.app.reports import failure_report_of, outcome_report_of
from service.domain.reports import Grouping
from service.store.database import UNBOUNDED, Store
from service.store.errors import DatabaseUnavailable, OutOfTime
from service.store.report_queries import ReportQueries
from service.store.unit_of_work import UnitOfWork
from tests.conftest import store_timing_out

# Each test waits out a deadline or a stall (seconds): outside the fast loop, and alone, so
# that a busy machine does not move the moments measured.
pytestmark = [pytest.mark.slow, pytest.mark.alone]

TIMEOUT = 0.3  # the database timeout of the stores here: every report below outlasts it
MARGIN = 0.5  # scheduling, a slow machine
SINCE = datetime(2900, 1, 1, tzinfo=UTC)  # a period of no decisions: the stall is the work
UNTIL = SINCE + timedelta(days=30)


def stall(connection, seconds: float) -> None:
    """One statement, in the transaction of `connection`, that runs `seconds`."""
    if connection.dialect.name == "sqlite":
        connection.connection.dbapi_connection.create_function(
            "amends_test_clock", 0, time.monotonic)
        connection.exec_driver_sql(
            "WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c "
            "WHERE amends_test_clock() < ?) SELECT count(*) FROM c",
            (time.monotonic() + seconds,)).scalar()
    else:
        connection.exec_driver_sql("SELECT pg_sleep(%s)", (seconds,)).scalar()


def stalling(monkeypatch, seconds: float) -> None:
    """Every tally (outcome_tallies) and list of who had the most incidents (most_incidents)
    of a report first stalls its transaction `seconds`: single statements, as the tallies
    that took 12-25 s on a large SQLite were."""
    for name in ("outcome_tallies", "most_incidents"):
        original = getattr(ReportQueries, name)

        def stalled(self, *args, _original=original, **kwargs):
            stall(self._connection, seconds)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(ReportQueries, name, stalled)


def statement_timeout(connection) -> str:
    """PostgreSQL's statement_timeout of the session now, in milliseconds."""
    return connection.exec_driver_sql(
        "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'").scalar()


@pytest.fixture(params=["sqlite", "postgresql"])
def short_store(request, tmp_path_factory):
    """A store of its own on each database whose database timeout is TIMEOUT."""
    store = store_timing_out(request.param, tmp_path_factory, request, TIMEOUT)
    yield store
    store.engine.dispose()


def on_postgresql(store: Store) -> bool:
    return not store.url.startswith("sqlite")


REPORTS = {
    **{f"outcomes by {by.value}": (lambda store, deadline, by=by: outcome_report_of(
        store, by, SINCE, UNTIL, deadline)) for by in Grouping},
    "failures": lambda store, deadline: failure_report_of(store, SINCE, UNTIL,
                                                          deadline=deadline),
}


@pytest.mark.parametrize("name", REPORTS)
def test_a_report_whose_deadline_has_passed_is_invalid_naming_since(short_store, name):
    """Each report, the tallies of a single statement included, not only the ones that check
    the time between batches."""
    with pytest.raises(Invalid) as refused:
        REPORTS[name](short_store, time.monotonic() - 0.01)
    assert "choose a shorter period" in refused.value.errors["since"][0]


@pytest.mark.parametrize("name", ["outcomes by remedy", "outcomes by version", "failures"])
def test_a_statement_still_running_at_the_deadline_stops_there_and_is_invalid(
        short_store, monkeypatch, name):
    stalling(monkeypatch, 3.0)
    deadline = time.monotonic() + 0.6
    with pytest.raises(Invalid) as refused:
        REPORTS[name](short_store, deadline)
    assert "choose a shorter period" in refused.value.errors["since"][0]
    assert time.monotonic() < deadline + MARGIN


@pytest.mark.parametrize("deadline", [10.0, None], ids=["api", "command-line"])
@pytest.mark.parametrize("name", ["outcomes by outlook", "outcomes by rule", "failures"])
def test_a_report_may_take_longer_than_the_database_timeout(short_store, monkeypatch, name,
                                                            deadline):
    """Its statements, each longer than the database timeout and its grace, and all of them
    together, run to the report's deadline (over the API) or to their end (none)."""
    stalling(monkeypatch, TIMEOUT + 0.6)
    started = time.monotonic()
    report = REPORTS[name](short_store, None if deadline is None else started + deadline)
    assert report is not None
    assert time.monotonic() - started > TIMEOUT + 0.6


def test_a_long_read_on_postgresql_runs_with_the_statement_timeout_of_its_deadline(
        short_store):
    """SET LOCAL: the time left to the read, 0 (none) without a deadline; the session's own
    (the database timeout) again in the next transaction."""
    if not on_postgresql(short_store):
        pytest.skip("PostgreSQL's statement_timeout")
    with UnitOfWork(short_store, snapshot=True, reading=True,
                    until=time.monotonic() + 5) as uow:
        assert 4000 < int(statement_timeout(uow._connection)) <= 5000
    with UnitOfWork(short_store, snapshot=True, reading=True, until=UNBOUNDED) as uow:
        assert statement_timeout(uow._connection) == "0"
    for unit in (UnitOfWork(short_store), UnitOfWork(short_store, snapshot=True, reading=True)):
        with unit as uow:
            assert statement_timeout(uow._connection) == str(round(TIMEOUT * 1000))


def test_reports_read_with_the_statement_timeout_of_their_deadline(short_store, monkeypatch):
    if not on_postgresql(short_store):
        pytest.skip("PostgreSQL's statement_timeout")
    seen = []
    monkeypatch.setattr(ReportQueries, "most_incidents",
                        lambda self, *_: seen.append(statement_timeout(self._connection)) or [])
    failure_report_of(short_store, SINCE, UNTIL, deadline=time.monotonic() + 20)
    failure_report_of(short_store, SINCE, UNTIL)  # the command line's: no deadline
    assert len(seen) == 4 and all(15_000 < int(ms) <= 20_000 for ms in seen[:2])
    assert seen[2:] == ["0", "0"]


def test_the_deadline_bounds_the_whole_read_not_each_statement(short_store):
    """A statement begun late in the read stops at the read's deadline, not the time left
    when the read began: on PostgreSQL the client cancels it (and keeps the connection,
    which answers the next transaction); on SQLite the progress handler stops it."""
    until = time.monotonic() + 1.0
    with pytest.raises(OutOfTime), UnitOfWork(short_store, snapshot=True, reading=True,
                                              until=until) as uow:
        raw = uow._connection.connection.dbapi_connection
        uow._connection.exec_driver_sql("SELECT 1")
        time.sleep(0.7)
        stall(uow._connection, 5.0)
    assert until <= time.monotonic() < until + MARGIN
    if on_postgresql(short_store):
        assert not raw.closed
    with short_store.connection() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1


def test_a_long_read_past_its_deadline_is_out_of_time_but_a_timeout_is_still_unavailable(
        short_store):
    """What stops at a long read's deadline is OutOfTime; an ordinary transaction past the
    database timeout stays DatabaseUnavailable (on PostgreSQL; SQLite bounds no SELECT)."""
    with pytest.raises(OutOfTime), UnitOfWork(short_store, snapshot=True, reading=True,
                                              until=time.monotonic() + 0.3) as uow:
        stall(uow._connection, 3.0)
    if on_postgresql(short_store):
        with pytest.raises(DatabaseUnavailable), short_store.connection() as connection:
            stall(connection, 3.0)


def test_sqlite_s_progress_handler_is_gone_after_a_long_read(short_store):
    """Pooled connections are reused: an ordinary read after a long one, on the same
    connection and past the long one's deadline, is not interrupted (whether the long one
    ended in time or was stopped)."""
    if on_postgresql(short_store):
        pytest.skip("SQLite's progress handler")
    with UnitOfWork(short_store, snapshot=True, reading=True,
                    until=time.monotonic() + 0.3) as uow:
        first = uow._connection.connection.dbapi_connection
        uow._connection.exec_driver_sql("SELECT count(*) FROM decisions").scalar()
    with pytest.raises(OutOfTime), UnitOfWork(short_store, snapshot=True, reading=True,
                                              until=time.monotonic() + 0.3) as uow:
        assert uow._connection.connection.dbapi_connection is first
        stall(uow._connection, 3.0)
    time.sleep(0.1)  # both deadlines passed
    for unit in (UnitOfWork(short_store), UnitOfWork(short_store, snapshot=True,
                                                     reading=True)):
        with unit as uow:
            assert uow._connection.connection.dbapi_connection is first
            stall(uow._connection, 0.2)  # would be "interrupted" at once
