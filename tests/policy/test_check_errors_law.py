"""`policy check` on policies that state the law (issue 11): each new kind of problem names
the file, the line, the rule (or table) and the field at fault, and for tables the row and
the column. Each case breaks one thing in an otherwise valid law policy (kinds fixed by law
and with their own ceiling, entitlements and exemptions, derived facts with bands and dates,
computed values and caps, a decision table) and looks at the problem reported for it."""

import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

from service.app.active_policy import ActivePolicy, read_policy
from service.cli import main
from service.policy.problems import PolicyInvalid, Problem
from tests.support.policy_files import copy_policy, edit

KINDS = textwrap.dedent("""\
    holidays: [2026-12-24, 2026-12-25]
    remedy_kinds:
      cash_compensation:
        scales: false
        combines: true
        statutory: true
        description: Compensation fixed by law
      goodwill_voucher:
        scales: true
        ceiling_percent: 300
        description: A voucher with its own ceiling
    """)
CONTEXT = ("  distance_km: {type: integer, unit: km}\n"
           "  passengers: {type: integer, required: true}\n"
           "  fare: {type: decimal, unit: order currency}\n"
           "  arrived_on: {type: date}\n"
           "  claimed_on: {type: date}\n")
DERIVED = textwrap.dedent("""\
    derived:
      distance_band:
        type: enum
        band:
          of: context.distance_km
          ranges:
            - {at_most: 1500, value: short}
            - {at_most: 3500, value: medium}
            - {value: long}
      claim_band:
        type: enum
        band:
          of: context.claimed_on
          ranges:
            - {before: 2026-01-01, value: early}
            - {value: late}
      in_time:
        type: boolean
        compute: context.claimed_on <= context.arrived_on + months(6)
      pay_by:
        type: date
        compute: context.claimed_on + business_days(7)
    """)
RULES = textwrap.dedent("""\
    rules:
      - id: statutory-amount
        description: The law fixes 250.00 a passenger.
        priority: 50
        when: {failure.category: cancelled_service, derived.in_time: true}
        then:
          remedies:
            - kind: cash_compensation
              compute: context.passengers * amount(250 EUR, 270 USD, 210 GBP)
              cap: {compute: "amount(1000 EUR, 1100 USD, 900 GBP)"}
          entitlements:
            - {name: care, description: Meals and refreshments while waiting.}
      - id: voucher
        description: A voucher of 250% of the order, within its own ceiling of 300%.
        priority: 70
        when: {failure.category: cancelled_service}
        then:
          remedies:
            - {kind: goodwill_voucher, percent: 250}
            - {kind: discount, percent: 20}
            - kind: store_credit
              percent: 10
      - id: extraordinary
        description: Extraordinary circumstances exempt the carrier from paying.
        priority: 10
        when: {failure.avoidable: false, failure.category: cancelled_service}
        then:
          withdraw:
            - {remedy: cash_compensation, reason: "extraordinary circumstances"}
            - {entitlement: care, reason: "offered already"}
    """)
TABLE = textwrap.dedent("""\
    table:
      id: by-distance
      description: Compensation by distance
      priority: 100
      hit: unique
      when: {failure.category: cancelled_service}
      inputs: [context.distance_km, failure.avoidable]
      outputs:
        - remedy: cash_compensation
      rows:
        - [{at_most: 1500}, "-", {amount: {EUR: "250", USD: "270", GBP: "210"}}]
        - [{greater_than: 1500, at_most: 3500}, "-", {amount: {EUR: "400", USD: "430", GBP: "340"}}]
        - [{greater_than: 3500}, true, {amount: {EUR: "400", USD: "430", GBP: "340"}}]
        - [{greater_than: 3500}, false, {amount: {EUR: "600", USD: "650", GBP: "510"}}]
    """)


@pytest.fixture
def law(tmp_path) -> Path:
    """A valid law policy: the shipped one with kinds fixed by law and with their own
    ceiling, context facts, derived facts, rules (law.yaml) and a table (table.yaml)."""
    folder = copy_policy(tmp_path / "policy")
    edit(folder, "policy.yaml", "history_window_days:", KINDS + "history_window_days:")
    edit(folder, "policy.yaml", "context:\n", "context:\n" + CONTEXT)
    (folder / "policy.yaml").write_text((folder / "policy.yaml").read_text() + DERIVED)
    roles = folder / "roles.yaml"
    roles.write_text(roles.read_text().replace(
        "free_upgrade, refund, replacement]",
        "free_upgrade, refund, replacement, cash_compensation, goodwill_voucher]"))
    (folder / "law.yaml").write_text(RULES)
    (folder / "table.yaml").write_text(TABLE)
    (folder / "tests.yaml").write_text("tests: []\n")  # the shipped ones know no law
    return folder


