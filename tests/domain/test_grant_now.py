"""grant_now: the set of offers a caller may grant together now, on the shipped policy."""

import dataclasses
import random
from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.app.intake import parse_incident
from service.domain.grant_now import Clash, clash, conflict, grant_now, prioritised
from service.domain.grant_rule import GrantedSoFar, OfferToGrant, RunningTotals, reasons_to_refer
from service.domain.incident import History
from service.domain.money import Money
from service.domain.offer import Offer
from tests.conftest import DESIGN_EXAMPLE, examples
from tests.support.incidents import incident_bodies

ROLES = ["agent", "team_lead", "supervisor", "manager"]
CURRENCIES = ["EUR", "USD", "GBP"]


def decide(shipped, body, role):
    return shipped.decide(parse_incident(body, shipped.policy), role, History())


def chosen(result):
    return [(o.number, o.remedy, o.value.amount) for o in result.offers]


# --- examples -----------------------------------------------------------------------------

def test_readme_example_as_an_agent_is_the_capped_store_credit_alone(shipped):
    policy = shipped.policy
    decision = decide(shipped, DESIGN_EXAMPLE, "agent")
    result = grant_now(decision.offers, policy.roles["agent"], policy, GrantedSoFar(), "EUR")
    # The ask (a refund of 120.00) needs a team lead; its capped variant, 50.00 of store
    # credit, spends the whole per-incident limit: nothing else fits beside it.
    assert chosen(result) == [(2, "store_credit", Decimal("50.00"))]
    assert result.total == Money(Decimal("50.00"), "EUR")
    assert result.total.amount <= policy.roles["agent"].limit("EUR")
    alternatives = [o for o in result.offers
                    if o.remedy in ("refund", "store_credit", "replacement")]
    assert len(alternatives) <= 1


def test_readme_example_as_a_team_lead_grants_the_ask_and_what_combines_with_it(shipped):
    policy = shipped.policy
    decision = decide(shipped, DESIGN_EXAMPLE, "team_lead")
    result = grant_now(decision.offers, policy.roles["team_lead"], policy, GrantedSoFar(),
                       "EUR")
    assert [o.remedy for o in result.offers] == ["refund", "discount", "waived_shipping"]
    assert result.total == Money(Decimal("139.50"), "EUR")


def test_what_is_already_granted_on_the_incident_counts(shipped):
    policy = shipped.policy
    decision = decide(shipped, DESIGN_EXAMPLE, "agent")
    result = grant_now(decision.offers, policy.roles["agent"], policy,
                       GrantedSoFar(incident={"EUR": Decimal("45.00")}), "EUR")
    assert chosen(result) == [(3, "store_credit", Decimal("5.00"))]


def test_kinds_already_granted_on_the_decision_are_not_offered_again(shipped):
    policy = shipped.policy
    decision = decide(shipped, DESIGN_EXAMPLE, "agent")
    discount = next(o for o in decision.offers if o.remedy == "discount")
    result = grant_now(decision.offers, policy.roles["agent"], policy,
                       GrantedSoFar(incident={"EUR": Decimal("12.00")}), "EUR",
                       granted_offers=[discount])
    assert [o.remedy for o in result.offers] == ["store_credit", "waived_shipping"]
    assert result.total == Money(Decimal("12.50"), "EUR")


def test_a_preference_order_reorders_the_policys_offers_after_the_ask(shipped):
    policy = shipped.policy
    decision = decide(shipped, DESIGN_EXAMPLE, "team_lead")
    result = grant_now(decision.offers, policy.roles["team_lead"], policy, GrantedSoFar(),
                       "EUR", preference=["store_credit", "waived_shipping"])
    # The refund asked for (120.00) first; then the preferred 5.00 store credit, which does
    # not combine with a refund, is passed over; 7.50 shipping, then the 12.00 discount.
    assert [o.remedy for o in result.offers] == ["refund", "discount", "waived_shipping"]
    first = prioritised(decision.offers, ["store_credit", "waived_shipping"])
    assert [o.remedy for o in first] == ["refund", "store_credit", "waived_shipping",
                                         "discount"]


