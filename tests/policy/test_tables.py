"""Decision tables: rows compile to ordinary rules; problems by row and column; `unique`
tables report every pair of rows one incident could match (checked against brute force)."""

import itertools
import re
import textwrap
from decimal import Decimal

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.fields import DECIMAL_SCALE, FieldSpec, incident_fields
from service.engine.compiler import compile_rule
from service.policy import tables
from service.policy.conditions import ALWAYS, ConditionParser, holds
from service.policy.model import Rule
from service.policy.tables import MAX_OVERLAPS, TableRuleSchema, compile_table, is_table
from service.policy.yaml_lines import LineDict, load_yaml
from tests.conftest import examples

FILE = "rules/eu261.yaml"
CONTEXT = (
    FieldSpec("context.distance_km", "integer", True),
    FieldSpec("context.intra_eu", "boolean", True),
    FieldSpec("context.cancelled", "boolean", True),
    FieldSpec("context.cabin", "enum", True, ("economy", "business", "first")),
    FieldSpec("context.delay_hours", "decimal", True),
    FieldSpec("context.booked_on", "date", True),
    FieldSpec("context.always_there", "boolean", False),
)
FIELDS = incident_fields(("standard", "gold"), ("late_delivery", "cancelled_service"),
                         ("EUR",), ("cash_compensation", "discount"), CONTEXT)

EU261 = textwrap.dedent("""\
    table:
      id: eu261-amount
      description: EU 261 Art. 7(1) compensation by flight distance
      priority: 100
      hit: unique
      when: {context.cancelled: false}
      inputs: [context.distance_km, context.intra_eu]
      outputs:
        - remedy: cash_compensation
        - factor: long_delay
        - steps
      rows:
        - [{at_most: 1500}, "-", {amount: {EUR: "250"}}, hurts, "-"]
        - [{greater_than: 1500, at_most: 3500}, "-", {amount: {EUR: "400"}}, hurts, "-"]
        - [{greater_than: 3500}, true, {amount: {EUR: "400"}}, hurts, "-"]
        - id: long-haul
          cells: [{greater_than: 3500}, false, {amount: {EUR: "600"}}, hurts, [apologize]]
    """)


def plain(node):
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node


def compiled(text, fields=FIELDS):
    return compile_table(load_yaml(textwrap.dedent(text)), FILE, fields)


def table(rows, inputs="[context.distance_km]", outputs="[{factor: long_delay}]",
          extra="", hit="unique"):
    """A table document's text with the given rows (YAML lines) and columns."""
    body = "".join(f"    {row}\n" for row in rows)
    return (f"table:\n  id: t\n  description: A table\n  hit: {hit}\n{extra}"
            f"  inputs: {inputs}\n  outputs: {outputs}\n  rows:\n{body}")


def overlaps(problems):
    """(row, row) pairs a `unique` table reported as overlapping, with the example given."""
    found = {}
    for problem in problems:
        match = re.match(r"rows (\d+)(?: \(\S+\))? and (\d+)(?: \(\S+\))? overlap: both match "
                         r"(.*?); with", problem.message)
        if match:
            found[int(match[1]), int(match[2])] = match[3]
    return found


def only(problems):
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def check_as_loader_would(rules, fields=FIELDS):
    """The rules validate and compile exactly as rules written by hand would."""
    problems = []
    for index, raw in enumerate(rules):
        data = TableRuleSchema().load(raw)
        when = ConditionParser(fields, FILE, data["id"], problems).parse(
            raw.get("when"), raw.line_of("when"))
        assert not problems, [str(p) for p in problems]
        compile_rule(Rule(id=data["id"], description=data["description"], when=when,
                          priority=data["priority"], index=index, file=FILE, line=raw.line),
                     fields)
    return problems


def conditions(rules, fields=FIELDS):
    return {raw["id"]: ConditionParser(fields, FILE, raw["id"], []).parse(
        raw.get("when"), raw.line_of("when")) for raw in rules}


