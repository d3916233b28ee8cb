"""Decision tables: many similar rules written as one table, one row per case.

A rules file may hold a table instead of `rules:`. Each row becomes an ordinary rule, checked
and applied like one written by hand:

```yaml
table:
  id: eu261-amount                  # the rows' rules are eu261-amount.1, eu261-amount.2, ...
  description: EU 261 Art. 7(1) compensation by flight distance
  priority: 100                     # every row's rule has it (default 500)
  hit: unique                       # unique (the default) or first; see below
  when: {context.cancelled: false}  # optional: conditions every row adds to its own
  inputs: [context.distance_km, context.intra_eu]     # condition columns: incident fields
  outputs:                                            # effect columns
    - remedy: cash_compensation     # a remedy of this kind
    - factor: long_delay            # an outlook factor of this name
    - steps                         # steps, as in a rule
  rows:
    - [{at_most: 1500}, "-", {amount: {EUR: "250"}}, hurts, "-"]
    - [{greater_than: 1500, at_most: 3500}, "-", {amount: {EUR: "400"}}, hurts, "-"]
    - [{greater_than: 3500}, true, {amount: {EUR: "400"}}, hurts, "-"]
    - id: long-haul                 # a row may name its rule itself
      cells: [{greater_than: 3500}, false, {amount: {EUR: "600"}}, hurts, [apologize]]
```

Cells are read left to right: first one per input column, then one per output column.

**Input cells** say what the row needs of its column's field, as a `when` would say it of
that one field: a plain value (`true`, `gold`, `1500`) for "equals", or a test mapping with
any of `equals`, `not_equals`, `less_than`, `at_most`, `greater_than`, `at_least`, `one_of`,
`none_of`, `present`, `missing` (several in one mapping must all hold, as in
`{greater_than: 1500, at_most: 3500}`). `"-"` means "any value, or none". To match the text
`-` itself, write `{equals: "-"}`. A row applies when all its input cells and the table's
`when` hold.

**Output cells** say what the row's rule does; `"-"` means nothing:
- `remedy: <kind>` columns: how the remedy's value is computed, as in a rule's remedy
  without `kind`: `{amount: {EUR: "250"}}`, `{percent: 10}`, `{value: order_value}`,
  optionally with `cap` and `reason`;
- `factor: <name>` columns: `helps`, `hurts` or `blocks`;
- a `steps` column: a list of steps as in a rule (`[apologize, {step: follow_up,
  after_days: 3}]`) or a single step.

**Hit policy.**
- `unique`: no two rows may match the same incident. `policy check` looks at every pair of
  rows and reports each pair that can, with an example: "rows 2 and 5 overlap: both match
  context.distance_km = 1500 and any context.intra_eu". Make the bands meet without
  overlapping: `{at_most: 1500}` and `{greater_than: 1500}`.
- `first`: rows are tried in order and only the first matching row applies; later rows may
  overlap earlier ones (a last row of all `"-"` is a catch-all).

Row N's rule has the id `<table id>.N` (or the row's own `id`), the description
`<table description> (row N)` and the table's priority. Rows are numbered from 1; problems
name the row and column, as in `rows.3.context.distance_km`.

For the loader: `compile_table` turns a table file into rule mappings in exactly the shape of
the items of a rules file's `rules:` list (line-aware, so problems point into the table), and
the problems found by row and column. A rule of a `first` table also carries `first_of` (the
table id) and `row` (its number): the decision keeps only the first fired rule of each
`first_of` group; `TableRuleSchema` (RuleSchema with those two) validates the rules. Given the
policy's fields, input cells are checked against the fields' types here (and so reported by
row and column); every row with a problem is left out of the rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, validate
from marshmallow import fields as ma_fields

from schemas.fields import StrictInteger, StrictString
from schemas.policy_files import NAME, RULE_ID, RemedySchema, RuleSchema, StepField
from schemas.policy_files import strict as checked_as_new
from service.domain.fields import DECIMAL_SCALE, FieldSpec, ValueTypeError
from service.domain.vocabulary import FACTOR_EFFECTS
from service.policy.conditions import COMPARISONS, MAX_LIST, ConditionParser
from service.policy.model import DerivedDecimalType
from service.policy.problems import Problem
from service.policy.yaml_lines import LineDict, LineList

TABLE_KEY = "table"
HIT_POLICIES = {
    "unique": "no two rows may match one incident (checked)",
    "first": "rows are tried in order and the first matching row applies",
}
DEFAULT_HIT = "unique"
DEFAULT_PRIORITY = 500
PRIORITY_RANGE = (1, 60000)
TABLE_FIELDS = ("id", "description", "priority", "hit", "when", "inputs", "outputs", "rows")
ROW_FIELDS = ("id", "cells")
# Keys the rules of a `first` table carry besides a rule's own (TableRuleSchema reads them).
RULE_EXTRA_KEYS = ("first_of", "row")
ANY = "-"
FACT_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)+$")
CELL_TESTS = (*(w for w in COMPARISONS if w[0].isalpha()), "one_of", "none_of", "present",
              "missing")
ALLOWED_INPUT = ("a value (`1500`, `true`, `gold`), \"-\" for any value, or a test such as "
                 "`{at_most: 1500}` or `{greater_than: 1500, at_most: 3500}` made of "
                 + ", ".join(CELL_TESTS))
OUTPUT_FORMS = "`remedy: <kind>`, `factor: <name>` or `steps`"
_ALIASES = {"above": "greater_than", "over": "greater_than", "more_than": "greater_than",
            "below": "less_than", "under": "less_than", "min": "at_least", "max": "at_most",
            "in": "one_of", "not_in": "none_of", "not": "not_equals"}
MAX_OVERLAPS = 50  # pairs reported one by one; the rest are counted in one more problem
_STEPS = ma_fields.List(StepField())


class TableRuleSchema(RuleSchema):
    """A rule compiled from a table row: a rule, and for `hit: first` its group and row."""

    first_of = StrictString(validate=RULE_ID)
    row = StrictInteger(validate=validate.Range(min=1))


def is_table(document: object) -> bool:
    """Whether a rules file's document is a decision table (`table:` rather than `rules:`)."""
    return isinstance(document, dict) and TABLE_KEY in document


