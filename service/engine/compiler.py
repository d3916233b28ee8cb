"""Compile a policy's conditions to durable_rules rulesets that stay inside the engine's limits.

Each rule's condition is written out in disjunctive normal form: alternatives (conjunctions of
engine tests), of which only those that can occur are kept and counted (a required fact is
never missing; contradictions, repeats and alternatives implied by shorter ones are dropped).
Each alternative becomes one engine rule of the rule's priority, named after the policy rule;
the adapter reports a policy rule once, however many of its alternatives fire. A rule of more
than MAX_CONJUNCTIONS alternatives is split into parts of at most that many (its engine rules
keep their numbers), and a part that would not fit a ruleset on its own is halved, so a part
may land in another ruleset than its siblings: the meaning is the OR of all of them either way.
Only a rule of more than MAX_ALTERNATIVES alternatives is refused.

Every engine rule is gated on the discriminator `_t == "incident"` (a `$nex` alone loops
forever), and every ruleset has a guard rule that every fact matches (a fact that fires nothing
crashes `delete_state`). Rules are packed into rulesets in firing order, and a ruleset is
closed before the engine's alpha-walk stack could approach its size of 64 for any fact (error
303), before a node gets hundreds of children (the registration hang) or many identical rules
(error 108).

Why a negated test on an optional fact costs two alternatives (measured on durable_rules
2.0.28, see tests/engine/test_negation_split.py): no single engine test matches both "missing"
and "present with another value". `$neq`, `$lt` and the other comparisons never match a missing
attribute (nor one sent as JSON null); only `$nex` matches a missing one. An `$or` inside one
engine rule does not help either: the engine expands it into one alpha path per branch (a rule
fires once per true branch, and 70 true branches of one `$or` fail with error 303), so it costs
what separate engine rules cost, and separate rules keep the packer's model of the stack exact.
"""

from __future__ import annotations

import itertools
import math
import operator
import weakref
from dataclasses import dataclass, field, replace

from service.domain.fields import FieldSpec
from service.policy.model import (
    All,
    AnyOf,
    Compare,
    Condition,
    Not,
    OneOf,
    Presence,
)

DISCRIMINATOR = "_t"
FACT_KIND = "incident"
GUARD_NAME = "guard"
GUARD_PRIORITY = 65535  # fires last; stored as unsigned 16 bits
MAX_CONJUNCTIONS = 64  # alternatives per part of a rule placed as a whole
MAX_ALTERNATIVES = 1024  # alternatives per rule, over all its parts; more is refused
MAX_PAIRS = 1 << 16  # combinations tried when expanding one `all` step (compile time bound)
MAX_PAIRS_PER_RULE = 1 << 18  # and over all the steps of one rule (a second or so at most)
MAX_TRUE_NODES = 56  # the engine's alpha stack holds 64 (error 303 past it)
MAX_CHILDREN = 200  # measured hang at 512 distinct siblings
MAX_IDENTICAL = 100  # measured error 108 at 257 identical rules
MAX_ENGINE_RULES = 1000  # the engine allows 4,096 per ruleset

Atom = tuple  # (path, op, value) with op in eq neq lt lte gt gte ex nex
Conjunction = tuple  # of atoms, sorted by _atom_order
_OPPOSITE = {"eq": "neq", "neq": "eq", "lt": "gte", "gte": "lt", "gt": "lte", "lte": "gt"}
_TEST = {"eq": operator.eq, "neq": operator.ne, "lt": operator.lt, "lte": operator.le,
         "gt": operator.gt, "gte": operator.ge}


class CompileError(ValueError):
    pass


# What the adapter adds to every fact besides the incident's fields.
ADAPTER_PROPERTIES = (DISCRIMINATOR, "sid", "id")
# A fact of more properties fails (error 302), objects and the adapter's own included:
# measured, 251 flat fields and the adapter's 3 assert, 252 do not.
MAX_FACT_PROPERTIES = 254


