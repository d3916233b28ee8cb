"""Decide and record: remember decisions, count history, replay; find a stored decision.

The core decides; this layer asks the store what it needs, asks the core, and records the
result in the same unit of work. The clock lives here, never in the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from service.app.active_policy import ActivePolicy
from service.app.errors import Conflict, NotFound
from service.domain.incident import History, Incident
from service.domain.principal import Principal
from service.domain.records import ApprovalRequest, Grant, Outcome, StoredDecision
from service.store import clock, fingerprints
from service.store.database import Store
from service.store.errors import UniquenessRace
from service.store.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Recorded:
    stored: StoredDecision
    created: bool  # False when an earlier identical request is replayed


@dataclass(frozen=True)
class DecisionWithActivity:
    """A stored decision and what was done about it since, each list oldest first."""

    stored: StoredDecision
    grants: tuple[Grant, ...]
    approval_requests: tuple[ApprovalRequest, ...]
    outcomes: tuple[Outcome, ...]


def record_decision(store: Store, active: ActivePolicy, principal: Principal, body: dict,
                    incident: Incident) -> Recorded:
    """Decide once per incident id: the same body replays the stored decision, another
    body is a Conflict.

    One query reads both whether the incident was decided before and the customer's prior
    failures; the decision and its offers are inserted in the same transaction."""
    fingerprint = fingerprints.of_incident(body)
    try:
        with UnitOfWork(store) as uow:
            moment = clock.now()
            since = moment - timedelta(days=active.policy.history_window_days)
            known = uow.decisions.known(incident.incident_id, incident.customer.id, since)
            if not known.decided:
                decision = active.decide(incident, principal.role,
                                         History(known.prior_failures))
                return Recorded(uow.decisions.add(decision, incident, principal, body,
                                                  fingerprint, moment), created=True)
            replayed = _replay(uow, incident.incident_id, fingerprint)
    except UniquenessRace:  # a concurrent request recorded the same incident first
        with UnitOfWork(store) as uow:
            replayed = _replay(uow, incident.incident_id, fingerprint)
        if replayed is None:  # a collision on something else; decisions are never deleted
            raise
    if replayed is None:
        raise RuntimeError(f"incident {incident.incident_id} vanished")
    return replayed


def _replay(uow: UnitOfWork, incident_id: str, fingerprint: str) -> Recorded | None:
    answered = uow.decisions.answered(incident_id)
    if answered is None:
        return None
    if answered.request_fingerprint != fingerprint:
        raise Conflict(f"incident {incident_id} was already decided "
                       f"(decision {answered.decision_id}) with a different body")
    stored = uow.decisions.get(answered.decision_id)
    return None if stored is None else Recorded(stored, created=False)


def find_decision(store: Store, decision_id: str) -> DecisionWithActivity:
    """The stored decision, with the request it answered, who asked, and its grants,
    approval requests and outcomes."""
    with UnitOfWork(store) as uow:
        stored = uow.decisions.get(decision_id)
        if stored is None:
            raise NotFound(f"No decision {decision_id!r}.")
        return DecisionWithActivity(
            stored, tuple(uow.grants.of_decision(decision_id)),
            tuple(uow.approvals.of_decision(decision_id)),
            tuple(uow.outcomes.of_decision(decision_id)))
