"""Which policy version serves: the one activated in the database, in every worker of every
Amends instance sharing it.

The policy folder is only where new versions come from (the API's reload, SIGHUP, the folder
watch, `amends policy activate`): a version read from it is checked, compiled, registered
with the engine and self-tested, then activated (`service.app.policy_activation`), and only
then serves. Requests in flight finish on the version they started with.

Every worker serves exactly the active version, loaded from the files the database keeps,
never from the folder. It notices a new one
- through a small state file shared by the processes of one server (the version and the
  last refused attempt): a reload in any worker, or in the master on SIGHUP, is seen by
  every other before its next request (one stat per request);
- by asking the database every `poll_seconds`, which is how instances on other hosts (or
  `amends policy activate`) are followed.
A worker that cannot load the active version logs it, counts it, keeps serving the version
it had and tries again on the next poll; meanwhile it says it is behind (`/readyz`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from time import monotonic

from service.app import metrics
from service.app.active_policy import ActivePolicy, PolicySource, load_source
from service.app.policy_activation import (
    Activation,
    Outcome,
    activate,
    active_stored,
    is_active,
    os_user,
    record_refusal,
    refusal_by,
    stored_version,
    too_slow,
)
from service.domain.records import RefusedReload
from service.policy.problems import PolicyInvalid
from service.policy.self_test import PolicyTestsFailed
from service.store import clock, policy_state
from service.store.database import Store
from service.store.policy_queries import active_version
from service.store.policy_state import PolicyState

log = logging.getLogger("amends.policy")


class PolicyUnavailable(Exception):
    """No version can serve: the folder is refused and the database holds none (or none
    that loads). `report` says why, every problem on its own line."""

    def __init__(self, report: str):
        self.report = report
        super().__init__(report)


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


@dataclass(frozen=True)
class Behind:
    """The active version, which this worker could not load, and why."""

    version: str
    reason: str
    since: datetime


@dataclass
class PolicyHolder:
    current: ActivePolicy
    source: Path  # the folder new versions come from
    store: Store
    state_file: Path | None = None
    work_dir: Path | None = None  # where stored versions are written out while loading
    poll_seconds: float = 1.0
    last_refused: RefusedReload | None = None
    behind: Behind | None = None
    # What else a version must satisfy to serve here (the API keys' roles: it raises
    # ConfigError, whose words are the reason a reload or rollback is refused).
    check: Callable[[ActivePolicy], None] | None = None
    # The longest a version may take to load to be activated here (None: no bound).
    load_limit: float | None = None
    # Tells the server this worker is alive (gunicorn's worker.notify, set at its fork):
    # called while it loads a version inside a request (see _kept_alive).
    keep_alive: Callable[[], None] | None = None
    _pins: dict = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _seen_mtime: float = 0.0
    _next_poll: float = 0.0
    _poll_failing: bool = False

    def __post_init__(self) -> None:
        self._next_poll = monotonic() + self.poll_seconds

    # ---- requests ----------------------------------------------------------------------
    def acquire(self, follow: bool = True) -> ActivePolicy:
        """The policy this request uses from start to end: the active version (unless
        `follow` is False: liveness and metrics never wait on the database)."""
        if follow:
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

    def forked(self) -> None:
        """In a new worker: ask the database at its first request."""
        self._next_poll = 0.0

    # ---- following the active version --------------------------------------------------
    def follow(self) -> None:
        """Catch up with the active version when the state file changed or a poll is due.
        Cheap otherwise: one stat and a clock reading per request."""
        changed = self._state_changed()
        if not changed and monotonic() < self._next_poll:
            return
        with self._lock:
            if changed:
                self._read_state()
            self._poll()

    def _poll(self) -> None:
        """Ask the database for the active version now, and catch up with it."""
        with self._lock:
            self._next_poll = monotonic() + self.poll_seconds
            try:
                wanted = active_version(self.store)
            except Exception as error:  # keep serving; ask again next poll
                if not self._poll_failing:
                    log.warning("cannot ask the database for the active policy version "
                                "(%s); %s keeps serving", error, self.current.policy.version)
                self._poll_failing = True
                return
            self._poll_failing = False
            self._catch_up(wanted)

    def _catch_up(self, wanted: str | None) -> None:
        serving = self.current.policy.version
        if wanted is None or wanted == serving:
            self.behind = None
            return
        try:
            stored = stored_version(self.store, wanted)
            if stored is None:
                raise LookupError(f"version {wanted} is active but not stored")
            with _kept_alive(self.keep_alive):
                candidate = load_source(PolicySource.stored(stored), self.work_dir,
                                        already_active=True)
        except Exception as error:  # whatever it is, keep serving what we have
            reason = "; ".join(_reasons(error)) if isinstance(
                error, PolicyInvalid | PolicyTestsFailed) else f"{type(error).__name__}: {error}"
            if self.behind is None or self.behind.version != wanted:
                self.behind = Behind(wanted, reason, clock.now())
            metrics.POLICY_FOLLOW_FAILURES.inc()
            log.error("policy version %s is active but this worker cannot load it; %s keeps "
                      "serving and it is tried again in %s s: %s", wanted, serving,
                      self.poll_seconds, reason)
            return
        self._swap(candidate)
        self.behind = None
        log.info("policy %s version %s active (followed)", candidate.policy.name,
                 candidate.policy.version)

    def _state_changed(self) -> bool:
        if self.state_file is None:
            return False
        try:
            return self.state_file.stat().st_mtime != self._seen_mtime
        except FileNotFoundError:
            return False

    def _read_state(self) -> None:
        try:
            self._seen_mtime = self.state_file.stat().st_mtime
            self.last_refused = policy_state.read(self.state_file).refused
        except (OSError, ValueError, KeyError, TypeError):
            pass  # being replaced; the next request reads it again

    # ---- new versions from the folder --------------------------------------------------
    def reload(self, trigger: str, by: str | None = None) -> ReloadResult:
        """Read the folder as it is now and activate it; refuse it, with every reason,
        unless it loads, passes its own tests and orphans no stored work."""
        by = by or os_user()
        with self._lock:
            # Serve the active version first (a master preloads the app and never follows
            # otherwise): a refusal names what keeps serving, a swap retires what served,
            # and workers forked after a SIGHUP start with the active version.
            self._poll()
            source = None
            try:
                source = PolicySource.read(self.source)
                if self._serving_active(source):  # as when another owner activated it
                    self.last_refused = None
                    self._write_state()
                    return self._unchanged()
                candidate = load_source(source, self.work_dir)
            except (PolicyInvalid, PolicyTestsFailed) as error:
                reasons = _reasons(error)
                version = _version_of(source)
                _record_refusal(self.store, version, reasons, by, trigger)
                return self._refused(version, trigger, reasons)
            try:
                activation = activate(self.store, source, candidate.policy, by, trigger,
                                      [*refusal_by(self.check, candidate),
                                       *too_slow(candidate, self.load_limit)])
            except BaseException:
                candidate.program.close()
                raise
            if activation.refused:
                candidate.program.close()
                return self._refused(candidate.policy.version, trigger, activation.reasons)
            changed = candidate.policy.version != self.current.policy.version
            if changed:
                self._swap(candidate)
            else:
                candidate.program.close()
            self.behind = None
            self.last_refused = None
            self._write_state()
            self._settle()  # another owner's activation may have committed meanwhile
            if changed or activation.outcome == Outcome.ACTIVATED:
                metrics.RELOADS.labels("success").inc()
                log.info("policy %s version %s active (%s)", self.current.policy.name,
                         self.current.policy.version, trigger)
                return ReloadResult(self.current, True)
            return self._unchanged()

    def _serving_active(self, source: PolicySource) -> bool:
        """Whether the folder's version is the one active in the database, served here
        since the poll (no need to load it again)."""
        return (self.behind is None and not self._poll_failing
                and source.version() == self.current.policy.version)

    def _unchanged(self) -> ReloadResult:
        metrics.RELOADS.labels("unchanged").inc()
        return ReloadResult(self.current, False)

    def _refused(self, version: str | None, trigger: str, reasons) -> ReloadResult:
        refused = RefusedReload(version, clock.now(), trigger, tuple(reasons))
        self.last_refused = refused
        self._write_state()
        metrics.RELOADS.labels("refused").inc()
        log.error("policy version %s refused (%s); %s keeps serving: %s", version, trigger,
                  self.current.policy.version, "; ".join(refused.reasons))
        return ReloadResult(self.current, False, refused)

    def _swap(self, candidate: ActivePolicy) -> None:
        old = self.current
        self.current = candidate
        metrics.policy_active(candidate.policy.name, candidate.policy.version,
                              previous=(old.policy.name, old.policy.version))
        pin = self._pins.setdefault(id(old), _Pinned(old))
        pin.retired = True
        if pin.users == 0:
            self._close(pin)

    def _close(self, pin: _Pinned) -> None:
        """No request uses it any more: free its engine rulesets (durable_rules keeps them
        otherwise, about 3 MB a reload)."""
        self._pins.pop(id(pin.active), None)
        pin.active.program.close()

    def announce(self) -> None:
        """Tell this instance's other workers the version this one serves now (after it
        followed an activation made elsewhere, such as a rollback): they catch up at their
        next request instead of their next poll."""
        with self._lock:
            self._write_state()
            self._settle()

    def _settle(self) -> None:
        """After announcing what this worker serves: ask the database once more. Another
        owner's activation may have committed since this worker asked (two at the same
        moment); its worker announced before this one did, and this one, having seen its own
        write last, would otherwise serve the version that lost until its next poll."""
        try:
            wanted = active_version(self.store)
        except Exception:  # the next poll asks again
            return
        if wanted is not None and wanted != self.current.policy.version:
            self._catch_up(wanted)
            self._write_state()

    def _write_state(self) -> None:
        if self.state_file is None:
            return
        policy_state.write(self.state_file,
                           PolicyState(self.current.policy.version, self.last_refused))
        self._seen_mtime = self.state_file.stat().st_mtime


# How long a worker loading a version inside a request is kept alive at most: a load that
# hangs is still ended by the worker timeout once this has passed.
KEEP_ALIVE_SECONDS = 600.0


@contextmanager
def _kept_alive(notify: Callable[[], None] | None) -> Iterator[None]:
    """While a worker loads a version made active elsewhere, inside a request: tell the
    server every second that the worker is alive, for KEEP_ALIVE_SECONDS at most. A load
    longer than the worker timeout (a slower machine, workers loading at once) would have
    had the worker killed, and the next worker try again at its next request: every answer
    a 500, until another version was activated. That request is slow; the next are not."""
    if notify is None:
        yield
        return
    done = threading.Event()

    def beat() -> None:
        ends = monotonic() + KEEP_ALIVE_SECONDS
        while not done.wait(1.0) and monotonic() < ends:
            notify()

    beating = threading.Thread(target=beat, name="amends-policy-load", daemon=True)
    beating.start()
    try:
        yield
    finally:
        done.set()
        beating.join()


def start(store: Store, source: Path, loaded: ActivePolicy | None = None,
          state_file: Path | None = None, work_dir: Path | None = None,
          poll_seconds: float = 1.0,
          check: Callable[[ActivePolicy], None] | None = None,
          load_limit: float | None = None) -> PolicyHolder:
    """The holder a server starts with. A valid folder whose version is not active is
    activated (`loaded`, when given, is that folder's version already loaded). A folder that
    is refused is reported with every problem, and the active version from the database
    serves; with none there, PolicyUnavailable. `check` may refuse to start with a version
    (it raises), before it is activated or served."""
    by = os_user()
    candidate, reasons, version = None, [], None
    folder = None
    try:
        folder = PolicySource.read(source)
        version = folder.version()
        if is_active(store, version):  # loads as the stored version does
            folder = replace(folder, activated=True)
        candidate = (loaded if loaded is not None and loaded.policy.version == version
                     else load_source(folder, work_dir, already_active=folder.activated))
        if folder.activated and not is_active(store, version):
            # Another version was activated while it loaded: it is activated again only as a
            # new version is, with every check and all of its tests passing.
            if candidate is not loaded:
                candidate.program.close()
            candidate, folder = None, replace(folder, activated=False)
            candidate = load_source(folder, work_dir)
    except (PolicyInvalid, PolicyTestsFailed) as error:
        reasons = _reasons(error)
        _record_refusal(store, version, reasons, by, "start")
    if candidate is not None:
        if check is not None:
            check(candidate)
        activation = (Activation(version, Outcome.UNCHANGED) if folder.activated  # as it was
                      else activate(store, folder, candidate.policy, by, "start",
                                    too_slow(candidate, load_limit)))
        if activation.refused:
            reasons = list(activation.reasons)
            if candidate is not loaded:
                candidate.program.close()
            candidate = None
        elif activation.outcome == Outcome.ACTIVATED:
            log.info("policy %s version %s active (start)", candidate.policy.name,
                     candidate.policy.version)
    refused = None
    if candidate is None:
        refused = RefusedReload(version, clock.now(), "start", tuple(reasons))
        candidate = _last_active(store, source, reasons, work_dir)
        if check is not None:
            check(candidate)
        log.error("policy folder %s refused at start (%d problem%s); version %s from the "
                  "database serves: %s", source, len(reasons), "" if len(reasons) == 1 else "s",
                  candidate.policy.version, "; ".join(reasons),
                  extra={"fields": {"problems": list(reasons)}})
    holder = PolicyHolder(candidate, Path(source), store, state_file, work_dir, poll_seconds,
                          last_refused=refused, check=check, load_limit=load_limit)
    holder._write_state()
    return holder


def _last_active(store: Store, source: Path, reasons: list[str],
                 work_dir: Path | None) -> ActivePolicy:
    head = (f"policy folder {source} refused ({len(reasons)} problem"
            f"{'' if len(reasons) == 1 else 's'}):\n" + "\n".join(reasons))
    stored = active_stored(store)
    if stored is None:
        raise PolicyUnavailable(f"{head}\nNo policy version was ever activated in the "
                                f"database ({store.safe_url}), so none can serve: Amends does "
                                "not start.")
    try:
        return load_source(PolicySource.stored(stored), work_dir, already_active=True)
    except (PolicyInvalid, PolicyTestsFailed) as error:
        raise PolicyUnavailable(f"{head}\nThe active version {stored.version} in the database "
                                f"does not load either:\n" + "\n".join(_reasons(error))
                                ) from None


def _record_refusal(store: Store, version: str | None, reasons: list[str], by: str,
                    via: str) -> None:
    """Kept for the record when the database answers; the refusal stands either way."""
    try:
        record_refusal(store, version, reasons, by, via)
    except Exception as error:  # the refusal is answered and logged all the same
        log.warning("could not record the refusal of policy version %s: %s", version, error)


def _version_of(source: PolicySource | None) -> str | None:
    try:
        return None if source is None else source.version()
    except OSError:
        return None


def _reasons(error: Exception) -> list[str]:
    if isinstance(error, PolicyInvalid):
        return [str(problem) for problem in error.problems]
    return error.report().splitlines()
