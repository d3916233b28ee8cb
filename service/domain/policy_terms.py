"""What the decision core and the grant rule read of a policy: the terms, not the rule files.

`service.policy.model` provides them; the core depends on these shapes only, so it stays
free of how policies are read, checked or stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from service.domain.fields import FieldSpec
from service.domain.money import ExchangeRates
from service.domain.vocabulary import Basis, FactorEffect, StepName


@dataclass(frozen=True)
class Factor:
    """A named factor a rule says helps, hurts or blocks recovery."""

    name: str
    effect: FactorEffect

    def __post_init__(self) -> None:
        object.__setattr__(self, "effect", FactorEffect(self.effect))


@dataclass(frozen=True)
class Step:
    step: StepName
    after_days: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "step", StepName(self.step))


@dataclass(frozen=True)
class Entitlement:
    """An obligation a rule grants that has no money value (care, re-routing, a right to
    a refund paid within 7 days...)."""

    name: str
    description: str


@dataclass(frozen=True)
class Withdrawal:
    """A rule's exemption: the remedy kind or entitlement other rules proposed that it takes
    back, and why."""

    what: str  # "remedy" or "entitlement"
    name: str
    reason: str


class FormulaTerms(Protocol):
    """A checked expression of the policy, evaluated on the incident's facts (values by dotted
    path, derived ones included) in the order's currency; None when unknown."""

    def value(self, facts: Mapping[str, object], currency: str) -> object | None: ...


class DerivedTerms(Protocol):
    """A fact the policy computes from others, tested by rules as `derived.<name>`."""

    path: str

    def value(self, facts: Mapping[str, object], currency: str) -> object | None: ...

    def unknown_note(self, facts: Mapping[str, object], currency: str) -> str | None:
        """Why the fact is unknown although nothing it is computed from is missing."""
        ...


class RemedyProposalTerms(Protocol):
    kind: str
    basis: Basis
    percent: Decimal | None
    amounts: tuple[tuple[str, Decimal], ...]
    cap_percent: Decimal | None
    cap_amounts: tuple[tuple[str, Decimal], ...]
    reason: str | None
    compute: FormulaTerms | None
    cap_compute: FormulaTerms | None


class RuleTerms(Protocol):
    id: str
    description: str
    priority: int
    factors: tuple[Factor, ...]
    steps: tuple[Step, ...]
    remedies: tuple[RemedyProposalTerms, ...]
    entitlements: tuple[Entitlement, ...]
    withdrawals: tuple[Withdrawal, ...]
    first_of: str | None


class RemedyKindTerms(Protocol):
    name: str
    scales: bool
    combines: bool
    statutory: bool
    ceiling_percent: Decimal | None


class RoleTerms(Protocol):
    name: str
    remedies: frozenset[str]

    def limit(self, currency: str) -> Decimal: ...

    def cap(self, name: str, currency: str) -> Decimal | None: ...


class PolicyTerms(Protocol):
    name: str
    version: str
    effective_from: date | None
    max_compensation_percent: Decimal
    currencies: tuple[str, ...]
    unlikely_at_hurts: int
    fields: Mapping[str, FieldSpec]
    remedy_kinds: Mapping[str, RemedyKindTerms]
    rules_by_id: Mapping[str, RuleTerms]
    roles: Mapping[str, RoleTerms]
    escalation: tuple[str, ...]
    rolling_window_days: int
    abuse_grants_in_window: int | None
    exchange_rates: ExchangeRates | None
    derived: tuple[DerivedTerms, ...]
    grant_preference: tuple[str, ...]
    grant_ask_first: bool

    def grantable_limit(self, kind: str, currency: str) -> Decimal: ...
