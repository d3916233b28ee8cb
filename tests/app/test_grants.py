"""Granting an offer: within limits, beyond them (who may approve, and why), and twice."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from service.app.approvals import approve, request_approval
from service.app.errors import Conflict, NeedsApproval, NotFound
from service.app.grants import grant_offer, grant_together
from service.domain.money import Money
from service.domain.vocabulary import OfferState, RequestState
from tests.app.conftest import offer


def test_an_offer_within_the_callers_limits_is_granted(decide, staff, run, shipped):
    agent = staff("agent")
    recorded = decide(agent)
    waived = offer(recorded, "waived_shipping")
    grant = run(lambda uow: grant_offer(uow, shipped.policy, agent, waived.id))
    assert (grant.offer_id, grant.decision_id, grant.remedy) == (
        waived.id, recorded.stored.id, "waived_shipping")
    assert grant.value == Money(Decimal("7.50"), "EUR")
    assert (grant.principal, grant.role, grant.approval_request_id) == (agent.id, "agent", None)
    assert grant.customer_id == recorded.stored.customer_id
    now = run(lambda uow: uow.offers.get(waived.id))
    assert now.state == OfferState.GRANTED and now.state_changed_at == grant.granted_at
    assert run(lambda uow: uow.grants.of_decision(recorded.stored.id)) == [grant]


def test_beyond_the_callers_limits_names_the_approver_and_the_reasons(decide, staff, run,
                                                                         shipped):
    agent = staff("agent")
    refund = offer(decide(agent), "refund")
    with pytest.raises(NeedsApproval) as refused:
        run(lambda uow: grant_offer(uow, shipped.policy, agent, refund.id))
    assert refused.value.approver == "team_lead"
    assert refused.value.reasons == [
        "agent may not grant refund",
        "120.00 EUR would exceed the agent per-incident limit of 50.00 EUR "
        "(0.00 EUR already granted on this incident)",
        "120.00 EUR would exceed the agent per-order cap of 100.00 EUR "
        "(0.00 EUR already granted on this order)"]
    assert run(lambda uow: uow.offers.get(refund.id)).state == OfferState.PROPOSED


def test_an_offer_is_granted_once(decide, staff, run, shipped):
    agent = staff("agent")
    credit = offer(decide(agent), "store_credit")
    first = run(lambda uow: grant_offer(uow, shipped.policy, agent, credit.id))
    with pytest.raises(Conflict, match=f"already granted \\(grant {first.id}\\)"):
        run(lambda uow: grant_offer(uow, shipped.policy, staff("agent"), credit.id))


def test_alternatives_exclude_each_other(decide, staff, run, shipped):
    lead = staff("team_lead")
    recorded = decide(lead)
    refund = offer(recorded, "refund")
    run(lambda uow: grant_offer(uow, shipped.policy, lead, refund.id))
    credit = offer(recorded, "store_credit")
    with pytest.raises(Conflict, match="store_credit is an alternative to the refund"):
        run(lambda uow: grant_offer(uow, shipped.policy, lead, credit.id))
    discount = run(lambda uow: grant_offer(uow, shipped.policy, lead,
                                           offer(recorded, "discount").id))
    assert discount.remedy == "discount"


def test_an_ask_and_its_capped_substitute_are_alternatives(decide, staff, run, shipped):
    """The agent may not grant the free upgrade asked for, and is offered store credit in its
    place: once either is granted, the other is neither granted, asked for nor approved."""
    agent, lead, manager = staff("agent"), staff("team_lead"), staff("manager")
    ask = {"remedy": "free_upgrade"}  # worth the order's upgrade cost
    recorded = decide(agent, customer_ask=ask, order__upgrade_cost="80.00")
    upgrade, substitute = offer(recorded, "free_upgrade"), offer(recorded, "store_credit",
                                                                 "capped")
    asked = run(lambda uow: request_approval(uow, shipped.policy, agent, upgrade.id, None))
    run(lambda uow: grant_offer(uow, shipped.policy, agent, substitute.id))
    refused = f"Offer {upgrade.id} is an alternative to offer {substitute.id}, already granted"
    # The request is withdrawn with the grant: no approver is asked for what nobody may give.
    withdrawn = run(lambda uow: uow.approvals.get(asked.request.id))
    assert (withdrawn.status, withdrawn.decided_by) == (RequestState.WITHDRAWN, agent.id)
    assert withdrawn.decision_reason.startswith(f"Offer {substitute.id} (store_credit) was "
                                                f"granted: {refused}")
    assert run(lambda uow: uow.offers.get(upgrade.id)).state == OfferState.PROPOSED
    with pytest.raises(Conflict, match="already withdrawn"):
        run(lambda uow: approve(uow, shipped.policy, lead, asked.request.id))
    with pytest.raises(Conflict, match=re.escape(refused)):
        run(lambda uow: request_approval(uow, shipped.policy, agent, upgrade.id, None))
    with pytest.raises(Conflict, match=re.escape(refused)):
        run(lambda uow: grant_offer(uow, shipped.policy, manager, upgrade.id))
    with pytest.raises(Conflict, match="one is a capped variant of the other"):
        run(lambda uow: grant_together(uow, shipped.policy, manager, recorded.stored.id,
                                       [upgrade.id]))
    assert [g.offer_id for g in run(lambda uow: uow.grants.of_decision(recorded.stored.id))
            ] == [substitute.id]

    recorded = decide(agent, customer_ask=ask, order__upgrade_cost="80.00")  # the other way
    upgrade, substitute = offer(recorded, "free_upgrade"), offer(recorded, "store_credit",
                                                                 "capped")
    run(lambda uow: grant_offer(uow, shipped.policy, lead, upgrade.id))
    with pytest.raises(Conflict, match=re.escape(
            f"Offer {substitute.id} is an alternative to offer {upgrade.id}, already granted")):
        run(lambda uow: grant_offer(uow, shipped.policy, agent, substitute.id))
    with pytest.raises(Conflict, match=re.escape(
            f"Offer {substitute.id} is an alternative to offer {upgrade.id}, already granted")):
        run(lambda uow: request_approval(uow, shipped.policy, agent, substitute.id, None))


def test_an_offer_in_a_currency_the_active_policy_lacks_is_refused_not_crashed(
        decide, staff, run, shipped):
    """An offer decided in GBP just before a version without GBP was activated."""
    from dataclasses import replace

    agent = staff("agent")
    credit = offer(decide(agent, order__currency="GBP"), "store_credit")
    without_gbp = replace(shipped.policy, currencies=("EUR", "USD"))
    for attempt in (lambda uow: grant_offer(uow, without_gbp, agent, credit.id),
                    lambda uow: request_approval(uow, without_gbp, agent, credit.id, None)):
        with pytest.raises(Conflict, match="has no GBP, so no limits in it"):
            run(attempt)
    assert run(lambda uow: uow.offers.get(credit.id)).state == OfferState.PROPOSED


def test_running_totals_count_earlier_grants(decide, staff, run, shipped):
    agent = staff("agent")
    recorded = decide(agent)
    for remedy in ("waived_shipping", "discount"):
        run(lambda uow, remedy=remedy: grant_offer(uow, shipped.policy, agent,
                                                   offer(recorded, remedy).id))
    credit = offer(recorded, "store_credit", "capped")  # 50.00: 19.50 already given
    with pytest.raises(NeedsApproval) as refused:
        run(lambda uow: grant_offer(uow, shipped.policy, agent, credit.id))
    assert refused.value.reasons[0] == (
        "50.00 EUR would exceed the agent per-incident limit of 50.00 EUR "
        "(19.50 EUR already granted on this incident)")


def test_an_unknown_offer_is_not_found(staff, run, shipped):
    with pytest.raises(NotFound, match="nope"):
        run(lambda uow: grant_offer(uow, shipped.policy, staff("agent"), "nope"))


def test_an_offer_of_a_kind_the_active_policy_lacks_is_refused_not_crashed(
        decide, staff, run, shipped):
    """An offer decided just before a version without its remedy kind was activated, on a
    decision where another offer was granted already."""
    from dataclasses import replace

    lead = staff("team_lead")
    recorded = decide(lead)
    run(lambda uow: grant_offer(uow, shipped.policy, lead, offer(recorded, "discount").id))
    waived = offer(recorded, "waived_shipping")
    kinds = {k: v for k, v in shipped.policy.remedy_kinds.items() if k != "waived_shipping"}
    without = replace(shipped.policy, remedy_kinds=kinds)
    for attempt in (lambda uow: grant_offer(uow, without, lead, waived.id),
                    lambda uow: grant_together(uow, without, lead, recorded.stored.id,
                                               [waived.id])):
        with pytest.raises(Conflict, match="no remedy kind waived_shipping"):
            run(attempt)

    recorded = decide(lead)  # a kind the policy lacks granted: others that combine still go
    run(lambda uow: grant_offer(uow, shipped.policy, lead,
                                offer(recorded, "waived_shipping").id))
    discount = run(lambda uow: grant_offer(uow, without, lead,
                                           offer(recorded, "discount").id))
    assert discount.remedy == "discount"
