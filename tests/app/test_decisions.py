"""Deciding and recording an incident, replaying it, finding it again."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from service.app.decisions import find_decision
from service.app.errors import Conflict, NotFound
from service.domain.money import Money
from service.domain.vocabulary import Approval, OfferState, OfferVariant, Outlook
from service.store import clock
from service.store.database import is_sqlite
from tests.conftest import design_example


def test_a_decision_is_recorded_with_its_offers_proposed(decide, staff, store):
    agent = staff("agent")
    before = clock.now()
    recorded = decide(agent)
    stored = recorded.stored
    assert recorded.created
    assert stored.decision.outlook == Outlook.LIKELY and stored.decision.role == "agent"
    assert stored.principal == agent.id and before <= stored.decided_at <= clock.now()
    assert [o.id for o in stored.offers] == [f"{stored.id}.{n}" for n in range(1, 6)]
    assert {o.state for o in stored.offers} == {OfferState.PROPOSED}
    refund, capped = stored.offers[0], stored.offers[1]
    assert (refund.remedy, refund.value, refund.approval) == (
        "refund", Money(Decimal("120.00"), "EUR"), Approval.REQUIRED)
    assert (capped.remedy, capped.variant, capped.value) == (
        "store_credit", OfferVariant.CAPPED, Money(Decimal("50.00"), "EUR"))
    assert stored.decision.offers[1].capped_from == 1


def test_the_same_body_replays_the_stored_decision(decide, staff):
    agent = staff("agent")
    body = design_example()
    first = decide(agent, body)
    again = decide(staff("agent"), dict(body))  # who replays does not matter
    assert not again.created and again.stored.id == first.stored.id
    assert again.stored.decided_at == first.stored.decided_at
    assert again.stored.principal == agent.id
    assert again.stored.decision.offers == first.stored.decision.offers
    assert again.stored.offers == first.stored.offers


def test_the_same_incident_with_another_body_is_a_conflict(decide, staff, store):
    body = design_example()
    first = decide(staff("agent"), body)
    changed = {**body, "failure": {**body["failure"], "severity": 4}}
    with pytest.raises(Conflict, match=first.stored.id):
        decide(staff("agent"), changed)
    assert find_decision(store, first.stored.id).stored.request == body


def test_prior_failures_are_counted_from_the_customers_decisions(decide, staff):
    customer = design_example()["customer"]["id"]
    assert decide(staff("agent"), customer__id=customer).stored.decision.prior_failures == 0
    second = decide(staff("agent"), customer__id=customer).stored.decision
    assert second.prior_failures == 1 and second.outlook == Outlook.UNCERTAIN


def test_a_found_decision_is_the_recorded_one_with_its_request(decide, staff, store):
    body = design_example(order__value="80.00")
    recorded = decide(staff("team_lead"), body).stored
    found = find_decision(store, recorded.id)
    stored = found.stored
    assert stored.request == body and stored.principal == recorded.principal
    assert (stored.customer_id, stored.order_id) == (body["customer"]["id"],
                                                     body["order"]["id"])
    assert stored.decided_at == recorded.decided_at
    decision, made = stored.decision, recorded.decision
    assert decision.offers == made.offers and decision.factors == made.factors
    assert decision.steps == made.steps and decision.notes == made.notes
    assert [(r.id, r.priority) for r in decision.trace] == [(r.id, r.priority)
                                                             for r in made.trace]
    assert (found.grants, found.approval_requests, found.outcomes) == ((), (), ())


def test_finding_an_unknown_decision_is_not_found(store):
    with pytest.raises(NotFound, match="no-such-decision"):
        find_decision(store, "no-such-decision")


def test_decisions_older_than_the_window_do_not_count(decide, staff, store, monkeypatch):
    customer = design_example()["customer"]["id"]
    now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: now - timedelta(days=400))
    decide(staff("agent"), customer__id=customer)
    monkeypatch.setattr(clock, "now", lambda: now)
    assert decide(staff("agent"), customer__id=customer).stored.decision.prior_failures == 0


def test_a_decision_is_read_as_of_one_moment_whatever_commits_meanwhile(decide, staff, run,
                                                                        shipped, store,
                                                                        monkeypatch):
    """A grant committed between reading the offers and reading the grants is in neither
    (on PostgreSQL a snapshot; on SQLite the reader holds the write lock, so the grant
    waits): the offer's state and the grants listed agree."""
    from service.app.grants import grant_offer
    from service.store.decision_queries import DecisionQueries

    agent = staff("agent")
    recorded = decide(agent)
    credit = next(o for o in recorded.stored.offers if o.remedy == "store_credit")
    read = DecisionQueries.get
    granting = []

    def get_then_grant_elsewhere(self, decision_id):
        found = read(self, decision_id)
        if not granting and not is_sqlite(store.url):
            granting.append("started")  # the grant reads the decision too: once
            granting.append(run(lambda uow: grant_offer(uow, shipped.policy, agent, credit.id)))
        return found

    monkeypatch.setattr(DecisionQueries, "get", get_then_grant_elsewhere)
    found = find_decision(store, recorded.stored.id)
    state = next(o.state for o in found.stored.offers if o.id == credit.id)
    assert (state, found.grants) == ("proposed", ())
    if granting:  # committed meanwhile: the next read sees it whole
        again = find_decision(store, recorded.stored.id)
        state = next(o.state for o in again.stored.offers if o.id == credit.id)
        assert state == "granted" and [g.offer_id for g in again.grants] == [credit.id]
