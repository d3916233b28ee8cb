"""Connecting to the store and keeping its schema current (Alembic).

Every wait on the database is bounded by the store's timeout (Settings'
`database_timeout_seconds`, well below the worker timeout), so that a database that is
locked, hung or gone gives a DatabaseUnavailable (a 503) and never a killed worker:

- SQLite: the writer queue (`WriterLock`) and SQLite's busy timeout share one deadline per
  transaction;
- PostgreSQL: connect_timeout, and statement_timeout and lock_timeout on every session, which
  answer when the server is alive; and, for a server that stops answering altogether (frozen,
  or a network that drops packets), every wait of the driver ends half a second after the
  transaction's deadline, closing that connection.

A long read (a report: `Store.connection`'s `until`) is the one exception: once its
transaction has begun (within the timeout, as any), its statements are bounded by its own
deadline instead, or by none (the command line). On PostgreSQL its transaction's
statement_timeout is the time left to it (0: none) and a statement still running at the
deadline is cancelled; on SQLite a progress handler interrupts it. Stopped there, it is
OutOfTime, not DatabaseUnavailable: the work is too long for its time, the database is fine.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from importlib.resources import files
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson
import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import pq
from sqlalchemy import Connection, Engine, create_engine, event, exc, make_url
from sqlalchemy.orm import Session, sessionmaker

from service.store.dbapi import DbapiTransaction
from service.store.errors import OutOfTime, is_stopped_statement, translated
from service.store.writer_lock import WriterLock

log = logging.getLogger("amends.store")  # JSON lines on stderr when served

MIGRATIONS = Path(str(files("service.store") / "migrations"))
DEFAULT_TIMEOUT_SECONDS = 5.0  # Settings' default of AMENDS_DATABASE_TIMEOUT_SECONDS
SETTLE_MARGIN_SECONDS = 5.0  # for deciding itself, between a decision's read and its write
# How much later than the server's own timeouts Amends stops waiting for a PostgreSQL that
# does not answer at all; and the least time a wait gets (a rollback after a timeout).
CLIENT_GRACE_SECONDS = 0.5
# An upgrade that finds a table held tries again, this long at most, this often.
UPGRADE_RETRY_SECONDS = 600.0
UPGRADE_RETRY_PAUSE = 1.0
PG_LOCK_NOT_AVAILABLE = "55P03"
# What psycopg's waits raise when their `timeout` passes (psycopg 3.3 and later).
_WAIT_TIMEOUT = psycopg.errors._WaitTimeout
# When the current block (a transaction, a ping, a web request) must be over, by
# time.monotonic(); None outside one.
_deadline: ContextVar[float | None] = ContextVar("amends_database_deadline", default=None)
# A long read's deadline (Store.connection's `until`), not to be waited past, to be given
# up on when reached; no deadline (the command line) is UNBOUNDED.
UNBOUNDED = math.inf
_long_read: ContextVar[bool] = ContextVar("amends_long_read", default=False)
# How many of SQLite's virtual machine steps run between two looks at a long read's deadline
# (well under a millisecond apart).
PROGRESS_STEPS = 10_000


@contextmanager
def bounded(seconds: float, anew: bool = False, latest: float | None = None) -> Iterator[float]:
    """Inside the block, the database's waits end `seconds` from now (or at an enclosing
    block's deadline, if that is sooner, unless `anew`; and at `latest`, if that is
    sooner). Yields the deadline."""
    deadline = time.monotonic() + seconds
    if latest is not None:
        deadline = min(deadline, latest)
    outer = _deadline.get()
    if outer is not None and not anew:
        deadline = min(deadline, outer)
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)


# Whether connections checked out now skip the server's check that they still work (see
# unchecked_checkout).
_unchecked_checkout: ContextVar[bool] = ContextVar("amends_unchecked_checkout", default=False)


@contextmanager
def unchecked_checkout() -> Iterator[None]:
    """PostgreSQL connections checked out in the block are not first asked whether they
    still work (a round trip): the caller's first statement must be one it can run again on
    another connection when it finds this one gone (service.store.deciding_unit)."""
    token = _unchecked_checkout.set(True)
    try:
        yield
    finally:
        _unchecked_checkout.reset(token)


def _seconds_left(default: float) -> float:
    """Time left before the current deadline; `default` outside a bounded block."""
    deadline = _deadline.get()
    return default if deadline is None else deadline - time.monotonic()


class StoreError(RuntimeError):
    pass


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite database URL, a URI filename's (`file:/x/amends.db?mode=ro`)
    included; None for another database or one in memory."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if database and database.startswith("file:"):
        database = unquote(urlsplit(database).path)
    if not database or database == ":memory:":
        return None
    return Path(database)


def _read_only_uri(url: str) -> bool:
    """Whether an SQLite URL opens its database read-only (a URI filename's `mode=ro` or
    `immutable=1`, in the URL's query or the filename's own)."""
    parsed = make_url(url)
    options = {key: str(value) for key, value in parsed.query.items()}
    if options.get("uri", "").lower() not in ("true", "1"):
        return False  # without uri=true SQLAlchemy hands SQLite none of them
    if parsed.database and parsed.database.startswith("file:"):
        options.update(parse_qsl(urlsplit(parsed.database).query))
    immutable = options.get("immutable", "0").lower() not in ("0", "false", "no", "off")
    return options.get("mode") == "ro" or immutable


def ensure_sqlite_folder(url: str) -> None:
    """SQLite creates its file but not the folder it lives in."""
    database = sqlite_file(url)
    if database is not None:
        try:
            database.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot make the folder of the database {database.parent} "
                             f"(AMENDS_DATA_DIR, or AMENDS_DATABASE_URL): "
                             f"{error.strerror or error}") from None


def json_text(document: object) -> str:
    """The text of a JSON column (`json_serializer`): compact, through orjson; what orjson
    refuses (an integer beyond 64 bits, a lone surrogate in a request body) as the stdlib
    writes it."""
    try:
        return orjson.dumps(document).decode()
    except orjson.JSONEncodeError:
        return json.dumps(document, separators=(",", ":"))


def make_engine(url: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Engine:
    """An engine whose every wait on the database ends within `timeout_seconds` (see the
    module's docstring)."""
    if is_sqlite(url):
        return _sqlite_engine(url, timeout_seconds)
    return _postgresql_engine(url, timeout_seconds)


def _sqlite_engine(url: str, timeout_seconds: float) -> Engine:
    busy_ms = max(1, round(timeout_seconds * 1000))
    engine = create_engine(url, pool_timeout=timeout_seconds, json_serializer=json_text,
                           connect_args={"timeout": timeout_seconds,
                                         "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(connection, record):
        # Autocommit at the driver level so that BEGIN IMMEDIATE below is ours to issue.
        connection.isolation_level = None
        cursor = connection.cursor()
        # Set once per database (it persists); setting it again would wait for a writer.
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()
        record.info["amends.busy_ms"] = busy_ms

    @event.listens_for(engine, "begin")
    def _begin(connection):
        sqlite_begin(connection.connection.info, connection.exec_driver_sql, busy_ms,
                     reading=connection.get_execution_options().get("amends_reading", False))

    return engine


def sqlite_begin(info: dict, execute, busy_ms: int, reading: bool = False) -> None:
    """Begin a SQLite transaction on a connection (its pool `info`, and how to run a
    statement on it) whose busy timeout is `busy_ms` at most. Take the write lock at the
    start: read-then-write transactions never deadlock and checks of running totals see
    every committed grant. `reading`: a reader's snapshot (WAL) instead, with no write lock,
    so that writers go on meanwhile."""
    sqlite_busy_timeout(info, execute, busy_ms)
    execute("BEGIN" if reading else "BEGIN IMMEDIATE")


def sqlite_busy_timeout(info: dict, execute, busy_ms: int) -> None:
    """SQLite's busy timeout gets what is left of the current deadline, `busy_ms` at most
    (set again only when that differs from the connection's: rarely)."""
    left_ms = _seconds_left(busy_ms / 1000) * 1000
    wanted = busy_ms if left_ms > busy_ms - 100 else max(1, round(left_ms))
    if info.get("amends.busy_ms") != wanted:
        execute(f"PRAGMA busy_timeout={wanted}")
        info["amends.busy_ms"] = wanted


def _postgresql_engine(url: str, timeout_seconds: float) -> Engine:
    milliseconds = max(1, round(timeout_seconds * 1000))
    # A session left in a transaction by a client that is gone (its host or link lost
    # between two statements) would hold its locks until TCP keepalive noticed, two hours
    # by default, blocking grants to that customer: the server ends it after twice the
    # timeout (at least a second). No transaction of Amends idles that long: replay, reports
    # and exports read in transactions of their own and do their work between them.
    idle_ms = max(1000, 2 * milliseconds)
    session_limits = (f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds} "
                      f"-c idle_in_transaction_session_timeout={idle_ms}")
    engine = create_engine(url, pool_size=5, max_overflow=5, pool_timeout=timeout_seconds,
                           json_serializer=json_text)

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_connection, record):
        record.info["amends.fresh"] = True

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy):
        # pool_pre_ping's check, but where the caller asks again on its own (a round trip
        # saved on the hot path, see unchecked_checkout): a connection the server dropped
        # (a restart, a failover) is replaced before anyone uses it. A connection made for
        # this checkout needs none (as with pool_pre_ping): if it is dropped at once, its
        # first statement finds out, and that is a DatabaseUnavailable.
        if record.info.pop("amends.fresh", False) or _unchecked_checkout.get():
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError(str(error)) from error  # the pool connects anew
            raise

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        left = min(timeout_seconds, _seconds_left(timeout_seconds))
        if left <= 0:
            raise psycopg.errors.ConnectionTimeout(
                f"no time left to connect within the database timeout ({timeout_seconds} s)")
        # libpq counts whole seconds, at least 2; options in the URL come last and win.
        cparams["connect_timeout"] = max(2, math.ceil(left))
        cparams["options"] = f"{session_limits} {cparams.get('options') or ''}".strip()
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.wait_limit = timeout_seconds + CLIENT_GRACE_SECONDS
        return connection

    return engine


