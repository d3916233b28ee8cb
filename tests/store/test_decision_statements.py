"""Deciding reads once and writes once, on the driver's connection (SQLite and PostgreSQL):
the lookup before deciding reads what `known` and the running totals read apart, and a
decision and its offers stored by one statement on PostgreSQL read back as they were
recorded."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from service.app.decisions import record_decision
from service.app.intake import parse_incident
from service.domain.incident import History
from service.domain.money import Money
from service.domain.principal import Principal
from service.domain.records import KnownIncident, StoredDecision
from service.domain.running_totals import GrantedSoFar
from service.store import clock
from service.store.database import is_sqlite
from service.store.dbapi import DbapiTransaction
from service.store.errors import UniquenessRace
from service.store.models import DecisionRow, OfferRow
from service.store.unit_of_work import UnitOfWork
from tests.conftest import design_example


def _principal() -> Principal:
    return Principal(f"agent-{uuid.uuid4().hex[:8]}", "agent")


def _record(store, shipped, principal, body):
    return record_decision(store, shipped, principal, body, parse_incident(body, shipped.policy))


def _grant(store, recorded, number, principal, value, moment):
    stored = recorded.stored
    offer = dataclasses.replace(stored.offers[number], value=value)
    with UnitOfWork(store) as uow:
        uow.grants.add(offer, uow.decisions.ref(stored.id), principal, moment)


def _known(store, incident_id: str, customer_id: str, since) -> KnownIncident:
    """The reference read: whether the incident was decided before, and the customer's
    decisions since `since`, as two plain queries."""
    with store.engine.connect() as connection:
        prior = connection.execute(select(func.count()).select_from(DecisionRow).where(
            DecisionRow.customer_id == customer_id,
            DecisionRow.decided_at >= since)).scalar_one()
        decided = connection.execute(select(DecisionRow.id).where(
            DecisionRow.incident_id == incident_id)).first() is not None
    return KnownIncident(prior_failures=prior, decided=decided)


def test_the_lookup_before_deciding_reads_what_the_reads_apart_read(store, shipped):
    agent, other = _principal(), _principal()
    customer, order = f"C-{uuid.uuid4().hex[:12]}", f"O-{uuid.uuid4().hex[:12]}"
    first_body = design_example(customer__id=customer, order__id=order)
    first = _record(store, shipped, agent, first_body)
    second = _record(store, shipped, other, design_example(customer__id=customer))
    now = clock.now()
    _grant(store, first, 0, agent, Money(Decimal("10.00"), "EUR"), now)
    _grant(store, first, 1, agent, Money(Decimal("2.50"), "USD"), now - timedelta(hours=2))
    _grant(store, second, 0, other, Money(Decimal("7.00"), "EUR"), now - timedelta(days=3))
    _grant(store, second, 1, other, Money(Decimal("9.00"), "GBP"), now - timedelta(days=40))
    moment = clock.now()
    since, day_start = moment - timedelta(days=90), moment - timedelta(hours=1)
    window_start = moment - timedelta(days=30)
    new_body = design_example(customer__id=customer, order__id=order)
    for body in (first_body, new_body):
        incident = parse_incident(body, shipped.policy)
        known_apart = _known(store, incident.incident_id, customer, since)
        with UnitOfWork(store) as uow:
            together = uow.deciding.before_deciding(incident, agent.id, since, day_start,
                                                     window_start)
            apart = (known_apart, uow.grants.before_deciding(agent.id, order, customer,
                                                             day_start, window_start))
        assert together == apart
    known, granted = together
    assert (known.prior_failures, known.decided) == (2, False)
    assert granted.agent_today == {"EUR": Decimal("10.00")}
    assert granted.order == {"EUR": Decimal("10.00"), "USD": Decimal("2.50")}
    assert granted.customer_window == {"EUR": Decimal("17.00"), "USD": Decimal("2.50")}
    assert granted.customer_grants_in_window == 3 and granted.incident == {}


def test_deciding_reads_once_and_writes_once_on_the_drivers_connection(store, shipped,
                                                                       monkeypatch):
    through_driver: list[str] = []
    through_core: list[str] = []
    cursor = DbapiTransaction._cursor

    def spied(self, statement, params):
        through_driver.append(statement)
        return cursor(self, statement, params)

    def seen(_conn, _cursor, sql, *_rest):
        through_core.append(sql)

    monkeypatch.setattr(DbapiTransaction, "_cursor", spied)
    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        recorded = _record(store, shipped, _principal(), design_example())
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert recorded.created and recorded.stored.offers
    assert through_core == []  # nothing compiled or run through SQLAlchemy's Connection
    statements = [sql for sql in through_driver if not sql.startswith(("BEGIN", "PRAGMA"))]
    # SQLite (in process) reads again under the write lock, and inserts the offers apart
    assert len(statements) == (4 if is_sqlite(store.url) else 2), statements


def test_a_stored_decision_reads_back_as_recorded(store, shipped):
    recorded = _record(store, shipped, _principal(), design_example())
    with UnitOfWork(store) as uow:
        assert _untraced(uow.decisions.get(recorded.stored.id)) == _untraced(recorded.stored)
    with store.transaction() as session:
        rows = session.scalars(select(OfferRow).where(
            OfferRow.decision_id == recorded.stored.id).order_by(OfferRow.number)).all()
        assert [(row.id, row.remedy, row.amount_minor, row.currency, row.state,
                 row.approver_role) for row in rows] == [
            (offer.id, offer.remedy, int(offer.value.amount * 100), offer.value.currency,
             "proposed", offer.approver_role) for offer in recorded.stored.offers]


def test_a_decision_without_offers_is_stored(store, shipped):
    body = design_example()
    incident = parse_incident(body, shipped.policy)
    decision = dataclasses.replace(
        shipped.decide(incident, "agent", _no_history()), offers=(), grant_now=None)
    with UnitOfWork(store) as uow:
        stored = uow.deciding.add(decision, incident, _principal(), body, "f" * 64,
                                   clock.now())
    with UnitOfWork(store) as uow:
        assert _untraced(uow.decisions.get(stored.id)) == _untraced(stored)
        assert stored.offers == ()


def test_the_same_incident_twice_is_a_uniqueness_race_and_stores_nothing_more(store,
                                                                              shipped):
    body = design_example()
    first = _record(store, shipped, _principal(), body)
    incident = parse_incident(body, shipped.policy)
    with pytest.raises(UniquenessRace), UnitOfWork(store) as uow:
        uow.deciding.add(first.stored.decision, incident, _principal(), body, "f" * 64,
                          clock.now())
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DecisionRow).where(
            DecisionRow.incident_id == incident.incident_id)) == 1
        assert session.scalar(select(func.count()).select_from(OfferRow).join(
            DecisionRow, OfferRow.decision_id == DecisionRow.id).where(
            DecisionRow.incident_id == incident.incident_id)) == len(first.stored.offers)


def _no_history() -> History:
    return History(0, GrantedSoFar())


def _untraced(stored: StoredDecision) -> StoredDecision:
    """The stored decision but its rules' trace (stored as the rules' terms, not the rules)."""
    return dataclasses.replace(stored, decision=dataclasses.replace(stored.decision, trace=()))


@pytest.mark.parametrize("fresh_store", ["postgresql"], indirect=True)
def test_deciding_on_postgresql_waits_for_the_server_twice(fresh_store, shipped, tmp_path):
    """What libpq sends and receives, traced: one round trip (a ReadyForQuery from the server)
    for the read and one for the decision with its offers: no ping, BEGIN or COMMIT."""
    store = fresh_store
    store.engine.pool.dispose()
    trace = (tmp_path / "libpq.trace").open("w")

    def traced(dbapi_connection, _record):
        dbapi_connection.pgconn.trace(trace.fileno())

    event.listen(store.engine, "connect", traced)
    try:
        _record(store, shipped, _principal(), design_example())  # connects, prepares nothing
        trace.flush()
        before = (tmp_path / "libpq.trace").read_text().count("\tReadyForQuery\t")
        recorded = _record(store, shipped, _principal(), design_example())
        trace.flush()
        after = (tmp_path / "libpq.trace").read_text().count("\tReadyForQuery\t")
    finally:
        event.remove(store.engine, "connect", traced)
        store.engine.pool.dispose()
        trace.close()
    assert recorded.created and recorded.stored.offers
    assert after - before == 2, (before, after)
