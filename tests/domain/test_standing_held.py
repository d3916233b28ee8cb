"""Where a stored decision's offers stand for a caller now (service.domain.standing), held
where the rest of the suite did not look (each test fails when what it names is broken:
found by mutating the code): grant_now under the goodwill ceiling with what was granted, the
policy's ask_first, an ask never beside its capped variant; kinds fixed by law or with a
ceiling of their own outside the goodwill ceiling; kinds a later version dropped; the abuse
signal and the daily budget in each offer's approval."""
from dataclasses import replace
from decimal import Decimal

from service.app.intake import parse_incident
from service.domain.grant_rule import GrantedSoFar
from service.domain.incident import History
from service.domain.money import Money
from service.domain.offer import Offer
from service.domain.standing import standing
from service.domain.vocabulary import OfferState
from tests.conftest import DESIGN_EXAMPLE


def eur(number, remedy, amount):
    return Offer(number, remedy, Money(Decimal(amount), "EUR"), None, "not_required", None,
                 "r", "why")


def test_grant_now_counts_the_granted_offers_toward_the_goodwill_ceiling(shipped):
    """Order of 100.00: ceiling 150.00. A refund of 100.00 granted; a discount of 30.00 and
    a free upgrade of 30.00 each fit beside it, not both (160.00)."""
    offers = [eur(1, "refund", "100.00"), eur(2, "discount", "30.00"),
              eur(3, "free_upgrade", "30.00")]
    states = {1: OfferState.GRANTED, 2: OfferState.PROPOSED, 3: OfferState.PROPOSED}
    policy = shipped.policy
    now = standing(offers, states, policy.roles["manager"], policy,
                   GrantedSoFar(incident={"EUR": Decimal("100.00")}), "EUR",
                   ceiling=Decimal("150.00"))
    assert now.offers[2].grantable and now.offers[3].grantable  # each alone
    assert [o.number for o in now.grant_now.offers] == [2]  # not both
    assert now.grant_now.total == Money(Decimal("30.00"), "EUR")


def test_grant_now_keeps_a_set_under_the_goodwill_ceiling(shipped):
    offers = [eur(1, "discount", "90.00"), eur(2, "free_upgrade", "90.00")]
    states = {1: OfferState.PROPOSED, 2: OfferState.PROPOSED}
    policy = shipped.policy
    now = standing(offers, states, policy.roles["manager"], policy, GrantedSoFar(), "EUR",
                   ceiling=Decimal("150.00"))
    assert [o.number for o in now.grant_now.offers] == [1]


def test_a_fresh_grant_now_follows_the_policys_ask_first(shipped):
    policy = replace(shipped.policy, grant_ask_first=False,
                     grant_preference=("discount", "waived_shipping"))
    decision = shipped.decide(parse_incident(DESIGN_EXAMPLE, shipped.policy), "agent",
                              History())
    states = {o.number: OfferState.PROPOSED for o in decision.offers}
    now = standing(decision.offers, states, policy.roles["agent"], policy, GrantedSoFar(),
                   "EUR")
    assert now.grant_now.total == Money(Decimal("24.50"), "EUR")


def test_an_offer_of_a_dropped_kind_says_so(shipped):
    decision = shipped.decide(parse_incident(DESIGN_EXAMPLE, shipped.policy), "team_lead",
                              History())
    kinds = {k: v for k, v in shipped.policy.remedy_kinds.items() if k != "discount"}
    roles = {name: replace(role, remedies=tuple(r for r in role.remedies if r != "discount"))
             for name, role in shipped.policy.roles.items()}
    policy = replace(shipped.policy, remedy_kinds=kinds, roles=roles)
    states = {o.number: OfferState.PROPOSED for o in decision.offers}
    now = standing(decision.offers, states, policy.roles["team_lead"], policy, GrantedSoFar(),
                   "EUR")
    discount = next(o for o in decision.offers if o.remedy == "discount")
    assert now.offers[discount.number].why_not == (
        "the active policy has no remedy kind discount",)


def _readme_now(shipped, granted):
    decision = shipped.decide(parse_incident(DESIGN_EXAMPLE, shipped.policy), "agent",
                              History())
    states = {o.number: OfferState.PROPOSED for o in decision.offers}
    policy = shipped.policy
    now = standing(decision.offers, states, policy.roles["agent"], policy, granted, "EUR")
    discount = next(o for o in decision.offers if o.remedy == "discount")
    return now.offers[discount.number]


def test_past_the_abuse_signal_nothing_stands_grantable_without_approval(shipped):
    discount = _readme_now(shipped, GrantedSoFar(customer_grants_in_window=4))
    assert (discount.approval, discount.approver_role, discount.grantable) == (
        "required", "team_lead", False)


def test_a_spent_daily_budget_makes_an_offer_need_approval(shipped):
    discount = _readme_now(shipped, GrantedSoFar(agent_today={"EUR": Decimal("495.00")}))
    assert (discount.approval, discount.grantable) == ("required", False)


def test_a_fresh_grant_now_never_holds_an_ask_beside_its_capped_variant(shipped):
    """Decided for an agent (a free upgrade of 80.00 it may not grant, and store credit
    capped to 50.00 in its place); a team lead may grant either now, not both."""
    body = {**DESIGN_EXAMPLE, "order": {**DESIGN_EXAMPLE["order"], "upgrade_cost": "80.00"},
            "customer_ask": {"remedy": "free_upgrade"}}
    decision = shipped.decide(parse_incident(body, shipped.policy), "agent", History())
    ask, variant = decision.offers[:2]
    assert variant.capped_from == ask.number
    states = {o.number: OfferState.PROPOSED for o in decision.offers}
    policy = shipped.policy
    now = standing(decision.offers, states, policy.roles["team_lead"], policy, GrantedSoFar(),
                   "EUR", ceiling=Decimal("180.00"))
    numbers = [o.number for o in now.grant_now.offers]
    assert not (ask.number in numbers and variant.number in numbers), numbers


def _with(shipped, kind, **terms):
    kinds = dict(shipped.policy.remedy_kinds)
    kinds[kind] = replace(kinds[kind], **terms)
    return replace(shipped.policy, remedy_kinds=kinds)


def test_kinds_fixed_by_law_or_with_their_own_ceiling_are_outside_the_goodwill_ceiling(
        shipped):
    """README: never above 150% of the order value ... (kinds fixed by law, or with a
    ceiling of their own, aside). Order of 100.00: goodwill ceiling 150.00."""
    from service.domain.grant_now import conflict
    refund, discount = eur(1, "refund", "200.00"), eur(2, "discount", "100.00")
    for policy in (_with(shipped, "refund", statutory=True),
                   _with(shipped, "refund", ceiling_percent=Decimal(300))):
        assert conflict(refund, (), policy, (), Decimal("150.00")) is None  # alone
        assert conflict(discount, (), policy, (refund,), Decimal("150.00")) is None
        assert conflict(discount, (refund,), policy, (), Decimal("150.00")) is None


def test_a_granted_offer_of_a_kind_the_policy_dropped_still_excludes_and_counts(shipped):
    from service.domain.grant_now import conflict
    kinds = {k: v for k, v in shipped.policy.remedy_kinds.items() if k != "replacement"}
    policy = replace(shipped.policy, remedy_kinds=kinds)
    replacement = eur(1, "replacement", "120.00")  # granted under the version that had it
    assert conflict(eur(2, "refund", "20.00"), (), policy, (replacement,), None) is not None
    assert conflict(eur(3, "discount", "40.00"), (), policy, (replacement,),
                    Decimal("150.00")) is not None  # 160.00 > 150.00