class BoundedConnection(psycopg.Connection):
    """psycopg's Connection whose waits for the server end in time (see `wait`)."""

    wait_limit: float = DEFAULT_TIMEOUT_SECONDS + CLIENT_GRACE_SECONDS

    def wait(self, gen, interval: float = 0.1, timeout: float | None = None):
        """Every wait for the server (a query, a commit, a ping) ends half a second after
        the transaction's deadline (the server's statement_timeout and lock_timeout answer
        first when it is alive); outside a transaction, after the timeout and that half
        second. A server that does not answer in time loses the connection: what it was
        doing is unknown, so it is closed."""
        if timeout is None:
            deadline = _deadline.get()
            if _long_read.get() and deadline is not None:
                return self._wait_long(gen, interval, deadline)
            left = (self.wait_limit if deadline is None
                    else deadline + CLIENT_GRACE_SECONDS - time.monotonic())
            timeout = max(CLIENT_GRACE_SECONDS, left)
        return self._wait_or_close(gen, interval, timeout)

    def _wait_or_close(self, gen, interval: float, timeout: float):
        try:
            return super().wait(gen, interval, timeout)
        except _WAIT_TIMEOUT:
            self.pgconn.finish()  # now `closed`: SQLAlchemy drops it from the pool
            raise psycopg.OperationalError(
                f"the database did not answer within {timeout:.1f} s") from None

    def _wait_long(self, gen, interval: float, deadline: float):
        """A long read's wait: until its deadline (none: UNBOUNDED), where a statement still
        running is cancelled, so that the server answers query_canceled (OutOfTime); a
        server that does not answer that within the grace loses the connection."""
        if deadline == UNBOUNDED:
            return super().wait(gen, interval, None)
        try:
            return super().wait(gen, interval, max(0.0, deadline - time.monotonic()))
        except _WAIT_TIMEOUT:
            if self.pgconn.transaction_status == pq.TransactionStatus.ACTIVE:
                try:
                    self.cancel_safe(timeout=CLIENT_GRACE_SECONDS)
                except psycopg.Error as error:  # then the grace runs out, as for no answer
                    log.warning("could not cancel a read at its deadline: %s", error)
        return self._wait_or_close(gen, interval, CLIENT_GRACE_SECONDS)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Migrate the database to this Amends' schema (in one transaction, one upgrade at a
    time: see migrations/env.py). StoreError for a database a newer Amends upgraded."""
    ensure_sqlite_folder(url)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            newer = _newer_schema(connection, url)
    finally:
        engine.dispose()
    if newer:
        raise StoreError(newer)
    _migrate(url, command.upgrade, "head")


def schema_revisions(url: str) -> list[tuple[str, str]]:
    """Every schema revision this Amends knows, oldest first: (revision, what it does)."""
    scripts = ScriptDirectory.from_config(alembic_config(url))
    def what(doc: str | None) -> str:  # its first sentence or clause
        text = " ".join((doc or "").split("\n\n")[0].split())
        return re.split(r"(?<=[.:])\s|\s\(", text)[0].rstrip(".:")

    return [(script.revision, what(script.doc))
            for script in reversed(list(scripts.walk_revisions()))]


def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    """Take the database back to the schema of an earlier Amends (`revision`, one of
    `schema_revisions` before the current one), in one transaction as an upgrade is.
    StoreError for a revision this Amends does not know or that is not earlier."""
    known = [revision for revision, _ in schema_revisions(url)]
    current = current_revision(url)
    if revision not in known:
        raise StoreError(f"no schema revision {revision!r}: this Amends knows "
                         f"{', '.join(known)}")
    if current not in known:
        raise StoreError(_newer_schema_text(url, current) if current else
                         "the database has no schema yet: there is nothing to take back")
    if known.index(revision) >= known.index(current):
        raise StoreError(f"the database is at schema {current}; {revision} is not earlier")
    _migrate(url, command.downgrade, revision)


def _migrate(url: str, step, revision: str) -> None:
    """Run one upgrade or downgrade; on PostgreSQL, a try that waited too long for a table
    another transaction holds (see migrations/env.py) changed nothing, and is made again, a
    while."""
    given_up = time.monotonic() + UPGRADE_RETRY_SECONDS
    while True:
        try:
            step(alembic_config(url), revision)
            return
        except exc.OperationalError as error:
            if getattr(error.orig, "sqlstate", None) != PG_LOCK_NOT_AVAILABLE \
                    or time.monotonic() > given_up:
                raise
            log.warning("migration of %s waits for a table another transaction holds (a "
                        "long report, export or backup?); trying again",
                        make_url(url).render_as_string(hide_password=True))
            time.sleep(UPGRADE_RETRY_PAUSE)


def _newer_schema(connection: Connection, url: str) -> str | None:
    """What to say of a database at a schema this Amends does not know, or None."""
    scripts = ScriptDirectory.from_config(alembic_config(url))
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None or current in {script.revision for script in scripts.walk_revisions()}:
        return None
    return _newer_schema_text(url, current)


def _newer_schema_text(url: str, current: str) -> str:
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    shown = make_url(url).render_as_string(hide_password=True)
    return (f"the database at {shown} is at schema {current}, which this Amends does not "
            f"know (it knows up to {head}): a newer Amends upgraded it; run that one (its "
            f"`amends db downgrade {head}` takes the database back to this one's schema), "
            "or a copy of the database from before")


def schema_is_current(engine: Engine, url: str) -> bool:
    """Whether the database is at this Amends' schema; StoreError for a newer one."""
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    with engine.connect() as connection:
        newer = _newer_schema(connection, url)
        if newer:
            raise StoreError(newer)
        return MigrationContext.configure(connection).get_current_revision() == head


