"""A generated policy of 10,000 rules (bench.big_policies) decides as the reference evaluator
does: the same rules fired, in the same order, and the same decision, on random incidents."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.big_policies import random_incident, write_generated_policy
from service.app.active_policy import ActivePolicy, read_policy
from service.app.intake import parse_incident
from service.domain.decision import decide
from service.domain.incident import History
from service.engine.adapter import RuleProgram
from service.policy.conditions import fired_by_reference
from tests.conftest import examples
from tests.support.incidents import incident_bodies

RULES = 10_000

# The generator's own incidents (its categories, tiers, values and days since delivery, the
# facts its rules test) and the suite's (every optional field present or absent).
bodies = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda seed: random_incident(random.Random(seed), seed)),
    incident_bodies(),
)


@pytest.fixture(scope="module")
def active(tmp_path_factory):
    policy = read_policy(write_generated_policy(tmp_path_factory.mktemp("g10000"), RULES))
    active = ActivePolicy(policy, RuleProgram(policy))
    yield active
    active.program.close()


def _outcome(function):
    try:
        return function()
    except Exception as error:  # e.g. a missing exchange rate: both must refuse alike
        return ("raised", type(error).__name__, str(error))


@pytest.mark.slow
def test_the_policy_has_ten_thousand_rules_over_several_rulesets(active):
    assert len(active.policy.rules) == RULES
    assert len(active.program.plans) > 1


@pytest.mark.slow
@settings(max_examples=examples(100))
@given(body=bodies, role=st.sampled_from(["agent", "team_lead", "manager"]))
def test_ten_thousand_rules_decide_as_the_reference_evaluator(active, body, role):
    policy = active.policy
    incident = parse_incident(body, policy)
    engine_fired, reference_fired = [], []

    def engine(fact):
        engine_fired.append(list(active.program.fired(fact)))
        return engine_fired[-1]

    def reference(fact):
        reference_fired.append(list(fired_by_reference(policy.rules, fact)))
        return reference_fired[-1]

    expected = _outcome(lambda: decide(incident, History(), policy, role, reference))
    assert _outcome(lambda: decide(incident, History(), policy, role, engine)) == expected
    assert engine_fired == reference_fired
    assert _outcome(lambda: active.decide(incident, role)) == expected
