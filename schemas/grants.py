"""Bodies of the grant, approval and outcome calls (all optional fields are named)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from schemas.decision import MoneySchema
from schemas.fields import (
    StrictBoolean,
    StrictString,
    next_page_cursor,
    page_cursor,
    page_limit,
)
from service.domain.vocabulary import RequestState


def _unique(ids: list[str]) -> None:
    if len(set(ids)) != len(ids):
        raise ValidationError("Name each offer once.")


class EmptyBodySchema(Schema):
    """No fields: nothing, or an empty object (a call whose path and key say it all)."""


class GrantBodySchema(EmptyBodySchema):
    """No fields: the offer says what is granted and the key who grants it."""


class GrantSetSchema(Schema):
    offers = fields.List(StrictString(validate=validate.Length(1, 200)), required=True,
                         validate=[validate.Length(1, 50), _unique], metadata={
                             "description": "Ids of offers of this decision, granted all or "
                                            "none, one after another in this order",
                             "uniqueItems": True})


class NoteSchema(Schema):
    note = StrictString(validate=validate.Length(1, 2000))


class RejectSchema(Schema):
    reason = StrictString(required=True, validate=validate.Length(1, 2000))


class OutcomeSchema(Schema):
    accepted = StrictBoolean(required=True, metadata={"description": "Customer took the offer"})
    satisfied = StrictBoolean(allow_none=True)
    stayed = StrictBoolean(allow_none=True, metadata={"description": "Customer came back"})
    note = StrictString(validate=validate.Length(1, 2000))


class ApprovalsQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(list(RequestState)),
                           metadata={"description": "pending by default; with "
                                     "requested_by=me, every state by default"})
    requested_by = fields.String(load_default=None, validate=validate.OneOf(["me"]),
                                 metadata={"description": "me: your own requests, in every "
                                           "state (or the given status)"})
    limit = page_limit("approval requests")
    cursor = page_cursor()


class GrantSchema(Schema):
    id = fields.String(required=True)
    offer_id = fields.String(required=True)
    decision_id = fields.String(required=True)
    remedy = fields.String(required=True)
    value = fields.Nested(MoneySchema, required=True)
    principal = fields.String(required=True)
    role = fields.String(required=True)
    approval_request_id = fields.String(allow_none=True)
    granted_at = fields.String(required=True)


class ApprovalSchema(Schema):
    id = fields.String(required=True)
    offer_id = fields.String(required=True)
    status = fields.String(required=True)
    approver_role = fields.String(required=True)
    reasons = fields.List(fields.String(), required=True)
    requested_by = fields.String(required=True)
    requested_role = fields.String(required=True)
    requested_at = fields.String(required=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True)
    note = fields.String(allow_none=True, metadata={"description": "the requester's note"})
    decision_reason = fields.String(
        allow_none=True, metadata={"description": "the decider's: why it was rejected, or "
                                   "the approver's note"})


class ApprovalItemSchema(ApprovalSchema):
    """A listed request, with what it asks for and for whom."""

    remedy = fields.String(required=True)
    value = fields.Nested(MoneySchema, required=True)
    decision_id = fields.String(required=True)
    incident_id = fields.String(required=True)
    customer_id = fields.String(required=True)
    order_id = fields.String(required=True)
    outlook = fields.String(required=True, metadata={"description": "the decision's"})
    age_seconds = fields.Integer(required=True,
                                 metadata={"description": "seconds since it was asked"})


class GrantResultSchema(Schema):
    grant = fields.Nested(GrantSchema, required=True)
    approval = fields.Nested(ApprovalSchema)


class ApprovalResultSchema(Schema):
    approval = fields.Nested(ApprovalSchema, required=True)


class ApprovalListSchema(Schema):
    status = fields.String(allow_none=True, required=True,
                           metadata={"description": "null: every state"})
    requested_by = fields.String(allow_none=True, required=True,
                                 metadata={"description": "you, with requested_by=me"})
    approvals = fields.List(fields.Nested(ApprovalItemSchema), required=True,
                            metadata={"description": "Oldest request first"})
    next_cursor = next_page_cursor()


class OutcomeResultSchema(Schema):
    id = fields.String(required=True)
    decision_id = fields.String(required=True)
    accepted = fields.Boolean(required=True)
    satisfied = fields.Boolean(allow_none=True)
    stayed = fields.Boolean(allow_none=True)
    note = fields.String(allow_none=True)
    principal = fields.String(required=True)
    recorded_at = fields.String(required=True)


class GrantSetResultSchema(Schema):
    decision_id = fields.String(required=True)
    grants = fields.List(fields.Nested(GrantSchema), required=True)
    total = fields.Nested(MoneySchema, required=True)
