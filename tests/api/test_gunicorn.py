"""One real server: `amends serve` under gunicorn, with two workers."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import auth, design_example


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    data_dir = tmp_path_factory.mktemp("data")
    amends = Path(sys.executable).with_name("amends")
    environment = {**os.environ, "AMENDS_POLICY": "", "AMENDS_DATA_DIR": str(data_dir),
                   "AMENDS_DATABASE_URL": "", "DATABASE_URL": ""}
    process = subprocess.Popen([str(amends), "serve", "--port", str(port), "--workers", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"gunicorn did not start: {process.stdout.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield base
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def request(base, path, body=None, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else
                                      json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers.get_content_type(), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), json.load(error)


def test_decisions_through_gunicorn(server):
    customer = design_example()["customer"]["id"]
    for number in range(20):  # several requests, so both workers answer
        body = design_example(customer__id=customer)
        status, kind, decision = request(server, "/v1/decisions", body, auth())
        assert (status, kind) == (201, "application/json")
        assert decision["prior_failures"] == number  # history is shared by the workers
        expected = "likely" if number == 0 else "uncertain" if number < 3 else "unlikely"
        assert decision["recovery"]["outlook"] == expected  # repeat, then serial failure
        assert decision["offers"][0]["approver_role"] == "team_lead"
        status, _, again = request(server, "/v1/decisions", body, auth())
        assert status == 200 and again["decision_id"] == decision["decision_id"]


def test_errors_through_gunicorn(server):
    status, kind, problem = request(server, "/v1/decisions", b"{oops", auth())
    assert (status, kind) == (400, "application/problem+json")
    assert problem["status"] == 400
    status, kind, problem = request(server, "/v1/decisions", design_example())
    assert (status, kind) == (401, "application/problem+json")
    assert problem["title"] == "Unauthorized"
