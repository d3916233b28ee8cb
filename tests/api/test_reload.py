"""Live policy reload: checked before it serves, refused with reasons, followed by every
worker, and 50 times under load without a failed request or growing memory."""

import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from bench.big_policies import write_generated_policy
from service.app.active_policy import ActivePolicy
from service.config import shipped_policy
from service.web.app_factory import create_app
from tests.conftest import auth, design_example, make_store, test_settings
from tests.servers import call, running_server


def copy_policy(target: Path) -> Path:
    shutil.copytree(shipped_policy(), target)
    return target


def edit(directory: Path, name: str, old: str, new: str) -> None:
    path = directory / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def policy_dir(tmp_path):
    return copy_policy(tmp_path / "policy")


@pytest.fixture
def client(policy_dir, tmp_path_factory, request):
    store = make_store("sqlite", tmp_path_factory, request)
    app = create_app(test_settings(), active_policy=ActivePolicy.load(policy_dir), store=store)
    yield app.test_client()
    store.engine.dispose()


def reload(client, role="manager"):
    return client.post("/v1/policy/reload", headers=auth(role))


def version(client):
    return client.get("/v1/policy", headers=auth()).json["version"]


def test_only_admin_roles_reload(client):
    assert reload(client, "agent").status_code == 403
    response = reload(client)
    assert response.status_code == 200 and response.json["changed"] is False


def test_a_changed_folder_becomes_the_active_version(client, policy_dir):
    before = version(client)
    edit(policy_dir, "remedies.yaml", "description: Minor failure, 10% of the order value.",
         "description: Minor failure; ten percent of the order value.")
    response = reload(client)
    assert response.status_code == 200 and response.json["changed"] is True
    after = response.json["policy"]["version"]
    assert after != before and version(client) == after
    decision = client.post("/v1/decisions", json=design_example(), headers=auth()).json
    assert decision["policy"]["version"] == after
    assert {"rule": "discount-minor", "priority": 310,
            "description": "Minor failure; ten percent of the order value."} in decision["trace"]


@pytest.mark.parametrize(("file", "old", "new", "reason"), [
    ("remedies.yaml", "failure.category: {none_of: [billing_error, staff_conduct]}",
     "failure.categry: {none_of: [billing_error, staff_conduct]}", "unknown field"),
    ("tests.yaml", 'value: "12.00", percent: 10, approval: not_required',
     'value: "99.00", percent: 10, approval: not_required', "expected 99.00, got 12.00"),
])
def test_a_bad_version_is_refused_and_the_last_good_one_serves(client, policy_dir, file, old,
                                                               new, reason):
    good = version(client)
    edit(policy_dir, file, old, new)
    response = reload(client)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.json["active_version"] == good
    assert any(reason in line for line in response.json["reasons"]), response.json["reasons"]
    shown = client.get("/v1/policy", headers=auth()).json
    assert shown["version"] == good
    assert shown["last_refused"]["version"] != good
    assert any(reason in line for line in shown["last_refused"]["reasons"])
    decision = client.post("/v1/decisions", json=design_example(), headers=auth())
    assert decision.status_code == 201 and decision.json["policy"]["version"] == good

    edit(policy_dir, file, new, old)  # mended: accepted again, the refusal forgotten
    assert reload(client).status_code == 200
    assert client.get("/v1/policy", headers=auth()).json["last_refused"] is None


def served_versions(base, count=40):
    versions = set()
    for _ in range(count):
        status, decision = call(base, "/v1/decisions", design_example(), auth())
        assert status == 201, decision
        versions.add(decision["policy"]["version"])
    return versions


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
