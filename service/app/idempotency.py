"""`Idempotency-Key` for the grant, approval and outcome calls: a retry gets the first answer.

Only successful answers are kept: a refusal changes nothing, so a retry is simply decided
again. The key is per principal, and reusing it for a different request is refused. The
answer is rendered by the caller (`render`), in the same transaction as the operation, so
what is kept is exactly what was first sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from service.app.errors import KeyReused
from service.domain.principal import Principal
from service.domain.records import Answer
from service.store import clock, fingerprints
from service.store.database import Store
from service.store.unit_of_work import UnitOfWork

Result = TypeVar("Result")


def run_once(store: Store, principal: Principal, key: str | None, route: str,
             body: Mapping[str, object], operation: Callable[[UnitOfWork], Result],
             render: Callable[[Result], Answer],
             committed: Callable[[Result], None] | None = None) -> Answer:
    """Run `operation` in a unit of work and render its result, or give the answer kept
    for this principal's `key` when the same request was run before. `committed` is called
    with the operation's result once its changes are committed, and only then: never for a
    replayed answer (so what it counts, such as grants, is counted once)."""
    fingerprint = fingerprints.of_request(route, body)
    with UnitOfWork(store) as uow:
        if key is not None:
            uow.lock(f"idempotency:{principal.id}:{key}")
            earlier = uow.idempotency.find(principal.id, key)
            if earlier is not None:
                if earlier.request_fingerprint != fingerprint:
                    raise KeyReused(f"Idempotency-Key {key!r} was used for another request.")
                return earlier.answer
        result = operation(uow)
        answer = render(result)
        if key is not None:
            uow.idempotency.keep(principal.id, key, fingerprint, answer, clock.now())
    if committed is not None:
        committed(result)
    return answer
