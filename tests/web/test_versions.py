"""Policy versions through the API, for roles that own the policy: list them, show one, the
refused attempts, what changed between two, and a rollback that changes what new decisions
use (each test on a store of its own, SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.app.active_policy import ActivePolicy, PolicySource
from service.store.policy_queries import active_version
from service.web.app_factory import create_app
from tests.conftest import auth, design_example, test_settings
from tests.support.policy_files import copy_policy, edit, renamed_role, rewrite, without_gbp
from tests.support.stored_rows import store_open_gbp_offer

SHORTER = ("recovery.yaml", "description: After a repeat failure recovery rarely works.",
           "description: Customers give you one chance.")
OWNER = auth("manager")  # the shipped policy's manager is `admin: true`
PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def folder(tmp_path) -> Path:
    return copy_policy(tmp_path / "policy")


@pytest.fixture
def client(fresh_store, folder):
    """A test client on the test's own store, started on `folder` (v1)."""
    active = ActivePolicy.load(folder)
    yield create_app(test_settings(), active_policy=active, store=fresh_store).test_client()
    active.program.close()


@pytest.fixture
def versions(client, folder) -> tuple[str, str]:
    """v1 as started, then v2 (a shorter description) reloaded by the manager."""
    first = client.get("/v1/policy", headers=auth()).json["version"]
    edit(folder, *SHORTER)
    reloaded = client.post("/v1/policy/reload", headers=OWNER)
    assert reloaded.status_code == 200, reloaded.json
    return first, reloaded.json["policy"]["version"]


def decided_by(client) -> str:
    response = client.post("/v1/decisions", json=design_example(), headers=auth())
    assert response.status_code == 201, response.json
    return response.json["policy"]["version"]


@pytest.mark.parametrize("path", ["/v1/policy/versions", "/v1/policy/refusals",
                                  "/v1/policy/versions/{v}", "/v1/policy/versions/{v}/diff/{v}"])
def test_only_roles_that_own_the_policy_read_versions(client, versions, path):
    path = path.format(v=versions[0])
    assert client.get(path).status_code == 401
    for role in ("agent", "team_lead", "supervisor"):
        response = client.get(path, headers=auth(role))
        assert response.status_code == 403 and response.mimetype == PROBLEM_JSON
        assert "policy_owner" in response.json["detail"]
    assert client.get(path, headers=OWNER).status_code == 200


def test_versions_are_listed_newest_first_with_their_activations(client, versions):
    first, second = versions
    listed = client.get("/v1/policy/versions", headers=OWNER).json
    assert listed["active_version"] == second and listed["next_cursor"] is None
    assert [(v["version"], v["active"]) for v in listed["versions"]] == [
        (second, True), (first, False)]
    latest = listed["versions"][0]
    assert latest["first_activated_by"] == "dev-manager"
    assert [(a["activated_by"], a["via"]) for a in latest["activations"]] == [
        ("dev-manager", "api:dev-manager")]
    assert [a["via"] for a in listed["versions"][1]["activations"]] == ["start"]

    page = client.get("/v1/policy/versions?limit=1", headers=OWNER).json
    assert [v["version"] for v in page["versions"]] == [second]
    rest = client.get(f"/v1/policy/versions?limit=1&cursor={page['next_cursor']}",
                      headers=OWNER).json
    assert [v["version"] for v in rest["versions"]] == [first] and rest["next_cursor"] is None
    bad = client.get("/v1/policy/versions?cursor=bm90LWEtY3Vyc29y", headers=OWNER)
    assert bad.status_code == 422 and "cursor" in bad.json["errors"]


def test_a_version_is_shown_with_its_files(client, versions, folder):
    _, second = versions
    shown = client.get(f"/v1/policy/versions/{second}", headers=OWNER).json
    assert shown["version"] == second and shown["active"] and shown["name"] == "default"
    assert shown["files"] == PolicySource.read(folder).texts()
    missing = client.get("/v1/policy/versions/0123456789abcdef", headers=OWNER)
    assert missing.status_code == 404 and missing.mimetype == PROBLEM_JSON


def test_two_versions_are_compared_in_words(client, versions):
    first, second = versions
    compared = client.get(f"/v1/policy/versions/{first}/diff/{second}", headers=OWNER).json
    sentence = ('rule repeat-failure: description "After a repeat failure recovery rarely '
                'works." → "Customers give you one chance."')
    assert compared["changed"] and compared["lines"] == [sentence]
    assert compared["old"] == {"version": first, "name": "default"}
    assert compared["rules"]["changed"] == [{"name": "repeat-failure", "changes": [{
        "what": "description", "change": "changed",
        "old": '"After a repeat failure recovery rarely works."',
        "new": '"Customers give you one chance."', "sentence": sentence}]}]
    assert compared["roles"] == {"added": [], "removed": [], "changed": []}
    assert compared["settings"] == []
    same = client.get(f"/v1/policy/versions/{first}/diff/{first}", headers=OWNER).json
    assert not same["changed"] and same["lines"] == []
    missing = client.get(f"/v1/policy/versions/{first}/diff/0123456789abcdef", headers=OWNER)
    assert missing.status_code == 404


