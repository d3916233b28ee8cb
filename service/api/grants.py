"""Routes for granting offers, approvals and outcomes."""

from __future__ import annotations

from flask import current_app, g, request
from flask_smorest import Blueprint

from schemas.grants import (
    ApprovalListSchema,
    ApprovalResultSchema,
    ApprovalSchema,
    ApprovalsQuerySchema,
    GrantBodySchema,
    GrantResultSchema,
    NoteSchema,
    OutcomeResultSchema,
    OutcomeSchema,
    RejectSchema,
)
from service import grant_log, metrics
from service.api.auth import authenticate
from service.api.openapi import json_body, problems
from service.api.problems import Problem
from service.api.requests import body_as, idempotency_key
from service.idempotency import KeyReused, run_once

grants = Blueprint("grants", __name__, url_prefix="/v1",
                   description="Grant offers, ask for and give approval, record outcomes")


def _context():
    return current_app.extensions["amends.store"], g.active.policy


def _answer(operation, body: dict):
    """Run an operation once per Idempotency-Key and map refusals to problems."""
    principal = authenticate()
    store, policy = _context()
    if principal.role not in policy.roles:
        raise Problem(403, "Forbidden", f"Role {principal.role!r} is not defined by the policy.")
    try:
        outcome = run_once(store, principal, idempotency_key(), request.path, body,
                           lambda session: operation(session, store, policy, principal))
    except grant_log.NotFound as error:
        raise Problem(404, "Not Found", str(error)) from None
    except grant_log.Refused as error:
        raise Problem(409, "Conflict", str(error)) from None
    except grant_log.NeedsApproval as error:
        raise Problem(403, "Approval required", str(error), approver_role=error.approver,
                      reasons=error.reasons) from None
    except grant_log.Forbidden as error:
        raise Problem(403, "Forbidden", str(error)) from None
    except KeyReused as error:
        raise Problem(422, "Idempotency-Key reused", str(error)) from None
    grant = outcome.document.get("grant")
    if grant is not None and outcome.status == 201:
        metrics.granted(grant)
    return current_app.json.response(outcome.document), outcome.status


@grants.route("/offers/<offer_id>/grant", methods=["POST"])
@json_body(grants, GrantBodySchema, "Nothing, or an empty object", required=False)
@grants.response(201, GrantResultSchema)
@problems(grants, 400, 401, 403, 404, 409, 413, 415, 422)
def grant_offer(offer_id: str):
    """Grant an offer within your role's limits and running totals; else 403 naming the
    approver role."""
    body = body_as(GrantBodySchema)
    return _answer(lambda session, store, policy, principal: grant_log.grant_offer(
        session, store, policy, principal, offer_id), body)


@grants.route("/offers/<offer_id>/approval-request", methods=["POST"])
@json_body(grants, NoteSchema, "An optional note for the approver", required=False)
@grants.response(201, ApprovalSchema)
@grants.alt_response(200, schema=ApprovalSchema, success=True,
                     description="The request already pending for this offer")
@problems(grants, 400, 401, 403, 404, 409, 413, 415, 422)
def request_approval(offer_id: str):
    """Ask for approval of an offer; a repeat call returns the pending request (200)."""
    body = body_as(NoteSchema)
    return _answer(lambda session, store, policy, principal: grant_log.request_approval(
        session, store, policy, principal, offer_id, body.get("note")), body)


@grants.route("/approvals", methods=["GET"])
@grants.arguments(ApprovalsQuerySchema, location="query", as_kwargs=True)
@grants.response(200, ApprovalListSchema)
@problems(grants, 401, 422)
def list_approvals(status: str, limit: int, cursor: str | None):
    """Approval requests by status, oldest first, a page at a time (follow `next_cursor`
    until it is null); pending ones only where your role may approve them."""
    principal = authenticate()
    store, policy = _context()
    return current_app.json.response(grant_log.list_approvals(store, policy, principal, status,
                                                              limit, cursor))


@grants.route("/approvals/<request_id>/approve", methods=["POST"])
@json_body(grants, NoteSchema, "An optional note", required=False)
@grants.response(201, GrantResultSchema)
@problems(grants, 400, 401, 403, 404, 409, 413, 415, 422)
def approve(request_id: str):
    """Approve (and so grant) a pending request your role covers; not your own."""
    body = body_as(NoteSchema)
    return _answer(lambda session, store, policy, principal: grant_log.approve(
        session, store, policy, principal, request_id), body)


@grants.route("/approvals/<request_id>/reject", methods=["POST"])
@json_body(grants, RejectSchema, "Why it is rejected")
@grants.response(200, ApprovalResultSchema)
@problems(grants, 400, 401, 403, 404, 409, 413, 415, 422)
def reject(request_id: str):
    """Reject a pending request, with a reason."""
    body = body_as(RejectSchema)
    return _answer(lambda session, store, policy, principal: grant_log.reject(
        session, store, policy, principal, request_id, body["reason"]), body)


@grants.route("/decisions/<decision_id>/outcome", methods=["POST"])
@json_body(grants, OutcomeSchema, "What became of the decision")
@grants.response(201, OutcomeResultSchema)
@problems(grants, 400, 401, 403, 404, 413, 415, 422)
def record_outcome(decision_id: str):
    """Whether the customer accepted, was satisfied, stayed."""
    body = body_as(OutcomeSchema)
    return _answer(lambda session, store, policy, principal: grant_log.record_outcome(
        session, principal, decision_id, body), body)
