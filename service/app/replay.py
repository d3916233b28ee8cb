"""What-if replay: the stored decisions of a period run through a candidate policy, nothing
stored.

Each stored decision is decided again as it stood: its request parsed with the candidate's
vocabulary, for the same role, with the customer's prior failures and what was already
granted when it was decided (both kept in the stored decision). The candidate's answer is
compared with the stored one by `service.domain.replay`. A request the candidate refuses (a
category, currency or remedy kind it lacks, a context fact it does not declare...) is
counted as not decidable with the reason; a role the candidate lacks is counted apart.

Decisions are read newest first in batches, each in a short transaction of its own (on
SQLite a transaction holds the database's write lock), and decided between them; one
`ActivePolicy` serves the whole run, its engine states reused from decision to decision.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from service.app.active_policy import ActivePolicy, PolicySource, load_source
from service.app.errors import Invalid
from service.app.intake import parse_incident
from service.app.policy_activation import stored_version
from service.domain.incident import History, IncidentInvalid
from service.domain.money import NoExchangeRate
from service.domain.replay import Replayable, ReplayTally, reason_of
from service.engine.adapter import RuleProgram
from service.policy.loader import POLICY_FILE, ROLES_FILE, is_folder
from service.policy.problems import PolicyInvalid
from service.policy.self_test import PolicyTestsFailed
from service.store import clock, keyset
from service.store.database import Store
from service.store.unit_of_work import UnitOfWork

BATCH_SIZE = 500  # decisions read in one short transaction
KEY_CHUNK = 50_000  # ids listed by one query (see service.store.replay_queries)
Progress = Callable[[int, int], None]  # (decisions replayed so far, decisions to replay)


@dataclass(frozen=True)
class Candidate:
    """A policy to replay against: loaded and compiled; its own test cases may fail (a what-if
    is often asked before they are brought up to date), and `failing_tests` names them."""

    active: ActivePolicy
    source: str  # "folder <path>" or "version <version>"
    failing_tests: tuple[str, ...] = ()
    owned: bool = True  # loaded for the replay: close it after

    def close(self) -> None:
        if self.owned:
            self.active.program.close()


def candidate_folder(folder: str | Path) -> Candidate:
    """The policy of a folder, or Invalid naming every problem (`candidate.folder`). A folder
    without both policy.yaml and roles.yaml is no policy folder, said in one line: nothing
    of what else it holds is read or told (a policy owner is no administrator of the
    server, whose other folders this is not for)."""
    path = Path(folder)
    try:
        files = [path / POLICY_FILE, path / ROLES_FILE]
        is_policy = is_folder(path) and all(file.is_file() for file in files)
    except OSError:
        is_policy = False
    if not is_policy:
        raise Invalid({"candidate.folder": [
            f"{folder}: no policy folder here (one holds {POLICY_FILE} and {ROLES_FILE})"]})
    try:
        return _loaded(PolicySource.read(folder), f"folder {folder}")
    except PolicyInvalid as error:
        raise Invalid({"candidate.folder": [str(p) for p in error.problems]}) from None


def candidate_version(store: Store, version: str,
                      serving: ActivePolicy | None = None) -> Candidate:
    """A stored policy version (the one `serving` already, when it is that one), or Invalid
    when the database has no such version (`candidate.version`)."""
    if serving is not None and serving.policy.version == version:
        return Candidate(serving, f"version {version}", owned=False)
    stored = stored_version(store, version)
    if stored is None:
        raise Invalid({"candidate.version": [
            f"No stored policy version {version!r}: name one that was activated."]})
    try:
        return _loaded(PolicySource.stored(stored), f"version {version}")
    except PolicyInvalid as error:
        raise Invalid({"candidate.version": [str(p) for p in error.problems]}) from None


def _loaded(source: PolicySource, label: str) -> Candidate:
    try:
        return Candidate(load_source(source), label)
    except PolicyTestsFailed as error:
        failing = tuple(f"{r.test.name} ({r.test.file}:{r.test.line})" for r in error.failures)
        return Candidate(ActivePolicy(error.policy, RuleProgram(error.policy)), label, failing)


@dataclass(frozen=True)
class Replay:
    """What a replay found, and how far it got."""

    policy_name: str
    policy_version: str
    since: datetime | None
    until: datetime  # the end of the period (exclusive): when the replay started if not given
    limit: int | None
    in_period: int  # stored decisions of the period when the replay started
    tally: ReplayTally
    complete: bool  # False: it stopped at its deadline before `limit` or the period's end
    # Where a replay of the rest would start (the last decision replayed), when decisions of
    # the period are left (the deadline or the limit came first); keyset.ENDED when none are.
    resume_after: keyset.Position
    seconds: float


def replay_period(since: datetime | None, until: datetime | None) -> datetime:
    """The end of a replay's period (now unless `until` says), or Invalid naming `since`
    when the period would start at or after it ends (a `since` in the future, say): checked
    before a candidate is loaded."""
    end = until or clock.now()
    if since is not None and since >= end:
        raise Invalid({"since": [f"The period starts ({since.isoformat()}) at or after it ends "
                                 f"({end.isoformat()})."]})
    return end


def replay(store: Store, candidate: ActivePolicy, since: datetime | None = None,
           until: datetime | None = None, limit: int | None = None,
           progress: Progress | None = None, *, sample: int = 10,
           deadline: float | None = None, after: keyset.Position = keyset.START,
           batch_size: int = BATCH_SIZE) -> Replay:
    """Replay the stored decisions of [since, until), newest first, at most `limit` of them
    (from `after`, where an earlier replay stopped), through `candidate`; nothing is stored.
    `progress(done, total)` is told after each batch. With a `deadline` (time.monotonic()),
    the replay starts no read and no decision after it, and says it is not complete."""
    started = time.perf_counter()
    until = replay_period(since, until)  # decisions made while it runs are not part of it
    tally = ReplayTally(sample_size=sample)
    keys: deque[str] = deque()
    position = after  # of the key listing
    last: keyset.Position = after  # the last decision replayed
    total: int | None = None
    complete = True

    def out_of_time() -> bool:
        return deadline is not None and time.monotonic() >= deadline

    while (keys or position is not keyset.ENDED) and (limit is None or tally.read < limit):
        if out_of_time():
            complete = False
            break
        left = None if limit is None else limit - tally.read
        with UnitOfWork(store) as uow:
            if total is None:
                total = uow.replay.count(since, until)
            if not keys:
                listed, position = uow.replay.keys(
                    since, until, position, KEY_CHUNK if left is None else min(KEY_CHUNK, left))
                keys.extend(listed)
            size = min(batch_size if left is None else min(batch_size, left), len(keys))
            batch = uow.replay.decisions([keys.popleft() for _ in range(size)])
        for stored in batch:
            if out_of_time():
                complete = False
                break
            _replay_one(candidate, stored, tally)
            last = (stored.decided_at, stored.id)
        if not complete:
            break
        if progress is not None:
            progress(tally.read, _to_replay(total or 0, limit))
    more = not complete or bool(keys) or position is not keyset.ENDED
    return Replay(candidate.policy.name, candidate.policy.version, since, until, limit,
                  total or 0, tally, complete, last if more else keyset.ENDED,
                  time.perf_counter() - started)


def _replay_one(candidate: ActivePolicy, stored: Replayable, tally: ReplayTally) -> None:
    """Decide one stored decision again with the candidate, as it stood, and count it."""
    policy = candidate.policy
    if stored.role not in policy.roles:
        tally.without_role(stored)
        return
    try:
        incident = parse_incident(stored.request, policy)
        after = candidate.decide(incident, stored.role, History(
            stored.decision.prior_failures, stored.decision.granted))
    except IncidentInvalid as refused:
        tally.refused(stored, reason_of(refused.errors))
        return
    except NoExchangeRate as missing:
        tally.refused(stored, f"earlier grants count toward its limits, but {missing}")
        return
    tally.add(stored, after)


def _to_replay(total: int, limit: int | None) -> int:
    return total if limit is None else min(total, limit)
