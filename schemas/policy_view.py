"""What `GET /v1/policy` shows of the active policy."""

from __future__ import annotations

from marshmallow import Schema, fields


class RoleViewSchema(Schema):
    name = fields.String(required=True)
    description = fields.String()
    per_incident_limit = fields.Dict(keys=fields.String(), values=fields.String())
    per_agent_daily_budget = fields.Dict(keys=fields.String(), values=fields.String(),
                                         allow_none=True)
    per_order_cap = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    per_customer_cap = fields.Dict(keys=fields.String(), values=fields.String(),
                                   allow_none=True)
    remedies = fields.List(fields.String())
    admin = fields.Boolean(metadata={"description": "May reload the policy"})
    policy_owner = fields.Boolean(metadata={
        "description": "May activate and roll back versions, replay and read reports"})


class ExchangeRatesViewSchema(Schema):
    as_of = fields.String(required=True, metadata={"description": "When the rates were set"})
    rates = fields.Dict(
        keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.String()),
        required=True, metadata={
            "description": "rates[into][from]: how much of `into` one `from` is worth; "
                           "running totals convert earlier grants into a budget's currency "
                           "at these rates, rounded up"})


class RemedyKindViewSchema(Schema):
    name = fields.String(required=True)
    scales = fields.Boolean()
    combines = fields.Boolean()
    description = fields.String()
    statutory = fields.Boolean(metadata={"description": "Fixed by law: no ceiling"})
    ceiling_percent = fields.String(allow_none=True, metadata={
        "description": "Its own ceiling; null: the policy's (or none when statutory)"})


class DerivedFactViewSchema(Schema):
    name = fields.String(required=True, metadata={"description": "Tested as derived.<name>"})
    type = fields.String()
    compute = fields.String(metadata={"description": "The expression, or what a band is of"})
    bands = fields.List(fields.Dict(), metadata={"description": "A band's ranges, in order"})
    description = fields.String()


class ContextFactViewSchema(Schema):
    name = fields.String(required=True)
    type = fields.String()
    required = fields.Boolean()
    values = fields.List(fields.String())
    unit = fields.String(allow_none=True)
    description = fields.String()


class RuleViewSchema(Schema):
    id = fields.String(required=True)
    description = fields.String()
    priority = fields.Integer()
    file = fields.String()
    line = fields.Integer()
    table = fields.String(allow_none=True, metadata={
        "description": "The `hit: first` decision table the rule is a row of"})
    when = fields.String(metadata={"description": "Its condition in words"})
    then = fields.List(fields.String(), metadata={"description": "What it does, a sentence "
                                                  "each"})


class RefusedSchema(Schema):
    version = fields.String(allow_none=True)
    at = fields.String()
    trigger = fields.String()
    reasons = fields.List(fields.String())


class FailingTestSchema(Schema):
    name = fields.String(required=True)
    file = fields.String(required=True)
    line = fields.Integer(required=True)
    problems = fields.List(fields.String(), required=True, metadata={
        "description": "What was expected and what came, a sentence each"})


class PolicyViewSchema(Schema):
    last_refused = fields.Nested(RefusedSchema, allow_none=True,
                                 metadata={"description": "The last reload that was refused"})
    failing_tests = fields.List(fields.Nested(FailingTestSchema), required=True, metadata={
        "description": "The version's own test cases that this Amends decides otherwise than "
                       "the one that activated it: empty, but for a version activated before "
                       "an upgrade of Amends, which serves all the same (a new version is "
                       "activated only when all of its tests pass)"})
    name = fields.String(required=True)
    version = fields.String(required=True)
    description = fields.String()
    effective_from = fields.String(allow_none=True)
    currencies = fields.List(fields.String())
    rule_count = fields.Integer(required=True)
    rules = fields.List(fields.Nested(RuleViewSchema))
    roles = fields.List(fields.Nested(RoleViewSchema))
    escalation = fields.List(fields.String())
    remedy_kinds = fields.List(fields.Nested(RemedyKindViewSchema))
    context = fields.List(fields.Nested(ContextFactViewSchema))
    derived = fields.List(fields.Nested(DerivedFactViewSchema))
    holidays = fields.List(fields.String())
    grant_now = fields.Dict(metadata={"description": "How grant_now is chosen: prefer (remedy "
                                      "kinds in order), ask_first"})
    failure_categories = fields.List(fields.String())
    customer_tiers = fields.List(fields.String())
    max_compensation_percent = fields.String()
    history_window_days = fields.Integer()
    rolling_window_days = fields.Integer(metadata={
        "description": "Window of the per-customer cap and the abuse signal"})
    day_starts_in = fields.String(metadata={
        "description": "Time zone whose midnight starts the daily budgets' day"})
    exchange_rates = fields.Nested(ExchangeRatesViewSchema, allow_none=True, metadata={
        "description": "Null for a policy of one currency"})


class ReloadSchema(Schema):
    changed = fields.Boolean(required=True)
    policy = fields.Nested(PolicyViewSchema, required=True)
