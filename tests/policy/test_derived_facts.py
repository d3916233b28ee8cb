"""Values computed from facts, derived facts and dates (issue 11): checked at `policy check`
with the column, computed at decision time, tested by rules like any fact, and the engine and
the reference evaluator agree on them."""

import textwrap
from datetime import date, timedelta

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
from tests.support.policy_files import edit

FACTS = textwrap.dedent("""\
    holidays: [2026-12-24, 2026-12-25]
    context:
      distance_km: {type: integer, unit: km}
      fare: {type: decimal, unit: order currency, description: The fare paid}
      passengers: {type: integer}
      already_paid: {type: decimal, unit: order currency}
      arrived_on: {type: date}
      claimed_on: {type: date}
    derived:
      distance_band:
        type: enum
        band:
          of: context.distance_km
          ranges:
            - {at_most: 1500, value: short}
            - {at_most: 3500, value: medium}
            - {value: long}
      in_time:
        type: boolean
        compute: context.claimed_on <= context.arrived_on + months(6)
      pay_by:
        type: date
        compute: context.claimed_on + business_days(7)
      hours_late:
        type: decimal
        compute: (context.claimed_on - context.arrived_on) / 3
    """)

RULES = textwrap.dedent("""\
    rules:
      - id: long-haul
        description: A long flight claimed in time earns 600 a passenger, less what was paid.
        priority: 40
        when:
          derived.distance_band: long
          derived.in_time: true
        then:
          remedies:
            - kind: cash_compensation
              compute: context.passengers * amount(600 EUR, 650 USD, 520 GBP) - context.already_paid
      - id: twice-the-fare
        description: Twice the fare, at most 400 a passenger.
        priority: 41
        when: {derived.distance_band: {one_of: [short, medium]}}
        then:
          remedies:
            - kind: fare_refund
              compute: percent(200, context.fare)
              cap: {compute: "context.passengers * amount(400 EUR, 440 USD, 350 GBP)"}
    """)


@pytest.fixture
def derived_policy(policy_copy):
    text = (policy_copy / "policy.yaml").read_text()
    head, context = text.split("context:\n", 1)
    facts_context, derived = FACTS.split("derived:")
    holidays, declared = facts_context.split("context:\n")
    kinds = ("remedy_kinds:\n  cash_compensation: {scales: false, statutory: true}\n"
             "  fare_refund: {scales: true, statutory: true}\n")
    (policy_copy / "policy.yaml").write_text(
        head + holidays + kinds + "context:\n" + declared + context + "derived:" + derived)
    roles = policy_copy / "roles.yaml"
    roles.write_text(roles.read_text().replace(
        "free_upgrade, refund, replacement]",
        "free_upgrade, refund, replacement, cash_compensation, fare_refund]"))
    (policy_copy / "flights.yaml").write_text(RULES)
    (policy_copy / "tests.yaml").write_text("tests: []\n")
    return policy_copy


def flight(**context):
    body = design_example(customer_ask=None)
    body["context"] = {key: value for key, value in context.items() if value is not None}
    return body


def test_a_band_and_a_date_comparison_pick_the_rule_and_a_formula_its_value(derived_policy):
    active = ActivePolicy.prove(read_policy(derived_policy))
    body = flight(distance_km=5000, passengers=2, already_paid="100.00",
                  arrived_on="2026-01-10", claimed_on="2026-05-01", fare="99.00")
    decision = active.decide(parse_incident(body, active.policy), "manager", History())
    cash = next(o for o in decision.offers if o.remedy == "cash_compensation")
    assert str(cash.value.amount) == "1100.00"  # 2 x 600 - 100
    assert "long-haul" in [r.id for r in decision.trace]
    late = flight(distance_km=5000, passengers=2, already_paid="100.00",
                  arrived_on="2026-01-10", claimed_on="2026-07-11", fare="99.00")
    later = active.decide(parse_incident(late, active.policy), "manager", History())
    assert "long-haul" not in [r.id for r in later.trace]  # claimed after six months


def test_a_computed_value_and_cap(derived_policy):
    active = ActivePolicy.prove(read_policy(derived_policy))
    cheap = flight(distance_km=800, passengers=1, fare="150.00")
    refund = active.decide(parse_incident(cheap, active.policy), "manager", History())
    assert {o.remedy: str(o.value.amount) for o in refund.offers}["fare_refund"] == "300.00"
    dear = flight(distance_km=800, passengers=1, fare="250.00")
    capped = active.decide(parse_incident(dear, active.policy), "manager", History())
    assert {o.remedy: str(o.value.amount) for o in capped.offers}["fare_refund"] == "400.00"


def test_what_is_unknown_or_below_nothing_is_left_out_with_a_note(derived_policy):
    active = ActivePolicy.prove(read_policy(derived_policy))
    no_fare = flight(distance_km=800, passengers=1)
    decision = active.decide(parse_incident(no_fare, active.policy), "manager", History())
    assert "fare_refund" not in {o.remedy for o in decision.offers}
    assert any("its value is unknown here" in note for note in decision.notes)
    overpaid = flight(distance_km=5000, passengers=1, already_paid="900.00",
                      arrived_on="2026-01-10", claimed_on="2026-01-11")
    decision = active.decide(parse_incident(overpaid, active.policy), "manager", History())
    assert any("less than nothing" in note for note in decision.notes)


