"""Where a decision's offers stand for a caller at a given moment. Pure: no I/O.

A stored decision was made for whoever asked, against the running totals of its moment.
Later, for any caller, `standing` recomputes each offer's approval against the running totals
now (the caller's limits and budgets, the order's and customer's caps, the abuse signal) and
whether the caller may grant it now (its state allows a grant, it combines with what was
granted on the decision, and it is within every limit), and chooses a fresh `grant_now` among
the offers still open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from service.domain.grant_now import GrantNow, conflict, grant_now
from service.domain.grant_rule import (
    GrantedSoFar,
    OfferToGrant,
    approver_role,
    reasons_to_refer,
)
from service.domain.money import Money, NoExchangeRate
from service.domain.offer import Offer
from service.domain.policy_terms import PolicyTerms, RoleTerms
from service.domain.vocabulary import Approval, OfferState

GRANTABLE_STATES = frozenset({OfferState.PROPOSED, OfferState.APPROVAL_PENDING})


@dataclass(frozen=True)
class OfferNow:
    """One offer for this caller now. `approval` and `approver_role` as in a decision (within
    the caller's limits alone, given the running totals); `grantable`: whether a grant by
    the caller would succeed now, and if not, `why_not`. An offer in a final state (granted,
    rejected) is judged against no limit: `not_required`, no approver, its state the reason
    (a granted one would otherwise count against itself)."""

    number: int
    approval: Approval
    approver_role: str | None
    grantable: bool
    why_not: tuple[str, ...] = ()


@dataclass(frozen=True)
class Standing:
    offers: Mapping[int, OfferNow]  # by offer number
    grant_now: GrantNow


def standing(offers: Sequence[Offer], states: Mapping[int, OfferState], role: RoleTerms,
             policy: PolicyTerms, granted: GrantedSoFar, currency: str,
             ceiling: Decimal | None = None) -> Standing:
    """Each offer for `role` now, and the set it may grant together now. `states` are the
    offers' stored states by number (those granted count against the others: their kinds,
    their capped variants or originals, and their values under the goodwill `ceiling` of
    the order); `granted` what is already granted in each scope, per currency (converted
    into `currency`, the order's, at the policy's rates)."""
    why: tuple[str, ...] = ()
    if currency not in policy.currencies:  # decided under a version that had it
        why = (f"the active policy has no {currency}, so no limits in it",)
    else:
        try:
            totals = granted.in_currency(currency, policy.exchange_rates)
        except NoExchangeRate as missing:  # grants in a currency the policy no longer has
            why = (f"earlier grants count toward its limits, but the policy has {missing}",)
    if why:
        return Standing({offer.number: OfferNow(offer.number, Approval.REQUIRED, None, False,
                                                why)
                         if OfferState(states[offer.number]) in GRANTABLE_STATES
                         else _final(offer, OfferState(states[offer.number]))
                         for offer in offers},
                        GrantNow((), Money(Decimal(0), currency)))
    granted_offers = [offer for offer in offers
                      if states[offer.number] == OfferState.GRANTED]
    now: dict[int, OfferNow] = {}
    open_offers = []
    for offer in offers:
        state = OfferState(states[offer.number])
        if state not in GRANTABLE_STATES:  # final: no grant is left to judge or approve
            now[offer.number] = _final(offer, state)
            continue
        if offer.remedy not in policy.remedy_kinds:
            now[offer.number] = OfferNow(offer.number, Approval.REQUIRED, None, False, (
                f"the active policy has no remedy kind {offer.remedy}",))
            continue
        asked = OfferToGrant(offer.remedy, offer.value.amount, offer.value.currency)
        reasons = reasons_to_refer(role, asked, totals, policy)
        why_not = list(reasons)
        if (why := conflict(offer, (), policy, granted_offers, ceiling)) is not None:
            why_not.insert(0, why)
        else:
            open_offers.append(offer)
        now[offer.number] = OfferNow(
            offer.number, Approval.REQUIRED if reasons else Approval.NOT_REQUIRED,
            approver_role(policy, role, asked, totals) if reasons else None,
            not why_not, tuple(why_not))
    chosen = grant_now(open_offers, role, policy, totals, currency, policy.grant_preference,
                       granted_offers, ask_first=policy.grant_ask_first, ceiling=ceiling)
    return Standing(now, chosen)


def _final(offer: Offer, state: OfferState) -> OfferNow:
    """An offer granted or rejected: no grant of it is left to judge against limits."""
    return OfferNow(offer.number, Approval.NOT_REQUIRED, None, False, (f"it is {state}",))
