"""Engine states are reused across decisions: results never carry over, threads never share a
state, a failed decision never hands its state on, and memory stays flat."""

import random
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.big_policies import random_incident, write_generated_policy
from service.app.intake import parse_incident
from service.domain.fields import flat_fact
from service.engine import adapter
from service.engine.adapter import EngineError, RuleProgram
from service.policy.conditions import fired_by_reference
from service.policy.loader import load_policy
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A 400-rule policy, 240 facts, and the rules each fact fires by the reference evaluator
    (computed once: it is the slow part)."""
    policy = load_policy(write_generated_policy(tmp_path_factory.mktemp("g") / "p", 400))
    rng = random.Random(5)
    facts = []
    for number in range(240):
        incident = parse_incident(random_incident(rng, number), policy)
        facts.append(flat_fact(incident, incident.customer.prior_failures or 0, policy.fields))
    return policy, facts, [fired_by_reference(policy.rules, fact) for fact in facts]


@pytest.fixture
def program(generated):
    """The generated policy registered with the engine, closed after the test."""
    registered = RuleProgram(generated[0])
    yield registered
    registered.close()


def test_each_decision_sees_only_its_own_fact(program, generated):
    """Alternating facts through one reused state give what each gives alone."""
    _, facts, expected = generated
    for fact, fired in zip(facts + facts[::-1], expected + expected[::-1], strict=True):
        assert program.fired(fact) == fired
    assert len(program._free_sids) == 1  # one decision at a time: one state per ruleset


def test_threads_deciding_at_once_never_share_a_state(program, generated):
    _, facts, expected = generated
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            assert list(pool.map(program.fired, facts)) == expected
    assert 1 <= len(program._free_sids) <= 8


def test_a_decision_that_fails_in_the_engine_discards_its_state(program, generated, monkeypatch):
    _, facts, expected = generated
    program.fired(facts[0])
    (reused,) = program._free_sids
    real = adapter.native.start_action_for_state
    calls = {"n": 0}

    def failing_once(handle, state):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("engine error 301")
        return real(handle, state)

    monkeypatch.setattr(adapter.native, "start_action_for_state", failing_once)
    with pytest.raises(RuntimeError, match="301"):
        program.fired(facts[1])
    assert program._free_sids == []  # the failed sid is gone, not returned
    monkeypatch.setattr(adapter.native, "start_action_for_state", real)
    for fact, fired in zip(facts[:20], expected[:20], strict=True):
        assert program.fired(fact) == fired
    assert program._free_sids != [reused]


@pytest.mark.parametrize("answer", [("{}", ""), ("{}", None), ("{}", "[1]"), ("{}", 7)],
                         ids=["empty", "none", "not-an-object", "not-text"])
def test_an_engine_answer_the_adapter_cannot_read_is_an_error(program, generated, monkeypatch,
                                                              answer):
    """Never a decision with rules silently left out: the first action the engine starts
    must be a message naming a rule; the sid is not used again."""
    _, facts, expected = generated
    program.fired(facts[0])
    monkeypatch.setattr(adapter.native, "start_action_for_state", lambda *_: answer)
    with pytest.raises(EngineError, match="unexpected engine"):
        program.fired(facts[1])
    assert program._free_sids == []
    monkeypatch.undo()
    assert program.fired(facts[2]) == expected[2]


def test_an_action_left_pending_after_the_retraction_is_an_error(program, generated, monkeypatch):
    _, facts, _ = generated
    real = adapter.native.start_action_for_state
    calls = {"n": 0}

    def pending_after_retraction(handle, state):
        calls["n"] += 1
        started = real(handle, state)
        return started if calls["n"] == 1 else ("{}", '{"0": {}}')

    monkeypatch.setattr(adapter.native, "start_action_for_state", pending_after_retraction)
    with pytest.raises(EngineError, match="left an action pending"):
        program.fired(facts[0])
    assert program._free_sids == []


def test_a_malformed_fact_is_refused_and_later_decisions_still_work(program, generated):
    _, facts, expected = generated
    program.fired(facts[0])
    with pytest.raises(EngineError):
        program.fired({**facts[1], "order.value": 1e-05})  # error 204: not a number to it
    assert program.fired(facts[2]) == expected[2]


@pytest.mark.slow
def test_memory_stays_flat_over_many_decisions(tmp_path):
    """In a child process: 30,000 decisions through reused states, memory measured after
    the first 5,000 and at the end."""
    directory = write_generated_policy(tmp_path / "p", 300)
    script = textwrap.dedent(f"""
        import random
        from service.engine.adapter import RuleProgram
        from service.domain.fields import flat_fact
        from service.app.intake import parse_incident
        from bench.big_policies import random_incident
        from service.policy.loader import load_policy
        policy = load_policy({str(directory)!r})
        program = RuleProgram(policy)
        rng = random.Random(1)
        facts = []
        for n in range(200):
            incident = parse_incident(random_incident(rng, n), policy)
            facts.append(flat_fact(incident, 0, policy.fields))
        def rss():
            return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
        for n in range(5000):
            program.fired(facts[n % 200])
        before = rss()
        for n in range(25000):
            program.fired(facts[n % 200])
        print(round(rss() - before, 1))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert float(run.stdout.strip()) < 5.0, run.stdout


def test_closing_a_program_frees_its_states(tmp_path):
    """Deleting a ruleset leaves its states allocated; close() deletes them first."""
    directory = write_generated_policy(tmp_path / "p", 100)
    script = textwrap.dedent(f"""
        import random
        from service.engine.adapter import RuleProgram
        from service.domain.fields import flat_fact
        from service.app.intake import parse_incident
        from bench.big_policies import random_incident
        from service.policy.loader import load_policy
        policy = load_policy({str(directory)!r})
        incident = parse_incident(random_incident(random.Random(1), 0), policy)
        fact = flat_fact(incident, 0, policy.fields)
        def rss():
            return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
        def cycle():
            program = RuleProgram(policy)
            program.fired(fact)
            program.close()
        for _ in range(5):
            cycle()
        before = rss()
        for _ in range(40):
            cycle()
        print(round(rss() - before, 1))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert float(run.stdout.strip()) < 8.0, run.stdout