# ---- compiling ----------------------------------------------------------------------------


def test_eu261_distance_bands_compile_to_one_rule_per_row():
    document = load_yaml(EU261)
    assert is_table(document)
    rules, problems = compile_table(document, FILE, FIELDS)
    assert problems == []
    description = "EU 261 Art. 7(1) compensation by flight distance"
    not_cancelled = {"context.cancelled": False}

    def rule(number, cells, amount, steps=None, rule_id=None):
        then = {"factors": {"long_delay": "hurts"}}
        if steps:
            then["steps"] = steps
        then["remedies"] = [{"kind": "cash_compensation", "amount": {"EUR": amount}}]
        return {"id": rule_id or f"eu261-amount.{number}",
                "description": f"{description} (row {number})", "priority": 100,
                "when": {"all": [not_cancelled, *cells]}, "then": then, "row": number}

    assert [plain(r) for r in rules] == [
        rule(1, [{"context.distance_km": {"at_most": 1500}}], "250"),
        rule(2, [{"context.distance_km": {"greater_than": 1500, "at_most": 3500}}], "400"),
        rule(3, [{"context.distance_km": {"greater_than": 3500}},
                 {"context.intra_eu": True}], "400"),
        rule(4, [{"context.distance_km": {"greater_than": 3500}},
                 {"context.intra_eu": False}], "600", ["apologize"], "long-haul"),
    ]
    # lines point into the table: each rule at its row, the row's own id at its key
    assert [r.line for r in rules] == [13, 14, 15, 16]
    assert rules[3].line_of("id") == 16
    assert rules[3]["then"]["remedies"].line_of(0) == 17
    assert rules[0]["when"]["all"][1].line_of("context.distance_km") == 13
    check_as_loader_would(rules)

    by_id = conditions(rules)

    def fired(**facts):
        fact = {f"context.{k}": v for k, v in facts.items()}
        return [rule_id for rule_id, when in by_id.items() if holds(when, fact)]

    assert fired(cancelled=False, distance_km=1500) == ["eu261-amount.1"]
    assert fired(cancelled=False, distance_km=1501) == ["eu261-amount.2"]
    assert fired(cancelled=False, distance_km=3500, intra_eu=False) == ["eu261-amount.2"]
    assert fired(cancelled=False, distance_km=3501, intra_eu=True) == ["eu261-amount.3"]
    assert fired(cancelled=False, distance_km=9000, intra_eu=False) == ["long-haul"]
    assert fired(cancelled=True, distance_km=800) == []


def test_without_the_policy_fields_the_same_rules_come_out():
    with_fields, _ = compile_table(load_yaml(EU261), FILE, FIELDS)
    without, problems = compile_table(load_yaml(EU261), FILE)
    assert problems == []
    assert [plain(r) for r in without] == [plain(r) for r in with_fields]


def test_hit_first_keeps_row_order_and_allows_overlaps():
    rules, problems = compiled(table([
        "- [{at_least: 4}, blocks]",
        "- [{at_least: 2}, hurts]",
        "- ['-', helps]",
    ], extra="  priority: 250\n", hit="first"))
    assert problems == []
    assert [(r["id"], r["priority"], r["first_of"], r["row"]) for r in rules] == [
        ("t.1", 250, "t", 1), ("t.2", 250, "t", 2), ("t.3", 250, "t", 3)]
    assert "when" not in rules[2]  # a row of "-" only always applies
    assert TableRuleSchema().load(rules[0])["first_of"] == "t"
    check_as_loader_would(rules)


def test_hit_unique_reports_the_same_rows_as_overlapping():
    rules, problems = compiled(table([
        "- [{at_least: 4}, blocks]",
        "- [{at_least: 2}, hurts]",
        "- ['-', helps]",
    ]))
    assert overlaps(problems) == {(1, 2): "context.distance_km = 4",
                                  (1, 3): "context.distance_km = 4",
                                  (2, 3): "context.distance_km = 2"}
    assert all("first_of" not in r for r in rules)
    assert [p.line for p in problems] == [9, 10, 10]
    assert problems[0].field == "rows.2"
    assert problems[0].rule == "t"


