"""The hot path's statements on the driver's connection (SQLite and PostgreSQL): compiled once
per dialect, rows named as Core names them, values bound as Core binds them, a transaction
that commits or rolls back whole, and the driver's errors translated as Core's are."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import exc, func, insert, select

from service.store.database import Store, is_sqlite
from service.store.dbapi import Prepared
from service.store.errors import DatabaseUnavailable, UniquenessRace, ValueRefused
from service.store.models import IdempotencyRow
from tests.support.driver import driver_transaction, terminate

KEYS = IdempotencyRow.__table__
INSERT_KEY = Prepared(insert(KEYS))


def key_row(principal: str, key: str = "k-1", **values) -> dict:
    return {"principal": principal, "key": key, "request_hash": "0" * 64, "status": 201,
            "response": {"ok": True, "text": "é"}, "created_at": datetime.now(UTC),
            **values}


def count_keys(store: Store, principal: str) -> int:
    with store.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(KEYS).where(
            KEYS.c.principal == principal)).scalar_one()


def test_a_statement_is_compiled_once_for_each_dialect(store):
    with store.engine.connect() as connection:
        dialect = connection.dialect
    assert INSERT_KEY.on(dialect) is INSERT_KEY.on(dialect)


def test_what_it_writes_core_reads_back_as_written(store):
    """Values are bound as Core binds them (the column types' processors: SQLite's
    datetime text, JSON through the store's serializer)."""
    principal = f"dbapi-{uuid.uuid4().hex[:8]}"
    moment = datetime(2026, 11, 29, 1, 2, 3, 456789, tzinfo=UTC)
    with driver_transaction(store) as work:
        work.run(INSERT_KEY, key_row(principal, "a", created_at=moment))
    with store.engine.begin() as connection:
        connection.execute(insert(KEYS), key_row(principal, "b", created_at=moment))
        read = connection.execute(select(KEYS.c.key, KEYS.c.created_at, KEYS.c.response).where(
            KEYS.c.principal == principal).order_by(KEYS.c.key)).all()
    assert read[0][1:] == read[1][1:]  # the same values, however written
    assert read[0].response == {"ok": True, "text": "é"}
    assert read[0].created_at.replace(tzinfo=UTC) == moment


def test_rows_are_named_by_the_statements_labels(store):
    principal = f"dbapi-{uuid.uuid4().hex[:8]}"
    with driver_transaction(store) as work:
        work.run_many(INSERT_KEY, [key_row(principal, "b"), key_row(principal, "a")])
        rows = work.rows(Prepared(select(KEYS.c.key, func.length(KEYS.c.key).label("size"))
                                  .where(KEYS.c.principal == principal).order_by(KEYS.c.key)),
                         {})
    assert [(row.key, row.size) for row in rows] == [("a", 1), ("b", 1)]


def test_an_error_rolls_back_everything_the_transaction_did(store):
    principal = f"dbapi-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError), driver_transaction(store) as work:
        work.run(INSERT_KEY, key_row(principal, "a"))
        raise RuntimeError("after the insert")
    assert count_keys(store, principal) == 0


def test_a_uniqueness_race_is_translated_and_nothing_is_kept(store):
    principal = f"dbapi-{uuid.uuid4().hex[:8]}"
    with pytest.raises(UniquenessRace), driver_transaction(store) as work:
        work.run(INSERT_KEY, key_row(principal, "a"))
        work.run_many(INSERT_KEY, [key_row(principal, "b"), key_row(principal, "a")])
    assert count_keys(store, principal) == 0
    with driver_transaction(store) as work:  # the connection went back to the pool usable
        work.run(INSERT_KEY, key_row(principal, "a"))
    assert count_keys(store, principal) == 1


def test_other_driver_errors_come_out_as_core_raises_them(store):
    principal = f"dbapi-{uuid.uuid4().hex[:8]}"
    with pytest.raises(exc.IntegrityError), driver_transaction(store) as work:  # NOT NULL
        work.run(INSERT_KEY, key_row(principal, request_hash=None))
    assert count_keys(store, principal) == 0


def test_a_value_the_database_refuses_names_its_column(store):
    if is_sqlite(store.url):
        pytest.skip("SQLite stores NUL characters")
    with pytest.raises(ValueRefused) as refused, driver_transaction(store) as work:
        work.run(INSERT_KEY, key_row(f"dbapi-{uuid.uuid4().hex[:8]}", key="nul\x00key"))
    assert refused.value.field == "key"


def test_a_connection_the_server_drops_is_unavailable_and_leaves_the_pool(store):
    if is_sqlite(store.url):
        pytest.skip("PostgreSQL's server connections")
    principal = f"dbapi-{uuid.uuid4().hex[:8]}"
    with pytest.raises(DatabaseUnavailable), driver_transaction(store) as work:
        work.run(INSERT_KEY, key_row(principal, "a"))
        pid = work.rows(Prepared(select(func.pg_backend_pid().label("pid"))), {})[0].pid
        terminate(store, pid)
        work.run(INSERT_KEY, key_row(principal, "b"))
    assert count_keys(store, principal) == 0
    with driver_transaction(store) as work:  # a fresh connection: the pool let the dead go
        assert work.rows(Prepared(select(func.pg_backend_pid().label("pid"))), {})[0].pid != pid
