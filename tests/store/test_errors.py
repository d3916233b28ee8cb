"""`translated()` sorts real errors of SQLite and PostgreSQL: unreachable or timed out is
DatabaseUnavailable (503), a refused value ValueRefused (422), a uniqueness race
UniquenessRace (409); anything else is left as it is (a logged 500)."""

import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, exc, insert, text

from service.store.database import Store
from service.store.errors import DatabaseUnavailable, UniquenessRace, ValueRefused, translated
from service.store.models import IdempotencyRow, OfferRow
from tests.conftest import POSTGRES

KEYS = IdempotencyRow.__table__


def key_row(principal: str = "someone", key: str = "k-1") -> dict:
    return {"principal": principal, "key": key, "request_hash": "0" * 64, "status": 201,
            "response": {}, "created_at": datetime.now(UTC)}


def insert_rows(store: Store, *rows: dict) -> None:
    """Insert in one transaction, under translated(); rolled back whatever happens."""
    with translated(), store.engine.connect() as connection, connection.begin() as outer:
        for row in rows:
            connection.execute(insert(KEYS), row)
        outer.rollback()


def on(store: Store) -> str:
    return "sqlite" if store.url.startswith("sqlite") else "postgresql"


def test_a_uniqueness_race_is_a_conflict(store):
    with pytest.raises(UniquenessRace):
        insert_rows(store, key_row(), key_row())


def test_other_integrity_errors_are_left_as_they_are(store):
    with pytest.raises(exc.IntegrityError):  # NOT NULL
        insert_rows(store, {**key_row(), "request_hash": None})
    with pytest.raises(exc.IntegrityError), translated(), store.engine.connect() as connection:
        connection.execute(insert(OfferRow.__table__), {  # a foreign key to no decision
            "id": "o-1", "decision_id": "no-such-decision", "number": 1, "remedy": "refund",
            "amount_minor": 1, "currency": "EUR", "variant": "full", "source": "rule",
            "approval": "not_required", "state": "proposed",
            "state_changed_at": datetime.now(UTC)})


@pytest.mark.parametrize("sql", ["SELECT * FROM no_such_table", "SELEC 1"])
def test_mistakes_in_sql_are_not_unavailable(store, sql):
    with pytest.raises(exc.DBAPIError) as raised, translated(), \
            store.engine.connect() as connection:
        connection.execute(text(sql))
    assert not isinstance(raised.value, DatabaseUnavailable)


@pytest.mark.parametrize(("principal", "database_says"), [
    ("a\x00b", "NUL"), ("p" * 201, "value too long")])
def test_a_value_postgresql_refuses_is_refused_naming_its_column(store, principal,
                                                                 database_says):
    if on(store) == "sqlite":  # SQLite stores both: the edge must refuse them (tests/web)
        insert_rows(store, key_row(principal))
        return
    with pytest.raises(ValueRefused) as raised:
        insert_rows(store, key_row(principal))
    assert database_says in str(raised.value)
    assert raised.value.errors == {"principal": [str(raised.value)]}


def test_text_the_driver_cannot_encode_is_refused(store):
    with pytest.raises(ValueRefused, match="unpaired surrogate"):
        insert_rows(store, key_row("a\ud800b"))


def test_a_database_that_cannot_be_reached_is_unavailable(store, tmp_path):
    if on(store) == "sqlite":
        (tmp_path / "not-a-folder").write_text("")
        engine = create_engine(f"sqlite:///{tmp_path}/not-a-folder/amends.db")
        with pytest.raises(DatabaseUnavailable, match="unable to open"), translated(), \
                engine.connect():
            pass
        engine.dispose()
    else:
        with pytest.raises(DatabaseUnavailable, match="failed"):
            Store(POSTGRES.replace(":5432", ":1")).ping()


def test_a_locked_sqlite_database_is_unavailable(store):
    if on(store) != "sqlite":
        pytest.skip("SQLite's lock")
    impatient = create_engine(store.url, connect_args={"timeout": 0})
    holder = sqlite3.connect(store.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseUnavailable, match="locked"), translated(), \
                impatient.connect() as connection:
            connection.execute(insert(KEYS), key_row())
    finally:
        holder.rollback()
        holder.close()
        impatient.dispose()


@pytest.mark.parametrize("setting", ["statement_timeout", "lock_timeout"])
def test_postgresql_giving_up_waiting_is_unavailable(store, setting):
    if on(store) != "postgresql":
        pytest.skip("PostgreSQL's timeouts")
    with store.engine.connect() as holder, holder.begin():
        holder.execute(text("SELECT pg_advisory_xact_lock(4242)"))
        with pytest.raises(DatabaseUnavailable, match=r"timeout|lock"), translated(), \
                store.engine.connect() as waiter, waiter.begin():
            waiter.execute(text(f"SET LOCAL {setting} = 50"))
            waiter.execute(text("SELECT pg_advisory_xact_lock(4242)"))


def test_a_connection_postgresql_ends_is_unavailable(store):
    if on(store) != "postgresql":
        pytest.skip("PostgreSQL's administrator command")
    with pytest.raises(DatabaseUnavailable, match="administrator"), translated(), \
            store.engine.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))


def test_no_free_pooled_connection_in_time_is_unavailable(store):
    if on(store) != "postgresql":
        pytest.skip("a connection pool")
    engine = create_engine(store.url, pool_size=1, max_overflow=0, pool_timeout=0.1)
    try:
        with engine.connect(), pytest.raises(DatabaseUnavailable), translated(), \
                engine.connect():
            pass
    finally:
        engine.dispose()


def test_a_deadlock_is_not_unavailable(store):
    """Amends takes its locks in order, so a deadlock is a bug to log, not a retry later."""
    if on(store) != "postgresql":
        pytest.skip("PostgreSQL's deadlock detection")
    errors: list[BaseException] = []
    both_hold_one = threading.Barrier(2)

    def take(first: int, second: int) -> None:
        try:
            with translated(), store.engine.connect() as connection, connection.begin():
                connection.execute(text("SET LOCAL deadlock_timeout = 100"))
                connection.execute(text(f"SELECT pg_advisory_xact_lock({first})"))
                both_hold_one.wait(5)
                connection.execute(text(f"SELECT pg_advisory_xact_lock({second})"))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=take, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(errors) == 1, errors
    assert isinstance(errors[0], exc.OperationalError), errors
    assert "deadlock" in str(errors[0])
