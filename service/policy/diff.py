"""What changed between two policy versions, in words a policy owner reads.

`diff(old, new)` compares two loaded policies: rules added, removed and changed field by field
(description, priority, when, factors, steps, remedies, entitlements, withdrawals); roles
added, removed and changed (limits per currency, caps, remedies, flags); and the settings
(currencies, exchange rates, the ceilings, windows, context and derived facts, remedy kinds,
grant_now and the rest of policy.yaml and roles.yaml). `PolicyDiff.lines()` says each change
as one sentence: "rule discount-minor: remedy discount percent 10 → 15".

Pure: no I/O, nothing but the policy model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from service.domain.fields import DECIMAL_SCALE
from service.policy.model import (
    All,
    AnyOf,
    BandRange,
    Compare,
    Condition,
    ContextFact,
    DerivedFact,
    Not,
    OneOf,
    Policy,
    Presence,
    RemedyKind,
    RemedyProposal,
    Role,
    Rule,
)

ARROW = "→"
NONE = "none"


@dataclass(frozen=True)
class Change:
    """One thing that differs: `kind` says whether it was added, removed or changed; `old`
    and `new` say what it was and is (None where there is nothing to say)."""

    what: str  # "remedy discount percent", "currency GBP", "per-incident limit in EUR"
    kind: str  # added, removed, changed
    old: str | None = None
    new: str | None = None

    @classmethod
    def added(cls, what: str, new: str | None = None) -> Change:
        return cls(what, "added", None, new)

    @classmethod
    def removed(cls, what: str, old: str | None = None) -> Change:
        return cls(what, "removed", old, None)

    @classmethod
    def changed(cls, what: str, old: str, new: str) -> Change:
        return cls(what, "changed", old, new)

    def sentence(self, subject: str | None = None) -> str:
        head = f"{subject}: " if subject else ""
        if self.kind == "added":
            return f"{head}{self.what} added" + (f": {self.new}" if self.new else "")
        if self.kind == "removed":
            return f"{head}{self.what} removed" + (f" (was {self.old})" if self.old else "")
        return f"{head}{self.what} {self.old} {ARROW} {self.new}"


@dataclass(frozen=True)
class Item:
    """A rule or role that was added or removed, with what it says in a few words."""

    name: str
    summary: str


@dataclass(frozen=True)
class ItemChanges:
    name: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Section:
    """The rules or the roles of two versions compared."""

    noun: str  # "rule", "role"
    added: tuple[Item, ...] = ()
    removed: tuple[Item, ...] = ()
    changed: tuple[ItemChanges, ...] = ()

    def lines(self) -> list[str]:
        said = [f"{self.noun} {item.name} added" + (f": {item.summary}" if item.summary else "")
                for item in self.added]
        said += [f"{self.noun} {item.name} removed"
                 + (f" (was: {item.summary})" if item.summary else "") for item in self.removed]
        for item in self.changed:
            said += [change.sentence(f"{self.noun} {item.name}") for change in item.changes]
        return said

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True)
class PolicyDiff:
    old_version: str
    new_version: str
    rules: Section
    roles: Section
    settings: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        return not (self.rules or self.roles or self.settings)

    def lines(self) -> list[str]:
        """Every change as one sentence: rules, then roles, then settings."""
        return [*self.rules.lines(), *self.roles.lines(),
                *(change.sentence() for change in self.settings)]


def diff(old: Policy, new: Policy) -> PolicyDiff:
    return PolicyDiff(old.version, new.version,
                      _section("rule", _by_id(old.rules), _by_id(new.rules),
                               lambda rule: rule.description.strip(),
                               lambda a, b: _rule_changes(a, b, old, new)),
                      _section("role", old.roles, new.roles, _role_summary, _role_changes),
                      tuple(_settings(old, new)))


# ---- rules and roles ----------------------------------------------------------------------

def _by_id(rules: Iterable[Rule]) -> dict[str, Rule]:
    return {rule.id: rule for rule in rules}


def _section(noun, old: Mapping, new: Mapping, summary: Callable, changes: Callable) -> Section:
    changed = []
    for name in (n for n in new if n in old):
        found = tuple(changes(old[name], new[name]))
        if found:
            changed.append(ItemChanges(name, found))
    return Section(noun,
                   tuple(Item(name, summary(new[name])) for name in new if name not in old),
                   tuple(Item(name, summary(old[name])) for name in old if name not in new),
                   tuple(changed))


def _rule_changes(a: Rule, b: Rule, old: Policy, new: Policy) -> Iterable[Change]:
    yield from _plain("description", _quoted(a.description), _quoted(b.description))
    yield from _plain("priority", str(a.priority), str(b.priority))
    yield from _plain("when", condition_text(a.when, old), condition_text(b.when, new))
    yield from _keyed("factor", {f.name: str(f.effect) for f in a.factors},
                      {f.name: str(f.effect) for f in b.factors})
    yield from _plain("steps", _steps(a), _steps(b))
    yield from _remedy_changes(a.remedies, b.remedies)
    yield from _keyed("entitlement", {e.name: _quoted(e.description) for e in a.entitlements},
                      {e.name: _quoted(e.description) for e in b.entitlements})
    yield from _keyed("withdrawal of", {f"{w.what} {w.name}": _quoted(w.reason)
                                        for w in a.withdrawals},
                      {f"{w.what} {w.name}": _quoted(w.reason) for w in b.withdrawals})
    yield from _plain("applies", _first_of(a), _first_of(b))


def _first_of(rule: Rule) -> str:
    return (f"only as the first row of table {rule.first_of} that matches" if rule.first_of
            else "whenever it matches")


def _steps(rule: Rule) -> str:
    if not rule.steps:
        return NONE
    return ", ".join(str(step.step) + (f" after {step.after_days} days"
                                       if step.after_days is not None else "")
                     for step in rule.steps)


def _remedy_changes(old: tuple[RemedyProposal, ...],
                    new: tuple[RemedyProposal, ...]) -> Iterable[Change]:
    before, after = _remedies_by_kind(old), _remedies_by_kind(new)
    for kind, remedy in after.items():
        if kind not in before:
            yield Change.added(f"remedy {kind}", remedy_text(remedy))
            continue
        was = before[kind]
        if was.basis == remedy.basis:
            yield from _value_changes(f"remedy {kind}", was, remedy)
        else:
            yield Change.changed(f"remedy {kind} value", _value(was), _value(remedy))
        yield from _cap_changes(f"remedy {kind} cap", was, remedy)
        yield from _plain(f"remedy {kind} reason", _quoted(was.reason), _quoted(remedy.reason))
    for kind, remedy in before.items():
        if kind not in after:
            yield Change.removed(f"remedy {kind}", remedy_text(remedy))


def _remedies_by_kind(remedies: tuple[RemedyProposal, ...]) -> dict[str, RemedyProposal]:
    found: dict[str, RemedyProposal] = {}
    for remedy in remedies:
        key, number = remedy.kind, 1
        while key in found:  # the same kind twice in one rule
            number += 1
            key = f"{remedy.kind} #{number}"
        found[key] = remedy
    return found


def _value_changes(what: str, a: RemedyProposal, b: RemedyProposal) -> Iterable[Change]:
    if a.basis == "percent":
        yield from _numbers(f"{what} percent", a.percent, b.percent)
    elif a.basis == "amount":
        yield from _per_currency(f"{what} amount", a.amounts, b.amounts)
    elif a.basis == "compute":
        yield from _plain(f"{what} computed as", _formula(a.compute), _formula(b.compute))


def _cap_changes(what: str, a: RemedyProposal, b: RemedyProposal) -> Iterable[Change]:
    if _cap(a) == _cap(b):
        return
    if a.cap_amounts and b.cap_amounts and not (a.cap_percent or b.cap_percent
                                                or a.cap_compute or b.cap_compute):
        yield from _per_currency(what, a.cap_amounts, b.cap_amounts)
        return
    yield Change.changed(what, _cap(a), _cap(b))


def remedy_text(remedy: RemedyProposal) -> str:
    """What a rule proposes of one kind, in a few words."""
    text = _value(remedy)
    cap = _cap(remedy)
    if cap != NONE:
        text += f", capped at {cap}"
    if remedy.reason:
        text += f" ({remedy.reason.strip()})"
    return text


def _value(remedy: RemedyProposal) -> str:
    if remedy.basis == "percent":
        return f"{_number(remedy.percent)}% of the order value"
    if remedy.basis == "amount":
        return f"amount {_amounts(remedy.amounts)}"
    if remedy.basis == "compute":
        return f"computed as {_formula(remedy.compute)}"
    return {"shipping_fee": "the shipping fee", "upgrade_cost": "the upgrade cost",
            "order_value": "the order value"}.get(str(remedy.basis), str(remedy.basis))


def _cap(remedy: RemedyProposal) -> str:
    parts = []
    if remedy.cap_percent is not None:
        parts.append(f"{_number(remedy.cap_percent)}% of the order value")
    if remedy.cap_amounts:
        parts.append(_amounts(remedy.cap_amounts))
    if remedy.cap_compute is not None:
        parts.append(_formula(remedy.cap_compute))
    return " and ".join(parts) or NONE


def _role_summary(role: Role) -> str:
    return role.description.strip()


_CAPS = (("per_agent_daily_budget", "daily budget"), ("per_order_cap", "per-order cap"),
         ("per_customer_cap", "per-customer cap"))


def _role_changes(a: Role, b: Role) -> Iterable[Change]:
    yield from _plain("description", _quoted(a.description), _quoted(b.description))
    yield from _per_currency("per-incident limit", a.per_incident_limit, b.per_incident_limit)
    for name, label in _CAPS:
        was, now = getattr(a, name), getattr(b, name)
        if was is not None and now is not None:
            yield from _per_currency(label, was, now)
        elif was != now:
            yield (Change.added(label, _amounts(now)) if was is None
                   else Change.removed(label, _amounts(was)))
    for kind in sorted(b.remedies - a.remedies):
        yield Change.changed(f"may grant {kind}", "no", "yes")
    for kind in sorted(a.remedies - b.remedies):
        yield Change.changed(f"may grant {kind}", "yes", "no")
    yield from _plain("admin (may reload the policy)", _yes(a.admin), _yes(b.admin))
    yield from _plain("policy owner", _yes(a.policy_owner), _yes(b.policy_owner))


# ---- settings -----------------------------------------------------------------------------

def _settings(a: Policy, b: Policy) -> Iterable[Change]:
    yield from _plain("name", a.name, b.name)
    yield from _plain("description", _quoted(a.description), _quoted(b.description))
    yield from _plain("effective from", _day(a.effective_from), _day(b.effective_from))
    yield from _members("currency", a.currencies, b.currencies)
    yield from _exchange_rates(a, b)
    yield from _numbers("goodwill ceiling", a.max_compensation_percent,
                        b.max_compensation_percent, "% of the order value")
    yield from _plain("history window", f"{a.history_window_days} days",
                      f"{b.history_window_days} days")
    yield from _plain("rolling window", f"{a.rolling_window_days} days",
                      f"{b.rolling_window_days} days")
    yield from _plain("daily budgets start at midnight in", a.day_starts_in, b.day_starts_in)
    yield from _plain("abuse signal", _abuse(a), _abuse(b))
    yield from _plain("unlikely at hurting factors", str(a.unlikely_at_hurts),
                      str(b.unlikely_at_hurts))
    yield from _plain("escalation", ", ".join(a.escalation) or NONE,
                      ", ".join(b.escalation) or NONE)
    yield from _members("customer tier", a.customer_tiers, b.customer_tiers)
    yield from _members("failure category", a.failure_categories, b.failure_categories)
    yield from _members("holiday", [d.isoformat() for d in sorted(a.holidays)],
                        [d.isoformat() for d in sorted(b.holidays)])
    yield from _facts("context fact", a.context, b.context, _context_text)
    yield from _facts("derived fact", {d.name: d for d in a.derived},
                      {d.name: d for d in b.derived}, _derived_text)
    yield from _facts("remedy kind", a.remedy_kinds, b.remedy_kinds, _kind_text)
    yield from _plain("grant_now prefers", ", ".join(a.grant_preference) or NONE,
                      ", ".join(b.grant_preference) or NONE)
    yield from _plain("grant_now asks first", _yes(a.grant_ask_first), _yes(b.grant_ask_first))
    yield from _firing_order(a, b)


def _firing_order(a: Policy, b: Policy) -> Iterable[Change]:
    """Rules of one priority fire in the order they are written (files by name): which
    factor, reason or entitlement wording wins among them follows that order, so a new
    order among rules both versions have is a change, though no rule changed."""
    both = {rule.id for rule in a.rules} & {rule.id for rule in b.rules}

    def by_priority(policy: Policy) -> dict[int, list[str]]:
        groups: dict[int, list[str]] = {}
        for rule in policy.rules:  # in firing order
            if rule.id in both:
                groups.setdefault(rule.priority, []).append(rule.id)
        return groups

    before, after = by_priority(a), by_priority(b)
    for priority in sorted(set(before) & set(after)):
        was = [rule for rule in before[priority] if rule in after[priority]]
        now = [rule for rule in after[priority] if rule in before[priority]]
        if was != now:
            yield Change.changed(f"firing order of the rules at priority {priority}:",
                                 ", ".join(was), ", ".join(now))


def _exchange_rates(a: Policy, b: Policy) -> Iterable[Change]:
    old, new = a.exchange_rates, b.exchange_rates
    yield from _plain("exchange rates as of", _day(old.as_of) if old else NONE,
                      _day(new.as_of) if new else NONE)
    before = _rates(old.rates if old else {})
    after = _rates(new.rates if new else {})
    for (into, source), rate in after.items():
        what = f"exchange rate of {source} in {into}"
        if (into, source) not in before:
            yield Change.added(what, _number(rate))
        else:
            yield from _numbers(what, before[into, source], rate)
    for (into, source), rate in before.items():
        if (into, source) not in after:
            yield Change.removed(f"exchange rate of {source} in {into}", _number(rate))


def _rates(table: Mapping[str, Mapping[str, Decimal]]) -> dict[tuple[str, str], Decimal]:
    return {(into, source): rate for into, rates in sorted(table.items())
            for source, rate in sorted(rates.items())}


def _abuse(policy: Policy) -> str:
    count = policy.abuse_grants_in_window
    return NONE if count is None else f"from {count} grants to one customer in the window"


def _facts(noun: str, old: Mapping, new: Mapping, text: Callable) -> Iterable[Change]:
    """Named declarations (context facts, derived facts, remedy kinds): added, removed, and
    each field that changed."""
    for name, fact in new.items():
        if name not in old:
            yield Change.added(f"{noun} {name}", _described(text(fact)))
            continue
        was, now = text(old[name]), text(fact)
        for field in now:
            if was.get(field) != now[field]:
                yield Change.changed(f"{noun} {name} {field}", was.get(field, NONE), now[field])
    for name, fact in old.items():
        if name not in new:
            yield Change.removed(f"{noun} {name}", _described(text(fact)))


def _described(fields: dict[str, str]) -> str:
    return ", ".join(f"{field} {value}" for field, value in fields.items() if value != NONE)


def _context_text(fact: ContextFact) -> dict[str, str]:
    return {"type": str(fact.type), "required": _yes(fact.required),
            "values": ", ".join(fact.choices) or NONE, "unit": fact.unit or NONE,
            "description": _quoted(fact.description)}


def _derived_text(fact: DerivedFact) -> dict[str, str]:
    bands = "; ".join(f"{band.value} {_bound(band)}" for band in fact.ranges) or NONE
    how = "band of" if fact.ranges else "computed as"
    return {"type": fact.type, how: _formula(fact.formula),
            "bands": bands, "description": _quoted(fact.description)}


def _bound(band: BandRange) -> str:
    if band.bound is None:
        return "for the rest"
    return f"{'up to and including' if band.inclusive else 'below'} {_shown(band.bound)}"


def _kind_text(kind: RemedyKind) -> dict[str, str]:
    return {"scales": _yes(kind.scales), "combines": _yes(kind.combines),
            "statutory": _yes(kind.statutory),
            "ceiling": NONE if kind.ceiling_percent is None
            else f"{_number(kind.ceiling_percent)}% of the order value",
            "description": _quoted(kind.description)}


# ---- conditions as text -------------------------------------------------------------------

_OPERATORS = {"eq": "is", "neq": "is not", "lt": "less than", "lte": "at most",
              "gt": "greater than", "gte": "at least"}


def condition_text(condition: Condition, policy: Policy) -> str:
    """A rule's `when` in words ("failure.severity at most 2 and customer.tier is gold");
    "always" for a rule without one."""
    if isinstance(condition, All) and not condition.items:
        return "always"
    return _condition(condition, policy, top=True)


def _condition(condition: Condition, policy: Policy, top: bool = False) -> str:
    if isinstance(condition, Compare):
        return f"{condition.path} {_OPERATORS[condition.op]} " + _decoded(
            condition.path, condition.value, policy)
    if isinstance(condition, OneOf):
        values = ", ".join(_decoded(condition.path, v, policy) for v in condition.values)
        return f"{condition.path} {'none of' if condition.negated else 'one of'} [{values}]"
    if isinstance(condition, Presence):
        return f"{condition.path} {'is present' if condition.present else 'is missing'}"
    if isinstance(condition, Not):
        return f"not ({_condition(condition.item, policy, top=True)})"
    if isinstance(condition, All | AnyOf):
        if not condition.items:
            return "always" if isinstance(condition, All) else "never"
        joined = (" and " if isinstance(condition, All) else " or ").join(
            _condition(item, policy) for item in condition.items)
        return joined if top or len(condition.items) == 1 else f"({joined})"
    return str(condition)


def _decoded(path: str, value: object, policy: Policy) -> str:
    """A condition's value as the rule file says it (conditions hold values encoded for the
    engine: decimals scaled to whole numbers, dates as day numbers)."""
    spec = policy.fields.get(path)
    kind = spec.type.name if spec is not None else None
    if kind == "decimal" and isinstance(value, int) and not isinstance(value, bool):
        return _number(Decimal(value) / DECIMAL_SCALE)
    if kind == "date" and isinstance(value, int) and not isinstance(value, bool):
        return date.fromordinal(value).isoformat()
    return _shown(value)


# ---- small words --------------------------------------------------------------------------

def _plain(what: str, old: str, new: str) -> Iterable[Change]:
    if old != new:
        yield Change.changed(what, old, new)


def _numbers(what: str, old: Decimal | None, new: Decimal | None,
             unit: str = "") -> Iterable[Change]:
    """A change when the numbers differ, not their writing (10 and 10.0 are one percent)."""
    if old != new:
        yield Change.changed(what, _number(old) + (unit if old is not None else ""),
                             _number(new) + (unit if new is not None else ""))


def _keyed(noun: str, old: Mapping[str, str], new: Mapping[str, str]) -> Iterable[Change]:
    """Named entries of a rule (factors, entitlements, withdrawals): added, removed, changed."""
    for name, value in new.items():
        what = f"{noun} {name}"
        if name not in old:
            yield Change.added(what, value)
        elif old[name] != value:
            yield Change.changed(what, old[name], value)
    for name, value in old.items():
        if name not in new:
            yield Change.removed(f"{noun} {name}", value)


def _members(noun: str, old: Iterable[str], new: Iterable[str]) -> Iterable[Change]:
    old, new = list(old), list(new)
    for name in new:
        if name not in old:
            yield Change.added(f"{noun} {name}")
    for name in old:
        if name not in new:
            yield Change.removed(f"{noun} {name}")


def _per_currency(what: str, old, new) -> Iterable[Change]:
    before, after = dict(old), dict(new)
    for currency, amount in after.items():
        if currency not in before:
            yield Change.added(f"{what} in {currency}", _number(amount))
        elif before[currency] != amount:
            yield Change.changed(f"{what} in {currency}", _number(before[currency]),
                                 _number(amount))
    for currency, amount in before.items():
        if currency not in after:
            yield Change.removed(f"{what} in {currency}", _number(amount))


def _amounts(table) -> str:
    return ", ".join(f"{currency} {_number(amount)}" for currency, amount in table)


def _number(value) -> str:
    if value is None:
        return NONE
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _formula(formula) -> str:
    return NONE if formula is None else " ".join(formula.text.split())


def _quoted(text: str | None) -> str:
    return NONE if text is None or not text.strip() else f'"{" ".join(text.split())}"'


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _day(day: date | None) -> str:
    return NONE if day is None else day.isoformat()


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
