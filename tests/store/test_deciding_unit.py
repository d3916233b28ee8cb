"""The unit of deciding writes a decision only on a read that is still true when it is
written (SQLite: read without the write lock, read again under it), as if decisions were made
one at a time; on PostgreSQL it reads and writes in one transaction."""

from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import func, select

from service.app.decisions import record_decision
from service.app.intake import parse_incident
from service.domain.incident import History
from service.domain.principal import Principal
from service.domain.records import StoredDecision
from service.store.database import is_sqlite
from service.store.dbapi import Prepared
from service.store.deciding_unit import DecidingUnit, Lookup, Windows
from service.store.unit_of_work import UnitOfWork
from tests.conftest import design_example


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


def test_a_read_that_still_holds_is_written_at_the_moment_of_the_second_read(store, shipped):
    body = design_example()
    incident = parse_incident(body, shipped.policy)
    caller = agent()
    with DecidingUnit(store, incident, caller.id, windows) as unit:
        lookup = unit.look_up()
        recorded = unit.record(decide(shipped, incident, lookup), lookup, caller, body,
                               "f" * 64)
    assert isinstance(recorded, StoredDecision)
    assert recorded.decided_at >= lookup.moment


def test_an_incident_recorded_meanwhile_is_seen_as_decided(store, shipped):
    body = design_example()
    incident = parse_incident(body, shipped.policy)
    caller = agent()
    with DecidingUnit(store, incident, caller.id, windows) as unit:
        lookup = unit.look_up()
        if not is_sqlite(store.url):
            return  # one transaction: the unique index answers a concurrent insert
        record_decision(store, shipped, caller, body, incident)
        recorded = unit.record(decide(shipped, incident, lookup), lookup, caller, body,
                               "f" * 64)
    assert isinstance(recorded, Lookup) and recorded.known.decided


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
    # SQLite decides again on the read under the lock; PostgreSQL read and wrote in one
    # transaction, before the other decision was committed
    assert histories == ([0, 0, 1] if is_sqlite(store.url) else [0, 0])


def _terminate_pooled_connections(store) -> None:
    """What a server restart does to the pool's idle connections."""
    with store.dbapi_transaction() as work:
        pid = work.rows(Prepared(select(func.pg_backend_pid().label("pid"))), {})[0].pid
    url = store.engine.url.set(drivername="postgresql", query={})
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


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
