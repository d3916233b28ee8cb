"""Every wait on the database is bounded by the store's timeout (Settings'
`database_timeout_seconds`): SQLite's busy timeout and the writer queue, PostgreSQL's
statement_timeout, lock_timeout and connect timeout, and a PostgreSQL that stops answering
altogether. Past the bound, a transaction raises DatabaseUnavailable (a 503), never waits on."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import psycopg
import pytest
from sqlalchemy import event, text

from service.store.database import CLIENT_GRACE_SECONDS, Store, upgrade
from service.store.errors import DatabaseUnavailable
from service.store.unit_of_work import UnitOfWork
from service.store.writer_lock import WriterLock
from tests.conftest import postgres_schema_url, store_timing_out
from tests.support.sqlite_locks import can_lock, database_locked, writer_queue_held
from tests.support.tcp_proxy import TcpProxy

# Each test waits out a database bound (seconds): outside the fast loop.
pytestmark = [pytest.mark.slow, pytest.mark.alone]

TIMEOUT = 0.5
MARGIN = 0.5  # scheduling, SQLite's busy naps (up to 100 ms), a slow machine
NEVER = 20  # what "waits forever" is cut to, so that the code as it was fails, not hangs


@pytest.fixture(params=["sqlite", "postgresql"])
def bounded_store(request, tmp_path_factory):
    """A store of its own on each database whose waits are bounded by TIMEOUT."""
    store = store_timing_out(request.param, tmp_path_factory, request, TIMEOUT)
    yield store
    store.engine.dispose()


def sqlite_only(store: Store) -> None:
    if not store.url.startswith("sqlite"):
        pytest.skip("SQLite's locks")


def postgresql_only(store: Store) -> None:
    if store.url.startswith("sqlite"):
        pytest.skip("PostgreSQL's timeouts")


def timed(action) -> tuple[float, BaseException | None]:
    """(seconds, what it raised) of `action()`, run in a thread and given up on after NEVER
    seconds (an unbounded wait then counts as NEVER)."""
    pool = ThreadPoolExecutor(1)
    start = time.monotonic()
    future = pool.submit(action)
    try:
        future.result(timeout=NEVER)
        raised = None
    except TimeoutError:
        raised = TimeoutError(f"still waiting after {NEVER} s")
    except Exception as error:
        raised = error
    pool.shutdown(wait=False)  # a thread still waiting is left to its fate
    return time.monotonic() - start, raised


def write_something(store: Store) -> None:
    with store.connection() as connection:
        connection.execute(text("SELECT count(*) FROM decisions")).scalar()


# ---- SQLite ---------------------------------------------------------------------------------
def test_sqlite_busy_timeout_is_the_setting(bounded_store):
    sqlite_only(bounded_store)
    with bounded_store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 500
    assert bounded_store._writer.__self__.timeout_seconds == TIMEOUT


def test_sqlite_locked_by_another_connection_is_unavailable_within_the_bound(bounded_store):
    sqlite_only(bounded_store)
    write_something(bounded_store)  # a pooled connection, as a running service has
    with database_locked(bounded_store.engine.url.database):
        seconds, raised = timed(lambda: write_something(bounded_store))
    assert isinstance(raised, DatabaseUnavailable), raised
    assert "locked" in str(raised)
    assert TIMEOUT * 0.8 <= seconds < TIMEOUT + MARGIN
    write_something(bounded_store)  # and it answers again


def test_the_writer_queue_held_by_another_process_is_unavailable_within_the_bound(
        bounded_store):
    sqlite_only(bounded_store)
    with writer_queue_held(bounded_store.engine.url.database) as path:
        seconds, raised = timed(lambda: write_something(bounded_store))
        assert isinstance(raised, DatabaseUnavailable), raised
        assert "writer queue" in str(raised) and "0.5 s" in str(raised)
        assert TIMEOUT * 0.8 <= seconds < TIMEOUT + MARGIN
    time.sleep(0.1)  # the waiting thread, if it took the lock late, lets it go at once
    assert can_lock(path), "a lock taken after its waiter gave up was kept"
    write_something(bounded_store)  # and it answers again


def test_the_writer_queue_and_the_busy_timeout_share_one_deadline(bounded_store):
    """Most of the time spent in the writer queue, the rest in SQLite's busy handler: the
    transaction still gives up within one timeout, not two."""
    sqlite_only(bounded_store)
    write_something(bounded_store)
    with (database_locked(bounded_store.engine.url.database),
          writer_queue_held(bounded_store.engine.url.database, for_seconds=TIMEOUT * 0.7)):
        seconds, raised = timed(lambda: write_something(bounded_store))
    assert isinstance(raised, DatabaseUnavailable) and "locked" in str(raised), raised
    assert seconds < TIMEOUT + MARGIN
    write_something(bounded_store)


def test_a_writer_released_in_time_goes_ahead(bounded_store):
    """The waiting thread hands the lock over: a wait shorter than the bound succeeds, and
    the lock is let go when the transaction ends."""
    sqlite_only(bounded_store)
    write_something(bounded_store)  # the pool's first connection is not what is timed
    with writer_queue_held(bounded_store.engine.url.database, for_seconds=TIMEOUT / 3) as path:
        seconds, raised = timed(lambda: write_something(bounded_store))
        assert raised is None
        assert TIMEOUT / 3 * 0.8 <= seconds < TIMEOUT
    assert can_lock(path)


def test_writers_of_one_process_queue_within_the_bound_too(tmp_path):
    lock = WriterLock(tmp_path / "amends.db", timeout_seconds=TIMEOUT)
    inside = threading.Event()
    leave = threading.Event()

    def hold():
        with lock.held():
            inside.set()
            leave.wait(NEVER)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(5)
    try:
        def enter():
            with lock.held():
                pass
        seconds, raised = timed(enter)
    finally:
        leave.set()
        holder.join()
    assert isinstance(raised, DatabaseUnavailable), raised
    assert seconds < TIMEOUT + MARGIN


# ---- PostgreSQL -----------------------------------------------------------------------------
def test_postgresql_sessions_have_statement_and_lock_timeouts(bounded_store):
    postgresql_only(bounded_store)
    with bounded_store.connection() as connection:
        shown = {name: connection.exec_driver_sql(f"SHOW {name}").scalar()
                 for name in ("statement_timeout", "lock_timeout", "search_path")}
    assert shown["statement_timeout"] == "500ms" and shown["lock_timeout"] == "500ms"
    assert shown["search_path"].startswith("amends_test_")  # the URL's own options still hold


def test_postgresql_ends_a_session_its_client_left_in_a_transaction(bounded_store):
    """A client gone between two statements (its host or link lost) leaves its session in a
    transaction, holding its locks: the server ends it after twice the timeout (at least a
    second), and the lock is free again."""
    postgresql_only(bounded_store)
    with bounded_store.connection() as connection:
        assert connection.exec_driver_sql(
            "SHOW idle_in_transaction_session_timeout").scalar() == "1s"
    gone = bounded_store.engine.raw_connection()
    try:
        cursor = gone.cursor()
        cursor.execute("SELECT pg_advisory_xact_lock(4242)")  # and then nothing more
        time.sleep(1.5)

        def take_the_lock():
            with UnitOfWork(bounded_store) as uow:
                uow._connection.exec_driver_sql("SELECT pg_advisory_xact_lock(4242)")

        seconds, raised = timed(take_the_lock)
        assert raised is None and seconds < TIMEOUT
    finally:
        gone.invalidate()


def test_postgresql_connect_timeout_and_pool_timeout_are_bounded(bounded_store):
    postgresql_only(bounded_store)
    assert bounded_store.engine.pool.timeout() == TIMEOUT
    with bounded_store.engine.connect() as connection:
        info = connection.connection.dbapi_connection.info
        assert int(info.get_parameters()["connect_timeout"]) == 2  # libpq's least


def test_postgresql_table_locked_by_another_connection_is_unavailable_within_the_bound(
        bounded_store):
    postgresql_only(bounded_store)
    write_something(bounded_store)
    with closing(psycopg.connect(**_libpq(bounded_store))) as holder:
        holder.execute("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE")
        seconds, raised = timed(lambda: write_something(bounded_store))
        holder.rollback()
    assert isinstance(raised, DatabaseUnavailable), raised
    assert "timeout" in str(raised)
    assert not raised.maybe_saved  # the server answered: it rolled the transaction back
    assert TIMEOUT * 0.8 <= seconds < TIMEOUT + MARGIN
    write_something(bounded_store)


def test_postgresql_advisory_lock_held_in_pg_sleep_is_unavailable_within_the_bound(
        bounded_store):
    postgresql_only(bounded_store)
    patient = Store(bounded_store.url, timeout_seconds=NEVER)
    holding = threading.Event()
    pid: list[int] = []

    def hold():
        try:
            with UnitOfWork(patient) as uow:
                uow.lock("offer:held-in-a-sleep")
                connection = uow._connection
                pid.append(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar())
                holding.set()
                connection.exec_driver_sql("SELECT pg_sleep(15)")
        except DatabaseUnavailable:
            pass  # cancelled below

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)

        def wait_for_the_lock():
            with UnitOfWork(bounded_store) as uow:
                uow.lock("offer:held-in-a-sleep")

        seconds, raised = timed(wait_for_the_lock)
    finally:
        with closing(psycopg.connect(**_libpq(bounded_store), autocommit=True)) as admin:
            admin.execute("SELECT pg_cancel_backend(%s)", pid)
        holder.join()
        patient.engine.dispose()
    assert isinstance(raised, DatabaseUnavailable), raised
    assert TIMEOUT * 0.8 <= seconds < TIMEOUT + MARGIN


@pytest.fixture
def proxied_store(postgres_schema):
    """A store on PostgreSQL through a proxy the test can pause: a server that stops
    answering while its connections stay open."""
    proxy = TcpProxy(5432)
    port = proxy.start()
    url = postgres_schema_url(postgres_schema).replace("127.0.0.1:5432", f"127.0.0.1:{port}")
    upgrade(url)
    store = Store(url, timeout_seconds=TIMEOUT)
    yield store, proxy
    proxy.resume()
    proxy.stop()
    store.engine.dispose()


@pytest.mark.slow  # libpq's least connect timeout is 2 s
@pytest.mark.parametrize("pooled", [True, False], ids=["pooled-connection", "new-connection"])
def test_postgresql_that_stops_answering_is_unavailable_within_the_bound(proxied_store,
                                                                         pooled):
    store, proxy = proxied_store
    if pooled:
        write_something(store)  # a connection in the pool: its ping is what hangs
    else:
        store.engine.dispose()  # none: connecting is what hangs
    proxy.pause()
    try:
        seconds, raised = timed(lambda: write_something(store))
        assert isinstance(raised, DatabaseUnavailable), raised
        assert not raised.maybe_saved  # no connection to be had: nothing was sent
        bound = TIMEOUT + CLIENT_GRACE_SECONDS if pooled else 2  # libpq's least connect_timeout
        assert seconds < bound + MARGIN
        ping_seconds, ping_raised = timed(store.ping)
        assert isinstance(ping_raised, DatabaseUnavailable), ping_raised
        assert ping_seconds < 2 + MARGIN
    finally:
        proxy.resume()
    write_something(store)  # it answers again, on a fresh connection


@pytest.mark.slow
def test_a_statement_the_server_stops_answering_may_have_been_done(proxied_store):
    """A connection that goes silent in the middle of a transaction (its COMMIT, say):
    whether the change was made is not known, and the 503 says so (maybe_saved)."""
    store, proxy = proxied_store

    def silent_midway():
        with store.connection() as connection:
            connection.execute(text("SELECT count(*) FROM decisions")).scalar()
            proxy.pause()
            connection.execute(text("SELECT count(*) FROM offers")).scalar()

    try:
        seconds, raised = timed(silent_midway)
    finally:
        proxy.resume()
    assert isinstance(raised, DatabaseUnavailable), raised
    assert raised.maybe_saved and seconds < TIMEOUT + CLIENT_GRACE_SECONDS + MARGIN


def _libpq(store: Store) -> dict:
    url = store.engine.url
    options = url.query.get("options")
    return {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database,
            **({"options": options} if options else {})}


@pytest.mark.slow
def test_a_decision_on_a_postgresql_that_stops_answering_gives_up_at_the_deadline(
        proxied_store, shipped):
    """Deciding's first read runs on a pooled connection not pinged first; when it is the
    wait that ran out (the client then closes that connection), it does not ask again on
    another connection past the deadline."""
    from service.app.decisions import record_decision
    from service.app.intake import parse_incident
    from service.domain.principal import Principal
    from tests.conftest import design_example

    store, proxy = proxied_store
    with UnitOfWork(store), UnitOfWork(store):
        pass  # two connections in the pool
    checkouts = []
    event.listen(store.engine, "checkout", lambda *_args: checkouts.append(1), insert=True)
    body = design_example()
    incident = parse_incident(body, shipped.policy)
    proxy.pause()
    try:
        seconds, raised = timed(lambda: record_decision(
            store, shipped, Principal("agent-timeout", "agent"), body, incident))
    finally:
        proxy.resume()
    assert isinstance(raised, DatabaseUnavailable), raised
    assert len(checkouts) == 1
    assert seconds < TIMEOUT + CLIENT_GRACE_SECONDS + MARGIN
