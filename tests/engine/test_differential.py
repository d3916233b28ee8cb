"""The engine, through the adapter, fires exactly the rules the reference evaluator says,
in the same order, for random policies and random incidents."""

import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from service.engine.adapter import RuleProgram
from service.engine.compiler import CompileError, compile_rule
from service.policy.conditions import fired_by_reference
from tests.conftest import examples
from tests.support.random_policies import (
    conditions,
    facts,
    make_policy,
    random_condition,
    random_fact,
)

PRIORITIES = st.sampled_from([1, 2, 3, 500, 60000])  # few values: ties are common


def compilable(policy) -> bool:
    try:
        for rule in policy.rules:
            compile_rule(rule, policy.fields)
    except CompileError:
        return False
    return True


@pytest.mark.slow
@settings(max_examples=examples(150))
@given(rules=st.lists(st.tuples(conditions, PRIORITIES), min_size=1, max_size=25),
       fact_list=st.lists(facts(), min_size=1, max_size=8))
def test_engine_agrees_with_reference_evaluator(rules, fact_list):
    policy = make_policy(rules)
    assume(compilable(policy))
    program = RuleProgram(policy)
    try:
        for fact in fact_list:
            assert program.fired(fact) == fired_by_reference(policy.rules, fact)
    finally:
        program.close()


@settings(max_examples=examples(6))
@given(seed=st.integers(0, 2**32))
def test_engine_agrees_on_large_random_policies(seed):
    """Hundreds of rules split over several rulesets: which and in what order must survive."""
    rng = random.Random(seed)
    rules = []
    while len(rules) < 500:
        candidate = (random_condition(rng), rng.choice([1, 2, 3, 500, 60000]))
        if compilable(make_policy([candidate])):
            rules.append(candidate)
    policy = make_policy(rules)
    program = RuleProgram(policy)
    try:
        assert len(program.plans) > 1
        for _ in range(40):
            fact = random_fact(rng)
            assert program.fired(fact) == fired_by_reference(policy.rules, fact)
    finally:
        program.close()
