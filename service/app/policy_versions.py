"""Policy versions for the people who own the policy: every stored version with who activated
it, when and how; one version with its files; the attempts that were refused, with their
reasons; what changed between two versions, in words; and rolling back to an earlier version.

A rollback activates a stored version the way any version is activated
(`service.app.policy_activation.activate`): loaded from the files the database keeps,
checked, compiled and proven by its own tests, and refused, with the refusal recorded, when
it fails or would orphan stored work. Every worker of every instance then follows it as it
follows any activation. A diff only reads the two versions' files: nothing is compiled.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from service.app.active_policy import ActivePolicy, PolicySource, load_source, read_policy
from service.app.errors import Invalid, NotFound
from service.app.policy_activation import (
    Activation,
    Outcome,
    activate,
    record_refusal,
    refusal_by,
    too_slow,
)
from service.domain.records import PolicyActivation, StoredPolicyVersion
from service.policy.diff import PolicyDiff, diff
from service.policy.model import Policy
from service.policy.problems import PolicyInvalid, Problem
from service.policy.self_test import PolicyTestsFailed
from service.store import keyset
from service.store.database import Store
from service.store.policy_queries import RefusalEntry, VersionEntry
from service.store.unit_of_work import UnitOfWork

VERSIONS = ("versions",)
REFUSALS = ("refusals",)
_NOT_STORED = "No policy version {version} is stored: only activated versions are."


@dataclass(frozen=True)
class VersionSummary:
    """A stored version: its first activation, every activation (newest first), and whether
    it is the active one."""

    entry: VersionEntry
    activations: tuple[PolicyActivation, ...]
    active: bool

    @property
    def version(self) -> str:
        return self.entry.version


@dataclass(frozen=True)
class VersionPage:
    versions: tuple[VersionSummary, ...]
    active_version: str | None
    next_cursor: str | None


@dataclass(frozen=True)
class VersionDetail:
    stored: StoredPolicyVersion
    activations: tuple[PolicyActivation, ...]
    active: bool


@dataclass(frozen=True)
class RefusalPage:
    refusals: tuple[RefusalEntry, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class VersionsCompared:
    """Two versions (stored, or a folder's candidate) and what changed from one to the
    other."""

    old: Policy
    new: Policy
    diff: PolicyDiff


@dataclass(frozen=True)
class Rollback:
    """A stored version activated again (or refused, with its reasons)."""

    activation: Activation
    name: str  # the policy's name in that version
    active: PolicyActivation | None = None  # the activation that serves now

    @property
    def refused(self) -> bool:
        return self.activation.refused


def list_versions(store: Store, limit: int, cursor: str | None = None) -> VersionPage:
    """Stored versions, the newest first activation first, a page at a time. Raises
    keyset.CursorInvalid for a cursor this service did not give."""
    position = keyset.decode(cursor, VERSIONS)["versions"]
    with UnitOfWork(store) as uow:
        entries, next_position = uow.policies.versions_page(position, limit)
        activations = uow.policies.activations_of([entry.version for entry in entries])
        active = uow.policies.active()
    active_version = None if active is None else active.version
    return VersionPage(
        tuple(VersionSummary(entry, tuple(activations[entry.version]),
                             entry.version == active_version) for entry in entries),
        active_version, keyset.encode({"versions": next_position}))


def show_version(store: Store, version: str) -> VersionDetail:
    """A stored version with its files and every activation; NotFound when none is stored."""
    with UnitOfWork(store) as uow:
        stored = uow.policies.version(version)
        if stored is None:
            raise NotFound(_NOT_STORED.format(version=version))
        activations = uow.policies.activations_of([version])[version]
        active = uow.policies.active()
    return VersionDetail(stored, tuple(activations),
                         active is not None and active.version == version)


def list_refusals(store: Store, limit: int, cursor: str | None = None) -> RefusalPage:
    """Refused attempts to activate a version, newest first, a page at a time."""
    position = keyset.decode(cursor, REFUSALS)["refusals"]
    with UnitOfWork(store) as uow:
        entries, next_position = uow.policies.refusals_page(position, limit)
    return RefusalPage(tuple(entries), keyset.encode({"refusals": next_position}))


def stored_source(store: Store, version: str) -> PolicySource:
    """A stored version's files; NotFound when none is stored."""
    return PolicySource.stored(_stored(store, version))


def _stored(store: Store, version: str) -> StoredPolicyVersion:
    with UnitOfWork(store) as uow:
        stored = uow.policies.version(version)
    if stored is None:
        raise NotFound(_NOT_STORED.format(version=version))
    return stored


def compare_versions(store: Store, old: str, new: str,
                     names: tuple[str, str] = ("old", "new")) -> VersionsCompared:
    """What changed from stored version `old` to stored version `new`. NotFound when either
    is not stored; Invalid, under the name of the one at fault (`names`), when a stored
    version no longer reads (every problem, as `amends policy check` prints them)."""
    policies = []
    for name, version in zip(names, (old, new), strict=True):
        try:
            policies.append(parse_source(stored_source(store, version)))
        except PolicyInvalid as error:
            raise Invalid({name: [str(problem) for problem in error.problems]}) from None
    before, after = policies
    return VersionsCompared(before, after, diff(before, after))


def compare(old: PolicySource, new: PolicySource) -> VersionsCompared:
    """What changed between two sets of policy files (each read and checked, not compiled or
    self-tested). PolicyInvalid, naming the files by their label, when either does not
    read."""
    before, after = parse_source(old), parse_source(new)
    return VersionsCompared(before, after, diff(before, after))


def parse_source(source: PolicySource) -> Policy:
    """A version's files read and checked (every problem at once, as PolicyInvalid naming
    the files by `source.label`), from a private copy that is removed afterwards."""
    private = Path(tempfile.mkdtemp(prefix="policy-diff-"))
    try:
        for name, data in source.files.items():
            (private / name).write_bytes(data)
        try:
            return read_policy(private, strict=not source.activated)
        except PolicyInvalid as error:
            raise PolicyInvalid(source.label, [
                _relabelled(problem, private, source.label) for problem in error.problems]
            ) from None
    finally:
        shutil.rmtree(private, ignore_errors=True)


def rollback(store: Store, version: str, by: str, via: str,
             work_dir: Path | None = None,
             check: Callable[[ActivePolicy], None] | None = None,
             load_limit: float | None = None) -> Rollback:
    """Activate stored version `version` again, proven as any activation is: loaded from the
    stored files, checked, compiled and self-tested, then activated unless that would orphan
    stored work. A refusal is recorded with its reasons. NotFound when it is not stored."""
    stored = _stored(store, version)
    source = PolicySource.stored(stored)
    try:
        loaded = load_source(source, work_dir)
    except (PolicyInvalid, PolicyTestsFailed) as error:
        reasons = ([str(problem) for problem in error.problems]
                   if isinstance(error, PolicyInvalid) else error.report().splitlines())
        record_refusal(store, version, reasons, by, via)
        return Rollback(Activation(version, Outcome.REFUSED, tuple(reasons)), stored.name)
    try:
        activation = activate(store, source, loaded.policy, by, via,
                              [*refusal_by(check, loaded), *too_slow(loaded, load_limit)])
    finally:
        loaded.program.close()
    with UnitOfWork(store) as uow:
        active = uow.policies.active()
    return Rollback(activation, loaded.policy.name, active)


def _relabelled(problem: Problem, private: Path, label: str) -> Problem:
    file = str(problem.file)
    if file == str(private):
        return replace(problem, file=label)
    if file.startswith(f"{private}/"):
        return replace(problem, file=label + file[len(str(private)):])
    return problem
