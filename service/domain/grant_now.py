"""What may this caller grant together, now, without approval? Pure: no I/O.

Given a decision's offers, the caller's role, the policy and the running totals as they stand,
`grant_now` chooses the set of offers the caller may grant together, and its total.

The rule. A set is grantable when, granted one after another, no grant of it would be refused:

- each offer's remedy kind is one the role may grant;
- its total, added to what is already granted, stays within the role's per-incident limit
  (all grants of the incident together), daily budget, per-order cap and per-customer cap
  (`grant_rule.reasons_to_refer` on the set's total: the checks are sums, so the last grant of
  the set sees the whole set, whatever the order);
- the abuse signal does not fire for any of its grants: each grant counts towards the next
  one's grants to this customer in the window, so with `n` grants already there and the
  threshold `t`, at most `t - n` offers fit;
- at most one offer per remedy kind, at most one offer of the kinds that do not combine (they
  are alternatives), and never an offer together with its capped variant; the offers already
  granted on the decision count too (`granted_offers`): their kinds, and an offer whose
  capped variant (or whose original) was granted is not granted beside it;
- together with the offers already granted on the decision, it stays within the goodwill
  ceiling (`max_compensation_percent` of the order value): each offer of a kind held under
  it is within it, and so are they all together (kinds fixed by law, and kinds with a
  ceiling of their own, aside).

The choice is greedy, as a good agent would make it: the offers are taken in priority order and
each is added while the set stays grantable. The priority is the decision's own order: the
customer's ask first, then its capped variant (the closest thing the caller may grant), then
the policy's offers by rule priority. A policy's `preference` of remedy kinds (`grant_now:
prefer:` in roles.yaml) reorders the policy's offers: those of the kinds it names come
first, in its order, the others follow; ties keep the decision's order. The customer's ask
and its variant stay first (what the customer asked for is what recovers them) unless the
policy says `ask_first: false`: then the preference orders them too.

Because every check only gets harder as the set grows, the result is maximal:
adding any offer of the decision left out would break one of the rules above.

Totals are compared in the order's currency: grants in other currencies are converted at the
policy's exchange rates, rounded up, by `GrantedSoFar.in_currency` (money.NoExchangeRate when a
rate is missing). The chosen offers come back in decision order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from service.domain.grant_rule import GrantedSoFar, OfferToGrant, RunningTotals, may_grant_alone
from service.domain.money import Money
from service.domain.offer import Offer
from service.domain.policy_terms import PolicyTerms, RoleTerms
from service.domain.vocabulary import OfferSource


@dataclass(frozen=True)
class GrantNow:
    """The offers the caller may grant together now (in decision order), and their total."""

    offers: tuple[Offer, ...]
    total: Money


def grant_now(offers: Sequence[Offer], role: RoleTerms, policy: PolicyTerms,
              granted: RunningTotals | GrantedSoFar, currency: str,
              preference: Sequence[str] | None = None,
              granted_offers: Collection[Offer] = (), ask_first: bool = True,
              ceiling: Decimal | None = None) -> GrantNow:
    """The set the caller (`role`) may grant together now, chosen as the module says.

    `granted` is what is already granted in each scope: as the store sums it per currency
    (`GrantedSoFar`, converted here into `currency`), or already in `currency`
    (`RunningTotals`). `currency` is the order's. `granted_offers` are the decision's offers
    already granted; `ceiling` the goodwill ceiling of the order, which the set and those
    together may not exceed (kinds fixed by law aside)."""
    totals = (granted.in_currency(currency, policy.exchange_rates)
              if isinstance(granted, GrantedSoFar) else granted)
    chosen: list[Offer] = []
    for offer in prioritised(offers, preference, ask_first):
        if offer.value.currency != currency:
            continue
        if conflicts(offer, chosen, policy, granted_offers, ceiling):
            continue
        if fits([*chosen, offer], role, policy, totals, currency):
            chosen.append(offer)
    ordered = tuple(sorted(chosen, key=lambda o: o.number))
    return GrantNow(ordered, Money(total_of(ordered), currency))


def prioritised(offers: Sequence[Offer], preference: Sequence[str] | None,
                ask_first: bool = True) -> list[Offer]:
    """The decision's order (ask, its capped variant, then the policy's offers by priority),
    the policy's offers reordered by a preference of remedy kinds when there is one."""
    in_order = sorted(offers, key=lambda o: o.number)
    if not preference:
        return in_order
    rank = {kind: index for index, kind in enumerate(preference)}
    return sorted(in_order, key=lambda o: (  # stable: ties keep the decision's order
        (0, 0) if ask_first and o.source == OfferSource.CUSTOMER_ASK
        else (1, rank.get(o.remedy, len(rank)))))


def conflicts(offer: Offer, chosen: Iterable[Offer], policy: PolicyTerms,
              granted_offers: Collection[Offer] = (), ceiling: Decimal | None = None) -> bool:
    """True when the offer may not join the others (or the offers already granted): the
    same kind, two kinds that do not combine, an offer beside its capped variant, or
    together above the goodwill `ceiling`."""
    return conflict(offer, chosen, policy, granted_offers, ceiling) is not None


