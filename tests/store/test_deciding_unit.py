"""The unit of deciding writes a decision only on a read that is still true when it is
written (SQLite: read without the write lock, read again under it), as if decisions were made
one at a time; on PostgreSQL the read and the write are a statement each, in autocommit, as
one READ COMMITTED transaction would see them. Either way the writer queue is let go only
after what the unit did is committed or rolled back, and a connection the server dropped is
replaced, or gives a DatabaseUnavailable, never another error."""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import ExitStack
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from service.app.decisions import record_decision
from service.app.intake import parse_incident
from service.domain.incident import History
from service.domain.principal import Principal
from service.domain.records import StoredDecision
from service.store import clock
from service.store.database import is_sqlite
from service.store.dbapi import Prepared
from service.store.deciding_unit import DecidingUnit, Lookup, Windows
from service.store.errors import DatabaseUnavailable, UniquenessRace
from service.store.unit_of_work import UnitOfWork
from tests.conftest import design_example
from tests.support.driver import driver_transaction, terminate


def windows(moment) -> Windows:
    return Windows(since=moment - timedelta(days=90), day_start=moment - timedelta(hours=1),
                   window_start=moment - timedelta(days=30))


def agent() -> Principal:
    return Principal(f"agent-{uuid.uuid4().hex[:8]}", "agent")


def decide(shipped, incident, lookup: Lookup):
    return shipped.decide(incident, "agent", History(lookup.known.prior_failures,
                                                     lookup.granted))


def test_a_decision_recorded_meanwhile_is_counted_before_anything_is_written(store, shipped):
    customer = f"C-{uuid.uuid4().hex[:12]}"
    body = design_example(customer__id=customer)
    incident = parse_incident(body, shipped.policy)
    caller = agent()
    with DecidingUnit(store, incident, caller.id, windows) as unit:
        first = unit.look_up()
        assert (first.known.prior_failures, first.known.decided) == (0, False)
        if is_sqlite(store.url):  # meanwhile (no lock held yet) the customer fails again
            other = design_example(customer__id=customer)
            record_decision(store, shipped, agent(), other, parse_incident(other,
                                                                           shipped.policy))
        recorded = unit.record(decide(shipped, incident, first), first, caller, body, "f" * 64)
        if is_sqlite(store.url):
            assert isinstance(recorded, Lookup)  # nothing written: decide again on this
            assert recorded.known.prior_failures == 1 and recorded.moment >= first.moment
            again = unit.record(decide(shipped, incident, recorded), recorded, caller, body,
                                "f" * 64)
            assert isinstance(again, StoredDecision)
            assert again.decided_at == recorded.moment
        else:
            assert isinstance(recorded, StoredDecision)
    with UnitOfWork(store) as uow:
        stored = uow.decisions.get(uow.decisions.answered(incident.incident_id).decision_id)
    assert stored is not None and stored.customer_id == customer


def test_a_read_that_still_holds_is_written_at_the_moment_of_the_second_read(fresh_store,
                                                                            shipped,
                                                                            monkeypatch):
    """(On a store of its own: the decision it writes is dated a second ahead, where the
    periods other tests read would find it.)"""
    store = fresh_store
    ticks = iter(range(1, 1000))
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(seconds=next(ticks)))
    body = design_example()
    incident = parse_incident(body, shipped.policy)
    caller = agent()
    with DecidingUnit(store, incident, caller.id, windows) as unit:
        lookup = unit.look_up()
        recorded = unit.record(decide(shipped, incident, lookup), lookup, caller, body,
                               "f" * 64)
    assert isinstance(recorded, StoredDecision)
    # SQLite read again under the lock, a tick later; PostgreSQL wrote on the one read
    later = lookup.moment + timedelta(seconds=1)
    assert recorded.decided_at == (later if is_sqlite(store.url) else lookup.moment)


def test_an_incident_recorded_meanwhile_is_seen_as_decided(store, shipped):
    body = design_example()
    incident = parse_incident(body, shipped.policy)
    caller = agent()
    if not is_sqlite(store.url):  # the unique index answers the insert: a uniqueness race
        with pytest.raises(UniquenessRace), DecidingUnit(store, incident, caller.id,
                                                         windows) as unit:
            lookup = unit.look_up()
            record_decision(store, shipped, caller, body, incident)
            unit.record(decide(shipped, incident, lookup), lookup, caller, body, "f" * 64)
        return
    with DecidingUnit(store, incident, caller.id, windows) as unit:
        lookup = unit.look_up()
        record_decision(store, shipped, caller, body, incident)
        recorded = unit.record(decide(shipped, incident, lookup), lookup, caller, body,
                               "f" * 64)
    assert isinstance(recorded, Lookup) and recorded.known.decided


