"""Granting an offer, within the caller's limits and running totals that cannot be beaten.

Each use case runs in the unit of work it is given (one transaction). Before reading
running totals it locks everything they cover (the agent, order, customer and decision)
and the offer, then reads the offer again, so two concurrent grants never both see room
under a cap and nothing moves an offer between its check and its change. Offers move only
through `move` here, by the state machine of `service.domain.offer_states`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from service.app.errors import (
    Conflict,
    Invalid,
    NeedsApproval,
    NotFound,
    Refusal,
    SetNeedsApproval,
)
from service.domain.grant_now import Clash, beyond_ceiling, capped_pair, clash, conflict
from service.domain.grant_rule import (
    GrantedSoFar,
    OfferToGrant,
    RunningTotals,
    approver_role,
    reasons_to_refer,
)
from service.domain.incident import Order
from service.domain.money import Money, NoExchangeRate, parse_amount
from service.domain.offer import Offer
from service.domain.offer_states import OfferEvent, TransitionRefused, next_state
from service.domain.pricing import ceiling
from service.domain.principal import Principal
from service.domain.records import (
    ApprovalRequest,
    DecisionRef,
    Grant,
    StoredDecision,
    StoredOffer,
    is_offer_of,
)
from service.domain.vocabulary import OfferState, RequestState
from service.policy.model import Policy
from service.store import clock
from service.store.unit_of_work import UnitOfWork


def start_of_day(moment: datetime, time_zone: str) -> datetime:
    """The last midnight in the policy's time zone before `moment`, in UTC: the first
    instant of the local date, also when the clocks go back over midnight (the first of
    two midnights, `fold=0`, not the one `moment` shares a fold with) or jump past it."""
    local = moment.astimezone(ZoneInfo(time_zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0).astimezone(UTC)


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


def locked_offer(uow: UnitOfWork, offer_id: str,
                 principal: Principal | None) -> tuple[StoredOffer, DecisionRef]:
    """Lock the offer (and, for a grant by `principal`, everything its running totals
    cover), then read it again: its state as of now, which nobody else can change until
    the unit of work ends."""
    offer, decision = offer_and_decision(uow, offer_id)
    keys = locks_for(principal, decision) if principal is not None else ()
    uow.lock(*keys, f"offer:{offer.id}")
    offer = uow.offers.get(offer_id)
    assert offer is not None, "an offer is never deleted"
    return offer, decision


def check_move(uow: UnitOfWork, offer: StoredOffer, event: OfferEvent) -> OfferState:
    """The state `event` moves the offer to, or Conflict saying why it may not move."""
    try:
        return next_state(offer.id, offer.state, event)
    except TransitionRefused as refused:
        if refused.state == OfferState.GRANTED:
            given = [g for g in uow.grants.of_decision(offer.decision_id)
                     if g.offer_id == offer.id]
            if given:
                raise Conflict(f"Offer {offer.id} is already granted (grant {given[0].id}).") \
                    from None
        raise Conflict(str(refused)) from None


def move(uow: UnitOfWork, offer: StoredOffer, event: OfferEvent, moment: datetime) -> OfferState:
    """Move the offer by the state machine; the store changes it only from the state read."""
    state = check_move(uow, offer, event)
    if not uow.offers.set_state(offer.id, offer.state, state, moment):
        raise Conflict(f"Offer {offer.id} changed meanwhile; ask again.")
    return state


def check_combination(uow: UnitOfWork, policy: Policy, offer: StoredOffer) -> None:
    """An offer is granted once; one grant per remedy kind per decision; kinds that do not
    combine are alternatives: one of them per decision; so are an offer and its capped
    variant, whatever their kinds; what the decision grants stays within the active
    policy's goodwill ceiling of its order. An offer of a kind the active policy lacks is
    not granted at all."""
    if offer.remedy not in policy.remedy_kinds:  # decided under a version that had it
        raise Conflict(f"Offer {offer.id}: the active policy has no remedy kind "
                       f"{offer.remedy}.")
    grants = uow.grants.of_decision(offer.decision_id)
    for grant in grants:
        if grant.offer_id == offer.id:
            raise Conflict(f"Offer {offer.id} is already granted (grant {grant.id}).")
        found = clash(offer.remedy, grant.remedy, policy)
        if found is Clash.SAME_KIND:
            raise Conflict(f"A {offer.remedy} was already granted for this decision "
                           f"(offer {grant.offer_id}).")
        if found is Clash.ALTERNATIVES:
            raise Conflict(f"{offer.remedy} is an alternative to the {grant.remedy} already "
                           f"granted for this decision (offer {grant.offer_id}).")
    stored = uow.decisions.get(offer.decision_id)
    assert stored is not None, "a decision is never deleted"
    by_id = dict(zip((o.id for o in stored.offers), stored.decision.offers, strict=True))
    for grant in grants:
        if capped_pair(by_id[offer.id], by_id[grant.offer_id]):
            raise Conflict(f"Offer {offer.id} is an alternative to offer {grant.offer_id}, "
                           "already granted: one is a capped variant of the other.")
    why = beyond_ceiling(by_id[offer.id], [by_id[grant.offer_id] for grant in grants], policy,
                         goodwill_ceiling(policy, stored))
    if why is not None:
        raise Conflict(f"Offer {offer.id} ({offer.remedy}): {why}.")


def goodwill_ceiling(policy: Policy, stored: StoredDecision) -> Decimal:
    """The most a decision's offers of the kinds held under the goodwill ceiling may give
    together: the active policy's share of the order value the incident stated."""
    order = stored.request["order"]
    return ceiling(Order(stored.order_id, parse_amount(order["value"]),  # type: ignore[index]
                         str(order["currency"])),  # type: ignore[index]
                   policy.max_compensation_percent)


