"""Money as Decimal with its currency; never float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor units of the currencies Amends knows. A policy picks the ones it supports.
MINOR_UNITS: dict[str, int] = {
    "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "CZK": 2, "DKK": 2,
    "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "INR": 2, "JPY": 0, "KRW": 0, "KWD": 3,
    "MXN": 2, "NOK": 2, "NZD": 2, "PLN": 2, "SEK": 2, "SGD": 2, "USD": 2, "ZAR": 2,
}

# Largest amount accepted anywhere; keeps scaled engine integers far from 64-bit saturation.
MAX_AMOUNT = Decimal("1000000000")
# Decimal places accepted in input amounts (the most any currency above uses).
MAX_PLACES = 3


class MoneyError(ValueError):
    """An amount or currency that Amends cannot accept."""


def parse_amount(text: str) -> Decimal:
    """Parse a non-negative decimal string such as "120.00"; reject floats' odd forms."""
    if not isinstance(text, str):
        raise MoneyError("must be a decimal string such as \"12.50\", not a number")
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise MoneyError(f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise MoneyError(f"{text!r} is not a finite number")
    if value < 0:
        raise MoneyError("must not be negative")
    if value > MAX_AMOUNT:
        raise MoneyError(f"must not exceed {MAX_AMOUNT}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        raise MoneyError(f"has more than {MAX_PLACES} decimal places")
    return value


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_UNITS[currency])


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
