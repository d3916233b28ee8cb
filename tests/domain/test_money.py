"""Money is Decimal with its currency: minor units both ways, rounding by the currency."""

from decimal import Decimal

import pytest

from service.domain.money import (
    Money,
    MoneyError,
    amount_text,
    from_minor,
    money_text,
    round_down_money,
    round_money,
    to_minor,
)


@pytest.mark.parametrize(("amount", "currency", "minor"), [
    (Decimal("12.34"), "EUR", 1234), (Decimal("1000"), "JPY", 1000),
    (Decimal("1.234"), "KWD", 1234), (Decimal("0"), "USD", 0)])
def test_minor_units_both_ways(amount, currency, minor):
    assert to_minor(amount, currency) == minor
    assert from_minor(minor, currency) == amount


def test_more_places_than_the_currency_has_is_refused():
    with pytest.raises(ValueError, match="more places than JPY"):
        to_minor(Decimal("1.5"), "JPY")


def test_payouts_round_half_up_and_limits_round_down():
    assert round_money(Decimal("2.345"), "EUR") == Decimal("2.35")
    assert round_down_money(Decimal("2.349"), "EUR") == Decimal("2.34")
    assert round_money(Decimal("2.5"), "JPY") == Decimal("3")


def test_money_is_never_a_float_and_knows_its_currency():
    with pytest.raises(MoneyError):
        Money(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="unknown currency"):
        Money(Decimal(1), "XXX")
    assert Money(Decimal("7.5"), "EUR").to_json() == {"amount": "7.50", "currency": "EUR"}


# Amounts in words: each in its currency's minor unit, however a policy file wrote it.
@pytest.mark.parametrize(("amount", "currency", "text"), [
    ("5E+1", "EUR", "50.00"), ("55.000", "USD", "55.00"), ("8.0E+3", "JPY", "8000"),
    ("16.667", "KWD", "16.667"), ("0", "EUR", "0.00"), ("-0", "EUR", "0.00"),
    ("5.005", "EUR", "5.005"),  # a limit of a version activated before: never rounded
    ("1E-7", "EUR", "0.0000001"), ("1E+40", "EUR", "1" + "0" * 40),
])
def test_an_amount_is_written_in_its_currencys_minor_unit(amount, currency, text):
    assert amount_text(Decimal(amount), currency) == text
    assert money_text(Decimal(amount), currency) == f"{text} {currency}"
