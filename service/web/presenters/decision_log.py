"""The audit export (`schemas.decision_log`): the API's pages and the command line's lines."""

from __future__ import annotations

from service.app.decision_log import DecisionLogPage
from service.store.export_queries import ExportedDecision
from service.web.presenters import moment_json
from service.web.presenters.decisions import stored_decision_json
from service.web.presenters.grants import grant_json, outcome_json


def logged_decision_json(exported: ExportedDecision) -> dict:
    """A stored decision as decided, its offers' current states, who asked and the incident
    as sent, with its grants and outcomes (oldest first)."""
    stored = exported.stored
    return {**stored_decision_json(stored), "principal": stored.principal,
            "customer_id": stored.customer_id, "order_id": stored.order_id,
            "request": stored.request,
            "grants": [grant_json(grant) for grant in exported.grants],
            "outcomes": [outcome_json(outcome) for outcome in exported.outcomes]}


def decision_log_json(page: DecisionLogPage) -> dict:
    """The answer to GET /v1/decisions."""
    return {"since": moment_json(page.since), "until": moment_json(page.until),
            "decisions": [logged_decision_json(exported) for exported in page.decisions],
            "next_cursor": page.next_cursor}
