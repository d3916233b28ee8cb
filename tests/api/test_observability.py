"""Readiness, database outages as 503 problems with recovery, and JSON access logs."""

import json
import logging

import pytest

from service.store.database import Store, upgrade
from service.web.app_factory import create_app
from tests.conftest import POSTGRES, auth, design_example, test_settings
from tests.tcp_proxy import TcpProxy


def test_readyz_when_policy_and_database_are_there(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["status"] == "ready" and response.json["database"] == "ok"


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


class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def access_lines():
    from service.web.access_log import JsonLines

    capture = Capture()
    capture.setFormatter(JsonLines())
    logger = logging.getLogger("amends.access")
    logger.addHandler(capture)
    yield capture.lines
    logger.removeHandler(capture)


def test_one_json_line_per_request_without_secrets(client, access_lines):
    response = client.post("/v1/decisions", json=design_example(), headers=auth())
    client.get("/v1/policy", headers={"Authorization": "Bearer wrong-key-value"})
    decision_line, refused_line = (json.loads(line) for line in access_lines[-2:])
    assert decision_line["path"] == "/v1/decisions" and decision_line["status"] == 201
    assert decision_line["principal"] == "dev-agent" and decision_line["role"] == "agent"
    assert decision_line["decision_id"] == response.json["decision_id"]
    assert decision_line["policy_version"] == response.json["policy"]["version"]
    assert decision_line["duration_ms"] > 0
    assert refused_line["status"] == 401 and refused_line["principal"] is None
    everything = "\n".join(access_lines)
    assert "dev-agent-key" not in everything and "wrong-key-value" not in everything