def test_unique_is_the_default_and_a_table_may_have_no_when():
    rules, problems = compiled("""\
        table:
          id: severity
          description: By severity
          inputs: [failure.severity]
          outputs: [{factor: severe}]
          rows:
            - [{at_least: 4}, hurts]
            - [{at_least: 5}, blocks]
        """)
    assert overlaps(problems) == {(1, 2): "failure.severity = 5"}
    assert [r["priority"] for r in rules] == [500, 500]
    assert plain(rules[0]["when"]) == {"all": [{"failure.severity": {"at_least": 4}}]}


def test_output_cells_become_the_rule_effects():
    rules, problems = compiled(table(
        ["- [1, '-', '-', '-', '-']",
         "- [2, {percent: 10, cap: {percent: 50}, reason: Sorry}, helps, apologize, "
         "{value: order_value}]",
         "- [3, '-', '-', [{step: follow_up, after_days: 3}], '-']"],
        outputs="[{remedy: discount}, {factor: minor}, steps, {remedy: cash_compensation}]"))
    assert problems == []
    assert [plain(r["then"]) for r in rules] == [
        {},
        {"factors": {"minor": "helps"}, "steps": ["apologize"],
         "remedies": [{"kind": "discount", "percent": 10, "cap": {"percent": 50},
                       "reason": "Sorry"},
                      {"kind": "cash_compensation", "value": "order_value"}]},
        {"steps": [{"step": "follow_up", "after_days": 3}]},
    ]
    check_as_loader_would(rules)


# ---- problems, by row and column --------------------------------------------------------------


def test_a_row_with_the_wrong_number_of_cells():
    rules, problems = compiled(table(["- [1, helps]", "- [2, hurts, blocks]", "- [3]"]))
    assert [(p.line, p.field, p.message) for p in problems] == [
        (9, "rows.2", "row 2 has 3 cells; the table has 2 columns: context.distance_km, "
                      "factor long_delay"),
        (10, "rows.3", "row 3 has 1 cells; the table has 2 columns: context.distance_km, "
                       "factor long_delay"),
    ]
    assert [r["id"] for r in rules] == ["t.1"]  # rows with problems are left out


def test_input_columns_must_be_known_fields_once_each():
    problems = compiled(table(
        ["- [1, 2, 3, 4, helps]"],
        inputs="[severity, context.nope, context.distance_km, context.distance_km]"))[1]
    assert [(p.line, p.field) for p in problems] == [(5, "table.inputs")] * 3
    assert "input column 1 `severity` is not an incident field; name one by its dotted path" \
        in problems[0].message
    assert problems[1].message.startswith("input column 2: unknown field `context.nope`")
    assert problems[2].message.startswith("input column 4: `context.distance_km` is already "
                                          "column 3")
    # without the policy's fields only the form is checked
    problems = compiled(table(["- [1, helps]"], inputs="[severity]"), fields=None)[1]
    assert "not an incident field" in only(problems).message


@pytest.mark.parametrize(("cell", "message"), [
    ("[1, 2]", "a list is not a cell (for several values write `{one_of: [...]}`)"),
    ("null", "the cell is empty (write \"-\" for any value)"),
    ("{above: 1500}", "unknown test `above` (did you mean `greater_than`?)"),
    ("{}", "an empty test"),
    ("{one_of: 5}", "`one_of` takes a list of 1 to 100 values"),
    ("{at_least: [1]}", "`at_least` takes a single value"),
    ("{present: 1}", "`present` takes true or false"),
])
def test_an_input_cell_of_the_wrong_form_names_the_allowed_forms(cell, message):
    rules, problems = compiled(table(["- [1, helps]", f"- [{cell}, hurts]"]))
    problem = only(problems)
    assert (problem.line, problem.field, problem.rule) == (9, "rows.2.context.distance_km", "t")
    assert problem.message.startswith(f"row 2, column 1 (context.distance_km): {message}; a "
                                      "cell is a value (`1500`, `true`, `gold`), \"-\" for any "
                                      "value, or a test such as `{at_most: 1500}`")
    assert "one_of, none_of, present, missing" in problem.message
    assert [r["id"] for r in rules] == ["t.1"]


