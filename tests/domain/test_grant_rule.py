"""The grant check alone (pure): what passes without approval stays within every limit."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from service.config import shipped_policy
from service.domain.grant_rule import (
    OfferToGrant,
    RunningTotals,
    approver_role,
    may_grant_alone,
    reasons_to_refer,
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
