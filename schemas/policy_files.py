"""Structure of the rule files policy owners edit (meaning is checked by service.policy)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.fields import FlexibleDate, StrictBoolean, StrictInteger, StrictString, YamlDecimal
from service.domain.fields import FIELD_TYPES
from service.domain.money import MINOR_UNITS
from service.domain.vocabulary import (
    FACTOR_EFFECTS,
    ORDER_VALUES,
    OUTLOOKS,
    STEPS,
    Approval,
    OfferSource,
    OfferVariant,
)

NAME = validate.Regexp(r"^[a-z][a-z0-9_]*$", error="Use lower-case letters, digits and _.")
RULE_ID = validate.Regexp(r"^[a-z0-9][a-z0-9_.-]*$",
                          error="Use lower-case letters, digits and . _ - only.")
CURRENCY = validate.OneOf(sorted(MINOR_UNITS), error="Unknown currency code.")


class ContextFactSchema(Schema):
    type = StrictString(required=True, validate=validate.OneOf(list(FIELD_TYPES)))
    required = StrictBoolean(load_default=False)
    values = fields.List(StrictString(), validate=validate.Length(min=1))
    unit = StrictString()
    description = StrictString(load_default="")

    @validates_schema(skip_on_field_errors=True)
    def enum_has_values(self, data, **kwargs):
        if FIELD_TYPES[data["type"]].has_choices != ("values" in data):
            raise ValidationError("`values` is required for an enum and only for an enum.",
                                  "values")


class RemedyKindSchema(Schema):
    """A new kind says whether it scales; a built-in one may restate `combines` and its
    description (required and defaults are settled by the loader)."""

    scales = StrictBoolean()
    combines = StrictBoolean()
    description = StrictString()


class OutlookSchema(Schema):
    unlikely_at_hurts = StrictInteger(load_default=2, validate=validate.Range(1, 50))


class ExchangeRatesSchema(Schema):
    """`rates[into][from]`: how much of `into` one unit of `from` is worth. Which pairs a
    policy needs is checked by the loader."""

    as_of = FlexibleDate(required=True, metadata={"description": "When the rates were set"})
    rates = fields.Dict(
        keys=StrictString(validate=CURRENCY),
        values=fields.Dict(keys=StrictString(validate=CURRENCY),
                           values=YamlDecimal(validate=validate.Range(
                               min=0, min_inclusive=False, error="A rate is above 0."))),
        required=True)


class PolicyFileSchema(Schema):
    name = StrictString(required=True, validate=RULE_ID)
    description = StrictString(load_default="")
    effective_from = FlexibleDate(load_default=None)
    currencies = fields.List(StrictString(validate=CURRENCY), required=True,
                             validate=validate.Length(min=1))
    customer_tiers = fields.List(StrictString(validate=NAME),
                                 load_default=["standard", "silver", "gold", "platinum"])
    failure_categories = fields.List(StrictString(validate=NAME), required=True,
                                     validate=validate.Length(min=1))
    history_window_days = StrictInteger(load_default=365, validate=validate.Range(1, 3650))
    max_compensation_percent = YamlDecimal(load_default=150, validate=validate.Range(0, 150))
    outlook = fields.Nested(OutlookSchema, load_default=lambda: {"unlikely_at_hurts": 2})
    context = fields.Dict(keys=StrictString(validate=NAME), values=fields.Nested(ContextFactSchema),
                          load_default=dict, validate=validate.Length(max=200))
    remedy_kinds = fields.Dict(keys=StrictString(validate=NAME),
                               values=fields.Nested(RemedyKindSchema), load_default=dict)
    exchange_rates = fields.Nested(ExchangeRatesSchema, load_default=None)


class CapSchema(Schema):
    percent = YamlDecimal(validate=validate.Range(0, 150))
    amount = fields.Dict(keys=StrictString(validate=CURRENCY),
                         values=YamlDecimal(validate=validate.Range(min=0)))

    @validates_schema(skip_on_field_errors=True)
    def one_cap(self, data, **kwargs):
        if len(data) != 1:
            raise ValidationError("A cap is either `percent` or `amount`.")


class RemedySchema(Schema):
    kind = StrictString(required=True, validate=NAME)
    percent = YamlDecimal(validate=validate.Range(0, 150, min_inclusive=False))
    amount = fields.Dict(keys=StrictString(validate=CURRENCY),
                         values=YamlDecimal(validate=validate.Range(min=0)))
    value = StrictString(validate=validate.OneOf(list(ORDER_VALUES)))
    cap = fields.Nested(CapSchema)
    reason = StrictString()

    @validates_schema(skip_on_field_errors=True)
    def one_value(self, data, **kwargs):
        given = [name for name in ("percent", "amount", "value") if name in data]
        if len(given) != 1:
            raise ValidationError("Say how the value is computed with exactly one of "
                                  "`percent`, `amount` or `value`.", "kind")


class StepField(fields.Field):
    """`fix`, or `{step: follow_up, after_days: 3}`."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = {"step": value}
        if not isinstance(value, dict):
            raise ValidationError("A step is a name such as `apologize` or "
                                  "`{step: follow_up, after_days: 3}`.")
        return _StepSchema().load(value)