@pytest.mark.parametrize("fresh_store", ["sqlite"], indirect=True)
def test_the_writer_queue_is_let_go_only_after_a_failed_unit_rolled_back(fresh_store, shipped,
                                                                         monkeypatch):
    """SQLite: the next writer in the queue never meets this unit's transaction."""
    store = fresh_store
    path = store.engine.url.database
    seen_when_let_go = []
    queue = store.writer_queue

    def look(_kind, _error, _traceback):
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails if the unit still holds SQLite's lock
            other.execute("ROLLBACK")
            seen_when_let_go.append("free")
        except sqlite3.OperationalError as error:
            seen_when_let_go.append(str(error))
        finally:
            other.close()

    def watched(deadline):
        stack = ExitStack()
        stack.push(look)  # runs after the queue is let go (pushed first, exits last)
        stack.enter_context(queue(deadline))
        return stack

    monkeypatch.setattr(store, "writer_queue", watched)
    body = design_example()
    incident = parse_incident(body, shipped.policy)
    caller = agent()
    with pytest.raises(RuntimeError), DecidingUnit(store, incident, caller.id,
                                                   windows) as unit:
        lookup = unit.look_up()
        assert isinstance(unit.record(decide(shipped, incident, lookup), lookup, caller,
                                      body, "f" * 64), StoredDecision)
        raise RuntimeError("after the decision was written, before the commit")
    assert seen_when_let_go == ["free"]
    with UnitOfWork(store) as uow:  # and nothing of it was kept
        assert uow.decisions.answered(incident.incident_id) is None


def test_the_application_decides_again_on_what_changed_meanwhile(store, shipped,
                                                                  monkeypatch):
    """record_decision: the history the stored decision was made on is the one read last."""
    customer = f"C-{uuid.uuid4().hex[:12]}"
    body = design_example(customer__id=customer)
    histories = []
    decide_now = type(shipped).decide

    def deciding(active, incident, role, history):
        histories.append(history.prior_failures)
        if len(histories) == 1:  # a decision for the same customer lands while deciding
            other = design_example(customer__id=customer)
            record_decision(store, active, agent(), other, parse_incident(other,
                                                                          active.policy))
        return decide_now(active, incident, role, history)

    monkeypatch.setattr(type(shipped), "decide", deciding)
    recorded = record_decision(store, shipped, agent(), body,
                               parse_incident(body, shipped.policy))
    assert recorded.created
    # SQLite decides again on the read under the lock; PostgreSQL read before the other
    # decision was committed and wrote without reading again (as READ COMMITTED would)
    assert histories == ([0, 0, 1] if is_sqlite(store.url) else [0, 0])


def _terminate_pooled_connections(store) -> None:
    """What a server restart does to the pool's idle connections."""
    with driver_transaction(store) as work:
        pid = work.rows(Prepared(select(func.pg_backend_pid().label("pid"))), {})[0].pid
    terminate(store, pid)


@pytest.mark.parametrize("fresh_store", ["postgresql"], indirect=True)
def test_a_pooled_connection_the_server_dropped_is_replaced_without_an_error(fresh_store,
                                                                              shipped):
    """Deciding does not ask the server first whether a pooled connection still works (a
    round trip): its read finds out, and is made again on a new connection."""
    store = fresh_store
    store.engine.pool.dispose()
    body = design_example()
    _terminate_pooled_connections(store)  # the one idle connection is gone
    recorded = record_decision(store, shipped, agent(), body,
                               parse_incident(body, shipped.policy))
    assert recorded.created
    with UnitOfWork(store) as uow:
        assert uow.decisions.answered(body["incident_id"]) is not None


@pytest.mark.parametrize("fresh_store", ["postgresql"], indirect=True)
def test_other_work_gets_a_checked_connection_after_the_server_dropped_one(fresh_store):
    store = fresh_store
    store.engine.pool.dispose()
    _terminate_pooled_connections(store)
    with UnitOfWork(store) as uow:  # the checkout's check replaced it: no error
        assert uow.decisions.answered("no-such-incident") is None


@pytest.mark.parametrize("fresh_store", ["postgresql"], indirect=True)
def test_a_server_that_drops_new_connections_is_unavailable_not_an_error(fresh_store, shipped):
    """A connection dropped as soon as it is made (a fast shutdown, a failover) is found by
    its first statement: a DatabaseUnavailable (503) for a ping, a unit of work and a
    decision alike."""
    store = fresh_store
    store.engine.pool.dispose()

    def dropped(dbapi_connection, _record):
        terminate(store, dbapi_connection.info.backend_pid)

    event.listen(store.engine, "connect", dropped)
    body = design_example()
    try:
        with pytest.raises(DatabaseUnavailable):
            store.ping()
        with pytest.raises(DatabaseUnavailable), UnitOfWork(store) as uow:
            uow.decisions.answered("no-such-incident")
        with pytest.raises(DatabaseUnavailable):
            record_decision(store, shipped, agent(), body, parse_incident(body,
                                                                          shipped.policy))
    finally:
        event.remove(store.engine, "connect", dropped)
        store.engine.pool.dispose()