def test_the_law_policy_is_valid_before_it_is_broken(law):
    ActivePolicy.load(law).program.close()


def problems_of(folder: Path) -> list[Problem]:
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(folder)
    return caught.value.problems


def line_of(path: Path, text: str) -> int:
    """The number of the one line of the file holding `text`."""
    lines = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(lines) == 1, f"{text!r} is on lines {lines} of {path.name}"
    return lines[0]


class Case(NamedTuple):
    edits: list  # (file, old, new)
    file: str
    line: str | None  # text on the line the problem should name (None: not checked here)
    rule: str | None
    field: str | None  # None: the problem is found by its message (the field is not checked)
    message: str  # part of the message


CASES = {
    # ---- remedy kinds and their ceilings ----------------------------------------------------
    "percent above the goodwill ceiling": Case(
        [("law.yaml", "{kind: discount, percent: 20}", "{kind: discount, percent: 200}")],
        "law.yaml", "{kind: discount, percent: 200}", "voucher", "then.remedies.1.percent",
        "200% is above the ceiling of 150% of the order value for discount"),
    "percent above the kind's ceiling_percent": Case(
        [("law.yaml", "{kind: goodwill_voucher, percent: 250}",
          "{kind: goodwill_voucher, percent: 350}")],
        "law.yaml", "{kind: goodwill_voucher, percent: 350}", "voucher",
        "then.remedies.0.percent",
        "350% is above the ceiling of 300% of the order value for goodwill_voucher"),
    "cap percent above the goodwill ceiling": Case(
        [("law.yaml", "{kind: discount, percent: 20}",
          "{kind: discount, percent: 20, cap: {percent: 160}}")],
        "law.yaml", "cap: {percent: 160}", "voucher", "then.remedies.1.cap.percent",
        "160% is above the ceiling of 150%"),
    "statutory with ceiling_percent": Case(
        [("policy.yaml", "    statutory: true\n",
          "    statutory: true\n    ceiling_percent: 250\n")],
        "policy.yaml", "ceiling_percent: 250", None,
        "remedy_kinds.cash_compensation.ceiling_percent",
        "A statutory kind has no ceiling; drop `ceiling_percent` or `statutory`"),
    # ---- entitlements and exemptions ----------------------------------------------------------
    "withdraw of an unknown remedy kind": Case(
        [("law.yaml", "{remedy: cash_compensation, reason", "{remedy: cash_money, reason")],
        "law.yaml", "{remedy: cash_money", "extraordinary", "then.withdraw.0.remedy",
        "withdraws unknown remedy kind `cash_money`; known: cash_compensation, discount"),
    "withdraw of an entitlement no rule grants": Case(
        [("law.yaml", "{entitlement: care, reason", "{entitlement: rerouting, reason")],
        "law.yaml", None, "extraordinary", None,
        "withdraws entitlement `rerouting`, which no rule grants; granted: care"),
    "entitlement without a description": Case(
        [("law.yaml", "{name: care, description: Meals and refreshments while waiting.}",
          "{name: care}")],
        "law.yaml", "{name: care}", "statutory-amount", "then.entitlements.0.description",
        "Missing data for required field"),
    # ---- derived facts ------------------------------------------------------------------------
    "derived fact with a misspelt fact": Case(
        [("policy.yaml", "context.claimed_on <= context.arrived_on",
          "context.claimed_on <= context.arived_on")],
        "policy.yaml", "context.arived_on", None, "derived.in_time.compute",
        "derived.in_time: at column 23: `context.arived_on` is not a fact; did you mean "
        "`context.arrived_on`?"),
    "derived fact of the wrong type": Case(
        [("policy.yaml", "compute: context.claimed_on + business_days(7)",
          "compute: context.distance_km + 7")],
        "policy.yaml", "compute: context.distance_km + 7", None, "derived.pay_by.compute",
        "derived.pay_by must be a date, this is a number"),
    "derived fact using a later one": Case(
        [("policy.yaml", "compute: context.claimed_on <= context.arrived_on",
          "compute: derived.pay_by <= context.arrived_on")],
        "policy.yaml", "compute: derived.pay_by", None, "derived.in_time.compute",
        "at column 1: `derived.pay_by`"),
    "band ranges not from low to high": Case(
        [("policy.yaml", "{at_most: 3500, value: medium}", "{at_most: 1000, value: medium}")],
        "policy.yaml", None, None, "derived.distance_band.band.ranges.1",
        "derived.distance_band: range 2's bound 1000 is not above the one before (1500)"),
    "band range after the range for the rest": Case(
        [("policy.yaml", "    - {value: long}\n",
          "    - {value: long}\n        - {at_most: 9000, value: ultra}\n")],
        "policy.yaml", None, None, "derived.distance_band.band.ranges.3",
        "range 4 follows the range for the rest (one without a bound), so it never applies"),
    "date band with a number bound": Case(
        [("policy.yaml", "{before: 2026-01-01, value: early}", "{at_most: 20, value: early}")],
        "policy.yaml", None, None, "derived.claim_band.band.ranges.0",
        "derived.claim_band: range 1 bounds a date with `before` or `on_or_before`"),
    "number band with a date bound": Case(
        [("policy.yaml", "{at_most: 1500, value: short}", "{before: 2026-01-01, value: short}")],
        "policy.yaml", None, None, "derived.distance_band.band.ranges.0",
        "range 1 bounds a number with `below` or `at_most`"),
    "band of money": Case(
        [("policy.yaml", "of: context.distance_km", "of: context.fare")],
        "policy.yaml", None, None, "derived.distance_band.band.of",
        "derived.distance_band: a band is of a number or a date, not money"),
    # ---- computed values and caps -------------------------------------------------------------
    "remedy compute that is not money (one line)": Case(
        [("law.yaml", "- {kind: discount, percent: 20}",
          "- {kind: discount, compute: context.passengers * 20}")],
        "law.yaml", "{kind: discount, compute: context.passengers * 20}", "voucher",
        "then.remedies.1.compute",
        "compute: at column 1: a remedy's value must be money, this is a number; write an "
        "amount such as `amount(250 EUR, 250 USD, 250 GBP)`"),
    "remedy compute that is not money": Case(
        [("law.yaml", "compute: context.passengers * amount(250 EUR, 270 USD, 210 GBP)",
          "compute: context.passengers * 250")],
        "law.yaml", None, "statutory-amount", "then.remedies.0.compute",
        "a remedy's value must be money, this is a number"),
    "cap compute missing a currency": Case(
        [("law.yaml", '{compute: "amount(1000 EUR, 1100 USD, 900 GBP)"}',
          '{compute: "amount(1000 EUR, 1100 USD)"}')],
        "law.yaml", None, "statutory-amount", "then.remedies.0.cap.compute",
        "cap.compute: at column 1: amount(...) must name every currency of the policy once: "
        "missing GBP"),
    "cap compute that is not money": Case(
        [("law.yaml", '{compute: "amount(1000 EUR, 1100 USD, 900 GBP)"}',
          '{compute: "context.passengers"}')],
        "law.yaml", None, "statutory-amount", "then.remedies.0.cap.compute",
        "cap.compute: at column 1: a cap must be money, this is a number"),
    # ---- grant_now ----------------------------------------------------------------------------
    "grant_now.prefer naming an unknown kind": Case(
        [("roles.yaml", "roles:\n", "grant_now:\n  prefer: [discount, cash_money]\nroles:\n")],
        "roles.yaml", "prefer: [discount, cash_money]", None, "grant_now.prefer",
        "unknown remedy kind `cash_money` in grant_now.prefer; known: cash_compensation"),
    # ---- decision tables ----------------------------------------------------------------------
    "table input cell of the wrong type": Case(
        [("table.yaml", "[{greater_than: 3500}, true,", "[{greater_than: 3500}, maybe,")],
        "table.yaml", "[{greater_than: 3500}, maybe,", "by-distance",
        "rows.3.failure.avoidable",
        "row 3, column 2 (failure.avoidable): `failure.avoidable` (boolean) expects true or "
        "false, not 'maybe'"),
    "table input cell on a line of its own": Case(
        [("table.yaml", '- [{greater_than: 1500, at_most: 3500}, "-", {amount',
          '- [{greater_than: 1500, at_most: 3500},\n       maybe,\n       {amount')],
        "table.yaml", "maybe,", "by-distance", "rows.2.failure.avoidable",
        "row 2, column 2 (failure.avoidable)"),
    "table input cell with an unknown test": Case(
        [("table.yaml", "[{at_most: 1500}, ", "[{below: 1500}, ")],
        "table.yaml", "[{below: 1500}, ", "by-distance", "rows.1.context.distance_km",
        "row 1, column 1 (context.distance_km): unknown test `below` (did you mean "
        "`less_than`?)"),
    "table output cell with an unknown field": Case(
        [("table.yaml", '{amount: {EUR: "600", USD: "650", GBP: "510"}}',
          '{amount: {EUR: "600", USD: "650", GBP: "510"}, percnt: 5}')],
        "table.yaml", "percnt: 5", "by-distance", "rows.4.remedy.cash_compensation.percnt",
        "row 4, column 3 (remedy cash_compensation): unknown field `percnt`"),
    "overlapping rows of a unique table": Case(
        [("table.yaml", "{greater_than: 1500, at_most: 3500}", "{at_least: 1500, at_most: 3500}")],
        "table.yaml", "{at_least: 1500, at_most: 3500}", "by-distance", "rows.2",
        "rows 1 and 2 overlap: both match context.distance_km = 1500 and any failure.avoidable; "
        "with `hit: unique` at most one row may match an incident"),
    "withdraw of an entitlement no rule grants, at its item": Case(
        [("law.yaml", "{entitlement: care, reason", "{entitlement: rerouting, reason")],
        "law.yaml", "{entitlement: rerouting", "extraordinary", "then.withdraw.1.entitlement",
        "withdraws entitlement `rerouting`, which no rule grants"),
    "band ranges not from low to high, at the range": Case(
        [("policy.yaml", "{at_most: 3500, value: medium}", "{at_most: 1000, value: medium}")],
        "policy.yaml", "{at_most: 1000, value: medium}", None,
        "derived.distance_band.band.ranges.1", "is not above the one before"),
    "date band with a number bound, at the range": Case(
        [("policy.yaml", "{before: 2026-01-01, value: early}", "{at_most: 20, value: early}")],
        "policy.yaml", "{at_most: 20, value: early}", None, "derived.claim_band.band.ranges.0",
        "bounds a date"),
    "band of money, at `of:`": Case(
        [("policy.yaml", "of: context.distance_km", "of: context.fare")],
        "policy.yaml", "of: context.fare", None, "derived.distance_band.band.of",
        "a band is of a number or a date, not money"),
    "remedy compute that is not money, at `compute:`": Case(
        [("law.yaml", "compute: context.passengers * amount(250 EUR, 270 USD, 210 GBP)",
          "compute: context.passengers * 250")],
        "law.yaml", "compute: context.passengers * 250", "statutory-amount",
        "then.remedies.0.compute", "must be money"),
    "cap compute error, at `cap:`": Case(
        [("law.yaml", '{compute: "amount(1000 EUR, 1100 USD, 900 GBP)"}',
          '{compute: "amount(1000 EUR, 1100 USD)"}')],
        "law.yaml", "cap: {compute:", "statutory-amount", "then.remedies.0.cap.compute",
        "missing GBP"),
    "percent above the ceiling, at `percent:`": Case(
        [("law.yaml", "  percent: 10\n", "  percent: 160\n")],
        "law.yaml", "percent: 160", "voucher", "then.remedies.2.percent",
        "160% is above the ceiling of 150% of the order value for store_credit"),
    "table remedy cell missing a currency, by row and column": Case(
        [("table.yaml", '{amount: {EUR: "250", USD: "270", GBP: "210"}}',
          '{amount: {EUR: "250", USD: "270"}}')],
        "table.yaml", '{amount: {EUR: "250", USD: "270"}}', "by-distance",
        "rows.1.remedy.cash_compensation.amount", "row 1, column 3 (remedy cash_compensation)"),
    "table remedy cell compute not money, by row and column": Case(
        [("table.yaml", '{amount: {EUR: "250", USD: "270", GBP: "210"}}',
          '{compute: "context.passengers * 2"}')],
        "table.yaml", '{compute: "context.passengers * 2"}', "by-distance",
        "rows.1.remedy.cash_compensation.compute",
        "row 1, column 3 (remedy cash_compensation)"),
    "table remedy column of an unknown kind, once at its column": Case(
        [("table.yaml", "- remedy: cash_compensation", "- remedy: cash_money")],
        "table.yaml", "- remedy: cash_money", "by-distance", "table.outputs",
        "unknown remedy kind `cash_money`"),
}



