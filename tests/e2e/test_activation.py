"""Through real gunicorn, on SQLite and PostgreSQL: every worker serves the activated version
and never the folder as it is; a second Amends instance on the same database follows within
the bound the README states; a restart with a broken folder serves the last active version
and reports every problem, and with nothing activated refuses to start, without a
traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import auth, design_example
from tests.support.policy_files import copy_policy, edit
from tests.support.servers import (
    DEV_KEYS,
    call,
    followed_within,
    free_port,
    running_server,
    served_versions,
)

SHORTER = ("recovery.yaml", "description: After a repeat failure recovery rarely works.",
           "description: Customers give you one chance.")
UNACTIVATED = ("recovery.yaml", "description: Customers give you one chance.",
               "description: Edited, never activated.")
BROKEN = ("remedies.yaml", "failure.category: {none_of: [billing_error, staff_conduct]}",
          "failure.categry: {none_of: [billing_error, staff_conduct]}")
NO_GBP_LIMIT = ("roles.yaml", 'per_incident_limit: {EUR: "50.00", USD: "55.00", GBP: "45.00"}',
                'per_incident_limit: {EUR: "50.00", USD: "55.00"}')
POLL_SECONDS = 1.0
LOAD_SECONDS = 5.0  # a generous bound on a worker loading the shipped policy from the store


def reload(base):
    return call(base, "/v1/policy/reload", {}, auth("manager"))


def undo(change):
    name, old, new = change
    return name, new, old


def policy_check(folder: Path) -> list[str]:
    """What `amends policy check` prints for the folder: one problem a line."""
    amends = Path(sys.executable).with_name("amends")
    run = subprocess.run([str(amends), "policy", "check", str(folder)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 1, run.stdout + run.stderr
    return run.stdout.strip().splitlines()


def logged_text(log_path: str) -> str:
    """Every message and field of the JSON log lines, decoded."""
    parts = []
    for line in Path(log_path).read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            parts.append(line)
            continue
        parts.append(json.dumps(entry, ensure_ascii=False))
        parts.append(str(entry.get("message", "")))
        parts.extend(str(problem) for problem in entry.get("problems", []))
    return "\n".join(parts)


@pytest.fixture
def database(fresh_store) -> str:
    """A database of the test's own (SQLite, or a new PostgreSQL schema), migrated."""
    fresh_store.engine.dispose()
    return fresh_store.url


@pytest.mark.parametrize("later_edit", [UNACTIVATED, BROKEN], ids=["valid-edit", "broken-edit"])
def test_every_worker_serves_the_activated_version_never_the_folder_as_it_is(
        tmp_path, database, later_edit):
    folder = copy_policy(tmp_path / "policy")
    with running_server({"AMENDS_POLICY": str(folder), "AMENDS_DATABASE_URL": database},
                        workers=4) as (base, _):
        first = served_versions(base, 8)
        edit(folder, *SHORTER)
        status, answer = reload(base)
        assert status == 200 and answer["changed"], answer
        activated = answer["policy"]["version"]
        assert activated not in first

        edit(folder, *later_edit)  # checked by nobody, never activated
        assert served_versions(base) == {activated}

        if later_edit is BROKEN:
            edit(folder, *undo(BROKEN))
            edit(folder, *UNACTIVATED)
        status, answer = reload(base)  # activating the edit makes every worker serve it
        assert status == 200 and answer["changed"], answer
        edited = answer["policy"]["version"]
        assert edited not in first | {activated}
        assert served_versions(base) == {edited}


@pytest.mark.parametrize("fresh_store", ["postgresql"], indirect=True)
@pytest.mark.alone
def test_a_second_instance_on_the_database_follows_within_the_poll_bound(tmp_path, database):
    here, there = copy_policy(tmp_path / "here"), copy_policy(tmp_path / "there")
    common = {"AMENDS_DATABASE_URL": database, "AMENDS_POLICY_POLL_SECONDS": str(POLL_SECONDS)}
    with (running_server({**common, "AMENDS_POLICY": str(here)}) as (first, _),
          running_server({**common, "AMENDS_POLICY": str(there)}) as (second, _)):
        before = served_versions(first, 4)
        assert served_versions(second, 4) == before
        edit(here, *SHORTER)
        status, answer = reload(first)
        assert status == 200 and answer["changed"], answer
        activated = answer["policy"]["version"]
        followed_within(second, activated, time.monotonic(), POLL_SECONDS,
                        POLL_SECONDS + LOAD_SECONDS)
        status, policy = call(second, "/v1/policy", headers=auth())
        assert policy["version"] == activated
        assert call(second, "/readyz")[0] == 200


