"""Keyset pages: lists that grow while they are read, a page at a time, none lost or repeated.

A list is ordered by a moment and then by id, so the order is total even when two entries
share a moment. A position says after which entry (moment, id) the next page starts, that
the list starts from its beginning (`START`), or that it has ended (`ENDED`). A cursor is
the positions of one or more lists, encoded as an opaque URL-safe text.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from sqlalchemy import Connection, Row, Select, and_, or_

from service.domain.fields import text_fault
from service.store import clock

START = None
ENDED = False
Position = tuple[datetime, str] | bool | None


class CursorInvalid(ValueError):
    def __init__(self):
        super().__init__("Not a cursor this service gave; pass `next_cursor` of the previous "
                         "page unchanged.")


def page(connection: Connection, query: Select, moment_column, id_column, position: Position,
         limit: int, newest_first: bool = True) -> tuple[list[Row], Position]:
    """Up to `limit` rows of `query` (a Core select that includes both columns) after
    `position`, and where the next page starts."""
    if position is ENDED:
        return [], ENDED
    if position is not START:
        moment, entry_id = position
        if newest_first:
            query = query.where(or_(moment_column < moment,
                                    and_(moment_column == moment, id_column < entry_id)))
        else:
            query = query.where(or_(moment_column > moment,
                                    and_(moment_column == moment, id_column > entry_id)))
    order = ((moment_column.desc(), id_column.desc()) if newest_first
             else (moment_column.asc(), id_column.asc()))
    rows = connection.execute(query.order_by(*order).limit(limit + 1)).all()
    if len(rows) <= limit:
        return list(rows), ENDED
    last = rows[limit - 1]
    return list(rows[:limit]), (clock.aware(getattr(last, moment_column.key)),
                                getattr(last, id_column.key))


def encode(positions: dict[str, Position]) -> str | None:
    """The cursor of the next page; None once every list has ended."""
    if all(position is ENDED for position in positions.values()):
        return None
    document = {name: _position_json(position) for name, position in positions.items()}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str | None, names: tuple[str, ...]) -> dict[str, Position]:
    """The positions a cursor holds for these lists; no cursor means every list from START."""
    if text is None:
        return dict.fromkeys(names, START)
    try:
        document = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if not isinstance(document, dict) or set(document) != set(names):
            raise ValueError("other lists")
        return {name: _position(document[name]) for name in names}
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, OverflowError):
        raise CursorInvalid() from None


def _position_json(position: Position) -> list | bool | None:
    if position is START or position is ENDED:
        return position
    moment, entry_id = position
    return [moment.isoformat(), entry_id]


def _position(value) -> Position:
    if value is START or value is ENDED:
        return value
    moment, entry_id = value
    parsed = datetime.fromisoformat(moment)
    if parsed.tzinfo is None or not isinstance(entry_id, str) or text_fault(entry_id):
        raise ValueError("not a position")  # an id no row has (a NUL, a lone surrogate...)
    return parsed.astimezone(UTC), entry_id
