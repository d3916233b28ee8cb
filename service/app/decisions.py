"""Decide and record: remember decisions, count history, replay; find a stored decision.

The core decides; this layer asks the store what it needs, asks the core, and records the
result in the same unit of work. The clock lives here and in the store (the moment a read is
made), never in the core.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.app.active_policy import ActivePolicy
from service.app.errors import Conflict, NotFound
from service.app.grants import goodwill_ceiling, granted_so_far, missing_rate, start_of_day
from service.domain.decision import Decision
from service.domain.fields import text_fault
from service.domain.incident import History, Incident, IncidentInvalid
from service.domain.money import NoExchangeRate
from service.domain.principal import Principal
from service.domain.records import (
    ApprovalRequest,
    DecisionRef,
    Grant,
    KnownIncident,
    Outcome,
    StoredDecision,
)
from service.domain.running_totals import GrantedSoFar
from service.domain.standing import Standing, standing
from service.policy.model import Policy
from service.store import clock, fingerprints
from service.store.database import Store
from service.store.deciding_unit import DecidingUnit, Windows
from service.store.errors import UniquenessRace
from service.store.unit_of_work import UnitOfWork

INCIDENT_ID_LENGTH = 100  # the longest incident id stored (schemas.incident, the column)


@dataclass(frozen=True)
class ForCaller:
    """Where a stored decision's offers stand for one caller at one moment."""

    standing: Standing
    role: str  # the caller's, for whom `standing` was worked out
    as_of: datetime  # the moment of the running totals it was worked out against


@dataclass(frozen=True)
class Recorded:
    stored: StoredDecision
    created: bool  # False when an earlier identical request is replayed
    # A replay: where its offers stand for the caller now (who may not be who asked first,
    # and what was granted since counts); None for a decision just made, as made.
    now: ForCaller | None = None


@dataclass(frozen=True)
class DecisionWithActivity:
    """A stored decision and what was done about it since, each list oldest first."""

    stored: StoredDecision
    grants: tuple[Grant, ...]
    approval_requests: tuple[ApprovalRequest, ...]
    outcomes: tuple[Outcome, ...]


@dataclass(frozen=True)
class DecisionNow:
    """A stored decision with its activity, and where its offers stand for the caller now."""

    found: DecisionWithActivity
    now: ForCaller


def record_decision(store: Store, active: ActivePolicy, principal: Principal, body: dict,
                    incident: Incident) -> Recorded:
    """Decide once per incident id: the same body replays the stored decision, another
    body is a Conflict.

    One query reads whether the incident was decided before, the customer's prior failures,
    and what is already granted in the scopes a grant by the caller would count against (so
    the offers' approvals and `grant_now` hold against the running totals of this moment);
    the decision and its offers are stored together, durably, before this returns, on a read
    still true when they are written (service.store.deciding_unit)."""
    fingerprint = fingerprints.of_incident(body)
    raced: UniquenessRace | None = None
    try:
        with DecidingUnit(store, incident, principal.id, _windows(active.policy)) as unit:
            lookup = unit.look_up()
            while not lookup.known.decided:
                decision = _decide(active, incident, principal, lookup.known, lookup.granted)
                recorded = unit.record(decision, lookup, principal, body, fingerprint)
                if isinstance(recorded, StoredDecision):
                    return Recorded(recorded, created=True)
                lookup = recorded  # the history changed meanwhile: decide on it again
    except UniquenessRace as race:  # a concurrent request recorded the same incident first
        raced = race
    # Decided before: the stored decision, read apart (decisions are never deleted), with
    # where its offers stand for this caller now.
    with UnitOfWork(store, snapshot=True) as uow:
        replayed = _replay(uow, incident.incident_id, fingerprint)
        if replayed is None:
            if raced is not None:  # a collision on something else
                raise raced
            raise RuntimeError(f"incident {incident.incident_id} vanished")
        return Recorded(replayed, created=False,
                        now=_for_caller(uow, active.policy, principal, replayed))


def replay_refused(store: Store, active: ActivePolicy, principal: Principal, body: object,
                   refused: IncidentInvalid) -> Recorded:
    """A body the intake refuses now (`refused`) that was decided before, word for word: the
    stored decision, as `record_decision` replays it. A retry must answer what was decided
    whatever changed meanwhile: a version that drops a tier, a category or a currency the
    body names, or a stricter check by a later release of Amends. Anything else raises
    `refused`."""
    incident_id = body.get("incident_id") if isinstance(body, dict) else None
    if (not isinstance(incident_id, str) or not 1 <= len(incident_id) <= INCIDENT_ID_LENGTH
            or text_fault(incident_id) is not None):
        raise refused
    try:
        fingerprint = fingerprints.of_incident(body)  # type: ignore[arg-type]
    except (ValueError, RecursionError):  # no stored body prints so (e.g. a lone surrogate)
        raise refused from None
    with UnitOfWork(store, snapshot=True) as uow:
        answered = uow.decisions.answered(incident_id)
        if answered is None or answered.request_fingerprint != fingerprint:
            raise refused
        replayed = uow.decisions.get(answered.decision_id)
        assert replayed is not None, "a decision is never deleted"
        return Recorded(replayed, created=False,
                        now=_for_caller(uow, active.policy, principal, replayed))


