"""Pricing of a remedy: the one place that says what a proposed remedy is worth."""

from __future__ import annotations

from decimal import Decimal

from service.domain.incident import CustomerAsk, Order
from service.domain.money import round_down_money, round_money
from service.domain.policy_terms import RemedyProposalTerms

HUNDRED = Decimal(100)
# What a remedy is naturally worth when a customer asks for it without naming an amount.
NATURAL_VALUE = {
    "waived_shipping": "shipping_fee",
    "free_upgrade": "upgrade_cost",
    "replacement": "order_value",
    "refund": "order_value",
}


def basis_value(basis: str, order: Order) -> Decimal | None:
    if basis == "shipping_fee":
        return order.shipping_fee
    if basis == "upgrade_cost":
        return order.upgrade_cost
    if basis == "order_value":
        return order.value
    raise ValueError(f"not a value basis: {basis}")


def proposal_value(proposal: RemedyProposalTerms, order: Order) -> Decimal | None:
    """The full value of a rule's proposal in the order's currency, before any ceiling."""
    if proposal.basis == "percent":
        value = order.value * proposal.percent / HUNDRED
    elif proposal.basis == "amount":
        value = dict(proposal.amounts)[order.currency]
    else:
        value = basis_value(proposal.basis, order)
    if value is None:
        return None
    if proposal.cap_percent is not None:
        value = min(value, order.value * proposal.cap_percent / HUNDRED)
    if proposal.cap_amounts:
        value = min(value, dict(proposal.cap_amounts)[order.currency])
    return round_money(value, order.currency)


def ask_value(ask: CustomerAsk, order: Order) -> Decimal | None:
    if ask.amount is not None:
        return round_money(ask.amount, order.currency)
    if ask.percent is not None:
        return round_money(order.value * ask.percent / HUNDRED, order.currency)
    natural = NATURAL_VALUE.get(ask.remedy)
    return basis_value(natural, order) if natural else None


def ceiling(order: Order, max_percent: Decimal) -> Decimal:
    """The most any one offer may be worth: over-compensation lowers loyalty."""
    return round_down_money(order.value * max_percent / HUNDRED, order.currency)


def percent_of(value: Decimal, order: Order) -> Decimal | None:
    if not order.value:
        return None
    return (value * HUNDRED / order.value).quantize(Decimal("0.01"))
