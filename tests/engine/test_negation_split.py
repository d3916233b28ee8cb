"""Rules of many negated tests on optional facts (issue 11): only alternatives that can occur
are counted, a rule of more alternatives than one part may hold is split into engine rules
that keep its meaning, and the engine still agrees with the reference evaluator on them.
Also the measured engine semantics the compiler relies on (see service/engine/compiler.py)."""

import itertools
import json
import random
import subprocess
import sys
import textwrap
from decimal import Decimal

import pytest
import yaml
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from service.app.active_policy import read_policy
from service.domain.fields import incident_fields
from service.engine.adapter import RuleProgram
from service.engine.compiler import (
    DISCRIMINATOR,
    FACT_KIND,
    MAX_ALTERNATIVES,
    MAX_CONJUNCTIONS,
    MAX_PAIRS_PER_RULE,
    MAX_TRUE_NODES,
    CompiledRule,
    CompileError,
    RulesetPlan,
    compile_rule,
    engine_expression,
    pack,
    ruleset_definition,
)
from service.policy.conditions import fired_by_reference
from service.policy.model import (
    All,
    AnyOf,
    Compare,
    ContextFact,
    Not,
    OneOf,
    Policy,
    Presence,
    Rule,
)
from service.policy.problems import PolicyInvalid
from tests.conftest import ROOT, examples
from tests.support.policy_files import copy_policy

# ---- a vocabulary with many optional facts --------------------------------------------------

FLAGS = [f"context.b{n}" for n in range(10)]  # optional booleans
CONTEXT = {
    **{f"b{n}": ContextFact(f"b{n}", "boolean", False) for n in range(10)},
    "n": ContextFact("n", "integer", False),
    "kind": ContextFact("kind", "enum", False, ("x", "y", "z")),
    "level": ContextFact("level", "integer", True),
    "ok": ContextFact("ok", "boolean", True),
}
FIELDS = incident_fields(("standard", "gold"), ("late", "lost"), ("EUR",), ("discount",),
                         tuple(fact.field() for fact in CONTEXT.values()))
VALUES = {
    **{flag: [True, False] for flag in FLAGS},
    "context.n": [0, 1, 2, 5],
    "context.kind": ["x", "y", "z"],
    "context.level": [0, 1, 2, 5],
    "context.ok": [True, False],
    "customer.tier": ["standard", "gold"],
    "failure.severity": [1, 3, 5],
}
PATHS = sorted(VALUES)
OPTIONAL = [path for path in PATHS if FIELDS[path].optional]
ALWAYS_TRUE = All(())
REQUIRED_FACT = {"customer.id": "C-1", "order.id": "O-1", "order.value": 1000,
                 "order.currency": "EUR", "failure.category": "late", "failure.avoidable": True,
                 "customer.prior_failures": 0}


def make_policy(conditions_and_priorities) -> Policy:
    rules = [Rule(id=f"r{n}", description=f"rule {n}", when=when, priority=priority, index=n,
                  file="generated", line=n + 1)
             for n, (when, priority) in enumerate(conditions_and_priorities)]
    return Policy(
        name="negations", version="test", description="", directory="generated",
        effective_from=None, currencies=("EUR",), customer_tiers=("standard", "gold"),
        failure_categories=("late", "lost"), history_window_days=365,
        max_compensation_percent=Decimal(150), unlikely_at_hurts=2, context=CONTEXT,
        remedy_kinds={}, rules=tuple(sorted(rules, key=lambda r: (r.priority, r.index))),
        roles={}, escalation=(), fields=FIELDS)


def alternatives(condition) -> tuple:
    rule = Rule(id="x", description="", when=condition, priority=1, index=0, file="f", line=1)
    return compile_rule(rule, FIELDS).conjunctions


def random_fact(rng) -> dict:
    fact = dict(REQUIRED_FACT)
    for path in PATHS:
        if not (FIELDS[path].optional and rng.random() < 0.4):
            fact[path] = rng.choice(VALUES[path])
    return fact


def agree(policy, facts) -> None:
    """The engine, through the adapter, and the reference evaluator agree on every fact."""
    program = RuleProgram(policy)
    try:
        for fact in facts:
            assert program.fired(fact) == fired_by_reference(policy.rules, fact), fact
    finally:
        program.close()