def _windows(policy: Policy) -> Callable[[datetime], Windows]:
    """Where the history a decision at some moment counts starts."""
    def at(moment: datetime) -> Windows:
        return Windows(since=moment - timedelta(days=policy.history_window_days),
                       day_start=start_of_day(moment, policy.day_starts_in),
                       window_start=moment - timedelta(days=policy.rolling_window_days))
    return at


def _decide(active: ActivePolicy, incident: Incident, principal: Principal,
            known: KnownIncident, granted: GrantedSoFar) -> Decision:
    try:
        return active.decide(incident, principal.role, History(known.prior_failures, granted))
    except NoExchangeRate as missing:
        raise missing_rate(missing) from None


def _replay(uow: UnitOfWork, incident_id: str, fingerprint: str) -> StoredDecision | None:
    answered = uow.decisions.answered(incident_id)
    if answered is None:
        return None
    if answered.request_fingerprint != fingerprint:
        raise Conflict(f"incident {incident_id} was already decided "
                       f"(decision {answered.decision_id}) with a different body")
    return uow.decisions.get(answered.decision_id)


def _for_caller(uow: UnitOfWork, policy: Policy, principal: Principal,
                stored: StoredDecision) -> ForCaller:
    """Where the stored decision's offers stand for `principal` now: the active policy, the
    offers' states and the running totals of this moment, read in `uow`."""
    moment = clock.now()
    ref = DecisionRef(stored.id, stored.customer_id, stored.order_id)
    granted = granted_so_far(uow, policy, principal, ref, moment)
    currency = str(stored.request["order"]["currency"])  # type: ignore[index]
    states = {offer.number: offer.state for offer in stored.offers}
    now = standing(stored.decision.offers, states, policy.roles[principal.role], policy,
                   granted, currency, goodwill_ceiling(policy, stored))
    return ForCaller(now, principal.role, moment)


def find_decision(store: Store, decision_id: str) -> DecisionWithActivity:
    """The stored decision, with the request it answered, who asked, and its grants,
    approval requests and outcomes."""
    with UnitOfWork(store, snapshot=True) as uow:
        return _with_activity(uow, decision_id)


def _with_activity(uow: UnitOfWork, decision_id: str) -> DecisionWithActivity:
    stored = uow.decisions.get(decision_id)
    if stored is None:
        raise NotFound(f"No decision {decision_id!r}.")
    return DecisionWithActivity(
        stored, tuple(uow.grants.of_decision(decision_id)),
        tuple(uow.approvals.of_decision(decision_id)),
        tuple(uow.outcomes.of_decision(decision_id)))


def decision_now(store: Store, policy: Policy, principal: Principal,
                 decision_id: str) -> DecisionNow:
    """The stored decision with its activity, and for the caller, against the running totals
    of this moment and the active policy: each offer's approval, whether the caller may grant
    it now, and a fresh grant_now."""
    with UnitOfWork(store, snapshot=True) as uow:
        found = _with_activity(uow, decision_id)
        return DecisionNow(found, _for_caller(uow, policy, principal, found.stored))


PREVIEW_PREFIX = "preview-"


@dataclass(frozen=True)
class Preview:
    """A decision made and not stored: its id says so (`preview-<uuid>`), its offers are no
    stored offers (nobody can grant them), and it counts in nobody's history."""

    id: str
    decision: Decision
    as_of: datetime  # the moment of the history and running totals it was made against


def preview_decision(store: Store, active: ActivePolicy, principal: Principal,
                     incident: Incident) -> Preview:
    """What `record_decision` would decide for this incident now, for this caller, storing
    nothing: the customer's prior failures in the history window and what is already
    granted in the scopes a grant by the caller would count against are read as it reads
    them, in a transaction of their own that writes nothing.

    An incident id already decided is decided anew (POST would replay it), and its own stored
    decision does not count as a prior failure of its customer."""
    with UnitOfWork(store, snapshot=True) as uow:
        moment = clock.now()
        windows = _windows(active.policy)(moment)
        known, granted = uow.deciding.before_deciding(  # the one read record_decision makes
            incident, principal.id, since=windows.since, day_start=windows.day_start,
            window_start=windows.window_start)
        prior_failures = known.prior_failures
        if known.decided:
            answered = uow.decisions.answered(incident.incident_id)
            earlier = None if answered is None else uow.decisions.get(answered.decision_id)
            if (earlier is not None and earlier.customer_id == incident.customer.id
                    and earlier.decided_at >= windows.since):
                prior_failures -= 1
    decision = _decide(active, incident, principal,
                       KnownIncident(prior_failures, known.decided), granted)
    return Preview(f"{PREVIEW_PREFIX}{uuid.uuid4()}", decision, moment)
