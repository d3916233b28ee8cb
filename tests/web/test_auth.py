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


def api_calls(app):
    """Every API route and method, with path ids no row could have (too long) and a query
    string no route accepts."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", "x" * 300)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path + "?limit=0&since=soon&nonsense=1"


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
