"""The policy model: what the rule files mean once checked. Immutable; no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_FLOOR, Context, Decimal

from service.domain.fields import (
    DECIMAL_SCALE,
    MAX_INTEGER,
    DecimalType,
    FieldSpec,
    FieldType,
    ValueTypeError,
    field_type,
)
from service.domain.incident import Incident
from service.domain.money import MAX_AMOUNT, ExchangeRates
from service.domain.policy_terms import Entitlement, Factor, Step, Withdrawal
from service.domain.vocabulary import Basis
from service.policy.expressions import Duration, Expression

FOUR_PLACES = Decimal("0.0001")  # the places of a decimal in a rule's condition

# ---- conditions ---------------------------------------------------------------------------
# Values inside conditions are already *encoded* for the engine (see service.domain.fields.encode):
# integers, booleans and strings as they are; decimals as integers scaled by 10^4; dates as
# ordinal day numbers. The original text is kept for messages.

@dataclass(frozen=True)
class Compare:
    path: str
    op: str  # eq neq lt lte gt gte
    value: object


@dataclass(frozen=True)
class OneOf:
    path: str
    values: tuple
    negated: bool = False  # none_of


@dataclass(frozen=True)
class Presence:
    path: str
    present: bool


@dataclass(frozen=True)
class All:
    items: tuple


@dataclass(frozen=True)
class AnyOf:
    items: tuple


@dataclass(frozen=True)
class Not:
    item: object


Condition = Compare | OneOf | Presence | All | AnyOf | Not
ALWAYS = All(())


# ---- effects ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RemedyProposal:
    """A remedy a rule proposes, with how its value is computed."""

    kind: str
    basis: Basis
    percent: Decimal | None = None
    amounts: tuple[tuple[str, Decimal], ...] = ()  # per currency, for basis "amount"
    cap_percent: Decimal | None = None
    cap_amounts: tuple[tuple[str, Decimal], ...] = ()
    reason: str | None = None
    compute: Formula | None = None  # for basis "compute"
    cap_compute: Formula | None = None


@dataclass(frozen=True)
class Formula:
    """A checked expression with the policy's holidays (for business days)."""

    expression: Expression
    holidays: frozenset[date] = frozenset()

    @property
    def text(self) -> str:
        return self.expression.text

    def value(self, facts: Mapping[str, object], currency: str) -> object | None:
        result = self.expression.evaluate(facts, currency, self.holidays)
        return None if isinstance(result, Duration) else result


@dataclass(frozen=True)
class BandRange:
    value: str
    bound: object | None = None  # None: the rest
    inclusive: bool = False  # at_most / on_or_before rather than below / before


class ExactDecimal(Decimal):
    """A derived decimal or money fact's exact value, however many places it has: what
    remedies and later derived facts compute with (arithmetic on it gives a plain Decimal).
    Only its encoding for the engine differs from a Decimal's (`DerivedDecimalType`)."""

    __slots__ = ()


class DerivedDecimalType(DecimalType):
    """A derived decimal or money fact as the engine compares it. A rule's value (at most 4
    places) is encoded as any decimal's, scaled by 10^4 to a whole number; so is the fact's
    value when it has at most 4 places. An exact value with more places (1/24 =
    0.041666...) lies strictly between two such numbers, and the engine is given the half
    step between them (the scaled value's floor + 0.5, a float both the engine and Python
    compare exactly): every test against a rule's value then holds as it does for the exact
    value (0.00005 is above 0 and below 0.0001, equal to neither), in the engine and the
    reference evaluator alike."""

    def encode(self, value, choices=()):
        if not isinstance(value, ExactDecimal):
            return super().encode(value, choices)  # a rule's value: at most 4 places
        if not value.is_finite() or abs(value) > MAX_AMOUNT:
            raise ValueTypeError(f"expects a number from -{MAX_AMOUNT} to {MAX_AMOUNT}")
        # Within MAX_AMOUNT, 28 digits hold the floor at 4 places and its scaled form exactly.
        floor = value.quantize(FOUR_PLACES, rounding=ROUND_FLOOR, context=_EXACT)
        scaled = int(_EXACT.multiply(floor, DECIMAL_SCALE))
        return scaled if floor == value else scaled + 0.5


