"""The audit export: GET /v1/decisions, its query and its answer."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from marshmallow import Schema, ValidationError, fields

from schemas.decision import DecisionSchema
from schemas.fields import ISO_DATE, next_page_cursor, page_cursor, page_limit
from schemas.grants import GrantSchema, OutcomeResultSchema
from service.domain.reports import plus_read_as_space

MOMENT_FORMS = "a date (2026-11-01: its midnight, UTC) or a moment with its offset " \
               "(2026-11-01T09:30:00Z, 2026-11-01T10:30:00+01:00)"


def parse_moment(text: str) -> datetime:
    """A date (its midnight UTC) or an ISO 8601 moment with an offset, in UTC; ValueError for
    anything else (a moment without an offset is ambiguous)."""
    if not isinstance(text, str) or not text.isascii() or len(text) > 40:
        raise ValueError(f"Give {MOMENT_FORMS}.")
    if not ISO_DATE.fullmatch(text[:10]) or (len(text) > 10 and text[10] not in "T "):
        # not the other forms fromisoformat reads (20260101, 2026-W01-1, 2026-001)
        raise ValueError(f"Give {MOMENT_FORMS}.")
    if len(text) == 10:
        try:
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        except ValueError:
            raise ValueError(f"Not a date: give {MOMENT_FORMS}.") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(" ".join(filter(None, (
            plus_read_as_space(text), f"Give {MOMENT_FORMS}.")))) from None
    if moment.tzinfo is None:
        raise ValueError(f"A moment needs its offset (Z for UTC): give {MOMENT_FORMS}.")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first moment in UTC
        raise ValueError("The moment is out of range in UTC.") from None


class Moment(fields.String):
    """A query moment: a date or an ISO 8601 moment with an offset (see parse_moment)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("example", "2026-11-01")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        try:
            return parse_moment(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.isoformat()


class DecisionLogQuerySchema(Schema):
    since = Moment(required=True, metadata={
        "description": f"The first moment of the period (included): {MOMENT_FORMS}; in a "
                       "URL, an offset's `+` is `%2B`",
        "example": "2026-11-01"})
    until = Moment(load_default=None, metadata={
        "description": "The end of the period (excluded), after `since`; none: up to now, and "
                       "on until the last page (a period that has ended pages the same "
                       "decisions every time)",
        "example": "2026-12-01"})
    limit = page_limit("decisions")
    cursor = page_cursor()


class LoggedDecisionSchema(DecisionSchema):
    """A stored decision as decided (its offers with their current state), who asked and the
    incident as sent, and what was done about it: its grants and outcomes, oldest first."""

    customer_id = fields.String(required=True)
    order_id = fields.String(required=True)
    grants = fields.List(fields.Nested(GrantSchema), required=True)
    outcomes = fields.List(fields.Nested(OutcomeResultSchema), required=True)


class DecisionLogSchema(Schema):
    since = fields.String(required=True, metadata={"description": "UTC, ISO 8601"})
    until = fields.String(required=True, allow_none=True,
                          metadata={"description": "UTC, ISO 8601; null: no end"})
    decisions = fields.List(fields.Nested(LoggedDecisionSchema), required=True, metadata={
        "description": "Oldest first, by decided_at and then decision_id"})
    next_cursor = next_page_cursor()
