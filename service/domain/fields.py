"""Incident fields rules may test: one `FieldType` per type, owning its parsing, its encoding
for the engine, which comparisons it allows and its OpenAPI form.

durable_rules compares loosely (5 == "5"), saturates big integers and rejects some floats, so
every value given to it is an int, bool or str: decimals scaled by 10^4 to integers, dates as
ordinal day numbers. Rule values are encoded the same way when the policy is compiled. One
exception: a derived decimal with more than 4 places goes as the half step between its two
scaled neighbours, a float the engine compares exactly (service.policy.model.DerivedDecimalType).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol

from service.domain.incident import Incident
from service.domain.money import MAX_AMOUNT

DECIMAL_SCALE = 10_000
MAX_INTEGER = 10**12  # beyond this, integers are refused: far below 64-bit saturation
EQUALITY = ("eq", "neq")
ORDERING = ("eq", "neq", "lt", "lte", "gt", "gte")
# The engine keeps a text's length in 16 bits, of its JSON form (up to 12 bytes a character
# escaped): longer text would wrap around and match as another value.
MAX_TEXT = 2000
EngineValue = int | bool | str
DECIMAL_TEXT = re.compile(r"-?[0-9]{1,9}(\.[0-9]{1,4})?")  # as OpenAPI states it
# JSON's "\ud800" escape decodes to a lone surrogate, which has no UTF-8 form: no driver can
# send it and no database can store it. (A valid escaped pair decodes to one code point.)
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class ValueTypeError(ValueError):
    pass


def text_fault(text: str) -> str | None:
    """Why `text` could not be stored as text on SQLite or PostgreSQL, or None: PostgreSQL
    refuses NUL characters in text, and neither takes what is not Unicode."""
    if "\x00" in text:
        return "Text must not contain NUL characters."
    if _SURROGATE.search(text):
        return "Not valid Unicode text: an unpaired surrogate."
    return None


class FieldType:
    """How values of one type are read, encoded for the engine and described."""

    name: str = ""
    comparisons: tuple[str, ...] = EQUALITY
    has_choices = False  # its values are a list the policy declares

    @property
    def ordered(self) -> bool:
        return "lt" in self.comparisons

    def encode(self, value: object, choices: tuple[str, ...] = ()) -> EngineValue:
        """A typed value (from a request or a rule file) for the engine, its type checked."""
        raise NotImplementedError

    def parse(self, value: object, choices: tuple[str, ...] = ()) -> object:
        """A request's JSON value as the typed value the core sees; checked like `encode`."""
        self.encode(value, choices)
        return value

    def openapi(self, choices: tuple[str, ...] = ()) -> dict:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"FieldType({self.name})"


class IntegerType(FieldType):
    name = "integer"
    comparisons = ORDERING

    def encode(self, value, choices=()):
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise ValueTypeError(f"expects a whole number, not {value!r}")
        if isinstance(value, Decimal) and value != value.to_integral_value():
            raise ValueTypeError(f"expects a whole number, not {value}")
        if abs(int(value)) > MAX_INTEGER:
            raise ValueTypeError(f"expects a whole number from -{MAX_INTEGER} to {MAX_INTEGER}")
        return int(value)

    def openapi(self, choices=()):
        return {"type": "integer", "minimum": -MAX_INTEGER, "maximum": MAX_INTEGER}


