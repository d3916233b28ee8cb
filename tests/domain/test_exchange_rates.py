"""Converting what was granted into a budget's currency: Decimal only, rounded up."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.grant_rule import GrantedSoFar, RunningTotals
from service.domain.money import ExchangeRates, NoExchangeRate, convert_up, total_in

RATES = ExchangeRates(date(2026, 11, 1), {
    "EUR": {"USD": Decimal("0.92"), "GBP": Decimal("1.17"), "JPY": Decimal("0.0061")},
    "USD": {"EUR": Decimal("1.09"), "GBP": Decimal("1.27")},
    "GBP": {"EUR": Decimal("0.86"), "USD": Decimal("0.79")},
    "JPY": {"EUR": Decimal("163.4567")},
})


@pytest.mark.parametrize(("amount", "source", "into", "expected"), [
    ("500.00", "EUR", "USD", "545.00"),
    ("7.50", "EUR", "USD", "8.18"),  # 8.175 rounds up, never down
    ("0.01", "GBP", "EUR", "0.02"),  # 0.0117
    ("12.34", "EUR", "EUR", "12.34"),  # a currency is itself, unrounded
    ("1", "EUR", "JPY", "164"),  # into a currency without minor units
    ("999", "JPY", "EUR", "6.10"),  # 6.0939
    ("1000000000.00", "GBP", "EUR", "1170000000.00"),
])
def test_conversion_rounds_up_to_the_minor_unit(amount, source, into, expected):
    converted = convert_up(Decimal(amount), source, into, RATES)
    assert isinstance(converted, Decimal) and str(converted) == expected


def test_a_missing_rate_is_said_not_guessed():
    with pytest.raises(NoExchangeRate, match="from USD into JPY"):
        convert_up(Decimal("1"), "USD", "JPY", RATES)
    with pytest.raises(NoExchangeRate, match="from USD into EUR"):
        convert_up(Decimal("1"), "USD", "EUR", None)
    assert convert_up(Decimal("1"), "EUR", "EUR", None) == 1


amounts = st.integers(0, 10**11).map(lambda cents: Decimal(cents).scaleb(-2))


@given(eur=amounts, usd=amounts, gbp=amounts)
def test_a_total_never_understates_and_overstates_by_under_a_cent_per_currency(eur, usd,
                                                                               gbp):
    total = total_in({"EUR": eur, "USD": usd, "GBP": gbp}, "EUR", RATES)
    exact = eur + usd * Decimal("0.92") + gbp * Decimal("1.17")
    assert exact <= total < exact + Decimal("0.02")
    assert total == total.quantize(Decimal("0.01"))


def test_granted_so_far_in_one_currency():
    granted = GrantedSoFar(incident={"EUR": Decimal("50.00")},
                           agent_today={"EUR": Decimal("500.00"), "USD": Decimal("5.00"),
                                        "GBP": Decimal("7.50")},
                           order={}, customer_window={"GBP": Decimal("45.00")},
                           customer_grants_in_window=3)
    assert granted.in_currency("USD", RATES) == RunningTotals(
        incident=Decimal("54.50"), agent_today=Decimal("559.53"),  # 545 + 5 + 9.525 up
        order=Decimal("0.00"), customer_window=Decimal("57.15"), customer_grants_in_window=3)
    assert str(GrantedSoFar().in_currency("JPY", None).incident) == "0"
