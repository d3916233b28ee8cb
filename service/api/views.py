"""Routes: each a few lines; the decision itself happens in the core."""

from __future__ import annotations

import uuid

from flask import current_app, g
from flask_smorest import Blueprint

from schemas.decision import DecisionSchema
from schemas.policy_view import PolicyViewSchema
from service.api.auth import authenticate
from service.api.problems import Problem
from service.api.requests import json_body
from service.intake import parse_incident
from service.presenter import decision_json, plain_decimal
from service.runtime import ActivePolicy

api = Blueprint("amends", __name__, url_prefix="/v1",
                description="Decide service-recovery compensation")
health = Blueprint("health", __name__, description="Liveness")


def active_policy() -> ActivePolicy:
    return current_app.extensions["amends.policy"]


@api.route("/decisions", methods=["POST"])
@api.response(201, DecisionSchema)
def create_decision():
    """Decide outlook, steps and offers for an incident, with approvals for the caller."""
    principal = authenticate()
    active = active_policy()
    if principal.role not in active.policy.roles:
        raise Problem(403, "Forbidden", f"Role {principal.role!r} is not defined by policy "
                                        f"{active.policy.name}.")
    incident = parse_incident(json_body(), active.policy)
    decision = active.decide(incident, principal.role)
    g.decision_id = str(uuid.uuid4())
    # Already in the documented shape (a test holds it to DecisionSchema): a Response is
    # passed through as is, which spares a second serialisation on the hot path.
    return current_app.json.response(decision_json(decision, g.decision_id)), 201


@api.route("/policy", methods=["GET"])
@api.response(200, PolicyViewSchema)
def show_policy():
    """The active policy: version, rules, roles and limits."""
    authenticate()
    return policy_view(active_policy())


@health.route("/healthz", methods=["GET"])
def healthz():
    """Alive."""
    return {"status": "ok", "policy_version": active_policy().policy.version}


def policy_view(active: ActivePolicy) -> dict:
    policy = active.policy
    return {
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
    }
