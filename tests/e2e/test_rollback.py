"""Through real gunicorn, on SQLite and PostgreSQL: a rollback through the API changes what new
decisions use on every worker (and on a second instance on the same database) within the
bound the README states, and a refused rollback changes nothing anywhere."""

from __future__ import annotations

import time

import pytest

from tests.conftest import auth
from tests.support.policy_files import copy_policy, edit
from tests.support.servers import call, followed_within, running_server, served_versions

SHORTER = ("recovery.yaml", "description: After a repeat failure recovery rarely works.",
           "description: Customers give you one chance.")
POLL_SECONDS = 1.0
LOAD_SECONDS = 5.0  # a generous bound on a worker loading the shipped policy from the store
WORKERS = 3


@pytest.fixture
def database(fresh_store) -> str:
    """A database of the test's own (SQLite, or a new PostgreSQL schema), migrated."""
    fresh_store.engine.dispose()
    return fresh_store.url


def activate_v2(base: str, folder) -> tuple[str, str]:
    """(v1 as the server started, v2 reloaded through the API and served everywhere)."""
    first = served_versions(base, 8)
    assert len(first) == 1
    edit(folder, *SHORTER)
    status, answer = call(base, "/v1/policy/reload", {}, auth("manager"))
    assert status == 200 and answer["changed"], answer
    second = answer["policy"]["version"]
    assert served_versions(base, 20) == {second}
    return first.pop(), second


def rollback(base: str, version: str):
    return call(base, f"/v1/policy/versions/{version}/activate", {}, auth("manager"))


def active_in_metrics(base: str) -> set[str]:
    """The versions `amends_policy_info` says are active (1), over every process."""
    import re
    import urllib.request

    with urllib.request.urlopen(f"{base}/metrics", timeout=30) as response:
        text = response.read().decode()
    return {match.group(1) for match in re.finditer(
        r'^amends_policy_info\{[^}]*version="([0-9a-f]+)"[^}]*\} 1\.0$', text, re.MULTILINE)}


def follows(base: str, version: str, since: float) -> float:
    """Every worker of the instance at `base` decides with `version` within the bound."""
    return followed_within(base, version, since, POLL_SECONDS, POLL_SECONDS + LOAD_SECONDS)


@pytest.mark.alone  # every worker follows within the poll bound
def test_a_rollback_through_the_api_changes_what_every_worker_decides_with(tmp_path,
                                                                            database):
    folder = copy_policy(tmp_path / "policy")
    environment = {"AMENDS_POLICY": str(folder), "AMENDS_DATABASE_URL": database,
                   "AMENDS_POLICY_POLL_SECONDS": str(POLL_SECONDS)}
    with running_server(environment, workers=WORKERS) as (base, _):
        first, second = activate_v2(base, folder)

        status, answer = rollback(base, first)
        assert status == 200, answer
        assert answer["changed"] and answer["version"] == first
        assert answer["activation"]["via"] == "api:rollback"
        follows(base, first, time.monotonic())
        assert served_versions(base, 40) == {first}
        status, policy = call(base, "/v1/policy", headers=auth())
        assert status == 200 and policy["version"] == first
        assert call(base, "/readyz")[0] == 200

        status, listed = call(base, "/v1/policy/versions", headers=auth("manager"))
        assert status == 200 and listed["active_version"] == first
        status, answer = rollback(base, second)  # and forward again
        assert status == 200 and answer["changed"], answer
        follows(base, second, time.monotonic())
        assert active_in_metrics(base) == {second}  # not the one the master started with

        status, answer = rollback(base, "0123456789abcdef")
        assert status == 404, answer
        assert served_versions(base, 20) == {second}


@pytest.mark.alone
@pytest.mark.parametrize("fresh_store", ["postgresql"], indirect=True)
def test_a_second_instance_follows_a_rollback_within_the_poll_bound(tmp_path, database):
    here, there = copy_policy(tmp_path / "here"), copy_policy(tmp_path / "there")
    common = {"AMENDS_DATABASE_URL": database, "AMENDS_POLICY_POLL_SECONDS": str(POLL_SECONDS)}
    with (running_server({**common, "AMENDS_POLICY": str(here)}, workers=2) as (first_base, _),
          running_server({**common, "AMENDS_POLICY": str(there)}, workers=2) as (second_base,
                                                                                  _)):
        first, second = activate_v2(first_base, here)
        followed_within(second_base, second, time.monotonic(), POLL_SECONDS, 30)

        status, answer = rollback(second_base, first)  # rolled back on the other instance
        assert status == 200 and answer["changed"], answer
        since = time.monotonic()
        for base in (second_base, first_base):  # every worker of both, within the bound
            follows(base, first, since)
