"""API keys: a request without a known key is a 401 problem; keys naming a role the policy
lacks stop the service at start."""

import pytest

from tests.conftest import design_example, test_settings

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
