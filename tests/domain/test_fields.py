"""One FieldType per field type: what it accepts, how it encodes for the engine, which
comparisons it allows and how OpenAPI states it."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from service.domain.fields import (
    FIELD_TYPES,
    MAX_INTEGER,
    FieldSpec,
    ValueTypeError,
    field_type,
)


def spec(kind: str, choices=()) -> FieldSpec:
    return FieldSpec(f"context.{kind}", kind, True, choices)


@pytest.mark.parametrize(("kind", "value", "encoded"), [
    ("integer", 42, 42),
    ("integer", Decimal("7"), 7),
    ("decimal", "12.5", 125000),
    ("decimal", Decimal("0.0001"), 1),
    ("decimal", 3, 30000),
    ("boolean", True, True),
    ("string", "late", "late"),
    ("enum", "gold", "gold"),
    ("date", "2024-06-30", date(2024, 6, 30).toordinal()),
    ("date", date(2024, 1, 1), date(2024, 1, 1).toordinal()),
])
def test_each_type_encodes_to_a_clean_engine_value(kind, value, encoded):
    assert spec(kind, ("gold", "silver")).encode(value) == encoded


@pytest.mark.parametrize(("kind", "value", "message"), [
    ("integer", True, "whole number"),
    ("integer", 1.5, "whole number"),
    ("integer", Decimal("1.5"), "whole number"),
    ("integer", MAX_INTEGER + 1, "from -"),
    ("integer", -MAX_INTEGER - 1, f"a whole number from -{MAX_INTEGER} to {MAX_INTEGER}"),
    ("decimal", 1.5, "decimal number"),
    ("decimal", "ten", "decimal number"),
    ("decimal", "0.00001", "more than 4 decimal places"),
    ("decimal", "NaN", "decimal number"),
    ("boolean", 1, "true or false"),
    ("string", 5, "text"),
    ("string", "a\x00b", "NUL"),
    ("string", "a\ud800b", "surrogate"),
    ("date", datetime(2025, 2, 17, 23, 30), "expects a date like 2024-06-30"),  # YAML's
    # The engine would wrap a longer text's length (16 bits, of its escaped JSON form).
    ("string", "A" + "é" * 2000, "at most 2000 characters, not 2001"),
    ("enum", "platinum", "not one of"),
    ("date", "30/06/2024", "date like"),
    ("date", 20240630, "date like"),
    # Other ISO 8601 forms Python reads, which failure.occurred_on refuses too
    ("date", "20240630", "date like"), ("date", "2024-W26-7", "date like"),
    ("date", "2024-06-30T00:00", "date like"),
    ("date", "\uff12\uff10\uff12\uff14-06-30", "date like"),
])
def test_each_type_refuses_what_is_not_its_own(kind, value, message):
    with pytest.raises(ValueTypeError, match=message):
        spec(kind, ("gold", "silver")).encode(value)


def test_parsing_a_request_value_types_it():
    assert spec("decimal").parse("12.50") == Decimal("12.50")
    assert spec("date").parse("2024-06-30") == date(2024, 6, 30)
    assert spec("integer").parse(3) == 3
    with pytest.raises(ValueTypeError, match="decimal string"):
        spec("decimal").parse(12.5)  # a JSON number may have been a float on the way


@pytest.mark.parametrize("text", [" 1.5", "1_0", "+1", "1e3", "1.", ".5", "\uff11\uff12",
                                  "1.23456"])
def test_a_decimal_fact_is_only_the_documented_text(text):
    with pytest.raises(ValueTypeError, match="decimal string"):
        spec("decimal").parse(text)
    assert spec("decimal").parse("-12.5") == Decimal("-12.5")


def test_only_numbers_and_dates_are_ordered():
    ordered = {name for name, kind in FIELD_TYPES.items() if kind.ordered}
    assert ordered == {"integer", "decimal", "date"}
    assert field_type("string").comparisons == ("eq", "neq")


@pytest.mark.parametrize(("kind", "schema"), [
    ("integer", {"type": "integer", "minimum": -MAX_INTEGER, "maximum": MAX_INTEGER}),
    ("boolean", {"type": "boolean"}),
    ("string", {"type": "string"}),
    ("enum", {"type": "string", "enum": ["gold", "silver"]}),
    ("date", {"type": "string", "format": "date"}),
])
def test_each_type_states_its_openapi_form(kind, schema):
    assert spec(kind, ("gold", "silver")).openapi() == schema


def test_a_field_spec_takes_a_type_by_name_or_as_itself():
    assert FieldSpec("x", "decimal", False).type is FIELD_TYPES["decimal"]
    assert FieldSpec("x", FIELD_TYPES["date"], False).type is FIELD_TYPES["date"]
    assert str(FIELD_TYPES["enum"]) == "enum"
