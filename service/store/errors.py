"""What the database said, in the three kinds that decide the answer: unreachable or too
slow (retry later), a value it refuses (the caller's to fix), a uniqueness race (a conflict).
Anything else stays an error of its own and is logged with its traceback: a missing table,
a syntax error, a not-null or foreign-key violation, a deadlock or a full disk will not go
away if the caller retries, so they are never "retry later".

Values the API accepts are checked at the edge so that none of them is refused here; this is
the backstop for what slips through (then the answer names the column where it can).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

# PostgreSQL SQLSTATEs that mean the server cannot be reached, is going away, or gave up
# waiting. Class 08 (connection exception) counts whole.
PG_UNAVAILABLE = {
    "53300": "too_many_connections",
    "57014": "query_canceled",  # statement_timeout
    "55P03": "lock_not_available",  # lock_timeout
    "57P01": "admin_shutdown",
    "57P02": "crash_shutdown",
    "57P03": "cannot_connect_now",  # starting up, or in recovery
    "57P05": "idle_session_timeout",
    "25P03": "idle_in_transaction_session_timeout",
    "25006": "read_only_sql_transaction",  # a standby after a failover: the primary is gone
}
PG_UNIQUE_VIOLATION = "23505"
# SQLite primary result codes with the same meaning: the file cannot be opened or read, or
# another connection held the lock longer than the busy timeout.
SQLITE_UNAVAILABLE = {
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR}
SQLITE_UNIQUE = {sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY}
PG_QUERY_CANCELED = "57014"  # statement_timeout, or a cancel the client sent
_VARCHAR_LIMIT = re.compile(r"character varying\((\d+)\)")


class DatabaseUnavailable(Exception):
    """Unreachable, gone mid-transaction, locked or timed out. `maybe_saved`: the
    connection was lost with no answer from the server, so if that was while committing (or
    during a statement that commits itself) the change may have been made; when the server
    answered (a timeout, a lock it gave up on, too many connections) nothing was changed."""

    def __init__(self, message: str, maybe_saved: bool = False):
        super().__init__(message)
        self.maybe_saved = maybe_saved


class ValueRefused(Exception):
    """The database refused a value (a NUL byte, a string over its column's length)."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        self.errors = {field or "_body": [message]}
        super().__init__(message)


class UniquenessRace(Exception):
    """A concurrent request stored the same thing first."""


class OutOfTime(Exception):
    """A long read (a report) reached its own deadline (`Store.connection`'s `until`) and was
    stopped there: the work asked for is more than its time allows, which a retry does not
    change (not DatabaseUnavailable, though the database said "canceled" or "interrupted")."""


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error)
    return text.splitlines()[0] if text else type(error).__name__


def is_unavailable(error: exc.DBAPIError) -> bool:
    """Whether the database could not be reached or timed out (a retry may succeed)."""
    if error.connection_invalidated:  # the dialect saw the connection drop
        return True
    orig = error.orig
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in SQLITE_UNAVAILABLE
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is None:  # the driver's own: no connection, or it broke (no server answer)
        return isinstance(error, exc.OperationalError | exc.InterfaceError)
    return sqlstate.startswith("08") or sqlstate in PG_UNAVAILABLE


def _no_answer(error: exc.DBAPIError) -> bool:
    """A PostgreSQL connection that was made was lost, or gave no answer in time (it is then
    dropped: invalidated). Not one that could not be made (nothing was sent), nor an answer
    the server gave, nor SQLite (which always answers)."""
    return error.connection_invalidated and not isinstance(error.orig, sqlite3.Error)


def is_stopped_statement(error: exc.DBAPIError) -> bool:
    """Whether the database stopped a statement on request: PostgreSQL's query_canceled (a
    statement_timeout, or a cancel sent by the client), SQLite's interrupt (a progress
    handler that said stop). Only a long read's deadline does either to a long read."""
    orig = error.orig
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT
    return getattr(orig, "sqlstate", None) == PG_QUERY_CANCELED


def is_uniqueness_race(error: exc.IntegrityError) -> bool:
    orig = error.orig
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorcode", None) in SQLITE_UNIQUE
    return getattr(orig, "sqlstate", None) == PG_UNIQUE_VIOLATION


def refused_column(error: exc.StatementError) -> str | None:
    """The bound parameter (for inserts and updates, the column) holding the refused value,
    when exactly one fits what the database said."""
    text = _first_line(error)
    limit = _VARCHAR_LIMIT.search(text)
    if limit:
        def refused(value) -> bool:
            return isinstance(value, str) and len(value) > int(limit.group(1))
    elif "NUL" in text:
        def refused(value) -> bool:
            return isinstance(value, str) and "\x00" in value
    else:
        return None
    rows = error.params if isinstance(error.params, list | tuple) else [error.params]
    names = {re.sub(r"_\d+$", "", str(name)) for row in rows if isinstance(row, dict)
             for name, value in row.items() if refused(value)}
    return names.pop() if len(names) == 1 else None


@contextmanager
def translated() -> Iterator[None]:
    """Raise database errors as one of the kinds above; leave any other error as it is."""
    try:
        yield
    except exc.IntegrityError as error:
        if not is_uniqueness_race(error):
            raise
        raise UniquenessRace(f"A concurrent request stored this first: {_first_line(error)}"
                             ) from error
    except exc.DataError as error:
        raise ValueRefused(f"The database refused a value: {_first_line(error)}",
                           refused_column(error)) from error
    except exc.DBAPIError as error:
        if not is_unavailable(error):
            raise
        raise DatabaseUnavailable(_first_line(error), maybe_saved=_no_answer(error)) from error
    except (exc.TimeoutError, exc.DisconnectionError) as error:  # no pooled connection free
        raise DatabaseUnavailable(_first_line(error)) from error
    except UnicodeEncodeError as error:  # raised by the driver, before the database sees it
        raise ValueRefused("The database refused a value: not valid Unicode text (an "
                           "unpaired surrogate).") from error
