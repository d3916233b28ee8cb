"""The store's driver-level pieces (service.store.dbapi) put together as the deciding unit
puts them, for tests that run statements of their own through them; and a way to drop a
server connection, as a restart or a failover does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from service.store import dbapi
from service.store.database import Store
from service.store.dbapi import DbapiTransaction
from service.store.errors import translated


@contextmanager
def driver_transaction(store: Store) -> Iterator[DbapiTransaction]:
    """A writing transaction on a pooled driver connection: bounded, queued and translated
    as the deciding unit's write is; leaving the block commits, an exception rolls back."""
    with translated(), store.bounded() as deadline, store.writer_queue(deadline), \
            dbapi.connection(store.engine) as work:
        store.begin_writing(work)
        yield work
        work.commit()


def terminate(store: Store, backend_pid: int) -> None:
    """End a PostgreSQL server connection of the store's database, from outside."""
    url = store.engine.url.set(drivername="postgresql", query={})
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))
