"""Hypothesis strategies for random policies and facts over a small vocabulary, so that
conditions often hold, overlap, tie on priority and test missing fields."""

import itertools
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import yaml
from hypothesis import strategies as st

from service.domain.fields import FieldSpec, incident_fields
from service.policy.model import (
    BUILTIN_REMEDY_KINDS,
    DERIVED_DECIMAL,
    All,
    AnyOf,
    Compare,
    ContextFact,
    ExactDecimal,
    Not,
    OneOf,
    Policy,
    Presence,
    Rule,
)

# An enum value that is not ASCII: the engine matches text as written (see
# tests/engine/test_text_literals.py).
CONTEXT = {"delay": ContextFact("delay", "integer", False),
           "storm": ContextFact("storm", "boolean", False),
           "carrier": ContextFact("carrier", "enum", False, ("small", "größer")),
           "since": ContextFact("since", "date", False)}
# A derived decimal: rules test it with values of at most 4 places, and its exact value may
# have more (the engine is given the half step between two 4-place values).
DERIVED = FieldSpec("derived.share", DERIVED_DECIMAL, True)
FIELDS = incident_fields(("standard", "gold"), ("late", "lost", "rude"), ("EUR", "USD"),
                         ("discount", "refund"),
                         (*(fact.field() for fact in CONTEXT.values()), DERIVED))
SHARES = [Decimal("-0.0001"), Decimal("0"), Decimal("0.0001"), Decimal("0.0417")]
EXACT_SHARES = [ExactDecimal(value) for value in (
    "-0.00005", "0", "0.00005", "0.0001", "0.00015", "0.0416666666666666666666666667",
    "0.0417", "0.04170000000000000000000000001", "-0.0001")]

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
    "context.carrier": st.sampled_from(["small", "größer"]),
    "context.since": st.sampled_from([date(2024, 1, 1), date(2025, 2, 17)]),
    "derived.share": st.sampled_from(SHARES),
}
# What a fact may hold where it differs from what a rule may test it with.
FACT_VALUES = {"derived.share": st.sampled_from(EXACT_SHARES)}
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
        fact[path] = draw(FACT_VALUES.get(path, RAW_VALUES[path]).map(FIELDS[path].encode))
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
    "context.carrier": ["small", "größer"],
    "context.since": [date(2024, 1, 1), date(2025, 2, 17)],
    "derived.share": SHARES,
}
_FACT_CHOICES = {**_CHOICES, "derived.share": EXACT_SHARES}


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
            fact[path] = FIELDS[path].encode(rng.choice(_FACT_CHOICES[path]))
    return fact


# ---- random policies that state the law (issue 11) -----------------------------------------
# Policies as their owners write them, YAML files for the real loader: context facts of every
# type (optional and required), derived facts (arithmetic, if(...), dates plus days, months or
# business days compared with other dates, bands of numbers and dates, derived facts using
# earlier ones), rules testing them, remedies computed and capped by expressions, entitlements
# and exemptions, and decision tables (`unique` with rows that cannot overlap by construction,
# `first` with rows that do). Small vocabularies, so that conditions hold, meet at their
# bounds and test missing facts often.

LAW_DATES = (date(2024, 1, 31), date(2024, 2, 29), date(2024, 12, 20), date(2024, 12, 21),
             date(2024, 12, 23), date(2024, 12, 24), date(2024, 12, 27), date(2024, 12, 31),
             date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 6), date(2025, 1, 31))
LAW_HOLIDAYS = (date(2024, 12, 24), date(2024, 12, 25), date(2024, 12, 26), date(2024, 12, 31),
                date(2025, 1, 1))