class _StepSchema(Schema):
    step = StrictString(required=True, validate=validate.OneOf(STEPS))
    after_days = StrictInteger(validate=validate.Range(0, 365))


class ThenSchema(Schema):
    factors = fields.Dict(keys=StrictString(validate=NAME),
                          values=StrictString(validate=validate.OneOf(FACTOR_EFFECTS)),
                          load_default=dict)
    steps = fields.List(StepField(), load_default=list)
    remedies = fields.List(fields.Nested(RemedySchema), load_default=list)


class RuleSchema(Schema):
    id = StrictString(required=True, validate=RULE_ID)
    description = StrictString(required=True, validate=validate.Length(min=1))
    priority = StrictInteger(load_default=500, validate=validate.Range(1, 60000))
    when = fields.Raw(load_default=None, allow_none=True)
    then = fields.Nested(ThenSchema, required=True)


class RulesFileSchema(Schema):
    """A rules file; each rule is then checked on its own (RuleSchema) so that one bad rule
    does not hide the problems of the others."""

    rules = fields.List(fields.Dict(), required=True)


def _per_currency(**kwargs):
    return fields.Dict(keys=StrictString(validate=CURRENCY),
                       values=YamlDecimal(validate=validate.Range(min=0)), **kwargs)


class RoleSchema(Schema):
    description = StrictString(load_default="")
    per_incident_limit = _per_currency(required=True)
    per_agent_daily_budget = _per_currency()
    per_order_cap = _per_currency()
    per_customer_cap = _per_currency()
    remedies = fields.List(StrictString(validate=NAME), required=True)
    admin = StrictBoolean(load_default=False,
                          metadata={"description": "May reload the policy"})


class AbuseSignalSchema(Schema):
    grants_in_window = StrictInteger(required=True, validate=validate.Range(1, 10_000))


class GrantNowSchema(Schema):
    prefer = fields.List(StrictString(validate=NAME), load_default=list, metadata={
        "description": "remedy kinds in the order grant_now takes the policy's offers"})
    ask_first = StrictBoolean(load_default=True, metadata={
        "description": "the customer's ask (or its capped variant) before any preference"})

    @validates_schema
    def _once_each(self, data, **_):
        prefer = data.get("prefer") or []
        if len(set(prefer)) != len(prefer):
            raise ValidationError("name each remedy kind once", field_name="prefer")


def time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("Unknown time zone; use an IANA name such as Europe/Berlin "
                              "or UTC.") from None


class RolesFileSchema(Schema):
    escalation = fields.List(StrictString(validate=NAME), required=True,
                             validate=validate.Length(min=1))
    roles = fields.Dict(keys=StrictString(validate=NAME), values=fields.Nested(RoleSchema),
                        required=True, validate=validate.Length(min=1))
    rolling_window_days = StrictInteger(load_default=30, validate=validate.Range(1, 3650))
    day_starts_in = StrictString(load_default="UTC", validate=time_zone, metadata={
        "description": "IANA time zone whose midnight starts the daily budgets' day"})
    abuse_signal = fields.Nested(AbuseSignalSchema, load_default=None, allow_none=True)
    grant_now = fields.Nested(GrantNowSchema, load_default=lambda: {"prefer": [],
                                                                     "ask_first": True})


class ExpectedOfferSchema(Schema):
    remedy = StrictString(required=True)
    variant = StrictString(load_default="full", validate=validate.OneOf(list(OfferVariant)))
    source = StrictString(validate=validate.OneOf(list(OfferSource)))
    value = YamlDecimal()
    percent = YamlDecimal()
    approval = StrictString(validate=validate.OneOf(list(Approval)))
    approver_role = StrictString(allow_none=True)


class ExpectSchema(Schema):
    outlook = StrictString(validate=validate.OneOf(OUTLOOKS))
    factors = fields.Dict(keys=StrictString(), values=StrictString(
        validate=validate.OneOf(FACTOR_EFFECTS)))
    steps = fields.List(StrictString(validate=validate.OneOf(STEPS)))
    follow_up_days = StrictInteger(allow_none=True)
    offers = fields.List(fields.Nested(ExpectedOfferSchema))
    rules = fields.List(StrictString())


class PolicyTestSchema(Schema):
    name = StrictString(required=True, validate=validate.Length(min=1))
    role = StrictString(required=True)
    prior_failures = StrictInteger(load_default=0, validate=validate.Range(0, 100_000))
    incident = fields.Dict(required=True)
    expect = fields.Nested(ExpectSchema, required=True)


class TestsFileSchema(Schema):
    """A tests file; each test case is then checked on its own (PolicyTestSchema)."""

    tests = fields.List(fields.Dict(), required=True)