def test_derived_values_business_days_skip_weekends_and_holidays(derived_policy):
    policy = read_policy(derived_policy)
    pay_by = next(d for d in policy.derived if d.name == "pay_by")
    # Friday 2026-12-18 + 7 business days: 21, 22, 23, (24, 25 holidays), 28, 29, 30, 31.
    assert pay_by.value({"context.claimed_on": date(2026, 12, 18)}, "EUR") == date(2026, 12, 31)
    hours = next(d for d in policy.derived if d.name == "hours_late")
    third = hours.value({"context.claimed_on": date(2026, 1, 11),
                         "context.arrived_on": date(2026, 1, 10)}, "EUR")
    assert str(third) == "0." + "3" * 60  # exact (60 digits), never rounded to 4 places
    # The engine is given the half step between 0.3333 and 0.3334 (scaled by 10^4).
    assert policy.fields["derived.hours_late"].encode(third) == 3333.5


@settings(max_examples=examples(200), deadline=None)
@given(distance=st.none() | st.integers(0, 20_000), passengers=st.integers(1, 9),
       arrived=st.none() | st.dates(date(2025, 1, 1), date(2026, 6, 1)),
       wait=st.integers(0, 400), fare=st.none() | st.integers(0, 100_000))
def test_the_engine_and_the_reference_agree_on_derived_facts(derived_policy_once, distance,
                                                             passengers, arrived, wait, fare):
    active = derived_policy_once
    body = flight(distance_km=distance, passengers=passengers,
                  arrived_on=arrived and arrived.isoformat(),
                  claimed_on=arrived and (arrived + timedelta(days=wait)).isoformat(),
                  fare=None if fare is None else f"{fare / 100:.2f}")
    incident = parse_incident(body, active.policy)
    by_engine = active.decide(incident, "manager", History())
    by_reference = decide(incident, History(), active.policy, "manager",
                          lambda fact: fired_by_reference(active.policy.rules, fact))
    assert by_engine == by_reference


@pytest.fixture(scope="module")
def derived_policy_once(tmp_path_factory):
    from tests.support.policy_files import copy_policy

    folder = copy_policy(tmp_path_factory.mktemp("derived") / "policy")
    return ActivePolicy.prove(read_policy(derived_policy.__wrapped__(folder)))


# --- checked at policy check -----------------------------------------------------------------

def problems_of(folder):
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(folder)
    return {p.field: p for p in caught.value.problems}


def test_a_misspelt_fact_is_reported_with_its_column_and_a_suggestion(derived_policy):
    edit(derived_policy, "flights.yaml", "percent(200, context.fare)",
         "percent(200, context.fair)")
    problem = problems_of(derived_policy)["then.remedies.0.compute"]
    assert problem.rule == "twice-the-fare"
    assert "at column 14" in problem.message and "context.fare" in problem.message


def test_a_value_that_is_not_money_is_refused(derived_policy):
    edit(derived_policy, "flights.yaml", "percent(200, context.fare)", "context.passengers * 2")
    problem = problems_of(derived_policy)["then.remedies.0.compute"]
    assert "a remedy's value must be money, this is a number" in problem.message


def test_a_derived_fact_may_use_only_those_declared_before_it(derived_policy):
    edit(derived_policy, "policy.yaml", "compute: context.claimed_on <= context.arrived_on",
         "compute: derived.pay_by <= context.arrived_on")
    problem = problems_of(derived_policy)["derived.in_time.compute"]
    assert "derived.pay_by" in problem.message


def test_band_ranges_go_from_low_to_high(derived_policy):
    edit(derived_policy, "policy.yaml", "{at_most: 3500, value: medium}",
         "{at_most: 1000, value: medium}")
    problem = problems_of(derived_policy)["derived.distance_band.band.ranges.1"]
    assert "not above the one before" in problem.message


def test_a_rule_testing_a_band_value_it_cannot_have_is_refused(derived_policy):
    edit(derived_policy, "flights.yaml", "derived.distance_band: long",
         "derived.distance_band: ultra")
    assert any("ultra" in p.message for p in problems_of(derived_policy).values())


@pytest.fixture
def eu261_copy(tmp_path):
    import shutil

    from service.config import shipped_policy

    folder = tmp_path / "eu261"
    shutil.copytree(shipped_policy().parent / "examples" / "eu261", folder)
    return folder


def test_an_expression_error_is_not_taken_for_a_later_fact(eu261_copy):
    """`derived.distance`, declared after `halved`, is not `derived.distance_band`, which
    `halved` uses: its real error is said, not an order of declarations."""
    policy = eu261_copy / "policy.yaml"
    text = policy.read_text().replace(
        "and not context.intra_eu and context.arrival_delay_minutes < 240)\n",
        "and not context.intra_eu and context.arrival_delay_minutes < 240) and 5\n", 1)
    policy.write_text(text + "  distance:\n    type: integer\n    compute: context.distance_km\n")
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(eu261_copy)
    (problem,) = caught.value.problems
    assert "`and` needs true/false values" in problem.message, problem


def test_a_band_with_a_bad_range_is_its_only_problem(eu261_copy):
    """Rules and later facts that use the band are not told it does not exist."""
    policy = eu261_copy / "policy.yaml"
    policy.write_text(policy.read_text().replace("{at_most: 3500, value: medium}",
                                                 "{at_most: 1000, value: medium}", 1))
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(eu261_copy)
    (problem,) = caught.value.problems
    assert "is not above the one before" in problem.message, problem