def test_input_values_are_checked_against_the_field_type_by_row_and_column():
    problems = compiled(table(
        ["- [{at_least: high}, '-', helps]", "- [2, gold, hurts]"],
        inputs="[context.distance_km, context.cabin]"))[1]
    assert [(p.line, p.field) for p in problems] == [
        (8, "rows.1.context.distance_km"), (9, "rows.2.context.cabin")]
    assert problems[0].message == ("row 1, column 1 (context.distance_km): `context.distance_km`"
                                   " (integer) expects a whole number, not 'high'")
    assert problems[1].message.startswith("row 2, column 2 (context.cabin): ")
    assert "'gold' is not one of economy, business, first" in problems[1].message


def test_the_tables_when_is_checked_once():
    problems = compiled(table(["- [1, helps]", "- [2, hurts]"],
                              extra="  when: {context.nope: 1}\n"))[1]
    problem = only(problems)
    assert (problem.line, problem.rule, problem.field) == (5, "t", "context.nope")


@pytest.mark.parametrize(("outputs", "cell", "message", "field"), [
    ("[{factor: long_delay}]", "maybe",
     "`maybe` is not an effect; use helps, hurts, blocks or \"-\"", "rows.2.factor.long_delay"),
    ("[{remedy: discount}]", "10",
     "a remedy cell says how its value is computed, as in a rule's remedy without `kind`",
     "rows.2.remedy.discount"),
    ("[{remedy: discount}]", "{kind: discount, percent: 10}",
     "leave `kind` out: the column gives it (discount)", "rows.2.remedy.discount.kind"),
    ("[{remedy: discount}]", "{percent: 10, value: order_value}",
     "Say how the value is computed with exactly one of", "rows.2.remedy.discount.kind"),
    ("[{remedy: discount}]", "{percent: 10, colour: red}",
     "unknown field `colour`.", "rows.2.remedy.discount.colour"),
    ("[steps]", "[apologize, dance]", "Must be one of", "rows.2.steps.1.step"),
])
def test_an_output_cell_of_the_wrong_shape(outputs, cell, message, field):
    rules, problems = compiled(table(["- [1, '-']", f"- [2, {cell}]"], outputs=outputs))
    problem = only(problems)
    assert (problem.line, problem.field) == (9, field)
    column = outputs.strip("[{}]").replace(": ", " ")
    assert problem.message.startswith(f"row 2, column 2 ({column}): ")
    assert message in problem.message
    assert [r["id"] for r in rules] == ["t.1"]


def test_output_columns_have_a_form_and_appear_once():
    problems = compiled(table(["- [1, '-', '-', '-', '-']"], outputs=(
        "[{factor: long_delay}, {factor: long_delay}, {refund: x}, {remedy: Big}]")))[1]
    assert [p.message for p in problems] == [
        "output column 3: factor long_delay is already column 2",
        "output column 4 must be `remedy: <kind>`, `factor: <name>` or `steps`",
        "output column 5: `Big` is not a remedy kind; use lower-case letters, digits and _",
    ]


