"""Live policy reload: check, compile, register and self-test a new version before it serves,
then swap it in atomically; requests in flight finish on the version they started with.

Processes share a small state file (the active version and the last refused attempt), so
every gunicorn worker follows a reload made in any of them, or in the master on SIGHUP,
before its next request.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from service.app import metrics
from service.app.active_policy import ActivePolicy
from service.domain.records import RefusedReload
from service.policy.loader import policy_version
from service.policy.problems import PolicyInvalid
from service.policy.self_test import PolicyTestsFailed
from service.store import clock, policy_state
from service.store.policy_state import PolicyState

log = logging.getLogger("amends.policy")


@dataclass
class _Pinned:
    active: ActivePolicy
    users: int = 0
    retired: bool = False


@dataclass(frozen=True)
class ReloadResult:
    active: ActivePolicy
    changed: bool
    refused: RefusedReload | None = None


@dataclass
class PolicyHolder:
    current: ActivePolicy
    directory: str
    state_file: Path | None = None
    last_refused: RefusedReload | None = None
    _pins: dict = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _seen_mtime: float = 0.0

    # ---- requests ----------------------------------------------------------------------
    def acquire(self) -> ActivePolicy:
        """The policy this request uses from start to end."""
        self.follow()
        with self._lock:
            pin = self._pins.setdefault(id(self.current), _Pinned(self.current))
            pin.users += 1
            return pin.active

    def release(self, active: ActivePolicy) -> None:
        with self._lock:
            pin = self._pins.get(id(active))
            if pin is None:
                return
            pin.users -= 1
            if pin.retired and pin.users == 0:
                self._close(pin)

    # ---- reloading ---------------------------------------------------------------------
    def reload(self, trigger: str) -> ReloadResult:
        """Load the folder as it is now; refuse it, with every reason, unless it passes."""
        with self._lock:
            try:
                candidate = ActivePolicy.load(self.directory)
            except (PolicyInvalid, PolicyTestsFailed) as error:
                refused = RefusedReload(_safe_version(self.directory), clock.now(), trigger,
                                        tuple(_reasons(error)))
                self.last_refused = refused
                self._write_state()
                metrics.RELOADS.labels("refused").inc()
                log.error("policy version %s refused (%s); %s keeps serving: %s",
                          refused.version, trigger, self.current.policy.version,
                          "; ".join(refused.reasons))
                return ReloadResult(self.current, False, refused)
            if candidate.policy.version == self.current.policy.version:
                candidate.program.close()
                if self.last_refused is not None:  # the folder is back to what serves
                    self.last_refused = None
                    self._write_state()
                metrics.RELOADS.labels("unchanged").inc()
                return ReloadResult(self.current, False)
            self._swap(candidate)
            self.last_refused = None
            self._write_state()
            metrics.RELOADS.labels("success").inc()
            log.info("policy %s version %s active (%s)", candidate.policy.name,
                     candidate.policy.version, trigger)
            return ReloadResult(self.current, True)

    def follow(self) -> None:
        """Catch up with a reload made by another process (cheap: one stat per request)."""
        if self.state_file is None:
            return
        try:
            mtime = self.state_file.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime == self._seen_mtime:
            return
        with self._lock:
            self._seen_mtime = mtime
            try:
                state = policy_state.read(self.state_file)
            except (OSError, ValueError, KeyError, TypeError):
                return
            self.last_refused = state.refused
            wanted = state.version
            if wanted and wanted != self.current.policy.version:
                try:
                    candidate = ActivePolicy.load(self.directory)
                except (PolicyInvalid, PolicyTestsFailed):
                    return  # the folder changed again since; keep serving what we have
                self._swap(candidate)

    def _swap(self, candidate: ActivePolicy) -> None:
        old = self.current
        self.current = candidate
        metrics.policy_active(candidate.policy.name, candidate.policy.version,
                              previous=old.policy.version)
        pin = self._pins.setdefault(id(old), _Pinned(old))
        pin.retired = True
        if pin.users == 0:
            self._close(pin)

    def _close(self, pin: _Pinned) -> None:
        """No request uses it any more: free its engine rulesets (durable_rules keeps them
        otherwise, about 3 MB a reload)."""
        self._pins.pop(id(pin.active), None)
        pin.active.program.close()

    def _write_state(self) -> None:
        if self.state_file is None:
            return
        policy_state.write(self.state_file,
                           PolicyState(self.current.policy.version, self.last_refused))
        self._seen_mtime = self.state_file.stat().st_mtime


def _safe_version(directory: str) -> str | None:
    try:
        return policy_version(Path(directory))
    except OSError:
        return None


def _reasons(error: Exception) -> list[str]:
    if isinstance(error, PolicyInvalid):
        return [str(problem) for problem in error.problems]
    return error.report().splitlines()

