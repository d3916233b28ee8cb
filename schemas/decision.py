"""The decision response, as the API contract names it (field names are a promise)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.fields import next_page_cursor, page_cursor, page_limit
from service.domain.vocabulary import (
    FACTOR_EFFECTS,
    OUTLOOKS,
    STEPS,
    Approval,
    OfferSource,
    OfferState,
    OfferVariant,
)


class MoneySchema(Schema):
    amount = fields.String(required=True, metadata={"example": "18.00"})
    currency = fields.String(required=True, metadata={"example": "EUR"})


class PolicyRefSchema(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True, metadata={"description": "Content hash"})


class FactorSchema(Schema):
    name = fields.String(required=True)
    effect = fields.String(required=True, validate=validate.OneOf(FACTOR_EFFECTS))
    rule = fields.String(required=True)


class RecoverySchema(Schema):
    outlook = fields.String(required=True, validate=validate.OneOf(OUTLOOKS))
    factors = fields.List(fields.Nested(FactorSchema), required=True)


class StepSchema(Schema):
    step = fields.String(required=True, validate=validate.OneOf(STEPS))
    after_days = fields.Integer()


class OfferSchema(Schema):
    id = fields.String(required=True)
    remedy = fields.String(required=True)
    percent = fields.String(allow_none=True)
    value = fields.Nested(MoneySchema, required=True)
    approval = fields.String(required=True, validate=validate.OneOf(list(Approval)))
    approver_role = fields.String(allow_none=True)
    rule = fields.String(allow_none=True)
    reason = fields.String(required=True)
    variant = fields.String(required=True, validate=validate.OneOf(list(OfferVariant)))
    capped_from = fields.String(allow_none=True)
    source = fields.String(required=True, validate=validate.OneOf(list(OfferSource)))
    state = fields.String(validate=validate.OneOf(list(OfferState)), metadata={
        "description": "What became of the offer (stored decisions)"})
    state_changed_at = fields.String()
    grantable_now = fields.Boolean(metadata={
        "description": "GET of a stored decision: whether you may grant it now, alone "
                       "(its state, what was granted on the decision, your limits and the "
                       "running totals of this moment)"})
    not_grantable_because = fields.List(fields.String(), metadata={
        "description": "GET of a stored decision: why you may not grant it now"})


class GrantNowSchema(Schema):
    offers = fields.List(fields.String(), required=True, metadata={
        "description": "Ids of the offers the role may grant together, now, without approval"})
    total = fields.Nested(MoneySchema, required=True)
    role = fields.String(required=True, metadata={"description": "For whom it was chosen"})
    as_of = fields.String(allow_none=True, metadata={
        "description": "The moment of the running totals it was chosen against"})


class WithdrawnSchema(Schema):
    remedy = fields.String(metadata={"description": "The remedy kind withdrawn"})
    entitlement = fields.String(metadata={"description": "The entitlement withdrawn"})
    rule = fields.String(required=True, metadata={"description": "The exemption's rule"})
    reason = fields.String(required=True)
    from_rules = fields.List(fields.String(), required=True, metadata={
        "description": "The fired rules whose proposal it took back"})


class EntitlementSchema(Schema):
    name = fields.String(required=True)
    description = fields.String(required=True)
    rule = fields.String(required=True)


class TraceEntrySchema(Schema):
    rule = fields.String(required=True)
    description = fields.String(required=True)
    priority = fields.Integer(required=True)
    withdrew = fields.List(fields.Nested(WithdrawnSchema), metadata={
        "description": "What this rule withdrew (an exemption)"})


class DecisionSchema(Schema):
    decision_id = fields.String(required=True)
    incident_id = fields.String(required=True)
    policy = fields.Nested(PolicyRefSchema, required=True)
    role = fields.String(required=True)
    prior_failures = fields.Integer(required=True)
    recovery = fields.Nested(RecoverySchema, required=True)
    steps = fields.List(fields.Nested(StepSchema), required=True)
    offers = fields.List(fields.Nested(OfferSchema), required=True)
    entitlements = fields.List(fields.Nested(EntitlementSchema), required=True, metadata={
        "description": "Obligations without a money value the rules grant (care, "
                       "re-routing...)"})
    withdrawn = fields.List(fields.Nested(WithdrawnSchema), required=True, metadata={
        "description": "Offers and entitlements an exemption took back"})
    trace = fields.List(fields.Nested(TraceEntrySchema), required=True)
    notes = fields.List(fields.String(), required=True)
    grant_now = fields.Nested(GrantNowSchema, allow_none=True, metadata={
        "description": "The offers the caller may grant together now: POST them to "
                       "/v1/decisions/{id}/grants. In a new decision, as of its making; in "
                       "GET, for the caller as of now (null: stored before grant_now)"})
    decided_at = fields.String(metadata={"description": "When it was decided (UTC, ISO 8601)"})
    principal = fields.String(metadata={"description": "Who asked (stored decisions)"})
    request = fields.Dict(metadata={"description": "The incident as sent (stored decisions)"})
    grants = fields.List(fields.Dict(), metadata={"description": "Grants made on its offers"})
    approval_requests = fields.List(fields.Dict())
    outcomes = fields.List(fields.Dict())


class HistoryOfferSchema(Schema):
    id = fields.String(required=True)
    remedy = fields.String(required=True)
    value = fields.Nested(MoneySchema, required=True)
    variant = fields.String(required=True)
    approval = fields.String(required=True)
    state = fields.String(required=True)


class HistoryIncidentSchema(Schema):
    incident_id = fields.String(required=True)
    decision_id = fields.String(required=True)
    decided_at = fields.String(required=True)
    order_id = fields.String(required=True)
    category = fields.String(required=True)
    severity = fields.Integer(required=True)
    outlook = fields.String(required=True)
    policy = fields.Nested(PolicyRefSchema, required=True)
    principal = fields.String(required=True)
    role = fields.String(required=True)
    offers = fields.List(fields.Nested(HistoryOfferSchema), required=True)


class CustomerHistorySchema(Schema):
    customer_id = fields.String(required=True)
    incidents = fields.List(fields.Nested(HistoryIncidentSchema), required=True,
                            metadata={"description": "Incidents decided, newest first"})
    grants = fields.List(fields.Dict(), required=True,
                         metadata={"description": "Grants to the customer, newest first"})
    next_cursor = next_page_cursor()


class HistoryQuerySchema(Schema):
    limit = page_limit("incidents and most grants")
    cursor = page_cursor()


class HealthSchema(Schema):
    status = fields.String(required=True)
    policy_version = fields.String(required=True)


class ReadySchema(Schema):
    status = fields.String(required=True)
    policy_version = fields.String(required=True)
    database = fields.String(required=True)
