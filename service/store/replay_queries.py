"""Reads for what-if replay: the stored decisions of a period, a batch at a time.

Newest first, by keyset on (decided_at, id). Which decisions make up the replay is listed in
chunks of keys (`keys`: ids only, one query per chunk of thousands), then each batch of them
is read whole by id (`decisions`: one query for the decisions, one for their offers' ids).
A query that pages on (decided_at, id) scans and sorts the period each time it is run unless
an index covers decided_at, so paging the wide rows themselves, a few hundred at a time,
would cost a scan per batch; a chunk of keys costs one scan per chunk, and reading by id is a
primary-key lookup. Nothing is listed twice or skipped, however many decisions are added
meanwhile, and decisions are never deleted, so a listed id is always there to read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Connection, Row, bindparam, func, select

from service.domain.replay import Replayable
from service.store import clock, decision_codec, keyset
from service.store.models import DecisionRow, OfferRow

DECISIONS = DecisionRow.__table__
OFFERS = OfferRow.__table__

_KEYS = select(DECISIONS.c.id, DECISIONS.c.decided_at)
_BY_IDS = select(DECISIONS.c.id, DECISIONS.c.incident_id, DECISIONS.c.decided_at,
                 DECISIONS.c.role, DECISIONS.c.request, DECISIONS.c.result).where(
    DECISIONS.c.id.in_(bindparam("decision_ids", expanding=True)))
_OFFER_NUMBERS = select(OFFERS.c.id, OFFERS.c.number).where(
    OFFERS.c.decision_id.in_(bindparam("decision_ids", expanding=True)))
_COUNT = select(func.count()).select_from(DECISIONS)


class StoredBatch:
    """A batch as read: the rows are fetched in the transaction, the decisions decoded when
    iterated (after it, so a transaction holds its locks only for the reads)."""

    def __init__(self, rows: list[Row], offer_numbers: dict[str, int]):
        self._rows = rows
        self._numbers = offer_numbers

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Replayable]:
        for row in self._rows:
            yield Replayable(
                id=row.id, incident_id=row.incident_id,
                decided_at=clock.aware(row.decided_at), role=row.role, request=row.request,
                decision=decision_codec.decode(row.result, self._numbers))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _in_period(query, since: datetime | None, until: datetime | None):
    if since is not None:
        query = query.where(DECISIONS.c.decided_at >= _utc(since))
    if until is not None:
        query = query.where(DECISIONS.c.decided_at < _utc(until))
    return query


class ReplayQueries:
    def __init__(self, connection: Connection):
        self._connection = connection

    def count(self, since: datetime | None, until: datetime | None) -> int:
        """How many decisions were made in [since, until) (either end open when None)."""
        return self._connection.execute(_in_period(_COUNT, since, until)).scalar_one()

    def keys(self, since: datetime | None, until: datetime | None, position: keyset.Position,
             size: int) -> tuple[list[str], keyset.Position]:
        """The ids of up to `size` decisions of [since, until) after `position` (keyset.START:
        from the newest), newest first, and where the next chunk starts (keyset.ENDED:
        nowhere)."""
        rows, following = keyset.page(self._connection, _in_period(_KEYS, since, until),
                                       DECISIONS.c.decided_at, DECISIONS.c.id, position, size)
        return [row.id for row in rows], following

    def decisions(self, ids: list[str]) -> StoredBatch:
        """These decisions, in this order, each with its request, role and moment."""
        if not ids:
            return StoredBatch([], {})
        found = {row.id: row for row in self._connection.execute(
            _BY_IDS, {"decision_ids": ids})}
        numbers = dict(self._connection.execute(
            _OFFER_NUMBERS, {"decision_ids": ids}).all())
        return StoredBatch([found[i] for i in ids if i in found], numbers)
