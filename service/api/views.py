"""Routes: each a few lines; the decision itself happens in the core."""

from __future__ import annotations

import time

from flask import current_app, g
from flask_smorest import Blueprint

from schemas.decision import (
    CustomerHistorySchema,
    DecisionSchema,
    HealthSchema,
    HistoryQuerySchema,
    ReadySchema,
)
from schemas.incident import IncidentSchema
from schemas.policy_view import PolicyViewSchema, ReloadSchema
from schemas.problem import ProblemSchema
from service import metrics
from service.api.auth import authenticate
from service.api.openapi import PROBLEM_JSON, problems, public
from service.api.openapi import json_body as json_body_doc
from service.api.problems import Problem
from service.api.requests import json_body
from service.customer_history import customer_history
from service.decision_log import Conflict, find_decision, record_decision
from service.intake import parse_incident
from service.presenter import plain_decimal
from service.reloading import PolicyHolder
from service.runtime import ActivePolicy
from service.store.database import Store

api = Blueprint("amends", __name__, url_prefix="/v1",
                description="Decide service-recovery compensation")
health = Blueprint("health", __name__, description="Liveness")


def active_policy() -> ActivePolicy:
    """The policy this request started with (pinned until it ends)."""
    return g.active


def holder() -> PolicyHolder:
    return current_app.extensions["amends.holder"]


def store() -> Store:
    return current_app.extensions["amends.store"]


@api.route("/decisions", methods=["POST"])
@json_body_doc(api, IncidentSchema, "The incident; money as decimal strings")
@api.response(201, DecisionSchema, description="Decided")
@api.alt_response(200, schema=DecisionSchema, success=True,
                  description="The same incident and body were decided before: the stored "
                              "decision")
@problems(api, 400, 401, 403, 409, 413, 415, 422)
def create_decision():
    """Decide outlook, steps and offers for an incident, with approvals for the caller."""
    principal = authenticate()
    active = active_policy()
    if principal.role not in active.policy.roles:
        raise Problem(403, "Forbidden", f"Role {principal.role!r} is not defined by policy "
                                        f"{active.policy.name}.")
    body = json_body()
    incident = parse_incident(body, active.policy)
    started = time.perf_counter()
    try:
        recorded = record_decision(store(), active, principal, body, incident)
    except Conflict as conflict:
        raise Problem(409, "Conflict", str(conflict)) from None
    if recorded.created:
        metrics.decision_made(recorded.document, time.perf_counter() - started)
    g.decision_id = recorded.document["decision_id"]
    g.policy_version = recorded.document["policy"]["version"]
    # Already in the documented shape (a test holds it to DecisionSchema): a Response is
    # passed through as is, which spares a second serialisation on the hot path.
    return current_app.json.response(recorded.document), 201 if recorded.created else 200


@api.route("/decisions/<decision_id>", methods=["GET"])
@api.response(200, DecisionSchema)
@problems(api, 401, 404)
def show_decision(decision_id: str):
    """A stored decision with the current state of each offer."""
    authenticate()
    document = find_decision(store(), decision_id)
    if document is None:
        raise Problem(404, "Not Found", f"No decision {decision_id!r}.")
    return current_app.json.response(document)


@api.route("/customers/<customer_id>/history", methods=["GET"])
@api.arguments(HistoryQuerySchema, location="query", as_kwargs=True)
@api.response(200, CustomerHistorySchema)
@problems(api, 401, 422)
def show_customer_history(customer_id: str, limit: int, cursor: str | None):
    """The customer's incidents, decisions, offers and grants, newest first, a page at a time
    (`limit` of each); follow `next_cursor` until it is null."""
    authenticate()
    return current_app.json.response(customer_history(store(), customer_id, limit, cursor))


@api.route("/policy", methods=["GET"])
@api.response(200, PolicyViewSchema)
@problems(api, 401)
def show_policy():
    """The active policy: version, rules, roles and limits, and the last refused reload."""
    authenticate()
    return policy_view(active_policy(), holder().last_refused)


@api.route("/policy/reload", methods=["POST"])
@api.response(200, ReloadSchema)
@problems(api, 401, 403, 422)
def reload_policy():
    """Load the policy folder again: checked, compiled and self-tested before it serves;
    refused with its reasons otherwise, the last good version serving on (admin roles)."""
    principal = authenticate()
    role = active_policy().policy.roles.get(principal.role)
    if role is None or not role.admin:
        raise Problem(403, "Forbidden", "Only a role marked `admin` in roles.yaml may reload "
                                        "the policy.")
    result = holder().reload(trigger=f"api:{principal.id}")
    if result.refused is not None:
        raise Problem(422, "Policy refused",
                      f"Version {result.refused['version']} was refused; "
                      f"{result.active.policy.version} keeps serving.",
                      reasons=result.refused["reasons"],
                      active_version=result.active.policy.version)
    return {"changed": result.changed, "policy": policy_view(result.active)}


@health.route("/healthz", methods=["GET"])
@health.response(200, HealthSchema)
@public(health)
def healthz():
    """Alive."""
    return {"status": "ok", "policy_version": active_policy().policy.version}


@health.route("/readyz", methods=["GET"])
@health.response(200, ReadySchema)
@health.alt_response(503, schema=ProblemSchema, content_type=PROBLEM_JSON,
                     description="Not ready: the database is unreachable")
@public(health)
def readyz():
    """Ready: the policy is loaded and the database answers."""
    active = active_policy()
    store().ping()
    return {"status": "ready", "policy_version": active.policy.version, "database": "ok"}


@health.route("/metrics", methods=["GET"])
@health.doc(responses={"200": {"description": "Prometheus text exposition",
                               "content": {"text/plain": {"schema": {"type": "string"}}}}})
@public(health)
def metrics_view():
    """Prometheus metrics of every worker."""
    body, content_type = metrics.render()
    return current_app.response_class(body, mimetype=content_type.split(";")[0],
                                      content_type=content_type)


def policy_view(active: ActivePolicy, last_refused: dict | None = None) -> dict:
    policy = active.policy
    return {
        "last_refused": last_refused,
        "name": policy.name,
        "version": policy.version,
        "description": policy.description,
        "effective_from": policy.effective_from.isoformat() if policy.effective_from else None,
        "currencies": list(policy.currencies),
        "rule_count": len(policy.rules),
        "rules": [{"id": r.id, "description": r.description, "priority": r.priority,
                   "file": r.file} for r in policy.rules],
        "roles": [{"name": role.name, "description": role.description,
                   "per_incident_limit": {c: str(v) for c, v in role.per_incident_limit},
                   "remedies": sorted(role.remedies)}
                  for role in (policy.roles[name] for name in policy.escalation)],
        "escalation": list(policy.escalation),
        "remedy_kinds": [{"name": k.name, "scales": k.scales, "combines": k.combines,
                          "description": k.description}
                         for k in sorted(policy.remedy_kinds.values(), key=lambda k: k.name)],
        "context": [{"name": c.name, "type": c.type, "required": c.required,
                     "values": list(c.choices), "unit": c.unit, "description": c.description}
                    for c in policy.context.values()],
        "failure_categories": list(policy.failure_categories),
        "customer_tiers": list(policy.customer_tiers),
        "max_compensation_percent": plain_decimal(policy.max_compensation_percent),
        "history_window_days": policy.history_window_days,
        "rolling_window_days": policy.rolling_window_days,
        "day_starts_in": policy.day_starts_in,
    }
