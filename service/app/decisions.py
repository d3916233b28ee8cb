"""Use cases around the pure decision core: remember decisions, count history, replay.

The core decides; this layer loads what it needs from the store, asks the core, and stores
the result in the same transaction. The clock lives here, never in the core.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, insert, select
from sqlalchemy.orm import Session

from service.app.active_policy import ActivePolicy
from service.app.errors import Conflict
from service.app.grants import decision_activity
from service.domain.incident import History, Incident
from service.domain.money import to_minor
from service.domain.principal import Principal
from service.store import clock
from service.store.database import Store
from service.store.errors import UniquenessRace
from service.store.models import DecisionRow, OfferRow
from service.web.presenters import decision_json


@dataclass(frozen=True)
class Recorded:
    document: dict
    created: bool  # False when an earlier identical request is replayed


def request_hash(body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# Built once: executing a prepared Core statement on a plain connection costs a fraction of
# building one per request or going through the ORM, on the hottest path of the service.
_DECISIONS = DecisionRow.__table__
_LOOKUP = select(
    select(func.count()).select_from(_DECISIONS).where(
        _DECISIONS.c.customer_id == bindparam("customer_id"),
        _DECISIONS.c.decided_at >= bindparam("since")).scalar_subquery().label("prior"),
    select(_DECISIONS.c.request_hash).where(
        _DECISIONS.c.incident_id == bindparam("incident_id")).scalar_subquery().label("hash"),
)
_INSERT_DECISION = insert(_DECISIONS)
_INSERT_OFFERS = insert(OfferRow.__table__)


def record_decision(store: Store, active: ActivePolicy, principal: Principal, body: dict,
                    incident: Incident) -> Recorded:
    """Decide once per incident id: the same body replays the stored decision.

    One query reads both whether the incident was decided before and the customer's prior
    failures; the decision and its offers are inserted in the same transaction."""
    digest = request_hash(body)
    collision: UniquenessRace | None = None
    try:
        with store.connection() as connection:
            moment = clock.now()
            since = moment - timedelta(days=active.policy.history_window_days)
            prior, earlier_hash = connection.execute(_LOOKUP, {
                "customer_id": incident.customer.id, "since": since,
                "incident_id": incident.incident_id}).one()
            if earlier_hash is None:
                return _decide_and_insert(connection, active, principal, body, incident,
                                          digest, moment, prior or 0)
    except UniquenessRace as error:  # a concurrent request recorded the same incident first
        collision = error
    with store.transaction() as session:  # decided before: replay it, or 409
        earlier = _replay(session, incident.incident_id, digest)
    if earlier is None:  # a collision on something else; decisions are never deleted
        raise collision or RuntimeError(f"incident {incident.incident_id} vanished")
    return earlier


def _decide_and_insert(connection: Connection, active: ActivePolicy, principal: Principal,
                       body: dict, incident: Incident, digest: str, moment: datetime,
                       prior: int) -> Recorded:
    decision = active.decide(incident, principal.role, History(prior))
    decision_id = str(uuid.uuid4())
    document = decision_json(decision, decision_id)
    document["decided_at"] = moment.isoformat()
    connection.execute(_INSERT_DECISION, dict(
        id=decision_id, incident_id=incident.incident_id, request_hash=digest,
        customer_id=incident.customer.id, order_id=incident.order.id,
        currency=incident.order.currency, principal=principal.id, role=principal.role,
        policy_name=decision.policy_name, policy_version=decision.policy_version,
        outlook=decision.outlook, request=body, result=document, decided_at=moment))
    if decision.offers:
        connection.execute(_INSERT_OFFERS, [dict(
            id=shown["id"], decision_id=decision_id, number=offer.number,
            remedy=offer.remedy, currency=offer.value.currency,
            amount_minor=to_minor(offer.value.amount, offer.value.currency),
            variant=offer.variant, source=offer.source, approval=offer.approval,
            approver_role=offer.approver_role, state="proposed", state_changed_at=moment)
            for offer, shown in zip(decision.offers, document["offers"], strict=True)])
    return Recorded(document, True)


def _replay(session: Session, incident_id: str, digest: str) -> Recorded | None:
    found = session.execute(select(DecisionRow.id, DecisionRow.request_hash).where(
        DecisionRow.incident_id == incident_id)).one_or_none()
    if found is None:
        return None
    if found.request_hash != digest:
        raise Conflict(f"incident {incident_id} was already decided (decision {found.id}) "
                       "with a different body")
    return Recorded(stored_document(session, session.get(DecisionRow, found.id)), False)


def offer_states(session: Session, decision_ids: list[str]) -> dict[str, OfferRow]:
    """The offers of these decisions by id, with their current state; one query."""
    if not decision_ids:
        return {}
    return {offer.id: offer for offer in session.scalars(
        select(OfferRow).where(OfferRow.decision_id.in_(decision_ids)))}


def stored_document(session: Session, row: DecisionRow) -> dict:
    """The decision as returned when made, with each offer's current state."""
    document = dict(row.result)
    states = offer_states(session, [row.id])
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
