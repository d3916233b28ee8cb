"""Activating a policy version: its files stored in the database and marked active, in one
transaction, so that every worker of every instance sharing the database serves exactly it.

A version that would orphan stored work is refused, naming the work and the first decisions
it is on: pending approval requests for a role it removes, open offers in a currency it drops
or of a remedy kind it removes (approving or granting them would fail; an offer a grant on its
decision excludes whatever the policy, one of its kind or of its capped pair's other, is not
open), grants of a kind it removes beside open offers, grants in a currency it drops without
rates from it (running totals count them: deciding and granting would fail). Refused attempts
are recorded with their reasons, who and when.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from service.app.active_policy import ActivePolicy, PolicySource
from service.config import ConfigError
from service.domain.records import OpenWork, StoredPolicyVersion
from service.policy.model import Policy
from service.store import clock
from service.store.database import Store
from service.store.unit_of_work import UnitOfWork

ACTIVATION_LOCK = "policy:activation"


class Outcome(StrEnum):
    ACTIVATED = "activated"
    UNCHANGED = "unchanged"  # it was the active version already
    REFUSED = "refused"


@dataclass(frozen=True)
class Activation:
    version: str
    outcome: Outcome
    reasons: tuple[str, ...] = ()

    @property
    def refused(self) -> bool:
        return self.outcome == Outcome.REFUSED


def os_user() -> str:
    """Who runs this process, as activations record it when no one else is named."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a container user with no passwd entry
        return f"uid {os.getuid()}"


def activate(store: Store, source: PolicySource, policy: Policy, by: str,
             via: str, refusals: Sequence[str] = ()) -> Activation:
    """Make `policy` (loaded from `source`, checked and proven) the active version, unless it
    is already, or it would orphan stored work, or `refusals` say why this server may not
    serve it (refusal_by: its API keys' roles); a refusal is recorded with every reason."""
    with UnitOfWork(store) as uow:
        uow.lock(ACTIVATION_LOCK)
        moment = clock.now()  # once the lock is held: activations are dated in their order
        active = uow.policies.active()
        if active is not None and active.version == policy.version:
            return Activation(policy.version, Outcome.UNCHANGED)
        reasons = [*refusals, *orphaned_work(uow.policies.open_work(), policy,
                                             uow.policies.decisions_with)]
        if reasons:
            uow.policies.refuse(policy.version, reasons, by, via, moment)
            return Activation(policy.version, Outcome.REFUSED, tuple(reasons))
        uow.policies.activate(policy.version, policy.name, source.texts(), by, via, moment)
    return Activation(policy.version, Outcome.ACTIVATED)


def refusal_by(check: Callable[[ActivePolicy], None] | None,
               candidate: ActivePolicy) -> list[str]:
    """Why `check` refuses the version, or nothing."""
    if check is None:
        return []
    try:
        check(candidate)
    except ConfigError as error:
        return [str(error)]
    return []


def load_limit(worker_timeout_seconds: float) -> float:
    """The longest a version may take to load: half the worker timeout, since every worker
    of every server loads a version made active elsewhere inside a request (the first one
    after it), which gunicorn ends at the worker timeout."""
    return worker_timeout_seconds / 2


def too_slow(loaded: ActivePolicy, limit: float | None) -> list[str]:
    """Why a version that took this long to load may not be activated, or nothing: once
    active, every request that loads it would be killed, and the worker that takes the next
    one would try again (every answer a 500)."""
    if limit is None or loaded.load_seconds <= limit:
        return []
    return [f"loading it took {loaded.load_seconds:.1f} s, more than the {limit:g} s a worker "
            "may spend loading a version inside a request (half of AMENDS_TIMEOUT): make its "
            "`hit: unique` tables smaller or its conditions simpler, split it, or raise "
            "AMENDS_TIMEOUT"]


def record_refusal(store: Store, version: str | None, reasons: Sequence[str], by: str,
                   via: str) -> None:
    """A version that could not even be loaded (its problems, its failing tests)."""
    with UnitOfWork(store) as uow:
        uow.policies.refuse(version, reasons, by, via, clock.now())


