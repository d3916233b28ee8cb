"""An active policy: loaded, checked, compiled into the engine and proven by its own tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.app.intake import parse_incident
from service.domain.decision import Decision, decide
from service.domain.incident import History, Incident
from service.engine.adapter import RuleProgram
from service.policy.loader import load_policy
from service.policy.model import Policy
from service.policy.self_test import PolicyTestsFailed, run_policy_tests


def read_policy(directory: str | Path) -> Policy:
    """A policy folder checked, its own test cases read with the service's incident parser."""
    return load_policy(directory, parse_incident)


@dataclass(frozen=True)
class ActivePolicy:
    policy: Policy
    program: RuleProgram

    @classmethod
    def load(cls, directory: str | Path) -> ActivePolicy:
        """Checked, compiled and proven by its own tests, or PolicyInvalid / PolicyTestsFailed."""
        policy = read_policy(directory)
        active = cls(policy, RuleProgram(policy))
        results = run_policy_tests(policy, active.program.fired, parse_incident)
        failures = [result for result in results if not result.passed]
        if failures:
            active.program.close()
            raise PolicyTestsFailed(policy, failures)
        return active

    def decide(self, incident: Incident, role: str, history: History | None = None) -> Decision:
        return decide(incident, history or History(), self.policy, role, self.program.fired)
