"""Policy versions as their owners see them, on SQLite and PostgreSQL (each test on a store of
its own): every activated version with who activated it, when and how; one with its files;
refused attempts with their reasons; what changed between two; and a rollback, which proves
the version as any activation does and is refused, and recorded, when it fails or would
orphan stored work."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.app import policy_versions
from service.app.active_policy import PolicySource, load_source
from service.app.errors import Invalid, NotFound
from service.app.policy_activation import Outcome, activate, record_refusal
from service.store import clock
from service.store.keyset import CursorInvalid
from service.store.policy_queries import active_version
from service.store.unit_of_work import UnitOfWork
from tests.support.policy_files import copy_policy, edit, rewrite, without_gbp
from tests.support.stored_rows import store_open_gbp_offer

SHORTER = ("recovery.yaml", "description: After a repeat failure recovery rarely works.",
           "description: Customers give you one chance.")


def activated(store, folder: Path, by: str = "alice", via: str = "cli") -> str:
    """Activate the folder as `amends policy activate` does; its version."""
    source = PolicySource.read(folder)
    loaded = load_source(source)
    try:
        activation = activate(store, source, loaded.policy, by, via)
    finally:
        loaded.program.close()
    assert activation.outcome == Outcome.ACTIVATED, activation
    return activation.version


@pytest.fixture
def two_versions(fresh_store, tmp_path) -> tuple[str, str, Path]:
    """v1 (the shipped policy) activated by alice, then v2 (one description shorter) by bob."""
    folder = copy_policy(tmp_path / "policy")
    first = activated(fresh_store, folder, "alice", "start")
    edit(folder, *SHORTER)
    second = activated(fresh_store, folder, "bob", "api:bob")
    return first, second, folder


def test_versions_are_listed_newest_first_with_every_activation(fresh_store, two_versions):
    first, second, _ = two_versions
    page = policy_versions.list_versions(fresh_store, 50)
    assert [v.version for v in page.versions] == [second, first]
    assert page.active_version == second and page.next_cursor is None
    assert [v.active for v in page.versions] == [True, False]
    latest = page.versions[0]
    assert (latest.entry.name, latest.entry.activated_by) == ("default", "bob")
    assert [(a.activated_by, a.via) for a in latest.activations] == [("bob", "api:bob")]

    rolled = policy_versions.rollback(fresh_store, first, "carol", "cli:rollback")
    assert rolled.activation.outcome == Outcome.ACTIVATED and rolled.name == "default"
    page = policy_versions.list_versions(fresh_store, 50)
    assert page.active_version == first
    older = page.versions[1]
    assert older.version == first and older.active
    assert [(a.activated_by, a.via) for a in older.activations] == [
        ("carol", "cli:rollback"), ("alice", "start")]
    assert older.activations[0].activated_at > older.activations[1].activated_at


def test_versions_come_a_page_at_a_time(fresh_store, two_versions):
    first, second, folder = two_versions
    edit(folder, "recovery.yaml", "Customers give you one chance.", "One chance.")
    third = activated(fresh_store, folder)
    seen, cursor = [], None
    while True:
        page = policy_versions.list_versions(fresh_store, 2, cursor)
        assert len(page.versions) <= 2
        seen += [v.version for v in page.versions]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [third, second, first]
    with pytest.raises(CursorInvalid):
        policy_versions.list_versions(fresh_store, 2, "bm90LWEtY3Vyc29y")


def test_a_version_is_shown_with_its_files(fresh_store, two_versions):
    first, second, folder = two_versions
    detail = policy_versions.show_version(fresh_store, second)
    assert detail.active and detail.stored.version == second
    assert dict(detail.stored.files) == PolicySource.read(folder).texts()
    assert [a.activated_by for a in detail.activations] == ["bob"]
    assert not policy_versions.show_version(fresh_store, first).active
    with pytest.raises(NotFound):
        policy_versions.show_version(fresh_store, "0123456789abcdef")


def test_two_stored_versions_are_compared(fresh_store, two_versions):
    first, second, _ = two_versions
    compared = policy_versions.compare_versions(fresh_store, first, second)
    assert (compared.old.version, compared.new.version) == (first, second)
    assert compared.diff.lines() == [
        'rule repeat-failure: description "After a repeat failure recovery rarely works." → '
        '"Customers give you one chance."']
    assert policy_versions.compare_versions(fresh_store, second, second).diff.empty
    with pytest.raises(NotFound):
        policy_versions.compare_versions(fresh_store, first, "0123456789abcdef")


def test_a_candidate_folder_is_compared_with_a_stored_version(fresh_store, two_versions):
    first, _, folder = two_versions
    edit(folder, "roles.yaml", 'per_incident_limit: {EUR: "50.00"',
         'per_incident_limit: {EUR: "55.00"')
    compared = policy_versions.compare(policy_versions.stored_source(fresh_store, first),
                                       PolicySource.read(folder))
    assert compared.diff.lines()[-1] == "role agent: per-incident limit in EUR 50.00 → 55.00"


def test_a_stored_version_that_no_longer_reads_is_named(fresh_store, two_versions):
    first, _, _ = two_versions
    with UnitOfWork(fresh_store) as uow:
        uow.policies.activate("broken", "default", {"policy.yaml": "name: [unclosed"},
                              "mallory", "cli", clock.now())
        uow.policies.activate(first, "default", {}, "alice", "cli", clock.now())
    with pytest.raises(Invalid) as raised:
        policy_versions.compare_versions(fresh_store, first, "broken")
    assert list(raised.value.errors) == ["new"]
    assert raised.value.errors["new"][0].startswith("version broken")


def test_rolling_back_to_the_active_version_changes_nothing(fresh_store, two_versions):
    _, second, _ = two_versions
    rolled = policy_versions.rollback(fresh_store, second, "carol", "cli:rollback")
    assert rolled.activation.outcome == Outcome.UNCHANGED
    assert rolled.active.activated_by == "bob"
    with pytest.raises(NotFound):
        policy_versions.rollback(fresh_store, "0123456789abcdef", "carol", "cli:rollback")


def test_a_rollback_that_would_orphan_stored_work_is_refused_and_recorded(fresh_store,
                                                                          tmp_path):
    folder = copy_policy(tmp_path / "policy")
    rewrite(folder, without_gbp)
    no_gbp = activated(fresh_store, folder)
    with_gbp = activated(fresh_store, copy_policy(tmp_path / "with-gbp"))
    store_open_gbp_offer(fresh_store, with_gbp)  # an open offer in GBP

    rolled = policy_versions.rollback(fresh_store, no_gbp, "carol", "cli:rollback")
    assert rolled.refused
    assert rolled.activation.reasons == (
        "1 stored offer is in GBP, which this version drops (decision d-1)",)
    assert active_version(fresh_store) == with_gbp
    refusals = policy_versions.list_refusals(fresh_store, 50)
    latest = refusals.refusals[0]
    assert (latest.refused_by, latest.refused.trigger, latest.refused.version) == (
        "carol", "cli:rollback", no_gbp)
    assert latest.refused.reasons == rolled.activation.reasons


def test_a_rollback_proves_the_version_by_its_own_tests(fresh_store, two_versions, tmp_path):
    """A stored version whose own tests fail (stored here without being proven) is refused,
    with every failing test as a reason, and the active version serves on."""
    first, _, _ = two_versions
    failing = copy_policy(tmp_path / "failing")
    edit(failing, "remedies.yaml", "          percent: 10\n", "          percent: 15\n")
    source = PolicySource.read(failing)
    with UnitOfWork(fresh_store) as uow:
        uow.policies.activate(source.version(), "default", source.texts(), "mallory", "cli",
                              clock.now())
    assert policy_versions.rollback(fresh_store, first, "carol", "cli:rollback").activation \
        .outcome == Outcome.ACTIVATED

    rolled = policy_versions.rollback(fresh_store, source.version(), "carol", "api:rollback")
    assert rolled.refused and "test cases fail" in rolled.activation.reasons[0]
    assert active_version(fresh_store) == first
    latest = policy_versions.list_refusals(fresh_store, 1).refusals[0]
    assert latest.refused.version == source.version()
    assert list(latest.refused.reasons) == list(rolled.activation.reasons)


def test_refusals_come_newest_first_a_page_at_a_time(fresh_store):
    for number in range(5):
        record_refusal(fresh_store, f"v{number}", [f"reason {number}"], "dave", "cli")
    seen, cursor = [], None
    while True:
        page = policy_versions.list_refusals(fresh_store, 2, cursor)
        seen += [entry.refused.version for entry in page.refusals]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["v4", "v3", "v2", "v1", "v0"]
    assert page.refusals[-1].refused.reasons == ("reason 0",)