def test_without_ask_first_the_preference_orders_the_ask_too(shipped):
    policy = shipped.policy
    decision = decide(shipped, DESIGN_EXAMPLE, "agent")
    result = grant_now(decision.offers, policy.roles["agent"], policy, GrantedSoFar(), "EUR",
                       preference=["discount", "waived_shipping"], ask_first=False)
    assert chosen(result) == [(3, "store_credit", Decimal("5.00")),
                              (4, "discount", Decimal("12.00")),
                              (5, "waived_shipping", Decimal("7.50"))]
    assert result.total == Money(Decimal("24.50"), "EUR")


def test_customer_cap_in_another_currency_is_converted_at_the_policys_rates(shipped):
    policy = shipped.policy
    decision = decide(shipped, DESIGN_EXAMPLE, "agent")
    # 150 USD is 138.00 EUR: 12.00 EUR of the agent's 150.00 EUR customer cap is left.
    result = grant_now(decision.offers, policy.roles["agent"], policy,
                       GrantedSoFar(customer_window={"USD": Decimal("150.00")}), "EUR")
    assert [o.remedy for o in result.offers] == ["store_credit"]
    assert result.total == Money(Decimal("5.00"), "EUR")  # then 12.00 and 7.50 do not fit


@pytest.mark.parametrize(("grants_in_window", "at_most"), [(2, 2), (3, 1), (4, 0), (9, 0)])
def test_the_abuse_signal_bounds_how_many_offers_fit(shipped, grants_in_window, at_most):
    policy = shipped.policy
    assert policy.abuse_grants_in_window == 4
    decision = decide(shipped, DESIGN_EXAMPLE, "manager")
    result = grant_now(decision.offers, policy.roles["manager"], policy,
                       RunningTotals(customer_grants_in_window=grants_in_window), "EUR")
    assert len(result.offers) == at_most
    if not at_most:
        assert result.total == Money(Decimal(0), "EUR")


def test_no_offers_is_an_empty_set(shipped):
    policy = shipped.policy
    result = grant_now((), policy.roles["agent"], policy, GrantedSoFar(), "GBP")
    assert result.offers == () and result.total == Money(Decimal(0), "GBP")


@pytest.mark.parametrize(("kind", "other", "expected"), [
    ("discount", "discount", Clash.SAME_KIND),
    ("refund", "refund", Clash.SAME_KIND),
    ("refund", "store_credit", Clash.ALTERNATIVES),
    ("replacement", "refund", Clash.ALTERNATIVES),
    ("refund", "discount", None),  # a kind that combines goes with anything else
    ("discount", "free_upgrade", None),
])
def test_which_kinds_a_decision_may_grant_together(shipped, kind, other, expected):
    """One rule for grant-now's choice and for granting (service.app.grants)."""
    assert clash(kind, other, shipped.policy) is expected
    assert clash(other, kind, shipped.policy) is expected


def test_an_offer_above_a_lowered_goodwill_ceiling_is_refused_alone(shipped):
    """Decided under 150 %, judged under the active policy's ceiling: a 150.00 refund on a
    100.00 order is past a ceiling of 100.00 whatever else is granted (it had been offered
    in grant_now and granted, while 120.00 in two offers was refused)."""
    refund = Offer(1, "refund", Money(Decimal("150.00"), "EUR"), None, "not_required", None,
                   "r", "why")
    assert conflict(refund, (), shipped.policy, (), Decimal("150.00")) is None
    policy = dataclasses.replace(shipped.policy, max_compensation_percent=Decimal(100))
    assert conflict(refund, (), policy, (), Decimal("100.00")) == (
        "it would bring what this decision grants to 150.00 EUR, above the goodwill ceiling "
        "of 100.00 EUR (100% of the order value)")
    chosen = grant_now((refund,), policy.roles["manager"], policy, GrantedSoFar(), "EUR",
                       ceiling=Decimal("100.00"))
    assert chosen.offers == ()