def compile_table(document: LineDict, file: str, fields: dict[str, FieldSpec] | None = None
                  ) -> tuple[LineList, list[Problem]]:
    """The rules of a table file (a LineList of line-aware rule mappings, each in the shape of
    one item of a rules file's `rules:`), and every problem found.

    `fields` (the policy's testable fields) is optional: with it, input columns and cells are
    checked against the fields and their types here, by row and column, and the overlap check
    knows each field's type (whole numbers, 4-place decimals, dates, enum values, booleans,
    whether it may be missing); without it, only the form of the table is checked (the
    loader's condition check then reports bad values by rule) and numbers are taken as
    continuous.
    """
    compiler = _Compiler(file, fields)
    rules = compiler.compile(document)
    return rules, compiler.problems


# ---- the compiler ---------------------------------------------------------------------------


@dataclass
class _Input:
    number: int  # column number, 1-based, across inputs and outputs
    path: str
    line: int
    spec: FieldSpec | None = None
    ok: bool = True

    @property
    def label(self) -> str:
        return self.path


@dataclass
class _Output:
    number: int
    kind: str  # remedy, factor or steps
    name: str  # the remedy kind or factor name; "steps"
    line: int
    ok: bool = True

    @property
    def label(self) -> str:
        return "steps" if self.kind == "steps" else f"{self.kind} {self.name}"

    @property
    def field(self) -> str:
        return "steps" if self.kind == "steps" else f"{self.kind}.{self.name}"


@dataclass
class _Row:
    number: int  # 1-based
    line: int
    cells: LineList | None = None
    rule_id: str | None = None
    id_line: int = 0
    own_id: bool = False
    ok: bool = True
    tests: list = field(default_factory=list)  # per input column: None for "-", else the cell
    constraints: list = field(default_factory=list)  # per input column (_UNKNOWN if unsure)