def granted_so_far(uow: UnitOfWork, policy: Policy, principal: Principal,
                   decision: DecisionRef, moment: datetime) -> GrantedSoFar:
    """What is already granted in each scope a grant by `principal` on `decision` counts
    against, per currency."""
    day_start, window_start = counted_from(policy, moment)
    return uow.grants.totals(principal.id, decision, day_start=day_start,
                             window_start=window_start)


def counted_from(policy: Policy, moment: datetime) -> tuple[datetime, datetime]:
    """Where the running totals of a grant at `moment` start counting: the start of the
    caller's day (its daily budget) and of the customer's rolling window (its cap)."""
    return (start_of_day(moment, policy.day_starts_in),
            moment - timedelta(days=policy.rolling_window_days))


def in_currency(granted: GrantedSoFar, policy: Policy, currency: str) -> RunningTotals:
    """The totals in one currency, or Conflict naming the currency or the exchange rate the
    policy lacks."""
    if currency not in policy.currencies:  # decided under a version that had it
        raise Conflict(f"The active policy {policy.name} has no {currency}, so no limits in "
                       f"it: offers in {currency} cannot be granted until a version with "
                       f"{currency} is active.")
    try:
        return granted.in_currency(currency, policy.exchange_rates)
    except NoExchangeRate as missing:
        raise missing_rate(missing) from None


def missing_rate(missing: NoExchangeRate) -> Conflict:
    """Earlier grants counted in a running total are in a currency the policy gives no rate
    from (one it no longer has: an activation before rates from such a currency were
    allowed)."""
    return Conflict(f"Earlier grants count toward these limits (on this order, to this "
                    f"customer, or by you today), but the policy has {missing}: add it to "
                    "the policy's exchange_rates (rates from a currency the policy no longer "
                    "has are allowed, for such grants).")


def running_totals(uow: UnitOfWork, policy: Policy, principal: Principal, offer: StoredOffer,
                   decision: DecisionRef, moment: datetime) -> RunningTotals:
    """What is already granted in each scope, in the offer's currency: grants in every
    currency, converted at the policy's exchange rates (rounded up)."""
    return in_currency(granted_so_far(uow, policy, principal, decision, moment), policy,
                       offer.value.currency)


