"""Use cases around the pure decision core: remember decisions, count history, replay.

The core decides; this layer loads what it needs from the store, asks the core, and stores
the result in the same transaction. The clock lives here, never in the core.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.grant_log import decision_activity, grant_json
from service.incident import History, Incident
from service.presenter import decision_json
from service.principal import Principal
from service.runtime import ActivePolicy
from service.store import clock
from service.store.database import Store
from service.store.minor_units import to_minor
from service.store.models import DecisionRow, GrantRow, OfferRow


class Conflict(Exception):
    """The same incident id was decided with a different body."""


@dataclass(frozen=True)
class Recorded:
    document: dict
    created: bool  # False when an earlier identical request is replayed


def request_hash(body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_decision(store: Store, active: ActivePolicy, principal: Principal, body: dict,
                    incident: Incident) -> Recorded:
    """Decide once per incident id: the same body replays the stored decision."""
    digest = request_hash(body)
    try:
        with store.transaction() as session:
            earlier = _replay(session, incident.incident_id, digest)
            if earlier is not None:
                return earlier
            moment = clock.now()
            history = History(prior_failures(session, incident.customer.id,
                                              active.policy.history_window_days, moment))
            decision = active.decide(incident, principal.role, history)
            decision_id = str(uuid.uuid4())
            document = decision_json(decision, decision_id)
            document["decided_at"] = moment.isoformat()
            # Core inserts (one executemany for the offers): the ORM's unit of work costs
            # more than the decision itself here.
            session.execute(insert(DecisionRow), [dict(
                id=decision_id, incident_id=incident.incident_id, request_hash=digest,
                customer_id=incident.customer.id, order_id=incident.order.id,
                currency=incident.order.currency, principal=principal.id, role=principal.role,
                policy_name=decision.policy_name, policy_version=decision.policy_version,
                outlook=decision.outlook, request=body, result=document, decided_at=moment)])
            if decision.offers:
                session.execute(insert(OfferRow), [dict(
                    id=shown["id"], decision_id=decision_id, number=offer.number,
                    remedy=offer.remedy, currency=offer.value.currency,
                    amount_minor=to_minor(offer.value.amount, offer.value.currency),
                    variant=offer.variant, source=offer.source, approval=offer.approval,
                    approver_role=offer.approver_role, state="proposed",
                    state_changed_at=moment)
                    for offer, shown in zip(decision.offers, document["offers"], strict=True)])
            return Recorded(document, True)
    except IntegrityError:  # a concurrent request recorded the same incident first
        with store.transaction() as session:
            earlier = _replay(session, incident.incident_id, digest)
            if earlier is None:
                raise
            return earlier


def _replay(session: Session, incident_id: str, digest: str) -> Recorded | None:
    found = session.execute(select(DecisionRow.id, DecisionRow.request_hash).where(
        DecisionRow.incident_id == incident_id)).one_or_none()
    if found is None:
        return None
    if found.request_hash != digest:
        raise Conflict(f"incident {incident_id} was already decided (decision {found.id}) "
                       "with a different body")
    return Recorded(stored_document(session, session.get(DecisionRow, found.id)), False)


def prior_failures(session: Session, customer_id: str, window_days: int, moment) -> int:
    since = moment - timedelta(days=window_days)
    return session.scalar(select(func.count()).select_from(DecisionRow).where(
        DecisionRow.customer_id == customer_id, DecisionRow.decided_at >= since)) or 0


def stored_document(session: Session, row: DecisionRow) -> dict:
    """The decision as returned when made, with each offer's current state."""
    document = dict(row.result)
    states = {offer.id: offer for offer in session.scalars(
        select(OfferRow).where(OfferRow.decision_id == row.id))}
    document["offers"] = [
        {**offer, "state": states[offer["id"]].state,
         "state_changed_at": clock.aware(states[offer["id"]].state_changed_at).isoformat()}
        for offer in document["offers"]]
    return document


def find_decision(store: Store, decision_id: str) -> dict | None:
    """The stored decision, with the request it answered and who asked."""
    with store.transaction() as session:
        row = session.get(DecisionRow, decision_id)
        if row is None:
            return None
        return {**stored_document(session, row), "principal": row.principal,
                "request": row.request, **decision_activity(session, row.id)}


def customer_history(store: Store, customer_id: str, limit: int = 200) -> dict:
    with store.transaction() as session:
        rows = session.scalars(select(DecisionRow).where(DecisionRow.customer_id == customer_id)
                               .order_by(DecisionRow.decided_at.desc()).limit(limit)).all()
        incidents = []
        for row in rows:
            document = stored_document(session, row)
            failure = row.request.get("failure", {})
            incidents.append({
                "incident_id": row.incident_id, "decision_id": row.id,
                "decided_at": clock.aware(row.decided_at).isoformat(),
                "order_id": row.order_id, "category": failure.get("category"),
                "severity": failure.get("severity"), "outlook": row.outlook,
                "policy": {"name": row.policy_name, "version": row.policy_version},
                "principal": row.principal, "role": row.role,
                "offers": [{k: offer[k] for k in ("id", "remedy", "value", "variant",
                                                  "approval", "state")}
                           for offer in document["offers"]],
            })
        grants = session.scalars(select(GrantRow).where(GrantRow.customer_id == customer_id)
                                 .order_by(GrantRow.granted_at.desc()).limit(limit)).all()
        granted = [grant_json(grant) for grant in grants]
    return {"customer_id": customer_id, "incidents": incidents, "grants": granted}
