"""Migration 0005 keeps the requester's note and the decider's reason apart (SQLite and
PostgreSQL, each from a database at 0004): a request's `decision_reason` was the requester's
note unless the request was rejected (then it is the rejection's reason, and the note was
overwritten and is lost)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, insert, select

from service.store.database import Store, alembic_config, upgrade
from service.store.models import ApprovalRequestRow, OfferRow
from service.store.unit_of_work import UnitOfWork
from tests.support.migrations import database_at, insert_decision

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0004(request, tmp_path):
    """An empty database migrated to 0004 (before the notes were kept apart)."""
    with database_at("0004", request.param, tmp_path) as url:
        yield url


def test_notes_move_to_their_column_and_rejection_reasons_stay(at_0004):
    engine = create_engine(at_0004)
    offer = {"decision_id": "d1", "remedy": "refund", "amount_minor": 12000, "currency": "EUR",
             "variant": "full", "source": "customer_ask", "approval": "required",
             "approver_role": "team_lead", "state": "approval_pending",
             "state_changed_at": T0}
    request = {"approver_role": "team_lead", "reasons": ["agent may not grant refund"],
               "requested_by": "agent-1", "requested_role": "agent", "requested_at": T0,
               "decided_by": None, "decided_at": None}
    states = {"r1": "pending", "r2": "approved", "r3": "granted", "r4": "rejected",
              "r5": "pending"}
    reasons = {"r1": "upset", "r2": "late again", "r3": "asked", "r4": "no", "r5": None}
    with engine.begin() as connection:
        insert_decision(connection, T0)
        connection.execute(insert(OfferRow.__table__), [
            {**offer, "id": f"d1.{n}", "number": n} for n in range(1, 6)])
        connection.execute(insert(ApprovalRequestRow.__table__), [
            {**request, "id": request_id, "offer_id": f"d1.{n}", "status": states[request_id],
             "decision_reason": reasons[request_id]}
            for n, request_id in enumerate(states, start=1)])
    engine.dispose()

    upgrade(at_0004)
    store = Store(at_0004)
    with UnitOfWork(store) as uow:
        requests = {r.id: (r.note, r.decision_reason) for r in uow.approvals.of_decision("d1")}
    store.engine.dispose()
    assert requests == {
        "r1": ("upset", None), "r2": ("late again", None), "r3": ("asked", None),
        "r4": (None, "no"),  # the requester's note was overwritten by the rejection: lost
        "r5": (None, None)}

    command.downgrade(alembic_config(at_0004), "0004")
    engine = create_engine(at_0004)
    table = ApprovalRequestRow.__table__
    with engine.connect() as connection:
        back = dict(connection.execute(select(table.c.id, table.c.decision_reason)).all())
    engine.dispose()
    assert back == reasons


def test_a_note_an_older_amends_files_after_the_upgrade_is_the_requesters(at_0004):
    """An Amends from before 0005 still serving after the upgrade (a rolling upgrade, or two
    servers on one embedded database for a moment) files its requester's note where it
    always did. Read, it is the requester's note, not a decider's reason; decided, it stays
    (a rejection had overwritten it, an approval had shown it as the approver's)."""
    from service.domain.vocabulary import RequestState

    upgrade(at_0004)
    engine = create_engine(at_0004)
    with engine.begin() as connection:
        insert_decision(connection, T0)
        connection.execute(insert(OfferRow.__table__), [{
            "id": f"d1.{n}", "number": n, "decision_id": "d1", "remedy": "refund",
            "amount_minor": 12000, "currency": "EUR", "variant": "full",
            "source": "customer_ask", "approval": "required", "approver_role": "team_lead",
            "state": "approval_pending", "state_changed_at": T0} for n in (1, 2)])
        connection.execute(insert(ApprovalRequestRow.__table__), [{  # as that Amends wrote
            "id": f"r{n}", "offer_id": f"d1.{n}", "status": "pending",
            "approver_role": "team_lead", "reasons": [], "requested_by": "agent-1",
            "requested_role": "agent", "requested_at": T0, "decision_reason": f"upset {n}"}
            for n in (1, 2)])
    engine.dispose()
    store = Store(at_0004)
    try:
        with UnitOfWork(store) as uow:
            first, second = uow.approvals.of_decision("d1")
            assert (first.note, first.decision_reason) == ("upset 1", None)
            uow.approvals.close(first, RequestState.REJECTED, "lead-1", T0, reason="no")
            uow.approvals.close(second, RequestState.APPROVED, "lead-1", T0)
        with UnitOfWork(store) as uow:
            assert [(r.status, r.note, r.decision_reason)
                    for r in uow.approvals.of_decision("d1")] == [
                ("rejected", "upset 1", "no"), ("approved", "upset 2", None)]
    finally:
        store.engine.dispose()