def test_a_table_keyed_by_a_code_compares_only_the_rows_a_code_could_share(monkeypatch):
    """One row per code (a SKU table): rows that allow only different values of a column
    never overlap, so only the pairs that share a value, or meet a row open in that column,
    are compared; 3,000 rows had taken 36 s, every pair compared. Overlaps are still found
    (the property test below holds the check to brute force)."""
    compared = []
    real = tables._overlap

    def counted(first, second, *args):
        compared.append((first.number, second.number))
        return real(first, second, *args)
    monkeypatch.setattr(tables, "_overlap", counted)
    keyed = [f"- [{code}, helps]" for code in range(1, 401)]
    rows = [*keyed, "- [{one_of: [7, 9]}, hurts]", "- [{at_least: 399}, hurts]"]
    problems = compiled(table(rows))[1]
    assert overlaps(problems) == {(7, 401): "context.distance_km = 7",
                                  (9, 401): "context.distance_km = 9",
                                  (399, 402): "context.distance_km = 399",
                                  (400, 402): "context.distance_km = 400"}
    assert len(compared) < 3 * len(rows)  # not the 81,000 pairs of every two rows
    # Indexed on the column that keeps most rows apart, not the first that names values in
    # as many rows (a flag, here, that every row names too).
    compared.clear()
    flagged = [f"- [{'true' if code % 2 else 'false'}, {code}, helps]" for code in range(1, 401)]
    problems = compiled(table([*flagged, "- [true, {one_of: [7, 9]}, hurts]"],
                              inputs="[context.intra_eu, context.distance_km]"))[1]
    assert set(overlaps(problems)) == {(7, 401), (9, 401)}
    assert len(compared) < 3 * len(flagged)


def test_duplicate_row_ids():
    rules, problems = compiled(table([
        "- {id: short, cells: [1, helps]}",
        "- {id: short, cells: [2, helps]}",
        "- [3, hurts]",
        "- {id: t.3, cells: [4, hurts]}",
    ]))
    assert [(p.line, p.field, p.message) for p in problems] == [
        (9, "rows.2.id", "row 2: duplicate rule id `short`; row 1 has it"),
        (11, "rows.4.id", "row 4: duplicate rule id `t.3`; row 3 has it"),
    ]
    assert [r["id"] for r in rules] == ["short", "t.3"]


@pytest.mark.parametrize("rows", ["", "  rows: []\n", "  rows:\n"])
def test_an_empty_table(rows):
    text = "table:\n  id: t\n  description: d\n  inputs: [failure.severity]\n" \
           "  outputs: [steps]\n" + rows
    rules, problems = compiled(text)
    problem = only(problems)
    assert problem.message.startswith("the table has no rows")
    assert problem.field == "table.rows"
    assert rules == []


def test_unknown_hit_policy_and_other_table_fields():
    rules, problems = compiled("""\
        table:
          id: T
          priority: 0
          hit: any
          colour: red
          inputs: []
          outputs: steps
          rows: [[1, fix]]
        """)
    assert [(p.line, p.field) for p in problems] == [
        (2, "table.id"), (5, "table.colour"), (2, "table.description"), (3, "table.priority"),
        (4, "table.hit"), (6, "table.inputs"), (7, "table.outputs")]
    assert problems[4].message == (
        "unknown hit policy `any`; use `unique`: no two rows may match one incident (checked); "
        "`first`: rows are tried in order and the first matching row applies")
    assert rules == []


def test_a_file_that_is_not_a_table():
    problems = compile_table(load_yaml("table: [1]\nrules: []\n"), FILE)[1]
    assert "a table file holds one mapping, `table:`" in only(problems).message
    problems = compiled(table(["- [1, helps]"]) + "rules: []\n")[1]
    assert only(problems).message.startswith("unknown field `rules`: a table file holds only")


def test_a_cell_no_incident_can_match():
    rules, problems = compiled(table(["- [{at_least: 5, at_most: 3}, helps]",
                                      "- [{greater_than: 2, less_than: 3}, helps]"]))
    assert [p.message for p in problems] == [
        f"row {n}, column 1 (context.distance_km): no incident can match this cell, so the "
        "row never applies" for n in (1, 2)]  # whole kilometres: nothing between 2 and 3
    assert rules == []


