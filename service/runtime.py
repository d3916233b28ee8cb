"""An active policy: loaded, checked, compiled into the engine and proven by its own tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from service.decision import Decision, decide
from service.engine.adapter import RuleProgram
from service.incident import History, Incident
from service.policy.loader import load_policy
from service.policy.model import Policy
from service.policy_tests import TestResult, run_policy_tests

SHIPPED_POLICY = Path(__file__).resolve().parent.parent / "rules" / "default"


def default_policy_dir() -> str:
    return os.environ.get("AMENDS_POLICY") or str(SHIPPED_POLICY)


class PolicyTestsFailed(Exception):
    """A policy whose own tests fail is never activated."""

    def __init__(self, policy: Policy, failures: list[TestResult]):
        self.policy = policy
        self.failures = failures
        super().__init__(f"policy {policy.name} ({policy.directory}): "
                         f"{len(failures)} of its {len(policy.tests)} test cases fail")

    def report(self) -> str:
        return "\n".join([str(self), *(format_result(r) for r in self.failures)])


def format_result(result: TestResult) -> str:
    test = result.test
    head = f"{'ok  ' if result.passed else 'FAIL'} {test.file}:{test.line} {test.name} " \
           f"(role {test.role})"
    return "\n".join([head, *(f"       {m}" for m in result.mismatches)])


@dataclass(frozen=True)
class ActivePolicy:
    policy: Policy
    program: RuleProgram

    @classmethod
    def load(cls, directory: str | Path, run_tests: bool = True) -> ActivePolicy:
        policy = load_policy(directory)
        active = cls(policy, RuleProgram(policy))
        if run_tests:
            failures = [r for r in run_policy_tests(policy, active.program.fired) if not r.passed]
            if failures:
                raise PolicyTestsFailed(policy, failures)
        return active

    def decide(self, incident: Incident, role: str, history: History | None = None) -> Decision:
        return decide(incident, history or History(), self.policy, role, self.program.fired)
