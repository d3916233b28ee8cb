"""The grant check alone (pure): what passes without approval stays within every limit."""

from dataclasses import replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from service.config import shipped_policy
from service.domain.grant_rule import (
    OfferToGrant,
    RunningTotals,
    approver_role,
    may_grant_alone,
    most_any_role_may_grant,
    reasons_to_refer,
    room,
)
from service.policy.loader import load_policy

POLICY = load_policy(shipped_policy())
amounts = st.integers(0, 600_000).map(lambda cents: Decimal(cents) / 100)
offers = st.builds(OfferToGrant, st.sampled_from(sorted(POLICY.remedy_kinds)), amounts,
                   st.sampled_from(POLICY.currencies))
totals = st.builds(RunningTotals, amounts, amounts, amounts, amounts, st.integers(0, 8))


@given(role=st.sampled_from(POLICY.escalation), offer=offers, already=totals)
def test_a_grant_without_approval_never_exceeds_a_limit_or_cap(role, offer, already):
    role = POLICY.roles[role]
    if reasons_to_refer(role, offer, already, POLICY):
        return
    currency, amount = offer.currency, offer.amount
    assert offer.remedy in role.remedies
    assert already.incident + amount <= role.limit(currency)
    for name, total in (("per_agent_daily_budget", already.agent_today),
                        ("per_order_cap", already.order),
                        ("per_customer_cap", already.customer_window)):
        cap = role.cap(name, currency)
        assert cap is None or total + amount <= cap
    assert already.customer_grants_in_window < POLICY.abuse_grants_in_window


@given(role=st.sampled_from(POLICY.escalation), offer=offers, already=totals,
       budget=st.booleans(), abuse=st.booleans())
def test_may_grant_alone_is_having_no_reason_to_refer(role, offer, already, budget, abuse):
    role = POLICY.roles[role]
    assert may_grant_alone(role, offer, already, POLICY, budget, abuse) == (
        not reasons_to_refer(role, offer, already, POLICY, budget, abuse))


@given(role=st.sampled_from(POLICY.escalation), offer=offers, already=totals)
def test_the_named_approver_covers_the_offer_and_is_above_the_caller_on_abuse(role, offer,
                                                                              already):
    caller = POLICY.roles[role]
    name = approver_role(POLICY, caller, offer, already)
    if name is None:
        return
    approver = POLICY.roles[name]
    assert not reasons_to_refer(approver, offer, already, POLICY, include_daily_budget=False,
                                include_abuse=False)
    if already.customer_grants_in_window >= POLICY.abuse_grants_in_window:
        chain = POLICY.escalation
        assert chain.index(name) > chain.index(role) or role == chain[-1]


def test_every_reason_is_listed():
    agent = POLICY.roles["agent"]
    offer = OfferToGrant("refund", Decimal("120.00"), "EUR")
    reasons = reasons_to_refer(agent, offer, RunningTotals(
        Decimal(0), Decimal("490"), Decimal("0"), Decimal("100"), 4), POLICY)
    assert len(reasons) == 6  # kind, per-incident, daily budget, per-order, per-customer, abuse


# ---- limits and caps in words: in the minor unit, however the policy wrote them ----------

def written_as(order_cap: str):
    """The shipped policy with an agent of EUR, JPY and USD whose per-incident limit and
    per-order cap are held as a file may write them: 5E+1 EUR (the cap `order_cap` EUR),
    8.0E+3 JPY, 55.000 USD."""
    def table(eur: str) -> tuple:
        return (("EUR", Decimal(eur)), ("JPY", Decimal("8.0E+3")), ("USD", Decimal("55.000")))
    agent = replace(POLICY.roles["agent"], per_incident_limit=table("5E+1"),
                    per_order_cap=table(order_cap), per_agent_daily_budget=None,
                    per_customer_cap=None)
    return agent, replace(POLICY, roles={**POLICY.roles, "agent": agent})


def test_reasons_to_refer_write_limits_and_caps_in_the_minor_unit():
    agent, policy = written_as("1E+2")
    reasons = reasons_to_refer(agent, OfferToGrant("discount", Decimal("120"), "EUR"),
                               RunningTotals(order=Decimal("2E+1")), policy)
    assert reasons == [
        "120.00 EUR would exceed the agent per-incident limit of 50.00 EUR "
        "(0.00 EUR already granted on this incident)",
        "120.00 EUR would exceed the agent per-order cap of 100.00 EUR "
        "(20.00 EUR already granted on this order)"]
    reason = reasons_to_refer(agent, OfferToGrant("discount", Decimal("100000"), "JPY"),
                              RunningTotals(), policy)[0]
    assert reason == ("100000 JPY would exceed the agent per-incident limit of 8000 JPY "
                      "(0 JPY already granted on this incident)")
    reason = reasons_to_refer(agent, OfferToGrant("discount", Decimal("60.00"), "USD"),
                              RunningTotals(), policy)[0]
    assert "per-incident limit of 55.00 USD (0.00 USD already" in reason


def test_room_names_its_limit_or_cap_in_the_minor_unit():
    agent, policy = written_as("6E+1")
    assert room(agent, RunningTotals(), "EUR", policy).binding == \
        "your per-incident limit of 50.00 EUR"
    assert room(agent, RunningTotals(incident=Decimal(10)), "EUR", policy).binding == \
        "what is left of your per-incident limit of 50.00 EUR"
    assert room(agent, RunningTotals(order=Decimal(20)), "EUR", policy).binding == \
        "what is left of your per-order cap of 60.00 EUR"
    assert room(agent, RunningTotals(), "JPY", policy).binding == \
        "your per-incident limit of 8000 JPY"
    assert room(agent, RunningTotals(), "USD", policy).binding == \
        "your per-incident limit of 55.00 USD"


def test_the_most_any_role_may_grant_names_its_limit_or_cap_in_the_minor_unit():
    _, policy = written_as("3E+1")
    most = most_any_role_may_grant(policy, "discount", RunningTotals(), "JPY", ("agent",))
    assert most.binding == "the agent per-incident limit of 8000 JPY"
    most = most_any_role_may_grant(policy, "discount", RunningTotals(order=Decimal(10)), "EUR",
                                   ("agent",))
    assert most.binding == "what is left of the agent per-order cap of 30.00 EUR"
