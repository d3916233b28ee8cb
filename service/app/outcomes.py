"""What became of a decision: whether the customer accepted, was satisfied, stayed."""

from __future__ import annotations

from service.app.errors import NotFound
from service.domain.principal import Principal
from service.domain.records import Outcome
from service.store import clock
from service.store.unit_of_work import UnitOfWork


def record_outcome(uow: UnitOfWork, principal: Principal, decision_id: str, accepted: bool,
                   satisfied: bool | None = None, stayed: bool | None = None,
                   note: str | None = None) -> Outcome:
    if uow.decisions.ref(decision_id) is None:
        raise NotFound(f"No decision {decision_id!r}.")
    return uow.outcomes.add(decision_id, principal.id, clock.now(), accepted,
                            satisfied=satisfied, stayed=stayed, note=note)