class Clash(StrEnum):
    """Why an offer of one remedy kind may not be granted on a decision beside another."""

    SAME_KIND = "same_kind"  # one grant per remedy kind per decision
    ALTERNATIVES = "alternatives"  # two kinds that do not combine: one of them per decision


def clash(kind: str, other: str, policy: PolicyTerms) -> Clash | None:
    """The rule of which remedy kinds a decision may grant together, for an offer of `kind`
    beside one of `other` (granted, or chosen with it); None when they combine. Granting
    (service.app.grants) and `conflict` below both ask it."""
    if kind == other:
        return Clash.SAME_KIND
    kinds = policy.remedy_kinds
    # A kind the policy lacks (decided under a version that had it) is taken not to
    # combine: the two are alternatives unless the other combines with anything.
    combines = [kinds[k].combines if k in kinds else False for k in (kind, other)]
    return None if any(combines) else Clash.ALTERNATIVES


def capped_pair(offer: Offer, other: Offer) -> bool:
    """Whether one of the two is the other's capped variant: alternatives, whatever their
    kinds (a customer's ask and the nearest kind the caller may grant instead)."""
    return offer.capped_from == other.number or other.capped_from == offer.number


def conflict(offer: Offer, chosen: Iterable[Offer], policy: PolicyTerms,
             granted_offers: Collection[Offer] = (), ceiling: Decimal | None = None
             ) -> str | None:
    """Why the offer may not join the others (or the offers already granted on its
    decision), in words; None when it may. `ceiling`: the goodwill ceiling of the
    decision's order (`pricing.ceiling`) under the active policy, which its offers of the
    kinds held under it (not those the law fixes, nor those with a ceiling of their own)
    may not exceed, alone or together; None: not checked."""
    chosen = tuple(chosen)  # read twice
    for granted in granted_offers:
        kind = granted.remedy
        found = clash(offer.remedy, kind, policy)
        if found is Clash.SAME_KIND:
            return f"a {kind} was already granted on this decision"
        if found is Clash.ALTERNATIVES:
            return (f"{offer.remedy} is an alternative to the {kind} already granted on this "
                    "decision")
        if capped_pair(offer, granted):
            return (f"it is an alternative to offer {granted.number} ({kind}), already "
                    "granted: one is a capped variant of the other")
    for other in chosen:
        found = clash(offer.remedy, other.remedy, policy)
        if found is Clash.SAME_KIND:
            return f"one {offer.remedy} per decision, and another offer of it is in the set"
        if found is Clash.ALTERNATIVES:
            return (f"{offer.remedy} and {other.remedy} do not combine: they are "
                    "alternatives")
        if capped_pair(offer, other):
            return "an offer and its capped variant are alternatives"
    return beyond_ceiling(offer, (*granted_offers, *chosen), policy, ceiling)


def beyond_ceiling(offer: Offer, others: Iterable[Offer], policy: PolicyTerms,
                   ceiling: Decimal | None) -> str | None:
    """Why the offer and the `others` (granted on its decision, or chosen with it) together
    would pass the goodwill `ceiling`, in words; None when they would not, or for a kind
    not held under it. Alone too: an offer decided under a higher ceiling than the active
    policy's."""
    if ceiling is None or not _goodwill(offer, policy):
        return None
    together = offer.value.amount + sum(
        (other.value.amount for other in others if _goodwill(other, policy)), Decimal(0))
    if together <= ceiling:
        return None
    currency = offer.value.currency
    return (f"it would bring what this decision grants to {together} {currency}, above the "
            f"goodwill ceiling of {ceiling} {currency} ({policy.max_compensation_percent}% "
            "of the order value)")


def _goodwill(offer: Offer, policy: PolicyTerms) -> bool:
    """Whether the offer counts toward the goodwill ceiling: every kind held under it, not
    those the law fixes nor those with a ceiling of their own (a kind the policy no longer
    has counts)."""
    terms = policy.remedy_kinds.get(offer.remedy)
    return terms is None or not (terms.statutory or terms.ceiling_percent is not None)


def fits(offers: Sequence[Offer], role: RoleTerms, policy: PolicyTerms, totals: RunningTotals,
         currency: str) -> bool:
    """True when the role may grant these offers one after another, given the totals: the
    last grant sees all the others in every total, and each earlier grant in the count of
    grants to this customer."""
    if not offers:
        return True
    total = total_of(offers)
    last = replace(totals, customer_grants_in_window=totals.customer_grants_in_window
                   + len(offers) - 1)
    return all(may_grant_alone(role, OfferToGrant(offer.remedy, total, currency), last, policy)
               for offer in offers)


def total_of(offers: Iterable[Offer]) -> Decimal:
    return sum((offer.value.amount for offer in offers), Decimal(0))
