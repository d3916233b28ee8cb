"""The audit export: every decision of a period, with its grants and outcomes, oldest first,
a page at a time.

The list pages by (decided_at, id) (see `service.store.keyset`), so a page never loses or
repeats a decision; a period that has ended exports the same decisions however it is paged.
It lists only decisions every one of which is stored: on PostgreSQL a decision is written a
moment after its `decided_at` (Store.settle_seconds: within the database timeout and 5 s),
so the most recent wait until that has passed, and no later page or export misses one
that was still being written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.app.errors import Invalid
from service.store import clock, keyset
from service.store.database import Store
from service.store.export_queries import ExportedDecision
from service.store.unit_of_work import UnitOfWork

LISTS = ("decisions",)


@dataclass(frozen=True)
class DecisionLogPage:
    since: datetime
    until: datetime | None  # None: no end
    decisions: tuple[ExportedDecision, ...]
    next_cursor: str | None  # None on the last page


def decision_log(store: Store, since: datetime, until: datetime | None, limit: int,
                 cursor: str | None = None) -> DecisionLogPage:
    """The decisions made at or after `since` and before `until`, oldest first, from where
    `cursor` says. Raises Invalid when `until` is not after `since`, when the period starts
    after now, or ends after the last moment whose decisions are all stored (it has not
    ended: its list could still grow, and an export of it would miss what is still being
    written); keyset.CursorInvalid for a cursor this service did not give."""
    position = keyset.decode(cursor, LISTS)
    with UnitOfWork(store, snapshot=True) as uow:
        listed_until = period_end(store, since, until)
        found, following = uow.exports.decisions(since, listed_until, position["decisions"],
                                                 limit)
    return DecisionLogPage(since, until, tuple(found), keyset.encode({"decisions": following}))


def period_end(store: Store, since: datetime, until: datetime | None) -> datetime:
    """Where the list of a period ends now: `until`, or without one the last moment whose
    decisions are all stored. Invalid (naming the bound) for a period that ends before it
    starts, starts after now, or has not ended; an export checks it before it writes."""
    if until is not None and until <= since:
        raise Invalid({"until": ["Must be after since."]})
    now = clock.now()
    settled = now - timedelta(seconds=store.settle_seconds)
    if until is None and since > now:
        raise Invalid({"since": [f"The period starts ({since.isoformat()}) after now "
                                 f"({now.isoformat()})."]})
    if until is not None and until > settled:
        raise Invalid({"until": [_not_ended(until, settled, store.settle_seconds)]})
    return settled if until is None else until


def _not_ended(until: datetime, settled: datetime, settle_seconds: float) -> str:
    wait = (f" (on this database a decision is stored up to {settle_seconds:g} s after its "
            "decided_at)" if settle_seconds else "")
    return (f"The period has not ended: {until.isoformat()} is after the last moment whose "
            f"decisions are all stored, {settled.isoformat()}{wait}. Give an until at or "
            "before it, or none.")


def decision_log_pages(store: Store, since: datetime, until: datetime | None,
                       limit: int) -> Iterator[DecisionLogPage]:
    """Every page of the period, each read in a transaction of its own when it is asked for
    (so an export of any length holds no transaction open while it is written out)."""
    cursor = None
    while True:
        page = decision_log(store, since, until, limit, cursor)
        yield page
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
