"""Incident fields rules may test, and their encoding into clean engine facts.

durable_rules compares loosely (5 == "5"), saturates big integers and rejects some floats, so
every value given to it is an int, bool or str: decimals scaled by 10^4 to integers, dates as
ordinal day numbers. Rule values are encoded the same way when the policy is compiled.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from service.incident import Incident
from service.money import MAX_AMOUNT
from service.policy.model import ContextFact, FieldSpec

DECIMAL_SCALE = 10_000
MAX_INTEGER = 10**12  # beyond this, integers are refused: far below 64-bit saturation


def incident_fields(
    tiers: tuple[str, ...],
    categories: tuple[str, ...],
    currencies: tuple[str, ...],
    remedy_kinds: tuple[str, ...],
    context: dict[str, ContextFact],
) -> dict[str, FieldSpec]:
    """The catalogue of testable fields for a policy's vocabulary."""
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
    ]
    for fact in context.values():
        specs.append(FieldSpec(f"context.{fact.name}", fact.type, not fact.required,
                               fact.choices, fact.unit, fact.description))
    return {spec.path: spec for spec in specs}


class ValueTypeError(ValueError):
    pass


def encode(spec: FieldSpec, value: object) -> int | bool | str:
    """Encode a typed value (from a request or a rule file) for the engine, checking its type."""
    kind = spec.type
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueTypeError(f"expects true or false, not {value!r}")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise ValueTypeError(f"expects a whole number, not {value!r}")
        if isinstance(value, Decimal) and value != value.to_integral_value():
            raise ValueTypeError(f"expects a whole number, not {value}")
        if abs(int(value)) > MAX_INTEGER:
            raise ValueTypeError(f"expects a number no larger than {MAX_INTEGER}")
        return int(value)
    if kind == "decimal":
        if isinstance(value, bool | float):
            raise ValueTypeError(f"expects a decimal number, not {value!r}")
        try:
            number = Decimal(value) if isinstance(value, int | str) else value
        except InvalidOperation:
            raise ValueTypeError(f"expects a decimal number, not {value!r}") from None
        if not isinstance(number, Decimal) or not number.is_finite():
            raise ValueTypeError(f"expects a decimal number, not {value!r}")
        if abs(number) > MAX_AMOUNT:
            raise ValueTypeError(f"expects a number no larger than {MAX_AMOUNT}")
        scaled = number * DECIMAL_SCALE
        if scaled != scaled.to_integral_value():
            raise ValueTypeError("has more than 4 decimal places")
        return int(scaled)
    if kind == "date":
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise ValueTypeError(f"expects a date like 2024-06-30, not {value!r}") from None
        if not isinstance(value, date):
            raise ValueTypeError(f"expects a date like 2024-06-30, not {value!r}")
        return value.toordinal()
    if kind in ("string", "enum"):
        if not isinstance(value, str):
            raise ValueTypeError(f"expects text, not {value!r}")
        if kind == "enum" and value not in spec.choices:
            raise ValueTypeError(f"{value!r} is not one of {', '.join(spec.choices)}")
        return value
    raise ValueTypeError(f"unknown field type {kind}")


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


def flat_fact(incident: Incident, prior_failures: int,
              fields: dict[str, FieldSpec]) -> dict[str, int | bool | str]:
    """Encoded values of every present field, keyed by dotted path."""
    raw = raw_values(incident, prior_failures)
    return {path: encode(spec, raw[path]) for path, spec in fields.items()
            if raw.get(path) is not None}
