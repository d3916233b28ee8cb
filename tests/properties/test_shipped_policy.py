"""Properties of every decision the shipped policy makes, through the real engine."""

import copy
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from service.app.intake import parse_incident
from service.domain.decision import decide
from service.domain.grant_rule import OfferToGrant, may_grant_alone
from service.domain.incident import History
from service.domain.running_totals import GrantedSoFar
from service.policy.conditions import fired_by_reference
from tests.conftest import examples
from tests.support.incidents import incident_bodies

ROLES = ["agent", "team_lead", "supervisor", "manager"]
OUTLOOK_RANK = {"unlikely": 0, "uncertain": 1, "likely": 2}


def decisions_for_every_role(shipped, body, history=None):
    incident = parse_incident(body, shipped.policy)
    return {role: shipped.decide(incident, role, history or History()) for role in ROLES}


def full_offers(decision):
    return [(o.remedy, o.value, o.percent, o.source, o.rule) for o in decision.offers
            if o.variant == "full"]


@settings(max_examples=examples(300))
@given(body=incident_bodies())
def test_approval_free_offers_never_exceed_the_callers_limits(shipped, body):
    policy = shipped.policy
    for role, decision in decisions_for_every_role(shipped, body).items():
        limits = policy.roles[role]
        for offer in decision.offers:
            if offer.approval == "not_required":
                assert offer.remedy in limits.remedies
                assert offer.value.amount <= limits.limit(offer.value.currency)
            else:
                approver = policy.roles[offer.approver_role]
                assert offer.remedy in approver.remedies
                assert offer.value.amount <= approver.limit(offer.value.currency)
            ceiling = Decimal(body["order"]["value"]) * Decimal("1.5")
            assert offer.value.amount <= ceiling
            assert offer.value.amount > 0


@settings(max_examples=examples(300))
@given(body=incident_bodies())
def test_full_proposals_are_the_same_whoever_asks(shipped, body):
    decisions = decisions_for_every_role(shipped, body)
    proposals = {role: full_offers(d) for role, d in decisions.items()}
    assert all(p == proposals["agent"] for p in proposals.values())
    outlooks = {d.outlook for d in decisions.values()}
    assert len(outlooks) == 1


@settings(max_examples=examples(300))
@given(body=incident_bodies(), role=st.sampled_from(ROLES))
def test_higher_severity_never_lowers_the_largest_full_offer(shipped, body, role):
    def largest(severity):
        changed = copy.deepcopy(body)
        changed["failure"]["severity"] = severity
        incident = parse_incident(changed, shipped.policy)
        values = [o.value.amount for o in shipped.decide(incident, role).offers
                  if o.variant == "full"]
        return max(values, default=Decimal(0))

    sizes = [largest(severity) for severity in range(1, 6)]
    assert sizes == sorted(sizes), sizes


@settings(max_examples=examples(300))
@given(body=incident_bodies(), earlier=st.integers(0, 4), more=st.integers(1, 3))
def test_a_repeat_failure_never_improves_the_outlook(shipped, body, earlier, more):
    body["customer"].pop("prior_failures", None)
    incident = parse_incident(body, shipped.policy)
    fewer = shipped.decide(incident, "agent", History(earlier)).outlook
    repeat = shipped.decide(incident, "agent", History(earlier + more)).outlook
    assert OUTLOOK_RANK[repeat] <= OUTLOOK_RANK[fewer]


@settings(max_examples=examples(200))
@given(body=incident_bodies(), role=st.sampled_from(ROLES))
def test_decisions_are_deterministic_and_the_engine_agrees_with_the_reference(shipped, body,
                                                                              role):
    policy = shipped.policy
    incident = parse_incident(body, policy)
    first = shipped.decide(incident, role)
    again = shipped.decide(parse_incident(copy.deepcopy(body), policy), role)
    by_reference = decide(incident, History(), policy, role,
                          lambda fact: fired_by_reference(policy.rules, fact))
    assert first == again == by_reference


@settings(max_examples=examples(200))
@given(body=incident_bodies())
def test_likely_only_when_all_three_paradox_conditions_hold(shipped, body):
    incident = parse_incident(body, shipped.policy)
    decision = shipped.decide(incident, "agent")
    if decision.outlook == "likely":
        assert decision.prior_failures == 0
        assert incident.failure.severity <= 2
        assert incident.failure.avoidable is False


def granted_so_far():
    amounts = st.decimals(min_value=0, max_value=6000, places=2)
    in_eur = st.builds(lambda amount: {"EUR": amount} if amount else {}, amounts)
    return st.builds(GrantedSoFar, agent_today=in_eur, order=in_eur, customer_window=in_eur,
                     customer_grants_in_window=st.integers(0, 6))


@settings(max_examples=examples(300))
@given(body=incident_bodies(), role=st.sampled_from(ROLES), granted=granted_so_far())
def test_no_offer_is_proposed_that_no_role_may_grant(shipped, body, role, granted):
    """Whatever is granted already on the order, to the customer or by the caller today:
    an offer is approval-free for the caller, or names a role whose limits and caps cover
    it now (its approver's own daily budget is weighed when approving)."""
    policy = shipped.policy
    incident = parse_incident(body, policy)
    decision = shipped.decide(incident, role, History(0, granted))
    totals = granted.in_currency(incident.order.currency, policy.exchange_rates)
    for offer in decision.offers:
        asked = OfferToGrant(offer.remedy, offer.value.amount, offer.value.currency)
        if offer.approval == "not_required":
            assert may_grant_alone(policy.roles[role], asked, totals, policy)
        else:
            assert offer.approver_role is not None, (offer, decision.notes)
            assert may_grant_alone(policy.roles[offer.approver_role], asked, totals, policy,
                                   include_daily_budget=False, include_abuse=False)
