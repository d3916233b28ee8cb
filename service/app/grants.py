"""Granting offers, approvals and outcomes, with running totals that cannot be beaten.

Every operation is one transaction. Before reading running totals it takes the locks of
everything they cover (SQLite: the database write lock, taken at BEGIN IMMEDIATE;
PostgreSQL: transaction advisory locks on the agent, order, customer and decision, in a fixed
order), so two concurrent grants never both see room under a cap.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service.app.errors import Conflict, Forbidden, NeedsApproval, NotFound
from service.domain.grant_rule import (
    OfferToGrant,
    RunningTotals,
    approver_role,
    rank,
    reasons_to_refer,
)
from service.domain.money import from_minor
from service.domain.principal import Principal
from service.policy.model import Policy
from service.store import clock, keyset
from service.store.database import Store, is_sqlite
from service.store.models import (
    ApprovalRequestRow,
    DecisionRow,
    GrantRow,
    OfferRow,
    OutcomeRow,
)


@dataclass(frozen=True)
class Outcome:
    status: int
    document: dict


def lock(session: Session, store: Store, *keys: str) -> None:
    if is_sqlite(store.url):
        return  # BEGIN IMMEDIATE already holds the database's write lock
    for key in sorted(set(keys)):
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": number})


def _offer_and_decision(session: Session, offer_id: str) -> tuple[OfferRow, DecisionRow]:
    offer = session.get(OfferRow, offer_id)
    if offer is None:
        raise NotFound(f"No offer {offer_id!r}.")
    return offer, session.get(DecisionRow, offer.decision_id)


def start_of_day(moment: datetime, time_zone: str) -> datetime:
    """The last midnight in the policy's time zone before `moment`, in UTC."""
    local = moment.astimezone(ZoneInfo(time_zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _sum(session: Session, *conditions) -> int:
    return session.scalar(select(func.coalesce(func.sum(GrantRow.amount_minor), 0))
                          .where(*conditions)) or 0


def running_totals(session: Session, policy: Policy, principal: str, offer: OfferRow,
                   decision: DecisionRow, moment: datetime) -> RunningTotals:
    currency = offer.currency
    same_currency = GrantRow.currency == currency
    day_start = start_of_day(moment, policy.day_starts_in)
    window_start = moment - timedelta(days=policy.rolling_window_days)
    in_window = (GrantRow.customer_id == decision.customer_id,
                 GrantRow.granted_at >= window_start)
    return RunningTotals(
        incident=from_minor(_sum(session, GrantRow.decision_id == decision.id, same_currency),
                            currency),
        agent_today=from_minor(_sum(session, GrantRow.principal == principal, same_currency,
                                    GrantRow.granted_at >= day_start), currency),
        order=from_minor(_sum(session, GrantRow.order_id == decision.order_id, same_currency),
                         currency),
        customer_window=from_minor(_sum(session, *in_window, same_currency), currency),
        customer_grants_in_window=session.scalar(
            select(func.count()).select_from(GrantRow).where(*in_window)) or 0,
    )


def _check_combination(session: Session, policy: Policy, offer: OfferRow) -> None:
    """An offer is granted once; one grant per remedy kind per decision; kinds that do not
    combine are alternatives: one of them per decision."""
    granted = session.scalars(select(GrantRow).where(GrantRow.decision_id == offer.decision_id)
                              ).all()
    for grant in granted:
        if grant.offer_id == offer.id:
            raise Conflict(f"Offer {offer.id} is already granted (grant {grant.id}).")
        if grant.remedy == offer.remedy:
            raise Conflict(f"A {offer.remedy} was already granted for this decision "
                          f"(offer {grant.offer_id}).")
        kinds = policy.remedy_kinds
        if not kinds[offer.remedy].combines and not kinds[grant.remedy].combines:
            raise Conflict(f"{offer.remedy} is an alternative to the {grant.remedy} already "
                          f"granted for this decision (offer {grant.offer_id}).")


def _locks_for(principal: str, decision: DecisionRow) -> tuple[str, ...]:
    return (f"agent:{principal}", f"order:{decision.order_id}",
            f"customer:{decision.customer_id}", f"decision:{decision.id}")


def _grant(session: Session, offer: OfferRow, decision: DecisionRow, principal: Principal,
           moment: datetime, approval_request_id: str | None = None) -> dict:
    grant = GrantRow(id=str(uuid.uuid4()), offer_id=offer.id, decision_id=decision.id,
                     customer_id=decision.customer_id, order_id=decision.order_id,
                     remedy=offer.remedy, amount_minor=offer.amount_minor,
                     currency=offer.currency, principal=principal.id, role=principal.role,
                     approval_request_id=approval_request_id, granted_at=moment)
    session.add(grant)
    offer.state, offer.state_changed_at = "granted", moment
    session.flush()
    return grant_json(grant)


def grant_json(grant: GrantRow) -> dict:
    return {"id": grant.id, "offer_id": grant.offer_id, "decision_id": grant.decision_id,
            "remedy": grant.remedy,
            "value": {"amount": str(from_minor(grant.amount_minor, grant.currency)),
                      "currency": grant.currency},
            "principal": grant.principal, "role": grant.role,
            "approval_request_id": grant.approval_request_id,
            "granted_at": clock.aware(grant.granted_at).isoformat()}


def _to_grant(offer: OfferRow) -> OfferToGrant:
    return OfferToGrant(offer.remedy, from_minor(offer.amount_minor, offer.currency),
                        offer.currency)


def grant_offer(session: Session, store: Store, policy: Policy, principal: Principal,
                offer_id: str) -> Outcome:
    offer, decision = _offer_and_decision(session, offer_id)
    lock(session, store, *_locks_for(principal.id, decision))
    moment = clock.now()
    _check_combination(session, policy, offer)
    role = policy.roles[principal.role]
    totals = running_totals(session, policy, principal.id, offer, decision, moment)
    reasons = reasons_to_refer(role, _to_grant(offer), totals, policy)
    if reasons:
        raise NeedsApproval(approver_role(policy, role, _to_grant(offer), totals), reasons)
    return Outcome(201, {"grant": _grant(session, offer, decision, principal, moment)})


def request_approval(session: Session, store: Store, policy: Policy, principal: Principal,
                     offer_id: str, note: str | None) -> Outcome:
    offer, decision = _offer_and_decision(session, offer_id)
    lock(session, store, *_locks_for(principal.id, decision), f"offer:{offer.id}")
    pending = session.scalars(select(ApprovalRequestRow).where(
        ApprovalRequestRow.offer_id == offer.id, ApprovalRequestRow.status == "pending")
    ).one_or_none()
    if pending is not None:
        return Outcome(200, approval_json(pending))
    _check_combination(session, policy, offer)
    moment = clock.now()
    role = policy.roles[principal.role]
    totals = running_totals(session, policy, principal.id, offer, decision, moment)
    reasons = reasons_to_refer(role, _to_grant(offer), totals, policy)
    approver = approver_role(policy, role, _to_grant(offer), totals)
    if approver is None:
        raise NeedsApproval(None, reasons or ["no role's limits cover it"])
    request = ApprovalRequestRow(
        id=str(uuid.uuid4()), offer_id=offer.id, status="pending", approver_role=approver,
        reasons=reasons or ["requested although within the caller's limits"],
        requested_by=principal.id, requested_role=principal.role, requested_at=moment,
        decision_reason=note)
    session.add(request)
    offer.state, offer.state_changed_at = "approval_pending", moment
    session.flush()
    return Outcome(201, approval_json(request))


def approval_json(request: ApprovalRequestRow) -> dict:
    def moment(value):
        return None if value is None else clock.aware(value).isoformat()

    return {"id": request.id, "offer_id": request.offer_id, "status": request.status,
            "approver_role": request.approver_role, "reasons": list(request.reasons),
            "requested_by": request.requested_by, "requested_role": request.requested_role,
            "requested_at": moment(request.requested_at), "decided_by": request.decided_by,
            "decided_at": moment(request.decided_at), "note": request.decision_reason}


def _pending(session: Session, request_id: str) -> ApprovalRequestRow:
    request = session.get(ApprovalRequestRow, request_id)
    if request is None:
        raise NotFound(f"No approval request {request_id!r}.")
    if request.status != "pending":
        raise Conflict(f"Approval request {request_id} is already {request.status}.")
    return request


def _may_decide(policy: Policy, principal: Principal, request: ApprovalRequestRow) -> None:
    if principal.id == request.requested_by:
        raise Forbidden("Nobody approves or rejects their own request.")
    if rank(policy, principal.role) < rank(policy, request.approver_role):
        raise Forbidden(f"This request needs {request.approver_role} or above; "
                        f"you are {principal.role}.")


def approve(session: Session, store: Store, policy: Policy, principal: Principal,
            request_id: str) -> Outcome:
    request = session.get(ApprovalRequestRow, request_id)
    if request is None:
        raise NotFound(f"No approval request {request_id!r}.")
    offer, decision = _offer_and_decision(session, request.offer_id)
    lock(session, store, *_locks_for(principal.id, decision), f"offer:{offer.id}")
    session.refresh(request)
    request = _pending(session, request_id)
    _may_decide(policy, principal, request)
    _check_combination(session, policy, offer)
    moment = clock.now()
    role = policy.roles[principal.role]
    totals = running_totals(session, policy, principal.id, offer, decision, moment)
    reasons = reasons_to_refer(role, _to_grant(offer), totals, policy, include_abuse=False)
    if reasons:
        raise NeedsApproval(approver_role(policy, role, _to_grant(offer), totals), reasons)
    grant = _grant(session, offer, decision, principal, moment, request.id)
    request.status, request.decided_by, request.decided_at = "approved", principal.id, moment
    session.flush()
    return Outcome(201, {"approval": approval_json(request), "grant": grant})


def reject(session: Session, store: Store, policy: Policy, principal: Principal,
           request_id: str, reason: str) -> Outcome:
    request = session.get(ApprovalRequestRow, request_id)
    if request is None:
        raise NotFound(f"No approval request {request_id!r}.")
    offer, _ = _offer_and_decision(session, request.offer_id)
    lock(session, store, f"offer:{offer.id}")
    session.refresh(request)
    request = _pending(session, request_id)
    _may_decide(policy, principal, request)
    moment = clock.now()
    request.status, request.decided_by, request.decided_at = "rejected", principal.id, moment
    request.decision_reason = reason
    offer.state, offer.state_changed_at = "rejected", moment
    session.flush()
    return Outcome(200, {"approval": approval_json(request)})


def list_approvals(store: Store, policy: Policy, principal: Principal, status: str,
                   limit: int, cursor: str | None = None) -> dict:
    """Oldest first, a page at a time; pending ones only where the caller's role may approve
    them. Raises keyset.CursorInvalid for a cursor this service did not give."""
    position = keyset.decode(cursor, ("approvals",))
    query = select(ApprovalRequestRow).where(ApprovalRequestRow.status == status)
    if status == "pending":
        mine = rank(policy, principal.role)
        query = query.where(ApprovalRequestRow.approver_role.in_(
            [role for role in policy.escalation if rank(policy, role) <= mine]))
    with store.transaction() as session:
        rows, following = keyset.page(session, query, ApprovalRequestRow.requested_at,
                                      ApprovalRequestRow.id, position["approvals"], limit,
                                      newest_first=False)
        return {"status": status, "approvals": [approval_json(row) for row in rows],
                "next_cursor": keyset.encode({"approvals": following})}


def record_outcome(session: Session, principal: Principal, decision_id: str,
                   outcome: dict) -> Outcome:
    if session.get(DecisionRow, decision_id) is None:
        raise NotFound(f"No decision {decision_id!r}.")
    row = OutcomeRow(id=str(uuid.uuid4()), decision_id=decision_id,
                     accepted=outcome["accepted"], satisfied=outcome.get("satisfied"),
                     stayed=outcome.get("stayed"), note=outcome.get("note"),
                     principal=principal.id, recorded_at=clock.now())
    session.add(row)
    session.flush()
    return Outcome(201, outcome_json(row))


def outcome_json(row: OutcomeRow) -> dict:
    return {"id": row.id, "decision_id": row.decision_id, "accepted": row.accepted,
            "satisfied": row.satisfied, "stayed": row.stayed, "note": row.note,
            "principal": row.principal, "recorded_at": clock.aware(row.recorded_at).isoformat()}


def decision_activity(session: Session, decision_id: str) -> dict:
    """Grants, approval requests and outcomes of a decision, for showing it."""
    offer_ids = select(OfferRow.id).where(OfferRow.decision_id == decision_id)
    return {
        "grants": [grant_json(g) for g in session.scalars(
            select(GrantRow).where(GrantRow.decision_id == decision_id)
            .order_by(GrantRow.granted_at))],
        "approval_requests": [approval_json(r) for r in session.scalars(
            select(ApprovalRequestRow).where(ApprovalRequestRow.offer_id.in_(offer_ids))
            .order_by(ApprovalRequestRow.requested_at))],
        "outcomes": [outcome_json(o) for o in session.scalars(
            select(OutcomeRow).where(OutcomeRow.decision_id == decision_id)
            .order_by(OutcomeRow.recorded_at))],
    }