def test_the_tables_when_narrows_the_overlap_check():
    rows = ["- [{none_of: [1]}, helps]", "- [{none_of: [2]}, hurts]"]
    assert overlaps(compiled(table(rows))[1]) == {(1, 2): "context.distance_km = 0"}
    narrowed = "  when: {context.distance_km: {one_of: [1, 2]}, any: [{context.cancelled: true}]}\n"
    assert compiled(table(rows, extra=narrowed))[1] == []
    problems = compiled(table(["- ['-', helps]", "- ['-', hurts]"],
                              extra="  when: {context.distance_km: 5}\n"))[1]
    assert overlaps(problems) == {(1, 2): "context.distance_km = 5"}
    problems = compiled(table(["- [{at_most: 4}, helps]"],
                              extra="  when: {context.distance_km: 5}\n"))[1]
    assert only(problems).message == (
        "row 1, column 1 (context.distance_km): no incident the table's `when` lets through "
        "can match this cell, so the row never applies")


def test_many_overlaps_are_counted_beyond_the_first_ones():
    problems = compiled(table(["- ['-', helps]"] * 12))[1]
    assert len(overlaps(problems)) == MAX_OVERLAPS
    assert problems[-1].message == f"{66 - MAX_OVERLAPS} more pairs of rows overlap"


# ---- overlaps, cell by cell ---------------------------------------------------------------


def pair(first, second, path="context.distance_km", fields=FIELDS, other="'-'"):
    """The example with which two rows of one input column overlap, or None."""
    inputs = f"[{path}, context.cancelled]"
    problems = compiled(table([f"- [{first}, {other}, helps]", f"- [{second}, {other}, hurts]"],
                              inputs=inputs), fields)[1]
    assert all("overlap" in p.message for p in problems), [str(p) for p in problems]
    return overlaps(problems).get((1, 2))


@pytest.mark.parametrize(("first", "second", "example"), [
    ("{at_most: 1500}", "{greater_than: 1500}", None),
    ("{at_most: 1500}", "{at_least: 1500}", "context.distance_km = 1500"),
    ("{less_than: 1500}", "{at_least: 1500}", None),
    ("{less_than: 1500}", "{greater_than: 1499}", None),  # whole kilometres
    ("{less_than: 1501}", "{greater_than: 1499}", "context.distance_km = 1500"),
    ("{at_least: 1000, at_most: 2000}", "{at_least: 1500, at_most: 3000}",
     "context.distance_km = 1500"),
    ("{at_most: 2000}", "{at_least: 2001}", None),
    ("1500", "{at_most: 1500}", "context.distance_km = 1500"),
    ("1500", "{not_equals: 1500}", None),
    ("1500", "1500.0", "context.distance_km = 1500"),
    ("{one_of: [1, 2, 3]}", "{one_of: [3, 4]}", "context.distance_km = 3"),
    ("{one_of: [1, 2]}", "{one_of: [3, 4]}", None),
    ("{one_of: [1, 2]}", "{none_of: [1, 2]}", None),
    ("{one_of: [1, 2]}", "{none_of: [1]}", "context.distance_km = 2"),
    ("{none_of: [1]}", "{none_of: [2]}", "context.distance_km = 0"),
    ("{none_of: [1]}", "{missing: true}", "no context.distance_km"),
    ("{at_least: 1}", "{missing: true}", None),
    ("{one_of: [1, 5]}", "{greater_than: 1, less_than: 10}", "context.distance_km = 5"),
    ("{not_equals: 3, at_least: 3, at_most: 4}", "{at_most: 4}", "context.distance_km = 4"),
    ("'-'", "{at_most: 1500}", "context.distance_km = 1500"),
    ("'-'", "{greater_than: 1500}", "context.distance_km = 1501"),
    ("'-'", "{present: true}", "context.distance_km = 0"),
])
def test_overlap_of_two_number_cells(first, second, example):
    found = pair(first, second)
    assert found == (None if example is None else f"{example} and any context.cancelled")


def test_both_cells_any():
    assert pair("'-'", "'-'") == "any context.distance_km and any context.cancelled"


