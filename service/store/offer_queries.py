"""The offers of recorded decisions and their states."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, Row, bindparam, select, update

from service.domain.money import Money, from_minor
from service.domain.records import StoredOffer
from service.domain.vocabulary import Approval, OfferSource, OfferState, OfferVariant
from service.store import clock
from service.store.models import OfferRow

OFFERS = OfferRow.__table__

_BY_ID = select(OFFERS).where(OFFERS.c.id == bindparam("offer_id"))
_OF_DECISIONS = (select(OFFERS)
                 .where(OFFERS.c.decision_id.in_(bindparam("decision_ids", expanding=True)))
                 .order_by(OFFERS.c.decision_id, OFFERS.c.number))
_SET_STATE = (update(OFFERS).where(OFFERS.c.id == bindparam("offer_id"),
                                   OFFERS.c.state == bindparam("was"))
              .values(state=bindparam("state"), state_changed_at=bindparam("moment")))


def stored_offer(row: Row) -> StoredOffer:
    return StoredOffer(
        id=row.id, decision_id=row.decision_id, number=row.number, remedy=row.remedy,
        value=Money(from_minor(row.amount_minor, row.currency), row.currency),
        variant=OfferVariant(row.variant), source=OfferSource(row.source),
        approval=Approval(row.approval), approver_role=row.approver_role,
        state=OfferState(row.state), state_changed_at=clock.aware(row.state_changed_at))


class OfferQueries:
    def __init__(self, connection: Connection):
        self._connection = connection

    def get(self, offer_id: str) -> StoredOffer | None:
        row = self._connection.execute(_BY_ID, {"offer_id": offer_id}).one_or_none()
        return None if row is None else stored_offer(row)

    def of_decisions(self, decision_ids: Iterable[str]) -> dict[str, tuple[StoredOffer, ...]]:
        """The offers of each decision by number, with their current states; one query."""
        found: dict[str, list[StoredOffer]] = {}
        ids = list(decision_ids)
        if ids:
            for row in self._connection.execute(_OF_DECISIONS, {"decision_ids": ids}):
                found.setdefault(row.decision_id, []).append(stored_offer(row))
        return {decision_id: tuple(found.get(decision_id, ())) for decision_id in ids}

    def set_state(self, offer_id: str, was: OfferState, state: OfferState,
                  moment: datetime) -> bool:
        """Move the offer from `was` to `state`; False (nothing changed) when it is no longer
        in `was`. Which moves are allowed is `service.domain.offer_states`'."""
        result = self._connection.execute(_SET_STATE, {
            "offer_id": offer_id, "was": was, "state": state, "moment": moment})
        return result.rowcount == 1
