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


class RemedyProposalTerms(Protocol):
    kind: str
    basis: Basis
    percent: Decimal | None
    amounts: tuple[tuple[str, Decimal], ...]
    cap_percent: Decimal | None
    cap_amounts: tuple[tuple[str, Decimal], ...]
    reason: str | None


class RuleTerms(Protocol):
    id: str
    description: str
    priority: int
    factors: tuple[Factor, ...]
    steps: tuple[Step, ...]
    remedies: tuple[RemedyProposalTerms, ...]


class RemedyKindTerms(Protocol):
    name: str
    scales: bool
    combines: bool


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
    unlikely_at_hurts: int
    fields: Mapping[str, FieldSpec]
    remedy_kinds: Mapping[str, RemedyKindTerms]
    rules_by_id: Mapping[str, RuleTerms]
    roles: Mapping[str, RoleTerms]
    escalation: tuple[str, ...]
    rolling_window_days: int
    abuse_grants_in_window: int | None
    exchange_rates: ExchangeRates | None
    grant_preference: tuple[str, ...]
    grant_ask_first: bool

    def grantable_limit(self, kind: str, currency: str) -> Decimal: ...
