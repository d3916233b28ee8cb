"""The decision request: an incident as other systems send it."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from schemas.fields import (
    FlexibleDate,
    MoneyAmount,
    StrictBoolean,
    StrictInteger,
    StrictString,
    whole_text,
)
from service.domain.incident import Customer, CustomerAsk, Failure, Incident, Order
from service.domain.money import MINOR_UNITS

IDENTIFIER = whole_text(r"[A-Za-z0-9][A-Za-z0-9._:@/-]*",
                        error="Use letters, digits and . _ : @ / - only.")
NAME = whole_text(r"[a-z][a-z0-9_]*", error="Use lower-case letters, digits and _.")
NOT_ISO_CURRENCY = "Not an ISO 4217 currency code (three capital letters such as EUR, USD, JPY)."


class CustomerSchema(Schema):
    id = StrictString(required=True, validate=[validate.Length(1, 100), IDENTIFIER])
    tier = StrictString(validate=validate.Length(1, 50))
    lifetime_value = MoneyAmount()
    prior_failures = StrictInteger(validate=validate.Range(0, 100_000))


class OrderSchema(Schema):
    id = StrictString(required=True, validate=[validate.Length(1, 100), IDENTIFIER])
    value = MoneyAmount(required=True)
    currency = StrictString(required=True, validate=validate.OneOf(
        sorted(MINOR_UNITS), error=NOT_ISO_CURRENCY))
    shipping_fee = MoneyAmount()
    upgrade_cost = MoneyAmount()

    @validates_schema(skip_on_field_errors=True)
    def amounts_fit_currency(self, data, **kwargs):
        places = MINOR_UNITS[data["currency"]]
        errors = {}
        for name in ("value", "shipping_fee", "upgrade_cost"):
            amount = data.get(name)
            if amount is not None and -amount.as_tuple().exponent > places:
                errors[name] = [f"{data['currency']} has {places} decimal places."]
        if errors:
            raise ValidationError(errors)


class FailureSchema(Schema):
    category = StrictString(required=True, validate=validate.Length(1, 64))
    severity = StrictInteger(required=True, validate=validate.Range(1, 5))
    avoidable = StrictBoolean(required=True)
    description = StrictString(validate=validate.Length(max=2000))
    occurred_on = FlexibleDate()


class CustomerAskSchema(Schema):
    remedy = StrictString(required=True, validate=validate.Length(1, 64))
    amount = MoneyAmount()
    percent = MoneyAmount(validate=validate.Range(0, 150), metadata={"example": "20"})

    @validates_schema(skip_on_field_errors=True)
    def one_measure(self, data, **kwargs):
        if "amount" in data and "percent" in data:
            raise ValidationError("Give amount or percent, not both.", "percent")


class IncidentSchema(Schema):
    incident_id = StrictString(required=True, validate=[validate.Length(1, 100), IDENTIFIER])
    customer = fields.Nested(CustomerSchema, required=True)
    order = fields.Nested(OrderSchema, required=True)
    failure = fields.Nested(FailureSchema, required=True)
    customer_ask = fields.Nested(CustomerAskSchema)
    context = fields.Dict(keys=fields.String(validate=NAME), values=fields.Raw(allow_none=False),
                          validate=validate.Length(max=200),
                          metadata={"description": "Facts the policy declares for its domain"})

    @validates_schema(skip_on_field_errors=False)  # named beside other fields at fault
    def ask_fits_currency(self, data, **kwargs):
        """An amount asked for is in the order's currency: no finer than its smallest unit
        (120.005 EUR would be offered as 120.01, more than was asked)."""
        amount = (data.get("customer_ask") or {}).get("amount")
        currency = (data.get("order") or {}).get("currency")
        if amount is None or currency is None:
            return
        places = MINOR_UNITS[currency]
        if -amount.as_tuple().exponent > places:
            raise ValidationError({"customer_ask": {"amount": [
                f"{currency} (the order's currency) has {places} decimal places."]}})

    @post_load
    def to_incident(self, data, **kwargs) -> Incident:
        ask = data.get("customer_ask")
        return Incident(
            incident_id=data["incident_id"],
            customer=Customer(**data["customer"]),
            order=Order(**data["order"]),
            failure=Failure(**data["failure"]),
            customer_ask=CustomerAsk(**ask) if ask else None,
            context=dict(data.get("context") or {}),
        )