def engine_hash(name: str) -> int:
    """How the engine tells a fact's properties apart: by this 32-bit FNV-1a hash of the
    dotted name alone (durable_rules' fnv1Hash32), so two names with the same hash are one."""
    value = 0x811C9DC5
    for byte in name.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def fact_shape_problems(paths: list[str]) -> list[str]:
    """Why a fact carrying every one of these fields (dotted paths) would not reach the
    engine whole: too many properties, or two names the engine would take for one."""
    names = dict.fromkeys([*ADAPTER_PROPERTIES, *(
        ".".join(path.split(".")[:depth]) for path in paths
        for depth in range(1, path.count(".") + 2))])
    problems = []
    if len(names) > MAX_FACT_PROPERTIES:
        problems.append(f"an incident of this policy may carry {len(names)} values (its "
                        f"fields, context and derived facts, and the objects holding them), "
                        f"and the engine takes at most {MAX_FACT_PROPERTIES}: declare "
                        f"{len(names) - MAX_FACT_PROPERTIES} fewer context or derived facts")
    seen: dict[int, str] = {}
    for name in names:
        other = seen.setdefault(engine_hash(name), name)
        if other != name:
            problems.append(f"the engine cannot tell `{name}` from `{other}` (their names "
                            "hash alike in it): rename one")
    return problems


class _TooLarge(CompileError):
    """The normal form outgrew its bounds; compile_rule words the problem for the owner."""

    def __init__(self, size: str):
        super().__init__(size)
        self.size = size  # what was too large, in words


def normal_form(condition: Condition, fields: dict[str, FieldSpec],
                budget: list[int] | None = None) -> list[Conjunction]:
    """Disjunctive normal form: the alternatives that can occur, each a conjunction of engine
    atoms; [] is never true, [()] always. Raises _TooLarge past MAX_ALTERNATIVES, or once its
    `all` steps have tried MAX_PAIRS_PER_RULE combinations in all (`budget`: what is left)."""
    budget = [MAX_PAIRS_PER_RULE] if budget is None else budget
    match condition:
        case Compare(path, op, value):
            return _reduce([((path, op, value),)], fields)
        case OneOf(path, values, False):
            return _reduce([((path, "eq", value),) for value in values], fields)
        case OneOf(path, values, True):
            every_other = tuple((path, "neq", value) for value in values)
            return _reduce(_or_missing(path, [every_other], fields), fields)
        case Presence(path, present):
            if not fields[path].optional:  # a required fact is never missing
                return [()] if present else []
            return [((path, "ex" if present else "nex", 1),)]
        case All(items):
            result: list[Conjunction] = [()]
            for item in items:
                other = normal_form(item, fields, budget)
                if len(result) * len(other) > MAX_PAIRS:
                    raise _TooLarge(
                        f"one of its `all` lists combines {len(result)} alternatives with "
                        f"{len(other)}, more than the {MAX_PAIRS} combinations Amends tries")
                budget[0] -= len(result) * len(other)
                if budget[0] < 0:  # each step within MAX_PAIRS, but many of them
                    raise _TooLarge(
                        f"its `all` lists combine more than {MAX_PAIRS_PER_RULE:,} "
                        "alternatives in all, more than Amends tries for one rule (checking "
                        "it would take minutes)")
                result = _reduce([a + b for a in result for b in other], fields)
            return result
        case AnyOf(items):
            return _reduce([c for item in items for c in normal_form(item, fields, budget)],
                           fields)
        case Not(item):
            return normal_form(negate(item), fields, budget)
    raise CompileError(f"not a condition: {condition!r}")