class _Compiler:
    def __init__(self, file: str, fields: dict[str, FieldSpec] | None):
        self.file = file
        self.fields = fields
        self.problems: list[Problem] = []
        self.table_id: str | None = None
        self.hit: str | None = None

    def problem(self, line: int, message: str, field: str | None = None) -> None:
        self.problems.append(Problem(self.file, line, message, self.table_id, field))

    def compile(self, document: object) -> LineList:
        if not isinstance(document, LineDict) or not isinstance(document.get(TABLE_KEY),
                                                                LineDict):
            line = getattr(document, "line", 1)
            self.problem(line, "a table file holds one mapping, `table:`, with id, description, "
                               "inputs, outputs and rows", TABLE_KEY)
            return _list(line, [])
        for key in document:
            if key != TABLE_KEY:
                self.problem(document.line_of(key), f"unknown field `{key}`: a table file holds "
                                                    "only `table:` (rules go in another file)",
                             str(key))
        table = document[TABLE_KEY]
        header = self.header(table)
        inputs = self.inputs(table)
        outputs = self.outputs(table)
        rows = self.rows(table, inputs, outputs)
        if inputs is not None and rows:
            domains = [self.domain(column, rows, table.get("when")) for column in inputs]
            givens = self.given(table.get("when"), inputs, domains)
            for row in rows:
                if row.ok or row.tests:
                    row.constraints = [
                        _UNKNOWN if i >= len(row.tests) else
                        self.constraint(row.tests[i], domains[i], givens[i], row, inputs[i])
                        for i in range(len(inputs))]
            if self.hit == "unique":
                self.overlaps(rows, inputs, domains)
        if header is None or inputs is None or outputs is None or not all(
                c.ok for c in (*inputs, *outputs)):
            return _list(table.line, [])
        return _list(table.line, [(self.rule(header, row, inputs, outputs, table), row.line)
                                  for row in rows if row.ok])

    # ---- the table's own fields -------------------------------------------------------------
    def header(self, table: LineDict) -> dict | None:
        ok = True
        table_id = table.get("id")
        if _valid_id(table_id):
            self.table_id = table_id
        else:
            ok = False
            self.problem(table.line_of("id"), "a table needs an `id` of lower-case letters, "
                         "digits and . _ - (its rows' rules are named after it)", "table.id")
        for key in table:
            if key not in TABLE_FIELDS:
                self.problem(table.line_of(key), f"unknown field `{key}`; a table has "
                             f"{', '.join(TABLE_FIELDS)}", f"table.{key}")
                ok = False
        description = table.get("description")
        if not isinstance(description, str) or not description.strip():
            self.problem(table.line_of("description"), "a table needs a `description` (its "
                         "rows' rules are described by it)", "table.description")
            ok = False
        priority = table.get("priority", DEFAULT_PRIORITY)
        low, high = PRIORITY_RANGE
        if isinstance(priority, bool) or not isinstance(priority, int) or not (
                low <= priority <= high):
            self.problem(table.line_of("priority"), f"`priority` is a whole number from {low} "
                         f"to {high}", "table.priority")
            ok = False
        hit = table.get("hit", DEFAULT_HIT)
        if hit not in HIT_POLICIES:
            choices = "; ".join(f"`{name}`: {meaning}" for name, meaning in HIT_POLICIES.items())
            self.problem(table.line_of("hit"), f"unknown hit policy `{hit}`; use {choices}",
                         "table.hit")
            ok = False
        else:
            self.hit = hit
        when = table.get("when")
        if when is not None and self.fields is not None:
            before = len(self.problems)
            ConditionParser(self.fields, self.file, self.table_id, self.problems).parse(
                when, table.line_of("when"))
            ok = ok and len(self.problems) == before
        if not ok:
            return None
        return {"id": table_id, "description": description, "priority": priority, "hit": hit,
                "when": when}

    def inputs(self, table: LineDict) -> list[_Input] | None:
        raw = table.get("inputs")
        if not isinstance(raw, LineList) or not raw:
            self.problem(table.line_of("inputs"), "a table needs `inputs`: a list of at least "
                         "one incident field such as `context.distance_km`", "table.inputs")
            return None
        columns: list[_Input] = []
        seen: dict[str, int] = {}
        for i, path in enumerate(raw):
            line = raw.line_of(i)
            column = _Input(i + 1, str(path), line)
            columns.append(column)
            where = f"input column {i + 1}"
            if not isinstance(path, str) or not FACT_PATH.match(path):
                self.problem(line, f"{where} `{path}` is not an incident field; name one by its "
                             "dotted path, such as `failure.severity` or "
                             "`context.distance_km`", "table.inputs")
                column.ok = False
                continue
            if self.fields is not None:
                column.spec = self.fields.get(path)
                if column.spec is None:
                    self.problem(line, f"{where}: unknown field `{path}`; rules may test: "
                                 f"{', '.join(sorted(self.fields))}", "table.inputs")
                    column.ok = False
                    continue
            if path in seen:
                self.problem(line, f"{where}: `{path}` is already column {seen[path]}; give a "
                             "field one column (a cell may hold several tests)", "table.inputs")
                column.ok = False
                continue
            seen[path] = i + 1
        return columns

    def outputs(self, table: LineDict) -> list[_Output] | None:
        raw = table.get("outputs")
        if not isinstance(raw, LineList) or not raw:
            self.problem(table.line_of("outputs"), f"a table needs `outputs`: a list of at least "
                         f"one effect column, each {OUTPUT_FORMS}", "table.outputs")
            return None
        first = len(table["inputs"]) if isinstance(table.get("inputs"), LineList) else 0
        columns: list[_Output] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(raw):
            number, line = first + i + 1, raw.line_of(i)
            where = f"output column {number}"
            if item == "steps":
                column = _Output(number, "steps", "steps", line)
            elif (isinstance(item, LineDict) and len(item) == 1
                  and next(iter(item)) in ("remedy", "factor")):
                kind, name = next(iter(item.items()))
                column = _Output(number, kind, str(name), line)
                if not _valid_name(name):
                    what = "remedy kind" if kind == "remedy" else "factor name"
                    self.problem(line, f"{where}: `{name}` is not a {what}; use lower-case "
                                 "letters, digits and _", "table.outputs")
                    column.ok = False
            else:
                self.problem(line, f"{where} must be {OUTPUT_FORMS}", "table.outputs")
                columns.append(_Output(number, "?", str(item), line, ok=False))
                continue
            if column.ok and column.label in seen:
                self.problem(line, f"{where}: {column.label} is already column "
                             f"{seen[column.label]}", "table.outputs")
                column.ok = False
            seen.setdefault(column.label, number)
            columns.append(column)
        return columns

    # ---- rows ---------------------------------------------------------------------------------
    def rows(self, table: LineDict, inputs, outputs) -> list[_Row]:
        raw = table.get("rows")
        if not isinstance(raw, LineList) or not raw:
            self.problem(table.line_of("rows"), "the table has no rows: `rows` is a list of "
                         "rows, each a list of cells", "table.rows")
            return []
        rows: list[_Row] = []
        ids: dict[str, int] = {}
        for i, item in enumerate(raw):
            row = _Row(i + 1, raw.line_of(i))
            rows.append(row)
            self.row_form(row, item)
            if row.rule_id is not None:
                if row.rule_id in ids:
                    self.problem(row.id_line, f"row {row.number}: duplicate rule id "
                                 f"`{row.rule_id}`; row {ids[row.rule_id]} has it",
                                 f"rows.{row.number}.id")
                    row.ok = False
                else:
                    ids[row.rule_id] = row.number
            if row.cells is None or inputs is None or outputs is None:
                row.ok = False
                continue
            columns = len(inputs) + len(outputs)
            if len(row.cells) != columns:
                names = ", ".join(c.label for c in (*inputs, *outputs))
                self.problem(row.line, f"row {row.number} has {len(row.cells)} cells; the table "
                             f"has {columns} columns: {names}", f"rows.{row.number}")
                row.ok = False
                continue
            for column in inputs:
                row.tests.append(self.input_cell(row, column))
            for column in outputs:
                self.output_cell(row, column)
        return rows

    def row_form(self, row: _Row, item: object) -> None:
        if isinstance(item, LineList):
            row.cells = item
        elif isinstance(item, LineDict):
            for key in item:
                if key not in ROW_FIELDS:
                    self.problem(item.line_of(key), f"row {row.number}: unknown field `{key}`; "
                                 "a row is a list of cells or {id: ..., cells: [...]}",
                                 f"rows.{row.number}.{key}")
                    row.ok = False
            if isinstance(item.get("cells"), LineList):
                row.cells = item["cells"]
            else:
                self.problem(item.line_of("cells"), f"row {row.number}: `cells` is a list of "
                             "cells, one per column", f"rows.{row.number}.cells")
            if "id" in item:
                row.id_line = item.line_of("id")
                if _valid_id(item["id"]):
                    row.rule_id, row.own_id = item["id"], True
                else:
                    self.problem(row.id_line, f"row {row.number}: `id` is lower-case letters, "
                                 "digits and . _ -", f"rows.{row.number}.id")
                    row.ok = False
        else:
            self.problem(row.line, f"row {row.number} must be a list of cells, or "
                         "{id: ..., cells: [...]}", f"rows.{row.number}")
        if row.rule_id is None and self.table_id is not None:
            row.rule_id, row.id_line = f"{self.table_id}.{row.number}", row.line

    def cell_problem(self, row: _Row, column, line: int, message: str,
                     sub: str | None = None) -> None:
        field = f"rows.{row.number}.{getattr(column, 'field', column.label)}"
        self.problem(line, f"row {row.number}, column {column.number} ({column.label}): "
                     f"{message}", f"{field}.{sub}" if sub else field)
        row.ok = False

    def input_cell(self, row: _Row, column: _Input) -> object:
        """The cell's test if well formed (None for "-"), else _UNKNOWN after a problem."""
        assert row.cells is not None
        j = column.number - 1
        cell, line = row.cells[j], row.cells.line_of(j)
        if cell == ANY:
            return None
        fault = _input_fault(cell)
        if fault:
            self.cell_problem(row, column, line, f"{fault}; a cell is {ALLOWED_INPUT}")
            return _UNKNOWN
        if column.spec is not None:
            found: list[Problem] = []
            ConditionParser(self.fields or {}, self.file, self.table_id, found).parse_field(
                column.path, cell, line)
            for problem in found:
                self.cell_problem(row, column, problem.line, problem.message)
            if found:
                return _UNKNOWN
        return cell

    def output_cell(self, row: _Row, column: _Output) -> None:
        assert row.cells is not None
        j = column.number - 1
        cell, line = row.cells[j], row.cells.line_of(j)
        if cell == ANY or not column.ok:
            return
        if column.kind == "factor":
            if cell not in FACTOR_EFFECTS:
                self.cell_problem(row, column, line, f"`{cell}` is not an effect; use "
                                  f"{', '.join(FACTOR_EFFECTS)} or \"-\"")
        elif column.kind == "steps":
            try:
                _STEPS.deserialize(_step_list(cell))
            except ValidationError as error:
                for sub, message in _flatten(error.messages):
                    self.cell_problem(row, column, line, f"{message} A steps cell is a list of "
                                      "steps, a single step or \"-\".", sub)
        elif not isinstance(cell, LineDict):
            self.cell_problem(row, column, line, "a remedy cell says how its value is computed, "
                              "as in a rule's remedy without `kind`: `{amount: {EUR: \"250\"}}`,"
                              " `{percent: 10}` or `{value: order_value}`; or \"-\" for none")
        elif "kind" in cell:
            self.cell_problem(row, column, cell.line_of("kind"),
                              f"leave `kind` out: the column gives it ({column.name})", "kind")
        else:
            try:
                RemedySchema().load({"kind": column.name, **cell})
            except ValidationError as error:
                for sub, message in _flatten(error.messages):
                    key = sub.split(".")[0] if sub else None
                    at = cell.line_of(key) if key in cell else line
                    self.cell_problem(row, column, at, message, sub)

    # ---- rules ----------------------------------------------------------------------------
    def rule(self, header: dict, row: _Row, inputs: list[_Input], outputs: list[_Output],
             table: LineDict) -> LineDict:
        assert row.cells is not None and row.rule_id is not None
        line = row.line
        conditions = []
        if header["when"] is not None:
            conditions.append((header["when"], table.line_of("when")))
        for column, test in zip(inputs, row.tests, strict=True):
            if test is not None:
                cell_line = row.cells.line_of(column.number - 1)
                conditions.append((_mapping(cell_line, [(column.path, test, cell_line)]),
                                   cell_line))
        factors, steps, remedies = [], None, []
        for column in outputs:
            j = column.number - 1
            cell, cell_line = row.cells[j], row.cells.line_of(j)
            if cell == ANY:
                continue
            if column.kind == "factor":
                factors.append((column.name, cell, cell_line))
            elif column.kind == "steps":
                steps = (_step_list(cell, cell_line), cell_line)
            else:
                entries = [("kind", column.name, cell_line),
                           *((k, v, cell.line_of(k)) for k, v in cell.items())]
                remedies.append((_mapping(cell.line, entries), cell_line))
        then = []
        if factors:
            then.append(("factors", _mapping(line, factors), line))
        if steps:
            then.append(("steps", *steps))
        if remedies:
            then.append(("remedies", _list(line, remedies), line))
        entries = [("id", row.rule_id, row.id_line),
                   ("description", f"{header['description']} (row {row.number})", line),
                   ("priority", header["priority"], table.line_of("priority"))]
        if conditions:
            entries.append(("when", _mapping(line, [("all", _list(line, conditions), line)]),
                            line))
        entries.append(("then", _mapping(line, then), line))
        if header["hit"] == "first":
            entries.append(("first_of", header["id"], line))
        entries.append(("row", row.number, line))  # problems of its cells name the row
        return _mapping(line, entries)

    # ---- overlaps ---------------------------------------------------------------------------
    def domain(self, column: _Input, rows: list[_Row], when: object) -> _Domain | None:
        if not column.ok:
            return None
        if column.spec is not None:
            return _spec_domain(column.spec)
        given = when.get(column.path) if isinstance(when, LineDict) else None
        values = [] if _input_fault(given) else _values_of(given)
        for row in rows:
            if column.number - 1 < len(row.tests):
                values.extend(_values_of(row.tests[column.number - 1]))
        return _inferred_domain(values)

    def given(self, when: object, inputs: list[_Input], domains: list) -> list:
        """What the table's `when` says of each input column's field, as far as it tests the
        field directly (a test inside `any` or `not` is not taken into account)."""
        givens: list = [_EVERYTHING] * len(inputs)
        if not isinstance(when, LineDict):
            return givens
        for i, column in enumerate(inputs):
            test = when.get(column.path)
            if test is None or domains[i] is None or _input_fault(test):
                continue
            cell = _constraint(test, domains[i])
            if cell is not _UNKNOWN:
                givens[i] = cell
        return givens

    def constraint(self, test: object, domain: _Domain | None, given: _Cell, row: _Row,
                   column: _Input):
        if test is _UNKNOWN or domain is None:
            return _UNKNOWN
        if test is None:
            return given
        cell = _constraint(test, domain)
        if cell is _UNKNOWN:
            return cell
        line = row.cells.line_of(column.number - 1) if row.cells is not None else row.line
        if _witness(cell, domain) is None:
            self.cell_problem(row, column, line, "no incident can match this cell, so the row "
                              "never applies")
        elif _witness(cell.both(given), domain) is None:
            self.cell_problem(row, column, line, "no incident the table's `when` lets through "
                              "can match this cell, so the row never applies")
        return cell.both(given)

    def overlaps(self, rows: list[_Row], inputs: list[_Input], domains: list) -> None:
        found = 0
        candidates = [r for r in rows if r.constraints and _UNKNOWN not in r.constraints]
        for i, j in _pairs_that_may_overlap(candidates):
            first, second = candidates[i], candidates[j]
            example = _overlap(first, second, inputs, domains)
            if example is None:
                continue
            found += 1
            if found <= MAX_OVERLAPS:
                self.problem(second.line, f"{_row_name(first)} and "
                             f"{_row_name(second, False)} overlap: both match {example}; "
                             "with `hit: unique` at most one row may match an incident "
                             "(narrow a cell, or use `hit: first`)", f"rows.{second.number}")
        if found > MAX_OVERLAPS:
            self.problem(rows[0].line, f"{found - MAX_OVERLAPS} more pairs of rows overlap",
                         "table.rows")


