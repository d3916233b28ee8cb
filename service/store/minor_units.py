"""Decimal money to and from integer minor units, by currency."""

from decimal import Decimal

from service.money import MINOR_UNITS


def to_minor(amount: Decimal, currency: str) -> int:
    scaled = amount.scaleb(MINOR_UNITS[currency])
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more places than {currency} allows")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-MINOR_UNITS[currency])
