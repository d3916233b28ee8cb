"""The incident as the decision core sees it: typed, validated, Decimal money."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from service.domain.running_totals import GrantedSoFar


@dataclass(frozen=True)
class Customer:
    id: str
    tier: str | None = None
    lifetime_value: Decimal | None = None
    prior_failures: int | None = None


@dataclass(frozen=True)
class Order:
    id: str
    value: Decimal
    currency: str
    shipping_fee: Decimal | None = None
    upgrade_cost: Decimal | None = None


@dataclass(frozen=True)
class Failure:
    category: str
    severity: int
    avoidable: bool
    description: str | None = None
    occurred_on: date | None = None


@dataclass(frozen=True)
class CustomerAsk:
    remedy: str
    amount: Decimal | None = None
    percent: Decimal | None = None


@dataclass(frozen=True)
class Incident:
    incident_id: str
    customer: Customer
    order: Order
    failure: Failure
    customer_ask: CustomerAsk | None = None
    context: dict = field(default_factory=dict)  # declared context facts, already typed


@dataclass(frozen=True)
class History:
    """What Amends knows from its own records: the customer's earlier failures, and what is
    already granted in the scopes a grant by the caller would count against (by the caller
    today, on the order, to the customer within the rolling window)."""

    prior_failures: int = 0
    granted: GrantedSoFar = field(default_factory=GrantedSoFar)


class IncidentInvalid(ValueError):
    """Bad input; `errors` maps dotted field paths to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(errors.items())))
