"""A customer's incidents and grants, newest first, a page at a time.

The two lists page on their own (see `service.store.keyset`): one cursor holds where each
goes on, and the last page of the longer list ends both.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.records import DecisionSummary, Grant
from service.store import keyset
from service.store.database import Store
from service.store.unit_of_work import UnitOfWork

LISTS = ("incidents", "grants")


@dataclass(frozen=True)
class CustomerHistory:
    customer_id: str
    incidents: tuple[DecisionSummary, ...]
    grants: tuple[Grant, ...]
    next_cursor: str | None


def customer_history(store: Store, customer_id: str, limit: int,
                     cursor: str | None = None) -> CustomerHistory:
    """Raises keyset.CursorInvalid for a cursor this service did not give."""
    position = keyset.decode(cursor, LISTS)
    with UnitOfWork(store, snapshot=True) as uow:
        incidents, incidents_next = uow.decisions.of_customer(
            customer_id, position["incidents"], limit)
        grants, grants_next = uow.grants.of_customer(customer_id, position["grants"], limit)
    return CustomerHistory(customer_id, tuple(incidents), tuple(grants),
                           keyset.encode({"incidents": incidents_next,
                                          "grants": grants_next}))
