"""Money as Decimal with its currency; never float."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_HALF_UP,
    Decimal,
    InvalidOperation,
    localcontext,
)

from iso4217 import Currency

# Largest amount accepted anywhere; keeps scaled engine integers far from 64-bit saturation.
MAX_AMOUNT = Decimal("1000000000")
# Decimal places accepted in input amounts (the most any currency in MINOR_UNITS uses).
MAX_PLACES = 3

# ISO 4217 minor units (decimal places) of every current ISO 4217 currency, from the list the
# iso4217 package ships (updated with each amendment of the standard). A policy picks the ones
# it supports. Left out: the codes with no minor unit ("N.A.": gold, silver and the other
# metals, XDR and the other units of account, XTS for testing, XXX for "no currency"), and the
# two units of account with four places (CLF, UYW), more than MAX_PLACES; none of them is
# money paid to a customer.
MINOR_UNITS: dict[str, int] = {
    currency.code: currency.exponent
    for currency in sorted(Currency, key=lambda currency: currency.code)
    if currency.exponent is not None and currency.exponent <= MAX_PLACES
}
_QUANTA = {code: Decimal(1).scaleb(-places) for code, places in MINOR_UNITS.items()}


class MoneyError(ValueError):
    """An amount or currency that Amends cannot accept."""


def parse_amount(text: str) -> Decimal:
    """Parse a non-negative decimal string in the documented form only: ASCII digits with an
    optional dot and fraction, such as "120.00" or "7". Whatever else Python's Decimal would
    read (spaces, a sign, "1_000", "1e3", non-ASCII digits, "12.", ".5") is refused."""
    if not isinstance(text, str):
        raise MoneyError("must be a decimal string such as \"12.50\", not a number")
    whole, dot, fraction = text.partition(".")
    if not (_ascii_digits(whole) and (not dot or _ascii_digits(fraction))):
        if text.startswith("-") and text != "-" and _ascii_digits(text[1:].replace(".", "", 1)):
            raise MoneyError("must not be negative")
        raise MoneyError(f"{text[:40]!r} is not an amount: write ASCII digits with an optional "
                         "dot and fraction, such as \"12.50\" (no sign, spaces, exponent or "
                         "digit separators)")
    if len(fraction) > MAX_PLACES:
        raise MoneyError(f"has more than {MAX_PLACES} decimal places")
    value = Decimal(text)
    if value > MAX_AMOUNT:
        raise MoneyError(f"must not exceed {MAX_AMOUNT}")
    return value


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # isdigit alone takes superscripts and other scripts


def quantum(currency: str) -> Decimal:
    return _QUANTA[currency]


def in_minor_unit(amount: Decimal, currency: str) -> Decimal:
    """`amount` written with its currency's places ("50.00" EUR however a policy file wrote
    it, "8000" JPY), never another value: an amount with more places than its currency has
    (a limit of a version activated before), or too many digits to requantize, stays as it
    is, and so does one of a currency Amends does not know. "-0" is 0.00."""
    try:
        held = amount.quantize(quantum(currency))
    except (InvalidOperation, KeyError):
        return amount
    if held != amount:
        return amount
    return held if held else held.copy_abs()


def amount_text(amount: Decimal, currency: str) -> str:
    """An amount as Amends writes money: in its currency's minor unit (`in_minor_unit`),
    with no exponent; words never round a limit."""
    return format(in_minor_unit(amount, currency), "f")


def money_text(amount: Decimal, currency: str) -> str:
    """An amount and its currency in words: "50.00 EUR" (see `amount_text`)."""
    return f"{amount_text(amount, currency)} {currency}"


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor unit (the usual rule for a customer payout)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def round_down_money(amount: Decimal, currency: str) -> Decimal:
    """Round down: used where a value must never exceed a limit."""
    return amount.quantize(quantum(currency), rounding=ROUND_DOWN)


@dataclass(frozen=True, order=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if self.currency not in MINOR_UNITS:
            raise MoneyError(f"unknown currency {self.currency!r}")
        if isinstance(self.amount, float):
            raise MoneyError("money is never a float")

    def to_json(self) -> dict[str, str]:
        return {"amount": str(round_money(self.amount, self.currency)), "currency": self.currency}


def to_minor(amount: Decimal, currency: str) -> int:
    """Decimal money as integer minor units (cents): exact on every database."""
    scaled = amount.scaleb(MINOR_UNITS[currency])
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more places than {currency} allows")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-MINOR_UNITS[currency])


# ---- exchange rates: converting what was granted into a budget's currency -----------------

class NoExchangeRate(MoneyError):
    """The rates do not say what one currency is worth in another."""


@dataclass(frozen=True)
class ExchangeRates:
    """Exchange rates as a policy declares them, set on `as_of`: `rates[into][from]` is how
    much of `into` one unit of `from` is worth (EUR: {USD: "0.92"} — a dollar is 0.92 euro).
    Each direction is its own rate; a currency is worth exactly 1 of itself."""

    as_of: date
    rates: Mapping[str, Mapping[str, Decimal]]

    def rate(self, from_currency: str, into: str) -> Decimal:
        if from_currency == into:
            return Decimal(1)
        try:
            return self.rates[into][from_currency]
        except KeyError:
            raise NoExchangeRate(f"no exchange rate from {from_currency} into {into}") from None


def convert_up(amount: Decimal, from_currency: str, into: str,
               rates: ExchangeRates | None) -> Decimal:
    """`amount` of `from_currency` in `into`, rounded *up* to `into`'s minor unit: what is
    counted against a budget never understates what was given. Exact: Decimal throughout,
    with enough precision that only the final rounding rounds."""
    if from_currency == into:
        return amount
    if rates is None:
        raise NoExchangeRate(f"no exchange rate from {from_currency} into {into}")
    with localcontext() as context:
        context.prec = 60
        return (amount * rates.rate(from_currency, into)).quantize(
            quantum(into), rounding=ROUND_CEILING)


def total_in(amounts: Mapping[str, Decimal], into: str, rates: ExchangeRates | None) -> Decimal:
    """Amounts per currency as one total in `into`: each currency's sum converted up (so the
    total is at most one minor unit per other currency above the exact value, never below)."""
    zero = Decimal(0).quantize(quantum(into))
    return sum((convert_up(amount, currency, into, rates)
                for currency, amount in sorted(amounts.items())), zero)
