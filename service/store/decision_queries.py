"""Recorded decisions read back (what deciding reads and writes is in
service.store.deciding_queries)."""

from __future__ import annotations

from sqlalchemy import Connection, Row, bindparam, select

from service.domain.records import (
    DecidedIncident,
    DecisionRef,
    DecisionSummary,
    StoredDecision,
    StoredOffer,
)
from service.domain.vocabulary import Outlook
from service.store import clock, decision_codec, keyset
from service.store.models import DecisionRow, OfferRow
from service.store.offer_queries import OfferQueries

DECISIONS = DecisionRow.__table__
OFFERS = OfferRow.__table__

_ANSWERED = select(DECISIONS.c.id, DECISIONS.c.request_hash).where(
    DECISIONS.c.incident_id == bindparam("incident_id"))
_BY_ID = select(DECISIONS).where(DECISIONS.c.id == bindparam("decision_id"))
_REF = select(DECISIONS.c.id, DECISIONS.c.customer_id, DECISIONS.c.order_id).where(
    DECISIONS.c.id == bindparam("decision_id"))
# A customer's history reads neither the stored result nor anything it does not show.
_SUMMARIES = select(
    DECISIONS.c.id, DECISIONS.c.incident_id, DECISIONS.c.decided_at, DECISIONS.c.order_id,
    DECISIONS.c.request, DECISIONS.c.outlook, DECISIONS.c.policy_name,
    DECISIONS.c.policy_version, DECISIONS.c.principal, DECISIONS.c.role)


class DecisionQueries:
    def __init__(self, connection: Connection, offers: OfferQueries):
        self._connection = connection
        self._offers = offers

    def answered(self, incident_id: str) -> DecidedIncident | None:
        """Which decision answered this incident id, and the fingerprint of its request."""
        row = self._connection.execute(_ANSWERED, {"incident_id": incident_id}).one_or_none()
        return None if row is None else DecidedIncident(row.id, row.request_hash)

    def get(self, decision_id: str) -> StoredDecision | None:
        """The decision with the current state of each offer."""
        row = self._connection.execute(_BY_ID, {"decision_id": decision_id}).one_or_none()
        if row is None:
            return None
        offers = self._offers.of_decisions([row.id])[row.id]
        return StoredDecision(
            id=row.id,
            decision=decision_codec.decode(row.result, {o.id: o.number for o in offers}),
            offers=offers, decided_at=clock.aware(row.decided_at),
            customer_id=row.customer_id, order_id=row.order_id, principal=row.principal,
            request=row.request)

    def ref(self, decision_id: str) -> DecisionRef | None:
        row = self._connection.execute(_REF, {"decision_id": decision_id}).one_or_none()
        return None if row is None else DecisionRef(row.id, row.customer_id, row.order_id)

    def of_customer(self, customer_id: str, position: keyset.Position,
                    limit: int) -> tuple[list[DecisionSummary], keyset.Position]:
        """A page of the customer's decisions, newest first."""
        rows, following = keyset.page(
            self._connection, _SUMMARIES.where(DECISIONS.c.customer_id == customer_id),
            DECISIONS.c.decided_at, DECISIONS.c.id, position, limit)
        offers = self._offers.of_decisions(row.id for row in rows)
        return [_summary(row, offers[row.id]) for row in rows], following


def _summary(row: Row, offers: tuple[StoredOffer, ...]) -> DecisionSummary:
    failure = row.request.get("failure", {})
    return DecisionSummary(
        id=row.id, incident_id=row.incident_id, decided_at=clock.aware(row.decided_at),
        order_id=row.order_id, category=failure.get("category"),
        severity=failure.get("severity"), outlook=Outlook(row.outlook),
        policy_name=row.policy_name, policy_version=row.policy_version,
        principal=row.principal, role=row.role, offers=offers)
