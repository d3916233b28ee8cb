"""The `when` language of rule files: parsing with precise problems, and the reference evaluator.

Semantics (shared with the engine compiler and proved equal by a property test):
- a comparison (equals, not_equals, less_than, ...) with a missing field is never true;
- `one_of` is true when the field is present and equals a listed value; `none_of` is its
  negation, so it is true when the field is missing;
- `not` negates whatever it wraps, `all` needs every item, `any` at least one.
"""

from __future__ import annotations

from datetime import date, datetime

from schemas.policy_files import strict as checked_as_new
from service.domain.fields import MAX_TEXT, FieldSpec, ValueTypeError
from service.policy.model import (
    ALWAYS,
    All,
    AnyOf,
    Compare,
    Condition,
    Not,
    OneOf,
    Presence,
)
from service.policy.problems import Problem
from service.policy.yaml_lines import LineDict, LineList

COMPARISONS = {
    "equals": "eq", "==": "eq",
    "not_equals": "neq", "!=": "neq",
    "less_than": "lt", "<": "lt",
    "at_most": "lte", "<=": "lte",
    "greater_than": "gt", ">": "gt",
    "at_least": "gte", ">=": "gte",
}
OPERATOR_WORDS = (*[w for w in COMPARISONS if w[0].isalpha()], "one_of", "none_of", "present",
                  "missing")
MAX_LIST = 100


MAX_CONDITION_NODES = 10_000  # tests and groups in one rule's condition, aliases written out


class ConditionParser:
    """Turns the YAML of a `when` into a Condition, collecting every problem found."""

    def __init__(self, fields: dict[str, FieldSpec], file: str, rule_id: str | None,
                 problems: list[Problem]):
        self.fields = fields
        self.file = file
        self.rule_id = rule_id
        self.problems = problems
        self._left = MAX_CONDITION_NODES

    def problem(self, line: int, message: str, field: str | None = None) -> None:
        self.problems.append(Problem(self.file, line, message, self.rule_id, field))

    def parse(self, node: object, line: int) -> Condition | None:
        # A few hundred bytes of YAML aliases, each repeating the one before twice, write out
        # millions of conditions: counted as they are read, they are refused in milliseconds.
        self._left -= 1
        if self._left < 0:
            if self._left == -1:
                self.problem(line, f"the condition is too large: more than "
                                   f"{MAX_CONDITION_NODES:,} tests and groups written out "
                                   "(do YAML aliases repeat one another?)")
            return None
        if node is None:
            return ALWAYS
        if isinstance(node, LineList):
            items = [self.parse(item, node.line_of(i)) for i, item in enumerate(node)]
            return None if None in items else All(tuple(items))
        if not isinstance(node, LineDict):
            self.problem(line, "a condition must be a mapping such as "
                               "`failure.severity: {at_least: 3}` or a list of them")
            return None
        parts = []
        for key, value in node.items():
            key_line = node.line_of(key)
            if key in ("all", "any"):
                if not isinstance(value, LineList) or not value:
                    self.problem(key_line, f"`{key}` takes a non-empty list of conditions")
                    parts.append(None)
                    continue
                items = tuple(self.parse(item, value.line_of(i)) for i, item in enumerate(value))
                parts.append(None if None in items else (All if key == "all" else AnyOf)(items))
            elif key == "not":
                inner = self.parse(value, key_line)
                parts.append(None if inner is None else Not(inner))
            else:
                parts.append(self.parse_field(str(key), value, key_line))
        if None in parts:
            return None
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def parse_field(self, path: str, test: object, line: int) -> Condition | None:
        spec = self.fields.get(path)
        if spec is None:
            self.problem(line, f"unknown field `{path}`; rules may test: "
                               f"{', '.join(sorted(self.fields))}", path)
            return None
        if not isinstance(test, LineDict):
            value = self.value(spec, test, line)
            return None if value is _BAD else Compare(path, "eq", value)
        parts = []
        for op, operand in test.items():
            op_line = test.line_of(op)
            if op in COMPARISONS:
                code = COMPARISONS[op]
                if code not in spec.type.comparisons:
                    self.problem(op_line, f"`{op}` needs a number or date field; `{path}` is "
                                          f"{spec.type}", path)
                    parts.append(None)
                    continue
                value = self.value(spec, operand, op_line)
                parts.append(None if value is _BAD else Compare(path, code, value))
            elif op in ("one_of", "none_of"):
                if not isinstance(operand, LineList) or not operand or len(operand) > MAX_LIST:
                    self.problem(op_line, f"`{op}` takes a list of 1 to {MAX_LIST} values", path)
                    parts.append(None)
                    continue
                values = [self.value(spec, item, operand.line_of(i))
                          for i, item in enumerate(operand)]
                parts.append(None if _BAD in values else
                             OneOf(path, tuple(dict.fromkeys(values)), op == "none_of"))
            elif op in ("present", "missing"):
                if not isinstance(operand, bool):
                    self.problem(op_line, f"`{op}` takes true or false", path)
                    parts.append(None)
                    continue
                parts.append(Presence(path, operand == (op == "present")))
            else:
                self.problem(op_line, f"unknown test `{op}`; use one of "
                                      f"{', '.join(OPERATOR_WORDS)}", path)
                parts.append(None)
        if not parts:
            self.problem(line, "an empty test", path)
            return None
        if None in parts:
            return None
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def value(self, spec: FieldSpec, raw: object, line: int) -> object:
        if isinstance(raw, LineDict | LineList) or raw is None:
            self.problem(line, f"`{spec.path}` is compared with a single {spec.type} value",
                         spec.path)
            return _BAD
        if not checked_as_new():  # a version activated before these were refused: as it was
            if isinstance(raw, datetime):
                raw = raw.date()
            elif isinstance(raw, str) and len(raw) > MAX_TEXT:
                return raw
            raw = date_as_it_was(spec, raw)
        try:
            return spec.encode(raw)
        except ValueTypeError as error:
            self.problem(line, f"`{spec.path}` ({spec.type}) {error}", spec.path)
            return _BAD


_BAD = object()


def date_as_it_was(spec: FieldSpec, raw: object) -> object:
    """A date compared with as a version activated before YYYY-MM-DD was the only form read
    (20240101, 2024-W01-1) wrote it: the date it then meant. Anything else as it is."""
    if spec.type.name == "date" and isinstance(raw, str):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    return raw

_COMPARE = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


def holds(condition: Condition, fact: dict) -> bool:
    """Reference evaluator: the meaning of a condition on a flat, encoded fact."""
    match condition:
        case Compare(path, op, value):
            present = fact.get(path)
            return present is not None and _COMPARE[op](present, value)
        case OneOf(path, values, negated):
            present = fact.get(path)
            found = present is not None and present in values
            return found != negated
        case Presence(path, present):
            return (fact.get(path) is not None) == present
        case All(items):
            return all(holds(item, fact) for item in items)
        case AnyOf(items):
            return any(holds(item, fact) for item in items)
        case Not(item):
            return not holds(item, fact)
    raise TypeError(f"not a condition: {condition!r}")


def fired_by_reference(rules, fact: dict) -> list[str]:
    """Ids of the rules whose conditions hold, in firing order (rules come pre-sorted)."""
    return [rule.id for rule in rules if holds(rule.when, fact)]
