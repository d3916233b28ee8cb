"""One JSON access log line per request, without secrets."""

import json
import logging

import pytest

from tests.conftest import auth, design_example


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


def test_the_duration_includes_following_the_active_policy(app, access_lines, monkeypatch):
    """Following the active version asks the database, and waits when it is slow: the
    logged duration counts that wait (it had started after it)."""
    import time

    holder = app.extensions["amends.holder"]
    follow = holder.follow

    def slow_follow():
        time.sleep(0.2)
        follow()

    monkeypatch.setattr(holder, "follow", slow_follow)
    app.test_client().get("/v1/me", headers=auth())
    assert json.loads(access_lines[-1])["duration_ms"] >= 200


def test_a_call_about_a_decision_logs_its_id(client, access_lines):
    made = client.post("/v1/decisions", json=design_example(), headers=auth()).json
    client.get(f"/v1/decisions/{made['decision_id']}", headers=auth())
    assert json.loads(access_lines[-1])["decision_id"] == made["decision_id"]


def test_every_logger_of_the_service_writes_json_lines():
    """configure_logging gives the `amends` logger JSON lines: a module logging under its own
    name (`service.app.active_policy`) had printed the failing tests of an upgraded version as
    plain lines on stderr, beside the JSON ones."""
    import re

    from tests.conftest import ROOT

    named = []
    for path in (ROOT / "service").rglob("*.py"):
        for name in re.findall(r"getLogger\(([^)]*)\)", path.read_text()):
            if not name.strip("\"'").startswith("amends"):
                named.append(f"{path}: getLogger({name})")
    assert named == []