def not_flag(path, value=True):
    return Not(Compare(path, "eq", value))


# ---- the rule, through the loader ---------------------------------------------------

def _policy_with_flags(directory, when, count=7):
    copy_policy(directory)
    declared = "".join(f"  flag_{n}:\n    type: boolean\n    description: flag {n}\n"
                       for n in range(count))
    text = (directory / "policy.yaml").read_text()
    assert "\ncontext:\n" in text
    (directory / "policy.yaml").write_text(text.replace("\ncontext:\n",
                                                        "\ncontext:\n" + declared, 1))
    rule = {"id": "no-flags", "description": "none of the flags is set", "priority": 50,
            "when": when, "then": {"steps": ["take_ownership"]}}
    (directory / "flags.yaml").write_text(yaml.safe_dump({"rules": [rule]}, sort_keys=False))
    return directory


def test_seven_negated_optional_facts_compile_and_keep_their_meaning(tmp_path):
    when = {"all": [{"not": {f"context.flag_{n}": True}} for n in range(7)]}
    policy = read_policy(_policy_with_flags(tmp_path / "p", when))  # was refused: > 64
    compiled = compile_rule(policy.rules_by_id["no-flags"], policy.fields)
    assert len(compiled.conjunctions) == 2 ** 7  # missing or false, for each: all can occur
    program = RuleProgram(policy)
    try:
        assert program.engine_rule_count >= 2 ** 7
        base = {"customer.id": "C-1", "order.id": "O-1", "order.value": 100_0000,
                "order.currency": "EUR", "failure.category": "late_delivery",
                "failure.severity": 2, "failure.avoidable": True, "customer.prior_failures": 0}
        fired_count = 0
        for values in itertools.product([None, True, False], repeat=7):  # every combination
            fact = dict(base)
            fact.update({f"context.flag_{n}": v for n, v in enumerate(values) if v is not None})
            fired = program.fired(fact)
            assert fired == fired_by_reference(policy.rules, fact)
            fired_count += "no-flags" in fired
        assert fired_count == 2 ** 7
    finally:
        program.close()


def test_too_many_alternatives_are_refused_in_plain_words(tmp_path):
    when = {"all": [{"not": {f"context.flag_{n}": True}} for n in range(11)]}
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(_policy_with_flags(tmp_path / "p", when, count=11))
    (problem,) = caught.value.problems
    assert problem.rule == "no-flags" and problem.file.endswith("flags.yaml") and problem.line
    message = problem.message
    assert f"more than {MAX_ALTERNATIVES}" in message
    assert "missing" in message and "required" in message
    assert "11 optional facts" in message and "context.flag_10" in message


def test_too_many_alternatives_without_negations_advise_splitting():
    wide = All(tuple(AnyOf(tuple(Compare(path, "eq", value) for value in VALUES[path][:2]))
                     for path in ("context.n", "context.level", "context.kind", "customer.tier",
                                  "failure.severity", "context.ok", "context.b0",
                                  "context.b1", "context.b2", "context.b3", "context.b4")))
    with pytest.raises(CompileError) as caught:
        alternatives(wide)
    assert "split the rule" in str(caught.value)
    assert "optional facts" not in str(caught.value)
    values = tuple(range(300))
    huge = All((OneOf("context.n", values), OneOf("context.level", values)))
    with pytest.raises(CompileError) as caught:
        alternatives(huge)
    assert "combines 300 alternatives with 300" in str(caught.value)


def test_many_all_steps_each_within_bounds_are_refused_in_all():
    """Each step of the `all` combines 1,024 alternatives with 64 (within MAX_PAIRS) and is
    reduced to 1,024 again: repeated 150 times, a 5 KB rule had taken 36 s to check (and
    70 s to activate, past the worker timeout). Past MAX_PAIRS_PER_RULE it is refused."""
    ten = [Not(Compare(flag, "eq", True)) for flag in FLAGS]
    level = AnyOf(tuple(Compare("context.level", "eq", value) for value in range(64)))
    slow = All((Compare("context.level", "eq", 1), *ten, *[level] * 150))
    with pytest.raises(CompileError) as caught:
        alternatives(slow)
    assert f"more than {MAX_PAIRS_PER_RULE:,} alternatives in all" in str(caught.value)
    assert len(alternatives(All((Compare("context.level", "eq", 1), *ten, level)))) == 1024


