"""A request's waits on the database share one bound (service.web.deadline): however many
times it asks a database that does not answer (a policy poll, then its transaction, then a
retry), it gets its 503 within the store's timeout, not within a multiple of it."""

import sqlite3
import time
from contextlib import closing

import psycopg
import pytest
from sqlalchemy import make_url, text

from service.store.database import Store
from service.store.errors import DatabaseUnavailable
from service.web.app_factory import create_app
from tests.conftest import auth, design_example, make_store, test_settings

# Each test waits out a database bound (seconds): outside the fast loop.
pytestmark = [pytest.mark.slow, pytest.mark.alone]

TIMEOUT = 1.0
MARGIN = 0.6


@pytest.fixture(params=["sqlite", "postgresql"])
def bounded_app(request, shipped, tmp_path_factory):
    made = make_store(request.param, tmp_path_factory, request)
    made.engine.dispose()
    store = Store(made.url, timeout_seconds=TIMEOUT)
    app = create_app(test_settings(), active_policy=shipped, store=store)

    def ask_three_times():
        """As a request that asks the database more than once would."""
        for _ in range(3):
            try:
                with store.connection() as connection:
                    connection.execute(text("SELECT count(*) FROM decisions"))
            except DatabaseUnavailable:
                continue
        raise DatabaseUnavailable("three times")

    app.add_url_rule("/probe/three-times", "probe", ask_three_times, methods=["POST"])
    yield app.test_client(), store
    store.engine.dispose()


def locked(store: Store):
    """Another connection holding what every transaction of `store` needs."""
    url = make_url(store.url)
    if url.drivername.startswith("sqlite"):
        holder = sqlite3.connect(url.database, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        return closing(holder)
    holder = psycopg.connect(host=url.host, port=url.port, user=url.username,
                             dbname=url.database, options=url.query["options"])
    holder.execute("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE")
    return closing(holder)


def test_a_request_asking_three_times_gets_its_503_within_one_bound(bounded_app):
    client, store = bounded_app
    assert client.post("/v1/decisions", json=design_example(), headers=auth()).status_code \
        == 201
    with locked(store):
        start = time.monotonic()
        response = client.post("/probe/three-times")
        seconds = time.monotonic() - start
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert seconds < TIMEOUT + MARGIN, f"{seconds:.2f} s: each ask waited a bound of its own"


def test_each_request_gets_a_bound_of_its_own(bounded_app):
    """The bound starts with the request: one that waited does not shorten the next."""
    client, store = bounded_app
    with locked(store):
        client.post("/probe/three-times")
    start = time.monotonic()
    response = client.post("/v1/decisions", json=design_example(), headers=auth())
    assert response.status_code == 201, response.json
    assert time.monotonic() - start < TIMEOUT
