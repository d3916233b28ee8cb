"""A customer's incidents and grants, newest first, a page at a time."""

from __future__ import annotations

import pytest

from service.app.customer_history import customer_history
from service.app.grants import grant_offer
from service.domain.vocabulary import OfferState, Outlook
from service.store.keyset import CursorInvalid
from tests.app.conftest import offer
from tests.conftest import design_example


def test_the_history_pages_through_incidents_and_grants(decide, staff, run, shipped, store):
    customer = design_example()["customer"]["id"]
    agent = staff("agent")
    recorded = [decide(agent, customer__id=customer) for _ in range(3)]
    waived = offer(recorded[0], "waived_shipping")
    grant = run(lambda uow: grant_offer(uow, shipped.policy, agent, waived.id))

    first = customer_history(store, customer, 2)
    assert first.customer_id == customer
    assert [i.id for i in first.incidents] == [r.stored.id for r in recorded[:0:-1]]
    assert first.grants == (grant,) and first.next_cursor is not None
    newest = first.incidents[0]
    assert (newest.incident_id, newest.category, newest.severity, newest.outlook) == (
        recorded[2].stored.decision.incident_id, "late_delivery", 2, Outlook.UNCERTAIN)
    assert newest.offers == recorded[2].stored.offers

    second = customer_history(store, customer, 2, first.next_cursor)
    assert [i.id for i in second.incidents] == [recorded[0].stored.id]
    assert second.grants == () and second.next_cursor is None
    states = {o.id: o.state for o in second.incidents[0].offers}
    assert states[waived.id] == OfferState.GRANTED
    assert {state for offer_id, state in states.items() if offer_id != waived.id} == {
        OfferState.PROPOSED}


def test_an_unknown_customer_has_no_history(store):
    empty = customer_history(store, "nobody-at-all", 10)
    assert (empty.incidents, empty.grants, empty.next_cursor) == ((), (), None)


def test_a_cursor_this_service_did_not_give_is_refused(store):
    with pytest.raises(CursorInvalid):
        customer_history(store, "nobody-at-all", 10, "bm90IGEgY3Vyc29y")