def active_stored(store: Store) -> StoredPolicyVersion | None:
    """The active version's files, or None when no version was ever activated."""
    with UnitOfWork(store) as uow:
        active = uow.policies.active()
        return None if active is None else uow.policies.version(active.version)


def is_active(store: Store, version: str) -> bool:
    """Whether `version` is the one the database says is active."""
    with UnitOfWork(store) as uow:
        active = uow.policies.active()
        return active is not None and active.version == version


def stored_version(store: Store, version: str) -> StoredPolicyVersion | None:
    with UnitOfWork(store) as uow:
        return uow.policies.version(version)


# Where the work of one of OpenWork's counts for one key is: how many decisions it is on,
# and the first few of their ids (PolicyQueries.decisions_with).
Where = Callable[[str, str], tuple[int, tuple[str, ...]]]


def orphaned_work(work: OpenWork, policy: Policy, where: Where | None = None) -> list[str]:
    """What stored work `policy` would leave unfinishable, each as one sentence, naming the
    first decisions it is on when `where` says (asked only for the work named)."""
    reasons = []
    for role, count in sorted(work.pending_by_approver_role.items()):
        if role not in policy.roles:
            reasons.append(f"{_counted(count, 'pending approval request')} "
                           f"{_are(count)} for role {role}, which this version removes"
                           f"{_on(where, 'pending_by_approver_role', role)}")
    for role, count in sorted(work.pending_by_requester_role.items()):
        if role not in policy.roles:
            reasons.append(f"{_counted(count, 'pending approval request')} "
                           f"{_were(count)} asked by role {role}, which this version removes"
                           f"{_on(where, 'pending_by_requester_role', role)}")
    for currency, count in sorted(work.open_offers_by_currency.items()):
        if currency not in policy.currencies:
            reasons.append(f"{_counted(count, 'stored offer')} {_are(count)} in {currency}, "
                           "which this version drops"
                           f"{_on(where, 'open_offers_by_currency', currency)}")
    for kind, count in sorted(work.open_offers_by_remedy.items()):
        if kind not in policy.remedy_kinds:
            reasons.append(f"{_counted(count, 'stored offer')} {_are(count)} of remedy kind "
                           f"{kind}, which this version removes"
                           f"{_on(where, 'open_offers_by_remedy', kind)}")
    for kind, count in sorted(work.grants_beside_open_offers_by_remedy.items()):
        if kind not in policy.remedy_kinds:
            reasons.append(f"{_counted(count, 'grant')} of remedy kind {kind} "
                           f"{_are(count)} on decisions with offers still open, which this "
                           "version removes"
                           f"{_on(where, 'grants_beside_open_offers_by_remedy', kind)}")
    rates = policy.exchange_rates.rates if policy.exchange_rates is not None else {}
    for currency, count in sorted(work.grants_by_currency.items()):
        lacking = [into for into in policy.currencies
                   if into != currency and currency not in rates.get(into, {})]
        if currency not in policy.currencies and lacking:
            reasons.append(f"{_counted(count, 'grant')} {_are(count)} in {currency}, which this "
                           f"version drops{_on(where, 'grants_by_currency', currency)}, and "
                           "running totals still count them (an order's "
                           f"cap for good): keep {currency}, or give rates from {currency} "
                           f"into {', '.join(lacking)} in its exchange_rates")
    return reasons


def _on(where: Where | None, count: str, key: str) -> str:
    """Where the work is, after the sentence naming it: " (decisions a, b, c and 38 more)",
    so that whoever must finish it finds it; nothing when no one says."""
    if where is None:
        return ""
    decisions, first = where(count, key)
    if not first:
        return ""
    if decisions == 1:
        return f" (decision {first[0]})"
    more = decisions - len(first)
    if more:
        return f" (decisions {', '.join(first)} and {more} more)"
    return f" (decisions {', '.join(first[:-1])} and {first[-1]})"


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _are(count: int) -> str:
    return "is" if count == 1 else "are"


def _were(count: int) -> str:
    return "was" if count == 1 else "were"
