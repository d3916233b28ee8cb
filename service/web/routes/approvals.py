"""Approval requests: list them, approve (and so grant) or reject."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.grants import (
    ApprovalListSchema,
    ApprovalResultSchema,
    ApprovalsQuerySchema,
    GrantResultSchema,
    NoteSchema,
    RejectSchema,
)
from service.app import approvals as approval_requests
from service.web.auth import authenticate
from service.web.openapi import idempotent_call, json_body, problems
from service.web.presenters import grants as present
from service.web.requests import body_as, idempotent
from service.web.resources import active_policy, store

blueprint = Blueprint("approvals", __name__, url_prefix="/v1",
                      description="Approve or reject what a role may not grant alone")


@blueprint.route("/approvals", methods=["GET"])
@blueprint.arguments(ApprovalsQuerySchema, location="query", as_kwargs=True,
                     unknown=RAISE)
@blueprint.response(200, ApprovalListSchema)
@problems(blueprint, 401, 403, 422)
def list_approvals(status: str | None, requested_by: str | None, limit: int,
                   cursor: str | None):
    """Approval requests by status, oldest first, a page at a time (follow `next_cursor`
    until it is null); pending ones only where your role may approve them. With
    `requested_by=me`, your own requests in every state (or the status given)."""
    principal = authenticate()
    page = approval_requests.list_approvals(store(), active_policy().policy, principal,
                                            status, limit, cursor,
                                            mine=requested_by == "me")
    return current_app.json.response(present.approval_page_json(page))


@blueprint.route("/approvals/<request_id>/approve", methods=["POST"])
@json_body(blueprint, NoteSchema, "An optional note of the approver's", required=False)
@blueprint.response(201, GrantResultSchema)
@problems(blueprint, 400, 401, 403, 404, 409, 413, 415, 422)
@idempotent_call(blueprint)
def approve(request_id: str):
    """Approve (and so grant) a pending request your role covers; not your own."""
    body = body_as(NoteSchema)
    return idempotent(body, lambda uow, policy, principal: approval_requests.approve(
        uow, policy, principal, request_id, body.get("note")), present.approved)


@blueprint.route("/approvals/<request_id>/reject", methods=["POST"])
@json_body(blueprint, RejectSchema, "Why it is rejected")
@blueprint.response(200, ApprovalResultSchema)
@problems(blueprint, 400, 401, 403, 404, 409, 413, 415, 422)
@idempotent_call(blueprint)
def reject(request_id: str):
    """Reject a pending request, with a reason."""
    body = body_as(RejectSchema)
    return idempotent(body, lambda uow, policy, principal: approval_requests.reject(
        uow, policy, principal, request_id, body["reason"]), present.rejected)
