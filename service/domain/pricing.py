"""Pricing of a remedy: the one place that says what a proposed remedy is worth."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from service.domain.incident import CustomerAsk, Order
from service.domain.money import MAX_AMOUNT, round_down_money, round_money
from service.domain.policy_terms import RemedyProposalTerms
from service.domain.vocabulary import Basis

HUNDRED = Decimal(100)
# What a remedy is naturally worth when a customer asks for it without naming an amount.
NATURAL_VALUE = {
    "waived_shipping": Basis.SHIPPING_FEE,
    "free_upgrade": Basis.UPGRADE_COST,
    "replacement": Basis.ORDER_VALUE,
    "refund": Basis.ORDER_VALUE,
}
# Remedies given in kind (goods or a service, not money): worth what the order says they
# cost, however much is asked. A refund is money, held by the ceilings like other money.
IN_KIND = frozenset({"waived_shipping", "free_upgrade", "replacement"})
ORDER_FIELD = {Basis.SHIPPING_FEE: "shipping_fee", Basis.UPGRADE_COST: "upgrade_cost",
               Basis.ORDER_VALUE: "value"}


def basis_value(basis: Basis, order: Order) -> Decimal | None:
    """A value read off the order (shipping fee, upgrade cost or the order's value)."""
    return getattr(order, ORDER_FIELD[basis])


def known_amount(value: Decimal | None) -> Decimal | None:
    """A remedy's value computed by an expression, or None, unknown, beyond what Amends
    computes with (either way), as for a derived fact: twice an order value of
    600,000,000.00 is unknown, never 1,000,000,000.00. (A percent of the order is exact,
    and the ceilings that follow hold it.)"""
    if value is None or abs(value) > MAX_AMOUNT:
        return None
    return value


def cap_within_any_amount(cap: Decimal | None) -> Decimal | None:
    """A computed cap beyond any amount (either way) held there, its sign kept, so that it
    rounds. The offer is the same as with the cap itself: above any amount it holds nothing
    back (a value is never beyond, `known_amount`); below, the remedy comes to less than
    nothing either way."""
    if cap is None or abs(cap) <= MAX_AMOUNT:
        return cap
    return MAX_AMOUNT if cap > 0 else -MAX_AMOUNT


def proposal_value(proposal: RemedyProposalTerms, order: Order,
                   facts: Mapping[str, object] | None = None) -> Decimal | None:
    """The full value of a rule's proposal in the order's currency, before any ceiling;
    None when unknown (an expression over a missing fact, a value computed beyond any
    amount). `facts`: the incident's values by dotted path, for computed values."""
    facts = facts or {}
    if proposal.basis == Basis.COMPUTE:
        value = known_amount(proposal.compute.value(facts, order.currency))
    elif proposal.basis == Basis.PERCENT:
        value = order.value * proposal.percent / HUNDRED
    elif proposal.basis == Basis.AMOUNT:
        value = dict(proposal.amounts)[order.currency]
    else:
        value = basis_value(proposal.basis, order)
    if value is None:
        return None
    caps = []
    if proposal.cap_compute is not None:
        cap = cap_within_any_amount(proposal.cap_compute.value(facts, order.currency))
        if cap is None:
            return None
        caps.append(cap)
    if proposal.cap_percent is not None:
        caps.append(order.value * proposal.cap_percent / HUNDRED)
    if proposal.cap_amounts:
        caps.append(dict(proposal.cap_amounts)[order.currency])
    rounded = round_money(value, order.currency)
    if caps:  # never above a cap, whichever way the rounding goes
        return min(rounded, round_down_money(min(caps), order.currency))
    return rounded


def percent_value(percent: Decimal, order: Order) -> Decimal:
    """A percent of the order's value, in its currency's minor unit."""
    return round_money(order.value * percent / HUNDRED, order.currency)


def ask_value(ask: CustomerAsk, order: Order) -> Decimal | None:
    """What the customer asked for: the amount or percent named, else what the remedy is
    worth by its nature (`natural_value`)."""
    if ask.amount is not None:
        return round_money(ask.amount, order.currency)
    if ask.percent is not None:
        return percent_value(ask.percent, order)
    return natural_value(ask.remedy, order)


def natural_value(kind: str, order: Order) -> Decimal | None:
    """What a remedy is worth by its nature for this order (waiving the shipping fee is
    worth the fee, a refund the order's value); None for a kind with no such value (a
    discount, store credit) or when the order does not say."""
    natural = NATURAL_VALUE.get(kind)
    return basis_value(natural, order) if natural else None


def ceiling(order: Order, max_percent: Decimal) -> Decimal:
    """The most any one offer may be worth: over-compensation lowers loyalty."""
    return round_down_money(order.value * max_percent / HUNDRED, order.currency)


def percent_of(value: Decimal, order: Order) -> Decimal | None:
    """What share of the order's value `value` is, in percent to two decimal places; a
    share too small for that (2,000 of 99,999,999.99) to two significant digits (0.0020),
    never 0 for a value that is not."""
    if not order.value:
        return None
    exact = value * HUNDRED / order.value
    shown = exact.quantize(Decimal("0.01"))
    if shown == 0 and exact != 0:
        shown = exact.quantize(Decimal(1).scaleb(exact.adjusted() - 1))
    return shown


def stated_percent(percent: Decimal, value: Decimal, order: Order) -> Decimal | None:
    """The percent to show beside `value`, offered for `percent` of the order's value: as
    written when `value` is that percent exactly, or is the same share to two places (15% of
    33.33 is 4.9995, offered as 5.00, still 15%); otherwise restated as the share `value`
    is (`percent_of`): held lower by a cap or a ceiling, or moved by rounding to the
    currency's minor unit (10% of 105 JPY is 10.5, offered as 11 JPY, 10.48%)."""
    if value == order.value * percent / HUNDRED:
        return percent
    restated = percent_of(value, order)
    return percent if restated == percent else restated


def worth_in_kind(kind: str, order: Order) -> Decimal | None:
    """The most a remedy given in kind can be worth for this order (waiving a shipping fee
    of 7.50 is worth 7.50, whatever is asked); None for money, or when the order does not
    say."""
    return natural_value(kind, order) if kind in IN_KIND else None
