"""API keys: a request without a known key is a 401 problem; keys naming a role the policy
lacks stop the service at start."""

import pytest

from tests.conftest import auth, design_example, test_settings

PROBLEM = "application/problem+json"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer nope"},
                                     {"Authorization": "Bearer "}])
def test_missing_or_unknown_key_is_401(client, headers):
    response = client.post("/v1/decisions", json=design_example(), headers=headers)
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_keys_naming_roles_the_policy_lacks_are_refused_at_start(shipped, tmp_path):
    from service.web.app_factory import ConfigError, create_app

    keys = tmp_path / "keys.yaml"
    keys.write_text("keys:\n  - {principal: x, role: ceo, sha256: " + "ab" * 32 + "}\n")
    with pytest.raises(ConfigError, match="ceo"):
        create_app(test_settings(api_keys_file=keys), active_policy=shipped)


def api_routes(app):
    """Every API route and method, with its view, path ids no row could have (too long) and
    a query string no route accepts."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", "x" * 300)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path + "?limit=0&since=soon&nonsense=1", app.view_functions[rule.endpoint]


def api_calls(app):
    return [(method, path) for method, path, _ in api_routes(app)]


def test_every_api_call_without_a_key_is_401_before_its_input_is_read(client, app):
    """Whatever else is wrong with a request (a body that is not JSON, a bad query, path ids
    too long to exist), a caller without a key is told that first; nothing else is said."""
    calls = list(api_calls(app))
    assert len(calls) >= 20
    for method, path in calls:
        response = client.open(path, method=method, data=b"{not json",
                               content_type="application/json",
                               headers={"Idempotency-Key": "\u0000"})
        assert response.status_code == 401, (method, path, response.json)
        assert response.mimetype == PROBLEM and "errors" not in response.json


def test_which_methods_a_route_takes_needs_no_key(client):
    response = client.open("/v1/decisions", method="OPTIONS")
    assert response.status_code == 200
    assert {"GET", "POST"} <= set(response.headers["Allow"].split(", "))


def test_each_request_is_authenticated_anew_in_one_app_context(app, client):
    """Flask keeps `g` for as long as an app context is pushed, across requests: the caller
    found for one request is never the caller of the next."""
    with app.app_context():
        assert client.get("/v1/me", headers=auth("manager")).json["principal"] == "dev-manager"
        assert client.get("/v1/me").status_code == 401
        assert client.get("/v1/me", headers={"Authorization": "Bearer wrong"}
                          ).status_code == 401
        assert client.get("/v1/me", headers=auth("agent")).json["principal"] == "dev-agent"


def test_a_repeated_argument_on_a_route_that_is_not_there_is_still_404_or_405(client):
    assert client.get("/v1/nothere?x=1&x=2").status_code == 404
    assert client.delete("/v1/approvals?x=1&x=2", headers=auth("manager")).status_code == 405


def test_a_role_the_policy_lost_is_403_on_every_api_call_before_its_input_is_read(
        fresh_store, tmp_path):
    """A server follows a version (activated elsewhere, as the CLI may) without a role its
    keys name: that role's callers get 403 on every API call but reading the policy (which
    says why), whatever else is wrong with the request; never a 500."""
    from service.app.active_policy import ActivePolicy, PolicySource, load_source
    from service.app.policy_activation import activate
    from service.web.app_factory import create_app
    from tests.support.policy_files import copy_policy, renamed_role, rewrite

    folder = copy_policy(tmp_path / "policy")
    started = ActivePolicy.load(folder)
    app = create_app(test_settings(), active_policy=started, store=fresh_store)
    client = app.test_client()
    rewrite(folder, lambda document: renamed_role(document, "supervisor", "senior"))
    source = PolicySource.read(folder)
    loaded = load_source(source)
    try:
        assert not activate(fresh_store, source, loaded.policy, "someone", "cli").refused
    finally:
        loaded.program.close()
    holder = app.extensions["amends.holder"]
    holder.forked()
    holder.follow()
    try:
        assert "supervisor" not in holder.current.policy.roles
        for method, path in api_calls(app):
            response = client.open(path, method=method, data=b"{not json",
                                   content_type="application/json", headers=auth("supervisor"))
            expected = 200 if (method, path.split("?")[0]) == ("GET", "/v1/policy") else 403
            if expected == 200:  # its query is not read
                response = client.get("/v1/policy", headers=auth("supervisor"))
            assert response.status_code == expected, (method, path, response.json)
        listed = client.get("/v1/approvals?status=pending", headers=auth("supervisor"))
        assert listed.status_code == 403
        assert "not defined by policy" in listed.json["detail"]
    finally:
        started.program.close()


def test_routes_for_policy_owners_refuse_other_roles_before_reading_their_input(app, client):
    from service.web.auth import _ACCESS, _OWNERS

    owners_only = [(method, path) for method, path, view in api_routes(app)
                   if getattr(view, _ACCESS, None) == _OWNERS]
    assert len(owners_only) >= 9
    for method, path in owners_only:
        response = client.open(path, method=method, data=b"{not json",
                               content_type="application/json", headers=auth("supervisor"))
        assert response.status_code == 403, (method, path, response.json)
        assert "policy_owner" in response.json["detail"]
    for path in ("/v1/decisions", "/v1/reports/outcomes?by=foo", "/v1/policy/versions?limit=0"):
        assert client.get(path, headers=auth()).status_code == 403, path


@pytest.mark.parametrize(("content", "fault"), [
    (b"\xff\xfek\x00e\x00y\x00s\x00:\x00", "is not UTF-8 text"),  # saved as UTF-16
    ("keys:\n  - principal: caf\u00e9\n".encode("latin-1"), "is not UTF-8 text"),
    (b"keys: [\n", "is not valid YAML: line 2, column 1: "),
    (b"keys:\n  - {principal: x, role: agent\n", "is not valid YAML: line 3, column 1: "),
    (b"keys:\n\t- x\n", "is not valid YAML: line 2, column 1: "),
])
def test_a_key_file_that_cannot_be_read_is_said_in_one_line(tmp_path, content, fault):
    """Not UTF-8 (a traceback before), or not YAML (PyYAML's message of five lines, quoting
    the file): one line naming the file and the fault."""
    from service.web.auth import KeyFileError, KeyRing

    keys = tmp_path / "keys.yaml"
    keys.write_bytes(content)
    with pytest.raises(KeyFileError) as refused:
        KeyRing.load(keys)
    said = str(refused.value)
    assert said.startswith(f"API key file {keys} {fault}"), said
    assert "\n" not in said


def test_serve_says_an_unreadable_key_file_in_one_line_exit_2(tmp_path, monkeypatch, capsys):
    from service.cli import main

    keys = tmp_path / "keys.yaml"
    keys.write_bytes(b"\xff\xfek\x00")
    monkeypatch.setenv("AMENDS_API_KEYS_FILE", str(keys))
    monkeypatch.setenv("AMENDS_DATA_DIR", str(tmp_path / "data"))
    for name in ("AMENDS_DATABASE_URL", "DATABASE_URL", "AMENDS_HOST", "AMENDS_PORT",
                 "AMENDS_POLICY", "AMENDS_METRICS_DIR"):
        monkeypatch.delenv(name, raising=False)
    # serve names its metrics folder here for its workers: as it was, after the test
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err == f"amends: API key file {keys} is not UTF-8 text (byte 0 cannot be read)\n"