def negate(condition: Condition) -> Condition:
    """Push a negation inwards (De Morgan); atoms keep the 'missing is false' meaning, so a
    negated comparison also holds when its field is missing (which normal_form drops again
    for a required field)."""
    match condition:
        case Compare(path, op, value):
            return AnyOf((Compare(path, _OPPOSITE[op], value), Presence(path, False)))
        case OneOf(path, values, negated):
            return OneOf(path, values, not negated)
        case Presence(path, present):
            return Presence(path, not present)
        case All(items):
            return AnyOf(tuple(negate(item) for item in items))
        case AnyOf(items):
            return All(tuple(negate(item) for item in items))
        case Not(item):
            return item
    raise CompileError(f"not a condition: {condition!r}")


def _or_missing(path, conjunctions, fields):
    if fields[path].optional:
        return [((path, "nex", 1),), *conjunctions]
    return conjunctions


def _reduce(conjunctions: list[Conjunction], fields) -> list[Conjunction]:
    """Keep the alternatives that can occur, once each, and none that a shorter one implies
    (A or (A and B) is A); raise _TooLarge if more than MAX_ALTERNATIVES remain."""
    possible = {c for c in (_conjunction(c, fields) for c in conjunctions) if c is not None}
    if () in possible:
        return [()]
    kept: list[Conjunction] = []
    by_first: dict[Atom, list[frozenset]] = {}  # shorter kept alternatives by first atom
    # Only a shorter alternative can imply another (two of one length that differ are not
    # subsets of each other), so each length is checked against the shorter ones alone: the
    # many alternatives of one length that negations multiply out cost no pairwise checks.
    for _, same_length in itertools.groupby(sorted(possible, key=len), key=len):
        group = [(c, frozenset(c)) for c in same_length]
        if by_first:
            group = [(c, atoms) for c, atoms in group if not any(
                shorter <= atoms for atom in c for shorter in by_first.get(atom, ()))]
        for conjunction, atoms in group:
            kept.append(conjunction)
            by_first.setdefault(conjunction[0], []).append(atoms)
    if len(kept) > MAX_ALTERNATIVES:
        raise _TooLarge(f"written out as alternatives it has more than {MAX_ALTERNATIVES}, "
                        f"the most one rule may have")
    return kept


def _conjunction(atoms: Conjunction, fields) -> Conjunction | None:
    """The atoms as one canonical conjunction, or None if they contradict each other.

    Per field: `nex` with any other test is impossible; two different `eq` values are
    impossible, and an `eq` decides every other test on its field (dropped if it holds,
    impossible if not); `ex` beside another test is implied. On a boolean field `!= v` is
    `== not v` (facts carry typed values; neither matches a missing field).
    """
    by_path: dict[str, set[Atom]] = {}
    for path, op, value in atoms:
        if op == "neq" and fields[path].type.name == "boolean":
            op, value = "eq", not value
        by_path.setdefault(path, set()).add((path, op, value))
    result: list[Atom] = []
    for path, tests in by_path.items():
        if len(tests) == 1:
            result.extend(tests)
            continue
        if any(op == "nex" for _, op, _ in tests):
            return None
        equal = {value for _, op, value in tests if op == "eq"}
        if len(equal) > 1:
            return None
        if equal:
            (value,) = equal
            if not all(op == "ex" or _TEST[op](value, other) for _, op, other in tests):
                return None
            result.append((path, "eq", value))
        else:
            result.extend(test for test in tests if test[1] != "ex")
    return tuple(sorted(result, key=_atom_order))


def _atom_order(atom: Atom):
    path, op, value = atom
    return (op != "eq", path, op, type(value).__name__, value)


def _conjunction_order(conjunction: Conjunction):
    return tuple(_atom_order(atom) for atom in conjunction)


def _negated_optional_paths(condition: Condition, fields, negative: bool = False) -> list[str]:
    """Optional fields the condition tests negatively: each doubles the alternatives."""
    match condition:
        case Compare(path, _, _):
            found = [path] if negative else []
        case OneOf(path, _, negated):
            found = [path] if negated != negative else []
        case Presence():
            found = []
        case All(items) | AnyOf(items):
            found = [p for item in items for p in _negated_optional_paths(item, fields, negative)]
        case Not(item):
            found = _negated_optional_paths(item, fields, not negative)
        case _:
            found = []
    return [path for path in dict.fromkeys(found) if fields[path].optional]


