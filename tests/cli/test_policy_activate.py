"""`amends policy activate DIR`: checks, compiles and self-tests a folder, then makes it the
active version in the configured database; prints the version or every problem, and exits
non-zero on any refusal."""

from __future__ import annotations

from service.cli import main
from service.policy.loader import policy_version
from service.store.policy_queries import active_version
from service.store.unit_of_work import UnitOfWork
from tests.support.policy_files import copy_policy, edit, rewrite, without_gbp
from tests.support.stored_rows import store_open_gbp_offer


def activate(monkeypatch, capsys, store, folder, *options):
    monkeypatch.setenv("AMENDS_DATABASE_URL", store.url)
    code = main(["policy", "activate", str(folder), *options])
    return code, capsys.readouterr()


def test_a_valid_folder_is_activated_and_again_is_no_change(fresh_store, tmp_path,
                                                            monkeypatch, capsys):
    folder = copy_policy(tmp_path / "policy")
    version = policy_version(folder)
    code, out = activate(monkeypatch, capsys, fresh_store, folder, "--by", "ops-alice")
    assert code == 0 and f"version {version} activated by ops-alice" in out.out
    assert active_version(fresh_store) == version
    with UnitOfWork(fresh_store) as uow:
        assert (uow.policies.active().activated_by, uow.policies.active().via) == (
            "ops-alice", "cli")
    code, out = activate(monkeypatch, capsys, fresh_store, folder)
    assert code == 0 and "already active" in out.out


def test_a_broken_folder_prints_every_problem_and_activates_nothing(fresh_store, tmp_path,
                                                                    monkeypatch, capsys):
    folder = copy_policy(tmp_path / "policy")
    edit(folder, "remedies.yaml", "failure.category: {none_of:", "failure.categry: {none_of:")
    edit(folder, "roles.yaml", 'per_incident_limit: {EUR: "50.00", USD: "55.00", GBP: "45.00"}',
         'per_incident_limit: {EUR: "50.00", USD: "55.00"}')
    assert main(["policy", "check", str(folder)]) == 1
    checked = capsys.readouterr().out.strip().splitlines()
    assert len(checked) > 1
    code, out = activate(monkeypatch, capsys, fresh_store, folder, "--by", "ops-bob")
    assert code == 1 and out.out.strip().splitlines() == checked
    assert "not activated" in out.err and "Traceback" not in out.err
    assert active_version(fresh_store) is None
    with UnitOfWork(fresh_store) as uow:
        by, refused = uow.policies.refusals(1)[0]
    assert by == "ops-bob" and list(refused.reasons) == checked


def test_a_version_that_would_orphan_stored_work_is_refused(fresh_store, tmp_path,
                                                            monkeypatch, capsys):
    folder = copy_policy(tmp_path / "policy")
    assert activate(monkeypatch, capsys, fresh_store, folder)[0] == 0
    store_open_gbp_offer(fresh_store)  # an open offer in GBP
    before = active_version(fresh_store)
    rewrite(folder, without_gbp)
    code, out = activate(monkeypatch, capsys, fresh_store, folder)
    assert code == 1
    assert out.out.strip() == "1 stored offer is in GBP, which this version drops (decision d-1)"
    assert active_version(fresh_store) == before


def test_a_version_too_slow_to_load_in_a_request_is_refused(fresh_store, tmp_path,
                                                            monkeypatch, capsys):
    """Half the worker timeout (AMENDS_TIMEOUT) at most: every worker of every server loads
    it inside a request. (A limit of a millisecond here; it is 15 s by default.)"""
    monkeypatch.setattr("service.app.policy_activation.load_limit", lambda _timeout: 0.001)
    folder = copy_policy(tmp_path / "policy")
    code, out = activate(monkeypatch, capsys, fresh_store, folder)
    assert code == 1 and out.out.startswith("loading it took ")
    assert "refused for the reasons above" in out.err
    assert active_version(fresh_store) is None