# --- properties ---------------------------------------------------------------------------

def amounts():
    return st.dictionaries(st.sampled_from(CURRENCIES),
                           st.integers(0, 60_000).map(lambda c: Decimal(c).scaleb(-2)),
                           max_size=3)


@st.composite
def granted_so_far(draw):
    return GrantedSoFar(incident=draw(amounts()), agent_today=draw(amounts()),
                        order=draw(amounts()), customer_window=draw(amounts()),
                        customer_grants_in_window=draw(st.integers(0, 5)))


def rules_broken(offers, role, policy, totals, currency, granted_offers=(), ceiling=None):
    """Every rule the set breaks, checked here from the policy's terms directly."""
    broken = combinations_broken(offers, policy, granted_offers, ceiling)
    kinds = [o.remedy for o in offers]
    total = sum((o.value.amount for o in offers), Decimal(0))
    if any(kind not in role.remedies for kind in kinds):
        broken.append("kind the role may not grant")
    if offers and totals.incident + total > role.limit(currency):
        broken.append("per-incident limit")
    for name, already in [("per_agent_daily_budget", totals.agent_today),
                          ("per_order_cap", totals.order),
                          ("per_customer_cap", totals.customer_window)]:
        cap = role.cap(name, currency)
        if offers and cap is not None and already + total > cap:
            broken.append(name)
    threshold = policy.abuse_grants_in_window
    if (offers and threshold is not None
            and totals.customer_grants_in_window + len(offers) > threshold):
        broken.append("abuse signal")
    return broken


def goodwill_ceiling(body, policy):
    """150 % (the policy's) of the order's value, to the cent (the currencies drawn have
    two decimal places)."""
    value = Decimal(body["order"]["value"]) * policy.max_compensation_percent / 100
    return value.quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def combinations_broken(offers, policy, granted_offers=(), ceiling=None):
    """The rules of which offers a decision may grant together that the set breaks, beside
    the offers already granted on it; with a `ceiling`, offers of the kinds held under the
    goodwill ceiling (neither fixed by law nor with a ceiling of their own) worth more
    together."""
    broken = []
    kinds = policy.remedy_kinds
    goodwill = [o.value.amount for o in [*offers, *granted_offers]
                if not (kinds[o.remedy].statutory or kinds[o.remedy].ceiling_percent)]
    if ceiling is not None and sum(goodwill) > ceiling:
        broken.append("above the goodwill ceiling")
    everything = [*offers, *granted_offers]
    kinds = [o.remedy for o in everything]
    if len(set(kinds)) < len(kinds):
        broken.append("two of one kind")
    if sum(not policy.remedy_kinds[k].combines for k in kinds) > 1:
        broken.append("two alternatives")
    numbers = {o.number for o in everything}
    if any(o.capped_from in numbers for o in everything):
        broken.append("an offer beside its capped variant")
    return broken


@st.composite
def granted_offers_of(draw, offers, policy, ceiling=None):
    """Some of the offers, in any order, that a decision may have granted together."""
    granted = []
    for offer in draw(st.permutations(offers)):
        if draw(st.booleans()) and not combinations_broken([*granted, offer], policy,
                                                           ceiling=ceiling):
            granted.append(offer)
    return granted


@settings(max_examples=examples(300))
@given(body=incident_bodies(), earlier=granted_so_far(), role=st.sampled_from(ROLES),
       preference=st.none() | st.permutations(["discount", "waived_shipping", "store_credit",
                                               "free_upgrade", "refund", "replacement"]),
       ask_first=st.booleans(), data=st.data())
