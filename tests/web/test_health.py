"""Liveness and readiness, and a database outage as a 503 problem the service recovers from."""

import pytest

from service.store.database import Store, upgrade
from service.web.app_factory import create_app
from tests.conftest import POSTGRES, auth, design_example, test_settings
from tests.support.tcp_proxy import TcpProxy


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"


def test_readyz_when_policy_and_database_are_there(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["status"] == "ready" and response.json["database"] == "ok"


@pytest.mark.alone  # the proxy listens again on the port it let go: nobody else may take it
def test_database_outage_is_503_and_the_service_recovers(shipped, postgres_schema):
    proxy = TcpProxy(5432)
    port = proxy.start()
    url = (POSTGRES.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
           + f"?options=-csearch_path%3D{postgres_schema}")
    upgrade(url)
    store = Store(url)
    client = create_app(test_settings(), active_policy=shipped, store=store).test_client()
    try:
        assert client.post("/v1/decisions", json=design_example(),
                           headers=auth()).status_code == 201
        proxy.stop()
        down = client.post("/v1/decisions", json=design_example(), headers=auth())
        assert down.status_code == 503 and down.mimetype == "application/problem+json"
        assert down.headers["Retry-After"]
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200  # alive, though not ready

        proxy.start()  # the database is back
        assert client.get("/readyz").status_code == 200
        assert client.post("/v1/decisions", json=design_example(),
                           headers=auth()).status_code == 201
    finally:
        proxy.stop()
        store.engine.dispose()


def test_readyz_on_sqlite_takes_no_write_lock_nor_waits_for_one(shipped, tmp_path):
    """Another writer holds SQLite's write lock: the database answers reads all the same,
    so the worker is ready (it was a 503 once the busy timeout ran out)."""
    from tests.support.sqlite_locks import database_locked

    url = f"sqlite:///{tmp_path / 'amends.db'}"
    upgrade(url)
    client = create_app(test_settings(), active_policy=shipped,
                        store=Store(url, timeout_seconds=2)).test_client()
    with database_locked(str(tmp_path / "amends.db")):
        assert client.get("/readyz").status_code == 200