# ---- counting only alternatives that can occur ----------------------------------------------

def test_required_facts_add_no_missing_branch():
    assert alternatives(Not(Compare("failure.severity", "eq", 3))) == (
        (("failure.severity", "neq", 3),),)
    assert alternatives(Not(Compare("context.ok", "eq", True))) == (
        (("context.ok", "eq", False),),)
    assert len(alternatives(OneOf("context.level", (1, 2), True))) == 1
    many = All((*(Not(Compare("context.level", "eq", v)) for v in range(20)),
                Not(Compare("failure.severity", "gte", 4)), not_flag("context.ok")))
    assert len(alternatives(many)) == 1
    assert alternatives(Presence("context.level", False)) == ()  # never true
    assert alternatives(Presence("context.level", True)) == ((),)  # always true


def test_a_negated_optional_fact_counts_its_missing_branch_once():
    n = "context.n"
    assert alternatives(Not(AnyOf((Compare(n, "eq", 1), Compare(n, "eq", 2))))) == (
        ((n, "neq", 1), (n, "neq", 2)), ((n, "nex", 1),))
    # not true and not false: only missing is left
    assert alternatives(All((not_flag("context.b0", True), not_flag("context.b0", False)))) == (
        (("context.b0", "nex", 1),),)
    # an alternative implied by a shorter one is not counted: a or (a and b) is a
    assert alternatives(AnyOf((Compare(n, "eq", 1), All((Compare(n, "eq", 1),
                                                         Compare("context.b1", "eq", True)))))
                        ) == (((n, "eq", 1),),)
    # an equality decides the other tests on its field
    assert alternatives(All((Compare(n, "eq", 2), Compare(n, "gt", 1), Not(Compare(n, "eq", 5)))
                            )) == (((n, "eq", 2),),)
    assert alternatives(All((Compare(n, "eq", 2), Compare(n, "lt", 1)))) == ()


def test_ten_negated_optional_facts_are_the_most_one_rule_may_hold():
    assert len(alternatives(All(tuple(not_flag(flag) for flag in FLAGS)))) == 2 ** 10
    assert MAX_ALTERNATIVES == 2 ** 10
    with pytest.raises(CompileError):
        alternatives(All((*(not_flag(flag) for flag in FLAGS), Not(Compare("context.n", "eq", 1))
                          )))


# ---- splitting, packing and reporting -------------------------------------------------------

def test_split_rule_fires_once_and_in_policy_order_across_rulesets():
    """Two rules of 1,024 alternatives cannot share a ruleset (1,000 engine rules at most):
    their parts spread over rulesets, and each is still reported once, in its place."""
    exclusions = All(tuple(not_flag(flag) for flag in FLAGS))
    mixed = All(tuple(not_flag(flag, False) for flag in FLAGS))
    severe = Compare("failure.severity", "gte", 1)
    rules = [(severe, 2), (exclusions, 1), (severe, 1), (mixed, 1),
             (Presence("context.n", False), 1), (ALWAYS_TRUE, 500)]
    policy = make_policy(rules)
    compiled = [compile_rule(rule, FIELDS) for rule in policy.rules]
    plans = pack(compiled)
    spread = {}
    for number, plan in enumerate(plans):
        for part in plan.rules:
            spread.setdefault(part.rule_id, set()).add(number)
            assert len(part.conjunctions) <= MAX_CONJUNCTIONS
        assert plan.root.peak <= MAX_TRUE_NODES
        definition = ruleset_definition(plan, str)
        assert len(definition) == plan.engine_rules + 1  # no two parts share a name
        gate = {DISCRIMINATOR: FACT_KIND}
        for name, engine_rule in definition.items():  # every one gated: no $nex loop
            test = engine_rule["all"][0]["m"]
            assert test == gate if name == "guard" else test["$and"][0] == gate
    assert len(spread["r1"]) > 1 and len(spread["r3"]) > 1
    assert sum(len(c.conjunctions) for c in compiled) == sum(p.engine_rules for p in plans)

    rng = random.Random(11)
    facts = [random_fact(rng) for _ in range(300)]
    # every optional fact missing: r1, r2, r3, r4 and r5 fire
    facts.append({**REQUIRED_FACT, "failure.severity": 3, "context.level": 1, "context.ok": True})
    program = RuleProgram(policy)
    try:
        assert len(program.plans) == len(plans)
        assert program.fired(facts[-1]) == ["r1", "r2", "r3", "r4", "r0", "r5"]
        for fact in facts:
            assert program.fired(fact) == fired_by_reference(policy.rules, fact), fact
    finally:
        program.close()