DERIVED_DECIMAL = DerivedDecimalType()
_EXACT = Context(prec=28)


@dataclass(frozen=True)
class DerivedFact:
    """A fact computed from others (`derived.<name>`): an expression, or a band picked by
    ranges of one number or date (the first range whose bound holds)."""

    name: str
    type: str  # integer, decimal, money, boolean, date, enum
    description: str
    formula: Formula
    ranges: tuple[BandRange, ...] = ()

    @property
    def path(self) -> str:
        return f"derived.{self.name}"

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.value for r in self.ranges))

    def field(self) -> FieldSpec:
        kind = DERIVED_DECIMAL if self.type in ("decimal", "money") else self.type
        return FieldSpec(self.path, kind, True, self.choices,
                         "order currency" if self.type == "money" else None, self.description)

    def value(self, facts: Mapping[str, object], currency: str) -> object | None:
        """The fact's value, or None when unknown (see `unknown_note`). A decimal or money
        value is exact (an ExactDecimal, never rounded); beyond what Amends computes with it
        is unknown, as a whole number beyond the limits or one that is not whole is."""
        result = self.formula.value(facts, currency)
        if result is None:
            return None
        if self.ranges:
            return next((r.value for r in self.ranges if r.bound is None
                         or result < r.bound or (r.inclusive and result == r.bound)), None)
        if self.type == "integer":
            return (int(result) if abs(result) <= MAX_INTEGER
                    and result == result.to_integral_value() else None)
        if self.type in ("decimal", "money"):  # beyond what the engine holds: unknown
            if abs(result) > MAX_AMOUNT:
                return None
            return ExactDecimal(result)
        return result

    def unknown_note(self, facts: Mapping[str, object], currency: str) -> str | None:
        """Why the fact is unknown when nothing it is computed from is missing, for the
        decision's notes: a whole number (`integer`) whose expression comes to a value that
        is not whole. None otherwise (a missing fact is said by whatever tests it)."""
        if self.type != "integer" or self.ranges:
            return None
        result = self.formula.value(facts, currency)
        if result is None or result == result.to_integral_value():
            return None
        return (f"{self.path} is unknown here: {self.formula.text} comes to "
                f"{_shown(result)}, not a whole number (round it with round, round_down or "
                "round_up)")


def _shown(value: Decimal) -> str:
    """A number for a note: at most 10 places (1/3 is 0.3333333333...)."""
    held = value.quantize(Decimal("1e-10"), rounding=ROUND_DOWN,
                          context=Context(prec=max(28, value.adjusted() + 12)))
    return str(value) if held == value else f"{held.normalize():f}..."


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    when: Condition
    priority: int
    index: int  # definition order across the policy
    file: str
    line: int
    factors: tuple[Factor, ...] = ()
    steps: tuple[Step, ...] = ()
    remedies: tuple[RemedyProposal, ...] = ()
    entitlements: tuple[Entitlement, ...] = ()
    withdrawals: tuple[Withdrawal, ...] = ()
    first_of: str | None = None  # a row of a `hit: first` table: only its first fired row counts


@dataclass(frozen=True)
class RemedyKind:
    name: str
    scales: bool  # can be capped to a limit (discount, credit, partial refund)
    combines: bool  # may be granted together with other remedies
    description: str
    statutory: bool = False  # fixed by law: no goodwill ceiling
    ceiling_percent: Decimal | None = None  # its own ceiling instead of the policy's


