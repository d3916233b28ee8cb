"""May this person grant this offer now? Pure: the offer, the role and the running totals.

The store sums what was granted inside the grant's transaction (under a lock), per currency;
this module converts those sums into the offer's currency at the policy's exchange rates and
compares, so the rule is easy to read and to test on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from service.domain.money import money_text
from service.domain.policy_terms import PolicyTerms, RoleTerms
from service.domain.running_totals import GrantedSoFar, RunningTotals

__all__ = ["GrantedSoFar", "OfferToGrant", "Room", "RunningTotals", "abuse_signal",
           "abuse_words", "approver_role", "approvers", "may_grant_alone",
           "most_any_role_may_grant", "rank", "reasons_to_refer", "room"]


@dataclass(frozen=True)
class OfferToGrant:
    remedy: str
    amount: Decimal
    currency: str


def reasons_to_refer(role: RoleTerms, offer: OfferToGrant, totals: RunningTotals,
                     policy: PolicyTerms,
                     include_daily_budget: bool = True, include_abuse: bool = True) -> list[str]:
    """Every reason the role may not grant the offer alone; empty when it may."""
    return [say() for say in _refusals(role, offer, totals, policy, include_daily_budget,
                                       include_abuse)]


def may_grant_alone(role: RoleTerms, offer: OfferToGrant, totals: RunningTotals,
                    policy: PolicyTerms, include_daily_budget: bool = True,
                    include_abuse: bool = True) -> bool:
    """Whether `reasons_to_refer` is empty, without putting any reason into words (asked for
    every offer and every set `grant_now` weighs); it stops at the first reason."""
    return next(_refusals(role, offer, totals, policy, include_daily_budget, include_abuse),
                None) is None


def _refusals(role: RoleTerms, offer: OfferToGrant, totals: RunningTotals, policy: PolicyTerms,
              include_daily_budget: bool, include_abuse: bool) -> Iterator[Callable[[], str]]:
    """The one statement of the rule: each reason, as what would say it."""
    currency, amount = offer.currency, offer.amount
    if offer.remedy not in role.remedies:
        yield lambda: f"{role.name} may not grant {offer.remedy}"
    limit = role.limit(currency)
    if totals.incident + amount > limit:
        yield lambda: _exceeds(role, offer, "per-incident limit", limit, totals.incident,
                               "on this incident")
    if include_daily_budget:
        budget = role.cap("per_agent_daily_budget", currency)
        if budget is not None and totals.agent_today + amount > budget:
            yield lambda: _exceeds(role, offer, "daily budget", budget, totals.agent_today,
                                   "by you today")
    order_cap = role.cap("per_order_cap", currency)
    if order_cap is not None and totals.order + amount > order_cap:
        yield lambda: _exceeds(role, offer, "per-order cap", order_cap, totals.order,
                               "on this order")
    customer_cap = role.cap("per_customer_cap", currency)
    if customer_cap is not None and totals.customer_window + amount > customer_cap:
        yield lambda: _exceeds(role, offer, "per-customer cap", customer_cap,
                               totals.customer_window,
                               f"to this customer in {policy.rolling_window_days} days")
    if include_abuse and abuse_signal(policy, totals):
        yield lambda: abuse_words(policy, totals)


def _exceeds(role: RoleTerms, offer: OfferToGrant, words: str, cap: Decimal, already: Decimal,
             where: str) -> str:
    amount, currency = offer.amount, offer.currency
    return (f"{money_text(amount, currency)} would exceed the {role.name} {words} of "
            f"{money_text(cap, currency)} ({money_text(already, currency)} already granted "
            f"{where})")


def abuse_signal(policy: PolicyTerms, totals: RunningTotals) -> bool:
    threshold = policy.abuse_grants_in_window
    return threshold is not None and totals.customer_grants_in_window >= threshold


def abuse_words(policy: PolicyTerms, totals: RunningTotals) -> str:
    """The abuse signal, in words."""
    return (f"abuse signal: {totals.customer_grants_in_window} grants to this customer in "
            f"{policy.rolling_window_days} days (threshold {policy.abuse_grants_in_window})")


@dataclass(frozen=True)
class Room:
    """The most a role may still grant alone now, and the limit or cap that sets it."""

    amount: Decimal
    binding: str  # in words: "your per-incident limit of 50.00 EUR", "what is left of ..."


def room(role: RoleTerms, totals: RunningTotals, currency: str,
         policy: PolicyTerms) -> Room | None:
    """What the role may still grant on this incident now, in `currency`: the least of what
    is left under its per-incident limit, daily budget, per-order and per-customer caps.
    None when it may grant nothing now (nothing left, or the abuse signal fires)."""
    if abuse_signal(policy, totals):
        return None
    limit = role.limit(currency)
    best = Room(limit - totals.incident,
                f"your per-incident limit of {money_text(limit, currency)}")
    if totals.incident:
        best = Room(best.amount, "what is left of your per-incident limit of "
                                 f"{money_text(limit, currency)}")
    for name, already, words in (("per_agent_daily_budget", totals.agent_today, "daily budget"),
                                 ("per_order_cap", totals.order, "per-order cap"),
                                 ("per_customer_cap", totals.customer_window,
                                  "per-customer cap")):
        cap = role.cap(name, currency)
        if cap is not None and cap - already < best.amount:
            best = Room(cap - already,
                        f"what is left of your {words} of {money_text(cap, currency)}")
    return best if best.amount > 0 else None


def most_any_role_may_grant(policy: PolicyTerms, remedy: str, totals: RunningTotals,
                            currency: str, roles: tuple[str, ...] | None = None) -> Room | None:
    """The most some role (of `roles`, default all) may approve of `remedy` now, as
    `approver_role` weighs roles (the approver's own daily budget aside): what is left under
    its per-incident limit and its per-order and per-customer caps, the best of every role
    that grants the kind. None when no role may grant any of it now."""
    best: Room | None = None
    for name in policy.escalation if roles is None else roles:
        role = policy.roles[name]
        if remedy not in role.remedies:
            continue
        limit = role.limit(currency)
        left = Room(limit - totals.incident,
                    f"the {name} per-incident limit of {money_text(limit, currency)}")
        for cap_name, already, words in (
                ("per_order_cap", totals.order, "per-order cap"),
                ("per_customer_cap", totals.customer_window, "per-customer cap")):
            cap = role.cap(cap_name, currency)
            if cap is not None and cap - already < left.amount:
                left = Room(cap - already, f"what is left of the {name} {words} of "
                                           f"{money_text(cap, currency)}")
        if best is None or left.amount > best.amount:
            best = left
    return best if best is not None and best.amount > 0 else None


def approvers(policy: PolicyTerms, caller: RoleTerms, totals: RunningTotals) -> tuple[str, ...]:
    """The roles that may approve what the caller asks, lowest first: every role; under the
    abuse signal those above the caller, or the top role (another person of it)."""
    chain = policy.escalation
    return chain[_past_abuse(chain, caller.name) if abuse_signal(policy, totals) else 0:]


def approver_role(policy: PolicyTerms, caller: RoleTerms, offer: OfferToGrant,
                  totals: RunningTotals) -> str | None:
    """The lowest role that may approve: its limits and caps cover the offer (its approver's
    own daily budget is checked when approving). An abuse signal needs a role above the
    caller, or another person of the top role."""
    for name in approvers(policy, caller, totals):
        if may_grant_alone(policy.roles[name], offer, totals, policy,
                           include_daily_budget=False, include_abuse=False):
            return name
    return None


def clears_abuse(policy: PolicyTerms, approver: str, requester: str) -> bool:
    """Whether a person of role `approver` may grant, past the abuse signal, what a person of
    role `requester` asked for: a role above it, or another person of the top role."""
    chain = policy.escalation
    if requester not in chain:  # asked under a version that had the role: the top decides
        return approver == chain[-1]
    return chain.index(approver) >= _past_abuse(chain, requester)


def _past_abuse(chain: tuple[str, ...], caller: str) -> int:
    """Where in the chain the roles that may grant past the abuse signal for `caller` start."""
    return min(chain.index(caller) + 1, len(chain) - 1)


def rank(policy: PolicyTerms, role: str) -> int:
    return policy.escalation.index(role)