def test_a_rule_too_wide_for_one_ruleset_is_halved_until_it_fits():
    """64 alternatives all true at once exceed the engine's stack (MAX_TRUE_NODES): such a rule
    was refused; now its parts go to rulesets of their own and it fires once."""
    wide = AnyOf(tuple(Compare("context.n", "gte", -v) for v in range(64)))
    policy = make_policy([(wide, 1), (Compare("context.n", "gte", 0), 1)])
    plans = pack([compile_rule(rule, FIELDS) for rule in policy.rules])
    assert len(plans) >= 2
    assert all(plan.root.peak <= MAX_TRUE_NODES for plan in plans)
    facts = [{**REQUIRED_FACT, "failure.severity": 1, "context.level": 0, "context.ok": True,
              **({} if n is None else {"context.n": n})} for n in (None, -70, -5, 0, 3)]
    program = RuleProgram(policy)
    try:
        assert program.fired(facts[-1]) == ["r0", "r1"]
        for fact in facts:
            assert program.fired(fact) == fired_by_reference(policy.rules, fact)
    finally:
        program.close()


def test_names_of_parts_in_one_ruleset_do_not_collide():
    conjunctions = tuple(((f"context.b{n % 10}", "eq", True), ("context.n", "eq", n))
                         for n in range(130))
    rule = CompiledRule("big", 1, conjunctions)
    (plan,) = pack([rule])
    assert len(plan.rules) == 3 and [part.first for part in plan.rules] == [0, 44, 88]
    names = set(ruleset_definition(plan, str)) - {"guard"}
    assert names == {f"big#{n}" for n in range(130)}


# ---- agreement on random policies that blow up ----------------------------------------------

@st.composite
def atoms(draw, optional_only=False):
    path = draw(st.sampled_from(OPTIONAL if optional_only else PATHS))
    kind = draw(st.sampled_from(["compare", "compare", "one_of", "presence"]))
    if kind == "presence":
        return Presence(path, draw(st.booleans()))
    if kind == "one_of":
        values = draw(st.lists(st.sampled_from(VALUES[path]), min_size=1, max_size=2,
                               unique=True))
        return OneOf(path, tuple(values), draw(st.booleans()))
    ops = ["eq", "neq"] + (["lt", "lte", "gt", "gte"] if FIELDS[path].type.ordered else [])
    return Compare(path, draw(st.sampled_from(ops)), draw(st.sampled_from(VALUES[path])))


def _path(condition):
    return condition.path


optional_atoms = atoms(optional_only=True)
exclusions = st.lists(optional_atoms, min_size=6, max_size=10, unique_by=_path).map(
    lambda items: All(tuple(Not(item) for item in items)))
small_ands = st.lists(optional_atoms, min_size=1, max_size=2, unique_by=_path).map(
    lambda items: All(tuple(items)))
ands = st.lists(atoms(), min_size=1, max_size=3).map(lambda items: All(tuple(items)))
ors_of_ands = st.lists(ands, min_size=3, max_size=5).map(lambda items: AnyOf(tuple(items)))
blow_ups = st.one_of(
    exclusions,
    # each AND negated is an OR of negations (missing or another value), and these are ANDed
    st.lists(small_ands, min_size=3, max_size=5).map(lambda items: Not(AnyOf(tuple(items)))),
    st.lists(ors_of_ands, min_size=3, max_size=4).map(lambda items: All(tuple(items))),
    st.tuples(exclusions, ors_of_ands).map(lambda pair: All(pair)),
    st.tuples(exclusions, ors_of_ands).map(lambda pair: AnyOf(pair)),
)
PRIORITIES = st.sampled_from([1, 2, 500])  # few values: ties are common