LAW_INTEGERS = (-2, -1, 0, 1, 2, 3, 5, 8, 10, 13)
LAW_DECIMALS = ("0", "0.5", "1.25", "2", "7.5", "13")
LAW_MONEY = ("0", "5", "10.50", "99", "120")
LAW_ORDER_VALUES = ("0.00", "10.50", "99.00", "120.00", "999.99")
LAW_BOUNDS = (-1, 0, 1, 2, 3, 5, 8, 10, 13, 20, 100)  # thresholds of numbers (rules, bands)
LAW_MONEY_BOUNDS = ("0", "5", "10.5", "50", "99", "120", "500")
LAW_COUNTS = ("-3", "-1", "0", "1", "2", "5", "7", "30")  # of durations
LAW_KINDS = {  # remedy kinds a random policy may use, with what the policy declares of them
    "discount": None, "refund": None, "store_credit": None, "waived_shipping": None,
    "free_upgrade": None,
    "cash": {"scales": False, "combines": True, "statutory": True},
    "voucher": {"scales": True, "combines": True, "ceiling_percent": 300},
    "meal": {"scales": False, "combines": True, "description": "A meal while waiting"},
}
LAW_ENTITLEMENTS = ("care", "rerouting", "notice")
STEP_NAMES = ("acknowledge", "apologize", "take_ownership", "understand", "fix", "follow_up")
BUILTIN_FACTS = {  # incident fields a random policy tests and computes with: (kind, optional)
    "order.value": ("money", False),
    "order.shipping_fee": ("money", True),
    "customer.lifetime_value": ("money", True),
    "customer.prior_failures": ("integer", False),
    "failure.severity": ("integer", False),
    "failure.avoidable": ("boolean", False),
    "failure.occurred_on": ("date", True),
    "customer.tier": ("enum", True),
    "failure.category": ("enum", False),
}
BUILTIN_CHOICES = {"customer.tier": ("standard", "gold"), "failure.category": ("late", "lost",
                                                                               "rude")}
# Field kinds as expressions see them.
EXPRESSION_KIND = {"integer": "number", "decimal": "number", "money": "money", "date": "date",
                   "boolean": "boolean", "enum": "text"}
ORDERED_KINDS = ("integer", "decimal", "money", "date")


@dataclass(frozen=True)
class LawFact:
    """A fact of a random policy: an incident field, a context fact or a derived fact."""

    path: str
    kind: str  # integer, decimal, money, date, boolean, enum
    optional: bool
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class LawPolicy:
    """A random policy's files (name -> YAML text) and what its incidents may hold."""

    files: dict
    currencies: tuple[str, ...]
    context: tuple[LawFact, ...]  # declared context facts
    kinds: tuple[str, ...]  # remedy kinds a customer may ask for
    roles: tuple[str, ...]

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            (folder / name).write_text(text)
        return folder

    def __repr__(self) -> str:
        return "LawPolicy(\n" + "".join(f"--- {name}\n{text}" for name, text in
                                        sorted(self.files.items())) + ")"

    def _repr_pretty_(self, printer, cycle) -> None:  # how hypothesis shows a failing example
        printer.text(repr(self))


class _Dumper(yaml.SafeDumper):
    """YAML as an owner writes it: decimals as plain numbers (the loader reads them as
    Decimal), dates as dates."""


_Dumper.add_representer(Decimal, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:float", str(value)))


def to_yaml(document) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)


