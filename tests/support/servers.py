"""Run `amends serve` (real gunicorn) for a test, and talk to it over HTTP."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

DEV_KEYS = Path(__file__).resolve().parents[2] / "config" / "dev-api-keys.yaml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(environment: dict, workers: int = 2) -> tuple[subprocess.Popen, str]:
    """The server and its base URL. It listens on a port the kernel gives it (`--port 0`),
    read back from gunicorn's "Listening at" line: a port picked free beforehand could be
    taken meanwhile by another test's server (the suite runs in several processes). Logs go
    to a file: a pipe nobody reads fills up and blocks the workers."""
    amends = Path(sys.executable).with_name("amends")
    with tempfile.NamedTemporaryFile(prefix="amends-server-", suffix=".log",
                                     delete=False) as log:
        process = subprocess.Popen([str(amends), "serve", "--port", "0", "--workers",
                                    str(workers)], stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "AMENDS_POLICY": "",
                                        "AMENDS_API_KEYS_FILE": str(DEV_KEYS), **environment},
                                   start_new_session=True)  # its own group, to kill it whole
    process.log_path = log.name
    deadline = time.monotonic() + 60
    base = None
    while True:
        if base is None:
            listening = _LISTENING.search(Path(process.log_path).read_text())
            base = listening and listening.group(1)
        try:
            if base is not None:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return process, base
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            kill_group(process)
            log_text = Path(process.log_path).read_text()[-2000:]
            pytest.fail(f"gunicorn did not start: {log_text}")
        time.sleep(0.1)


_LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


def kill_group(process: subprocess.Popen, sig=signal.SIGKILL) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.wait(timeout=30)


@contextmanager
def running_server(environment: dict, workers: int = 2):
    process, base = start_server(environment, workers)
    try:
        yield base, process
    finally:
        if process.poll() is None:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the master alone, which stops its workers; then whatever is left of the
    group is killed. (SIGTERM to the whole group races the master: a worker it boots
    meanwhile misses the signal, and the master waits out graceful_timeout for it.)"""
    with suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    kill_group(process)


def call(base: str, path: str, body=None, headers=None, method=None, timeout=60):
    """(status, JSON body) of one request; connection failures raise OSError."""
    data = None if body is None else (body if isinstance(body, bytes)
                                      else json.dumps(body).encode())
    request = urllib.request.Request(
        base + path, data=data, method=method or ("POST" if data is not None else "GET"),
        headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def followed_within(base: str, version: str, since: float, poll_seconds: float,
                    bound: float, batch: int = 12) -> float:
    """Seconds from `since` (time.monotonic() just after the activation committed) until a
    batch of decisions is all decided by `version`; fails past `bound` (gives up at 30 s).

    A batch can land on some workers only, so once every worker's poll has come due
    (`since + poll_seconds`) a second batch must be all `version` too: a worker checks at its
    next request after that, and loads before answering."""
    while served_versions(base, batch) != {version}:
        assert time.monotonic() - since < 30, f"never followed to {version}"
    followed = time.monotonic() - since
    assert followed < bound, f"followed after {followed:.1f} s"
    time.sleep(max(0.0, since + poll_seconds + 0.05 - time.monotonic()))
    assert served_versions(base, 2 * batch) == {version}
    return followed


def served_versions(base: str, count: int = 40) -> set[str]:
    """The policy versions that decided `count` fresh incidents (agent's key)."""
    from tests.conftest import auth, design_example

    versions = set()
    for _ in range(count):
        status, decision = call(base, "/v1/decisions", design_example(), auth())
        assert status == 201, decision
        versions.add(decision["policy"]["version"])
    return versions