def check(folder: Path, case: Case) -> None:
    for file, old, new in case.edits:
        edit(folder, file, old, new)
    problems = problems_of(folder)
    found = [p for p in problems if (p.field == case.field if case.field is not None
                                     else case.message in p.message)]
    assert len(found) == 1, "\n".join(str(p) for p in problems)
    problem = found[0]
    assert Path(problem.file) == folder / case.file
    if case.line is not None:
        assert problem.line == line_of(folder / case.file, case.line), str(problem)
    assert problem.rule == case.rule
    assert case.message in problem.message


@pytest.mark.parametrize("name", CASES)
def test_a_problem_names_file_line_rule_and_field(law, name):
    check(law, CASES[name])


def test_policy_check_prints_file_line_rule_and_field(law, capsys):
    edit(law, "table.yaml", "[{greater_than: 3500}, true,", "[{greater_than: 3500}, maybe,")
    edit(law, "law.yaml", "{kind: discount, percent: 20}", "{kind: discount, percent: 200}")
    assert main(["policy", "check", str(law)]) == 1
    out = capsys.readouterr().out
    row = line_of(law / "table.yaml", "maybe")
    assert (f"{law / 'table.yaml'}:{row}: rule by-distance: field rows.3.failure.avoidable: "
            "row 3, column 2 (failure.avoidable):") in out
    remedy = line_of(law / "law.yaml", "percent: 200")
    assert (f"{law / 'law.yaml'}:{remedy}: rule voucher: field then.remedies.1.percent: 200% "
            "is above the ceiling of 150%") in out


