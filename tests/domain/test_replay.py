"""What-if replay's comparison and tally alone: pure, decisions made by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from service.domain.decision import Decision
from service.domain.grant_now import GrantNow
from service.domain.money import Money
from service.domain.offer import Offer
from service.domain.records import TracedRule
from service.domain.replay import (
    MAX_REASONS,
    OTHER_REASONS,
    Replayable,
    ReplayTally,
    compare,
    reason_of,
)
from service.domain.vocabulary import Approval, OfferVariant, Outlook

FREE, NEEDED = Approval.NOT_REQUIRED, Approval.REQUIRED
MOMENT = datetime(2026, 11, 1, 12, tzinfo=UTC)


def offer(number, remedy, amount, approval=FREE, approver=None, currency="EUR",
          variant=OfferVariant.FULL, capped_from=None):
    return Offer(number, remedy, Money(Decimal(amount), currency), None, approval, approver,
                 "some-rule", "why", variant=variant, capped_from=capped_from)


def decision(*offers, outlook=Outlook.LIKELY, now=None, rules=("a", "b"), currency="EUR"):
    """`now`: the numbers of the offers in grant_now (None: no grant_now stored)."""
    chosen = None
    if now is not None:
        picked = tuple(o for o in offers if o.number in now)
        chosen = GrantNow(picked, Money(sum((o.value.amount for o in picked), Decimal(0)),
                                        currency))
    return Decision("INC-1", "default", "v1", "agent", 0, outlook, (), (), tuple(offers),
                    tuple(TracedRule(rule, rule, 100) for rule in rules), grant_now=chosen)


def stored(before, request_currency="EUR", role="agent", at=MOMENT, number=1):
    return Replayable(f"D-{number}", f"INC-{number}", at, role,
                      {"order": {"currency": request_currency}}, before)


def test_the_same_answer_is_no_change_even_unrounded():
    before = decision(offer(1, "discount", "12.01"), offer(2, "store_credit", "5.00"), now={1, 2})
    after = decision(offer(1, "discount", "12.005"), offer(2, "store_credit", "5"), now={1, 2})
    difference = compare(before, after)
    assert not difference.changed
    assert (difference.added, difference.removed, difference.approvals_moved) == ((), (), ())


def test_another_value_is_an_offer_removed_and_one_added():
    before = decision(offer(1, "discount", "12.00"), offer(2, "waived_shipping", "7.50"))
    after = decision(offer(1, "discount", "18.00"), offer(2, "waived_shipping", "7.50"))
    difference = compare(before, after)
    assert difference.offers and not difference.outlook and not difference.approvals
    assert [o.value.amount for o in difference.removed] == [Decimal("12.00")]
    assert [o.value.amount for o in difference.added] == [Decimal("18.00")]


def test_variant_and_remedy_tell_offers_apart_and_repeats_are_counted():
    capped = offer(2, "store_credit", "50.00", variant=OfferVariant.CAPPED, capped_from=1)
    before = decision(offer(1, "store_credit", "50.00", NEEDED, "team_lead"), capped)
    after = decision(offer(1, "store_credit", "50.00", NEEDED, "team_lead"),
                     offer(2, "store_credit", "50.00"))
    difference = compare(before, after)
    assert difference.offers
    assert [o.variant for o in difference.removed] == [OfferVariant.CAPPED]
    assert [o.variant for o in difference.added] == [OfferVariant.FULL]
    twice = decision(offer(1, "discount", "5.00"), offer(2, "discount", "5.00"))
    once = decision(offer(1, "discount", "5.00"))
    assert len(compare(twice, once).removed) == 1 and not compare(twice, once).added


def test_only_the_outlook_changes():
    difference = compare(decision(offer(1, "discount", "5.00")),
                         decision(offer(1, "discount", "5.00"), outlook=Outlook.UNCERTAIN))
    assert difference.outlook and not difference.offers and not difference.approvals
    assert difference.changed


def test_approvals_of_offers_both_make():
    before = decision(offer(1, "refund", "120.00", NEEDED, "team_lead"))
    for after in (decision(offer(1, "refund", "120.00")),
                  decision(offer(1, "refund", "120.00", NEEDED, "supervisor"))):
        difference = compare(before, after)
        assert difference.approvals and not difference.offers
        assert [(old.approver_role, new.approver_role)
                for old, new in difference.approvals_moved] == [
            ("team_lead", after.offers[0].approver_role)]


def test_an_offer_moving_out_of_grant_now_is_an_approval_change():
    offers = (offer(1, "discount", "12.00"), offer(2, "waived_shipping", "7.50"))
    before, after = decision(*offers, now={1, 2}), decision(*offers, now={1})
    assert compare(before, after).approvals
    # a decision stored before grant_now existed has nothing to compare it with
    assert not compare(decision(*offers), after).changed


def test_the_tally_sums_money_per_currency_and_counts_rules():
    tally = ReplayTally(sample_size=1)
    capped = offer(3, "store_credit", "50.00", variant=OfferVariant.CAPPED, capped_from=2)
    before = decision(offer(1, "discount", "12.00"), offer(2, "refund", "120.00", NEEDED,
                                                           "team_lead"), capped, now={1, 3})
    after = decision(offer(1, "discount", "18.00"), offer(2, "refund", "120.00", NEEDED,
                                                          "team_lead"), capped, now={1, 3},
                     rules=("a", "c"), outlook=Outlook.UNCERTAIN)
    tally.add(stored(before, number=1), after)
    usd_before = decision(offer(1, "discount", "3.333", currency="USD"), now={1},
                          currency="USD")
    tally.add(stored(usd_before, "USD", at=MOMENT - timedelta(days=2), number=2), usd_before)
    tally.add(stored(before, at=MOMENT + timedelta(days=1), number=3), after)
    assert (tally.read, tally.compared, tally.changed) == (3, 3, 2)
    assert (tally.outlook_changed, tally.offers_changed, tally.approvals_changed) == (2, 2, 0)
    assert tally.outlook_moves == {(Outlook.LIKELY, Outlook.UNCERTAIN): 2}
    assert tally.offered_before == {"EUR": Decimal("264.00"), "USD": Decimal("3.33")}
    assert tally.offered_after == {"EUR": Decimal("276.00"), "USD": Decimal("3.33")}
    assert tally.approval_free_before == {"EUR": Decimal("124.00"), "USD": Decimal("3.33")}
    assert tally.approval_free_after == {"EUR": Decimal("136.00"), "USD": Decimal("3.33")}
    assert tally.fired_before == {"a": 3, "b": 3} and tally.fired_after == {"a": 3, "b": 1,
                                                                           "c": 2}
    assert tally.rules()[:2] == [("b", 3, 1), ("c", 0, 2)]
    assert [changed.stored.id for changed in tally.sample] == ["D-1"]  # bounded
    assert (tally.oldest, tally.newest) == (MOMENT - timedelta(days=2), MOMENT + timedelta(days=1))
    assert tally.currencies() == ["EUR", "USD"]


def test_a_decision_stored_before_grant_now_is_left_out_of_the_approval_free_sums():
    """Its approval-free total is not known, not 0.00: counted, it made a candidate that
    changes nothing look as if it freed the whole of what its grant_now gives."""
    tally = ReplayTally()
    offers = (offer(1, "discount", "12.00"), offer(2, "waived_shipping", "7.50"))
    tally.add(stored(decision(*offers), number=1), decision(*offers, now={1, 2}))
    tally.add(stored(decision(*offers, now={1}), number=2), decision(*offers, now={1}))
    assert (tally.compared, tally.changed, tally.approval_free_unknown) == (2, 0, 1)
    assert tally.approval_free_before == tally.approval_free_after == {"EUR": Decimal("12.00")}
    assert tally.offered_before == tally.offered_after == {"EUR": Decimal("39.00")}


def test_refusals_and_missing_roles_are_counted_apart():
    tally = ReplayTally()
    for number in range(MAX_REASONS + 3):
        tally.refused(stored(decision(), number=number), f"reason {number % (MAX_REASONS + 1)}")
    tally.without_role(stored(decision(), role="shift_lead"))
    assert tally.read == MAX_REASONS + 4 and tally.compared == 0
    assert tally.not_decidable_count == MAX_REASONS + 3
    assert len(tally.not_decidable) == MAX_REASONS + 1
    assert tally.not_decidable[OTHER_REASONS] == 1 and tally.not_decidable["reason 0"] == 2
    assert tally.role_missing == {"shift_lead": 1} and tally.role_missing_count == 1
    assert tally.offered_before == {} and tally.fired_before == {}


def test_a_refusal_reads_as_one_line():
    assert reason_of({"order.currency": ["Policy p supports EUR."],
                      "failure.category": ["Unknown category.", "Really."]}) == (
        "failure.category: Unknown category. Really.; order.currency: Policy p supports EUR.")
