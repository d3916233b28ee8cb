"""Money strings only in the documented form, identifiers and names with nothing after them
(not even a newline), dates only as YYYY-MM-DD, no failure from the future, and a 405 that
says which methods the route allows."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from marshmallow import ValidationError

from schemas import policy_files
from schemas.fields import MONEY_PATTERN, page_cursor
from schemas.incident import IDENTIFIER, NAME
from schemas.policy_files import RULE_ID
from service.domain.money import MoneyError, parse_amount
from tests.conftest import auth, design_example

PROBLEM = "application/problem+json"

# Not the documented form, though Python's Decimal (and so the code as it was) reads most of
# them (\uff11: fullwidth digit one, \u0663: Arabic-Indic digit three).
NOT_THE_DOCUMENTED_FORM = [
    " 12.50", "12.50 ", "12.50\n", "\t12.50", "+12.50", "1_000", "1_000.00", "\uff11\uff12",
    "\u0663\u0664.\u0665\u0660", "12.\uff150", "1e3", "1E2", "12.", ".5", "0x10", "12,50",
    "1 000", "12.50.1", "",
]


@pytest.mark.parametrize("text", NOT_THE_DOCUMENTED_FORM)
def test_amounts_outside_the_documented_form_are_refused(text):
    with pytest.raises(MoneyError, match=r"ASCII digits with an optional dot and fraction"):
        parse_amount(text)


@pytest.mark.parametrize(("text", "value"), [
    ("12.50", "12.50"), ("0", "0"), ("7", "7"), ("0.001", "0.001"), ("007.50", "7.50"),
    ("999999999.999", "999999999.999"), ("1000000000", "1000000000")])
def test_amounts_in_the_documented_form_are_read_exactly(text, value):
    assert str(parse_amount(text)) == value


@pytest.mark.parametrize(("text", "message"), [
    ("-1.00", "must not be negative"), ("1.2345", "more than 3 decimal places"),
    ("1000000000.01", "must not exceed")])
def test_other_refusals_keep_their_own_reason(text, message):
    with pytest.raises(MoneyError, match=message):
        parse_amount(text)


@pytest.mark.parametrize("text", [*NOT_THE_DOCUMENTED_FORM, "12.50", "0", "007.50", "0.001",
                                  "999999999.999", "1000000000", "00000000000000001",
                                  "1000000000.000", "01000000000", "1000000000.001",
                                  "1000000001", "9999999999", "1.2345", "-1.00"])
def test_the_published_pattern_is_the_form_read(text):
    """What the OpenAPI document's pattern allows is what parse_amount reads, its maximum
    included."""
    try:
        parse_amount(text)
        read = True
    except MoneyError:
        read = False
    assert bool(re.fullmatch(MONEY_PATTERN, text)) == read, text


@pytest.mark.parametrize("path", ["order.value", "order.shipping_fee", "customer.lifetime_value",
                                  "customer_ask.amount"])
@pytest.mark.parametrize("text", [" 120.00", "+120.00", "1_20.00", "\uff11\uff12\uff10", "1.2e2"])
def test_a_decision_with_such_an_amount_is_422_naming_the_field(client, path, text):
    section, field = path.split(".")
    body = design_example()
    body[section][field] = text
    response = client.post("/v1/decisions", json=body, headers=auth())
    assert response.status_code == 422 and response.mimetype == PROBLEM, response.json
    assert list(response.json["errors"]) == [path], response.json
    assert "ASCII digits" in response.json["errors"][path][0]


@pytest.mark.parametrize("path", ["incident_id", "customer.id", "order.id"])
@pytest.mark.parametrize("ending", ["\n", "\n\n", "\nINC-2"])
def test_an_identifier_with_a_line_break_is_422_naming_the_field(client, path, ending):
    body = design_example()
    section, _, field = path.rpartition(".")
    holder = body[section] if section else body
    holder[field] = f"{holder[field]}{ending}"
    response = client.post("/v1/decisions", json=body, headers=auth())
    assert response.status_code == 422 and response.mimetype == PROBLEM, response.json
    assert list(response.json["errors"]) == [path], response.json


@pytest.mark.parametrize("validator", [IDENTIFIER, NAME, policy_files.NAME, RULE_ID,
                                       page_cursor().validators[1]])
def test_whole_text_patterns_take_nothing_after_the_match(validator):
    assert validator.regex.pattern.endswith("$")  # the whole text, in ECMAScript
    good = {IDENTIFIER: "INC-1", RULE_ID: "rule-1"}.get(validator, "abc")
    assert validator(good) == good
    for text in (f"{good}\n", f"{good}\r\n", f"{good} "):
        with pytest.raises(ValidationError):
            validator(text)


@pytest.mark.parametrize("text", ["20260101", "2026-W01-1", "2026-001", "2026-1-1",
                                  "2026-01-01\n", "2026-01-01T00:00"])
def test_a_date_in_another_form_is_422_naming_the_field(client, text):
    body = design_example()
    body["failure"]["occurred_on"] = text
    response = client.post("/v1/decisions", json=body, headers=auth())
    assert response.status_code == 422 and response.mimetype == PROBLEM, response.json
    assert list(response.json["errors"]) == ["failure.occurred_on"], response.json
    assert "YYYY-MM-DD" in response.json["errors"]["failure.occurred_on"][0]


def test_a_date_as_yyyy_mm_dd_is_read(client):
    body = design_example()
    body["failure"]["occurred_on"] = _utc_today().isoformat()
    assert client.post("/v1/decisions", json=body, headers=auth()).status_code == 201


def _utc_today():
    return datetime.now(UTC).date()


@pytest.mark.parametrize("days_ahead", [2, 30, 3650])
def test_a_failure_in_the_future_is_422_naming_occurred_on(client, days_ahead):
    occurred = (_utc_today() + timedelta(days=days_ahead)).isoformat()
    body = design_example(failure__occurred_on=occurred)
    response = client.post("/v1/decisions", json=body, headers=auth())
    assert response.status_code == 422 and response.mimetype == PROBLEM, response.json
    assert list(response.json["errors"]) == ["failure.occurred_on"], response.json
    assert "future" in response.json["errors"]["failure.occurred_on"][0]


@pytest.mark.parametrize("days_ahead", [-400, -1, 0, 1])
def test_a_failure_up_to_a_day_ahead_is_accepted(client, days_ahead):
    """A day's slack: the caller's date may be ahead of UTC."""
    occurred = (_utc_today() + timedelta(days=days_ahead)).isoformat()
    body = design_example(failure__occurred_on=occurred)
    response = client.post("/v1/decisions", json=body, headers=auth())
    assert response.status_code == 201, response.json


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "/v1/decisions", {"GET", "POST"}),
    ("PUT", "/v1/decisions/some-id", {"GET"}),
    ("GET", "/v1/offers/some-id/grant", {"POST"}),
    ("DELETE", "/healthz", {"GET"}),
    ("POST", "/v1/approvals", {"GET"}),
])
def test_405_answers_carry_allow(client, method, path, allowed):
    response = client.open(path, method=method, headers=auth())
    assert response.status_code == 405 and response.mimetype == PROBLEM
    assert "Allow" in response.headers, dict(response.headers)
    methods = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed <= methods and method not in methods


LISTS = [("/v1/approvals", {}), ("/v1/customers/C-1/history", {}),
         ("/v1/decisions", {"since": "2026-11-01"}), ("/v1/policy/versions", {}),
         ("/v1/policy/refusals", {})]


@pytest.mark.parametrize(("path", "needed"), LISTS)
@pytest.mark.parametrize(("query", "field"), [
    ("limit=%205", "limit"), ("limit=%2B5", "limit"), ("limit=%D9%A3", "limit"),
    ("limit=5.0", "limit"), ("limit=1&limit=2", "limit"), ("nonsense=1", "nonsense"),
    ("=1", ""), ("limit=5&=", ""),
])
def test_list_queries_are_read_strictly(client, path, needed, query, field):
    """As the reports' queries are: ASCII digits only, no argument the list does not take,
    none given twice; each a 422 naming the argument."""
    extra = "".join(f"&{name}={value}" for name, value in needed.items())
    response = client.get(f"{path}?{query}{extra}", headers=auth("manager"))
    assert response.status_code == 422, response.json
    assert response.mimetype == PROBLEM and response.json["title"] == "Unprocessable Content"
    assert field in response.json["errors"], response.json
    assert "_body" not in response.json["errors"]  # a query's argument is not the body


def test_a_body_name_given_empty_is_named_as_given_not_as_the_body(client):
    body = design_example()
    body[""] = 1
    body["customer"][""] = 2
    response = client.post("/v1/decisions", json=body, headers=auth())
    assert response.status_code == 422
    assert response.json["errors"] == {"": ["Unknown field."], "customer.": ["Unknown field."]}


@pytest.mark.parametrize(("path", "needed"), LISTS)
def test_a_list_query_in_the_documented_form_is_read(client, path, needed):
    response = client.get(path, query_string={"limit": "5", **needed},
                          headers=auth("manager"))
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("text", ["12.50", "0000000000012.50", "1000000000.00", "1000000000",
                                  "1000000000.01", "1000000001", "12.505", "7", "-1"])
@pytest.mark.parametrize("percent", ["20", "0150.0", "000150", "150.5", "151", "0.001"])
def test_the_documents_order_and_ask_patterns_are_the_form_read(app, text, percent):
    """The served document's patterns for the order's money and the ask's percent (made
    for the active policy's currencies) accept exactly what a decision accepts."""
    from tests.conftest import design_example

    schemas = app.test_client().get("/openapi.json").json["components"]["schemas"]
    value_ok = bool(re.fullmatch(schemas["Order"]["properties"]["value"]["pattern"], text))
    percent_ok = bool(re.fullmatch(
        schemas["CustomerAsk"]["properties"]["percent"]["pattern"], percent))
    for body, documented in (
            (design_example(order__value=text, customer_ask=None), value_ok),
            (design_example(customer_ask={"remedy": "discount", "percent": percent}),
             percent_ok)):
        answered = app.test_client().post("/v1/decisions/preview", json=body, headers=auth())
        assert (answered.status_code == 200) == documented, (body, answered.json)
