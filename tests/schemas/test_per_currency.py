"""Amounts per currency in policy files (`schemas.policy_files.PerCurrency`) are held in each
currency's minor unit however the file writes them, and never change value."""

from decimal import Decimal

import pytest
from marshmallow import ValidationError
from marshmallow.experimental.context import Context

from schemas.policy_files import CapSchema, RoleSchema


def amounts(written: dict, strict: bool = True) -> dict[str, Decimal]:
    with Context({"strict": strict}):
        return CapSchema().load({"amount": written})["amount"]


@pytest.mark.parametrize("strict", [True, False])
def test_an_amount_is_held_in_its_currencys_minor_unit_however_written(strict):
    held = amounts({"EUR": "5E+1", "USD": Decimal("55.000"), "JPY": Decimal("8.0E+3"),
                    "GBP": 45, "KWD": "16.667", "THB": "0", "CHF": "-0"}, strict)
    assert {currency: str(amount) for currency, amount in held.items()} == {
        "EUR": "50.00", "USD": "55.00", "JPY": "8000", "GBP": "45.00", "KWD": "16.667",
        "THB": "0.00", "CHF": "0.00"}
    assert held["EUR"] == 50 and held["USD"] == 55 and held["JPY"] == 8000


def test_every_table_of_a_role_is_held_so():
    role = RoleSchema().load({
        "per_incident_limit": {"EUR": "5E+1", "JPY": Decimal("8.0E+3")},
        "per_agent_daily_budget": {"EUR": "500"}, "per_order_cap": {"EUR": Decimal("1E+2")},
        "per_customer_cap": {"EUR": "150.0"}, "remedies": ["discount"]})
    shown = {name: {c: str(a) for c, a in role[name].items()}
             for name in ("per_incident_limit", "per_agent_daily_budget", "per_order_cap",
                          "per_customer_cap")}
    assert shown == {"per_incident_limit": {"EUR": "50.00", "JPY": "8000"},
                     "per_agent_daily_budget": {"EUR": "500.00"},
                     "per_order_cap": {"EUR": "100.00"}, "per_customer_cap": {"EUR": "150.00"}}


def test_a_new_version_with_more_places_than_the_currency_is_still_refused():
    with pytest.raises(ValidationError, match="2 decimal places at most"):
        amounts({"EUR": "5.005"})
    with pytest.raises(ValidationError, match="0 decimal places at most"):
        amounts({"JPY": "8000.5"})


@pytest.mark.parametrize(("written", "kept"), [
    ("5.005", "5.005"),  # more places than EUR has: rounding would change the limit
    ("1E-7", "1E-7"),
    ("1E+40", "1E+40"),  # beyond MAX_AMOUNT, and too many digits to write in cents
])
def test_a_version_activated_before_keeps_an_amount_its_minor_unit_would_change(written, kept):
    held = amounts({"EUR": written}, strict=False)["EUR"]
    assert held == Decimal(written) and str(held) == kept
