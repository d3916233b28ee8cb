"""What became of decisions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, Row, bindparam, insert, select

from service.domain.records import Outcome
from service.store import clock
from service.store.models import OutcomeRow

OUTCOMES = OutcomeRow.__table__

_INSERT = insert(OUTCOMES)
_OF_DECISION = (select(OUTCOMES).where(OUTCOMES.c.decision_id == bindparam("decision_id"))
                .order_by(OUTCOMES.c.recorded_at))


def _outcome(row: Row) -> Outcome:
    return Outcome(id=row.id, decision_id=row.decision_id, accepted=row.accepted,
                   satisfied=row.satisfied, stayed=row.stayed, note=row.note,
                   principal=row.principal, recorded_at=clock.aware(row.recorded_at))


class OutcomeQueries:
    def __init__(self, connection: Connection):
        self._connection = connection

    def add(self, decision_id: str, principal_id: str, moment: datetime, accepted: bool,
            satisfied: bool | None = None, stayed: bool | None = None,
            note: str | None = None) -> Outcome:
        outcome = Outcome(id=str(uuid.uuid4()), decision_id=decision_id, accepted=accepted,
                          satisfied=satisfied, stayed=stayed, note=note,
                          principal=principal_id, recorded_at=moment)
        self._connection.execute(_INSERT, dict(
            id=outcome.id, decision_id=decision_id, accepted=accepted, satisfied=satisfied,
            stayed=stayed, note=note, principal=principal_id, recorded_at=moment))
        return outcome

    def of_decision(self, decision_id: str) -> list[Outcome]:
        """Oldest first."""
        return [_outcome(row) for row in
                self._connection.execute(_OF_DECISION, {"decision_id": decision_id})]
