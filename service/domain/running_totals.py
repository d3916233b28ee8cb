"""What is already granted in each scope a grant counts against: per currency as the store
sums it (`GrantedSoFar`), or as one total in a budget's currency (`RunningTotals`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from service.domain.money import ExchangeRates, total_in


@dataclass(frozen=True)
class RunningTotals:
    """What is already granted, in the offer's currency: grants in every currency, each
    currency's sum converted up at the policy's rates (see `GrantedSoFar.in_currency`)."""

    incident: Decimal = Decimal(0)  # on this decision
    agent_today: Decimal = Decimal(0)  # by this principal since midnight (day_starts_in)
    order: Decimal = Decimal(0)  # on this order, ever
    customer_window: Decimal = Decimal(0)  # to this customer within the rolling window
    customer_grants_in_window: int = 0

    def after(self, amount: Decimal) -> RunningTotals:
        """The totals once one more grant of `amount` (in the same currency) is made by the
        same caller on the same decision."""
        return RunningTotals(self.incident + amount, self.agent_today + amount,
                             self.order + amount, self.customer_window + amount,
                             self.customer_grants_in_window + 1)


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
