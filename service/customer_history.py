"""A customer's incidents and grants, newest first, a page at a time.

The two lists page independently: a cursor says, for each, after which entry (time and id)
it goes on, or that it has ended. The order (time, then id, both descending) is total, so a
page never repeats or skips an entry, even when two share a timestamp.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select

from service.decision_log import offer_states
from service.grant_log import grant_json
from service.store import clock
from service.store.database import Store
from service.store.models import DecisionRow, GrantRow

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_START, _ENDED = None, False


class CursorInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    """Where each list goes on: None from the newest, False ended, else (time, id) seen last."""

    incidents: tuple[datetime, str] | bool | None = _START
    grants: tuple[datetime, str] | bool | None = _START

    def encode(self) -> str:
        document = {"incidents": _position_json(self.incidents),
                    "grants": _position_json(self.grants)}
        raw = json.dumps(document, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            document = json.loads(raw)
            return cls(_position(document["incidents"]), _position(document["grants"]))
        except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError):
            raise CursorInvalid("Not a cursor this service gave; pass `next_cursor` of the "
                                "previous page unchanged.") from None


def _position_json(position) -> list | bool | None:
    if position is _START or position is _ENDED:
        return position
    moment, entry_id = position
    return [moment.isoformat(), entry_id]


def _position(value) -> tuple[datetime, str] | bool | None:
    if value is None or value is False:
        return value
    moment, entry_id = value
    parsed = datetime.fromisoformat(moment)
    if parsed.tzinfo is None or not isinstance(entry_id, str):
        raise ValueError("bad position")
    return clock.aware(parsed), entry_id


def customer_history(store: Store, customer_id: str, limit: int = DEFAULT_LIMIT,
                     cursor: Cursor | None = None) -> dict:
    cursor = cursor or Cursor()
    with store.transaction() as session:
        rows, incidents_next = _page(session, DecisionRow, DecisionRow.decided_at, customer_id,
                                     cursor.incidents, limit)
        states = offer_states(session, [row.id for row in rows])
        incidents = [_incident_json(row, states) for row in rows]
        grants, grants_next = _page(session, GrantRow, GrantRow.granted_at, customer_id,
                                    cursor.grants, limit)
        granted = [grant_json(grant) for grant in grants]
    following = Cursor(incidents_next, grants_next)
    more = following.incidents is not _ENDED or following.grants is not _ENDED
    return {"customer_id": customer_id, "incidents": incidents, "grants": granted,
            "next_cursor": following.encode() if more else None}


def _page(session, model, moment_column, customer_id: str, position, limit: int):
    """Up to `limit` rows after `position`, and the position the next page starts from."""
    if position is _ENDED:
        return [], _ENDED
    query = select(model).where(model.customer_id == customer_id)
    if position is not _START:
        moment, entry_id = position
        query = query.where(or_(moment_column < moment,
                                and_(moment_column == moment, model.id < entry_id)))
    rows = session.scalars(query.order_by(moment_column.desc(), model.id.desc())
                           .limit(limit + 1)).all()
    if len(rows) <= limit:
        return rows, _ENDED
    last = rows[limit - 1]
    return rows[:limit], (clock.aware(getattr(last, moment_column.key)), last.id)


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
