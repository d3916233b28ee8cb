"""The decision as the API contract spells it (design.md)."""

from __future__ import annotations

from decimal import Decimal

from service.app.active_policy import ActivePolicy
from service.domain.decision import Decision, Offer


def plain_decimal(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text


def offer_id(decision_id: str, number: int) -> str:
    return f"{decision_id}.{number}"


def offer_json(offer: Offer, decision_id: str) -> dict:
    return {
        "id": offer_id(decision_id, offer.number),
        "remedy": offer.remedy,
        "percent": plain_decimal(offer.percent),
        "value": offer.value.to_json(),
        "approval": offer.approval,
        "approver_role": offer.approver_role,
        "rule": offer.rule,
        "reason": offer.reason,
        "variant": offer.variant,
        "capped_from": (offer_id(decision_id, offer.capped_from)
                        if offer.capped_from is not None else None),
        "source": offer.source,
    }


def decision_json(decision: Decision, decision_id: str) -> dict:
    return {
        "decision_id": decision_id,
        "incident_id": decision.incident_id,
        "policy": {"name": decision.policy_name, "version": decision.policy_version},
        "role": decision.role,
        "prior_failures": decision.prior_failures,
        "recovery": {
            "outlook": decision.outlook,
            "factors": [{"name": f.name, "effect": f.effect, "rule": f.rule}
                        for f in decision.factors],
        },
        "steps": [{"step": s.step, **({"after_days": s.after_days}
                                      if s.after_days is not None else {})}
                  for s in decision.steps],
        "offers": [offer_json(offer, decision_id) for offer in decision.offers],
        "trace": [{"rule": r.id, "description": r.description, "priority": r.priority}
                  for r in decision.trace],
        "notes": list(decision.notes),
    }


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
        "context": [{"name": c.name, "type": c.type.name, "required": c.required,
                     "values": list(c.choices), "unit": c.unit, "description": c.description}
                    for c in policy.context.values()],
        "failure_categories": list(policy.failure_categories),
        "customer_tiers": list(policy.customer_tiers),
        "max_compensation_percent": plain_decimal(policy.max_compensation_percent),
        "history_window_days": policy.history_window_days,
        "rolling_window_days": policy.rolling_window_days,
        "day_starts_in": policy.day_starts_in,
    }
