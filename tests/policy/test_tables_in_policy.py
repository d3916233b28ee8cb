"""Decision tables in a policy (issue 11): a rules file that is a table loads as its rows'
rules, `unique` tables are checked for overlapping rows, and of a `first` table only the first
matching row applies; the engine and the reference evaluator agree."""

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.app.active_policy import ActivePolicy, read_policy
from service.app.intake import parse_incident
from service.domain.decision import decide
from service.domain.incident import History
from service.policy.conditions import fired_by_reference
from service.policy.problems import PolicyInvalid
from tests.conftest import design_example, examples
from tests.support.policy_files import copy_policy, edit

CONTEXT = ("  distance_km: {type: integer, required: true, unit: km}\n"
           "  intra_eu: {type: boolean}\n")
KINDS = "remedy_kinds:\n  cash_compensation: {scales: false, statutory: true}\n"

AMOUNTS = textwrap.dedent("""\
    table:
      id: eu261-amount
      description: EU 261 Art. 7(1) compensation by distance
      priority: 100
      hit: unique
      when: {failure.category: cancelled_service}
      inputs: [context.distance_km, context.intra_eu]
      outputs:
        - remedy: cash_compensation
        - steps
      rows:
        - [{at_most: 1500}, "-", {amount: {EUR: "250", USD: "250", GBP: "250"}}, "-"]
        - [{greater_than: 1500, at_most: 3500}, "-",
           {amount: &four_hundred {EUR: "400", USD: "400", GBP: "400"}}, "-"]
        - [{greater_than: 3500}, true, {amount: *four_hundred}, "-"]
        - id: long-haul
          cells: [{greater_than: 3500}, {none_of: [true]},
                  {amount: {EUR: "600", USD: "600", GBP: "600"}}, [apologize]]
    """)

FIRST = textwrap.dedent("""\
    table:
      id: care
      description: How long a wait earns a voucher
      priority: 90
      hit: first
      inputs: [context.distance_km]
      outputs: [{remedy: store_credit}]
      rows:
        - [{at_least: 3500}, {amount: {EUR: "30", USD: "30", GBP: "30"}}]
        - [{at_least: 1500}, {amount: {EUR: "20", USD: "20", GBP: "20"}}]
        - ["-", {amount: {EUR: "10", USD: "10", GBP: "10"}}]
    """)


def with_tables(folder, *tables):
    edit(folder, "policy.yaml", "context:\n", "context:\n" + CONTEXT)
    edit(folder, "policy.yaml", "history_window_days:", KINDS + "history_window_days:")
    roles = folder / "roles.yaml"
    roles.write_text(roles.read_text().replace("free_upgrade, refund, replacement]",
                                               "free_upgrade, refund, replacement, "
                                               "cash_compensation]"))
    for number, table in enumerate(tables):
        (folder / f"table{number}.yaml").write_text(table)
    (folder / "tests.yaml").write_text("tests: []\n")
    return folder


@pytest.fixture(scope="module")
def active(tmp_path_factory):
    folder = copy_policy(tmp_path_factory.mktemp("tables") / "policy")
    return ActivePolicy.prove(read_policy(with_tables(folder, AMOUNTS, FIRST)))


def flight(distance, intra_eu=None, category="cancelled_service"):
    context = {"distance_km": distance, **({} if intra_eu is None else {"intra_eu": intra_eu})}
    return design_example(customer_ask=None, context=context, failure__category=category)


def offered(active, body, role="manager"):
    decision = active.decide(parse_incident(body, active.policy), role, History())
    return decision, {o.remedy: str(o.value.amount) for o in decision.offers}


@pytest.mark.parametrize(("distance", "intra_eu", "amount", "row"), [
    (1500, None, "250.00", "eu261-amount.1"), (1501, None, "400.00", "eu261-amount.2"),
    (3500, False, "400.00", "eu261-amount.2"), (3501, True, "400.00", "eu261-amount.3"),
    (3501, False, "600.00", "long-haul"), (9000, None, "600.00", "long-haul")])
def test_a_unique_table_picks_the_one_matching_row(active, distance, intra_eu, amount, row):
    decision, offers = offered(active, flight(distance, intra_eu))
    assert offers["cash_compensation"] == amount
    assert row in [rule.id for rule in decision.trace]
    assert sum(rule.id.startswith("eu261-amount.") or rule.id == "long-haul"
               for rule in decision.trace) == 1


def test_a_row_is_a_rule_with_the_tables_description_and_its_own_steps(active):
    rule = active.policy.rules_by_id["long-haul"]
    assert rule.description == "EU 261 Art. 7(1) compensation by distance (row 4)"
    assert [step.step for step in rule.steps] == ["apologize"]
    assert rule.file.endswith("table0.yaml")


@pytest.mark.parametrize(("distance", "credit", "row"), [
    (4000, "30.00", "care.1"), (2000, "20.00", "care.2"), (100, "10.00", "care.3")])
def test_of_a_first_table_only_the_first_matching_row_applies(active, distance, credit, row):
    decision, offers = offered(active, flight(distance, category="late_delivery"))
    assert offers["store_credit"] == credit
    assert [r.id for r in decision.trace if r.id.startswith("care.")] == [row]


def test_overlapping_rows_of_a_unique_table_are_refused_by_row(tmp_path):
    folder = copy_policy(tmp_path / "policy")
    with_tables(folder, AMOUNTS.replace("{greater_than: 1500, at_most: 3500}",
                                        "{at_least: 1500, at_most: 3500}"))
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(folder)
    messages = [p.message for p in caught.value.problems]
    assert any("rows 1 and 2 overlap" in m and "1500" in m for m in messages), messages


def test_a_cell_of_the_wrong_type_is_reported_by_row_and_column(tmp_path):
    folder = copy_policy(tmp_path / "policy")
    with_tables(folder, AMOUNTS.replace("[{at_most: 1500}, \"-\"", "[{at_most: far}, \"-\""))
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(folder)
    problem = next(p for p in caught.value.problems if p.field and p.field.startswith("rows."))
    assert problem.field == "rows.1.context.distance_km"
    assert problem.file.endswith("table0.yaml") and problem.line == 12


@settings(max_examples=examples(200), deadline=None)
@given(distance=st.integers(0, 12_000), intra_eu=st.none() | st.booleans(),
       category=st.sampled_from(["cancelled_service", "late_delivery"]))
def test_the_engine_and_the_reference_agree_on_tables(active, distance, intra_eu, category):
    incident = parse_incident(flight(distance, intra_eu, category), active.policy)
    assert active.decide(incident, "manager", History()) == decide(
        incident, History(), active.policy, "manager",
        lambda fact: fired_by_reference(active.policy.rules, fact))
