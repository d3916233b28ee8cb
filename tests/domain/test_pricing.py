"""Pricing of a remedy: the one place that says what a proposal or an ask is worth."""

from dataclasses import dataclass
from decimal import Decimal

from service.app.active_policy import read_policy
from service.app.intake import parse_incident
from service.domain.decision import decide
from service.domain.incident import CustomerAsk, History, Order
from service.domain.pricing import (
    ask_value,
    ceiling,
    percent_of,
    proposal_value,
    worth_in_kind,
)
from service.policy.conditions import fired_by_reference
from tests.conftest import design_example
from tests.support.policy_files import copy_policy

ORDER = Order("O-1", Decimal("120.00"), "EUR", shipping_fee=Decimal("7.50"),
              upgrade_cost=None)


@dataclass(frozen=True)
class Proposal:
    kind: str
    basis: str
    percent: Decimal | None = None
    amounts: tuple = ()
    cap_percent: Decimal | None = None
    cap_amounts: tuple = ()
    reason: str | None = None
    compute: object = None
    cap_compute: object = None


def test_a_percent_of_the_order_rounded_in_its_currency():
    assert proposal_value(Proposal("discount", "percent", Decimal("12.5")), ORDER) == \
        Decimal("15.00")


def test_a_fixed_amount_in_the_orders_currency():
    proposal = Proposal("store_credit", "amount", amounts=(("EUR", Decimal("5")),
                                                          ("USD", Decimal("6"))))
    assert proposal_value(proposal, ORDER) == Decimal("5.00")


def test_values_from_the_order_and_missing_ones():
    assert proposal_value(Proposal("waived_shipping", "shipping_fee"), ORDER) == Decimal("7.50")
    assert proposal_value(Proposal("free_upgrade", "upgrade_cost"), ORDER) is None


def test_caps_hold_the_value_down():
    by_percent = Proposal("refund", "order_value", cap_percent=Decimal("50"))
    by_amount = Proposal("refund", "order_value", cap_amounts=(("EUR", Decimal("40")),))
    assert proposal_value(by_percent, ORDER) == Decimal("60.00")
    assert proposal_value(by_amount, ORDER) == Decimal("40.00")


def test_a_value_is_never_above_its_cap_after_rounding():
    """60 % capped at 50 % of 1001 JPY is 500, not 501 (500.5 rounded half up); 30 % capped
    at 25 % of 10.01 EUR is 2.50; a value under its cap still rounds half up."""
    yen = Order("O-3", Decimal("1001"), "JPY")
    capped = Proposal("discount", "percent", Decimal("60"), cap_percent=Decimal("50"))
    assert proposal_value(capped, yen) == Decimal("500")
    euros = Order("O-4", Decimal("10.01"), "EUR")
    capped = Proposal("discount", "percent", Decimal("30"), cap_percent=Decimal("25"))
    assert proposal_value(capped, euros) == Decimal("2.50")
    by_amount = Proposal("discount", "percent", Decimal("60"),
                         cap_amounts=(("JPY", Decimal("600.5")),))
    assert proposal_value(by_amount, yen) == Decimal("600")
    under = Proposal("discount", "percent", Decimal("50"), cap_percent=Decimal("60"))
    assert proposal_value(under, yen) == Decimal("501")  # 500.5, well under its cap of 600.6
    # Under the cap, but rounded half up past it: held at the cap rounded down.
    close = Proposal("discount", "percent", Decimal("50"), cap_percent=Decimal("50.01"))
    assert proposal_value(close, yen) == Decimal("500")  # 500.5 -> 501 > 500.6
    close = Proposal("discount", "percent", Decimal("12.35"), cap_percent=Decimal("12.36"))
    assert proposal_value(close, Order("O-5", Decimal("10.00"), "EUR")) == Decimal("1.23")


def test_a_remedy_given_in_kind_is_worth_what_the_order_says_it_costs():
    assert worth_in_kind("waived_shipping", ORDER) == Decimal("7.50")
    assert worth_in_kind("replacement", ORDER) == Decimal("120.00")
    assert worth_in_kind("free_upgrade", ORDER) is None  # the order does not say
    assert worth_in_kind("refund", ORDER) is None  # money: held by the ceilings instead
    assert worth_in_kind("store_credit", ORDER) is None


def test_an_ask_by_amount_percent_or_its_natural_value():
    # compared as text: Decimal("30") == Decimal("30.00"), and the minor unit is the point
    assert str(ask_value(CustomerAsk("refund", amount=Decimal("30")), ORDER)) == "30.00"
    assert str(ask_value(CustomerAsk("discount", percent=Decimal("10")), ORDER)) == "12.00"
    assert str(ask_value(CustomerAsk("refund"), ORDER)) == "120.00"
    assert str(ask_value(CustomerAsk("waived_shipping"), ORDER)) == "7.50"
    assert ask_value(CustomerAsk("meal_voucher"), ORDER) is None


def test_the_ceiling_and_percent_of_the_order():
    assert ceiling(ORDER, Decimal("150")) == Decimal("180.00")
    assert percent_of(Decimal("18"), ORDER) == Decimal("15.00")
    assert percent_of(Decimal("1"), Order("O-2", Decimal("0"), "EUR")) is None


def test_a_percent_of_the_order_is_never_0_for_a_value_that_is_not():
    huge = Order("O-2", Decimal("99999999.99"), "EUR", shipping_fee=None, upgrade_cost=None)
    assert percent_of(Decimal("2000.00"), huge) == Decimal("0.0020")
    assert percent_of(Decimal("0.01"), huge) == Decimal("1.0E-8")
    assert percent_of(Decimal("0"), huge) == 0
    assert percent_of(Decimal("12.00"), ORDER) == Decimal("10.00")
    assert percent_of(Decimal("0.01"), ORDER) == Decimal("0.01")  # 0.0083: two places do


