"""The hot path's statements, run on the driver's connection: no SQL compiled per request,
no result machinery.

A `Prepared` is a Core statement (the one declaration of what it does) compiled once per
database dialect into the driver's SQL, the order of its parameters and what turns each
value into what the driver takes (the column types' own bind processors: JSON through the
store's serializer, SQLite's datetime text). A `DbapiTransaction` runs them on a pooled
connection of the store's engine (`connection`: the same pool and connection set-up as
`Store.connection`; service.store.deciding_unit holds the same deadline and writer queue
around it, and issues the same SQLite `BEGIN IMMEDIATE`); a driver error comes out as
SQLAlchemy raises it (so `service.store.errors.translated` reads it the same way), and
a connection the driver says is gone is dropped from the pool.

Measured in process on SQLite, the lookup before deciding costs about 5 times as much CPU
through `Connection.execute` as here, and a transaction through `Engine.begin` about 3 times.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import Engine, exc
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement

Processor = Callable[[Any], Any]


class _Compiled:
    """A statement as one dialect's driver takes it."""

    def __init__(self, statement: ClauseElement, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.defaults = {name: value for name, value in compiled.params.items()
                         if value is not None}  # literals the statement binds itself
        self.processors: dict[str, Processor] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor
        self.order: Sequence[str] | None = compiled.positiontup if compiled.positional else None
        self.row_type: type | None = None

    def arguments(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = {**self.defaults, **params} if self.defaults else dict(params)
        for name, processor in self.processors.items():
            if name in values:
                values[name] = processor(values[name])
        if self.order is None:
            return values
        return [values[name] for name in self.order]


class Prepared:
    """A Core statement, compiled on first use for each dialect it runs on."""

    def __init__(self, statement: ClauseElement):
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def on(self, dialect: Dialect) -> _Compiled:
        key = f"{dialect.name}+{dialect.driver}"
        compiled = self._by_dialect.get(key)
        if compiled is None:
            compiled = self._by_dialect[key] = _Compiled(self.statement, dialect)
        return compiled


class DbapiTransaction:
    """Statements on one pooled driver connection inside a transaction (see `transaction`)."""

    def __init__(self, connection: PoolProxiedConnection, dialect: Dialect,
                 owned: bool = True):
        """`owned`: the transaction is this one's (`transaction`); otherwise a Core
        connection's, which drops a connection that is gone when it rolls back."""
        self._connection = connection
        self.dialect = dialect
        self.info = connection.info  # the pooled connection's, kept across checkouts
        self._owned = owned

    def rows(self, prepared: Prepared, params: Mapping[str, Any]) -> list[tuple]:
        """The result's rows, as named tuples (by the statement's column labels) of the
        driver's own values: no result types apply (SQLite gives a datetime as text), so the
        hot path reads counts, sums and text."""
        compiled = prepared.on(self.dialect)
        with self._cursor(compiled.sql, params) as cursor:
            cursor.execute(compiled.sql, compiled.arguments(params))
            rows = cursor.fetchall()
            if compiled.row_type is None:
                compiled.row_type = namedtuple(  # type: ignore[misc]
                    "Row", [column[0] for column in cursor.description], rename=True)
        return [compiled.row_type._make(row) for row in rows]

    def run(self, prepared: Prepared, params: Mapping[str, Any]) -> None:
        compiled = prepared.on(self.dialect)
        with self._cursor(compiled.sql, params) as cursor:
            cursor.execute(compiled.sql, compiled.arguments(params))

    def run_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        compiled = prepared.on(self.dialect)
        with self._cursor(compiled.sql, list(rows)) as cursor:
            cursor.executemany(compiled.sql, [compiled.arguments(row) for row in rows])

    def commit(self) -> None:
        try:
            self._connection.commit()
        except self.dialect.loaded_dbapi.Error as error:
            raise self.wrapped(error, "COMMIT", {}) from error

    def execute_text(self, sql: str) -> None:
        """A statement of the driver's own (BEGIN IMMEDIATE, a PRAGMA)."""
        with self._cursor(sql, {}) as cursor:
            cursor.execute(sql)

    @contextmanager
    def _cursor(self, statement: str, params: Any) -> Iterator[Any]:
        """A cursor for one statement; the driver's errors in the block come out wrapped."""
        cursor = None
        try:
            cursor = self._connection.cursor()
            yield cursor
        except self.dialect.loaded_dbapi.Error as error:
            raise self.wrapped(error, statement, params, cursor) from error
        finally:
            if cursor is not None:
                with suppress(self.dialect.loaded_dbapi.Error):  # a connection gone
                    cursor.close()

    def wrapped(self, error: Exception, statement: str | None, params: Any,
                cursor: Any = None) -> exc.DBAPIError:
        """The driver's error as SQLAlchemy raises it; a connection the driver says is gone is
        dropped from the pool (by this transaction, or by the Core connection it runs in)."""
        gone = self.dialect.is_disconnect(error, self._connection.dbapi_connection, cursor)
        if gone and self._owned:
            self._connection.invalidate(error)
        return exc.DBAPIError.instance(
            statement, params, error, self.dialect.loaded_dbapi.Error, hide_parameters=True,
            connection_invalidated=gone, dialect=self.dialect)


@contextmanager
def connection(engine: Engine, autocommit: bool = False) -> Iterator[DbapiTransaction]:
    """A connection from `engine`'s pool for the block: whatever is still open at an exception
    is rolled back (the exception goes on), and the connection goes back to the pool (whose
    reset rolls back what nobody committed). Committing is the caller's
    (`DbapiTransaction.commit`). The caller holds the deadline and the writer queue (see
    service.store.deciding_unit).

    `autocommit`: on PostgreSQL, each statement commits on its own (no BEGIN and COMMIT round
    trips), for the block only. SQLite's connections always are (Amends issues its BEGIN)."""
    dialect = engine.dialect
    try:
        pooled = engine.raw_connection()
    except dialect.loaded_dbapi.Error as error:  # could not connect (Core wraps this itself)
        raise exc.DBAPIError.instance(None, None, error, dialect.loaded_dbapi.Error,
                                      dialect=dialect) from error
    switched = autocommit and dialect.name == "postgresql"
    try:
        if switched:
            pooled.dbapi_connection.autocommit = True
        yield DbapiTransaction(pooled, dialect)
    except BaseException:
        _roll_back(pooled, dialect)
        raise
    finally:
        if switched and pooled.dbapi_connection is not None:
            try:
                pooled.dbapi_connection.autocommit = False  # as Core expects it
            except dialect.loaded_dbapi.Error as error:  # gone meanwhile
                pooled.invalidate(error)
        pooled.close()  # back to the pool (or, invalidated, discarded)


def _roll_back(connection: PoolProxiedConnection, dialect: Dialect) -> None:
    if connection.dbapi_connection is None:  # invalidated: nothing left to roll back
        return
    try:
        connection.rollback()
    except dialect.loaded_dbapi.Error as error:
        connection.invalidate(error)  # in an unknown state: never back in the pool