def compiles(when) -> bool:
    try:
        alternatives(when)
    except CompileError:
        return False
    return True


@settings(max_examples=examples(60))
@given(rules=st.lists(st.tuples(st.one_of(blow_ups, atoms()), PRIORITIES), min_size=1,
                      max_size=6),
       seed=st.integers(0, 2**32))
def test_engine_agrees_with_reference_on_rules_that_blow_up(rules, seed):
    rules = [(when, priority) for when, priority in rules if compiles(when)]
    assume(rules)
    policy = make_policy(rules)
    widest = max(len(alternatives(when)) for when, _ in rules)
    event("split" if widest > MAX_CONJUNCTIONS else "whole")
    rng = random.Random(seed)
    agree(policy, [random_fact(rng) for _ in range(40)])


@pytest.mark.slow
def test_engine_agrees_on_many_seeded_blow_ups():
    """Seeded, so it surely covers rules split in many parts; sizes logged on failure."""
    rng = random.Random(5)
    shapes = 0
    for _ in range(12):
        rules = []
        for number in range(rng.randint(3, 8)):
            flags = rng.sample(FLAGS, rng.randint(6, 10 if number % 2 else 9))
            exclusion = All(tuple(not_flag(flag, rng.random() < 0.7) for flag in flags))
            when = exclusion if number % 2 else AnyOf((exclusion, Compare(
                "context.n", rng.choice(["gte", "eq"]), rng.choice(VALUES["context.n"]))))
            rules.append((when, rng.choice([1, 2, 500])))
        shapes += sum(len(alternatives(when)) > MAX_CONJUNCTIONS for when, _ in rules)
        agree(make_policy(rules), [random_fact(rng) for _ in range(60)])
    assert shapes > 20


# ---- what was measured on the engine (durable_rules 2.0.28) ---------------------------------

def run_raw(script: str, payload: object) -> subprocess.CompletedProcess:
    """The raw engine in a child process: its failures can abort the process."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)],
                          input=json.dumps(payload), capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


FIRINGS = """
    import json, sys, durable_rules_engine as native
    tests, facts = json.load(sys.stdin)
    rules = {name: {"all": [{"m": {"$and": [{"_t": "i"}, test]}}], "pri": 1}
             for name, test in tests.items()}
    rules["guard"] = {"all": [{"m": {"_t": "i"}}], "pri": 65535}
    handle = native.create_ruleset("probe", json.dumps(rules))
    out = []
    for number, fact in enumerate(facts):
        fact.update({"_t": "i", "sid": "1", "id": f"f{number}"})
        code, state = native.assert_fact(handle, json.dumps(fact))
        names = []
        result = native.start_action_for_state(handle, state)
        while result:
            message = result[1] if isinstance(result, (tuple, list)) else result
            names.append(message[2:message.index('"', 2)])
            result = native.complete_and_start_action(handle, state)
        native.retract_fact(handle, json.dumps({"sid": "1", "id": fact["id"], "_t": "i"}))
        out.append(sorted(names))
    print(json.dumps(out))
"""


def test_no_engine_test_matches_a_missing_attribute_except_nex():
    """Why a negated test on an optional fact needs two alternatives: `$neq` (and every
    comparison) never matches a missing attribute, nor one sent as null; only `$nex` does.
    And `$or` inside one engine rule fires once per true branch: it is expanded, not one test."""
    tests = {"neq_true": {"$neq": {"x": True}}, "lt_true": {"$lt": {"x": True}},
             "neq_text": {"$neq": {"x": "a"}}, "neq_null": {"$neq": {"x": None}},
             "nex": {"$nex": {"x": 1}},
             "or": {"$or": [{"$neq": {"x": True}}, {"$neq": {"x": 5}}]}}
    run = run_raw(FIRINGS, [tests, [{}, {"x": None}, {"x": False}]])
    assert run.returncode == 0, run.stderr[-2000:]
    missing, null, false = json.loads(run.stdout)
    assert missing == ["guard", "nex"]
    assert null == ["guard"]
    assert false == ["guard", "lt_true", "neq_null", "neq_text", "neq_true", "or", "or"]


RAW_ASSERT = """
    import json, sys, durable_rules_engine as native
    definition, fact = json.load(sys.stdin)
    handle = native.create_ruleset("raw", json.dumps(definition))
    try:
        native.assert_fact(handle, json.dumps(fact))
    except Exception as error:
        print("refused:", error)
        sys.exit(3)
    print("asserted")
