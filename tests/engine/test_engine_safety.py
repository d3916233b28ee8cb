"""The adapter keeps the engine inside its limits and away from its crash and hang defects."""

import json
import random
import subprocess
import sys
import textwrap
from decimal import Decimal

import pytest

from bench.big_policies import random_incident, write_generated_policy
from service.app.active_policy import read_policy
from service.app.intake import parse_incident
from service.domain.decision import decide
from service.domain.fields import flat_fact
from service.domain.incident import History
from service.engine.adapter import RuleProgram
from service.engine.compiler import (
    MAX_TRUE_NODES,
    RulesetPlan,
    compile_rule,
    engine_expression,
    ruleset_definition,
)
from service.policy.conditions import fired_by_reference
from service.policy.loader import load_policy
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def big_policy_dir(tmp_path_factory):
    return write_generated_policy(tmp_path_factory.mktemp("big") / "policy", 3000)


@pytest.mark.slow
def test_3000_rule_policy_checks_loads_and_decides_correctly(big_policy_dir):
    policy = read_policy(big_policy_dir)
    assert len(policy.rules) == 3000
    program = RuleProgram(policy)
    try:
        assert len(program.plans) > 1
        assert all(plan.root.peak <= MAX_TRUE_NODES for plan in program.plans)
        rng = random.Random(3)
        fired_counts = []
        for number in range(150):
            incident = parse_incident(random_incident(rng, number), policy)
            fact = flat_fact(incident, incident.customer.prior_failures or 0, policy.fields)
            fired = program.fired(fact)
            assert fired == fired_by_reference(policy.rules, fact)
            fired_counts.append(len(fired))
            by_engine = decide(incident, History(), policy, "agent", program.fired)
            by_reference = decide(incident, History(), policy, "agent",
                                  lambda f: fired_by_reference(policy.rules, f))
            assert by_engine == by_reference
        assert max(fired_counts) > 64  # more than the engine's stack: only the split saves it
    finally:
        program.close()


def test_tiered_policy_the_raw_engine_cannot_run_works_through_the_adapter(tmp_path):
    """300 tiers of "orders of at least X": one raw ruleset fails (303), the adapter splits."""
    import shutil

    import yaml

    from service.config import shipped_policy

    directory = tmp_path / "tiers"
    directory.mkdir()
    for name in ("policy.yaml", "roles.yaml"):
        shutil.copy(shipped_policy() / name, directory / name)
    rules = [{"id": f"tier-{n:03d}", "description": f"orders of at least {n * 5}",
              "when": {"order.value": {"at_least": n * 5}},
              "then": {"remedies": [{"kind": "store_credit", "percent": 1 + n % 20}]}}
             for n in range(300)]
    (directory / "tiers.yaml").write_text(yaml.safe_dump({"rules": rules}))
    policy = read_policy(directory)
    incident = parse_incident(random_incident(random.Random(1), 1), policy)
    incident = type(incident)(**{**incident.__dict__,
                                 "order": type(incident.order)("O-1", Decimal("5000"), "EUR")})
    fact = flat_fact(incident, 0, policy.fields)

    compiled = [compile_rule(rule, policy.fields) for rule in policy.rules]
    single = ruleset_definition(RulesetPlan(rules=compiled), str)
    run = run_raw_engine(RAW_ASSERT, [single, [_engine_fact(fact, 1)]])
    assert run.returncode == 3 and "303" in run.stdout, run.stdout + run.stderr

    program = RuleProgram(policy)
    try:
        assert len(program.plans) > 1
        fired = program.fired(fact)
        assert len(fired) == 300
        assert fired == fired_by_reference(policy.rules, fact)
    finally:
        program.close()


def _engine_fact(flat, number):
    from service.engine.adapter import nest

    fact = nest(flat)
    fact.update({"_t": "incident", "sid": str(number)})
    return fact


def test_5000_facts_matching_no_rule_do_not_crash_the_process(tmp_path):
    """Without the guard rule, delete_state after a fact that fired nothing frees an
    uninitialised pointer. Run in a child process so a crash shows as its exit code."""
    policy_dir = _policy_matching_nothing(tmp_path / "p")
    script = textwrap.dedent(f"""
        from service.engine.adapter import RuleProgram
        from service.policy.loader import load_policy
        policy = load_policy({str(policy_dir)!r})
        program = RuleProgram(policy)
        fact = {{"customer.id": "nobody", "order.id": "none", "order.value": 0,
                 "order.currency": "EUR", "failure.category": "staff_conduct",
                 "failure.severity": 1, "failure.avoidable": True,
                 "customer.prior_failures": 99}}
        policy_rules = [r for r in policy.rules]
        from service.policy.conditions import fired_by_reference
        assert fired_by_reference(policy_rules, fact) == []
        for _ in range(5000):
            assert program.fired(fact) == []
        print("5000 ok")
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "5000 ok" in run.stdout


def _policy_matching_nothing(directory):
    import shutil

    import yaml

    from service.config import shipped_policy

    directory.mkdir()
    for name in ("policy.yaml", "roles.yaml"):
        shutil.copy(shipped_policy() / name, directory / name)
    whens = [{"failure.category": "late_delivery"}, {"customer_ask.remedy": {"present": True}},
             {"failure.severity": {"at_least": 2}}, {"not": {"failure.avoidable": True}},
             {"any": [{"order.value": {"greater_than": 0}}, {"customer.tier": "gold"}]},
             {"order.shipping_fee": {"less_than": 5}}, {"customer.prior_failures": 0}]
    rules = [{"id": f"never-{n}", "description": "does not match the probe",
              "when": when, "then": {"steps": ["fix"]}} for n, when in enumerate(whens)]
    (directory / "rules.yaml").write_text(yaml.safe_dump({"rules": rules}))
    return directory


def run_raw_engine(script: str, payload: object = None) -> subprocess.CompletedProcess:
    """Drive the raw engine in a child process: its failures can abort the process."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)],
                          input=json.dumps(payload), capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


RAW_ASSERT = """
    import json, sys, durable_rules_engine as native
    definition, facts = json.load(sys.stdin)
    handle = native.create_ruleset("raw", json.dumps(definition))
    for fact in facts:
        try:
            native.assert_fact(handle, json.dumps(fact))
        except Exception as error:
            print("refused:", error)
            sys.exit(3)
    print("all asserted")
"""


@pytest.mark.parametrize(("pending", "fails"), [(64, False), (65, True)])
def test_engine_stack_limit_the_packer_relies_on(pending, fails):
    """The measured limit behind MAX_TRUE_NODES: 64 pending alpha nodes work, 65 fail (303)."""
    rules = {f"r{i}#0": {"all": [{"m": engine_expression((("x", "gte", i),))}], "pri": 1}
             for i in range(pending)}
    rules["guard"] = {"all": [{"m": {"_t": "incident"}}], "pri": 65535}
    run = run_raw_engine(RAW_ASSERT, [rules, [{"sid": "1", "_t": "incident", "x": 10**6}]])
    if fails:
        assert run.returncode == 3 and "303" in run.stdout, run.stdout + run.stderr
    else:
        assert run.returncode == 0 and "all asserted" in run.stdout, run.stdout + run.stderr


def test_closing_a_program_frees_its_rulesets(tmp_path):
    policy = load_policy(write_generated_policy(tmp_path / "p", 10))
    program = RuleProgram(policy)
    assert program._handles
    program.close()
    assert program._handles == []
