"""A customer's history (`schemas.decision.CustomerHistorySchema`)."""

from __future__ import annotations

from service.app.customer_history import CustomerHistory
from service.domain.records import DecisionSummary
from service.web.presenters import moment_json
from service.web.presenters.grants import grant_json


def incident_json(summary: DecisionSummary) -> dict:
    return {
        "incident_id": summary.incident_id, "decision_id": summary.id,
        "decided_at": moment_json(summary.decided_at),
        "order_id": summary.order_id, "category": summary.category,
        "severity": summary.severity, "outlook": summary.outlook,
        "policy": {"name": summary.policy_name, "version": summary.policy_version},
        "principal": summary.principal, "role": summary.role,
        "offers": [{"id": offer.id, "remedy": offer.remedy, "value": offer.value.to_json(),
                    "variant": offer.variant, "approval": offer.approval,
                    "state": offer.state}
                   for offer in summary.offers],
    }


def customer_history_json(history: CustomerHistory) -> dict:
    return {"customer_id": history.customer_id,
            "incidents": [incident_json(summary) for summary in history.incidents],
            "grants": [grant_json(grant) for grant in history.grants],
            "next_cursor": history.next_cursor}
