"""Through real gunicorn: a database that stops answering gets 503 problems with Retry-After
within AMENDS_DATABASE_TIMEOUT_SECONDS, never a worker timeout, a 500 page or a dropped
connection; /healthz answers throughout; the service answers again once the database does.

On SQLite: the database locked by another process (BEGIN EXCLUSIVE), or the writer queue's
lock file held by another process. On PostgreSQL: a table lock held in another connection's
open transaction; the advisory lock of an offer held by a connection sleeping in pg_sleep;
and a server that does not answer at all (its connections open, nothing coming back)."""

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from service.store.database import Store, upgrade
from service.store.errors import DatabaseUnavailable
from service.store.unit_of_work import UnitOfWork
from tests.conftest import (
    auth,
    design_example,
    make_store,
    postgres_available,
    postgres_schema_url,
)
from tests.support.servers import running_server
from tests.support.sqlite_locks import database_locked, writer_queue_held
from tests.support.tcp_proxy import TcpProxy

# Each test holds answers to a bound: it runs while no other test loads the machine.
pytestmark = pytest.mark.alone
ADMIN = "host=127.0.0.1 user=postgres dbname=test"
WORKER_TIMEOUT = 10
DATABASE_TIMEOUT = 1
ENVIRONMENT = {"AMENDS_TIMEOUT": str(WORKER_TIMEOUT),
               "AMENDS_DATABASE_TIMEOUT_SECONDS": str(DATABASE_TIMEOUT)}
# The bound, plus what a PostgreSQL that does not answer at all adds (half a second), plus a
# margin for a loaded machine.
WITHIN = DATABASE_TIMEOUT + 0.5 + 1.5


def request(base: str, path: str, body=None, headers=None, method=None):
    """(seconds, status, headers, JSON body); a dropped connection or no answer before the
    worker timeout (and then some) fails the test."""
    data = None if body is None else json.dumps(body).encode()
    outgoing = urllib.request.Request(
        base + path, data=data, method=method or ("POST" if data is not None else "GET"),
        headers={"Content-Type": "application/json", **(headers or {})})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(outgoing, timeout=WORKER_TIMEOUT + 10) as response:
            status, answer_headers, text = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, text = error.code, error.headers, error.read()
    except OSError as error:
        pytest.fail(f"{path}: no answer after {time.monotonic() - start:.1f} s ({error!r})")
    seconds = time.monotonic() - start
    try:
        answer = json.loads(text)
    except ValueError:
        pytest.fail(f"{path}: {status} after {seconds:.1f} s, not JSON: {text[:200]!r}")
    return seconds, status, answer_headers, answer


def a_grantable_offer(base: str) -> str:
    """A fresh decision's approval-free discount: its offer id."""
    body = design_example(customer_ask=None, order={
        "id": f"O-{uuid.uuid4().hex[:10]}", "value": "400.00", "currency": "EUR"})
    _, status, _, decision = request(base, "/v1/decisions", body, auth())
    assert status == 201, decision
    discount = next(o for o in decision["offers"] if o["remedy"] == "discount")
    assert discount["approval"] == "not_required"
    return discount["id"]


def assert_unavailable_within_the_bound(base: str, offer_id: str) -> list[float]:
    """A decision and a grant are 503 problems with Retry-After within the bound, also when
    more arrive at once than there are workers; /healthz answers at once meanwhile. The
    seconds each took."""
    calls = [("/v1/decisions", design_example()), (f"/v1/offers/{offer_id}/grant", {})]
    times = []
    for path, body in calls:
        seconds, status, headers, problem = request(base, path, body, auth())
        assert status == 503, (path, status, problem)
        assert headers["Content-Type"] == "application/problem+json"
        assert headers["Retry-After"] and problem["status"] == 503
        assert seconds < WITHIN, (path, seconds)
        times.append(seconds)
        assert_alive(base)

    # A request waiting on the database does not hold /healthz up (the other worker answers).
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(request, base, "/v1/decisions", design_example(), auth())
        time.sleep(0.3)
        assert_alive(base)
        assert waiting.result()[1] == 503

    # More requests than workers: each waits its turn, none outlives the worker timeout.
    with ThreadPoolExecutor(6) as pool:
        burst = list(pool.map(lambda _: request(base, "/v1/decisions", design_example(),
                                                auth()), range(6)))
    assert {status for _, status, _, _ in burst} == {503}
    return times


def assert_alive(base: str) -> None:
    seconds, status, _, body = request(base, "/healthz")
    assert status == 200 and body["status"] == "ok"
    assert seconds < 1, f"/healthz took {seconds:.1f} s: it must never wait on the database"


def assert_answering_again(base: str, offer_id: str) -> None:
    _, status, _, body = request(base, "/v1/decisions", design_example(), auth())
    assert status == 201, body
    _, status, _, body = request(base, f"/v1/offers/{offer_id}/grant", {}, auth())
    assert status == 201, body


