"""RFC 9457 problem details, as every error is answered."""

from marshmallow import Schema, fields


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
    active_version = fields.String(metadata={"description": "The policy still serving"})
