"""Grants, approval requests and outcomes (`schemas.grants`), and the answers of the calls
that make them, rendered once and kept for an Idempotency-Key."""

from __future__ import annotations

from datetime import datetime

from service.app.approvals import ApprovalAsked, ApprovalPage, Approved
from service.domain.records import Answer, ApprovalItem, ApprovalRequest, Grant, Outcome
from service.web.presenters import moment_json


def grant_json(grant: Grant) -> dict:
    return {"id": grant.id, "offer_id": grant.offer_id, "decision_id": grant.decision_id,
            "remedy": grant.remedy, "value": grant.value.to_json(),
            "principal": grant.principal, "role": grant.role,
            "approval_request_id": grant.approval_request_id,
            "granted_at": moment_json(grant.granted_at)}


def approval_json(request: ApprovalRequest) -> dict:
    return {"id": request.id, "offer_id": request.offer_id, "status": request.status,
            "approver_role": request.approver_role, "reasons": list(request.reasons),
            "requested_by": request.requested_by, "requested_role": request.requested_role,
            "requested_at": moment_json(request.requested_at),
            "decided_by": request.decided_by, "decided_at": moment_json(request.decided_at),
            "note": request.note, "decision_reason": request.decision_reason}


def approval_item_json(item: ApprovalItem, as_of: datetime) -> dict:
    """A listed request: the request, what it asks for and for whom, and its age."""
    age = max(0, int((as_of - item.request.requested_at).total_seconds()))
    return {**approval_json(item.request), "remedy": item.remedy,
            "value": item.value.to_json(), "decision_id": item.decision_id,
            "incident_id": item.incident_id, "customer_id": item.customer_id,
            "order_id": item.order_id, "outlook": item.outlook, "age_seconds": age}


def outcome_json(outcome: Outcome) -> dict:
    return {"id": outcome.id, "decision_id": outcome.decision_id,
            "accepted": outcome.accepted, "satisfied": outcome.satisfied,
            "stayed": outcome.stayed, "note": outcome.note, "principal": outcome.principal,
            "recorded_at": moment_json(outcome.recorded_at)}


def approval_page_json(page: ApprovalPage) -> dict:
    return {"status": page.status, "requested_by": page.requested_by,
            "approvals": [approval_item_json(item, page.as_of) for item in page.items],
            "next_cursor": page.next_cursor}


def granted(grant: Grant) -> Answer:
    return Answer(201, {"grant": grant_json(grant)})


def approval_asked(asked: ApprovalAsked) -> Answer:
    return Answer(201 if asked.created else 200, approval_json(asked.request))


def approved(result: Approved) -> Answer:
    return Answer(201, {"approval": approval_json(result.request),
                        "grant": grant_json(result.grant)})


def rejected(request: ApprovalRequest) -> Answer:
    return Answer(200, {"approval": approval_json(request)})


def outcome_recorded(outcome: Outcome) -> Answer:
    return Answer(201, outcome_json(outcome))