def to_grant(offer: StoredOffer) -> OfferToGrant:
    return OfferToGrant(offer.remedy, offer.value.amount, offer.value.currency)


def give(uow: UnitOfWork, policy: Policy, offer: StoredOffer, decision: DecisionRef,
         principal: Principal, moment: datetime,
         approving: ApprovalRequest | None = None) -> Grant:
    """Record the grant and move the offer to granted. A grant made directly closes the
    offer's pending request, if any, as granted by `principal` (the approver closes the
    request it approves); and the pending requests of the decision's offers that cannot be
    granted beside it are withdrawn (`withdraw_excluded`)."""
    grant = uow.grants.add(offer, decision, principal, moment,
                           None if approving is None else approving.id)
    move(uow, offer, OfferEvent.GRANT, moment)
    if approving is None:
        pending = uow.approvals.pending_for(offer.id)
        if pending is not None:
            uow.approvals.close(pending, RequestState.GRANTED, principal.id, moment)
    withdraw_excluded(uow, policy, offer, principal, moment)
    return grant


def withdraw_excluded(uow: UnitOfWork, policy: Policy, granted: StoredOffer,
                      principal: Principal, moment: datetime) -> None:
    """Withdraw the pending approval requests of the decision's other offers that can no
    longer be granted now that `granted` is (its alternative, its capped variant, another
    of its kind: what approving them would be refused for), so that no approver is asked
    for what nobody may grant; each offer is `proposed` again. Each offer is locked first
    (its reject may be under way)."""
    for request in uow.approvals.of_decision(granted.decision_id):
        if request.status != RequestState.PENDING or request.offer_id == granted.id:
            continue
        uow.lock(f"offer:{request.offer_id}")
        offer = uow.offers.get(request.offer_id)
        pending = uow.approvals.pending_for(request.offer_id)
        if offer is None or pending is None:
            continue  # decided meanwhile
        try:
            check_combination(uow, policy, offer)
        except Conflict as why:
            move(uow, offer, OfferEvent.WITHDRAW, moment)
            uow.approvals.close(pending, RequestState.WITHDRAWN, principal.id, moment,
                                reason=f"Offer {granted.id} ({granted.remedy}) was granted: "
                                       f"{why}")


def grant_offer(uow: UnitOfWork, policy: Policy, principal: Principal, offer_id: str) -> Grant:
    """Grant an offer within the caller's limits and running totals, or NeedsApproval naming
    the lowest role that may approve it and why. A rejected offer is never granted."""
    offer, decision = locked_offer(uow, offer_id, principal)
    moment = clock.now()
    check_move(uow, offer, OfferEvent.GRANT)
    check_combination(uow, policy, offer)
    role = policy.roles[principal.role]
    totals = running_totals(uow, policy, principal, offer, decision, moment)
    reasons = reasons_to_refer(role, to_grant(offer), totals, policy)
    if reasons:
        raise NeedsApproval(approver_role(policy, role, to_grant(offer), totals), reasons)
    return give(uow, policy, offer, decision, principal, moment)


@dataclass(frozen=True)
class GrantedTogether:
    decision_id: str
    grants: tuple[Grant, ...]  # in the order asked
    total: Money


