"""Connecting to the store and keeping its schema current (Alembic)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from service.store.errors import translated
from service.store.writer_lock import WriterLock

MIGRATIONS = Path(str(files("service.store") / "migrations"))


class StoreError(RuntimeError):
    pass


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def ensure_sqlite_folder(url: str) -> None:
    """SQLite creates its file but not the folder it lives in."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str) -> Engine:
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record):
            # Autocommit at the driver level so that BEGIN IMMEDIATE below is ours to issue.
            connection.isolation_level = None
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection):
            # Take the write lock at the start: read-then-write transactions never deadlock
            # and checks of running totals see every committed grant.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), "head")


def schema_is_current(engine: Engine, url: str) -> bool:
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


class Store:
    """The database behind a running Amends: sessions in transactions."""

    def __init__(self, url: str):
        self.url = url
        ensure_sqlite_folder(url)
        self.engine = make_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        database = self.engine.url.database if is_sqlite(self.url) else None
        self._writer = (WriterLock(Path(database)).held
                        if database and database != ":memory:" else nullcontext)

    def check_schema(self) -> None:
        if not schema_is_current(self.engine, self.url):
            raise StoreError(f"the database schema at {self.safe_url} is not current; "
                             "run `amends db upgrade`")

    def ping(self) -> None:
        """Raise DatabaseUnavailable unless the database answers now."""
        with translated(), self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection in a transaction (database errors translated): what a
        `UnitOfWork` runs in."""
        with translated(), self._writer(), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """An ORM session in a transaction, for tools and tests that inspect the tables."""
        with translated(), self._writer(), self._sessions() as session, session.begin():
            yield session
