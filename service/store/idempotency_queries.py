"""Answers kept for an `Idempotency-Key`, per principal."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select

from service.domain.records import Answer, KeptAnswer
from service.store.models import IdempotencyRow

KEYS = IdempotencyRow.__table__

_FIND = select(KEYS.c.request_hash, KEYS.c.status, KEYS.c.response).where(
    KEYS.c.principal == bindparam("principal"), KEYS.c.key == bindparam("key"))
_INSERT = insert(KEYS)


class IdempotencyQueries:
    def __init__(self, connection: Connection):
        self._connection = connection

    def find(self, principal_id: str, key: str) -> KeptAnswer | None:
        row = self._connection.execute(_FIND, {"principal": principal_id, "key": key}
                                       ).one_or_none()
        if row is None:
            return None
        return KeptAnswer(row.request_hash, Answer(row.status, row.response))

    def keep(self, principal_id: str, key: str, request_fingerprint: str, answer: Answer,
             moment: datetime) -> None:
        self._connection.execute(_INSERT, dict(
            principal=principal_id, key=key, request_hash=request_fingerprint,
            status=answer.status, response=answer.document, created_at=moment))