def grant_together(uow: UnitOfWork, policy: Policy, principal: Principal, decision_id: str,
                   offer_ids: Sequence[str]) -> GrantedTogether:
    """Grant several offers of one decision, all or none, as if one after another in the
    order given: each within the caller's limits and the running totals with the earlier
    ones counted. Conflict when an offer cannot be granted at all (its state, or it does not
    combine with the others or with what was granted); SetNeedsApproval naming every offer
    beyond the caller's limits, which leaves a set the caller may grant when they are taken
    out. Nothing is granted unless everything is."""
    ref = uow.decisions.ref(decision_id)
    if ref is None:
        raise NotFound(f"No decision {decision_id!r}.")
    # An id of another decision's offer is refused below, and never locked: a grant on that
    # decision may hold its order and wait for the offer.
    uow.lock(*locks_for(principal, ref), *(f"offer:{offer_id}" for offer_id in offer_ids
                                           if is_offer_of(offer_id, decision_id)))
    stored = uow.decisions.get(decision_id)  # read again under the locks
    assert stored is not None, "a decision is never deleted"
    by_id = {offer.id: offer for offer in stored.offers}
    unknown = {f"offers.{index}": [f"{offer_id!r} is not an offer of decision {decision_id}"]
               for index, offer_id in enumerate(offer_ids) if offer_id not in by_id}
    if unknown:
        raise Invalid(unknown)
    asked = [by_id[offer_id] for offer_id in offer_ids]
    check_set(uow, policy, stored.decision.offers, stored.offers, asked,
              goodwill_ceiling(policy, stored))
    moment = clock.now()
    role = policy.roles[principal.role]
    currency = asked[0].value.currency
    totals = in_currency(granted_so_far(uow, policy, principal, ref, moment), policy, currency)
    refusals, before, alone = [], 0, totals  # `before`: the set's offers granted before it
    for offer in asked:
        reasons = reasons_to_refer(role, to_grant(offer), totals, policy)
        if reasons:
            # A reason the offer would have alone is the offer's own; any other (a figure
            # that counts the earlier offers of the set) says that it does.
            own = set(reasons_to_refer(role, to_grant(offer), alone, policy)) if before else ()
            counted = (f" (counting the {before} offer{'s' if before != 1 else ''} of this "
                       "set before it as granted)")
            refusals.append(Refusal(offer.id, offer.remedy, offer.value, tuple(
                reason if reason in own or not before else reason + counted
                for reason in reasons), approver_role(policy, role, to_grant(offer), totals)))
        else:
            totals = totals.after(offer.value.amount)
            before += 1
    if refusals:
        day_start, window_start = counted_from(policy, moment)
        raise SetNeedsApproval(refusals, len(asked), uow.grants.made_since(
            principal.id, ref, stored.decided_at, day_start=day_start,
            window_start=window_start))
    grants = tuple(give(uow, policy, offer, ref, principal, moment) for offer in asked)
    total = sum((grant.value.amount for grant in grants), Decimal(0))
    return GrantedTogether(decision_id, grants, Money(total, currency))


def check_set(uow: UnitOfWork, policy: Policy, offers: Sequence[Offer],
              stored_offers: Sequence[StoredOffer], asked: Sequence[StoredOffer],
              ceiling: Decimal | None = None) -> None:
    """Conflict naming every offer of the set that cannot be granted whatever the limits:
    granted or rejected already, of a kind the policy no longer has, or not combining with
    the others asked for or with what was granted on the decision. `offers` are the
    decision's, `stored_offers` the same with their states (read under the locks)."""
    by_number = {offer.number: offer for offer in offers}
    granted = [by_number[stored.number] for stored in stored_offers
               if stored.state == OfferState.GRANTED]
    problems, taken = [], []
    for stored in asked:
        try:
            check_move(uow, stored, OfferEvent.GRANT)
        except Conflict as refused:
            problems.append(str(refused))
            continue
        offer = by_number[stored.number]
        if offer.remedy not in policy.remedy_kinds:
            problems.append(f"Offer {stored.id}: the active policy has no remedy kind "
                            f"{offer.remedy}.")
            continue
        why = conflict(offer, taken, policy, granted, ceiling)
        if why is not None:
            problems.append(f"Offer {stored.id} ({offer.remedy}): {why}.")
        else:  # an offer refused is not counted against the next ones
            taken.append(offer)
    if problems:
        raise Conflict("Nothing was granted: " + " ".join(problems))