def _pairs_that_may_overlap(rows: list[_Row]) -> Iterator[tuple[int, int]]:
    """The pairs (i < j, in order) of rows that a cell does not already keep apart: two
    rows that each allow only certain values of one column (`one_of`, a plain value) and
    share none of them never overlap. Indexed on the column where most rows do, a table of
    thousands of rows keyed by a code (one SKU a row) is checked in linear time, not by
    comparing every pair (3,000 rows had taken 36 s)."""
    width = len(rows[0].constraints) if rows else 0
    costs = [_pairs_indexed_on(rows, c) for c in range(width)]
    if not costs or min(costs) == math.inf:
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                yield i, j
        return
    column = costs.index(min(costs))
    by_value: dict[object, list[int]] = {}
    open_rows: list[int] = []  # rows that allow any value of the column not excluded
    for index, row in enumerate(rows):
        equal = row.constraints[column].equal
        if equal is None:
            open_rows.append(index)
        else:
            for value in equal:
                by_value.setdefault(value, []).append(index)
    for i, row in enumerate(rows):
        equal = row.constraints[column].equal
        if equal is None:
            partners: Iterable[int] = range(i + 1, len(rows))
        else:
            partners = sorted({j for value in equal for j in by_value[value] if j > i}
                              | {j for j in open_rows if j > i})
        for j in partners:
            yield i, j