"""


def _definition(rules: dict) -> dict:
    return {**rules, "guard": {"all": [{"m": {"_t": "incident"}}], "pri": 65535}}


def _pairs(count):
    """Per field x<n>: one rule `x<n> == 1` and one `x<n>` missing."""
    return [CompiledRule(f"{kind}{n}", 1, (((f"x{n}", op, 1),),))
            for n in range(count) for kind, op in (("a", "eq"), ("b", "nex"))]


@pytest.mark.parametrize(("fields", "fails"), [(64, False), (65, True)])
def test_missing_and_equal_children_of_one_field_count_once_on_the_stack(fields, fails):
    """Per field, the engine pushes its `$nex` child only when the field is missing and an
    equality child only when it is present and equal: 2 x 64 such children work for a fact
    with half the fields, 2 x 65 fail (303), as the packer's model says."""
    rules = {f"{rule.rule_id}#0": {"all": [{"m": engine_expression(rule.conjunctions[0])}],
                                   "pri": 1} for rule in _pairs(fields)}
    fact = {"sid": "1", "_t": "incident", **{f"x{n}": 1 for n in range(0, fields, 2)}}
    run = run_raw(RAW_ASSERT, [_definition(rules), fact])
    if fails:
        assert run.returncode == 3 and "303" in run.stdout, run.stdout + run.stderr
    else:
        assert run.returncode == 0 and "asserted" in run.stdout, run.stdout + run.stderr


def test_the_packer_counts_missing_and_equal_children_of_one_field_once():
    rules = _pairs(MAX_TRUE_NODES + 1)
    plan = RulesetPlan()
    assert all(plan.try_add(rule) for rule in rules[:2 * MAX_TRUE_NODES])
    assert plan.root.peak == MAX_TRUE_NODES
    assert not plan.try_add(rules[2 * MAX_TRUE_NODES])


def test_or_inside_one_engine_rule_is_expanded_per_branch():
    """70 true branches of one `$or` fail like 70 separate rules would (303): an `$or` saves
    nothing on the engine's stack, so the compiler keeps one engine rule per alternative."""
    branches = [{"$gte": {"x": n}} for n in range(70)]
    rules = {"wide#0": {"all": [{"m": {"$and": [{"_t": "incident"}, {"$or": branches}]}}],
                        "pri": 1}}
    run = run_raw(RAW_ASSERT, [_definition(rules), {"sid": "1", "_t": "incident", "x": 1000}])
    assert run.returncode == 3 and "303" in run.stdout, run.stdout + run.stderr


def test_a_rule_is_compiled_once_for_its_fields_and_a_shorter_alternative_implies_longer():
    """Checking, the engine-limit check and registration reuse one compilation of a rule;
    A or (A and B) is A, whatever their lengths."""
    import dataclasses

    fields = incident_fields(("gold",), ("late",), ("EUR",), ("refund",))
    severe = Compare("failure.severity", "gte", 3)
    avoidable = Compare("failure.avoidable", "eq", True)
    @dataclasses.dataclass(frozen=True)
    class Rule:  # the parts of a policy rule compile_rule reads
        id: str
        priority: int
        when: object

    rule = Rule("r", 1, AnyOf((severe, All((severe, avoidable)))))
    first = compile_rule(rule, fields)
    assert compile_rule(rule, fields) is first
    assert compile_rule(rule, dict(fields)) is not first  # other fields: compiled anew
    assert first.conjunctions == ((("failure.severity", "gte", 3),),)
