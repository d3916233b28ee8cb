"""Migration 0004 brings rows that earlier versions left to the state machine's rule: an
offer with a grant is `granted`, and its request left pending is closed as `granted` by
whoever granted it (SQLite and PostgreSQL, each from a database at 0003)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, insert

from service.domain.vocabulary import OfferState, RequestState
from service.store.database import Store, upgrade
from service.store.models import ApprovalRequestRow, GrantRow, OfferRow
from service.store.unit_of_work import UnitOfWork
from tests.support.migrations import database_at, insert_decision

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0003(request, tmp_path):
    """An empty database migrated to 0003 (before the repair)."""
    with database_at("0003", request.param, tmp_path) as url:
        yield url


def test_offers_with_grants_are_granted_and_their_pending_requests_closed(at_0003):
    engine = create_engine(at_0003)
    offer = {"decision_id": "d1", "remedy": "refund", "amount_minor": 12000, "currency": "EUR",
             "variant": "full", "source": "customer_ask", "approval": "required",
             "approver_role": "team_lead", "state_changed_at": T0}
    request = {"approver_role": "team_lead", "reasons": ["agent may not grant refund"],
               "requested_by": "agent-1", "requested_role": "agent", "requested_at": T0,
               "decided_by": None, "decided_at": None, "decision_reason": None}
    grant = {"decision_id": "d1", "customer_id": "C-1", "order_id": "O-1", "remedy": "refund",
             "amount_minor": 12000, "currency": "EUR", "role": "team_lead"}
    with engine.begin() as connection:
        insert_decision(connection, T0)
        connection.execute(insert(OfferRow.__table__), [
            # asked for, then granted directly: the request was left pending
            {**offer, "id": "d1.1", "number": 1, "state": "granted"},
            # asked for, granted directly, then rejected: `rejected` beside a grant
            {**offer, "id": "d1.2", "number": 2, "state": "rejected"},
            # asked for and still pending: nothing to repair
            {**offer, "id": "d1.3", "number": 3, "state": "approval_pending"},
        ])
        connection.execute(insert(ApprovalRequestRow.__table__), [
            {**request, "id": "r1", "offer_id": "d1.1", "status": "pending"},
            {**request, "id": "r2", "offer_id": "d1.2", "status": "rejected",
             "decided_by": "lead-2", "decided_at": T0 + timedelta(minutes=9),
             "decision_reason": "no"},
            {**request, "id": "r3", "offer_id": "d1.3", "status": "pending"},
        ])
        connection.execute(insert(GrantRow.__table__), [
            {**grant, "id": "g1", "offer_id": "d1.1", "principal": "lead-1",
             "granted_at": T0 + timedelta(minutes=5)},
            {**grant, "id": "g2", "offer_id": "d1.2", "principal": "lead-1",
             "granted_at": T0 + timedelta(minutes=7)},
        ])
    engine.dispose()

    upgrade(at_0003)
    store = Store(at_0003)
    with UnitOfWork(store) as uow:
        offers = {o.id: o for o in uow.offers.of_decisions(["d1"])["d1"]}
        requests = {r.id: r for r in uow.approvals.of_decision("d1")}
    store.engine.dispose()
    assert {o: (offers[o].state, offers[o].state_changed_at) for o in offers} == {
        "d1.1": (OfferState.GRANTED, T0),  # already granted: its moment is kept
        "d1.2": (OfferState.GRANTED, T0 + timedelta(minutes=7)),
        "d1.3": (OfferState.APPROVAL_PENDING, T0)}
    assert (requests["r1"].status, requests["r1"].decided_by, requests["r1"].decided_at) == (
        RequestState.GRANTED, "lead-1", T0 + timedelta(minutes=5))
    assert (requests["r2"].status, requests["r2"].decided_by) == (
        RequestState.REJECTED, "lead-2")  # what happened to the request stays on record
    assert (requests["r3"].status, requests["r3"].decided_by) == (RequestState.PENDING, None)
