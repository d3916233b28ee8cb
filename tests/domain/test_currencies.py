"""Every ISO 4217 currency with its minor unit (issue 11): THB and the others beyond the 24
Amends first knew; errors that say which codes are allowed."""

import re
from decimal import Decimal

import pytest
from marshmallow import ValidationError

from schemas.incident import OrderSchema
from service.app.active_policy import ActivePolicy, read_policy
from service.app.fast_intake import read_incident
from service.app.intake import parse_incident
from service.config import shipped_policy
from service.domain.incident import IncidentInvalid
from service.domain.money import (
    MAX_PLACES,
    MINOR_UNITS,
    Money,
    from_minor,
    quantum,
    round_down_money,
    round_money,
    to_minor,
)
from service.policy.problems import PolicyInvalid
from tests.conftest import design_example
from tests.support.policy_files import copy_policy, edit, renamed_role, rewrite

NOT_ISO = "Not an ISO 4217 currency code (three capital letters such as EUR, USD, JPY)."


def order(**fields) -> dict:
    return {"id": "O-1", "value": "100", "currency": "EUR", **fields}


# ---- the list ------------------------------------------------------------------------------

def test_every_iso_4217_currency_is_known_with_its_minor_unit():
    assert len(MINOR_UNITS) > 150
    assert all(re.fullmatch(r"[A-Z]{3}", code) for code in MINOR_UNITS)
    assert set(MINOR_UNITS.values()) <= set(range(MAX_PLACES + 1))
    assert {code: MINOR_UNITS[code] for code in ("THB", "EUR", "USD", "GBP", "JPY", "KRW",
                                                 "KWD", "BHD", "TND", "CLP", "VND")} == {
        "THB": 2, "EUR": 2, "USD": 2, "GBP": 2, "JPY": 0, "KRW": 0,
        "KWD": 3, "BHD": 3, "TND": 3, "CLP": 0, "VND": 0}


@pytest.mark.parametrize("code", ["XAU", "XAG", "XDR", "XTS", "XXX", "CLF", "ABC", "thb"])
def test_codes_with_no_minor_unit_and_non_codes_are_left_out(code):
    assert code not in MINOR_UNITS


# ---- rounding and minor units by the currency ----------------------------------------------

@pytest.mark.parametrize(("amount", "currency", "minor"), [
    (Decimal("1234.56"), "THB", 123456), (Decimal("1500"), "JPY", 1500),
    (Decimal("12.345"), "KWD", 12345), (Decimal("0.001"), "BHD", 1),
    (Decimal("250"), "KRW", 250)])
def test_minor_units_both_ways(amount, currency, minor):
    assert to_minor(amount, currency) == minor
    assert from_minor(minor, currency) == amount


def test_rounding_follows_the_currency():
    assert quantum("JPY") == Decimal("1") and quantum("KWD") == Decimal("0.001")
    assert round_money(Decimal("1234.5"), "JPY") == Decimal("1235")
    assert round_down_money(Decimal("1234.9"), "JPY") == Decimal("1234")
    assert round_money(Decimal("2.0005"), "BHD") == Decimal("2.001")
    assert round_down_money(Decimal("2.0009"), "KWD") == Decimal("2.000")
    assert round_money(Decimal("99.995"), "THB") == Decimal("100.00")
    assert Money(Decimal("7"), "KWD").to_json() == {"amount": "7.000", "currency": "KWD"}
    assert Money(Decimal("7.4"), "JPY").to_json() == {"amount": "7", "currency": "JPY"}
    with pytest.raises(ValueError, match="more places than JPY"):
        to_minor(Decimal("1.5"), "JPY")


# ---- the incident body ---------------------------------------------------------------------

@pytest.mark.parametrize(("currency", "value"), [
    ("THB", "1234.50"), ("JPY", "1500"), ("KWD", "12.345"), ("BHD", "0.5")])
def test_an_order_in_any_iso_currency_loads(currency, value):
    loaded = OrderSchema().load(order(currency=currency, value=value))
    assert (loaded["currency"], loaded["value"]) == (currency, Decimal(value))


@pytest.mark.parametrize("currency", ["XYZ", "thb", "XAU", "EURO", ""])
def test_an_order_in_a_non_iso_code_is_refused_saying_what_a_code_is(currency):
    with pytest.raises(ValidationError) as caught:
        OrderSchema().load(order(currency=currency))
    assert caught.value.messages == {"currency": [NOT_ISO]}