def _pairs_indexed_on(rows: list[_Row], column: int) -> int | float:
    """About how many pairs an index on `column` leaves to compare: those sharing a value,
    and each row open in that column with every other; infinite when no row names values
    there (a boolean column of two values leaves nearly every pair)."""
    sharing: dict[object, int] = {}
    open_rows = 0
    for row in rows:
        equal = row.constraints[column].equal
        if equal is None:
            open_rows += 1
        else:
            for value in equal:
                sharing[value] = sharing.get(value, 0) + 1
    if not sharing:
        return math.inf
    return sum(n * (n - 1) // 2 for n in sharing.values()) + open_rows * len(rows)


def _row_name(row: _Row, plural: bool = True) -> str:
    name = f"rows {row.number}" if plural else str(row.number)
    return f"{name} ({row.rule_id})" if row.own_id else name


def _overlap(first: _Row, second: _Row, inputs: list[_Input], domains: list) -> str | None:
    parts = []
    for column, domain, a, b in zip(inputs, domains, first.constraints, second.constraints,
                                    strict=True):
        if a is _EVERYTHING and b is _EVERYTHING:
            parts.append(f"any {column.path}")
            continue
        both = a.both(b)
        example = _witness(both, domain)
        if example is None:
            return None
        parts.append(_describe(column.path, example, both, domain))
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# ---- cells as sets of values ------------------------------------------------------------------


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


_UNKNOWN: Any = _Marker("UNKNOWN")  # a cell the overlap check cannot judge (a problem, a type)
_MISSING = _Marker("MISSING")  # the field is not given
_OTHER = _Marker("OTHER")  # some value of an unbounded unordered type not excluded


@dataclass(frozen=True)
class _Domain:
    """The values of one column's field, as the condition language compares them."""

    encode: Callable[[object], object]  # a rule value as compared; ValueError if mistyped
    show: Callable[[object], str]
    ordered: bool = False  # less/greater tests apply
    discrete: bool = False  # ordered, in whole steps of 1 (encoded integers, days)
    values: tuple | None = None  # every value, when there are few (booleans, enum choices)
    may_be_missing: bool = True


@dataclass(frozen=True)
class _Cell:
    """What one cell allows: a value within the bounds, among `equal` (if given) and not
    among `excluded`; `needs_value` / `needs_missing` say whether the field must be given."""

    lo: object = None
    lo_in: bool = True
    hi: object = None
    hi_in: bool = True
    equal: frozenset | None = None
    excluded: frozenset = frozenset()
    needs_value: bool = False
    needs_missing: bool = False

    def above(self, value, inclusive: bool) -> _Cell:
        if self.lo is None or value > self.lo:
            return replace(self, lo=value, lo_in=inclusive)
        if value == self.lo:
            return replace(self, lo_in=self.lo_in and inclusive)
        return self

    def below(self, value, inclusive: bool) -> _Cell:
        if self.hi is None or value < self.hi:
            return replace(self, hi=value, hi_in=inclusive)
        if value == self.hi:
            return replace(self, hi_in=self.hi_in and inclusive)
        return self

    def among(self, values: frozenset) -> _Cell:
        return replace(self, equal=values if self.equal is None else self.equal & values,
                       needs_value=True)

    def both(self, other: _Cell) -> _Cell:
        cell = self
        if other.lo is not None:
            cell = cell.above(other.lo, other.lo_in)
        if other.hi is not None:
            cell = cell.below(other.hi, other.hi_in)
        if other.equal is not None:
            cell = cell.among(other.equal)
        return replace(cell, excluded=cell.excluded | other.excluded,
                       needs_value=cell.needs_value or other.needs_value,
                       needs_missing=cell.needs_missing or other.needs_missing)


_EVERYTHING: Any = _Cell()


def _constraint(test: object, domain: _Domain) -> _Cell:
    cell = _Cell()
    try:
        if not isinstance(test, dict):
            return cell.among(frozenset([domain.encode(test)]))
        for op, operand in test.items():
            if op in ("present", "missing"):
                wants_value = operand == (op == "present")
                cell = replace(cell, needs_value=cell.needs_value or wants_value,
                               needs_missing=cell.needs_missing or not wants_value)
            elif op in ("one_of", "none_of"):
                values = frozenset(domain.encode(v) for v in operand)
                cell = cell.among(values) if op == "one_of" else replace(
                    cell, excluded=cell.excluded | values)
            else:
                code, value = COMPARISONS[op], domain.encode(operand)
                if code == "eq":
                    cell = cell.among(frozenset([value]))
                elif code == "neq":
                    cell = replace(cell, excluded=cell.excluded | {value}, needs_value=True)
                elif not domain.ordered:
                    return _UNKNOWN
                elif code in ("gt", "gte"):
                    cell = replace(cell.above(value, code == "gte"), needs_value=True)
                else:
                    cell = replace(cell.below(value, code == "lte"), needs_value=True)
    except (ValueError, TypeError):
        return _UNKNOWN
    return cell


def _witness(cell: _Cell, domain: _Domain) -> object | None:
    """A value (or _MISSING, or _OTHER) the cell allows, or None when there is none."""
    if cell.needs_value and cell.needs_missing:
        return None
    if cell.needs_missing:
        return _MISSING if domain.may_be_missing else None
    value = _value_witness(cell, domain)
    if value is None and not cell.needs_value and domain.may_be_missing:
        return _MISSING
    return value


def _value_witness(cell: _Cell, domain: _Domain) -> object | None:
    if cell.equal is not None or domain.values is not None:
        pool = cell.equal if cell.equal is not None else frozenset(domain.values or ())
        if domain.values is not None:
            pool = pool & frozenset(domain.values)
        for value in sorted(pool - cell.excluded, key=_order):
            if _within(value, cell):
                return value
        return None
    if not domain.ordered:
        return _OTHER
    return _ordered_witness(cell, domain.discrete)


def _within(value, cell: _Cell) -> bool:
    try:
        if cell.lo is not None and (value < cell.lo or (value == cell.lo and not cell.lo_in)):
            return False
        return not (cell.hi is not None and (value > cell.hi or (
            value == cell.hi and not cell.hi_in)))
    except TypeError:
        return False


def _ordered_witness(cell: _Cell, discrete: bool) -> object | None:
    """A value within the bounds and not excluded. Among len(excluded) + 1 distinct values
    within the bounds, one is not excluded; the bounds themselves come first."""
    lo, hi, need = cell.lo, cell.hi, len(cell.excluded) + 1
    if discrete:
        start = None if lo is None else (lo if cell.lo_in else lo + 1)
        end = None if hi is None else (hi if cell.hi_in else hi - 1)
        if start is not None and end is not None and start > end:
            return None
        if start is not None:
            stop = start + need if end is None else min(end + 1, start + need)
            candidates: Any = range(start, stop)
        elif end is not None:
            candidates = range(end, end - need, -1)
        else:
            candidates = range(need)
    elif lo is not None and hi is not None:
        if lo > hi or (lo == hi and not (cell.lo_in and cell.hi_in)):
            return None
        candidates = [lo] if lo == hi else [
            *([lo] if cell.lo_in else []), *([hi] if cell.hi_in else []), (lo + hi) / 2,
            *(lo + (hi - lo) * k / (need + 1) for k in range(1, need + 1))]
    elif lo is not None:
        candidates = [*([lo] if cell.lo_in else []), *(lo + k for k in range(1, need + 1))]
    elif hi is not None:
        candidates = [*([hi] if cell.hi_in else []), *(hi - k for k in range(1, need + 1))]
    else:
        candidates = [Decimal(k) for k in range(need)]
    return next((value for value in candidates if value not in cell.excluded), None)


def _describe(path: str, example: object, cell: _Cell, domain: _Domain) -> str:
    if example is _MISSING:
        return f"no {path}"
    if example is _OTHER:
        if not cell.excluded:
            return f"{path} of any value" if cell.needs_value else f"any {path}"
        return f"{path} other than " + ", ".join(domain.show(v) for v in sorted(
            cell.excluded, key=_order))
    return f"{path} = {domain.show(example)}"


def _order(value: object) -> tuple:
    return (type(value).__name__, value)


# ---- field types --------------------------------------------------------------------------


def _spec_domain(spec: FieldSpec) -> _Domain:
    """Values as the engine compares them: spec.encode (decimals scaled to whole numbers,
    dates as day numbers), so 'whole steps' is exact for integers, decimals and dates."""
    kind = spec.type.name

    def encode(value):
        try:
            return spec.encode(value)
        except ValueTypeError as error:
            raise ValueError(str(error)) from None

    show: Callable[[object], str] = _show
    if kind == "decimal":
        def show(value):
            return _show(Decimal(value) / DECIMAL_SCALE)
    elif kind == "date":
        def show(value):  # an example from an open range may fall outside the calendar
            return date.fromordinal(min(max(value, 1), date.max.toordinal())).isoformat()
    values = (False, True) if kind == "boolean" else spec.choices if kind == "enum" else None
    # A derived decimal is exact (DerivedDecimalType): it falls between 4-place steps too (a
    # version activated before it was loads as it did).
    discrete = spec.type.ordered and not (isinstance(spec.type, DerivedDecimalType)
                                          and checked_as_new())
    return _Domain(encode, show, ordered=spec.type.ordered, discrete=discrete,
                   values=values, may_be_missing=spec.optional)


def _values_of(test: object) -> list:
    if test is None or test is _UNKNOWN:
        return []
    if not isinstance(test, dict):
        return [test]
    found = []
    for op, operand in test.items():
        if op in ("one_of", "none_of"):
            found.extend(operand)
        elif op not in ("present", "missing"):
            found.append(operand)
    return found


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | Decimal | float):
        return "number"
    if isinstance(value, date) and not isinstance(value, datetime):
        return "date"
    if isinstance(value, str):
        return "text"
    return "other"


