"""Granting an offer, within the caller's limits and running totals that cannot be beaten.

Each use case runs in the unit of work it is given (one transaction). Before reading
running totals it locks everything they cover (the agent, order, customer and decision),
so two concurrent grants never both see room under a cap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from service.app.errors import Conflict, NeedsApproval, NotFound
from service.domain.grant_rule import (
    OfferToGrant,
    RunningTotals,
    approver_role,
    reasons_to_refer,
)
from service.domain.principal import Principal
from service.domain.records import DecisionRef, Grant, StoredOffer
from service.domain.vocabulary import OfferState
from service.policy.model import Policy
from service.store import clock
from service.store.unit_of_work import UnitOfWork


def start_of_day(moment: datetime, time_zone: str) -> datetime:
    """The last midnight in the policy's time zone before `moment`, in UTC."""
    local = moment.astimezone(ZoneInfo(time_zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def offer_and_decision(uow: UnitOfWork, offer_id: str) -> tuple[StoredOffer, DecisionRef]:
    offer = uow.offers.get(offer_id)
    if offer is None:
        raise NotFound(f"No offer {offer_id!r}.")
    decision = uow.decisions.ref(offer.decision_id)
    assert decision is not None, "an offer's decision is never deleted"
    return offer, decision


def locks_for(principal: Principal, decision: DecisionRef) -> tuple[str, ...]:
    """Everything the running totals of a grant by `principal` on `decision` cover."""
    return (f"agent:{principal.id}", f"order:{decision.order_id}",
            f"customer:{decision.customer_id}", f"decision:{decision.id}")


def check_combination(uow: UnitOfWork, policy: Policy, offer: StoredOffer) -> None:
    """An offer is granted once; one grant per remedy kind per decision; kinds that do not
    combine are alternatives: one of them per decision."""
    for grant in uow.grants.of_decision(offer.decision_id):
        if grant.offer_id == offer.id:
            raise Conflict(f"Offer {offer.id} is already granted (grant {grant.id}).")
        if grant.remedy == offer.remedy:
            raise Conflict(f"A {offer.remedy} was already granted for this decision "
                           f"(offer {grant.offer_id}).")
        kinds = policy.remedy_kinds
        if not kinds[offer.remedy].combines and not kinds[grant.remedy].combines:
            raise Conflict(f"{offer.remedy} is an alternative to the {grant.remedy} already "
                           f"granted for this decision (offer {grant.offer_id}).")


def running_totals(uow: UnitOfWork, policy: Policy, principal: Principal, offer: StoredOffer,
                   decision: DecisionRef, moment: datetime) -> RunningTotals:
    return uow.grants.totals(
        principal.id, offer.value.currency, decision,
        day_start=start_of_day(moment, policy.day_starts_in),
        window_start=moment - timedelta(days=policy.rolling_window_days))


def to_grant(offer: StoredOffer) -> OfferToGrant:
    return OfferToGrant(offer.remedy, offer.value.amount, offer.value.currency)


def give(uow: UnitOfWork, offer: StoredOffer, decision: DecisionRef, principal: Principal,
         moment: datetime, approval_request_id: str | None = None) -> Grant:
    """Record the grant and mark the offer granted."""
    grant = uow.grants.add(offer, decision, principal, moment, approval_request_id)
    uow.offers.set_state(offer.id, OfferState.GRANTED, moment)
    return grant


def grant_offer(uow: UnitOfWork, policy: Policy, principal: Principal, offer_id: str) -> Grant:
    """Grant an offer within the caller's limits and running totals, or NeedsApproval naming
    the lowest role that may approve it and why."""
    offer, decision = offer_and_decision(uow, offer_id)
    uow.lock(*locks_for(principal, decision))
    moment = clock.now()
    check_combination(uow, policy, offer)
    role = policy.roles[principal.role]
    totals = running_totals(uow, policy, principal, offer, decision, moment)
    reasons = reasons_to_refer(role, to_grant(offer), totals, policy)
    if reasons:
        raise NeedsApproval(approver_role(policy, role, to_grant(offer), totals), reasons)
    return give(uow, offer, decision, principal, moment)