@pytest.mark.parametrize(("currency", "value", "places"), [
    ("JPY", "1.5", 0), ("KRW", "10.0", 0), ("EUR", "1.005", 2), ("THB", "0.001", 2)])
def test_more_places_than_the_currency_has_are_refused(currency, value, places):
    with pytest.raises(ValidationError) as caught:
        OrderSchema().load(order(currency=currency, value=value))
    assert caught.value.messages == {"value": [f"{currency} has {places} decimal places."]}


def test_more_places_than_any_currency_has_are_refused():
    with pytest.raises(ValidationError) as caught:
        OrderSchema().load(order(currency="KWD", value="1.2345"))
    assert "more than 3 decimal places" in str(caught.value.messages["value"])


@pytest.fixture(scope="module")
def shipped():
    return read_policy(shipped_policy())


def test_a_currency_the_policy_does_not_use_is_refused_naming_the_policys(shipped):
    with pytest.raises(IncidentInvalid) as caught:
        parse_incident(design_example(order__currency="THB"), shipped)
    assert caught.value.errors == {"order.currency": ["Policy default supports EUR, USD, GBP."]}


@pytest.mark.parametrize("currency", ["XYZ", "eur"])
def test_a_non_iso_code_is_refused_naming_the_policys_currencies_too(shipped, currency):
    with pytest.raises(IncidentInvalid) as caught:
        parse_incident(design_example(order__currency=currency), shipped)
    assert caught.value.errors == {
        "order.currency": [NOT_ISO, "Policy default supports EUR, USD, GBP."]}


def test_a_yen_amount_with_decimals_is_refused_by_the_intake(shipped):
    body = design_example(customer_ask=None)
    body["order"] = order(currency="JPY", value="1.5")
    with pytest.raises(IncidentInvalid) as caught:
        parse_incident(body, shipped)
    assert caught.value.errors["order.value"] == ["JPY has 0 decimal places."]


@pytest.mark.parametrize(("currency", "value", "asked"), [
    ("EUR", "120.00", "120.005"), ("EUR", "120.00", "0.001"), ("USD", "10", "1.234")])
def test_an_amount_asked_for_finer_than_the_order_currency_is_refused(shipped, currency, value,
                                                                     asked):
    """Not rounded up to more than was asked, nor down to nothing."""
    body = design_example(customer_ask={"remedy": "refund", "amount": asked})
    body["order"] = order(currency=currency, value=value)
    with pytest.raises(IncidentInvalid) as caught:
        parse_incident(body, shipped)
    assert caught.value.errors == {
        "customer_ask.amount": [f"{currency} (the order's currency) has 2 decimal places."]}
    assert read_incident(body) is None  # the fast path leaves it to the schema


# ---- a policy in baht ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def baht_policy(tmp_path_factory):
    """The shipped policy with THB wherever it has GBP: currency, amounts, rates, test case."""
    folder = copy_policy(tmp_path_factory.mktemp("baht") / "policy")
    rewrite(folder, lambda document: renamed_role(document, "GBP", "THB"))
    return folder


def test_a_policy_in_thb_loads_and_decides_in_thb(baht_policy):
    active = ActivePolicy.load(baht_policy)  # checked, compiled and its own tests pass
    try:
        assert active.policy.currencies == ("EUR", "USD", "THB")
        incident = parse_incident(design_example(order__currency="THB"), active.policy)
        decision = active.decide(incident, "agent")
        assert decision.offers
        assert {offer.value.currency for offer in decision.offers} == {"THB"}
        assert all(offer.value.amount == round_money(offer.value.amount, "THB")
                   for offer in decision.offers)
    finally:
        active.program.close()


def test_a_policy_naming_a_non_iso_code_is_refused_with_examples(tmp_path):
    folder = copy_policy(tmp_path / "policy")
    edit(folder, "policy.yaml", "currencies: [EUR, USD, GBP]", "currencies: [EUR, USD, GBP, XYZ]")
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(folder)
    messages = [problem.message for problem in caught.value.problems]
    assert ("XYZ is not an ISO 4217 currency code; use a code such as EUR, USD, GBP, JPY or THB"
            in messages), messages
