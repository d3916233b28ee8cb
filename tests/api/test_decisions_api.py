"""POST /v1/decisions and friends through the Flask test client."""

import json

import pytest

from tests.conftest import auth, design_example, test_settings

PROBLEM = "application/problem+json"


def post(client, body, role="agent", **kwargs):
    headers = {**auth(role), **kwargs.pop("headers", {})}
    if isinstance(body, bytes | str):
        return client.post("/v1/decisions", data=body, headers=headers,
                           content_type=kwargs.pop("content_type", "application/json"))
    return client.post("/v1/decisions", json=body, headers=headers)


def test_decision_follows_the_contract(client):
    body = design_example()
    response = post(client, body)
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    decision = response.json
    assert list(decision)[:5] == ["decision_id", "incident_id", "policy", "role",
                                  "prior_failures"]
    assert decision["incident_id"] == body["incident_id"]
    assert decision["policy"]["name"] == "default" and len(decision["policy"]["version"]) == 16
    assert decision["recovery"]["outlook"] == "likely"
    assert {"name": "first_failure", "effect": "helps", "rule": "first-failure"} in \
        decision["recovery"]["factors"]
    assert decision["steps"][-1] == {"step": "follow_up", "after_days": 3}
    ask, capped, *policy_offers = decision["offers"]
    assert ask["remedy"] == "refund" and ask["approval"] == "required"
    assert ask["approver_role"] == "team_lead"
    assert ask["value"] == {"amount": "120.00", "currency": "EUR"}
    assert capped["variant"] == "capped" and capped["capped_from"] == ask["id"]
    assert capped["approval"] == "not_required" and capped["approver_role"] is None
    discount = next(o for o in policy_offers if o["remedy"] == "discount")
    assert discount["percent"] == "10" and discount["value"]["amount"] == "12.00"
    assert discount["rule"] == "discount-minor" and discount["reason"]
    ids = [o["id"] for o in decision["offers"]]
    assert len(set(ids)) == len(ids) and all(i.startswith(decision["decision_id"]) for i in ids)
    assert {"rule": "first-failure", "description": "A first failure can be recovered well; "
            "customers give you one chance.", "priority": 100} in decision["trace"]


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_responses_match_the_documented_schema(client, role):
    from schemas.decision import DecisionSchema

    for body in (design_example(), design_example(customer_ask=None),
                 design_example(failure={"category": "cancelled_service", "severity": 5,
                                         "avoidable": True})):
        response = post(client, body, role)
        assert response.status_code == 201
        assert DecisionSchema().validate(response.json) == {}
        assert DecisionSchema().dump(response.json) == response.json


def test_role_comes_from_the_key_and_only_approvals_depend_on_it(client):
    agent = post(client, design_example(customer__id="C-agent"), "agent").json
    lead = post(client, design_example(customer__id="C-lead"), "team_lead").json
    assert agent["role"] == "agent" and lead["role"] == "team_lead"

    def full(decision):
        return [(o["remedy"], o["value"], o["percent"], o["rule"]) for o in decision["offers"]
                if o["variant"] == "full"]


    assert full(agent) == full(lead)
    assert agent["offers"][0]["approval"] == "required"
    assert lead["offers"][0]["approval"] == "not_required"


def test_the_body_cannot_set_the_role(client):
    body = design_example()
    body["role"] = "manager"
    response = post(client, body)
    assert response.status_code == 422
    assert "role" in response.json["errors"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer nope"},
                                     {"Authorization": "Bearer "}])
def test_missing_or_unknown_key_is_401(client, headers):
    response = client.post("/v1/decisions", json=design_example(), headers=headers)
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def with_field(path, value):
    body = design_example()
    section, field = path.split(".")
    if value is DELETE:
        del body[section][field]
    else:
        body[section][field] = value
    return body


DELETE = object()