class _LawDraw:
    """Draws the parts of one random policy."""

    def __init__(self, draw, currencies: tuple[str, ...], overlapping: bool = False):
        self.draw = draw
        self.overlapping = overlapping  # rows of unique tables drawn at random too
        self.currencies = currencies
        self.facts: dict[str, LawFact] = {}  # every fact by path, in the order declared

    # -- small draws -----------------------------------------------------------------------
    def pick(self, options):
        return self.draw(st.sampled_from(list(options)))

    def chance(self) -> bool:
        return self.draw(st.booleans())

    def some(self, options, least: int = 0, most: int | None = None) -> list:
        options = list(options)
        if not options:
            return []
        return self.draw(st.lists(st.sampled_from(options), min_size=least,
                                  max_size=len(options) if most is None else most,
                                  unique=True))

    def of_kind(self, *kinds: str) -> list[LawFact]:
        return [fact for fact in self.facts.values() if fact.kind in kinds]

    def by_expression_kind(self, kind: str) -> list[str]:
        return [fact.path for fact in self.facts.values() if EXPRESSION_KIND[fact.kind] == kind]

    # -- expressions ------------------------------------------------------------------------
    def money_literal(self) -> str:
        amounts = [(self.pick(LAW_MONEY), code) for code in self.currencies]
        if len(amounts) == 1 and self.chance():
            return f"{amounts[0][0]} {amounts[0][1]}"
        return "amount(" + ", ".join(f"{amount} {code}" for amount, code in amounts) + ")"

    def literal(self, kind: str) -> str:
        if kind == "number":
            return self.pick(("0", "1", "2", "3", "5", "0.5", "2.5", "10"))
        if kind == "money":
            return self.money_literal()
        if kind == "date":
            return self.pick(LAW_DATES).isoformat()
        return self.pick(("true", "false"))

    def expression(self, kind: str, depth: int = 2) -> str:
        """A random expression of `kind` (number, money, date, boolean) over the facts."""
        if depth <= 0 or self.draw(st.integers(0, 2)) == 0:
            facts = self.by_expression_kind(kind)
            derived = [path for path in facts if path.startswith("derived.")]
            if derived and self.chance():  # derived facts using earlier ones
                return self.pick(derived)
            if facts and self.draw(st.integers(0, 3)):
                return self.pick(facts)
            return self.literal(kind)
        return getattr(self, f"_{kind}_form")(depth - 1)

    def divisor(self, kind: str, depth: int) -> str:
        """An expression to divide by: never a zero the text writes, which the check refuses."""
        text = self.expression(kind, depth)
        bare = re.sub(r"[()\s]", "", text).lstrip("-")  # signs and brackets write no number
        if re.fullmatch(r"0+(\.0+)?|(amount)?0+(\.0+)?[A-Z]{3}(,0+(\.0+)?[A-Z]{3})*", bare):
            return "2" if kind == "number" else "amount(" + ", ".join(
                f"2 {code}" for code in self.currencies) + ")"
        return text

    def duration(self, depth: int) -> str:
        unit = self.pick(("days", "months", "years", "business_days"))
        integers = [fact.path for fact in self.of_kind("integer")]
        form = self.draw(st.integers(0, 2))
        if form == 1 and integers:
            count = self.pick(integers)
        elif form == 2 and depth > 0:  # computed: unknown when not whole
            count = f"({self.expression('number', depth - 1)} - 1)"
        else:
            count = self.pick(LAW_COUNTS)
        return f"{unit}({count})"

    def _number_form(self, depth: int) -> str:
        def number():
            return self.expression("number", depth)
        form = self.draw(st.integers(0, 8))
        if form == 0:
            operator = self.pick('+-*/')
            right = self.divisor("number", depth) if operator == "/" else number()
            return f"({number()} {operator} {right})"
        if form == 1:
            return f"({self.expression('money', depth)} / {self.divisor('money', depth)})"
        if form == 2:
            return f"({self.expression('date', depth)} - {self.expression('date', depth)})"
        if form == 3:
            return f"if({self.expression('boolean', depth)}, {number()}, {number()})"
        if form == 4:
            return f"{self.pick(('min', 'max'))}({number()}, {number()})"
        if form == 5:
            return f"{self.pick(('round', 'round_down', 'round_up'))}({number()})"
        if form == 6:
            return f"percent({self.pick(('10', '50', '200'))}, {number()})"
        if form == 7:
            return f"(-{number()})"
        return f"({number()} + {number()} * {number()})"

    def _money_form(self, depth: int) -> str:
        def money():
            return self.expression("money", depth)

        def number():
            return self.expression("number", depth)
        form = self.draw(st.integers(0, 7))
        if form == 0:
            return f"({money()} {self.pick('+-')} {money()})"
        if form == 1:
            return f"({money()} * {number()})" if self.chance() else f"({number()} * {money()})"
        if form == 2:
            return f"({money()} / {self.divisor('number', depth)})"
        if form == 3:
            return f"percent({self.pick(('10', '25', '50', '200'))}, {money()})"
        if form == 4:
            return f"if({self.expression('boolean', depth)}, {money()}, {money()})"
        if form == 5:
            return f"{self.pick(('min', 'max'))}({money()}, {money()})"
        if form == 6:
            return f"{self.pick(('round', 'round_down', 'round_up'))}({money()})"
        return f"(-{money()})"

    def _date_form(self, depth: int) -> str:
        def day():
            return self.expression("date", depth)
        form = self.draw(st.integers(0, 3))
        if form == 0:
            return f"({day()} {self.pick('+-')} {self.duration(depth)})"
        if form == 1:
            return f"if({self.expression('boolean', depth)}, {day()}, {day()})"
        if form == 2:
            return f"{self.pick(('min', 'max'))}({day()}, {day()})"
        return f"({day()} + {self.duration(depth)} - {self.duration(depth)})"

    def _boolean_form(self, depth: int) -> str:
        def boolean():
            return self.expression("boolean", depth)
        comparison = self.pick(("<", "<=", ">", ">=", "==", "!="))
        form = self.draw(st.integers(0, 8))
        dates = [fact.path for fact in self.of_kind("date")]
        enums = self.of_kind("enum")
        if form == 0 and dates:  # a date plus a duration compared with another date
            return (f"({self.pick(dates)} + {self.duration(depth)} {comparison} "
                    f"{self.pick(dates)})")
        if form == 1:
            kind = self.pick(("number", "money", "date"))
            return (f"({self.expression(kind, depth)} {comparison} "
                    f"{self.expression(kind, depth)})")
        if form == 2:
            return f"({boolean()} {self.pick(('and', 'or'))} {boolean()})"
        if form == 3:
            return f"(not {boolean()})"
        if form == 4 and enums:
            fact = self.pick(enums)
            return f'({fact.path} {self.pick(("==", "!="))} "{self.pick(fact.choices)}")'
        if form == 5:
            return f"({boolean()} {self.pick(('==', '!='))} {boolean()})"
        if form == 6:
            return f"if({boolean()}, {boolean()}, {boolean()})"
        if form == 7:
            return f"({self.expression('number', depth)} {comparison} {self.pick(LAW_BOUNDS)})"
        return self.literal("boolean")

    # -- derived facts ------------------------------------------------------------------------
    def derived(self, number: int) -> tuple[str, dict]:
        name = f"x{number}"
        kind = self.pick(("integer", "decimal", "money", "boolean", "date", "enum"))
        if kind != "enum":
            compute = self.expression(EXPRESSION_KIND[kind], 2)
            if kind == "integer":  # policy check refuses one that may not come out whole
                compute = f"{self.pick(('round', 'round_down', 'round_up'))}({compute})"
            spec = {"type": kind, "compute": compute}
            self.facts[f"derived.{name}"] = LawFact(f"derived.{name}", kind, True)
            return name, spec
        of_dates = self.chance()
        of = self.expression("date" if of_dates else "number", self.pick((0, 1)))
        pool = (sorted(self.some(LAW_DATES, 1, 3)) if of_dates
                else sorted(self.some(LAW_BOUNDS, 1, 3)))
        words = ("before", "on_or_before") if of_dates else ("below", "at_most")
        ranges = [{self.pick(words): bound if of_dates else Decimal(bound),
                   "value": f"v{i}"} for i, bound in enumerate(pool)]
        if self.chance():
            ranges.append({"value": f"v{len(pool)}"})  # the rest
        choices = tuple(r["value"] for r in ranges)
        self.facts[f"derived.{name}"] = LawFact(f"derived.{name}", "enum", True, choices)
        return name, {"type": "enum", "band": {"of": of, "ranges": ranges}}

    # -- conditions ---------------------------------------------------------------------------
    def value(self, fact: LawFact):
        if fact.kind == "integer":
            return self.pick(LAW_BOUNDS)
        if fact.kind == "decimal":
            return Decimal(self.pick((*LAW_DECIMALS, "10", "0.25")))
        if fact.kind == "money":
            return Decimal(self.pick(LAW_MONEY_BOUNDS))
        if fact.kind == "date":
            return self.pick(LAW_DATES)
        if fact.kind == "boolean":
            return self.chance()
        return self.pick(fact.choices)

    def test(self, fact: LawFact):
        """What a `when` (or a table cell) says of one field: a value or a test mapping."""
        if fact.kind in ORDERED_KINDS and self.chance():
            op = self.pick(("less_than", "at_most", "greater_than", "at_least", "range"))
        else:
            op = self.pick(("equals", "plain", "not_equals", "one_of", "none_of", "present",
                            "missing"))
        if op == "plain":
            return self.value(fact)
        if op in ("present", "missing"):
            return {op: self.chance()}
        if op in ("one_of", "none_of"):
            count = self.draw(st.integers(1, 3))
            return {op: list(dict.fromkeys(self.value(fact) for _ in range(count)))}
        if op == "range":
            low, high = sorted(self.some(self.bounds(fact), 2, 2))
            return {self.pick(("greater_than", "at_least")): low,
                    self.pick(("less_than", "at_most")): high}
        return {op: self.value(fact)}

    def bounds(self, fact: LawFact) -> list:
        if fact.kind == "integer":
            return list(LAW_BOUNDS)
        if fact.kind == "decimal":
            return [Decimal(v) for v in LAW_DECIMALS]
        if fact.kind == "money":
            return [Decimal(v) for v in LAW_MONEY_BOUNDS]
        return list(LAW_DATES)

    def tested_fact(self) -> LawFact:
        derived = [fact for fact in self.facts.values() if fact.path.startswith("derived.")]
        if derived and self.chance():
            return self.pick(derived)
        return self.pick(self.facts.values())

    def condition(self, leaves: int):
        """A `when` item: a test of one field, or all / any / not of smaller ones."""
        form = self.draw(st.integers(0, 5)) if leaves > 1 else self.pick((0, 0, 3))
        if form == 3:  # negations are where missing facts matter most
            return {"not": self.condition(max(1, leaves - 1))}
        if form in (4, 5):
            size = self.draw(st.integers(1, min(3, leaves)))
            return {"all" if form == 4 else "any": [self.condition(leaves // size)
                                                     for _ in range(size)]}
        fact = self.tested_fact()
        return {fact.path: self.test(fact)}

    # -- effects ------------------------------------------------------------------------------
    def remedy_cell(self, kind: str, max_percent: int) -> dict:
        """A remedy without its kind: how its value is computed, maybe capped."""
        declared = LAW_KINDS[kind] or {}
        ceiling = (1000 if declared.get("statutory")
                   else declared.get("ceiling_percent", max_percent))
        percents = [p for p in (5, 10, 25, 50, 100, 150, 250, 400) if p <= ceiling]
        form = self.draw(st.integers(0, 3))
        if form == 0:
            cell = {"compute": self.expression("money", 2)}
        elif form == 1:
            cell = {"percent": self.pick(percents)}
        elif form == 2:
            cell = {"amount": {code: self.pick(("5.00", "20.00", "60.00", "250.00"))
                               for code in self.currencies}}
        else:
            cell = {"value": self.pick(("order_value", "shipping_fee", "upgrade_cost"))}
        cap = self.draw(st.integers(0, 4))
        if cap == 1:
            cell["cap"] = {"compute": self.expression("money", 1)}
        elif cap == 2:
            cell["cap"] = {"percent": self.pick(percents)}
        elif cap == 3:
            cell["cap"] = {"amount": {code: self.pick(("10.00", "100.00"))
                                      for code in self.currencies}}
        if self.chance():
            cell["reason"] = f"a reason for {kind}"
        return cell

    def steps(self) -> list:
        chosen = self.some(STEP_NAMES, 0, 3)
        return [{"step": step, "after_days": self.pick((1, 3, 7))} if step == "follow_up"
                and self.chance() else step for step in chosen]

    def rule(self, number: int, kinds: list[str], max_percent: int) -> dict:
        leaves = self.draw(st.integers(0, 4))
        then: dict = {}
        factors = self.some(("first", "severe", "loyal"), 0, 2)
        if factors:
            then["factors"] = {name: self.pick(("helps", "hurts", "blocks")) for name in factors}
        steps = self.steps()
        if steps:
            then["steps"] = steps
        remedies = self.some(kinds, 0, 2)
        if remedies:
            then["remedies"] = [{"kind": kind, **self.remedy_cell(kind, max_percent)}
                                for kind in remedies]
        entitlements = self.some(LAW_ENTITLEMENTS, 0, 2)
        if entitlements:
            then["entitlements"] = [{"name": name, "description": f"{name} as rule {number} "
                                     "says"} for name in entitlements]
        rule = {"id": f"r{number}", "description": f"rule {number}",
                "priority": self.pick((1, 2, 50, 500))}
        if leaves:
            rule["when"] = [self.condition(leaves) for _ in range(self.draw(
                st.integers(1, min(2, leaves))))]
        rule["then"] = then
        return rule

    # -- decision tables ------------------------------------------------------------------------
    def partition(self, fact: LawFact) -> list:
        """Cells of one column that no value (or missing value) matches twice."""
        if fact.kind in ORDERED_KINDS:
            pool = self.bounds(fact)
            count = self.draw(st.integers(0, 3))
            # Whole-number and date fields: bounds two steps apart, so that a cell between
            # `greater_than a` and `less_than b` is never empty.
            thresholds = []
            for bound in sorted(self.some(pool, count, count)):
                if not thresholds or _apart(thresholds[-1], bound):
                    thresholds.append(bound)
            cells = []
            styles = [self.chance() for _ in thresholds]  # True: at_most t / greater_than t
            for i in range(len(thresholds) + 1):
                cell = {}
                if i > 0:
                    cell["greater_than" if styles[i - 1] else "at_least"] = thresholds[i - 1]
                if i < len(thresholds):
                    cell["at_most" if styles[i] else "less_than"] = thresholds[i]
                cells.append(cell or "-")
        else:
            values = list(fact.choices) if fact.kind == "enum" else [False, True]
            order = self.draw(st.permutations(values))
            cut = sorted(self.some(range(1, len(values)), 0))
            groups = [list(order[a:b]) for a, b in zip([0, *cut], [*cut, len(values)],
                                                       strict=True)]
            cells = [group[0] if len(group) == 1 and self.chance() else {"one_of": group}
                     for group in groups]
        if fact.optional and not (fact.kind == "date" and cells == ["-"]) and self.chance():
            cells = [{"present": True} if cell == "-" else cell for cell in cells]
            cells.append({"missing": True})
        return cells

    def first_cell(self, fact: LawFact):
        """A cell of a `first` table: any test some incident can pass."""
        if self.draw(st.integers(0, 3)) == 0:
            return "-"
        while True:
            test = self.test(fact)
            if self.satisfiable(fact, test):
                return test

    def satisfiable(self, fact: LawFact, test) -> bool:
        if not isinstance(test, dict):
            return True
        lows = [test[op] for op in ("greater_than", "at_least") if op in test]
        highs = [test[op] for op in ("less_than", "at_most") if op in test]
        if lows and highs and not _apart(lows[0], highs[0]):
            return False
        if test.get("missing") is True or test.get("present") is False:
            return fact.optional
        if "not_equals" in test and fact.kind in ("enum", "boolean"):
            # a missing value fails a comparison: some other value of the field must exist
            every = list(fact.choices) if fact.kind == "enum" else [False, True]
            return any(value != test["not_equals"] for value in every)
        if "none_of" in test and not fact.optional:
            every = list(fact.choices) if fact.kind == "enum" else [False, True]
            return fact.kind not in ("enum", "boolean") or not set(every) <= set(
                test["none_of"])
        return True

    def table(self, number: int, kinds: list[str], max_percent: int, taken: set[str]) -> dict:
        table_id = f"t{number}"
        hit = self.pick(("unique", "unique", "first") if self.overlapping else ("unique", "first"))
        columns = self.draw(st.lists(st.sampled_from(list(self.facts.values())), min_size=1,
                                     max_size=2, unique_by=lambda fact: fact.path))
        outputs: list = [{"remedy": self.pick(kinds)}]
        if self.chance():
            outputs.append({"factor": self.pick(("first", "severe", "loyal"))})
        if self.chance():
            outputs.append("steps")
        if hit == "unique":
            rows = [list(cells) for cells in itertools.product(
                *(self.partition(fact) for fact in columns))]
            keep = self.draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
            rows = [row for row, kept in zip(rows, keep, strict=True) if kept][:9] or rows[:1]
            rows = list(self.draw(st.permutations(rows)))
            if self.overlapping:  # some cells redrawn: rows that may overlap, or just miss
                for row in rows:
                    if self.chance():
                        i = self.draw(st.integers(0, len(columns) - 1))
                        row[i] = self.first_cell(columns[i])
        else:
            rows = [[self.first_cell(fact) for fact in columns]
                    for _ in range(self.draw(st.integers(1, 5)))]
            if self.chance():
                rows.append(["-"] * len(columns))  # a catch-all
        written = []
        for n, inputs in enumerate(rows, 1):
            cells = inputs + [self.output_cell(output, max_percent) for output in outputs]
            if self.draw(st.integers(0, 4)) == 0:
                row_id = f"{table_id}-row-{n}"
                taken.add(row_id)
                written.append({"id": row_id, "cells": cells})
            else:
                written.append(cells)
        table = {"id": table_id, "description": f"table {number}",
                 "priority": self.pick((1, 2, 50, 500)), "hit": hit}
        if self.chance():  # on a field that is not an input column
            category = self.pick(BUILTIN_CHOICES["failure.category"])
            if "failure.category" not in [fact.path for fact in columns]:
                table["when"] = {"failure.category": {"not_equals": category}}
        table.update({"inputs": [fact.path for fact in columns], "outputs": outputs,
                      "rows": written})
        return {"table": table}

    def output_cell(self, output, max_percent: int):
        if self.draw(st.integers(0, 3)) == 0:
            return "-"
        if output == "steps":
            return self.steps() or "-"
        if "factor" in output:
            return self.pick(("helps", "hurts", "blocks"))
        return self.remedy_cell(output["remedy"], max_percent)


def _apart(low, high) -> bool:
    if isinstance(low, date):
        return (high - low).days >= 2
    return high - low >= 2 if isinstance(low, int) else high > low


@st.composite
def law_policies(draw, max_context: int = 6, max_derived: int = 6, max_rules: int = 6,
                 max_tables: int = 2, overlapping: bool = False) -> LawPolicy:
    """A random policy with expressions, derived facts, dates and decision tables, as the
    files an owner would write: loads without a problem by construction, unless
    `overlapping`, when the rows of `unique` tables are drawn like those of `first` ones
    (so `policy check` may find rows that overlap, and only that)."""
    currencies = draw(st.sampled_from([("EUR",), ("EUR", "USD")]))
    law = _LawDraw(draw, currencies, overlapping)
    for path, (kind, optional) in BUILTIN_FACTS.items():
        law.facts[path] = LawFact(path, kind, optional, BUILTIN_CHOICES.get(path, ()))
    context: dict = {}
    for n in range(draw(st.integers(1, max_context))):
        kind = law.pick(("integer", "decimal", "money", "date", "boolean", "enum"))
        required = law.chance()
        name = f"{kind[0]}{n}"
        spec: dict = {"type": "decimal" if kind == "money" else kind}
        if kind == "money":
            spec["unit"] = "order currency"
        if kind == "enum":
            spec["values"] = ["small", "größer", "huge"][:draw(st.integers(2, 3))]
        if required:
            spec["required"] = True
        context[name] = spec
        law.facts[f"context.{name}"] = LawFact(f"context.{name}", kind, not required,
                                               tuple(spec.get("values", ())))
    derived = dict(law.derived(n) for n in range(draw(st.integers(0, max_derived))))
    max_percent = law.pick((100, 150))
    kinds = law.some(LAW_KINDS, 1, 4)
    settings = {
        "name": "random-law", "currencies": list(currencies),
        "customer_tiers": list(BUILTIN_CHOICES["customer.tier"]),
        "failure_categories": list(BUILTIN_CHOICES["failure.category"]),
        "max_compensation_percent": max_percent,
        "holidays": sorted(law.some(LAW_HOLIDAYS)),
        "context": context,
        "remedy_kinds": {kind: LAW_KINDS[kind] for kind in kinds if LAW_KINDS[kind]},
        "derived": derived,
    }
    if len(currencies) > 1:
        settings["exchange_rates"] = {"as_of": date(2024, 12, 1),
                                      "rates": {"EUR": {"USD": "0.92"}, "USD": {"EUR": "1.09"}}}
    rules = [law.rule(n, kinds, max_percent) for n in range(draw(st.integers(0, max_rules)))]
    granted = sorted({e["name"] for rule in rules for e in rule["then"].get("entitlements", ())})
    for rule in rules:
        if draw(st.integers(0, 3)) == 0:
            withdraw = [{"remedy": law.pick([*kinds, "discount"]), "reason": "exempt"}]
            if granted and law.chance():
                withdraw.append({"entitlement": law.pick(granted), "reason": "given already"})
            rule["then"]["withdraw"] = withdraw
    taken: set[str] = set()
    tables = [law.table(n, kinds, max_percent, taken)
              for n in range(draw(st.integers(0, max_tables)))]
    every_kind = sorted(set(BUILTIN_REMEDY_KINDS) | set(kinds))
    limits = {"EUR": "50.00", "USD": "55.00"}
    roles = {
        "escalation": ["agent", "lead"],
        "roles": {
            "agent": {"per_incident_limit": {c: limits[c] for c in currencies},
                      "remedies": law.some(every_kind, 1)},
            "lead": {"per_incident_limit": {c: "5000.00" for c in currencies},
                     "remedies": every_kind},
        },
    }
    if law.chance():
        roles["grant_now"] = {"prefer": law.some(every_kind, 1, 3), "ask_first": law.chance()}
    files = {"policy.yaml": to_yaml(settings), "roles.yaml": to_yaml(roles),
             "rules.yaml": to_yaml({"rules": rules}), "tests.yaml": "tests: []\n"}
    for n, table in enumerate(tables):
        files[f"table{n}.yaml"] = to_yaml(table)
    return LawPolicy(files, currencies, tuple(f for p, f in law.facts.items()
                                              if p.startswith("context.")),
                     tuple(every_kind), ("agent", "lead"))


def _money_text(draw, pool=LAW_MONEY_BOUNDS) -> str:
    return f"{Decimal(draw(st.sampled_from(pool))):.2f}"


@st.composite
def law_incidents(draw, law: LawPolicy) -> dict:
    """A request body for a random law policy: every required fact, optional ones maybe."""
    def maybe(strategy):
        return draw(st.none() | strategy)

    customer = {"id": "C-1", "tier": maybe(st.sampled_from(BUILTIN_CHOICES["customer.tier"])),
                "lifetime_value": maybe(st.sampled_from(("0.00", "99.99", "2000.00"))),
                "prior_failures": maybe(st.integers(0, 3))}
    order = {"id": "O-1", "value": draw(st.sampled_from(LAW_ORDER_VALUES)),
             "currency": draw(st.sampled_from(law.currencies)),
             "shipping_fee": maybe(st.sampled_from(("0.00", "4.99", "10.50"))),
             "upgrade_cost": maybe(st.sampled_from(("0.00", "30.00")))}
    failure = {"category": draw(st.sampled_from(BUILTIN_CHOICES["failure.category"])),
               "severity": draw(st.integers(1, 5)), "avoidable": draw(st.booleans()),
               "occurred_on": maybe(st.sampled_from(LAW_DATES).map(date.isoformat))}
    body = {"incident_id": "INC-1",
            "customer": {k: v for k, v in customer.items() if v is not None},
            "order": {k: v for k, v in order.items() if v is not None},
            "failure": {k: v for k, v in failure.items() if v is not None}}
    if draw(st.booleans()):
        remedy = draw(st.sampled_from(law.kinds))
        size = draw(st.sampled_from(("amount", "percent", None)))
        if size is None and remedy in ("discount", "store_credit"):
            size = "amount"
        body["customer_ask"] = {"remedy": remedy, **(
            {} if size is None else {size: _money_text(draw, ("5", "20", "120", "150"))})}
    context = {}
    for fact in law.context:
        if fact.optional and draw(st.booleans()):
            continue
        name = fact.path.removeprefix("context.")
        context[name] = draw({
            "integer": st.sampled_from(LAW_INTEGERS),
            "decimal": st.sampled_from(LAW_DECIMALS),
            "money": st.sampled_from(LAW_MONEY),
            "date": st.sampled_from(LAW_DATES).map(date.isoformat),
            "boolean": st.booleans(),
            "enum": st.sampled_from(fact.choices or ("?",)),
        }[fact.kind])
    if context or draw(st.booleans()):
        body["context"] = context
    return body
