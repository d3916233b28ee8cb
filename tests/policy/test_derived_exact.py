"""A derived decimal or money fact is exact: remedies and later derived facts compute with
it unrounded, and a rule's test of it holds as it does for the exact value, in the engine
and the reference evaluator alike. A derived whole number that comes out not whole is
unknown, and the decision says so."""

import textwrap
from decimal import Decimal, localcontext

import pytest

from service.app.active_policy import ActivePolicy, read_policy
from service.app.intake import parse_incident
from service.domain.decision import decide
from service.domain.incident import History
from service.policy.conditions import fired_by_reference
from tests.support.policy_files import write_policy

POLICY = textwrap.dedent("""\
    name: exact-derived
    description: Derived facts of more than 4 decimal places.
    currencies: [EUR]
    customer_tiers: [standard]
    failure_categories: [late_delivery]
    history_window_days: 365
    max_compensation_percent: 150
    context:
      delay_minutes: {type: integer, unit: minutes}
      share: {type: decimal}
    derived:
      days_late:
        type: decimal
        description: The delay in days, a fraction of a day counting.
        compute: context.delay_minutes / 1440
      hours_late:
        type: decimal
        description: The delay in hours, from the days.
        compute: derived.days_late * 24
      whole_days_late:
        type: integer
        description: The delay in whole days (not rounded).
        compute: context.delay_minutes / 1440
      tiny:
        type: decimal
        description: A tenth of the share.
        compute: context.share / 10
    """)

ROLES = textwrap.dedent("""\
    escalation: [manager]
    rolling_window_days: 30
    roles:
      manager:
        description: Manager
        admin: true
        per_incident_limit: {EUR: "100000.00"}
        remedies: [store_credit, discount]
    """)

RULES = textwrap.dedent("""\
    rules:
      - id: credit-per-day
        description: Store credit of the order value for each day late, pro rata.
        priority: 100
        when: {context.delay_minutes: {at_least: 1}}
        then:
          remedies:
            - kind: store_credit
              compute: order.value * derived.days_late
      - id: under-a-minute-and-a-bit
        description: Less than 0.0167 hours late.
        priority: 101
        when: {derived.hours_late: {less_than: 0.0167}}
        then: {factors: {hardly_late: helps}}
      - id: a-day-or-more
        description: At least a whole day late.
        priority: 102
        when: {derived.whole_days_late: {at_least: 1}}
        then: {factors: {day_late: hurts}}
    """) + "".join(
    f"  - {{id: tiny-{name}, description: t, priority: {200 + n}, "
    f"when: {{derived.tiny: {test}}}, then: {{factors: {{f{n}: helps}}}}}}\n"
    for n, (name, test) in enumerate([
        ("gt-0", "{greater_than: 0}"), ("gte-0.0001", "{at_least: 0.0001}"),
        ("lt-0.0001", "{less_than: 0.0001}"), ("lte-0", "{at_most: 0}"), ("eq-0", "0"),
        ("neq-0", "{not_equals: 0}"), ("one-of", "{one_of: [0, 0.0001]}"),
        ("none-of", "{none_of: [0, 0.0001]}")]))


