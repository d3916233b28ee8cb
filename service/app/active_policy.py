"""An active policy: loaded, checked, compiled into the engine and proven by its own tests.

A version is loaded from a `PolicySource`: its files as read at one moment, from a folder or
from the database. The files are written to a private folder, loaded from there and the
folder removed, so what is checked is exactly what is stored and served, whatever happens
to the folder meanwhile. Problems name the files where they came from (the folder, as
`amends policy check` names them, or the stored version).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from service.app.intake import parse_incident
from service.domain.decision import Decision, decide
from service.domain.incident import History, Incident
from service.domain.records import StoredPolicyVersion
from service.engine.adapter import RuleProgram
from service.policy.loader import (
    Progress,
    is_folder,
    load_policy,
    policy_files,
    policy_version,
    skipped_files,
)
from service.policy.model import Policy
from service.policy.problems import PolicyInvalid, Problem
from service.policy.self_test import (
    PolicyTestsFailed,
    TestResult,
    format_result,
    run_policy_tests,
)

log = logging.getLogger("amends.policy")  # JSON lines on stderr when served


def read_policy(directory: str | Path, progress: Progress | None = None,
                strict: bool = True) -> Policy:
    """A policy folder checked, its own test cases read with the service's incident parser
    (`strict`: as a new version; False for one activated before, see load_policy)."""
    return load_policy(directory, parse_incident, progress, strict)


@dataclass(frozen=True)
class ActivePolicy:
    policy: Policy
    program: RuleProgram
    # How long reading, checking, compiling and proving it took (0: not measured). Every
    # worker loads a version made active elsewhere inside a request: see too_slow.
    load_seconds: float = 0.0
    # The version's own tests that fail: none, but for the active version loaded as such
    # (load_source, already_active), which serves when this Amends decides otherwise than
    # the one that activated it.
    failing_tests: tuple[TestResult, ...] = ()

    @classmethod
    def load(cls, directory: str | Path) -> ActivePolicy:
        """Checked, compiled and proven by its own tests, or PolicyInvalid / PolicyTestsFailed."""
        started = time.perf_counter()
        active = cls.prove(read_policy(directory))
        return replace(active, load_seconds=time.perf_counter() - started)

    @classmethod
    def prove(cls, policy: Policy, already_active: bool = False) -> ActivePolicy:
        """Compiled and proven by its own tests, or PolicyTestsFailed. `already_active`: the
        failures are kept in `failing_tests` instead (see load_source)."""
        active = cls(policy, RuleProgram(policy))
        results = run_policy_tests(policy, active.program.fired, parse_incident)
        failures = [result for result in results if not result.passed]
        if failures and not already_active:
            active.program.close()
            raise PolicyTestsFailed(policy, failures)
        return replace(active, failing_tests=tuple(failures))

    def decide(self, incident: Incident, role: str, history: History | None = None) -> Decision:
        return decide(incident, history or History(), self.policy, role, self.program.fired)


@dataclass(frozen=True)
class PolicySource:
    """The files of one policy version, read once: name -> content."""

    files: dict[str, bytes]
    label: str  # where they came from, as problems name them
    activated: bool = False  # stored when it was activated: loads without later checks

    @classmethod
    def read(cls, directory: str | Path) -> PolicySource:
        """Every policy file of a folder as it is now, or PolicyInvalid when there is none."""
        folder = Path(directory)
        label = str(folder)
        if not is_folder(folder):
            raise PolicyInvalid(label, [Problem(label, 0, "no such policy folder")])
        try:
            skipped = skipped_files(folder)
            if skipped:
                raise PolicyInvalid(label, skipped)
            return cls({path.name: path.read_bytes() for path in policy_files(folder)}, label)
        except OSError as error:
            raise PolicyInvalid(label, [Problem(label, 0, f"cannot be read: {error}")]) from None

    @classmethod
    def stored(cls, stored: StoredPolicyVersion) -> PolicySource:
        return cls({name: text.encode("utf-8") for name, text in stored.files.items()},
                   version_label(stored.version), activated=True)

    def texts(self) -> dict[str, str]:
        """The files as text, to store (a version that loaded is UTF-8 throughout)."""
        return {name: data.decode("utf-8") for name, data in sorted(self.files.items())}

    def version(self) -> str:
        """The content hash the loader gives these files (`policy_version`)."""
        with _written(self) as private:
            return policy_version(private)


def version_label(version: str) -> str:
    """How a loaded version names its files (a served version names no folder: every worker
    of every instance loads the same files from the database)."""
    return f"version {version}"


def load_source(source: PolicySource, work_dir: Path | None = None,
                already_active: bool = False) -> ActivePolicy:
    """The version these files make, checked, compiled and proven, or PolicyInvalid /
    PolicyTestsFailed naming the files by `source.label`. `work_dir` holds the private
    folder the files are loaded from while loading (the system's temporary folder when
    None). `already_active`: the version the database says is active, loaded to serve (at
    start, or following an activation elsewhere): an Amends upgraded since it was activated
    may decide some of its own tests otherwise, and it serves all the same, with the
    failures in `failing_tests` and logged, so that an upgrade never stops the active
    version. Activating a version always needs all of its tests to pass."""
    started = time.perf_counter()
    with _written(source, work_dir) as private:
        try:
            policy = read_policy(private, strict=not source.activated)
        except PolicyInvalid as error:
            raise PolicyInvalid(source.label, [
                replace(problem, file=_renamed(problem.file, private, source.label))
                for problem in error.problems]) from None
        active = ActivePolicy.prove(_relabelled(policy, private, source.label), already_active)
    if active.failing_tests:
        log.warning("policy %s version %s is active, and %d of its %d own test cases fail "
                    "under this Amends (it serves; activate a version whose tests pass):\n%s",
                    active.policy.name, active.policy.version, len(active.failing_tests),
                    len(active.policy.tests),
                    "\n".join(format_result(result) for result in active.failing_tests))
    served = version_label(active.policy.version)
    return replace(active, policy=_relabelled(active.policy, source.label, served),
                   failing_tests=tuple(  # named as the served version's, as its rules are
                       replace(result, test=replace(result.test, file=_renamed(
                           result.test.file, source.label, served)))
                       for result in active.failing_tests),
                   load_seconds=time.perf_counter() - started)


class _written:
    """The source's files in a fresh private folder, removed on leaving."""

    def __init__(self, source: PolicySource, work_dir: Path | None = None):
        self.source, self.work_dir = source, work_dir

    def __enter__(self) -> Path:
        if self.work_dir is not None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        self.private = Path(tempfile.mkdtemp(prefix="policy-", dir=self.work_dir))
        for name, data in self.source.files.items():
            (self.private / name).write_bytes(data)
        return self.private

    def __exit__(self, *_exc) -> None:
        shutil.rmtree(self.private, ignore_errors=True)


def _renamed(file: str, old: Path | str, new: str) -> str:
    old = str(old)
    if file == old:
        return new
    return new + file[len(old):] if file.startswith(old + "/") else file


def _relabelled(policy: Policy, old: Path | str, new: str) -> Policy:
    """The policy with its folder, rules and tests naming files under `new`."""
    return replace(
        policy, directory=new, rules_by_id={},
        rules=tuple(replace(rule, file=_renamed(rule.file, old, new)) for rule in policy.rules),
        tests=tuple(replace(test, file=_renamed(test.file, old, new)) for test in policy.tests))
