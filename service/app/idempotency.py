"""`Idempotency-Key` for the grant and approval calls: a retried request gets the first answer.

Only successful answers are kept: a refusal changes nothing, so a retry is simply decided
again. The key is per principal, and reusing it for a different request is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from sqlalchemy.orm import Session

from service.app.errors import KeyReused
from service.app.grants import Outcome, lock
from service.domain.principal import Principal
from service.store import clock
from service.store.database import Store
from service.store.models import IdempotencyRow


def run_once(store: Store, principal: Principal, key: str | None, route: str, body: dict,
             operation: Callable[[Session], Outcome]) -> Outcome:
    digest = hashlib.sha256(json.dumps([route, body], sort_keys=True).encode()).hexdigest()
    with store.transaction() as session:
        if key is not None:
            lock(session, store, f"idempotency:{principal.id}:{key}")
            earlier = session.get(IdempotencyRow, (principal.id, key))
            if earlier is not None:
                if earlier.request_hash != digest:
                    raise KeyReused(f"Idempotency-Key {key!r} was used for another request.")
                return Outcome(earlier.status, earlier.response)
        outcome = operation(session)
        if key is not None:
            session.add(IdempotencyRow(principal=principal.id, key=key, request_hash=digest,
                                       status=outcome.status, response=outcome.document,
                                       created_at=clock.now()))
        return outcome
