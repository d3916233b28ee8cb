"""A unit of work: one transaction, its locks, and the queries of every use case.

    with UnitOfWork(store) as uow:
        uow.lock(f"decision:{decision_id}")
        offer = uow.offers.get(offer_id)
        ...

Leaving the block commits; an exception rolls everything back and goes on (database errors
translated by `service.store.errors`). On SQLite the transaction holds the database's write
lock from its start (BEGIN IMMEDIATE, queued by the writer lock), so `lock` has nothing left
to do; on PostgreSQL `lock` takes transaction advisory locks, released at commit.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cached_property
from types import TracebackType

from sqlalchemy import Connection, String, bindparam, func, select

from service.store.approval_queries import ApprovalQueries
from service.store.database import Store, is_sqlite
from service.store.dbapi import DbapiTransaction
from service.store.deciding_queries import DecidingQueries
from service.store.decision_queries import DecisionQueries
from service.store.export_queries import ExportQueries
from service.store.grant_queries import GrantQueries
from service.store.idempotency_queries import IdempotencyQueries
from service.store.offer_queries import OfferQueries
from service.store.outcome_queries import OutcomeQueries
from service.store.policy_queries import PolicyQueries
from service.store.replay_queries import ReplayQueries
from service.store.report_queries import ReportQueries

# A key's lock is the schema's own: deployments (or test runs) sharing one database in
# schemas of their own never wait on each other's locks.
_ADVISORY_LOCK = select(func.pg_advisory_xact_lock(func.hashtextextended(
    func.concat(func.current_schema(), ":", bindparam("key", type_=String)), 0)))

# The kinds of key a unit of work locks, widest first: a request's idempotency key (taken
# before its operation runs), a policy activation, then what a grant's running totals cover
# (the granting principal, the customer, the decision, the order) and last the offers.
LOCK_ORDER = ("idempotency", "policy", "agent", "customer", "decision", "order", "offer")
_RANK = {kind: rank for rank, kind in enumerate(LOCK_ORDER)}


def _lock_order(key: str) -> tuple[int, str]:
    kind = key.partition(":")[0]
    if kind not in _RANK:
        raise ValueError(f"lock key {key!r} is of no kind in LOCK_ORDER")
    return _RANK[kind], key


class UnitOfWork:
    def __init__(self, store: Store, snapshot: bool = False, reading: bool = False,
                 until: float | None = None):
        """`snapshot`: a unit of work that only reads, and reads one state of the database
        in every statement (Store.connection). `reading`: a long one (a report) that holds
        no other writer up, on SQLite either (Store.connection). `until` (with both): the
        long read's own deadline (time.monotonic(); database.UNBOUNDED: none) in place of
        the database timeout, past which it is OutOfTime (Store.connection)."""
        self._store = store
        self._snapshot = snapshot
        self._reading = reading
        self._until = until
        self._advisory = not is_sqlite(store.url)
        self._transaction: AbstractContextManager[Connection] | None = None

    def __enter__(self) -> UnitOfWork:
        self._transaction = self._store.connection(self._snapshot, self._reading,
                                                  self._until)
        self._connection = self._transaction.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> bool | None:
        transaction, self._transaction = self._transaction, None
        assert transaction is not None, "a unit of work is entered once"
        return transaction.__exit__(kind, error, traceback)

    # Made on first use: most units of work need one group of queries, not eleven.
    @cached_property
    def deciding(self) -> DecidingQueries:
        """What deciding reads and writes (as a DecidingUnit runs it), in this transaction."""
        return DecidingQueries(DbapiTransaction(self._connection.connection,
                                                self._connection.dialect, owned=False))

    @cached_property
    def decisions(self) -> DecisionQueries:
        return DecisionQueries(self._connection, self.offers)

    @cached_property
    def offers(self) -> OfferQueries:
        return OfferQueries(self._connection)

    @cached_property
    def grants(self) -> GrantQueries:
        return GrantQueries(self._connection)

    @cached_property
    def approvals(self) -> ApprovalQueries:
        return ApprovalQueries(self._connection)

    @cached_property
    def outcomes(self) -> OutcomeQueries:
        return OutcomeQueries(self._connection)

    @cached_property
    def idempotency(self) -> IdempotencyQueries:
        return IdempotencyQueries(self._connection)

    @cached_property
    def policies(self) -> PolicyQueries:
        return PolicyQueries(self._connection)

    @cached_property
    def reports(self) -> ReportQueries:
        return ReportQueries(self._connection)

    @cached_property
    def replay(self) -> ReplayQueries:
        return ReplayQueries(self._connection)

    @cached_property
    def exports(self) -> ExportQueries:
        return ExportQueries(self._connection)

    def lock(self, *keys: str) -> None:
        """Hold these keys (`kind:id`, of a kind in LOCK_ORDER) until the transaction ends.
        They are taken wider kinds first, in LOCK_ORDER, and in sorted order within a kind.
        A unit of work that locks more later (an offer whose request a grant withdraws) takes
        only kinds no wider than any it holds, so two units of work never wait for each other
        in a circle (and within a kind, under a key of a wider kind that both need)."""
        if not self._advisory:
            return  # BEGIN IMMEDIATE already holds the database's write lock
        for key in sorted(set(keys), key=_lock_order):
            self._connection.execute(_ADVISORY_LOCK, {"key": key})