BAD_FIELDS = [
    ("order.currency", "XXX"),
    ("order.currency", "CHF"),
    ("order.value", "-1.00"),
    ("order.value", "1e30"),
    ("order.value", 120.0),
    ("order.value", 120),
    ("order.value", "NaN"),
    ("order.value", "12.345"),
    ("order.value", DELETE),
    ("order.shipping_fee", "Infinity"),
    ("failure.severity", "high"),
    ("failure.severity", 0),
    ("failure.severity", 2.5),
    ("failure.severity", True),
    ("failure.avoidable", "yes"),
    ("failure.avoidable", 1),
    ("failure.category", "volcano"),
    ("failure.description", "x" * 3000),
    ("failure.occurred_on", "yesterday"),
    ("customer.prior_failures", 10**40),
    ("customer.prior_failures", -1),
    ("customer.tier", "diamond"),
    ("customer.id", ""),
    ("customer_ask.remedy", "cash"),
    ("customer_ask.amount", "lots"),
]


@pytest.mark.parametrize(("path", "value"), BAD_FIELDS)
def test_bad_fields_are_422_naming_the_field(client, path, value):
    response = post(client, with_field(path, value))
    assert response.status_code == 422, response.json
    assert response.mimetype == PROBLEM
    assert path in response.json["errors"], response.json
    assert response.json["status"] == 422 and response.json["detail"]


@pytest.mark.parametrize(("context", "field"), [
    ({"weather": "storm"}, "context.weather"),
    ({"days_since_delivery": "3"}, "context.days_since_delivery"),
    ({"days_since_delivery": 2**70}, "context.days_since_delivery"),
    ({"customer_rejects_product": "true"}, "context.customer_rejects_product"),
    ({"Bad-Name": 1}, "context"),
])
def test_undeclared_or_mistyped_context_is_422(client, context, field):
    response = post(client, design_example(context=context))
    assert response.status_code == 422
    assert any(key.startswith(field) for key in response.json["errors"]), response.json


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"{not json", "application/json", 400),
    (b"", "application/json", 400),
    (b"[1, 2]", "application/json", 422),
    (b"null", "application/json", 422),
    (b'"text"', "application/json", 422),
    (b'{"incident_id": NaN}', "application/json", 400),
    (b"[" * 20000 + b"]" * 20000, "application/json", 400),
    (b"\xff\xfe", "application/json", 400),
    (json.dumps(design_example()).encode(), "text/plain", 415),
    (json.dumps(design_example()).encode(), "application/x-www-form-urlencoded", 415),
    (b"{" + b'"a": "' + b"x" * 70000 + b'"}', "application/json", 413),
])
def test_malformed_bodies_are_4xx_problems(client, body, content_type, status):
    response = post(client, body, content_type=content_type)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == PROBLEM
    problem = response.json
    assert problem["status"] == status and problem["title"] and problem["detail"]


def test_unknown_routes_and_methods_are_problems(client):
    assert client.get("/v1/nope").mimetype == PROBLEM
    response = client.get("/v1/decisions", headers=auth())
    assert response.status_code == 405 and response.mimetype == PROBLEM


def test_policy_view(client):
    assert client.get("/v1/policy").status_code == 401
    policy = client.get("/v1/policy", headers=auth()).json
    assert policy["name"] == "default" and policy["rule_count"] == 28
    assert policy["escalation"] == ["agent", "team_lead", "supervisor", "manager"]
    agent = policy["roles"][0]
    assert agent["per_incident_limit"] == {"EUR": "50.00", "GBP": "45.00", "USD": "55.00"}
    assert "refund" not in agent["remedies"]
    assert {c["name"] for c in policy["context"]} == {"customer_rejects_product",
                                                      "days_since_delivery"}


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"


def test_keys_naming_roles_the_policy_lacks_are_refused_at_start(shipped, tmp_path):
    from service.web.app_factory import ConfigError, create_app

    keys = tmp_path / "keys.yaml"
    keys.write_text("keys:\n  - {principal: x, role: ceo, sha256: " + "ab" * 32 + "}\n")
    with pytest.raises(ConfigError, match="ceo"):
        create_app(test_settings(api_keys_file=keys), active_policy=shipped)