def test_rows_overlap_only_when_every_column_does():
    assert pair("{at_most: 10}", "{at_least: 10}", other="true") == (
        "context.distance_km = 10 and context.cancelled = true")
    problems = compiled(table(["- [{at_most: 10}, true, helps]", "- [{at_least: 10}, false, "
                               "hurts]"], inputs="[context.distance_km, context.intra_eu]"))[1]
    assert problems == []


@pytest.mark.parametrize(("first", "second", "path", "example"), [
    ("{not_equals: true}", "{not_equals: false}", "context.intra_eu", None),
    ("{none_of: [true]}", "{none_of: [false]}", "context.intra_eu", "no context.intra_eu"),
    ("{none_of: [true]}", "{none_of: [false]}", "context.always_there", None),
    ("{none_of: [economy]}", "{none_of: [business]}", "context.cabin", "context.cabin = first"),
    ("{none_of: [economy, first]}", "{one_of: [economy, business]}", "context.cabin",
     "context.cabin = business"),
    ("{greater_than: 1}", "{less_than: 1.0001}", "context.delay_hours", None),
    ("{greater_than: 1}", "{less_than: 1.0002}", "context.delay_hours",
     "context.delay_hours = 1.0001"),
    ("{at_least: 2024-06-01}", "{at_most: 2024-06-01}", "context.booked_on",
     "context.booked_on = 2024-06-01"),
    ("{greater_than: 2024-05-31}", "{less_than: 2024-06-01}", "context.booked_on", None),
    ("{at_least: 2024-06-01}", "{at_most: '2024-06-03', not_equals: 2024-06-03}",
     "context.booked_on", "context.booked_on = 2024-06-01"),
    ("{not_equals: x}", "{not_equals: y}", "failure.description",
     "failure.description other than x, y"),
])
def test_overlap_knows_the_field_types(first, second, path, example):
    found = pair(first, second, path)
    assert found == (None if example is None else f"{example} and any context.cancelled")


@pytest.mark.parametrize(("first", "second", "example"), [
    ("{greater_than: 2}", "{less_than: 3}", "context.distance_km = 2.5"),  # continuous
    ("{greater_than: 2}", "{less_than: 2}", None),
    ("{at_least: 2024-06-01}", "{less_than: 2024-06-02}", "context.distance_km = 2024-06-01"),
    ("{not_equals: true}", "{not_equals: false}", None),  # both booleans: nothing else
    ("{none_of: [a]}", "{none_of: [b]}", "context.distance_km other than a, b"),
])
def test_without_the_policy_fields_types_come_from_the_cells(first, second, example):
    found = pair(first, second, fields=None)
    assert found == (None if example is None else f"{example} and any context.cancelled")


def test_a_mistyped_cell_is_reported_once_and_left_out_of_the_overlap_check():
    problems = compiled(table(["- [{at_least: high}, helps]", "- ['-', hurts]"]))[1]
    assert "expects a whole number" in only(problems).message


# ---- the overlap check against brute force ------------------------------------------------

VALUES = st.integers(0, 6)
OPS = ("at_least", "at_most", "greater_than", "less_than", "equals", "not_equals")
CELLS = st.one_of(
    st.just("-"),
    VALUES,
    st.builds(lambda op, v: {op: v}, st.sampled_from(OPS), VALUES),
    st.builds(lambda lo, a, hi, b: {lo: a, hi: b}, st.sampled_from(["at_least", "greater_than"]),
              VALUES, st.sampled_from(["at_most", "less_than"]), VALUES),
    st.builds(lambda op, vs: {op: vs}, st.sampled_from(["one_of", "none_of"]),
              st.lists(VALUES, min_size=1, max_size=3)),
    st.sampled_from([{"present": True}, {"missing": True}]),
)
KINDS = st.sampled_from([("integer", True), ("integer", False), ("decimal", True),
                         ("decimal", False), (None, True)])  # None: compiled without fields


