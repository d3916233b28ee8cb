"""Shared pieces of the load benchmarks: a server under `amends serve`, clients, samples."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

KEYS = {"agent": "dev-agent-key", "team_lead": "dev-team-lead-key",
        "manager": "dev-manager-key"}


def start(port: int, environment: dict | None = None, workers: int = 2) -> subprocess.Popen:
    amends = Path(sys.executable).with_name("amends")
    log = open(tempfile.mktemp(prefix="amends-bench-", suffix=".log"), "w")  # noqa: SIM115
    data_dir = tempfile.mkdtemp(prefix="amends-bench-data-")
    process = subprocess.Popen(
        [str(amends), "serve", "--port", str(port), "--workers", str(workers)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "AMENDS_DATA_DIR": data_dir,
             "AMENDS_API_KEYS_FILE": os.environ.get("AMENDS_API_KEYS_FILE")
             or str(Path(__file__).resolve().parents[1] / "config" / "dev-api-keys.yaml"),
             **(environment or {})})
    process.data_dir = data_dir
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                return process
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server did not start; see {log.name}")


def call(base: str, path: str, body=None, role: str = "agent", timeout: float = 30):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data,
                                     method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {KEYS[role]}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def incident(value: str = "120.00") -> dict:
    tag = uuid.uuid4().hex[:12]
    return {"incident_id": f"L-{tag}",
            "customer": {"id": f"C-{tag}", "tier": "gold", "lifetime_value": "5400.00"},
            "order": {"id": f"O-{tag}", "value": value, "currency": "EUR",
                      "shipping_fee": "7.50"},
            "failure": {"category": "late_delivery", "severity": 2, "avoidable": False}}


def workers_of(master: int) -> list[int]:
    path = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in path.read_text().split()]


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] if len(samples) > 1 else samples[0]
