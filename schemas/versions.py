"""What the policy versions routes read and answer: stored versions with their activations,
refused attempts, what changed between two versions, and a rollback."""

from __future__ import annotations

from marshmallow import Schema, fields

from schemas.fields import next_page_cursor, page_cursor, page_limit


class VersionsQuerySchema(Schema):
    limit = page_limit("versions")
    cursor = page_cursor()


class RefusalsQuerySchema(Schema):
    limit = page_limit("refused attempts")
    cursor = page_cursor()


class ActivationSchema(Schema):
    activated_by = fields.String(required=True, metadata={"description": "Who activated it"})
    activated_at = fields.String(required=True)
    via = fields.String(required=True, metadata={
        "description": "How: start, SIGHUP, watch, api:<principal>, api:rollback, cli, "
                       "cli:rollback"})


class VersionSummarySchema(Schema):
    version = fields.String(required=True, metadata={"description": "The content hash"})
    name = fields.String(required=True)
    active = fields.Boolean(required=True, metadata={"description": "The version that serves"})
    first_activated_by = fields.String(required=True)
    first_activated_at = fields.String(required=True)
    last_activated_at = fields.String(required=True)
    activations = fields.List(fields.Nested(ActivationSchema), required=True, metadata={
        "description": "Every activation of this version, newest first"})


class VersionListSchema(Schema):
    active_version = fields.String(required=True, allow_none=True)
    versions = fields.List(fields.Nested(VersionSummarySchema), required=True, metadata={
        "description": "Newest first (by first activation)"})
    next_cursor = next_page_cursor()


class VersionSchema(VersionSummarySchema):
    files = fields.Dict(keys=fields.String(), values=fields.String(), required=True, metadata={
        "description": "The version's files, name -> text, exactly as activated"})


class RefusalSchema(Schema):
    version = fields.String(required=True, allow_none=True, metadata={
        "description": "Null when the files could not even be read"})
    refused_by = fields.String(required=True)
    refused_at = fields.String(required=True)
    via = fields.String(required=True)
    reasons = fields.List(fields.String(), required=True)


class RefusalListSchema(Schema):
    refusals = fields.List(fields.Nested(RefusalSchema), required=True, metadata={
        "description": "Newest first"})
    next_cursor = next_page_cursor()


class ChangeSchema(Schema):
    what = fields.String(required=True, metadata={
        "description": "What changed: `remedy discount percent`, `currency GBP`..."})
    change = fields.String(required=True, metadata={"description": "added, removed, changed"})
    old = fields.String(required=True, allow_none=True)
    new = fields.String(required=True, allow_none=True)
    sentence = fields.String(required=True)


class ItemSchema(Schema):
    name = fields.String(required=True, metadata={"description": "The rule's id, the role"})
    summary = fields.String(required=True, metadata={"description": "Its description"})


class ItemChangesSchema(Schema):
    name = fields.String(required=True)
    changes = fields.List(fields.Nested(ChangeSchema), required=True)


class SectionSchema(Schema):
    added = fields.List(fields.Nested(ItemSchema), required=True)
    removed = fields.List(fields.Nested(ItemSchema), required=True)
    changed = fields.List(fields.Nested(ItemChangesSchema), required=True, metadata={
        "description": "Field by field"})


class VersionRefSchema(Schema):
    version = fields.String(required=True)
    name = fields.String(required=True)


class VersionDiffSchema(Schema):
    old = fields.Nested(VersionRefSchema, required=True)
    new = fields.Nested(VersionRefSchema, required=True)
    changed = fields.Boolean(required=True, metadata={"description": "Anything differs"})
    lines = fields.List(fields.String(), required=True, metadata={
        "description": "Every change as a sentence: rules, roles, then settings"})
    rules = fields.Nested(SectionSchema, required=True)
    roles = fields.Nested(SectionSchema, required=True)
    settings = fields.List(fields.Nested(ChangeSchema), required=True, metadata={
        "description": "policy.yaml and the rest of roles.yaml: currencies, exchange rates, "
                       "ceilings, windows, context and derived facts, remedy kinds, grant_now"})


class RollbackSchema(Schema):
    changed = fields.Boolean(required=True, metadata={
        "description": "False when it was the active version already"})
    version = fields.String(required=True, metadata={"description": "Now the active version"})
    name = fields.String(required=True)
    activation = fields.Nested(ActivationSchema, required=True, metadata={
        "description": "The activation that made it the active version"})
