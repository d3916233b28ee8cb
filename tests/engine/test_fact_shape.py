"""What a fact must be for the engine to see it whole (measured on durable_rules 2.0.28):
at most 254 properties, the objects holding fields and the adapter's own included, and no two
names with the same 32-bit FNV-1a hash (the engine knows a property by that hash alone, so
`context.zp0bb` would be read as `context.o670`). `policy check` refuses a policy whose
incidents could break either."""

import json
import uuid

import durable_rules_engine as native
import pytest

from service.app.active_policy import read_policy
from service.engine.compiler import (
    ADAPTER_PROPERTIES,
    DISCRIMINATOR,
    FACT_KIND,
    MAX_FACT_PROPERTIES,
    engine_hash,
    fact_shape_problems,
)
from service.policy.problems import PolicyInvalid
from tests.support.policy_files import copy_policy, edit


def asserts(fact: dict) -> bool:
    ruleset = native.create_ruleset(f"shape_{uuid.uuid4().hex}", json.dumps(
        {"all_incidents": {"all": [{"m": {DISCRIMINATOR: FACT_KIND}}], "pri": 1}}))
    try:
        native.assert_fact(ruleset, json.dumps(fact))
    except Exception as error:  # the engine's own error for a fact it refuses
        assert "302" in str(error)
        return False
    return True


@pytest.mark.parametrize("nested", [False, True])
def test_the_engine_takes_at_most_254_properties_a_fact(nested):
    def fact(fields: int) -> dict:
        values = {f"k{n}": n for n in range(fields)}
        own = {DISCRIMINATOR: FACT_KIND, "sid": "1", "id": "f1"}
        return {**own, "context": values} if nested else {**own, **values}

    largest = MAX_FACT_PROPERTIES - len(ADAPTER_PROPERTIES) - nested  # the object counts
    assert asserts(fact(largest))
    assert not asserts(fact(largest + 1))


def test_names_that_hash_alike_and_too_many_values_are_found():
    assert engine_hash("context.o670") == engine_hash("context.zp0bb")
    assert engine_hash("context.b84uga0") == engine_hash("customer.tier")
    assert fact_shape_problems(["customer.tier", "context.b84uga0", "order.value"]) == [
        "the engine cannot tell `context.b84uga0` from `customer.tier` (their names hash "
        "alike in it): rename one"]
    many = [f"context.k{n}" for n in range(MAX_FACT_PROPERTIES)]
    [problem] = fact_shape_problems(many)
    assert problem.startswith(f"an incident of this policy may carry "
                              f"{MAX_FACT_PROPERTIES + 4} values")
    assert problem.endswith("declare 4 fewer context or derived facts")
    assert fact_shape_problems(many[:MAX_FACT_PROPERTIES - 4]) == []


def test_policy_check_refuses_a_context_fact_the_engine_would_confuse(tmp_path):
    policy_copy = copy_policy(tmp_path / "policy")
    edit(policy_copy, "policy.yaml", "context:\n", "context:\n  b84uga0: {type: string}\n")
    with pytest.raises(PolicyInvalid) as refused:
        read_policy(policy_copy)
    [problem] = refused.value.problems
    assert problem.file == str(policy_copy / "policy.yaml")
    assert "cannot tell `context.b84uga0` from `customer.tier`" in problem.message
    assert read_policy(policy_copy, strict=False).fields["context.b84uga0"]  # activated before
