"""The engine and the reference evaluator decide alike on random policies that state the law
(issue 11): expressions, derived facts computed into the fact before the engine runs (dates
plus days, months and business days, bands of numbers and dates, facts derived from derived
ones), rules testing them, computed remedies and caps, entitlements and exemptions, and
decision tables (`unique` and `first`). Each policy is written as YAML files and goes through
the real loader, compiler and self-test; each decision is compared whole."""

import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.app.active_policy import ActivePolicy, read_policy
from service.app.intake import parse_incident
from service.domain.decision import decide
from service.domain.fields import encoded, fact_values
from service.domain.incident import History
from service.policy.conditions import fired_by_reference
from service.policy.problems import PolicyInvalid
from tests.conftest import examples
from tests.support.random_policies import LawPolicy, law_incidents, law_policies, to_yaml

TABLE_FILES = tuple(f"table{n}.yaml" for n in range(10))


@contextmanager
def loaded(law: LawPolicy):
    """The policy's files in a folder of their own, checked, compiled and proven."""
    with tempfile.TemporaryDirectory(prefix="law-") as folder:
        active = ActivePolicy.prove(read_policy(law.write(Path(folder) / "policy")))
        try:
            yield active
        finally:
            active.program.close()


def assert_alike(active: ActivePolicy, body: dict, role: str) -> None:
    policy = active.policy
    incident = parse_incident(body, policy)
    fact = encoded(fact_values(incident, incident.customer.prior_failures or 0,
                               policy.derived), policy.fields)
    # Which rules fire first (the clearer message), then the whole decision.
    assert active.program.fired(fact) == fired_by_reference(policy.rules, fact), fact
    by_engine = active.decide(incident, role, History())
    by_reference = decide(incident, History(), policy, role,
                          lambda flat: fired_by_reference(policy.rules, flat))
    assert by_engine == by_reference


def check(law: LawPolicy, data) -> None:
    with loaded(law) as active:
        bodies = data.draw(st.lists(law_incidents(law), min_size=1, max_size=20),
                           label="incidents")
        for body in bodies:
            assert_alike(active, body, data.draw(st.sampled_from(law.roles), label="role"))


@settings(max_examples=examples(80), deadline=None)
@given(law=law_policies(), data=st.data())
def test_the_engine_and_the_reference_decide_alike_on_random_law_policies(law, data):
    check(law, data)


@pytest.mark.slow
@settings(max_examples=examples(40), deadline=None)
@given(law=law_policies(max_context=8, max_derived=12, max_rules=16, max_tables=4),
       data=st.data())
def test_the_engine_and_the_reference_decide_alike_on_larger_law_policies(law, data):
    check(law, data)


@settings(max_examples=examples(80), deadline=None)
@given(law=law_policies(max_tables=3, overlapping=True), data=st.data())
def test_rows_of_a_unique_table_that_passes_the_check_never_match_one_incident_together(
        law, data):
    """The overlap check of `hit: unique` is sound: a table it lets through has no incident
    that two of its rows match (and it refuses nothing here but overlaps, and cells redrawn
    so that no incident can match them)."""
    with tempfile.TemporaryDirectory(prefix="law-") as folder:
        try:
            policy = read_policy(law.write(Path(folder) / "policy"))
        except PolicyInvalid as error:
            assert all("overlap" in problem.message or "the row never applies" in
                       problem.message for problem in error.problems), error.report()
            return
    unique = {rule.id: Path(rule.file).name for rule in policy.rules
              if rule.file.endswith(TABLE_FILES) and rule.first_of is None}
    for body in data.draw(st.lists(law_incidents(law), min_size=1, max_size=30)):
        incident = parse_incident(body, policy)
        fact = encoded(fact_values(incident, incident.customer.prior_failures or 0,
                                   policy.derived), policy.fields)
        rows = [unique[rule_id] for rule_id in fired_by_reference(policy.rules, fact)
                if rule_id in unique]
        assert len(rows) == len(set(rows)), (rows, fact)


# ---- found on the way -------------------------------------------------------------------------

def huge_policy(folder: Path, derived: dict, rules: list) -> ActivePolicy:
    LawPolicy({
        "policy.yaml": to_yaml({
            "name": "huge", "currencies": ["EUR"], "failure_categories": ["late"],
            "context": {"d": {"type": "decimal"}}, "derived": derived}),
        "roles.yaml": to_yaml({"escalation": ["lead"], "roles": {"lead": {
            "per_incident_limit": {"EUR": "1000.00"}, "remedies": ["discount"]}}}),
        "rules.yaml": to_yaml({"rules": rules}), "tests.yaml": "tests: []\n"},
        ("EUR",), (), ("discount",), ("lead",)).write(folder)
    return ActivePolicy.prove(read_policy(folder))


HUGE = {"incident_id": "I-1", "customer": {"id": "C-1"},
        "order": {"id": "O-1", "value": "10.00", "currency": "EUR"},
        "failure": {"category": "late", "severity": 1, "avoidable": True},
        "context": {"d": "999999999.9999"}}  # the largest decimal a request may send


def test_a_derived_value_too_large_for_the_engine_is_unknown(tmp_path):
    active = huge_policy(tmp_path / "policy", {"cube": {
        "type": "decimal", "compute": "context.d * context.d * context.d"}}, [])
    try:
        decision = active.decide(parse_incident(HUGE, active.policy), "lead")
    finally:
        active.program.close()
    assert decision.trace == ()


def test_a_computed_remedy_too_large_to_round_does_not_fail_the_decision(tmp_path):
    active = huge_policy(tmp_path / "policy", {}, [{
        "id": "huge", "description": "A discount of d cubed.",
        "then": {"remedies": [{"kind": "discount",
                               "compute": "context.d * context.d * context.d * 1 EUR"}]}}])
    try:
        decision = active.decide(parse_incident(HUGE, active.policy), "lead")
    finally:
        active.program.close()
    assert decision.trace[0].id == "huge"
