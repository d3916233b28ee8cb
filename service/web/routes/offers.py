"""Offers: grant one, or ask for approval of it."""

from __future__ import annotations

from flask_smorest import Blueprint

from schemas.grants import ApprovalSchema, GrantBodySchema, GrantResultSchema, NoteSchema
from service.app.approvals import request_approval as ask_approval
from service.app.grants import grant_offer as grant
from service.web.openapi import idempotent_call, json_body, problems
from service.web.presenters import grants as present
from service.web.requests import body_as, idempotent

blueprint = Blueprint("offers", __name__, url_prefix="/v1",
                      description="Grant offers, or ask for approval")


@blueprint.route("/offers/<offer_id>/grant", methods=["POST"])
@json_body(blueprint, GrantBodySchema, "Nothing, or an empty object", required=False)
@blueprint.response(201, GrantResultSchema)
@problems(blueprint, 400, 401, 403, 404, 409, 413, 415, 422)
@idempotent_call(blueprint)
def grant_offer(offer_id: str):
    """Grant an offer within your role's limits and running totals; else 403 naming the
    approver role."""
    body = body_as(GrantBodySchema)
    return idempotent(body, lambda uow, policy, principal: grant(
        uow, policy, principal, offer_id), present.granted)


@blueprint.route("/offers/<offer_id>/approval-request", methods=["POST"])
@json_body(blueprint, NoteSchema, "An optional note for the approver", required=False)
@blueprint.response(201, ApprovalSchema)
@blueprint.alt_response(200, schema=ApprovalSchema, success=True,
                        description="The request already pending for this offer")
@problems(blueprint, 400, 401, 403, 404, 409, 413, 415, 422)
@idempotent_call(blueprint)
def request_approval(offer_id: str):
    """Ask for approval of an offer; a repeat call returns the pending request (200)."""
    body = body_as(NoteSchema)
    return idempotent(body, lambda uow, policy, principal: ask_approval(
        uow, policy, principal, offer_id, body.get("note")), present.approval_asked)
