"""RFC 9457 problem details, as every error is answered."""

from marshmallow import Schema, fields

from schemas.decision import MoneySchema


class RefusedOfferSchema(Schema):
    offer_id = fields.String(required=True)
    remedy = fields.String(required=True)
    value = fields.Nested(MoneySchema, required=True)
    reasons = fields.List(fields.String(), required=True)
    approver_role = fields.String(allow_none=True, required=True,
                                  metadata={"description": "The lowest role that may approve "
                                                           "it; null when none may"})


class ProblemSchema(Schema):
    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    instance = fields.String(allow_none=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "Fields at fault (dotted paths) and why"})
    approver_role = fields.String(allow_none=True,
                                  metadata={"description": "Who may approve (403 on a grant)"})
    reasons = fields.List(fields.String(),
                          metadata={"description": "Why approval is needed, or a policy refused"})
    active_version = fields.String(metadata={
        "description": "The policy still serving (a refused policy); the active version this "
                       "worker has not followed yet (a 503 from /readyz)"})
    offers = fields.List(fields.Nested(RefusedOfferSchema), metadata={
        "description": "A 403 on a set of grants: each offer beyond the caller's limits or "
                       "running totals (the others would go through without them)"})
    grants_since_decision = fields.Integer(metadata={
        "description": "A 403 on a set of grants: grants made since the decision that count "
                       "toward the same totals"})
    serving_version = fields.String(metadata={
        "description": "A 503 from /readyz: the version this worker serves"})