@dataclass(frozen=True)
class Computed:
    """A computed value or cap (service.policy.expressions), here a number given."""

    amount: Decimal | None

    def value(self, facts, currency):
        return self.amount


def test_a_value_computed_beyond_any_amount_is_unknown_either_way():
    """Beyond +-1,000,000,000 a remedy's value is unknown, as a derived fact's is (left out
    with a note), never held at the largest amount: a statutory kind would be offered whole
    at it, any other at its ceiling. Up to it, a value is known."""
    for beyond in (Decimal("1200000000"), Decimal("1000000000.001"), Decimal("1e30"),
                   Decimal("-1000000000.001"), Decimal("-1499999999250")):
        computed = Proposal("cash_compensation", "compute", compute=Computed(beyond))
        assert proposal_value(computed, ORDER) is None, beyond
    at_most = Proposal("refund", "compute", compute=Computed(Decimal("1000000000")))
    assert proposal_value(at_most, ORDER) == Decimal("1000000000.00")
    least = Proposal("refund", "compute", compute=Computed(Decimal("-1000000000")))
    assert proposal_value(least, ORDER) == Decimal("-1000000000.00")  # less than nothing


def test_a_computed_cap_beyond_any_amount_holds_nothing_back():
    """A cap beyond any amount is held there (so it rounds): a value, never beyond, is kept
    whole under it; a cap far below zero leaves the remedy less than nothing."""
    huge = Decimal("1e30")
    capped = Proposal("refund", "order_value", cap_compute=Computed(huge ** 2))
    assert proposal_value(capped, ORDER) == Decimal("120.00")
    largest = Proposal("refund", "compute", compute=Computed(Decimal("1000000000")),
                       cap_compute=Computed(huge))
    assert proposal_value(largest, ORDER) == Decimal("1000000000.00")
    below = Proposal("refund", "order_value", cap_compute=Computed(-huge))
    assert proposal_value(below, ORDER) < 0


BEYOND_RULES = """\
rules:
  - id: twice-the-order
    description: Twice the order value, fixed by law.
    priority: 900
    then:
      remedies:
        - kind: cash_compensation
          compute: order.value * 2
  - id: refund-twice
    description: Twice the order value back, as goodwill.
    priority: 902
    then:
      remedies:
        - kind: refund
          compute: order.value * 2
"""


def decided(tmp_path, order_value: str):
    """A decision for the manager, who may grant up to 1,000,000,000 EUR on an incident, under
    the shipped policy with a statutory cash_compensation and the rules above."""
    folder = copy_policy(tmp_path / "policy")
    with (folder / "policy.yaml").open("a") as policy_file:
        policy_file.write("remedy_kinds:\n  cash_compensation: {scales: false, statutory: true}\n")
    roles = (folder / "roles.yaml").read_text()
    others, manager = roles.split("\n  manager:\n")
    manager = manager.replace('per_incident_limit: {EUR: "2000.00"',
                              'per_incident_limit: {EUR: "1000000000"', 1)
    manager = manager.replace("refund, replacement]", "refund, replacement, cash_compensation]", 1)
    (folder / "roles.yaml").write_text(f"{others}\n  manager:\n{manager}")
    (folder / "beyond.yaml").write_text(BEYOND_RULES)
    (folder / "tests.yaml").write_text("tests: []\n")
    policy = read_policy(folder)
    body = design_example(customer_ask=None, order__value=order_value)
    return decide(parse_incident(body, policy), History(), policy, "manager",
                  lambda fact: fired_by_reference(policy.rules, fact))


def test_a_remedy_computed_beyond_any_amount_is_left_out_with_a_note(tmp_path):
    """Twice an order of 600,000,000.00 is unknown: the statutory kind is not offered whole
    at 1,000,000,000.00, the refund not at its ceiling; each is left out with the note of an
    unknown value. Twice 499,999,999.99 is known and offered."""
    decision = decided(tmp_path / "beyond", "600000000.00")
    offered = {o.remedy: o.value.amount for o in decision.offers}
    assert "cash_compensation" not in offered and "refund" not in offered
    for rule, kind in (("twice-the-order", "cash_compensation"),
                       ("refund-twice", "refund")):
        assert any(note.startswith(f"{rule}: {kind} left out, its value is unknown here")
                   for note in decision.notes), (rule, decision.notes)
    within = decided(tmp_path / "within", "499999999.99")
    offered = {o.remedy: o.value.amount for o in within.offers}
    assert offered["cash_compensation"] == Decimal("999999999.98")
    assert not any("unknown" in note for note in within.notes)


def test_a_percent_is_stated_as_written_unless_the_value_offered_is_another_share():
    from service.domain.pricing import stated_percent

    def order(value, currency="EUR"):
        return Order("O-1", Decimal(value), currency, shipping_fee=None, upgrade_cost=None)

    # Exactly that percent, or the same share to two places: as written.
    assert str(stated_percent(Decimal("15"), Decimal("18.00"), order("120.00"))) == "15"
    assert str(stated_percent(Decimal("15"), Decimal("5.00"), order("33.33"))) == "15"
    assert str(stated_percent(Decimal("12.345"), Decimal("12345.00"),
                              order("100000.00"))) == "12.345"
    # Moved by rounding to the minor unit: restated.
    assert stated_percent(Decimal("10"), Decimal("11"), order("105", "JPY")) == \
        Decimal("10.48")
    assert str(stated_percent(Decimal("0.05"), Decimal("1"), order("1000", "JPY"))) == "0.10"
    # Held lower by a cap: restated, as before.
    assert stated_percent(Decimal("20"), Decimal("150.00"), order("1000.00")) == Decimal("15")