def test_a_restart_with_a_broken_folder_serves_the_last_active_version(tmp_path, database):
    folder = copy_policy(tmp_path / "policy")
    environment = {"AMENDS_POLICY": str(folder), "AMENDS_DATABASE_URL": database}
    with running_server(environment) as (base, _):
        active = served_versions(base, 4)
    edit(folder, *BROKEN)
    edit(folder, *NO_GBP_LIMIT)
    problems = policy_check(folder)
    assert len(problems) > 1
    with running_server(environment) as (base, process):
        assert served_versions(base, 8) == active
        status, policy = call(base, "/v1/policy", headers=auth())
        assert status == 200 and policy["last_refused"]["reasons"] == problems
        assert call(base, "/readyz")[0] == 200
        logged = logged_text(process.log_path)
    missing = [problem for problem in problems if problem not in logged]
    assert not missing, logged[-3000:]
    assert "Traceback" not in logged


def test_with_nothing_activated_a_broken_folder_refuses_to_start(tmp_path, database):
    folder = copy_policy(tmp_path / "policy")
    edit(folder, *BROKEN)
    edit(folder, *NO_GBP_LIMIT)
    problems = policy_check(folder)
    amends = Path(sys.executable).with_name("amends")
    run = subprocess.run(
        [str(amends), "serve", "--port", str(free_port())], capture_output=True, text=True,
        timeout=120, env={**os.environ, "AMENDS_POLICY": str(folder),
                          "AMENDS_DATABASE_URL": database, "AMENDS_API_KEYS_FILE": str(DEV_KEYS)})
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert "Traceback" not in output, output
    missing = [problem for problem in problems if problem not in output]
    assert not missing, output


def slow_table(folder: Path, rows: int) -> None:
    """A `hit: unique` table of ranges over one fact, one number each: no value named keeps
    two rows apart, so checking it compares every pair (seconds for some hundreds of rows)."""
    policy = (folder / "policy.yaml").read_text()
    (folder / "policy.yaml").write_text(
        policy.replace("context:\n", "context:\n  sku: {type: integer}\n", 1))
    cells = "\n".join(f"    - [{{at_least: {n}, less_than: {n + 1}}}, {{amount: {{EUR: \"1.00\", "
                      f"USD: \"1.00\", GBP: \"1.00\"}}}}]" for n in range(rows))
    (folder / "slow.yaml").write_text(
        "table:\n  id: slow\n  description: A table slow to check\n  priority: 700\n"
        "  hit: unique\n  inputs: [context.sku]\n  outputs: [{remedy: store_credit}]\n"
        f"  rows:\n{cells}\n")


@pytest.mark.parametrize("fresh_store", ["sqlite"], indirect=True)
@pytest.mark.alone
def test_a_worker_loading_a_version_for_longer_than_its_timeout_is_not_killed(tmp_path,
                                                                            database):
    """A version made active elsewhere is loaded by each worker inside a request. Loading it
    here takes longer than this server's worker timeout (2 s): the worker tells gunicorn it
    is alive meanwhile, so the request is slow but answered, and the next ones are quick (it
    had been killed, and every worker after it, every answer a 500)."""
    folder = copy_policy(tmp_path / "policy")
    server = {"AMENDS_POLICY": str(folder), "AMENDS_DATABASE_URL": database,
              "AMENDS_TIMEOUT": "2", "AMENDS_DATABASE_TIMEOUT_SECONDS": "0.5",
              "AMENDS_READ_TIMEOUT_SECONDS": "1"}
    with running_server(server, workers=1) as (base, _):
        before = served_versions(base, 2)
        slow = copy_policy(tmp_path / "slow")
        slow_table(slow, 800)
        amends = Path(sys.executable).with_name("amends")
        started = time.monotonic()
        run = subprocess.run([str(amends), "policy", "activate", str(slow)],
                             capture_output=True, text=True, timeout=300,
                             env={**os.environ, "AMENDS_DATABASE_URL": database,
                                  "AMENDS_TIMEOUT": "300"})
        assert run.returncode == 0, run.stdout + run.stderr
        assert time.monotonic() - started > 3  # it loads for longer than the worker timeout
        status, answer = call(base, "/v1/decisions", design_example(), auth(), timeout=300)
        assert status == 201, answer
        assert answer["policy"]["version"] not in before
        assert served_versions(base, 2) == {answer["policy"]["version"]}