def brute_force_pairs(conditions, specs):
    """Every pair of rows (each a list of conditions) some incident matches both of, on a grid
    fine enough to find one: bounds are whole numbers, so half steps (and no value at all)
    cover every case."""
    def grid(spec):
        numbers = [Decimal(n) / (1 if spec.type.name == "integer" else 2)
                   for n in range(-2, 15 if spec.type.name == "integer" else 29)]
        return [*numbers, *([None] if spec.optional else [])]

    facts = [{spec.path: spec.encode(v) for spec, v in zip(specs, values, strict=True)
              if v is not None}
             for values in itertools.product(*(grid(spec) for spec in specs))]
    matched = [{n for n, fact in enumerate(facts) if all(holds(c, fact) for c in parts)}
               for parts in conditions]
    return {(i + 1, j + 1) for i, j in itertools.combinations(range(len(conditions)), 2)
            if matched[i] & matched[j]}


def fields_of(specs):
    return incident_fields(("standard",), ("late_delivery",), ("EUR",), ("discount",), specs)


def incident_of(example, fields):
    """The fact an overlap's example describes ("context.c0 = 2.5 and no context.c1")."""
    fact = {}
    for piece in re.split(r", | and ", example):
        match = re.fullmatch(r"(\S+) (?:= (\S+)|of any value)", piece)
        if match:
            value = Decimal(match[2] or 0)  # may have more places than a decimal field
            fact[match[1]] = (int(value) if fields[match[1]].type.name == "integer"
                              else value * DECIMAL_SCALE)
    return fact


@settings(max_examples=examples(200))
@given(kinds=st.lists(KINDS, min_size=1, max_size=2), when=CELLS, data=st.data())
def test_unique_reports_a_pair_exactly_when_some_incident_matches_both(kinds, when, data):
    paths = [f"context.c{n}" for n in range(len(kinds))]
    without_fields = any(kind is None for kind, _ in kinds)
    if without_fields:  # numbers then are continuous and any field may be missing
        kinds = [("decimal", True)] * len(kinds)
    specs = tuple(FieldSpec(path, kind, optional)
                  for path, (kind, optional) in zip(paths, kinds, strict=True))
    fields = fields_of(specs)
    cells = data.draw(st.lists(st.tuples(*[CELLS] * len(paths)), min_size=1, max_size=5))
    spec = {"id": "t", "description": "d", "inputs": paths, "outputs": [{"factor": "f"}],
            "rows": [[*row, "hurts"] for row in cells]}
    if when != "-":
        spec["when"] = {paths[0]: when}
    text = yaml.safe_dump({"table": spec})
    document = load_yaml(text)
    rules, problems = compile_table(document, FILE, None if without_fields else fields)

    parser = ConditionParser(fields, FILE, None, [])
    given_ = [] if when == "-" else [parser.parse(document["table"]["when"], 0)]
    conditions = [given_ + [parser.parse_field(path, cell, 0)
                            for path, cell in zip(paths, row[:len(paths)], strict=True)
                            if cell != "-"]
                  for row in document["table"]["rows"]]
    reported = overlaps(problems)
    assert set(reported) == brute_force_pairs(conditions, specs), (
        text, [str(p) for p in problems])
    for (i, j), example in reported.items():  # each example is an incident both rows match
        fact = incident_of(example, fields)
        assert all(holds(c, fact) for c in conditions[i - 1] + conditions[j - 1]), (
            example, text)
    never = {p.field.split(".")[1] for p in problems if "never applies" in p.message}
    assert all("overlap" in p.message or "never applies" in p.message for p in problems)
    assert len(rules) == len(cells) - len(never)  # overlapping rows stay; others are left out


def test_always_is_the_condition_of_a_rule_without_when():
    rules, _ = compiled(table(["- ['-', helps]"], hit="first"))
    assert conditions(rules) == {"t.1": ALWAYS}
    assert isinstance(rules[0], LineDict)
