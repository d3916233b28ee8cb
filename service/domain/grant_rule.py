"""May this person grant this offer now? Pure: the offer, the role and the running totals.

The store sums what was granted inside the grant's transaction (under a lock), per currency;
this module converts those sums into the offer's currency at the policy's exchange rates and
compares, so the rule is easy to read and to test on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from service.domain.money import ExchangeRates, total_in
from service.domain.policy_terms import PolicyTerms, RoleTerms


@dataclass(frozen=True)
class OfferToGrant:
    remedy: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class RunningTotals:
    """What is already granted, in the offer's currency: grants in every currency, each
    currency's sum converted up at the policy's rates (see `GrantedSoFar.in_currency`)."""

    incident: Decimal = Decimal(0)  # on this decision
    agent_today: Decimal = Decimal(0)  # by this principal since midnight (day_starts_in)
    order: Decimal = Decimal(0)  # on this order, ever
    customer_window: Decimal = Decimal(0)  # to this customer within the rolling window
    customer_grants_in_window: int = 0


@dataclass(frozen=True)
class GrantedSoFar:
    """What is already granted in each scope a grant counts against, per currency, as the
    store sums it."""

    incident: Mapping[str, Decimal] = field(default_factory=dict)
    agent_today: Mapping[str, Decimal] = field(default_factory=dict)
    order: Mapping[str, Decimal] = field(default_factory=dict)
    customer_window: Mapping[str, Decimal] = field(default_factory=dict)
    customer_grants_in_window: int = 0  # in any currency

    def in_currency(self, currency: str, rates: ExchangeRates | None) -> RunningTotals:
        """Every scope as one total in `currency` (a budget's currency): grants in other
        currencies converted at `rates`, rounded up, so no total understates what was given.
        Raises money.NoExchangeRate when a needed rate is missing."""
        return RunningTotals(
            incident=total_in(self.incident, currency, rates),
            agent_today=total_in(self.agent_today, currency, rates),
            order=total_in(self.order, currency, rates),
            customer_window=total_in(self.customer_window, currency, rates),
            customer_grants_in_window=self.customer_grants_in_window)


def reasons_to_refer(role: RoleTerms, offer: OfferToGrant, totals: RunningTotals,
                     policy: PolicyTerms,
                     include_daily_budget: bool = True, include_abuse: bool = True) -> list[str]:
    """Every reason the role may not grant the offer alone; empty when it may."""
    currency, amount = offer.currency, offer.amount
    reasons = []
    if offer.remedy not in role.remedies:
        reasons.append(f"{role.name} may not grant {offer.remedy}")
    checks = [("per_incident_limit", totals.incident, "per-incident limit", "on this incident")]
    if include_daily_budget:
        checks.append(("per_agent_daily_budget", totals.agent_today, "daily budget",
                       "by you today"))
    checks += [("per_order_cap", totals.order, "per-order cap", "on this order"),
               ("per_customer_cap", totals.customer_window, "per-customer cap",
                f"to this customer in {policy.rolling_window_days} days")]
    for name, already, words, where in checks:
        cap = role.limit(currency) if name == "per_incident_limit" else role.cap(name, currency)
        if cap is not None and already + amount > cap:
            reasons.append(f"{amount} {currency} would exceed the {role.name} {words} of "
                           f"{cap} {currency} ({already} {currency} already granted {where})")
    threshold = policy.abuse_grants_in_window
    if include_abuse and threshold is not None and totals.customer_grants_in_window >= threshold:
        reasons.append(f"abuse signal: {totals.customer_grants_in_window} grants to this "
                       f"customer in {policy.rolling_window_days} days (threshold {threshold})")
    return reasons


def approver_role(policy: PolicyTerms, caller: RoleTerms, offer: OfferToGrant,
                  totals: RunningTotals) -> str | None:
    """The lowest role that may approve: its limits and caps cover the offer (its approver's
    own daily budget is checked when approving). An abuse signal needs a role above the
    caller, or another person of the top role."""
    chain = policy.escalation
    abuse = bool(policy.abuse_grants_in_window is not None and
                 totals.customer_grants_in_window >= policy.abuse_grants_in_window)
    start = min(chain.index(caller.name) + 1, len(chain) - 1) if abuse else 0
    for name in chain[start:]:
        if not reasons_to_refer(policy.roles[name], offer, totals, policy,
                                include_daily_budget=False, include_abuse=False):
            return name
    return None


def rank(policy: PolicyTerms, role: str) -> int:
    return policy.escalation.index(role)
