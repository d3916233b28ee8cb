"""Whatever goes wrong outside a route still answers as application/problem+json."""

from tests.conftest import auth

PROBLEM = "application/problem+json"


def test_unknown_routes_and_methods_are_problems(client):
    assert client.get("/v1/nope").mimetype == PROBLEM
    response = client.put("/v1/decisions", headers=auth())
    assert response.status_code == 405 and response.mimetype == PROBLEM