# ---- what the service gets wrong beyond the place -------------------------------------------

DATE_TABLE = textwrap.dedent("""\
    table:
      id: by-day
      description: By the day of the failure
      hit: unique
      inputs: [failure.occurred_on, failure.avoidable]
      outputs: [{remedy: discount}]
      rows:
        - [{present: true}, true, {percent: 5}]
        - [{present: true}, false, {percent: 10}]
    """)


def test_a_unique_table_testing_a_date_without_bounds_is_checked_not_crashed(law):
    (law / "date_table.yaml").write_text(DATE_TABLE)  # rows apart by failure.avoidable
    ActivePolicy.load(law).program.close()


def test_overlapping_rows_testing_a_date_without_bounds_are_reported(law):
    (law / "date_table.yaml").write_text(DATE_TABLE.replace(
        "[{present: true}, true,", '["-", true,').replace(
        "[{present: true}, false,", "[{not_equals: 2024-01-31}, true,"))
    problem = next(p for p in problems_of(law) if p.file.endswith("date_table.yaml"))
    assert problem.field == "rows.2" and "rows 1 and 2 overlap" in problem.message


def test_a_broken_entitlement_is_the_only_problem(law):
    edit(law, "law.yaml", "{name: care, description: Meals and refreshments while waiting.}",
         "{name: care}")
    problems = problems_of(law)
    assert [p.field for p in problems] == ["then.entitlements.0.description"], [
        str(p) for p in problems]


def test_a_broken_derived_fact_is_the_only_problem(law):
    edit(law, "policy.yaml", "context.claimed_on <= context.arrived_on",
         "context.claimed_on <= context.arived_on")
    problems = problems_of(law)
    assert [p.field for p in problems] == ["derived.in_time.compute"], [
        str(p) for p in problems]


def test_a_derived_fact_using_a_later_one_is_told_so(law):
    edit(law, "policy.yaml", "compute: context.claimed_on <= context.arrived_on",
         "compute: derived.pay_by <= context.arrived_on")
    problem = next(p for p in problems_of(law) if p.field == "derived.in_time.compute")
    assert "not a fact" not in problem.message, problem.message
    assert "did you mean" not in problem.message, problem.message