class DecimalType(FieldType):
    name = "decimal"
    comparisons = ORDERING

    def encode(self, value, choices=()):
        if isinstance(value, bool | float):
            raise ValueTypeError(f"expects a decimal number, not {value!r}")
        try:
            number = Decimal(value) if isinstance(value, int | str) else value
        except InvalidOperation:
            raise ValueTypeError(f"expects a decimal number, not {value!r}") from None
        if not isinstance(number, Decimal) or not number.is_finite():
            raise ValueTypeError(f"expects a decimal number, not {value!r}")
        if abs(number) > MAX_AMOUNT:
            raise ValueTypeError(f"expects a number from -{MAX_AMOUNT} to {MAX_AMOUNT}")
        scaled = number * DECIMAL_SCALE
        if scaled != scaled.to_integral_value():
            raise ValueTypeError("has more than 4 decimal places")
        return int(scaled)

    def parse(self, value, choices=()):
        # JSON numbers may have been floats on the way; and only the documented form, not
        # what Python's Decimal also reads (" 1.5", "1_0", "+1", "1e3").
        if not isinstance(value, str) or not DECIMAL_TEXT.fullmatch(value):
            raise ValueTypeError("expects a decimal string such as \"12.5\"")
        self.encode(value)
        return Decimal(value)

    def openapi(self, choices=()):
        return {"type": "string", "pattern": f"^{DECIMAL_TEXT.pattern}$", "example": "12.5"}


class BooleanType(FieldType):
    name = "boolean"

    def encode(self, value, choices=()):
        if not isinstance(value, bool):
            raise ValueTypeError(f"expects true or false, not {value!r}")
        return value

    def openapi(self, choices=()):
        return {"type": "boolean"}


class StringType(FieldType):
    name = "string"

    def encode(self, value, choices=()):
        if not isinstance(value, str):
            raise ValueTypeError(f"expects text, not {value!r}")
        fault = text_fault(value)
        if fault:
            raise ValueTypeError(fault.rstrip("."))
        if len(value) > MAX_TEXT:
            raise ValueTypeError(f"expects text of at most {MAX_TEXT} characters, not "
                                 f"{len(value)}")
        return value

    def openapi(self, choices=()):
        return {"type": "string"}


class EnumType(StringType):
    name = "enum"
    has_choices = True

    def encode(self, value, choices=()):
        text = super().encode(value)
        if text not in choices:
            raise ValueTypeError(f"{value!r} is not one of {', '.join(choices)}")
        return text

    def openapi(self, choices=()):
        return {"type": "string", "enum": list(choices)}


_YYYY_MM_DD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DateType(FieldType):
    name = "date"
    comparisons = ORDERING

    def encode(self, value, choices=()):
        return self._date(value).toordinal()

    def parse(self, value, choices=()):
        return self._date(value)

    def openapi(self, choices=()):
        return {"type": "string", "format": "date"}

    @staticmethod
    def _date(value) -> date:
        if isinstance(value, str):
            if not _YYYY_MM_DD.fullmatch(value):  # Python reads 20240101 and 2024-W01-1 too
                raise ValueTypeError(f"expects a date like 2024-06-30, not {value!r}")
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise ValueTypeError(f"expects a date like 2024-06-30, not {value!r}") from None
        if not isinstance(value, date) or isinstance(value, datetime):  # a moment is no day
            raise ValueTypeError(f"expects a date like 2024-06-30, not {value!r}")
        return value


FIELD_TYPES: dict[str, FieldType] = {kind.name: kind for kind in (
    IntegerType(), DecimalType(), BooleanType(), StringType(), EnumType(), DateType())}


def field_type(kind: FieldType | str) -> FieldType:
    return kind if isinstance(kind, FieldType) else FIELD_TYPES[kind]


@dataclass(frozen=True)
class FieldSpec:
    """One incident field a rule may test, by dotted path."""

    path: str
    type: FieldType
    optional: bool
    choices: tuple[str, ...] = ()
    unit: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", field_type(self.type))

    def encode(self, value: object) -> EngineValue:
        return self.type.encode(value, self.choices)

    def parse(self, value: object) -> object:
        return self.type.parse(value, self.choices)

    def openapi(self) -> dict:
        return self.type.openapi(self.choices)