def assert_no_worker_timed_out(process) -> None:
    log = Path(process.log_path).read_text()
    assert "WORKER TIMEOUT" not in log and '"status": 500' not in log, log[-3000:]
    assert process.poll() is None


def report(what: str, times: list[float]) -> None:
    print(f"\n{what}: decision 503 after {times[0]:.2f} s, grant 503 after {times[1]:.2f} s "
          f"(AMENDS_DATABASE_TIMEOUT_SECONDS={DATABASE_TIMEOUT})")


# ---- SQLite ---------------------------------------------------------------------------------
@pytest.fixture
def sqlite_url(tmp_path_factory, request) -> str:
    store = make_store("sqlite", tmp_path_factory, request)
    store.engine.dispose()
    return store.url


@pytest.mark.parametrize("hold", [database_locked, writer_queue_held],
                         ids=["database-locked", "writer-queue-held"])
def test_sqlite_locked_by_another_process_gets_503_within_the_bound(sqlite_url, hold):
    database = make_url(sqlite_url).database
    with running_server({"AMENDS_DATABASE_URL": sqlite_url, **ENVIRONMENT}) as (base, process):
        offer_id = a_grantable_offer(base)
        with hold(database):
            times = assert_unavailable_within_the_bound(base, offer_id)
        assert_answering_again(base, offer_id)
        assert_no_worker_timed_out(process)
    report(f"SQLite, {hold.__name__}", times)


# ---- PostgreSQL -----------------------------------------------------------------------------
@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A schema of its own (running totals of the shared one are spent by other tests)."""
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable here (CI=true makes this a failure)")
    schema = f"amends_timeouts_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    url = postgres_schema_url(schema)
    upgrade(url)
    yield url
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def libpq(url: str) -> dict:
    parsed = make_url(url)
    return {"host": parsed.host, "port": parsed.port, "user": parsed.username,
            "dbname": parsed.database, "options": parsed.query["options"]}


def test_postgresql_table_lock_held_in_another_connection_gets_503_within_the_bound(
        postgresql_url):
    with running_server({"AMENDS_DATABASE_URL": postgresql_url, **ENVIRONMENT}) as (base,
                                                                                  process):
        offer_id = a_grantable_offer(base)
        with closing(psycopg.connect(**libpq(postgresql_url))) as holder:
            holder.execute("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE")
            times = assert_unavailable_within_the_bound(base, offer_id)
            holder.rollback()
        assert_answering_again(base, offer_id)
        assert_no_worker_timed_out(process)
    report("PostgreSQL, LOCK TABLE decisions", times)


@contextmanager
def sleeping_with_the_locks(url: str, offer_id: str) -> Iterator[None]:
    """Another connection takes the grant's advisory lock on the offer (as a grant does,
    through a unit of work) and a lock that keeps decisions from being inserted, then sleeps
    in pg_sleep; cancelled on leaving."""
    patient = Store(url, timeout_seconds=60)
    holding, pid = threading.Event(), []

    def hold():
        try:
            with UnitOfWork(patient) as uow:
                uow.lock(f"offer:{offer_id}")
                connection = uow._connection  # the sleep runs in the unit of work's transaction
                connection.exec_driver_sql("LOCK TABLE decisions IN SHARE MODE")
                pid.append(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar())
                holding.set()
                connection.exec_driver_sql("SELECT pg_sleep(60)")
        except DatabaseUnavailable:
            pass  # cancelled

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        with closing(psycopg.connect(**libpq(url), autocommit=True)) as admin:
            admin.execute("SELECT pg_cancel_backend(%s)", pid)
        thread.join()
        patient.engine.dispose()


def test_postgresql_locks_held_by_a_pg_sleep_get_503_within_the_bound(postgresql_url):
    with running_server({"AMENDS_DATABASE_URL": postgresql_url, **ENVIRONMENT}) as (base,
                                                                                  process):
        offer_id = a_grantable_offer(base)
        with sleeping_with_the_locks(postgresql_url, offer_id):
            times = assert_unavailable_within_the_bound(base, offer_id)
        assert_answering_again(base, offer_id)
        assert_no_worker_timed_out(process)
    report("PostgreSQL, locks held by a pg_sleep", times)


def test_postgresql_that_stops_answering_gets_503_within_the_bound(postgresql_url):
    proxy = TcpProxy(5432)
    port = proxy.start()
    url = postgresql_url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
    try:
        with running_server({"AMENDS_DATABASE_URL": url, **ENVIRONMENT}) as (base, process):
            offer_id = a_grantable_offer(base)
            proxy.pause()
            try:
                times = assert_unavailable_within_the_bound(base, offer_id)
            finally:
                proxy.resume()
            assert_answering_again(base, offer_id)
            assert_no_worker_timed_out(process)
    finally:
        proxy.stop()
    report("PostgreSQL not answering", times)
