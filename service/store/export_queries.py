"""Reads for the audit export: the decisions of a period, oldest first, a page at a time,
each with its offers (their current states), grants and outcomes.

A page costs four queries however long it is: the decisions, then the offers, the grants and
the outcomes of all of them at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, bindparam, select

from service.domain.records import Grant, Outcome, StoredDecision
from service.store import clock, decision_codec, keyset
from service.store.grant_queries import GRANTS
from service.store.grant_queries import _grant as grant_record
from service.store.models import DecisionRow
from service.store.offer_queries import OfferQueries
from service.store.outcome_queries import OUTCOMES
from service.store.outcome_queries import _outcome as outcome_record

DECISIONS = DecisionRow.__table__

_DECISIONS = select(DECISIONS.c.id, DECISIONS.c.decided_at, DECISIONS.c.customer_id,
                    DECISIONS.c.order_id, DECISIONS.c.principal, DECISIONS.c.request,
                    DECISIONS.c.result)
_GRANTS_OF = (select(GRANTS)
              .where(GRANTS.c.decision_id.in_(bindparam("decision_ids", expanding=True)))
              .order_by(GRANTS.c.decision_id, GRANTS.c.granted_at, GRANTS.c.id))
_OUTCOMES_OF = (select(OUTCOMES)
                .where(OUTCOMES.c.decision_id.in_(bindparam("decision_ids", expanding=True)))
                .order_by(OUTCOMES.c.decision_id, OUTCOMES.c.recorded_at, OUTCOMES.c.id))


@dataclass(frozen=True)
class ExportedDecision:
    """A stored decision with its grants and outcomes, each oldest first."""

    stored: StoredDecision
    grants: tuple[Grant, ...]
    outcomes: tuple[Outcome, ...]


class ExportQueries:
    def __init__(self, connection: Connection):
        self._connection = connection
        self._offers = OfferQueries(connection)

    def decisions(self, since: datetime, until: datetime | None, position: keyset.Position,
                  limit: int) -> tuple[list[ExportedDecision], keyset.Position]:
        """A page of the decisions made at or after `since` and before `until` (None: no
        end), oldest first (by decided_at, then id), after `position`; and where the next
        page starts."""
        query = _DECISIONS.where(DECISIONS.c.decided_at >= since)
        if until is not None:
            query = query.where(DECISIONS.c.decided_at < until)
        rows, following = keyset.page(self._connection, query, DECISIONS.c.decided_at,
                                      DECISIONS.c.id, position, limit, newest_first=False)
        ids = [row.id for row in rows]
        offers = self._offers.of_decisions(ids)
        grants = self._grouped(_GRANTS_OF, ids, grant_record)
        outcomes = self._grouped(_OUTCOMES_OF, ids, outcome_record)
        return [ExportedDecision(_stored(row, offers[row.id]), grants[row.id], outcomes[row.id])
                for row in rows], following

    def _grouped(self, query, decision_ids: list[str], record) -> dict[str, tuple]:
        """What `query` finds for each decision, in its order; one query for them all."""
        found: dict[str, list] = {decision_id: [] for decision_id in decision_ids}
        if decision_ids:
            for row in self._connection.execute(query, {"decision_ids": decision_ids}):
                found[row.decision_id].append(record(row))
        return {decision_id: tuple(items) for decision_id, items in found.items()}


def _stored(row: Row, offers: Iterable) -> StoredDecision:
    offers = tuple(offers)
    return StoredDecision(
        id=row.id,
        decision=decision_codec.decode(row.result, {offer.id: offer.number for offer in offers}),
        offers=offers, decided_at=clock.aware(row.decided_at), customer_id=row.customer_id,
        order_id=row.order_id, principal=row.principal, request=row.request)
