"""`amends policy versions | show | diff | refusals | rollback` on the configured database:
the stored versions with who activated them, one version's files, what changed between two
(or what activating a folder would change), the refused attempts, and a rollback that
activates an earlier version as `amends policy activate` would, or prints why not."""

from __future__ import annotations

import pytest

from service.cli import main
from service.policy.loader import policy_version
from service.store.policy_queries import active_version
from service.store.unit_of_work import UnitOfWork
from tests.support.policy_files import copy_policy, edit, rewrite, without_gbp
from tests.support.stored_rows import store_open_gbp_offer

SHORTER = ("recovery.yaml", "description: After a repeat failure recovery rarely works.",
           "description: Customers give you one chance.")


@pytest.fixture
def amends(fresh_store, monkeypatch, capsys):
    """`amends ...` on the test's own database: (exit code, stdout, stderr)."""
    monkeypatch.setenv("AMENDS_DATABASE_URL", fresh_store.url)

    def amends(*argv: str):
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return amends


@pytest.fixture
def versions(amends, tmp_path):
    """v1 (the shipped policy) activated by alice, then v2 (one description shorter) by bob,
    and the folder (now v2)."""
    folder = copy_policy(tmp_path / "policy")
    first = policy_version(folder)
    assert amends("policy", "activate", str(folder), "--by", "alice")[0] == 0
    edit(folder, *SHORTER)
    second = policy_version(folder)
    assert amends("policy", "activate", str(folder), "--by", "bob")[0] == 0
    return first, second, folder


def test_versions_lists_every_version_with_its_activations(amends, versions):
    first, second, _ = versions
    code, out, _ = amends("policy", "versions")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{second}  default  (active)"
    assert lines[1].endswith("activated by bob via cli")
    assert lines[2] == f"{first}  default"
    assert lines[3].endswith("activated by alice via cli")


def test_versions_on_an_empty_database_says_so(amends):
    code, out, _ = amends("policy", "versions")
    assert code == 0 and "no policy version was ever activated" in out


def test_show_prints_the_files_or_one_of_them(amends, versions):
    first, _, folder = versions
    code, out, _ = amends("policy", "show", first)
    assert code == 0
    assert out.splitlines()[0] == f"policy default version {first}"
    assert "==> roles.yaml <==" in out and "==> tests.yaml <==" in out
    code, out, _ = amends("policy", "show", first, "--file", "recovery.yaml")
    assert code == 0 and "recovery rarely works" in out
    assert out == (copy_policy(folder.parent / "shipped") / "recovery.yaml").read_text()
    code, _, err = amends("policy", "show", first, "--file", "nope.yaml")
    assert code == 1 and "has no file nope.yaml" in err
    code, _, err = amends("policy", "show", "0123456789abcdef")
    assert code == 1 and "No policy version 0123456789abcdef is stored" in err


def test_diff_of_two_stored_versions(amends, versions):
    first, second, _ = versions
    code, out, _ = amends("policy", "diff", first, second)
    assert code == 0
    assert out.splitlines() == [
        f"policy default version {first} → policy default version {second}",
        '  rule repeat-failure: description "After a repeat failure recovery rarely works." '
        '→ "Customers give you one chance."']
    code, out, _ = amends("policy", "diff", second, second)
    assert code == 0 and out.splitlines()[-1] == "  no changes"


def test_diff_previews_what_activating_a_folder_would_change(amends, versions):
    _, second, folder = versions
    edit(folder, "roles.yaml", 'per_incident_limit: {EUR: "50.00"',
         'per_incident_limit: {EUR: "55.00"')
    code, out, _ = amends("policy", "diff", second, str(folder))
    assert code == 0
    assert out.splitlines()[1:] == ["  role agent: per-incident limit in EUR 50.00 → 55.00"]
    edit(folder, "remedies.yaml", "failure.category: {none_of:", "failure.categry: {none_of:")
    code, out, err = amends("policy", "diff", second, str(folder))
    assert code == 1 and "failure.categry" in out and "no diff" in err


def test_rollback_activates_an_earlier_version(amends, versions, fresh_store):
    first, _, _ = versions
    code, out, _ = amends("policy", "rollback", first, "--by", "carol")
    assert code == 0
    assert f"policy default version {first} activated again by carol" in out
    assert active_version(fresh_store) == first
    with UnitOfWork(fresh_store) as uow:
        active = uow.policies.active()
    assert (active.activated_by, active.via) == ("carol", "cli:rollback")
    code, out, _ = amends("policy", "rollback", first)
    assert code == 0 and "already active" in out
    code, _, err = amends("policy", "rollback", "0123456789abcdef")
    assert code == 1 and "is stored" in err and active_version(fresh_store) == first


def test_a_refused_rollback_prints_why_and_is_listed(amends, tmp_path, fresh_store):
    folder = copy_policy(tmp_path / "policy")
    rewrite(folder, without_gbp)
    no_gbp = policy_version(folder)
    assert amends("policy", "activate", str(folder))[0] == 0
    shipped = copy_policy(tmp_path / "shipped")
    assert amends("policy", "activate", str(shipped))[0] == 0
    store_open_gbp_offer(fresh_store)  # an open offer in GBP

    code, out, err = amends("policy", "rollback", no_gbp, "--by", "dave")
    assert code == 1
    assert out.strip() == "1 stored offer is in GBP, which this version drops (decision d-1)"
    assert "not rolled back" in err and "Traceback" not in err
    assert active_version(fresh_store) == policy_version(shipped)
    code, out, _ = amends("policy", "refusals")
    assert code == 0
    head, reason = out.splitlines()[:2]
    assert head.endswith(f"version {no_gbp} refused, by dave via cli:rollback:")
    assert reason == "    1 stored offer is in GBP, which this version drops (decision d-1)"


def test_refusals_on_an_empty_database(amends):
    assert amends("policy", "refusals")[1].strip() == "no refused attempts"