def _too_large_message(condition: Condition, fields, size: str) -> str:
    negated = _negated_optional_paths(condition, fields)
    why = f"the condition is too large for the engine: {size}"
    if negated:
        return (f"{why}. Every `not` or `none_of` on an optional fact doubles them, because "
                f"it holds both when the fact is missing and when it has another value; this "
                f"rule negates {len(negated)} optional facts ({', '.join(negated)}). Declare "
                f"some of them required (a required fact is never missing), or test fewer of "
                f"them in one rule")
    return (f"{why}. Every `any` adds its branches and every `all` multiplies the branches of "
            f"its items; split the rule into simpler rules, one per branch of an `any`")


def engine_expression(atoms: Conjunction) -> dict:
    """A gated durable_rules `m` expression for one conjunction."""
    tests: list[dict] = [{DISCRIMINATOR: FACT_KIND}]
    for path, op, value in atoms:
        if op == "eq":
            tests.append({path: value})
        else:
            tests.append({f"${op}": {path: value}})
    return {"$and": tests}


# ---- packing into rulesets ----------------------------------------------------------------

@dataclass
class _Node:
    children: dict = field(default_factory=dict)
    terminals: int = 0
    peak: int = 0  # cached _peak of this node


def _peak(node: _Node) -> int:
    """Upper bound of the engine's alpha-walk stack below `node` for any one fact.

    The engine pushes every true child of a node, then walks them depth first, so the stack
    peaks at max(k, k - 1 + peak of a child) for k true children. Children testing equality
    on one field with different values, or that the field is missing, exclude each other and
    count once (the engine pushes a `$nex` child only when the field is missing, any other
    only when it is present). This model predicted every measured 303 (stack 64) exactly;
    MAX_TRUE_NODES keeps a margin.
    """
    slots: list[int] = []
    equality_groups: dict[str, int] = {}
    for (path, op, _value), child in node.children.items():
        if op in ("eq", "nex"):
            equality_groups[path] = max(equality_groups.get(path, 0), child.peak)
        else:
            slots.append(child.peak)
    slots.extend(equality_groups.values())
    if not slots:
        return 0
    return max(len(slots), len(slots) - 1 + max(slots))


@dataclass(frozen=True)
class CompiledRule:
    """A policy rule's alternatives, or one part of them (`first` numbers its first one)."""

    rule_id: str
    priority: int
    conjunctions: tuple[Conjunction, ...]
    first: int = 0


@dataclass
class RulesetPlan:
    rules: list[CompiledRule] = field(default_factory=list)
    root: _Node = field(default_factory=_Node)
    engine_rules: int = 0

    def try_add(self, rule: CompiledRule) -> bool:
        """Add the rule if the ruleset stays within the engine's limits; else change nothing."""
        if self.engine_rules + len(rule.conjunctions) > MAX_ENGINE_RULES:
            return False
        created: list[tuple[_Node, Atom]] = []
        ends: list[_Node] = []
        touched: list[list[_Node]] = []
        for conjunction in rule.conjunctions:
            node, path = self.root, [self.root]
            for atom in conjunction:
                child = node.children.get(atom)
                if child is None:
                    child = node.children[atom] = _Node()
                    created.append((node, atom))
                node = child
                path.append(node)
            node.terminals += 1
            ends.append(node)
            touched.append(path)
        for path in touched:
            for node in reversed(path):
                node.peak = _peak(node)
        crowded = any(len(node.children) > MAX_CHILDREN for path in touched for node in path)
        crowded = crowded or any(end.terminals > MAX_IDENTICAL for end in ends)
        if crowded or self.root.peak > MAX_TRUE_NODES:
            for end in ends:
                end.terminals -= 1
            for parent, atom in reversed(created):
                del parent.children[atom]
            for path in touched:
                for node in reversed(path):
                    node.peak = _peak(node)
            return False
        self.rules.append(rule)
        self.engine_rules += len(rule.conjunctions)
        return True


