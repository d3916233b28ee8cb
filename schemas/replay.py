"""What-if replay: the request (a candidate policy and a period) and the report."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.decision import MoneySchema
from schemas.fields import StrictInteger, StrictString, next_page_cursor, page_cursor
from schemas.reports import PeriodBound
from service.domain.vocabulary import OUTLOOKS, Approval, OfferVariant

API_LIMIT, MAX_LIMIT, DEFAULT_SAMPLE, MAX_SAMPLE = 10_000, 100_000, 10, 50


class ReplayCandidateSchema(Schema):
    version = StrictString(validate=validate.Length(1, 64), metadata={
        "description": "A stored policy version (one that was activated)"})
    folder = StrictString(validate=validate.Length(1, 4096), metadata={
        "description": "A policy folder on the server"})

    @validates_schema(skip_on_field_errors=True)
    def _one(self, data, **_kwargs):
        if len(data) != 1:
            raise ValidationError("Name either a stored `version` or a `folder`.")


class ReplayRequestSchema(Schema):
    candidate = fields.Nested(ReplayCandidateSchema, required=True)
    since = PeriodBound(upper=False, load_default=None, metadata={
        "description": "First moment of the period (a date: from 00:00 UTC that day)"})
    until = PeriodBound(upper=True, load_default=None, metadata={
        "description": "End of the period, excluded (a date: that day included); default: "
                       "now"})
    limit = StrictInteger(load_default=API_LIMIT, validate=validate.Range(1, MAX_LIMIT),
                          metadata={"description": "Most decisions this call replays, newest "
                                                   "first; a call continued with `cursor` "
                                                   "replays up to as many more"})
    sample = StrictInteger(load_default=DEFAULT_SAMPLE, validate=validate.Range(0, MAX_SAMPLE),
                           metadata={"description": "Most changed decisions shown in full"})
    cursor = page_cursor()

    @validates_schema(skip_on_field_errors=True)
    def _ordered(self, data, **_kwargs):
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ValidationError("The period must end after it starts.", "until")


class ReplayCandidateViewSchema(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)
    source = fields.String(required=True, metadata={"description": "folder … or version …"})
    failing_tests = fields.List(fields.String(), required=True, metadata={
        "description": "The candidate's own test cases that fail (it is replayed all the "
                       "same)"})


class ReplayPeriodSchema(Schema):
    since = fields.String(required=True, allow_none=True)
    until = fields.String(required=True)


class ReplayReasonSchema(Schema):
    reason = fields.String(required=True)
    decisions = fields.Integer(required=True)


class ReplayRoleSchema(Schema):
    role = fields.String(required=True)
    decisions = fields.Integer(required=True)


class ReplayOutlookMoveSchema(Schema):
    before = fields.String(required=True, validate=validate.OneOf(OUTLOOKS))
    after = fields.String(required=True, validate=validate.OneOf(OUTLOOKS))
    decisions = fields.Integer(required=True)


class ReplayChangedSchema(Schema):
    decisions = fields.Integer(required=True, metadata={"description": "Changed in any way"})
    outlook = fields.Integer(required=True)
    offers = fields.Integer(required=True, metadata={
        "description": "An offer added or removed, by remedy, variant and value"})
    approvals = fields.Integer(required=True, metadata={
        "description": "An offer both make needs approval otherwise, by another role, or "
                       "moves in or out of grant_now"})
    outlook_moves = fields.List(fields.Nested(ReplayOutlookMoveSchema), required=True)


class ReplayMoneySchema(Schema):
    currency = fields.String(required=True)
    offered_before = fields.String(required=True, metadata={
        "description": "Full offers of the stored decisions (capped variants left out)"})
    offered_after = fields.String(required=True)
    approval_free_before = fields.String(required=True, metadata={
        "description": "grant_now totals: what callers could grant without approval (of the "
                       "decisions stored with one: see approval_free_unknown)"})
    approval_free_after = fields.String(required=True)


class ReplayRuleSchema(Schema):
    rule = fields.String(required=True)
    fired_before = fields.Integer(required=True)
    fired_after = fields.Integer(required=True)


class ReplayOfferSchema(Schema):
    remedy = fields.String(required=True)
    variant = fields.String(required=True, validate=validate.OneOf(list(OfferVariant)))
    value = fields.Nested(MoneySchema, required=True)
    percent = fields.String(allow_none=True)
    approval = fields.String(required=True, validate=validate.OneOf(list(Approval)))
    approver_role = fields.String(allow_none=True)
    rule = fields.String(allow_none=True)
    in_grant_now = fields.Boolean(required=True)


class ReplayAnswerSchema(Schema):
    policy_version = fields.String(required=True)
    outlook = fields.String(required=True, validate=validate.OneOf(OUTLOOKS))
    offers = fields.List(fields.Nested(ReplayOfferSchema), required=True)
    grant_now_total = fields.Nested(MoneySchema, allow_none=True, required=True)
    rules = fields.List(fields.String(), required=True, metadata={
        "description": "The rules that fired, in order"})


class ReplayChangedDecisionSchema(Schema):
    decision_id = fields.String(required=True)
    incident_id = fields.String(required=True)
    decided_at = fields.String(required=True)
    role = fields.String(required=True)
    changed = fields.List(fields.String(validate=validate.OneOf(
        ["outlook", "offers", "approvals"])), required=True)
    before = fields.Nested(ReplayAnswerSchema, required=True)
    after = fields.Nested(ReplayAnswerSchema, required=True)
    added = fields.List(fields.Nested(ReplayOfferSchema), required=True)
    removed = fields.List(fields.Nested(ReplayOfferSchema), required=True)


class ReplayReportSchema(Schema):
    candidate = fields.Nested(ReplayCandidateViewSchema, required=True)
    period = fields.Nested(ReplayPeriodSchema, required=True)
    limit = fields.Integer(required=True, allow_none=True)
    in_period = fields.Integer(required=True, metadata={
        "description": "Stored decisions of the period when the replay started"})
    replayed = fields.Integer(required=True)
    replayed_from = fields.String(required=True, allow_none=True, metadata={
        "description": "decided_at of the oldest decision replayed"})
    replayed_to = fields.String(required=True, allow_none=True)
    compared = fields.Integer(required=True, metadata={
        "description": "Replayed and decided by the candidate"})
    not_decidable = fields.Integer(required=True, metadata={
        "description": "Stored requests the candidate refuses"})
    not_decidable_reasons = fields.List(fields.Nested(ReplayReasonSchema), required=True)
    role_missing = fields.Integer(required=True, metadata={
        "description": "Decisions for a role the candidate does not define"})
    role_missing_roles = fields.List(fields.Nested(ReplayRoleSchema), required=True)
    changed = fields.Nested(ReplayChangedSchema, required=True)
    money = fields.List(fields.Nested(ReplayMoneySchema), required=True)
    approval_free_unknown = fields.Integer(required=True, metadata={
        "description": "Compared decisions stored before grant_now was decided: left out of "
                       "both approval-free sums"})
    rules = fields.List(fields.Nested(ReplayRuleSchema), required=True, metadata={
        "description": "Each rule that fired either way: decisions whose trace names it; "
                       "the most changed first"})
    sample = fields.List(fields.Nested(ReplayChangedDecisionSchema), required=True, metadata={
        "description": "The first changed decisions, newest first, both answers"})
    complete = fields.Boolean(required=True, metadata={
        "description": "false: the request's time ran out before its limit or the period's "
                       "end; continue with next_cursor (which is also there when the limit "
                       "ended the call and the period has more)"})
    next_cursor = next_page_cursor()
    seconds = fields.Float(required=True)
    per_second = fields.Float(required=True)
