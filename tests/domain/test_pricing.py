"""Pricing of a remedy: the one place that says what a proposal or an ask is worth."""

from dataclasses import dataclass
from decimal import Decimal

from service.domain.incident import CustomerAsk, Order
from service.domain.pricing import ask_value, ceiling, percent_of, proposal_value

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


def test_an_ask_by_amount_percent_or_its_natural_value():
    assert ask_value(CustomerAsk("refund", amount=Decimal("30")), ORDER) == Decimal("30.00")
    assert ask_value(CustomerAsk("discount", percent=Decimal("10")), ORDER) == Decimal("12.00")
    assert ask_value(CustomerAsk("refund"), ORDER) == Decimal("120.00")
    assert ask_value(CustomerAsk("waived_shipping"), ORDER) == Decimal("7.50")
    assert ask_value(CustomerAsk("meal_voucher"), ORDER) is None


def test_the_ceiling_and_percent_of_the_order():
    assert ceiling(ORDER, Decimal("150")) == Decimal("180.00")
    assert percent_of(Decimal("18"), ORDER) == Decimal("15.00")
    assert percent_of(Decimal("1"), Order("O-2", Decimal("0"), "EUR")) is None
