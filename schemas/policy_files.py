"""Structure of the rule files policy owners edit (meaning is checked by service.policy)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from marshmallow.experimental.context import Context

from schemas.fields import (
    FlexibleDate,
    StrictBoolean,
    StrictInteger,
    StrictString,
    WholeText,
    YamlDecimal,
)
from service.domain.fields import FIELD_TYPES
from service.domain.money import MAX_AMOUNT, MINOR_UNITS, in_minor_unit
from service.domain.vocabulary import (
    FACTOR_EFFECTS,
    ORDER_VALUES,
    OUTLOOKS,
    STEPS,
    Approval,
    OfferSource,
    OfferVariant,
)


def strict() -> bool:
    """Whether a policy gets every check (a new version: `policy check`, activating a
    folder), or is a version activated before, stored in the database, which loads without
    the checks added since it was (an upgrade never stops the active version from loading).
    Set by the loader through marshmallow's Context."""
    return (Context.get(default=None) or {}).get("strict", True)


class PolicyName(WholeText):
    """A name in a policy file, matched whole. A version activated before that was so (see
    `strict`) loads as it then did: with a line break at its end."""

    def __call__(self, value: str) -> str:
        if not strict():
            return validate.Regexp.__call__(self, value)
        return super().__call__(value)


class PolicyDate(FlexibleDate):
    """A date in a policy file, YYYY-MM-DD. A version activated before that was the only form
    (see `strict`) loads as it then did: with the other forms `date.fromisoformat` reads, and
    a YAML timestamp as its day (where it was compared with a day, every such decision had
    failed)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, datetime) and not strict():
            return value.date()
        if isinstance(value, str) and not strict():
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        return super()._deserialize(value, attr, data, **kwargs)


NAME = PolicyName(r"^[a-z][a-z0-9_]*$", error="Use lower-case letters, digits and _.")
RULE_ID = PolicyName(r"^[a-z0-9][a-z0-9_.-]*$",
                     error="Use lower-case letters, digits and . _ - only.")
CURRENCY = validate.OneOf(sorted(MINOR_UNITS), error="{input} is not an ISO 4217 currency code; "
                          "use a code such as EUR, USD, GBP, JPY or THB")


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


EXPRESSION = StrictString(validate=validate.Length(1, 1000), metadata={
    "description": "An expression (see rules/README.md, Expressions)"})
DERIVED_TYPES = ("integer", "decimal", "money", "boolean", "date", "enum")


class BandRangeSchema(Schema):
    below = YamlDecimal()
    at_most = YamlDecimal()
    before = PolicyDate()
    on_or_before = PolicyDate()
    value = StrictString(required=True, validate=NAME)

    @validates_schema(skip_on_field_errors=True)
    def _one_bound(self, data, **kwargs):
        if len(set(data) & {"below", "at_most", "before", "on_or_before"}) > 1:
            raise ValidationError("A range has one upper bound (`below` or `at_most`; for "
                                  "dates `before` or `on_or_before`), or none for the rest.",
                                  "value")


class BandSchema(Schema):
    of = StrictString(required=True, validate=validate.Length(1, 1000), metadata={
        "description": "The number or date banded: a fact or an expression"})
    ranges = fields.List(fields.Nested(BandRangeSchema), required=True,
                         validate=validate.Length(1, 100))


class DerivedFactSchema(Schema):
    type = StrictString(required=True, validate=validate.OneOf(DERIVED_TYPES))
    compute = EXPRESSION
    band = fields.Nested(BandSchema)
    description = StrictString(load_default="")

    @validates_schema(skip_on_field_errors=True)
    def _one_way(self, data, **kwargs):
        if ("compute" in data) == ("band" in data):
            raise ValidationError("Say how it is derived with exactly one of `compute` (an "
                                  "expression) or `band`.", "compute")
        if ("band" in data) != (data["type"] == "enum"):
            raise ValidationError("A `band` gives an `enum` fact, and an enum fact is a band.",
                                  "type")


class RemedyKindSchema(Schema):
    """A new kind says whether it scales; a built-in one may restate `combines` and its
    description (required and defaults are settled by the loader)."""

    scales = StrictBoolean()
    combines = StrictBoolean()
    description = StrictString()
    statutory = StrictBoolean(metadata={
        "description": "Fixed by law: no goodwill ceiling applies to its value"})
    ceiling_percent = YamlDecimal(validate=validate.Range(0, 10_000, min_inclusive=False),
                                  metadata={"description": "Its own ceiling, in percent of "
                                            "the order value, instead of the policy's"})

    @validates_schema(skip_on_field_errors=True)
    def _one_ceiling(self, data, **kwargs):
        if data.get("statutory") and "ceiling_percent" in data:
            raise ValidationError("A statutory kind has no ceiling; drop `ceiling_percent` "
                                  "or `statutory`.", "ceiling_percent")


class OutlookSchema(Schema):
    unlikely_at_hurts = StrictInteger(load_default=2, validate=validate.Range(1, 50))


def _rate_in_bounds(rate: Decimal) -> None:
    if strict() and not Decimal("1e-9") <= rate <= 1_000_000_000:
        raise ValidationError("A rate is between 0.000000001 and 1000000000.")


class ExchangeRatesSchema(Schema):
    """`rates[into][from]`: how much of `into` one unit of `from` is worth. Which pairs a
    policy needs is checked by the loader."""

    as_of = PolicyDate(required=True, metadata={"description": "When the rates were set"})
    rates = fields.Dict(
        keys=StrictString(validate=CURRENCY),
        values=fields.Dict(keys=StrictString(validate=CURRENCY),
                           values=YamlDecimal(validate=[validate.Range(
                               min=0, min_inclusive=False, error="A rate is above 0."),
                               _rate_in_bounds])),
        required=True)


def once_each(values: list) -> None:
    """A list that names each thing once (a repeat is a slip, never meant)."""
    if not strict():
        return
    twice = sorted({value for value in values if values.count(value) > 1})
    if twice:
        raise ValidationError(f"Name each once: {', '.join(map(str, twice))} twice.")


class PolicyFileSchema(Schema):
    name = StrictString(required=True, validate=RULE_ID)
    description = StrictString(load_default="")
    effective_from = PolicyDate(load_default=None)
    currencies = fields.List(StrictString(validate=CURRENCY), required=True,
                             validate=[validate.Length(min=1), once_each])
    customer_tiers = fields.List(StrictString(validate=NAME),
                                 load_default=["standard", "silver", "gold", "platinum"],
                                 validate=once_each)
    failure_categories = fields.List(StrictString(validate=NAME), required=True,
                                     validate=[validate.Length(min=1), once_each])
    history_window_days = StrictInteger(load_default=365, validate=validate.Range(1, 3650))
    max_compensation_percent = YamlDecimal(load_default=150, validate=validate.Range(0, 150))
    outlook = fields.Nested(OutlookSchema, load_default=lambda: {"unlikely_at_hurts": 2})
    context = fields.Dict(keys=StrictString(validate=NAME), values=fields.Nested(ContextFactSchema),
                          load_default=dict, validate=validate.Length(max=200))
    remedy_kinds = fields.Dict(keys=StrictString(validate=NAME),
                               values=fields.Nested(RemedyKindSchema), load_default=dict)
    exchange_rates = fields.Nested(ExchangeRatesSchema, load_default=None)
    holidays = fields.List(PolicyDate(), load_default=list, metadata={
        "description": "Days that are not business days (business_days in expressions)"})
    derived = fields.Dict(keys=StrictString(validate=NAME),
                          values=fields.Nested(DerivedFactSchema), load_default=dict,
                          validate=validate.Length(max=200))


class PerCurrency(fields.Dict):
    """An amount per currency, each as the service could pay it: not negative, at most
    MAX_AMOUNT, and in the currency's minor unit (EUR 5.005 is no amount to offer).

    Each amount is held in its currency's minor-unit form however the file writes it
    ("5E+1", 50 or "50.0" EUR is 50.00; 8.0e+3 JPY is 8000), so it is shown and put into
    words as money is everywhere else. The value never changes: an amount of a version
    activated before (see `strict`) that has more places than its currency keeps them."""

    def __init__(self, **kwargs):
        super().__init__(keys=StrictString(validate=CURRENCY),
                         values=YamlDecimal(validate=validate.Range(min=0)), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        amounts = super()._deserialize(value, attr, data, **kwargs)
        if strict():
            errors = {currency: [f"{currency} amounts are at most {MAX_AMOUNT}."]
                      for currency, amount in amounts.items() if amount > MAX_AMOUNT}
            errors.update({currency: [f"{currency} amounts have {places} decimal places at "
                                      "most."]
                           for currency, amount in amounts.items() if currency not in errors
                           and (places := MINOR_UNITS.get(currency)) is not None
                           and amount != amount.quantize(Decimal(1).scaleb(-places))})
            if errors:
                raise ValidationError(errors)
        return {currency: in_minor_unit(amount, currency)
                for currency, amount in amounts.items()}

class CapSchema(Schema):
    percent = YamlDecimal(validate=validate.Range(0, 10_000))
    amount = PerCurrency()
    compute = EXPRESSION

    @validates_schema(skip_on_field_errors=True)
    def one_cap(self, data, **kwargs):
        if len(data) != 1:
            raise ValidationError("A cap is one of `percent`, `amount` or `compute`.")


class RemedySchema(Schema):
    kind = StrictString(required=True, validate=NAME)
    # At most the kind's ceiling (the policy's max_compensation_percent unless the kind is
    # statutory or has its own): checked by the loader, which knows the kinds.
    percent = YamlDecimal(validate=validate.Range(0, 10_000, min_inclusive=False))
    amount = PerCurrency()
    value = StrictString(validate=validate.OneOf(list(ORDER_VALUES)))
    compute = EXPRESSION
    cap = fields.Nested(CapSchema)
    reason = StrictString()

    @validates_schema(skip_on_field_errors=True)
    def one_value(self, data, **kwargs):
        given = [name for name in ("percent", "amount", "value", "compute") if name in data]
        if len(given) != 1:
            raise ValidationError("Say how the value is computed with exactly one of "
                                  "`percent`, `amount`, `value` or `compute`.", "kind")


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


class EntitlementSchema(Schema):
    name = StrictString(required=True, validate=NAME)
    description = StrictString(required=True, validate=validate.Length(min=1))


class WithdrawSchema(Schema):
    remedy = StrictString(validate=NAME)
    entitlement = StrictString(validate=NAME)
    reason = StrictString(required=True, validate=validate.Length(min=1))

    @validates_schema(skip_on_field_errors=True)
    def _one_thing(self, data, **kwargs):
        if ("remedy" in data) == ("entitlement" in data):
            raise ValidationError("Withdraw either a `remedy` (a remedy kind) or an "
                                  "`entitlement` (its name).", "remedy")


class ThenSchema(Schema):
    factors = fields.Dict(keys=StrictString(validate=NAME),
                          values=StrictString(validate=validate.OneOf(FACTOR_EFFECTS)),
                          load_default=dict)
    steps = fields.List(StepField(), load_default=list)
    remedies = fields.List(fields.Nested(RemedySchema), load_default=list)
    entitlements = fields.List(fields.Nested(EntitlementSchema), load_default=list, metadata={
        "description": "Obligations without a money value (care, re-routing...)"})
    withdraw = fields.List(fields.Nested(WithdrawSchema), load_default=list, metadata={
        "description": "Offers or entitlements other rules proposed that this one withdraws"})


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




class RoleSchema(Schema):
    description = StrictString(load_default="")
    per_incident_limit = PerCurrency(required=True)
    per_agent_daily_budget = PerCurrency()
    per_order_cap = PerCurrency()
    per_customer_cap = PerCurrency()
    remedies = fields.List(StrictString(validate=NAME), required=True)
    admin = StrictBoolean(load_default=False,
                          metadata={"description": "May reload the policy"})
    policy_owner = StrictBoolean(load_default=False, metadata={
        "description": "May activate and roll back versions, replay and read reports"})


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


@cache
def _iana_zones() -> frozenset[str]:
    """The IANA zone names this system knows, less the files of its time zone folder that
    name no zone (`localtime`, the machine's own, and `Factory`, a placeholder)."""
    return frozenset(available_timezones() - {"localtime", "Factory"})


def time_zone(name: str) -> None:
    if strict():
        known = name in _iana_zones()  # not a folder such as `Europe`, nor `localtime`
    else:
        try:
            ZoneInfo(name)
            known = True
        except (ZoneInfoNotFoundError, ValueError, OSError):
            known = False
    if not known:
        raise ValidationError("Unknown time zone; use an IANA name such as Europe/Berlin "
                              "or UTC.")


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
    rules = fields.List(StrictString(), metadata={"description": "exactly the rules fired, "
                                                  "in order"})
    fired = fields.List(StrictString(), metadata={"description": "rules that must be among "
                                                  "those fired"})
    entitlements = fields.List(StrictString(), metadata={"description": "exactly these "
                                                         "entitlements (names, any order)"})
    notes = fields.List(StrictString(), metadata={"description": "each must appear in some "
                                                  "note of the decision"})


class PolicyTestSchema(Schema):
    name = StrictString(required=True, validate=validate.Length(min=1))
    role = StrictString(required=True)
    prior_failures = StrictInteger(load_default=0, validate=validate.Range(0, 100_000))
    incident = fields.Dict(required=True)
    expect = fields.Nested(ExpectSchema, required=True)


class TestsFileSchema(Schema):
    """A tests file; each test case is then checked on its own (PolicyTestSchema)."""

    tests = fields.List(fields.Dict(), required=True)
