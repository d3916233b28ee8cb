"""Running totals count every grant in every currency (issue 9, defect 4): earlier grants in
other currencies are converted into the budget's currency at the policy's rates, rounded up
(in the budget's favour), before the daily budget, the order cap and the customer cap are
compared. The shipped policy: EUR→USD 1.09, EUR→GBP 0.86.

The decisions are made before the grants that spend the budgets, as when several agents or
tabs work at once: a decision's own approvals already count the totals of its moment (see
tests/app/test_grant_now.py)."""

from __future__ import annotations

import uuid

import pytest

from service.app.errors import NeedsApproval
from service.app.grants import grant_offer
from tests.app.conftest import offer


def test_a_daily_budget_counts_grants_in_every_currency(decide, staff, run, shipped):
    """The reported case: 500 EUR + 550 USD + 450 GBP in one day against 500.00 EUR."""
    agent = staff("agent")
    euros = [offer(decide(agent), "store_credit", "capped") for _ in range(10)]
    others = [offer(decide(agent, order__currency=currency), "store_credit", "capped")
              for currency in ("USD", "GBP") for _ in range(10)]
    for credit in euros:  # 10 x 50.00 EUR: the whole budget
        run(lambda uow, credit=credit: grant_offer(uow, shipped.policy, agent, credit.id))
    refused = []
    for credit in others:  # 10 x 55.00 USD, then 10 x 45.00 GBP: none of them fits
        with pytest.raises(NeedsApproval) as refusal:
            run(lambda uow, credit=credit: grant_offer(uow, shipped.policy, agent, credit.id))
        refused.append(refusal.value.reasons)
    assert refused[0] == [
        "55.00 USD would exceed the agent daily budget of 550.00 USD "
        "(545.00 USD already granted by you today)"]
    assert refused[10] == [
        "45.00 GBP would exceed the agent daily budget of 450.00 GBP "
        "(430.00 GBP already granted by you today)"]
    # What still fits, converted, is granted: 545.00 + 5.00 = 550.00 USD. A decision made
    # now knows it: its capped store credit is what is left of the budget.
    later = decide(agent, order__currency="USD")
    small = offer(later, "store_credit", "capped")
    assert small.value.amount == 5
    assert "what is left of your daily budget of 550.00 USD" in \
        later.stored.decision.offers[small.number - 1].reason
    assert run(lambda uow: grant_offer(uow, shipped.policy, agent, small.id)).value == small.value


def test_a_customer_cap_counts_grants_in_every_currency(decide, staff, run, shipped):
    """The reported case: 150 EUR + 55 USD to one customer against a 150.00 EUR cap."""
    customer = f"C-{uuid.uuid4().hex[:12]}"
    agents = [staff("agent") for _ in range(4)]
    credits = [offer(decide(agent, customer__id=customer), "store_credit", "capped")
               for agent in agents[:3]]
    agent = agents[3]
    dollars = offer(decide(agent, customer__id=customer, order__currency="USD"),
                    "store_credit", "capped")
    # 3 x 50.00 EUR, each on an order of its own, by agents of their own
    for earlier, credit in zip(agents, credits, strict=False):
        run(lambda uow, earlier=earlier, credit=credit: grant_offer(uow, shipped.policy,
                                                                    earlier, credit.id))
    assert str(dollars.value.amount) == "55.00"
    with pytest.raises(NeedsApproval) as refusal:
        run(lambda uow: grant_offer(uow, shipped.policy, agent, dollars.id))
    assert refusal.value.reasons == [
        "55.00 USD would exceed the agent per-customer cap of 165.00 USD "
        "(163.50 USD already granted to this customer in 30 days)"]
    assert refusal.value.approver == "team_lead"


def test_an_order_cap_counts_grants_in_every_currency(decide, staff, run, shipped):
    """One order decided in two currencies: 100.00 EUR granted fills the agent's 90.00 GBP
    order cap but for 4.00 GBP (100.00 EUR is 86.00 GBP)."""
    order = f"O-{uuid.uuid4().hex[:12]}"
    for _ in range(2):  # 2 x 50.00 EUR on the order
        agent = staff("agent")
        credit = offer(decide(agent, order__id=order), "store_credit", "capped")
        run(lambda uow, agent=agent, credit=credit: grant_offer(uow, shipped.policy, agent,
                                                                credit.id))
    agent = staff("agent")
    pounds = offer(decide(agent, order__id=order, order__currency="GBP"), "store_credit")
    with pytest.raises(NeedsApproval) as refusal:
        run(lambda uow: grant_offer(uow, shipped.policy, agent, pounds.id))
    assert refusal.value.reasons == [
        "5.00 GBP would exceed the agent per-order cap of 90.00 GBP "
        "(86.00 GBP already granted on this order)"]
