"""Compile a policy's conditions to durable_rules rulesets that stay inside the engine's limits.

Each rule becomes one engine rule per conjunction of its condition in disjunctive normal
form, all of one priority; the adapter collapses them back to one firing. Every engine rule
is gated on the discriminator `_t == "incident"` (a `$nex` alone loops forever), and every
ruleset has a guard rule that every fact matches (a fact that fires nothing crashes
`delete_state`). Rules are packed into rulesets in firing order, so concatenating what the
rulesets fire gives the policy's order, and a ruleset is closed before the engine's alpha-walk
stack could approach its size of 64 for any fact (error 303), before
a node gets hundreds of children (the registration hang) or many identical rules (error 108).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

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
MAX_CONJUNCTIONS = 64  # per rule, after normal form
MAX_TRUE_NODES = 56  # the engine's alpha stack holds 64 (error 303 past it)
MAX_CHILDREN = 200  # measured hang at 512 distinct siblings
MAX_IDENTICAL = 100  # measured error 108 at 257 identical rules
MAX_ENGINE_RULES = 1000  # the engine allows 4,096 per ruleset

Atom = tuple  # (path, op, value) with op in eq neq lt lte gt gte ex nex
_OPPOSITE = {"eq": "neq", "neq": "eq", "lt": "gte", "gte": "lt", "gt": "lte", "lte": "gt"}


class CompileError(ValueError):
    pass


def normal_form(condition: Condition, fields: dict[str, FieldSpec]) -> list[tuple[Atom, ...]]:
    """Disjunctive normal form: a list of conjunctions of engine atoms."""
    match condition:
        case Compare(path, op, value):
            return [((path, op, value),)]
        case OneOf(path, values, False):
            return [((path, "eq", value),) for value in values]
        case OneOf(path, values, True):
            every_other = tuple((path, "neq", value) for value in values)
            return _or_missing(path, [every_other], fields)
        case Presence(path, present):
            return [((path, "ex" if present else "nex", 1),)]
        case All(items):
            result: list[tuple[Atom, ...]] = [()]
            for item in items:
                result = [a + b for a, b in itertools.product(result, normal_form(item, fields))]
                _check_size(result)
            return result
        case AnyOf(items):
            result = [c for item in items for c in normal_form(item, fields)]
            _check_size(result)
            return result
        case Not(item):
            return normal_form(negate(item), fields)
    raise CompileError(f"not a condition: {condition!r}")


def negate(condition: Condition) -> Condition:
    """Push a negation inwards (De Morgan); atoms keep the 'missing is false' meaning."""
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


def _check_size(conjunctions) -> None:
    if len(conjunctions) > MAX_CONJUNCTIONS:
        raise CompileError(
            f"the condition has more than {MAX_CONJUNCTIONS} alternatives once expanded; "
            "split the rule into simpler rules")


def simplify(conjunctions: list[tuple[Atom, ...]], fields) -> list[tuple[Atom, ...]]:
    """Drop repeated atoms and conjunctions that can never hold; order atoms for sharing."""
    result = []
    seen = set()
    for conjunction in conjunctions:
        atoms = tuple(sorted(set(conjunction), key=_atom_order))
        # A present required field makes `ex` redundant and `nex` impossible.
        atoms = tuple(a for a in atoms if not (a[1] == "ex" and not fields[a[0]].optional))
        if any(a[1] == "nex" and not fields[a[0]].optional for a in atoms):
            continue
        if _contradictory(atoms) or atoms in seen:
            continue
        seen.add(atoms)
        result.append(atoms)
    return result


def _atom_order(atom: Atom):
    path, op, value = atom
    return (op != "eq", path, op, type(value).__name__, value)


def _contradictory(atoms: tuple[Atom, ...]) -> bool:
    equal: dict[str, object] = {}
    for path, op, value in atoms:
        if op == "eq":
            if path in equal and equal[path] != value:
                return True
            equal[path] = value
    paths_ex = {a[0] for a in atoms if a[1] != "nex"}
    return any(a[1] == "nex" and a[0] in paths_ex for a in atoms)


def engine_expression(atoms: tuple[Atom, ...]) -> dict:
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
    on one field with different values exclude each other and count once. This model
    predicted every measured 303 (stack 64) exactly; MAX_TRUE_NODES keeps a margin.
    """
    slots: list[int] = []
    equality_groups: dict[str, int] = {}
    for (path, op, _value), child in node.children.items():
        if op == "eq":
            equality_groups[path] = max(equality_groups.get(path, 0), child.peak)
        else:
            slots.append(child.peak)
    slots.extend(equality_groups.values())
    if not slots:
        return 0
    return max(len(slots), len(slots) - 1 + max(slots))


@dataclass(frozen=True)
class CompiledRule:
    rule_id: str
    priority: int
    conjunctions: tuple[tuple[Atom, ...], ...]


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


def pack(compiled: list[CompiledRule]) -> list[RulesetPlan]:
    """Pack rules, in firing order, into as few rulesets as stay within the engine's limits."""
    plans: list[RulesetPlan] = []
    current = RulesetPlan()
    for rule in compiled:
        if current.try_add(rule):
            continue
        if current.rules:
            plans.append(current)
        current = RulesetPlan()
        if not current.try_add(rule):
            raise CompileError(
                f"rule {rule.rule_id} is too complex for the engine on its own "
                f"(more than {MAX_TRUE_NODES} of its tests could be pending at once); split it")
    if current.rules:
        plans.append(current)
    return plans


def compile_rule(rule, fields) -> CompiledRule:
    conjunctions = simplify(normal_form(rule.when, fields), fields)
    return CompiledRule(rule.id, rule.priority, tuple(conjunctions))


def ruleset_definition(plan: RulesetPlan, action_name) -> dict:
    """The durable_rules definition of one ruleset; engine rules are named
    `<action_name(rule_id)>#<conjunction>`, so a firing names its policy rule."""
    definition = {}
    for rule in plan.rules:
        for number, conjunction in enumerate(rule.conjunctions):
            definition[f"{action_name(rule.rule_id)}#{number}"] = {
                "all": [{"m": engine_expression(conjunction)}],
                "pri": rule.priority,
            }
    definition[GUARD_NAME] = {"all": [{"m": {DISCRIMINATOR: FACT_KIND}}],
                              "pri": GUARD_PRIORITY}
    return definition
