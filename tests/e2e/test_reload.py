"""Live policy reload through real gunicorn: followed by every worker after a reload or a
SIGHUP, by a watched folder, and 50 times under load without a failed request or growing
memory."""

import signal
import threading
import time
from pathlib import Path

from bench.big_policies import write_generated_policy
from tests.conftest import auth, design_example
from tests.support.policy_files import copy_policy, edit
from tests.support.servers import call, running_server, served_versions


def test_every_worker_serves_the_new_version_after_a_reload_or_sighup(tmp_path):
    policy_dir = copy_policy(tmp_path / "policy")
    environment = {"AMENDS_POLICY": str(policy_dir), "AMENDS_DATA_DIR": str(tmp_path / "data"),
                   "AMENDS_DATABASE_URL": ""}
    with running_server(environment, workers=4) as (base, process):
        first = served_versions(base)
        assert len(first) == 1
        edit(policy_dir, "recovery.yaml", "description: After a repeat failure recovery "
             "rarely works.", "description: Customers give you one chance.")
        status, answer = call(base, "/v1/policy/reload", {}, auth("manager"))
        assert status == 200 and answer["changed"], answer
        second = answer["policy"]["version"]
        assert served_versions(base) == {second}

        edit(policy_dir, "recovery.yaml", "description: Customers give you one chance.",
             "description: One chance, no more.")
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while True:
            status, policy = call(base, "/v1/policy", headers=auth())
            if policy["version"] not in first | {second} or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        third = policy["version"]
        assert third not in first | {second}
        assert served_versions(base) == {third}


def worker_memory_kib(master_pid: int) -> int:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    total = 0
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def test_50_reloads_under_a_steady_stream_fail_no_request_and_keep_memory_flat(tmp_path):
    policy_dir = write_generated_policy(tmp_path / "policy", 400)
    environment = {"AMENDS_POLICY": str(policy_dir), "AMENDS_DATA_DIR": str(tmp_path / "data"),
                   "AMENDS_DATABASE_URL": ""}
    with running_server(environment, workers=2) as (base, process):
        stop = threading.Event()
        statuses = []

        def stream():
            while not stop.is_set():
                try:
                    status, _ = call(base, "/v1/decisions", design_example(), auth())
                except OSError as error:
                    status = repr(error)
                statuses.append(status)

        threads = [threading.Thread(target=stream) for _ in range(2)]
        for thread in threads:
            thread.start()
        memory = {}
        try:
            for number in range(1, 51):
                edit(policy_dir, "rules-000.yaml", f"Generated rule {number - 1}\n",
                     f"Generated rule {number}\n")
                status, answer = call(base, "/v1/policy/reload", {}, auth("manager"))
                assert status == 200 and answer["changed"], answer
                time.sleep(0.05)
                if number in (10, 50):
                    time.sleep(0.5)  # both workers have followed
                    memory[number] = worker_memory_kib(process.pid)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    assert statuses and set(statuses) == {201}, [s for s in statuses if s != 201][:5]
    growth_mib = (memory[50] - memory[10]) / 1024
    assert growth_mib < 16, f"workers grew {growth_mib:.1f} MiB over 40 reloads"


def test_watching_the_folder_reloads_it(tmp_path):
    policy_dir = copy_policy(tmp_path / "policy")
    environment = {"AMENDS_POLICY": str(policy_dir), "AMENDS_DATA_DIR": str(tmp_path / "data"),
                   "AMENDS_DATABASE_URL": "", "AMENDS_POLICY_WATCH_SECONDS": "0.5"}
    with running_server(environment) as (base, _):
        before = served_versions(base, 4)
        edit(policy_dir, "recovery.yaml", "description: After a repeat failure recovery "
             "rarely works.", "description: Watched and reloaded.")
        deadline = time.monotonic() + 30
        while served_versions(base, 4) == before and time.monotonic() < deadline:
            time.sleep(0.3)
        after = served_versions(base, 20)
        assert len(after) == 1 and after != before
