"""Who is calling (GET /v1/me)."""

from __future__ import annotations

from marshmallow import Schema, fields


class MePolicySchema(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)


class MeSchema(Schema):
    principal = fields.String(required=True, metadata={
        "description": "Who the key or token names"})
    role = fields.String(required=True, metadata={
        "description": "The policy role whose limits apply"})
    admin = fields.Boolean(required=True, metadata={"description": "May reload the policy"})
    policy_owner = fields.Boolean(required=True, metadata={
        "description": "Marked `policy_owner` in roles.yaml"})
    owns_policy = fields.Boolean(required=True, metadata={
        "description": "May activate and roll back versions, replay and read reports "
                       "(`policy_owner` or `admin`)"})
    remedies = fields.List(fields.String(), required=True, metadata={
        "description": "The remedy kinds the role may grant"})
    policy = fields.Nested(MePolicySchema, required=True, metadata={
        "description": "The active policy the role is read from"})