def test_grant_now_is_grantable_maximal_and_deterministic(shipped, body, earlier, role,
                                                          preference, ask_first, data):
    policy = shipped.policy
    terms = policy.roles[role]
    decision = decide(shipped, body, role)
    ceiling = goodwill_ceiling(body, policy)
    granted = data.draw(granted_offers_of(decision.offers, policy, ceiling), label="granted")
    currency = body["order"]["currency"]
    totals = earlier.in_currency(currency, policy.exchange_rates)
    result = grant_now(decision.offers, terms, policy, earlier, currency, preference,
                       granted, ask_first, ceiling)
    picked = list(result.offers)

    # Grantable: every limit, budget and cap holds with what is already granted.
    assert result.total == Money(sum((o.value.amount for o in picked), Decimal(0)), currency)
    assert rules_broken(picked, terms, policy, totals, currency, granted, ceiling) == []
    if picked:
        assert result.total.amount <= terms.limit(currency) - totals.incident
        for name, already in [("per_agent_daily_budget", totals.agent_today),
                              ("per_order_cap", totals.order),
                              ("per_customer_cap", totals.customer_window)]:
            cap = terms.cap(name, currency)
            assert cap is None or result.total.amount <= cap - already
    assert len({o.remedy for o in picked}) == len(picked)
    assert sum(not policy.remedy_kinds[o.remedy].combines for o in picked) <= 1
    assert [o.number for o in picked] == sorted(o.number for o in picked)
    assert all(o in decision.offers for o in picked)

    # Maximal: adding any other offer of the decision breaks a rule.
    for offer in decision.offers:
        if offer not in picked:
            assert rules_broken([*picked, offer], terms, policy, totals, currency,
                                granted, ceiling), offer

    # Deterministic, whatever order the offers come in, and the same from the totals as
    # converted already.
    shuffled = list(decision.offers)
    random.Random(0).shuffle(shuffled)
    assert grant_now(shuffled, terms, policy, earlier, currency, preference,
                     granted, ask_first, ceiling) == result
    assert grant_now(decision.offers, terms, policy, totals, currency, preference,
                     granted, ask_first, ceiling) == result


@settings(max_examples=examples(200))
@given(body=incident_bodies(), role=st.sampled_from(ROLES))
def test_with_nothing_granted_yet_the_ask_or_its_capped_variant_comes_first(shipped, body,
                                                                            role):
    policy = shipped.policy
    decision = decide(shipped, body, role)
    currency = body["order"]["currency"]
    result = grant_now(decision.offers, policy.roles[role], policy, GrantedSoFar(), currency)
    first_fitting = next((o for o in decision.offers
                          if not rules_broken([o], policy.roles[role], policy, RunningTotals(),
                                              currency)), None)
    if first_fitting is None:
        assert result.offers == ()
    else:
        assert first_fitting in result.offers


@settings(max_examples=examples(300))
@given(body=incident_bodies(), earlier=granted_so_far(), role=st.sampled_from(ROLES))
def test_a_decision_counts_the_running_totals_of_its_moment(shipped, body, earlier, role):
    """Decided with what is already granted (History.granted): each approval-free offer is
    grantable alone, each other one is not; a capped variant is within what the caller may
    still give; and the decision's grant_now is the chooser's answer for its offers."""
    policy = shipped.policy
    terms = policy.roles[role]
    currency = body["order"]["currency"]
    decision = shipped.decide(parse_incident(body, policy), role, History(0, earlier))
    totals = earlier.in_currency(currency, policy.exchange_rates)
    for offer in decision.offers:
        alone = rules_broken([offer], terms, policy, totals, currency)
        assert (offer.approval == "not_required") == (not alone), (offer, alone)
        if offer.approval == "not_required":
            assert offer.approver_role is None
        elif offer.approver_role is not None:  # its limits and caps cover it, given the totals
            asked = OfferToGrant(offer.remedy, offer.value.amount, currency)
            assert reasons_to_refer(policy.roles[offer.approver_role], asked, totals, policy,
                                    include_daily_budget=False, include_abuse=False) == []
        if offer.variant == "capped":
            assert offer.approval == "not_required"
            assert offer.value.amount > 0
    assert decision.grant_now == grant_now(decision.offers, terms, policy, earlier, currency,
                                           ceiling=goodwill_ceiling(body, policy))
