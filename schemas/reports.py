"""The report calls: their query arguments (strict: unknown arguments are refused) and answers."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.decision import MoneySchema
from schemas.fields import QueryInteger, StrictString
from service.domain.reports import (
    DEFAULT_TOP,
    MAX_BUCKETS,
    MAX_TOP,
    BoundInvalid,
    Bucket,
    Grouping,
    is_whole_day,
    period_bound,
    runs_backwards,
)
from service.domain.vocabulary import OUTLOOKS


class PeriodBound(StrictString):
    """A date (a whole day) or a datetime with its offset, as UTC (see `period_bound`): the
    one reading of a period's bounds for reports and what-if replay. (The audit log and its
    export read their own way, `schemas.decision_log.parse_moment`: a date `until` is its
    midnight, excluded, so that pages and exports of consecutive periods meet.)"""

    def __init__(self, upper: bool, **kwargs):
        self.upper = upper
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("example", "2026-11-30" if upper else "2026-11-01")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return period_bound(text, upper=self.upper)
        except BoundInvalid as error:
            raise ValidationError(str(error)) from None


class PeriodQuerySchema(Schema):
    since = PeriodBound(upper=False, load_default=None, metadata={
        "description": "From (inclusive): a date, from its midnight UTC, or a datetime with "
                       "its offset. Default: 90 days before `until`"})
    until = PeriodBound(upper=True, load_default=None, metadata={
        "description": "To: a date counts the whole day; a datetime with its offset is "
                       "exclusive. Default: now"})

    @validates_schema(pass_original=True)
    def _in_order(self, data, original, **kwargs):
        """`since` not after `until`; `until` written as a date is that whole day, so
        `since` must fall before its end."""
        since, until = data.get("since"), data.get("until")
        if since is None or until is None:
            return
        if runs_backwards(since, until, is_whole_day(original.get("until"))):
            raise ValidationError("The period starts after it ends: `since` must not be "
                                  "after `until`.", "since")


class OutcomeReportQuerySchema(PeriodQuerySchema):
    by = fields.String(load_default=Grouping.OUTLOOK.value,
                       validate=validate.OneOf([g.value for g in Grouping]), metadata={
                           "description": "Group decisions by `rule` (each rule of the trace), "
                                          "`remedy` (each kind granted; null: none granted), "
                                          "policy `version` or predicted `outlook`"})


class FailureReportQuerySchema(PeriodQuerySchema):
    bucket = fields.String(load_default=Bucket.WEEK.value,
                           validate=validate.OneOf([b.value for b in Bucket]), metadata={
                               "description": "Count per ISO `week` (from Monday) or calendar "
                                              f"`month`, UTC; at most {MAX_BUCKETS} in a "
                                              "period"})
    top = QueryInteger(load_default=DEFAULT_TOP, validate=validate.Range(1, MAX_TOP),
                       metadata={"description": "How many customers and orders to list"})


class RateSchema(Schema):
    rate = fields.String(required=True, allow_none=True, metadata={
        "description": "count / n to four places; null when n is 0", "example": "0.7500"})
    count = fields.Integer(required=True)
    n = fields.Integer(required=True)


class OutcomeFiguresSchema(Schema):
    key = fields.String(allow_none=True, metadata={
        "description": "The rule id, remedy kind (null: nothing granted), policy version or "
                       "outlook (absent in `total`)"})
    decisions = fields.Integer(required=True)
    outcomes = fields.Integer(required=True, metadata={
        "description": "Decisions with an outcome recorded (the latest one counts)"})
    accepted = fields.Nested(RateSchema, required=True)
    satisfied = fields.Nested(RateSchema, required=True, metadata={
        "description": "Of outcomes that say satisfied or not"})
    stayed = fields.Nested(RateSchema, required=True, metadata={
        "description": "Of outcomes that say stayed or not"})
    recovered = fields.Nested(RateSchema, required=True, metadata={
        "description": "Accepted, and satisfied or stayed; of all outcomes"})
    granted = fields.List(fields.Nested(MoneySchema), required=True, metadata={
        "description": "Money granted on these decisions, per currency; per remedy kind, "
                       "what that kind's grants gave"})


class CalibrationEntrySchema(Schema):
    outlook = fields.String(required=True, validate=validate.OneOf(OUTLOOKS))
    recovered = fields.Nested(RateSchema, required=True)


class CalibrationSchema(Schema):
    outlooks = fields.List(fields.Nested(CalibrationEntrySchema), required=True)
    likely_minus_unlikely = fields.String(required=True, allow_none=True, metadata={
        "description": "How much more often `likely` recovered than `unlikely`; null until "
                       "both have outcomes"})


class OutcomeReportSchema(Schema):
    by = fields.String(required=True)
    since = fields.String(required=True)
    until = fields.String(required=True)
    total = fields.Nested(OutcomeFiguresSchema, required=True)
    groups = fields.List(fields.Nested(OutcomeFiguresSchema), required=True, metadata={
        "description": "Most decisions first, then by key"})
    calibration = fields.Nested(CalibrationSchema, required=True)


class FailureKindSchema(Schema):
    category = fields.String(required=True)
    severity = fields.Integer(required=True)
    incidents = fields.Integer(required=True)
    repeat = fields.Nested(RateSchema, required=True)


class FailurePeriodSchema(Schema):
    start = fields.String(required=True)
    end = fields.String(required=True)
    incidents = fields.Integer(required=True)
    repeat = fields.Nested(RateSchema, required=True)
    kinds = fields.List(fields.Nested(FailureKindSchema), required=True)


class RecurringSchema(Schema):
    id = fields.String(required=True, metadata={"description": "Customer or order id"})
    incidents = fields.Integer(required=True)
    first_at = fields.String(required=True)
    last_at = fields.String(required=True)


class FailureReportSchema(Schema):
    since = fields.String(required=True)
    until = fields.String(required=True)
    bucket = fields.String(required=True)
    incidents = fields.Integer(required=True)
    repeat = fields.Nested(RateSchema, required=True, metadata={
        "description": "Incidents of customers who had failed before"})
    kinds = fields.List(fields.Nested(FailureKindSchema), required=True, metadata={
        "description": "Per category and severity, over the whole period"})
    periods = fields.List(fields.Nested(FailurePeriodSchema), required=True, metadata={
        "description": "Every week or month of the period, oldest first"})
    top_customers = fields.List(fields.Nested(RecurringSchema), required=True)
    top_orders = fields.List(fields.Nested(RecurringSchema), required=True)
