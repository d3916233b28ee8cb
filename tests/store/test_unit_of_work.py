"""A unit of work commits when its block ends, rolls back when it raises, and serialises
units of work that lock the same key (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from service.domain.money import Money
from service.domain.principal import Principal
from service.domain.records import Answer, DecisionRef
from service.domain.vocabulary import Approval, OfferSource, OfferState, OfferVariant
from service.store import clock
from service.store.models import DecisionRow, OfferRow
from service.store.unit_of_work import UnitOfWork, _lock_order


def test_leaving_the_block_commits(store):
    key = uuid.uuid4().hex
    with UnitOfWork(store) as uow:
        uow.idempotency.keep("someone", key, "f" * 64, Answer(201, {"a": "1"}), clock.now())
    with UnitOfWork(store) as uow:
        kept = uow.idempotency.find("someone", key)
    assert kept.request_fingerprint == "f" * 64 and kept.answer == Answer(201, {"a": "1"})


def test_an_error_rolls_everything_back(store):
    key = uuid.uuid4().hex
    with pytest.raises(ZeroDivisionError), UnitOfWork(store) as uow:
        uow.idempotency.keep("someone", key, "f" * 64, Answer(201), clock.now())
        assert uow.idempotency.find("someone", key) is not None  # seen inside
        1 / 0  # noqa: B018
    with UnitOfWork(store) as uow:
        assert uow.idempotency.find("someone", key) is None


def test_a_second_unit_of_work_locking_the_same_key_waits(store):
    key = f"customer:{uuid.uuid4().hex}"
    holding, attempted, done = threading.Event(), threading.Event(), threading.Event()

    def second():
        holding.wait(5)
        attempted.set()
        with UnitOfWork(store) as uow:
            uow.lock(key)
            done.set()

    waiter = threading.Thread(target=second)
    waiter.start()
    with UnitOfWork(store) as uow:
        uow.lock(key, key)  # repeated keys are taken once
        holding.set()
        attempted.wait(5)
        assert not done.wait(0.3), "the second unit of work did not wait"
    waiter.join(5)
    assert done.is_set()


def test_keys_are_taken_wider_kinds_first():
    """A grant takes its offer's key last, after the order's that sorts after it by name: a
    unit of work holding an order's key then never waits for an offer's key that another
    holds while it waits for that order (a deadlock, seen on PostgreSQL)."""
    keys = ["offer:D.1", "order:O-1", "decision:D", "customer:C", "agent:a", "idempotency:a:k"]
    assert sorted(keys, key=_lock_order) == [
        "idempotency:a:k", "agent:a", "customer:C", "decision:D", "order:O-1", "offer:D.1"]
    with pytest.raises(ValueError, match="no kind"):
        _lock_order("widget:1")


def test_running_totals_sum_what_is_granted(store):
    """Totals count grants on the decision, by the principal today, on the order, and to the
    customer within the window, per currency (the count of grants in any)."""
    tag = uuid.uuid4().hex[:8]
    decision = DecisionRef(f"d-{tag}", f"C-{tag}", f"O-{tag}")
    agent = Principal(f"agent-{tag}", "agent")
    now = clock.now()
    _decision_with_offers(store, decision, now, [("store_credit", "5.00"),
                                                 ("discount", "12.00"),
                                                 ("waived_shipping", "7.50", "USD")])
    with UnitOfWork(store) as uow:
        for number in (1, 2, 3):
            uow.grants.add(uow.offers.get(f"{decision.id}.{number}"), decision, agent, now)
        totals = uow.grants.totals(agent.id, decision, day_start=now,
                                   window_start=now - timedelta(days=30))
        later = uow.grants.totals(agent.id, decision, day_start=now + timedelta(seconds=1),
                                  window_start=now + timedelta(seconds=1))
        elsewhere = uow.grants.totals(f"other-{tag}", DecisionRef("d-x", "C-x", "O-x"),
                                      day_start=now, window_start=now)
    both = {"EUR": Decimal("17.00"), "USD": Decimal("7.50")}
    assert (totals.incident, totals.agent_today, totals.order, totals.customer_window) == (
        both,) * 4
    assert totals.customer_grants_in_window == 3
    assert (later.agent_today, later.customer_window, later.customer_grants_in_window) == (
        {}, {}, 0)
    assert later.incident == later.order == both
    assert elsewhere == type(elsewhere)()


def test_an_offer_state_changes_with_its_moment(store):
    tag = uuid.uuid4().hex[:8]
    decision = DecisionRef(f"d-{tag}", f"C-{tag}", f"O-{tag}")
    now = clock.now()
    _decision_with_offers(store, decision, now, [("refund", "120.00")])
    later = now + timedelta(minutes=5)
    with UnitOfWork(store) as uow:
        assert uow.offers.set_state(f"{decision.id}.1", OfferState.PROPOSED,
                                    OfferState.REJECTED, later)
        # only from the state it was read in: a concurrent change is never overwritten
        assert not uow.offers.set_state(f"{decision.id}.1", OfferState.PROPOSED,
                                        OfferState.GRANTED, later)
    with UnitOfWork(store) as uow:
        offer = uow.offers.get(f"{decision.id}.1")
        assert uow.offers.get("no-such-offer") is None
    assert (offer.state, offer.state_changed_at) == (OfferState.REJECTED, later)
    assert offer.value == Money(Decimal("120.00"), "EUR")


def _decision_with_offers(store, decision: DecisionRef, moment,
                          offers: list[tuple[str, ...]]) -> None:
    """A decision row and its offers written directly: these tests are about the queries
    that read them, not about deciding. Each offer: remedy, amount and currency (EUR when
    left out)."""
    with store.transaction() as session:
        session.add(DecisionRow(
            id=decision.id, incident_id=f"INC-{decision.id}", request_hash="0" * 64,
            customer_id=decision.customer_id, order_id=decision.order_id, currency="EUR",
            principal="test", role="agent", policy_name="default", policy_version="v",
            outlook="likely", request={}, result={}, decided_at=moment))
        session.flush()
        session.add_all([OfferRow(
            id=f"{decision.id}.{number}", decision_id=decision.id, number=number,
            remedy=remedy, currency=currency, amount_minor=int(Decimal(amount) * 100),
            variant=OfferVariant.FULL, source=OfferSource.POLICY,
            approval=Approval.NOT_REQUIRED, approver_role=None, state=OfferState.PROPOSED,
            state_changed_at=moment)
            for number, (remedy, amount, currency) in enumerate(
                ((*offer, "EUR")[:3] for offer in offers), 1)])


def test_a_lock_is_its_schemas_own(store, fresh_store):
    """Two deployments in schemas of one PostgreSQL database never wait on each other's
    locks (on SQLite each store is a database file of its own)."""
    key = f"customer:{uuid.uuid4().hex}"
    taken = threading.Event()

    def elsewhere():
        with UnitOfWork(fresh_store) as uow:
            uow.lock(key)
            taken.set()

    with UnitOfWork(store) as uow:
        uow.lock(key)
        other = threading.Thread(target=elsewhere)
        other.start()
        assert taken.wait(5), "a lock of another schema waited for this one"
    other.join(5)