def test_a_rollback_changes_what_new_decisions_use(client, versions, fresh_store):
    first, second = versions
    assert decided_by(client) == second
    response = client.post(f"/v1/policy/versions/{first}/activate", headers=OWNER)
    assert response.status_code == 200, response.json
    assert response.json["changed"] and response.json["version"] == first
    assert (response.json["activation"]["activated_by"],
            response.json["activation"]["via"]) == ("dev-manager", "api:rollback")
    assert active_version(fresh_store) == first
    assert decided_by(client) == first
    assert client.get("/v1/policy", headers=auth()).json["version"] == first
    listed = client.get("/v1/policy/versions", headers=OWNER).json
    assert listed["active_version"] == first
    assert [a["via"] for a in listed["versions"][1]["activations"]] == ["api:rollback", "start"]

    again = client.post(f"/v1/policy/versions/{first}/activate", headers=OWNER)
    assert again.status_code == 200 and not again.json["changed"]
    assert client.post(f"/v1/policy/versions/{first}/activate",
                       headers=auth("supervisor")).status_code == 403
    missing = client.post("/v1/policy/versions/0123456789abcdef/activate", headers=OWNER)
    assert missing.status_code == 404 and active_version(fresh_store) == first


def test_a_rollback_that_would_orphan_stored_work_is_refused(client, folder, fresh_store):
    first = client.get("/v1/policy", headers=auth()).json["version"]
    rewrite(folder, without_gbp)
    assert client.post("/v1/policy/reload", headers=OWNER).status_code == 200
    no_gbp = client.get("/v1/policy", headers=auth()).json["version"]
    assert client.post(f"/v1/policy/versions/{first}/activate", headers=OWNER).json[
        "changed"]
    store_open_gbp_offer(fresh_store, first)  # an open offer in GBP

    refused = client.post(f"/v1/policy/versions/{no_gbp}/activate", headers=OWNER)
    assert refused.status_code == 422 and refused.mimetype == PROBLEM_JSON
    assert refused.json["reasons"] == [
        "1 stored offer is in GBP, which this version drops (decision d-1)"]
    assert refused.json["active_version"] == first
    assert active_version(fresh_store) == first and decided_by(client) == first
    refusals = client.get("/v1/policy/refusals", headers=OWNER).json
    assert refusals["refusals"][0] == {
        "version": no_gbp, "refused_by": "dev-manager",
        "refused_at": refusals["refusals"][0]["refused_at"], "via": "api:rollback",
        "reasons": ["1 stored offer is in GBP, which this version drops (decision d-1)"]}
    assert refusals["next_cursor"] is None


@pytest.mark.parametrize("template", ["/v1/policy/versions/{id}",
                                      "/v1/policy/versions/{id}/diff/0123456789abcdef",
                                      "/v1/policy/versions/0123456789abcdef/diff/{id}"])
@pytest.mark.parametrize("value", ["a\x00b", "x" * 65])
def test_a_version_no_row_can_have_is_422_naming_the_parameter(client, template, value):
    response = client.get(template.format(id=value), headers=OWNER)
    assert response.status_code == 422, response.json
    parameter = ("version" if "diff" not in template
                 else "old_version" if template.index("{id}") < template.index("diff")
                 else "new_version")
    assert list(response.json["errors"]) == [parameter]
    posted = client.post(f"/v1/policy/versions/{value}/activate", headers=OWNER)
    assert posted.status_code == 422 and list(posted.json["errors"]) == ["version"]


def test_the_routes_are_documented(client):
    paths = client.get("/openapi.json").json["paths"]
    for path, method in [("/v1/policy/versions", "get"), ("/v1/policy/refusals", "get"),
                         ("/v1/policy/versions/{version}", "get"),
                         ("/v1/policy/versions/{old_version}/diff/{new_version}", "get"),
                         ("/v1/policy/versions/{version}/activate", "post")]:
        responses = paths[path][method]["responses"]
        assert {"200", "401", "403", "422"} <= set(responses), (path, responses)


def test_a_version_without_a_role_the_api_keys_name_is_refused_here(client, folder,
                                                                   fresh_store):
    """This server's keys name `supervisor`: a version without that role is refused by a
    reload and a rollback here, as at start, rather than served with those keys locked out.
    (The CLI knows no server's keys: it may activate such a version.)"""
    from service.app.active_policy import load_source
    from service.app.policy_activation import activate

    first = client.get("/v1/policy", headers=auth()).json["version"]
    rewrite(folder, lambda document: renamed_role(document, "supervisor", "senior"))
    refused = client.post("/v1/policy/reload", headers=OWNER)
    assert refused.status_code == 422, refused.json
    assert any("supervisor" in reason for reason in refused.json["reasons"])
    assert active_version(fresh_store) == first

    source = PolicySource.read(folder)  # activated as the CLI does
    loaded = load_source(source)
    try:
        assert not activate(fresh_store, source, loaded.policy, "someone", "cli").refused
    finally:
        loaded.program.close()
    holder = client.application.extensions["amends.holder"]
    holder.forked()  # this server follows it (its poll is due)
    holder.follow()
    assert holder.current.policy.version == source.version()
    # What it serves already is no version to refuse: unchanged, not refused.
    reloaded = client.post("/v1/policy/reload", headers=OWNER)
    assert reloaded.status_code == 200 and not reloaded.json["changed"], reloaded.json
    again = client.post(f"/v1/policy/versions/{source.version()}/activate", headers=OWNER)
    assert again.status_code == 200 and not again.json["changed"], again.json
    assert client.post(f"/v1/policy/versions/{first}/activate", headers=OWNER
                       ).status_code == 200
    refused = client.post(f"/v1/policy/versions/{source.version()}/activate", headers=OWNER)
    assert refused.status_code == 422, refused.json
    assert any("supervisor" in reason for reason in refused.json["reasons"])
    assert active_version(fresh_store) == first