class Store:
    """The database behind a running Amends: sessions in transactions, each of which gives
    up waiting on the database after `timeout_seconds` (DatabaseUnavailable)."""

    def __init__(self, url: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS):
        self.url = url
        self.timeout_seconds = timeout_seconds
        ensure_sqlite_folder(url)
        self.engine = make_engine(self.url, timeout_seconds)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        database = sqlite_file(self.url)
        # Entered with the transaction's deadline.
        self._writer = (WriterLock(database, timeout_seconds).held
                        if database is not None else nullcontext)

    def check_schema(self) -> None:
        with translated(), self.bounded():
            current = schema_is_current(self.engine, self.url)
        if not current:
            raise StoreError(f"the database schema at {self.safe_url} is not current; "
                             "run `amends db upgrade`")

    def check_writable(self) -> None:
        """SQLite: the database file and its folder (its journal and lock files) writable by
        this process's user, or StoreError: a service on a database it cannot write would
        answer every read and fail every decision. PostgreSQL says so per statement."""
        database = sqlite_file(self.url) if is_sqlite(self.url) else None
        if database is None:
            return
        if _read_only_uri(self.url):
            raise StoreError(f"the database {database} is opened read-only (`mode=ro` or "
                             "`immutable` in AMENDS_DATABASE_URL): Amends stores every "
                             "decision; name it without them")
        for path in (database, database.parent):
            if path.exists() and not os.access(path, os.W_OK):
                raise StoreError(f"the database {database} cannot be written by this user "
                                 f"({path} is not writable): give the user Amends runs as "
                                 "the folder and its files")

    def ping(self) -> None:
        """Raise DatabaseUnavailable unless the database answers now. On SQLite a read with
        no transaction: readiness must not take the write lock (every transaction there
        begins by taking it), nor wait for a writer."""
        with translated(), self.bounded():
            if not is_sqlite(self.url):
                with self.engine.connect() as connection:
                    connection.exec_driver_sql("SELECT 1")
                return
            raw = self.engine.raw_connection()  # autocommit at the driver: no BEGIN
            try:
                raw.cursor().execute("SELECT count(*) FROM sqlite_master").close()
            finally:
                raw.close()

    @property
    def settle_seconds(self) -> float:
        """How long after its `decided_at` a decision may still be being written: none on
        SQLite (a reader waits for the one writer); on PostgreSQL the decision is decided
        between the read that gives its moment and its write, which waits at most the
        database timeout (and a margin for the deciding itself)."""
        return 0.0 if is_sqlite(self.url) else self.timeout_seconds + SETTLE_MARGIN_SECONDS

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def connection(self, snapshot: bool = False, reading: bool = False,
                   until: float | None = None) -> Iterator[Connection]:
        """A Core connection in a transaction (database errors translated): what a
        `UnitOfWork` runs in. `snapshot`: on PostgreSQL every statement of the transaction
        reads the same snapshot (REPEATABLE READ, read only), so that a reader of several
        tables never sees half of a write committed between its statements; SQLite's
        transactions hold the write lock, so they see one state anyway. `reading` (with
        `snapshot`): a long read that writes nothing (a report), which on SQLite takes no
        write lock either, reading the snapshot of its first statement (WAL), so that
        writers are not held up meanwhile; what commits while it reads is not in it.
        `until` (time.monotonic(), or UNBOUNDED; with `snapshot` and `reading`): the long
        read's own deadline. The transaction begins within the timeout, as any; its
        statements then run until `until` rather than the timeout, and one still running
        then is stopped: OutOfTime (as is a read begun after it)."""
        assert until is None or (snapshot and reading), "only a long read has a deadline"
        writer = (nullcontext if reading and snapshot else self._writer)
        with translated(), self.bounded() as deadline, writer(deadline), \
                self.engine.connect() as connection:
            if snapshot and not is_sqlite(self.url):
                connection = connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True)
            elif snapshot and reading:
                connection = connection.execution_options(amends_reading=True)
            with connection.begin():
                if until is None:
                    yield connection
                else:
                    with self._reading_until(connection, until):
                        yield connection

    @contextmanager
    def _reading_until(self, connection: Connection, until: float) -> Iterator[None]:
        """Inside a long read's transaction: its waits and statements end at `until`, not
        the timeout (the begin before and the commit or rollback after keep the timeout's
        bound). A statement stopped at `until` is OutOfTime."""
        if time.monotonic() >= until:
            raise OutOfTime("the read's deadline passed before it began")
        raw = connection.connection.dbapi_connection
        watching = is_sqlite(self.url) and until != UNBOUNDED
        flag = _long_read.set(True)
        try:
            with bounded(UNBOUNDED, anew=True, latest=until):
                if watching:  # removed below: pooled connections must not keep it
                    raw.set_progress_handler(lambda: time.monotonic() >= until, PROGRESS_STEPS)
                elif not is_sqlite(self.url):
                    left_ms = (0 if until == UNBOUNDED  # 0: no statement_timeout
                               else max(1, math.ceil((until - time.monotonic()) * 1000)))
                    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {left_ms}")
                try:
                    yield
                finally:
                    if watching:
                        raw.set_progress_handler(None, 0)
        except exc.DBAPIError as error:
            if time.monotonic() >= until and is_stopped_statement(error):
                raise OutOfTime(f"the read was stopped at its deadline "
                                f"({type(error.orig).__name__})") from error
            raise
        finally:
            _long_read.reset(flag)

    def writer_queue(self, deadline: float) -> AbstractContextManager:
        """SQLite: the queue of this database's writers (service.store.writer_lock), waited
        on until `deadline`; nothing on PostgreSQL."""
        return self._writer(deadline)

    def begin_writing(self, work: DbapiTransaction) -> None:
        """Begin a transaction that writes on a driver connection: on SQLite BEGIN IMMEDIATE
        (under what is left of the deadline); on PostgreSQL the first statement begins it."""
        if is_sqlite(self.url):
            sqlite_begin(work.info, work.execute_text, self._busy_ms)

    def bound_reads(self, work: DbapiTransaction) -> None:
        """Reads on a driver connection outside a transaction wait for SQLite's locks no
        longer than what is left of the deadline (PostgreSQL: its session timeouts)."""
        if is_sqlite(self.url):
            sqlite_busy_timeout(work.info, work.execute_text, self._busy_ms)

    @property
    def _busy_ms(self) -> int:
        return max(1, round(self.timeout_seconds * 1000))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """An ORM session in a transaction, for tools and tests that inspect the tables."""
        with translated(), self.bounded() as deadline, self._writer(deadline), \
                self._sessions() as session, session.begin():
            yield session

    def bounded(self, anew: bool = False,
                latest: float | None = None) -> AbstractContextManager[float]:
        """A block whose waits on this database end, all together, within the timeout (or
        at an enclosing block's deadline): each transaction is one, and a web request is one
        (service.web.deadline), so that the request gets its 503 within the bound however
        many times it asks the database. `anew`: the bound starts now whatever encloses it
        (a what-if replay's reads, after a long load that waited on nothing), ending at
        `latest` (time.monotonic()) if that is sooner. Yields the deadline."""
        return bounded(self.timeout_seconds, anew, latest)