def incident_fields(
    tiers: tuple[str, ...],
    categories: tuple[str, ...],
    currencies: tuple[str, ...],
    remedy_kinds: tuple[str, ...],
    context: tuple[FieldSpec, ...] = (),
) -> dict[str, FieldSpec]:
    """The catalogue of testable fields for a policy's vocabulary and its context facts."""
    specs = [
        FieldSpec("customer.id", "string", False, description="Customer identifier"),
        FieldSpec("customer.tier", "enum", True, tiers, description="Customer tier"),
        FieldSpec("customer.lifetime_value", "decimal", True, unit="order currency",
                  description="Customer lifetime value"),
        FieldSpec("customer.prior_failures", "integer", False,
                  description="Earlier failures: the larger of the request's and Amends' count"),
        FieldSpec("order.id", "string", False, description="Order identifier"),
        FieldSpec("order.value", "decimal", False, unit="order currency",
                  description="Value of the affected order"),
        FieldSpec("order.currency", "enum", False, currencies, description="ISO 4217 code"),
        FieldSpec("order.shipping_fee", "decimal", True, unit="order currency"),
        FieldSpec("order.upgrade_cost", "decimal", True, unit="order currency"),
        FieldSpec("failure.category", "enum", False, categories),
        FieldSpec("failure.severity", "integer", False, description="1 trivial … 5 life-changing"),
        FieldSpec("failure.avoidable", "boolean", False,
                  description="Whether the customer sees the failure as avoidable"),
        FieldSpec("failure.description", "string", True),
        FieldSpec("failure.occurred_on", "date", True),
        FieldSpec("customer_ask.remedy", "enum", True, remedy_kinds),
        FieldSpec("customer_ask.amount", "decimal", True, unit="order currency"),
        FieldSpec("customer_ask.percent", "decimal", True, unit="percent of order value"),
        *context,
    ]
    return {spec.path: spec for spec in specs}


def raw_values(incident: Incident, prior_failures: int) -> dict[str, object]:
    """The incident's testable values by dotted path (None where absent)."""
    customer, order, failure, ask = (incident.customer, incident.order, incident.failure,
                                     incident.customer_ask)
    values: dict[str, object] = {
        "customer.id": customer.id,
        "customer.tier": customer.tier,
        "customer.lifetime_value": customer.lifetime_value,
        "customer.prior_failures": prior_failures,
        "order.id": order.id,
        "order.value": order.value,
        "order.currency": order.currency,
        "order.shipping_fee": order.shipping_fee,
        "order.upgrade_cost": order.upgrade_cost,
        "failure.category": failure.category,
        "failure.severity": failure.severity,
        "failure.avoidable": failure.avoidable,
        "failure.description": failure.description,
        "failure.occurred_on": failure.occurred_on,
        "customer_ask.remedy": ask.remedy if ask else None,
        "customer_ask.amount": ask.amount if ask else None,
        "customer_ask.percent": ask.percent if ask else None,
    }
    for name, value in incident.context.items():
        values[f"context.{name}"] = value
    return values


def fact_values(incident: Incident, prior_failures: int,
                derived: Iterable[Derived] = ()) -> dict[str, object]:
    """The incident's values by dotted path, with the policy's derived facts computed from
    them in the order declared (each may use the ones before it)."""
    values = raw_values(incident, prior_failures)
    for fact in derived:
        values[fact.path] = fact.value(values, incident.order.currency)
    return values


def encoded(values: Mapping[str, object], fields: dict[str, FieldSpec]
            ) -> dict[str, EngineValue]:
    """Encoded values of every present field, keyed by dotted path."""
    return {path: spec.encode(values[path]) for path, spec in fields.items()
            if values.get(path) is not None}


def flat_fact(incident: Incident, prior_failures: int, fields: dict[str, FieldSpec],
              derived: Iterable[Derived] = ()) -> dict[str, EngineValue]:
    """Encoded values of every present field (derived ones included), keyed by dotted path."""
    return encoded(fact_values(incident, prior_failures, derived), fields)


class Derived(Protocol):
    path: str

    def value(self, facts: Mapping[str, object], currency: str) -> object | None: ...
