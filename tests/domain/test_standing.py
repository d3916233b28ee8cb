"""standing: where a stored decision's offers stand for a caller now (pure)."""

from decimal import Decimal

from service.app.intake import parse_incident
from service.domain.grant_rule import GrantedSoFar
from service.domain.incident import History
from service.domain.standing import standing
from service.domain.vocabulary import OfferState
from tests.conftest import DESIGN_EXAMPLE


def readme_decision(shipped, role="agent"):
    return shipped.decide(parse_incident(DESIGN_EXAMPLE, shipped.policy), role, History())


def by_remedy(decision, result):
    return {(o.remedy, o.variant): result.offers[o.number] for o in decision.offers}


def proposed(decision):
    return {offer.number: OfferState.PROPOSED for offer in decision.offers}


def test_nothing_granted_yet_it_agrees_with_the_decision(shipped):
    decision = readme_decision(shipped)
    result = standing(decision.offers, proposed(decision), shipped.policy.roles["agent"],
                      shipped.policy, GrantedSoFar(), "EUR")
    assert result.grant_now == decision.grant_now
    for offer in decision.offers:
        now = result.offers[offer.number]
        assert (now.approval, now.approver_role) == (offer.approval, offer.approver_role)
        assert now.grantable == (offer.approval == "not_required")


def test_a_granted_offer_and_its_alternatives_are_not_grantable(shipped):
    decision = readme_decision(shipped, "team_lead")
    states = proposed(decision)
    refund = next(o for o in decision.offers if o.remedy == "refund")
    states[refund.number] = OfferState.GRANTED
    policy = shipped.policy
    result = standing(decision.offers, states, policy.roles["team_lead"], policy,
                      GrantedSoFar(incident={"EUR": Decimal("120.00")}), "EUR")
    now = by_remedy(decision, result)
    # judged against no limit: its own 120.00 would count against itself
    assert now["refund", "full"].why_not == ("it is granted",)
    assert (now["refund", "full"].approval, now["refund", "full"].approver_role) == (
        "not_required", None)
    assert now["store_credit", "full"].why_not == (
        "store_credit is an alternative to the refund already granted on this decision",)
    assert now["discount", "full"].grantable and now["waived_shipping", "full"].grantable
    assert sorted(o.remedy for o in result.grant_now.offers) == ["discount", "waived_shipping"]
    assert result.grant_now.total.amount == Decimal("19.50")


def test_an_ask_and_its_capped_substitute_are_alternatives_once_either_is_granted(shipped):
    """The ask (a free upgrade the agent may not grant) and its capped variant (store
    credit, another kind that combines with it): granting one leaves the other ungrantable,
    for whoever asks, and out of grant_now."""
    body = {**DESIGN_EXAMPLE, "order": {**DESIGN_EXAMPLE["order"], "upgrade_cost": "80.00"},
            "customer_ask": {"remedy": "free_upgrade"}}
    decision = shipped.decide(parse_incident(body, shipped.policy), "agent", History())
    ask, variant = decision.offers[:2]
    assert (ask.remedy, variant.remedy, variant.capped_from) == (
        "free_upgrade", "store_credit", ask.number)
    policy = shipped.policy
    for granted, other in [(variant, ask), (ask, variant)]:
        states = {**proposed(decision), granted.number: OfferState.GRANTED}
        result = standing(decision.offers, states, policy.roles["manager"], policy,
                          GrantedSoFar(incident={"EUR": granted.value.amount}), "EUR")
        now = result.offers[other.number]
        assert not now.grantable
        assert now.why_not[0] == (
            f"it is an alternative to offer {granted.number} ({granted.remedy}), already "
            "granted: one is a capped variant of the other")
        assert other not in result.grant_now.offers
        assert result.grant_now.offers  # the policy's own offers stay open


def test_a_rejected_offer_is_not_grantable_whatever_the_limits(shipped):
    decision = readme_decision(shipped, "manager")
    states = {number: OfferState.REJECTED for number in proposed(decision)}
    result = standing(decision.offers, states, shipped.policy.roles["manager"], shipped.policy,
                      GrantedSoFar(), "EUR")
    assert not any(now.grantable for now in result.offers.values())
    assert result.grant_now.offers == ()


def test_spent_caps_make_everything_need_approval_by_the_role_they_cover(shipped):
    decision = readme_decision(shipped)
    policy = shipped.policy
    result = standing(decision.offers, proposed(decision), policy.roles["agent"], policy,
                      GrantedSoFar(order={"EUR": Decimal("100.00")}), "EUR")
    assert {(now.approval, now.approver_role, now.grantable)
            for now in result.offers.values()} == {("required", "team_lead", False)}
    assert any("per-order cap" in reason for now in result.offers.values()
               for reason in now.why_not)
    assert result.grant_now.offers == ()


def test_grants_in_a_currency_without_a_rate_make_nothing_grantable(shipped):
    decision = readme_decision(shipped)
    policy = shipped.policy
    result = standing(decision.offers, proposed(decision), policy.roles["agent"], policy,
                      GrantedSoFar(order={"CHF": Decimal("1.00")}), "EUR")
    assert not any(now.grantable for now in result.offers.values())
    assert "exchange rate" in next(iter(result.offers.values())).why_not[0]
    assert result.grant_now.offers == ()


def test_offers_in_a_currency_the_active_policy_lacks_stand_ungrantable(shipped):
    """Decided under a version with GBP, read under one without: no offer is grantable,
    and nothing is looked up in a limit table that has no GBP."""
    from dataclasses import replace

    body = {**DESIGN_EXAMPLE, "order": {**DESIGN_EXAMPLE["order"], "currency": "GBP"}}
    decision = shipped.decide(parse_incident(body, shipped.policy), "agent", History())
    without_gbp = replace(shipped.policy, currencies=("EUR", "USD"))
    result = standing(decision.offers, proposed(decision), without_gbp.roles["agent"],
                      without_gbp, GrantedSoFar(), "GBP")
    assert all(now.why_not == ("the active policy has no GBP, so no limits in it",)
               for now in result.offers.values())
    assert result.grant_now.offers == ()
