"""Decisions: decide an incident, show a stored decision, record its outcome."""

from __future__ import annotations

import time

from flask import current_app, g
from flask_smorest import Blueprint

from schemas.decision import DecisionSchema
from schemas.grants import GrantSetResultSchema, GrantSetSchema, OutcomeResultSchema, OutcomeSchema
from schemas.incident import IncidentSchema
from service.app import metrics
from service.app.decisions import (
    decision_now,
    preview_decision,
    record_decision,
    replay_refused,
)
from service.app.grants import grant_together
from service.app.intake import parse_incident
from service.app.outcomes import record_outcome as record
from service.domain.incident import IncidentInvalid
from service.web.auth import authenticate
from service.web.openapi import idempotent_call, json_body, problems
from service.web.presenters.decisions import (
    found_json,
    granted_together,
    preview_json,
    recorded_json,
)
from service.web.presenters.grants import outcome_recorded
from service.web.requests import body_as, idempotent, read_json
from service.web.resources import active_policy, store

blueprint = Blueprint("decisions", __name__, url_prefix="/v1",
                      description="Decide service-recovery compensation")


@blueprint.route("/decisions", methods=["POST"])
@json_body(blueprint, IncidentSchema, "The incident; money as decimal strings")
@blueprint.response(201, DecisionSchema, description="Decided")
@blueprint.alt_response(200, schema=DecisionSchema, success=True,
                        description="The same incident and body were decided before: the "
                                    "stored decision, each offer's state, and its approvals "
                                    "and grant_now for the caller now")
@problems(blueprint, 400, 401, 403, 409, 413, 415, 422)
def create_decision():
    """Decide outlook, steps and offers for an incident, with approvals for the caller.

    The decision is stored: it counts in the customer's history (a prior failure of every
    later incident within the policy's history window) and its offers may be granted. To try
    an incident out (a body, a role, what the policy would say) without storing anything,
    send it to `POST /v1/decisions/preview` instead."""
    principal = authenticate()
    active = active_policy()
    body = read_json()
    try:
        incident = parse_incident(body, active.policy)
    except IncidentInvalid as refused:  # unless it is a retry of a body decided before
        recorded = replay_refused(store(), active, principal, body, refused)
    else:
        started = time.perf_counter()
        recorded = record_decision(store(), active, principal, body, incident)
        if recorded.created:
            metrics.decision_made(recorded.stored.decision, time.perf_counter() - started)
    g.decision_id = recorded.stored.id
    g.policy_version = recorded.stored.decision.policy_version
    # Already in the documented shape (a test holds it to DecisionSchema): a Response is
    # passed through as is, which spares a second serialisation on the hot path.
    return (current_app.json.response(recorded_json(recorded)),
            201 if recorded.created else 200)


@blueprint.route("/decisions/preview", methods=["POST"])
@json_body(blueprint, IncidentSchema, "The incident, as for POST /v1/decisions")
@blueprint.response(200, DecisionSchema, description="What POST /v1/decisions would decide "
                    "now, stored nowhere: `decision_id` is `preview-<uuid>` and the offer ids "
                    "name no stored offer, so nothing of it can be granted")
@problems(blueprint, 400, 401, 403, 409, 413, 415, 422)
def preview_decision_view():
    """Try an incident out: decide it as POST /v1/decisions would, now, and store nothing.

    The customer's prior failures and what is already granted (by you today, on the order,
    to the customer) are read as for a real decision, so outlook, offers, approvals,
    `grant_now` and `trace` are what POST would answer for a new incident. Nothing is kept: no
    decision, no idempotency, no history, no metrics; the same incident id may be previewed
    any number of times, decided or not (a decided one is decided anew, its own stored
    decision not counted as a prior failure)."""
    principal = authenticate()
    active = active_policy()
    incident = parse_incident(read_json(), active.policy)
    preview = preview_decision(store(), active, principal, incident)
    g.policy_version = preview.decision.policy_version
    return current_app.json.response(preview_json(preview))


@blueprint.route("/decisions/<stored_decision:decision_id>", methods=["GET"])
@blueprint.response(200, DecisionSchema)
@problems(blueprint, 401, 403, 404, 405, 422)
def show_decision(decision_id: str):
    """A stored decision with the current state of each offer, and for you now: whether
    you may grant each, and a fresh grant_now."""
    principal = authenticate()
    active = active_policy()
    return current_app.json.response(found_json(
        decision_now(store(), active.policy, principal, decision_id)))


@blueprint.route("/decisions/<decision_id>/grants", methods=["POST"])
@json_body(blueprint, GrantSetSchema, "The offers to grant together")
@blueprint.response(201, GrantSetResultSchema)
@problems(blueprint, 400, 401, 403, 404, 409, 413, 415, 422)
@idempotent_call(blueprint)
def grant_offers(decision_id: str):
    """Grant several offers of a decision at once, all or none (its grant_now, typically);
    403 names every offer beyond your limits or running totals, with its approver role."""
    body = body_as(GrantSetSchema)
    return idempotent(body, lambda uow, policy, principal: grant_together(
        uow, policy, principal, decision_id, body["offers"]), granted_together)


@blueprint.route("/decisions/<decision_id>/outcome", methods=["POST"])
@json_body(blueprint, OutcomeSchema, "What became of the decision")
@blueprint.response(201, OutcomeResultSchema)
@problems(blueprint, 400, 401, 403, 404, 413, 415, 422)
@idempotent_call(blueprint)
def record_outcome(decision_id: str):
    """Whether the customer accepted, was satisfied, stayed."""
    body = body_as(OutcomeSchema)
    return idempotent(body, lambda uow, _policy, principal: record(
        uow, principal, decision_id, body["accepted"], satisfied=body.get("satisfied"),
        stayed=body.get("stayed"), note=body.get("note")), outcome_recorded)