@pytest.fixture(scope="module")
def active(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exact") / "policy"
    write_policy(folder, policy_yaml=POLICY, roles_yaml=ROLES, rules_yaml=RULES)
    # As a version activated before would load: `whole_days_late`, a division declared a
    # whole number, is one a check of integer facts may refuse in a new version.
    proven = ActivePolicy.prove(read_policy(folder, strict=False))
    yield proven
    proven.program.close()


def decided(active, value="1000.00", **context):
    body = {"incident_id": "I-1", "customer": {"id": "C-1"},
            "order": {"id": "O-1", "value": value, "currency": "EUR"},
            "failure": {"category": "late_delivery", "severity": 2, "avoidable": False},
            "context": context}
    incident = parse_incident(body, active.policy)
    by_engine = active.decide(incident, "manager", History())
    by_reference = decide(incident, History(), active.policy, "manager",
                          lambda fact: fired_by_reference(active.policy.rules, fact))
    assert by_engine == by_reference
    return by_engine


@pytest.mark.parametrize(("value", "minutes", "credit"), [
    ("1000.00", 60, "41.67"),  # 1000 / 24 = 41.666..., not 1000 * 0.0417 = 41.70
    ("1000.00", 1, "0.69"),  # 1000 / 1440 = 0.694..., not 1000 * 0.0007 = 0.70
    ("100000.00", 1, "69.44"),  # not 70.00
    ("1000.00", 2160, "1500.00"),
])
def test_a_remedy_computes_with_the_exact_derived_value(active, value, minutes, credit):
    decision = decided(active, value, delay_minutes=minutes)
    [offer] = decision.offers
    assert (offer.remedy, str(offer.value.amount)) == ("store_credit", credit)


def test_a_later_derived_fact_computes_with_the_exact_value(active):
    """One minute is 1/1440 of a day and 24/1440 = 0.01666... hours, below 0.0167 (from
    0.0007 days rounded, it had been 0.0168 hours, above)."""
    decision = decided(active, delay_minutes=1)
    assert "under-a-minute-and-a-bit" in [rule.id for rule in decision.trace]
    days, hours = (next(d for d in active.policy.derived if d.name == name)
                   for name in ("days_late", "hours_late"))
    facts = {"context.delay_minutes": 1}
    facts["derived.days_late"] = days.value(facts, "EUR")
    with localcontext(prec=60):  # as expressions compute
        assert facts["derived.days_late"] == Decimal(1) / Decimal(1440)
        assert hours.value(facts, "EUR") == Decimal(1) / Decimal(1440) * 24


@pytest.mark.parametrize(("share", "fired"), [
    # 0.0005 / 10 = 0.00005: above 0, below 0.0001, equal to neither (it had been 0.0000).
    ("0.0005", {"tiny-gt-0", "tiny-lt-0.0001", "tiny-neq-0", "tiny-none-of"}),
    ("0.0015", {"tiny-gt-0", "tiny-gte-0.0001", "tiny-neq-0", "tiny-none-of"}),  # 0.00015
    ("0.001", {"tiny-gt-0", "tiny-gte-0.0001", "tiny-neq-0", "tiny-one-of"}),  # 0.0001 exactly
    ("0", {"tiny-lt-0.0001", "tiny-lte-0", "tiny-eq-0", "tiny-one-of"}),
    ("-0.0005", {"tiny-lt-0.0001", "tiny-lte-0", "tiny-neq-0", "tiny-none-of"}),  # -0.00005
])
def test_a_rule_tests_the_exact_derived_value(active, share, fired):
    decision = decided(active, share=share)
    assert {rule.id for rule in decision.trace if rule.id.startswith("tiny-")} == fired


def test_the_engine_is_given_the_half_step_between_two_4_place_values(active):
    from service.policy.model import ExactDecimal

    spec = active.policy.fields["derived.tiny"]
    assert spec.encode(ExactDecimal("0.00005")) == 0.5
    assert spec.encode(ExactDecimal("-0.00005")) == -0.5
    assert spec.encode(ExactDecimal("0.0001")) == 1  # 4 places: a whole number, as before
    assert spec.encode(ExactDecimal("999999999.99999")) == 9999999999999.5
    third = ExactDecimal(Decimal(1) / Decimal(3))
    assert spec.encode(third) == 3333.5
    with pytest.raises(ValueError, match="more than 4 decimal places"):
        spec.encode(Decimal("0.00005"))  # a rule's value may not have more


def test_a_rule_value_of_more_than_4_places_is_still_refused(tmp_path):
    from service.policy.problems import PolicyInvalid

    folder = tmp_path / "policy"
    rules = RULES.replace("{at_least: 0.0001}", "{at_least: 0.00005}")
    write_policy(folder, policy_yaml=POLICY, roles_yaml=ROLES, rules_yaml=rules)
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(folder)
    assert any("more than 4 decimal places" in p.message for p in caught.value.problems)


def test_a_whole_number_that_comes_out_not_whole_is_unknown_with_a_note(active):
    """1.5 days is not a whole number: the fact is unknown (a test of it does not hold, its
    `not` does), and a note names it, never silently."""
    decision = decided(active, delay_minutes=2160)
    assert "a-day-or-more" not in [rule.id for rule in decision.trace]
    assert ("derived.whole_days_late is unknown here: context.delay_minutes / 1440 comes to "
            "1.5, not a whole number (round it with round, round_down or round_up)"
            ) in decision.notes
    whole = decided(active, delay_minutes=2880)
    assert "a-day-or-more" in [rule.id for rule in whole.trace]
    assert not any("whole_days_late" in note for note in whole.notes)
    missing = decided(active)  # nothing to compute it from: unknown, as any missing fact
    assert not any("whole_days_late" in note for note in missing.notes)


def test_a_long_fraction_is_cut_short_in_the_note(active):
    decision = decided(active, delay_minutes=1)
    assert ("derived.whole_days_late is unknown here: context.delay_minutes / 1440 comes to "
            "0.0006944444..., not a whole number (round it with round, round_down or "
            "round_up)") in decision.notes


def test_policy_check_refuses_a_whole_number_computed_from_what_may_not_be_whole(tmp_path):
    from service.policy.problems import PolicyInvalid

    folder = tmp_path / "policy"
    write_policy(folder, policy_yaml=POLICY, roles_yaml=ROLES, rules_yaml=RULES)
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(folder)
    [problem] = caught.value.problems
    assert problem.field == "derived.whole_days_late.compute"
    assert problem.message == (
        "derived.whole_days_late: at column 23: a whole number (integer) is computed from "
        "what may not be whole (a division may not come out whole): round it with round(...), "
        "round_down(...) or round_up(...), or declare the fact a decimal")
    (folder / "policy.yaml").write_text(POLICY.replace(
        "compute: context.delay_minutes / 1440\n  tiny",
        "compute: round_down(context.delay_minutes / 1440)\n  tiny"))
    read_policy(folder)


def test_a_unique_table_on_a_derived_decimal_finds_rows_that_meet_between_4_place_steps(
        tmp_path):
    """0.0006 < days_late < 0.0007 holds for one minute late (0.000694...): the two rows
    overlap, though no 4-place value lies between them."""
    from service.policy.problems import PolicyInvalid

    folder = tmp_path / "policy"
    table = textwrap.dedent("""\
        table:
          id: by-days
          description: Credit by days late.
          priority: 100
          hit: unique
          inputs: [derived.days_late]
          outputs:
            - remedy: store_credit
          rows:
            - [{less_than: 0.0007}, {amount: {EUR: "5.00"}}]
            - [{greater_than: 0.0006}, {amount: {EUR: "10.00"}}]
        """)
    policy = POLICY.replace("compute: context.delay_minutes / 1440\n  tiny",
                            "compute: round_down(context.delay_minutes / 1440)\n  tiny")
    write_policy(folder, policy_yaml=policy, roles_yaml=ROLES, table_yaml=table)
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(folder)
    [problem] = caught.value.problems
    assert "0.00065" in problem.message, problem.message
    # A version activated before this was found loads as it did (an upgrade never stops it).
    assert read_policy(folder, strict=False).rules