def parts(rule: CompiledRule) -> list[CompiledRule]:
    """The rule in parts of at most MAX_CONJUNCTIONS alternatives, as even as can be; the
    alternatives are sorted, so each part's share common first tests."""
    count = len(rule.conjunctions)
    if count <= MAX_CONJUNCTIONS:
        return [rule] if count else []
    size = math.ceil(count / math.ceil(count / MAX_CONJUNCTIONS))
    return [replace(rule, conjunctions=rule.conjunctions[start:start + size],
                    first=rule.first + start) for start in range(0, count, size)]


def _halves(part: CompiledRule) -> list[CompiledRule]:
    middle = len(part.conjunctions) // 2
    return [replace(part, conjunctions=part.conjunctions[:middle]),
            replace(part, conjunctions=part.conjunctions[middle:], first=part.first + middle)]


def pack(compiled: list[CompiledRule]) -> list[RulesetPlan]:
    """Pack rules, in firing order, into as few rulesets as stay within the engine's limits.

    A part goes whole into the current ruleset, else whole into a new one; a part too big
    for any ruleset on its own (too many of its tests could be true at once) is halved until
    it fits: one alternative alone always does.
    """
    plans: list[RulesetPlan] = []
    current = RulesetPlan()
    for rule in compiled:
        pending = parts(rule)
        while pending:
            part = pending.pop(0)
            if current.try_add(part):
                continue
            if current.rules:
                fresh = RulesetPlan()
                if fresh.try_add(part):
                    plans.append(current)
                    current = fresh
                    continue
            if len(part.conjunctions) < 2:
                raise CompileError(
                    f"rule {rule.rule_id} has an alternative that does not fit the engine's "
                    f"limits even on its own")
            pending[:0] = _halves(part)
    if current.rules:
        plans.append(current)
    return plans


# The last compilation of each live rule object, with the fields it was compiled against:
# checking a policy compiles each rule, and so do its check of the engine's limits and its
# registration with the engine; rules and fields never change once loaded.
_COMPILED: dict[int, tuple[weakref.ref, object, CompiledRule]] = {}


def compile_rule(rule, fields) -> CompiledRule:
    """The rule's alternatives in a stable order; CompileError, worded for the rule's owner,
    if there are too many."""
    key = id(rule)
    known = _COMPILED.get(key)
    if known is not None and known[0]() is rule and known[1] is fields:
        return known[2]
    try:
        conjunctions = normal_form(rule.when, fields)
    except _TooLarge as error:
        raise CompileError(_too_large_message(rule.when, fields, error.size)) from None
    compiled = CompiledRule(rule.id, rule.priority,
                            tuple(sorted(conjunctions, key=_conjunction_order)))
    try:
        alive = weakref.ref(rule, lambda _, key=key: _COMPILED.pop(key, None))
    except TypeError:  # an object that takes no weak reference: not kept
        return compiled
    _COMPILED[key] = (alive, fields, compiled)
    return compiled


def ruleset_definition(plan: RulesetPlan, action_name) -> dict:
    """The durable_rules definition of one ruleset; engine rules are named
    `<action_name(rule_id)>#<alternative>`, so a firing names its policy rule (the parts of a
    split rule number their alternatives on from their `first`, so names never collide)."""
    definition = {}
    for rule in plan.rules:
        for number, conjunction in enumerate(rule.conjunctions, start=rule.first):
            definition[f"{action_name(rule.rule_id)}#{number}"] = {
                "all": [{"m": engine_expression(conjunction)}],
                "pri": rule.priority,
            }
    definition[GUARD_NAME] = {"all": [{"m": {DISCRIMINATOR: FACT_KIND}}],
                              "pri": GUARD_PRIORITY}
    return definition
