"""Hypothesis strategies for random policies and facts over a small vocabulary, so that
conditions often hold, overlap, tie on priority and test missing fields."""

from datetime import date
from decimal import Decimal

from hypothesis import strategies as st

from service.domain.fields import incident_fields
from service.policy.model import (
    All,
    AnyOf,
    Compare,
    ContextFact,
    Not,
    OneOf,
    Policy,
    Presence,
    Rule,
)

CONTEXT = {"delay": ContextFact("delay", "integer", False),
           "storm": ContextFact("storm", "boolean", False),
           "carrier": ContextFact("carrier", "enum", False, ("small", "large")),
           "since": ContextFact("since", "date", False)}
FIELDS = incident_fields(("standard", "gold"), ("late", "lost", "rude"), ("EUR", "USD"),
                         ("discount", "refund"),
                         tuple(fact.field() for fact in CONTEXT.values()))

RAW_VALUES = {
    "customer.tier": st.sampled_from(["standard", "gold"]),
    "customer.lifetime_value": st.sampled_from([Decimal("0"), Decimal("99.99"),
                                                Decimal("2000")]),
    "customer.prior_failures": st.integers(0, 3),
    "order.value": st.sampled_from([Decimal("0"), Decimal("10.5"), Decimal("120"),
                                    Decimal("999.99")]),
    "order.currency": st.sampled_from(["EUR", "USD"]),
    "order.shipping_fee": st.sampled_from([Decimal("0"), Decimal("4.99")]),
    "failure.category": st.sampled_from(["late", "lost", "rude"]),
    "failure.severity": st.integers(1, 5),
    "failure.avoidable": st.booleans(),
    "failure.occurred_on": st.sampled_from([date(2024, 1, 1), date(2025, 2, 17)]),
    "customer_ask.remedy": st.sampled_from(["discount", "refund"]),
    "context.delay": st.sampled_from([0, 60, 180, 300]),
    "context.storm": st.booleans(),
    "context.carrier": st.sampled_from(["small", "large"]),
    "context.since": st.sampled_from([date(2024, 1, 1), date(2025, 2, 17)]),
}
PATHS = sorted(RAW_VALUES)
ORDERED = [p for p in PATHS if FIELDS[p].type.ordered]


def encoded(path):
    return RAW_VALUES[path].map(lambda value: FIELDS[path].encode(value))


@st.composite
def atoms(draw):
    path = draw(st.sampled_from(PATHS))
    kind = draw(st.sampled_from(["compare", "one_of", "presence"]))
    if kind == "presence":
        return Presence(path, draw(st.booleans()))
    if kind == "one_of":
        values = draw(st.lists(encoded(path), min_size=1, max_size=3, unique=True))
        return OneOf(path, tuple(values), draw(st.booleans()))
    ops = ["eq", "neq"] + (["lt", "lte", "gt", "gte"] if path in ORDERED else [])
    return Compare(path, draw(st.sampled_from(ops)), draw(encoded(path)))


conditions = st.recursive(
    atoms(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda items: All(tuple(items))),
        st.lists(inner, min_size=1, max_size=3).map(lambda items: AnyOf(tuple(items))),
        inner.map(Not),
    ),
    max_leaves=5,
)


def make_policy(conditions_and_priorities) -> Policy:
    rules = [Rule(id=f"r{n}", description=f"rule {n}", when=when, priority=priority, index=n,
                  file="generated", line=n + 1)
             for n, (when, priority) in enumerate(conditions_and_priorities)]
    return Policy(
        name="random", version="test", description="", directory="generated",
        effective_from=None, currencies=("EUR", "USD"), customer_tiers=("standard", "gold"),
        failure_categories=("late", "lost", "rude"), history_window_days=365,
        max_compensation_percent=Decimal(150), unlikely_at_hurts=2, context=CONTEXT,
        remedy_kinds={}, rules=tuple(sorted(rules, key=lambda r: (r.priority, r.index))),
        roles={}, escalation=(), fields=FIELDS)


@st.composite
def facts(draw):
    """Required fields always present (as validated incidents are); optional ones maybe."""
    fact = {"customer.id": "C-1", "order.id": "O-1"}
    for path in PATHS:
        if FIELDS[path].optional and draw(st.booleans()):
            continue
        fact[path] = draw(encoded(path))
    return fact


# ---- seeded generation, for policies too large for hypothesis to draw ---------------------

def _sample(path, rng):
    return FIELDS[path].encode(rng.choice(_CHOICES[path]))


_CHOICES = {
    "customer.tier": ["standard", "gold"],
    "customer.lifetime_value": [Decimal("0"), Decimal("99.99"), Decimal("2000")],
    "customer.prior_failures": [0, 1, 2, 3],
    "order.value": [Decimal("0"), Decimal("10.5"), Decimal("120"), Decimal("999.99")],
    "order.currency": ["EUR", "USD"],
    "order.shipping_fee": [Decimal("0"), Decimal("4.99")],
    "failure.category": ["late", "lost", "rude"],
    "failure.severity": [1, 2, 3, 4, 5],
    "failure.avoidable": [True, False],
    "failure.occurred_on": [date(2024, 1, 1), date(2025, 2, 17)],
    "customer_ask.remedy": ["discount", "refund"],
    "context.delay": [0, 60, 180, 300],
    "context.storm": [True, False],
    "context.carrier": ["small", "large"],
    "context.since": [date(2024, 1, 1), date(2025, 2, 17)],
}


def random_condition(rng, depth: int = 2):
    if depth and rng.random() < 0.4:
        kind = rng.choice(["all", "any", "not"])
        if kind == "not":
            return Not(random_condition(rng, depth - 1))
        items = tuple(random_condition(rng, depth - 1) for _ in range(rng.randint(1, 3)))
        return All(items) if kind == "all" else AnyOf(items)
    path = rng.choice(PATHS)
    roll = rng.random()
    if roll < 0.1:
        return Presence(path, rng.random() < 0.5)
    if roll < 0.35:
        values = tuple(dict.fromkeys(_sample(path, rng) for _ in range(rng.randint(1, 3))))
        return OneOf(path, values, rng.random() < 0.5)
    ops = ["eq", "neq"] + (["lt", "lte", "gt", "gte"] if path in ORDERED else [])
    return Compare(path, rng.choice(ops), _sample(path, rng))


def random_fact(rng) -> dict:
    fact = {"customer.id": "C-1", "order.id": "O-1"}
    for path in PATHS:
        if not (FIELDS[path].optional and rng.random() < 0.3):
            fact[path] = _sample(path, rng)
    return fact
