"""The policy holder: every worker serves the version activated in the database, loaded from
the files stored there (never from the folder), following another worker at once through
the state file and another instance by polling; a version it cannot load is logged, counted
and retried while the one it had serves on; and what a server starts with."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import pytest
from prometheus_client import REGISTRY

from service.app import policy_reload
from service.app.active_policy import PolicySource, read_policy
from service.app.policy_activation import Outcome, activate
from service.app.policy_reload import PolicyUnavailable
from service.config import shipped_policy
from service.policy.loader import policy_version
from service.store import clock
from service.store.policy_queries import active_version
from service.store.unit_of_work import UnitOfWork
from tests.support.policy_files import copy_policy, edit

SHORTER = ("recovery.yaml", "description: After a repeat failure recovery rarely works.",
           "description: Customers give you one chance.")
BROKEN = ("remedies.yaml", "failure.category: {none_of: [billing_error, staff_conduct]}",
          "failure.categry: {none_of: [billing_error, staff_conduct]}")

NO_GBP_LIMIT = ("roles.yaml", 'per_incident_limit: {EUR: "50.00", USD: "55.00", GBP: "45.00"}',
                'per_incident_limit: {EUR: "50.00", USD: "55.00"}')


def served(holder) -> str:
    active = holder.acquire()
    holder.release(active)
    return active.policy.version


@contextmanager
def logged(caplog, name: str):
    """What logger `name` logs, into caplog (the service's loggers do not propagate)."""
    log = logging.getLogger(name)
    log.addHandler(caplog.handler)
    try:
        yield
    finally:
        log.removeHandler(caplog.handler)


def follow_failures() -> float:
    return REGISTRY.get_sample_value("amends_policy_follow_failures_total") or 0.0


@pytest.fixture
def now(monkeypatch):
    """The holders' clock, moved by the test: `now.advance(seconds)`."""

    class Clock:
        value = 1000.0

        def __call__(self) -> float:
            return self.value

        def advance(self, seconds: float) -> None:
            self.value += seconds

    clock = Clock()
    monkeypatch.setattr(policy_reload, "monotonic", clock)
    return clock


@pytest.fixture
def folder(tmp_path):
    return copy_policy(tmp_path / "policy")


@pytest.fixture
def start(fresh_store, tmp_path):
    """Start a holder (one worker) on the test's own store."""
    holders = []

    def start(source, poll_seconds=3600.0, state_file=None, **options):
        holder = policy_reload.start(fresh_store, source, state_file=state_file,
                                     work_dir=tmp_path / "runtime" / "policies",
                                     poll_seconds=poll_seconds, **options)
        holders.append(holder)
        return holder

    yield start
    for holder in holders:
        holder.current.program.close()


def test_start_activates_the_folder_and_stores_its_files(start, fresh_store, folder):
    holder = start(folder)
    version = policy_version(folder)
    assert served(holder) == version == active_version(fresh_store)
    with UnitOfWork(fresh_store) as uow:
        stored = uow.policies.version(version)
        activation = uow.policies.active()
    assert stored.files == PolicySource.read(folder).texts()
    assert activation.via == "start"
    # The served policy names its files by version, the same in every worker.
    assert holder.current.policy.rules[0].file.startswith(f"version {version}/")


def test_a_worker_follows_another_through_the_state_file_and_never_loads_the_folder(
        start, folder, tmp_path):
    state = tmp_path / "runtime" / "policy-state.json"
    first, second = start(folder, state_file=state), start(folder, state_file=state)
    v0 = served(second)
    edit(folder, *SHORTER)
    result = first.reload("api:test")
    v1 = result.active.policy.version
    assert result.changed and v1 != v0
    edit(folder, "recovery.yaml", "description: Customers give you one chance.",
         "description: Never checked, never activated.")  # an edit nobody activated
    assert served(second) == v1  # at once, from the database: not the folder as it is now
    edit(folder, *BROKEN)  # a broken edit changes nothing either
    assert served(second) == v1 and second.behind is None


def test_an_activation_committed_before_a_worker_announces_is_served_at_once(
        start, fresh_store, folder, tmp_path):
    """Two owners at the same moment: the other's activation commits after this worker
    asked the database but before it announced what it serves. Having written the state
    file last, it would see no change; it asks the database once more instead."""
    from service.app.active_policy import load_source
    from service.app.policy_activation import activate

    state = tmp_path / "runtime" / "policy-state.json"
    here = start(folder, state_file=state)
    edit(folder, *SHORTER)
    source = PolicySource.read(folder)  # the other owner's version, activated meanwhile
    loaded = load_source(source)
    try:
        assert not activate(fresh_store, source, loaded.policy, "other", "cli").refused
    finally:
        loaded.program.close()
    here.announce()  # as after its own rollback
    assert here.current.policy.version == source.version() == active_version(fresh_store)


def test_another_instance_follows_by_polling_within_the_poll_interval(start, folder, now):
    here, there = start(folder), start(folder, poll_seconds=1.0)  # no shared state file
    v0 = served(there)
    edit(folder, *SHORTER)
    v1 = here.reload("api:test").active.policy.version
    now.advance(0.9)
    assert served(there) == v0  # its next poll is not due yet
    now.advance(0.1)
    assert served(there) == v1


def test_between_polls_a_request_costs_no_query(start, folder, tmp_path, monkeypatch):
    state = tmp_path / "runtime" / "policy-state.json"
    holder = start(folder, state_file=state)
    asked = []
    monkeypatch.setattr(policy_reload, "active_version",
                        lambda store: asked.append(1) or active_version(store))
    for _ in range(200):
        served(holder)
    assert asked == []
    state.touch()  # another worker wrote it: ask once
    for _ in range(10):
        served(holder)
    assert asked == [1]


def test_a_version_that_does_not_load_is_logged_counted_retried_and_the_old_one_serves(
        start, fresh_store, folder, caplog, now):
    here, there = start(folder), start(folder, poll_seconds=1.0)
    v0 = served(there)
    broken = PolicySource.read(folder).texts()
    broken["roles.yaml"] = broken["roles.yaml"].replace("escalation:", "escalatio:")
    with UnitOfWork(fresh_store) as uow:  # as if activated by a newer Amends elsewhere
        uow.policies.activate("broken-version", "default", broken, "someone", "test",
                              clock.now())
    policy_log = logging.getLogger("amends.policy")
    policy_log.addHandler(caplog.handler)
    try:
        before = follow_failures()
        now.advance(1.0)
        assert served(there) == v0
        assert there.behind.version == "broken-version"
        assert "version broken-version/roles.yaml" in there.behind.reason
        assert follow_failures() == before + 1
        now.advance(0.5)
        assert served(there) == v0 and follow_failures() == before + 1  # not before the poll
        now.advance(0.5)
        assert served(there) == v0 and follow_failures() == before + 2  # retried
    finally:
        policy_log.removeHandler(caplog.handler)
    assert any(record.levelname == "ERROR" and "broken-version" in record.getMessage()
               and "cannot load" in record.getMessage() for record in caplog.records)

    edit(folder, *SHORTER)  # a good version activated: followed, no longer behind
    v1 = here.reload("api:test").active.policy.version
    now.advance(1.0)
    assert served(there) == v1 and there.behind is None


def test_a_restart_with_a_refused_folder_serves_the_last_active_version(start, folder,
                                                                         caplog):
    good = served(start(folder))
    edit(folder, *BROKEN)
    edit(folder, *NO_GBP_LIMIT)
    expected = PolicyCheck(folder)
    with logged(caplog, "amends.policy"):
        holder = start(folder)
    assert served(holder) == good
    assert holder.last_refused.trigger == "start"
    assert list(holder.last_refused.reasons) == expected.problems and len(expected.problems) > 1
    said = "\n".join(record.getMessage() for record in caplog.records)
    assert all(problem in said for problem in expected.problems), said


def test_without_a_stored_version_a_refused_folder_stops_the_start(start, folder):
    edit(folder, *BROKEN)
    edit(folder, *NO_GBP_LIMIT)
    expected = PolicyCheck(folder)
    with pytest.raises(PolicyUnavailable) as refused:
        start(folder)
    for problem in expected.problems:
        assert problem in refused.value.report.splitlines()
    assert "No policy version was ever activated" in refused.value.report


class PolicyCheck:
    """The problems `amends policy check` prints for a folder, one a line."""

    def __init__(self, folder):
        from service.app.active_policy import read_policy
        from service.policy.problems import PolicyInvalid

        try:
            read_policy(folder)
        except PolicyInvalid as error:
            self.problems = error.report().splitlines()
        else:
            self.problems = []


# The first test case of the shipped policy, expecting what no Amends decides: a version whose
# own tests an upgraded Amends decides otherwise than the release that activated it.
DECIDED_OTHERWISE = ("tests.yaml", "      outlook: likely\n", "      outlook: unlikely\n")


def activated_earlier(store, folder) -> str:
    """Store and activate the folder as an earlier release did, its own tests passing there."""
    source = PolicySource.read(folder)
    policy = read_policy(folder, strict=False)
    assert activate(store, source, policy, "earlier", "start").outcome == Outcome.ACTIVATED
    return policy.version


def test_the_active_version_serves_when_this_amends_decides_some_of_its_tests_otherwise(
        start, fresh_store, folder, tmp_path, now, caplog):
    """An upgrade never stops the active version: at start from its folder, at start from
    another folder that is refused, and following its activation elsewhere, it serves, with
    the failing tests logged and kept (GET /v1/policy shows them). It had stopped Amends from
    starting."""
    shipped = served(start(copy_policy(tmp_path / "shipped"), poll_seconds=1.0))
    edit(folder, *DECIDED_OTHERWISE)
    follower = start(copy_policy(tmp_path / "follower"), poll_seconds=1.0)
    assert served(follower) == shipped
    version = activated_earlier(fresh_store, folder)
    now.advance(1.0)
    assert served(follower) == version and follower.behind is None
    failing = ["first minor unavoidable late delivery is likely to recover"]
    assert [result.test.name for result in follower.current.failing_tests] == failing

    with logged(caplog, "amends.policy"):
        from_its_folder = start(folder)
    assert served(from_its_folder) == version and from_its_folder.last_refused is None
    assert [result.test.name for result in from_its_folder.current.failing_tests] == failing
    # named as the served version's files, however it was loaded (not the folder's path)
    assert from_its_folder.current.failing_tests[0].test.file == f"version {version}/tests.yaml"
    assert "1 of its" in caplog.text and "outlook: expected unlikely, got likely" in caplog.text

    edit(folder, *BROKEN)
    from_the_database = start(folder)
    assert served(from_the_database) == version
    assert from_the_database.last_refused.trigger == "start"
    assert [result.test.name for result in from_the_database.current.failing_tests] == failing


def test_a_version_whose_tests_fail_is_not_activated_again_by_a_rollback(fresh_store, folder,
                                                                         tmp_path):
    from service.app.policy_versions import rollback

    edit(folder, *DECIDED_OTHERWISE)
    version = activated_earlier(fresh_store, folder)
    shipped = PolicySource.read(shipped_policy())
    activate(fresh_store, shipped, read_policy(shipped_policy()), "someone", "start")
    refused = rollback(fresh_store, version, "someone", "api")
    assert refused.activation.outcome == Outcome.REFUSED
    assert any("outlook: expected unlikely, got likely" in reason
               for reason in refused.activation.reasons)


def test_a_start_never_activates_again_what_it_loaded_as_the_active_version(
        start, fresh_store, folder, tmp_path, monkeypatch):
    """The folder's version was active, so it loaded as such (its failing test kept, not
    refused); another was activated meanwhile. The start does not activate the folder's
    version over it, as a rollback would not: it is a new activation, refused for its test,
    and the other version serves."""
    edit(folder, *DECIDED_OTHERWISE)
    activated_earlier(fresh_store, folder)
    other = copy_policy(tmp_path / "other")
    real = policy_reload.load_source

    def loaded_while_another_is_activated(source, *args, **options):
        loaded = real(source, *args, **options)
        if source.activated:
            activate(fresh_store, PolicySource.read(other), read_policy(other), "bob", "cli")
        return loaded

    monkeypatch.setattr(policy_reload, "load_source", loaded_while_another_is_activated)
    holder = start(folder)
    assert served(holder) == policy_version(other)
    assert holder.last_refused.trigger == "start"
    assert any("outlook: expected unlikely, got likely" in reason
               for reason in holder.last_refused.reasons)
    assert active_version(fresh_store) == policy_version(other)


def test_a_reload_serves_the_active_version_first_and_a_refusal_names_it(start, folder,
                                                                        tmp_path, caplog):
    """A master (preloaded, never following otherwise) on SIGHUP: another instance activated
    a version since; the folder here is refused. What keeps serving, in its log and in the
    workers it forks next, is the active version, not the one it started with."""
    master = start(folder)
    v0 = master.current.policy.version
    elsewhere = copy_policy(tmp_path / "elsewhere")
    edit(elsewhere, *SHORTER)
    v1 = start(elsewhere).reload("api:test").active.policy.version
    assert v1 != v0 and master.current.policy.version == v0
    edit(folder, *BROKEN)
    with logged(caplog, "amends.policy"):
        result = master.reload("SIGHUP")
    assert result.refused is not None and not result.changed
    assert master.current.policy.version == v1
    said = [record.getMessage() for record in caplog.records if "refused" in record.getMessage()]
    assert said and f"; {v1} keeps serving" in said[-1], said


def test_the_policy_metric_retires_the_version_it_replaces_under_its_own_name(start, folder,
                                                                              tmp_path):
    holder = start(folder)
    v0 = holder.current.policy.version
    renamed = copy_policy(tmp_path / "renamed")
    edit(renamed, "policy.yaml", "name: default", "name: renamed-for-metrics")
    holder.source = renamed
    v1 = holder.reload("api:test").active.policy.version

    def info(name: str, version: str) -> float | None:
        return REGISTRY.get_sample_value("amends_policy_info",
                                         {"name": name, "version": version})

    assert info("renamed-for-metrics", v1) == 1
    assert info("default", v0) == 0
    assert info("renamed-for-metrics", v0) is None  # no series of the new name and old version


def test_a_reload_of_the_version_it_has_just_followed_loads_it_once(start, folder, tmp_path,
                                                                    monkeypatch):
    """Every host gets the same folder; another activated it first: the reload follows the
    active version and does not load the same files from the folder again."""
    master = start(folder)
    elsewhere = copy_policy(tmp_path / "elsewhere")
    edit(elsewhere, *SHORTER)
    v1 = start(elsewhere).reload("api:test").active.policy.version
    edit(folder, *SHORTER)
    loads = []
    real = policy_reload.load_source
    monkeypatch.setattr(policy_reload, "load_source",
                        lambda *args, **kwargs: loads.append(args[0]) or real(*args, **kwargs))
    result = master.reload("SIGHUP")
    assert master.current.policy.version == v1 and result.refused is None
    assert not result.changed and len(loads) == 1