def _inferred_domain(values: list) -> _Domain:
    """Without the policy's fields, a column's type is what its cells hold: numbers are taken
    as continuous (a decimal field), dates in whole days; may always be missing."""
    kinds = {_kind(v) for v in values}
    kind = kinds.pop() if len(kinds) == 1 else "mixed" if kinds else "text"
    if kind == "number":
        def number(value):
            if _kind(value) != "number":
                raise ValueError(f"not a number: {value!r}")
            return Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        return _Domain(number, _show, ordered=True)
    if kind == "date":
        def day(value):
            if _kind(value) != "date":
                raise ValueError(f"not a date: {value!r}")
            return value.toordinal()
        return _Domain(day, lambda v: date.fromordinal(v).isoformat(), ordered=True,
                       discrete=True)
    if kind == "boolean":
        def boolean(value):
            if not isinstance(value, bool):
                raise ValueError(f"not true or false: {value!r}")
            return value
        return _Domain(boolean, _show, values=(False, True))
    if kind == "text":
        def text(value):
            if not isinstance(value, str):
                raise ValueError(f"not text: {value!r}")
            return value
        return _Domain(text, _show)
    return _Domain(lambda v: (_kind(v), v), lambda v: _show(v[1]))  # unordered


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else format(
            value.normalize(), "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# ---- small helpers --------------------------------------------------------------------------


def _input_fault(cell: object) -> str | None:
    """Why a cell is not a value, "-" or a test mapping; None when it is one."""
    if cell is None:
        return "the cell is empty (write \"-\" for any value)"
    if isinstance(cell, LineList | list):
        return "a list is not a cell (for several values write `{one_of: [...]}`)"
    if not isinstance(cell, dict):
        return None
    if not cell:
        return "an empty test"
    for op, operand in cell.items():
        if op in ("present", "missing"):
            if not isinstance(operand, bool):
                return f"`{op}` takes true or false"
        elif op in ("one_of", "none_of"):
            if (not isinstance(operand, list) or not operand or len(operand) > MAX_LIST
                    or not all(_scalar(v) for v in operand)):
                return f"`{op}` takes a list of 1 to {MAX_LIST} values"
        elif op in COMPARISONS:
            if not _scalar(operand):
                return f"`{op}` takes a single value"
        else:
            hint = _ALIASES.get(str(op))
            return f"unknown test `{op}`" + (f" (did you mean `{hint}`?)" if hint else "")
    return None


def _scalar(value: object) -> bool:
    return value is not None and not isinstance(value, dict | list)


def _valid_id(value: object) -> bool:
    return isinstance(value, str) and _passes(RULE_ID, value)


def _valid_name(value: object) -> bool:
    return isinstance(value, str) and _passes(NAME, value)


def _passes(validator, value: str) -> bool:
    try:
        validator(value)
    except ValidationError:
        return False
    return True


def _step_list(cell: object, line: int = 0) -> object:
    """A steps cell as a list of steps (a single step stands for a list of one)."""
    return _list(line, [(cell, line)]) if isinstance(cell, str | LineDict) else cell


def _flatten(messages, path: tuple = ()):
    """(dotted sub-field, message) pairs of a marshmallow error."""
    if isinstance(messages, dict):
        for key, sub in messages.items():
            yield from _flatten(sub, path if key == "_schema" else (*path, str(key)))
    elif isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict | list):
                yield from _flatten(message, path)
            elif message == "Unknown field." and path:
                yield ".".join(path), f"unknown field `{path[-1]}`."
            else:
                yield ".".join(path), str(message)
    else:
        yield ".".join(path), str(messages)


def _mapping(line: int, entries) -> LineDict:
    """A LineDict as yaml_lines would read it: (key, value, line) entries."""
    result = LineDict()
    result.line, result.key_lines, result.duplicate_keys = line, {}, []
    for key, value, key_line in entries:
        result[key] = value
        result.key_lines[key] = key_line
    return result


def _list(line: int, items) -> LineList:
    """A LineList as yaml_lines would read it: (value, line) items."""
    result = LineList(value for value, _ in items)
    result.line = line
    result.item_lines = [item_line for _, item_line in items]
    return result
