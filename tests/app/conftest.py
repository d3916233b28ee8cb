"""Use cases against a real store (SQLite and PostgreSQL, through the session `store`
fixture), without HTTP. Each test works under principals, customers and orders of its own,
so running totals and lists of one test never meet another's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

import pytest

from service.app.active_policy import ActivePolicy
from service.app.decisions import Recorded, record_decision
from service.app.intake import parse_incident
from service.domain.principal import Principal
from service.domain.records import StoredOffer
from service.store.database import Store
from service.store.unit_of_work import UnitOfWork
from tests.conftest import design_example

Result = TypeVar("Result")


@pytest.fixture
def staff() -> Callable[[str], Principal]:
    """A principal of this role, new to the store (no daily budget spent yet)."""
    return lambda role: Principal(f"{role}-{uuid.uuid4().hex[:8]}", role)


@pytest.fixture
def decide(store: Store, shipped: ActivePolicy) -> Callable[..., Recorded]:
    """Decide and record the README's example incident (fresh ids) as `principal`; keyword
    arguments change it as `design_example` does, or pass a whole `body`."""

    def decide(principal: Principal, body: dict | None = None, **changes) -> Recorded:
        body = body if body is not None else design_example(**changes)
        return record_decision(store, shipped, principal, body,
                               parse_incident(body, shipped.policy))

    return decide


@pytest.fixture
def run(store: Store) -> Callable[[Callable[[UnitOfWork], Result]], Result]:
    """Run a use case in a unit of work of its own, as a route does."""

    def run(operation: Callable[[UnitOfWork], Result]) -> Result:
        with UnitOfWork(store) as uow:
            return operation(uow)

    return run


def offer(recorded: Recorded, remedy: str, variant: str = "full") -> StoredOffer:
    """The recorded offer of this remedy and variant."""
    return next(o for o in recorded.stored.offers
                if o.remedy == remedy and o.variant == variant)
