"""A customer's incidents and grants, newest first, a page at a time.

The two lists page on their own (see `service.store.keyset`): one cursor holds where each
goes on, and the last page of the longer list ends both.
"""

from __future__ import annotations

from sqlalchemy import select

from service.app.decisions import offer_states
from service.app.grants import grant_json
from service.store import clock, keyset
from service.store.database import Store
from service.store.models import DecisionRow, GrantRow

LISTS = ("incidents", "grants")


def customer_history(store: Store, customer_id: str, limit: int,
                     cursor: str | None = None) -> dict:
    """Raises keyset.CursorInvalid for a cursor this service did not give."""
    position = keyset.decode(cursor, LISTS)
    with store.transaction() as session:
        rows, incidents_next = keyset.page(
            session, select(DecisionRow).where(DecisionRow.customer_id == customer_id),
            DecisionRow.decided_at, DecisionRow.id, position["incidents"], limit)
        states = offer_states(session, [row.id for row in rows])
        incidents = [_incident_json(row, states) for row in rows]
        grants, grants_next = keyset.page(
            session, select(GrantRow).where(GrantRow.customer_id == customer_id),
            GrantRow.granted_at, GrantRow.id, position["grants"], limit)
        granted = [grant_json(grant) for grant in grants]
    return {"customer_id": customer_id, "incidents": incidents, "grants": granted,
            "next_cursor": keyset.encode({"incidents": incidents_next,
                                          "grants": grants_next})}


def _incident_json(row: DecisionRow, states: dict) -> dict:
    failure = row.request.get("failure", {})
    return {
        "incident_id": row.incident_id, "decision_id": row.id,
        "decided_at": clock.aware(row.decided_at).isoformat(),
        "order_id": row.order_id, "category": failure.get("category"),
        "severity": failure.get("severity"), "outlook": row.outlook,
        "policy": {"name": row.policy_name, "version": row.policy_version},
        "principal": row.principal, "role": row.role,
        "offers": [{"id": offer["id"], "remedy": offer["remedy"], "value": offer["value"],
                    "variant": offer["variant"], "approval": offer["approval"],
                    "state": states[offer["id"]].state}
                   for offer in row.result["offers"]],
    }