BUILTIN_REMEDY_KINDS = {
    kind.name: kind
    for kind in (
        RemedyKind("discount", True, True, "A discount on the failed order"),
        RemedyKind("free_upgrade", False, True, "A free upgrade of the product or service"),
        RemedyKind("waived_shipping", False, True, "The shipping fee waived or refunded"),
        RemedyKind("store_credit", True, False, "Credit for a later purchase"),
        RemedyKind("refund", True, False, "Money back, whole or partial"),
        RemedyKind("replacement", False, False, "The product replaced or service re-performed"),
    )
}


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    per_incident_limit: tuple[tuple[str, Decimal], ...]
    remedies: frozenset[str]
    # Running totals a grant must stay within (None: no cap), per currency.
    per_agent_daily_budget: tuple[tuple[str, Decimal], ...] | None = None
    per_order_cap: tuple[tuple[str, Decimal], ...] | None = None
    per_customer_cap: tuple[tuple[str, Decimal], ...] | None = None
    admin: bool = False  # may reload the policy
    policy_owner: bool = False  # may activate, roll back, replay and read reports

    @property
    def owns_policy(self) -> bool:
        """May work on the policy: activate, roll back, replay, read reports."""
        return self.admin or self.policy_owner

    def cap(self, name: str, currency: str) -> Decimal | None:
        table = getattr(self, name)
        return None if table is None else _amount_in(table, currency)

    def limit(self, currency: str) -> Decimal:
        return _amount_in(self.per_incident_limit, currency)


def _amount_in(table: tuple[tuple[str, Decimal], ...], currency: str) -> Decimal:
    """The amount a table of (currency, amount) gives for `currency` (KeyError: none)."""
    for code, amount in table:
        if code == currency:
            return amount
    raise KeyError(currency)


@dataclass(frozen=True)
class ContextFact:
    """A fact a policy declares for its domain, tested by rules as `context.<name>`."""

    name: str
    type: FieldType
    required: bool
    choices: tuple[str, ...] = ()
    unit: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", field_type(self.type))

    def field(self) -> FieldSpec:
        return FieldSpec(f"context.{self.name}", self.type, not self.required, self.choices,
                         self.unit, self.description)


@dataclass(frozen=True)
class PolicyTest:
    name: str
    role: str
    incident: dict
    prior_failures: int
    expect: dict
    file: str
    line: int


@dataclass(frozen=True)
class Policy:
    name: str
    version: str
    description: str
    directory: str
    effective_from: date | None
    currencies: tuple[str, ...]
    customer_tiers: tuple[str, ...]
    failure_categories: tuple[str, ...]
    history_window_days: int
    max_compensation_percent: Decimal
    unlikely_at_hurts: int
    context: dict[str, ContextFact]
    remedy_kinds: dict[str, RemedyKind]
    rules: tuple[Rule, ...]  # in firing order: priority, then definition order
    roles: dict[str, Role]
    escalation: tuple[str, ...]  # lowest role first
    fields: dict[str, FieldSpec]
    tests: tuple[PolicyTest, ...] = ()
    rules_by_id: dict[str, Rule] = field(default_factory=dict)
    rolling_window_days: int = 30
    day_starts_in: str = "UTC"  # IANA time zone of the daily budgets' midnight
    abuse_grants_in_window: int | None = None
    # Rates into each currency from every other one, to count grants in every currency
    # against a budget (None: a policy of one currency needs none).
    exchange_rates: ExchangeRates | None = None
    # grant_now takes the policy's offers in this order of remedy kinds (empty: by rule
    # priority), after the customer's ask unless grant_ask_first is False.
    grant_preference: tuple[str, ...] = ()
    grant_ask_first: bool = True
    derived: tuple[DerivedFact, ...] = ()  # in the order declared
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.rules_by_id:
            object.__setattr__(self, "rules_by_id", {rule.id: rule for rule in self.rules})
        top = {}
        for role in self.roles.values():
            for kind in role.remedies:
                for currency, amount in role.per_incident_limit:
                    top[kind, currency] = max(top.get((kind, currency), Decimal(0)), amount)
        object.__setattr__(self, "_grantable", top)

    def grantable_limit(self, kind: str, currency: str) -> Decimal:
        """The most any role may grant of this kind in this currency (0 if none may)."""
        return self._grantable.get((kind, currency), Decimal(0))


# How a policy's test incidents are read: the service's own parser of request bodies (a JSON
# object and the policy, to an Incident, or IncidentInvalid naming every field at fault).
IncidentReader = Callable[[dict, Policy], Incident]
