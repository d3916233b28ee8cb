"""The unit of work of deciding, the service's hottest path.

    with DecidingUnit(store, incident, principal_id, windows) as unit:
        lookup = unit.look_up()
        while not lookup.known.decided:
            recorded = unit.record(decide(lookup), lookup, principal, body, fingerprint)
            if isinstance(recorded, StoredDecision):
                break
            lookup = recorded  # the history changed meanwhile: decide again on this one

It reads whether the incident was decided, the customer's prior failures and the running
totals in one statement, and writes the decision and its offers, on the driver's connection
(service.store.dbapi: bounded, queued and translated as a UnitOfWork is).

The decision is always made on a read that is still true when it is written, as if decisions
were made one at a time:
- on SQLite, whose writing transactions hold the database's one write lock, the first read
  takes no lock, so that deciding (most of the work) never holds other writers up. `record`
  then takes the lock and reads again; only when that read says the same (the customer's
  prior failures, the running totals, the incident still new) is the decision written, at
  the second read's moment. Otherwise `record` writes nothing and gives the second read,
  keeping the lock, so that the decision made again on it is written at once.
- on PostgreSQL, where a read takes no lock that writers wait for, the read and the write
  are a statement each, each its own transaction (no BEGIN or COMMIT to wait for): the
  decision and its offers are one statement, so they are stored together or not at all, and
  stored (committed) when `record` returns. As in one READ COMMITTED transaction, a
  decision committed meanwhile for the same customer is not counted; the same incident
  decided meanwhile is a uniqueness race (the caller replays the stored decision).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from sqlalchemy import exc

from service.domain.decision import Decision
from service.domain.incident import Incident
from service.domain.principal import Principal
from service.domain.records import KnownIncident, StoredDecision
from service.domain.running_totals import GrantedSoFar
from service.store import clock, dbapi
from service.store.database import Store, is_sqlite, unchecked_checkout
from service.store.deciding_queries import DecidingQueries
from service.store.errors import translated


@dataclass(frozen=True)
class Windows:
    """Where the history a decision counts starts, for a decision at some moment."""

    since: datetime  # the customer's prior failures: decisions since then
    day_start: datetime  # the caller's daily budget: grants since then
    window_start: datetime  # the per-customer cap's rolling window: grants since then


@dataclass(frozen=True)
class Lookup:
    """What deciding reads, as of `moment`."""

    moment: datetime
    known: KnownIncident
    granted: GrantedSoFar

    def says_the_same_as(self, other: Lookup) -> bool:
        return (self.known, self.granted) == (other.known, other.granted)


class DecidingUnit:
    """See the module's docstring."""

    def __init__(self, store: Store, incident: Incident, principal_id: str,
                 windows: Callable[[datetime], Windows]):
        self._store = store
        self._incident = incident
        self._principal_id = principal_id
        self._windows = windows
        self._lock_first = is_sqlite(store.url)  # see the module's docstring
        self._writing = False
        self._stack: ExitStack | None = None

    def __enter__(self) -> DecidingUnit:
        with ExitStack() as stack:
            stack.enter_context(translated())
            self._deadline = stack.enter_context(self._store.bounded())
            # Let go after the connection (whose exit rolls back what is still open): the
            # next writer in the queue never meets this transaction's lock.
            self._queue = stack.enter_context(ExitStack())  # the writer queue, in record
            self._connection = stack.enter_context(ExitStack())  # replaced by look_up
            with unchecked_checkout():  # look_up asks again if the connection is gone
                self._connect()
            self._stack = stack.pop_all()
        return self

    def _connect(self) -> None:
        self._work = self._connection.enter_context(dbapi.connection(
            self._store.engine, autocommit=not self._lock_first))
        self._store.bound_reads(self._work)
        self._queries = DecidingQueries(self._work)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> bool | None:
        stack, self._stack = self._stack, None
        assert stack is not None, "a unit of work is entered once"
        if kind is None:
            try:
                self._work.commit()  # before the writer queue lets the next writer go
            except BaseException as failed:
                if not stack.__exit__(type(failed), failed, failed.__traceback__):
                    raise
                return None
        return stack.__exit__(kind, error, traceback)

    def look_up(self) -> Lookup:
        """What deciding reads now (on SQLite without the write lock: see `record`). A
        pooled connection the server dropped since its last use (a restart, a failover) is
        found here, by this read, and replaced once (by one the pool checks first)."""
        try:
            return self._read()
        except exc.DBAPIError as error:
            # Not when the wait itself ran out (the client closes such a connection): the
            # deadline is gone, and asking again would only wait past it.
            if not error.connection_invalidated or time.monotonic() >= self._deadline:
                raise
        self._connection.close()  # gives the dropped connection back (the pool discards it)
        self._connect()
        return self._read()

    def record(self, decision: Decision, lookup: Lookup, principal: Principal,
               request: Mapping[str, object], fingerprint: str) -> StoredDecision | Lookup:
        """Write the decision made on `lookup` (its offers each `proposed`), to be committed
        when the block ends; or, when what deciding reads has changed since `lookup` (SQLite
        only), write nothing and give what it reads now, to decide again."""
        if self._lock_first and not self._writing:
            self._queue.enter_context(self._store.writer_queue(self._deadline))
            self._store.begin_writing(self._work)
            self._writing = True
            now = self._read()
            if not now.says_the_same_as(lookup):
                return now
            lookup = now
        return self._queries.add(decision, self._incident, principal, request, fingerprint,
                                 lookup.moment)

    def _read(self) -> Lookup:
        moment = clock.now()
        windows = self._windows(moment)
        known, granted = self._queries.before_deciding(
            self._incident, self._principal_id, since=windows.since,
            day_start=windows.day_start, window_start=windows.window_start)
        return Lookup(moment, known, granted)
