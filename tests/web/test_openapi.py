"""The OpenAPI document: every route, error and the security scheme, the active policy's
vocabulary, an offline docs page, and every body it allows is accepted."""

import re

import pytest

from tests.conftest import auth


def test_openapi_document_covers_every_route_error_and_the_security_scheme(app):
    spec = app.test_client().get("/openapi.json").json
    routes = {re.sub(r"<\w+:", "<", rule.rule) for rule in app.url_map.iter_rules()
              if rule.endpoint.split(".")[0] in app.blueprints and rule.endpoint != "api-docs"
              and not rule.endpoint.startswith("api-docs.")
              and not rule.endpoint.startswith("page.")}  # the page is not API
    documented = {path.replace("{", "<").replace("}", ">") for path in spec["paths"]}
    assert routes == documented
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    decide = spec["paths"]["/v1/decisions"]["post"]
    assert decide["requestBody"]["content"]["application/json"]["schema"]
    for code in ("400", "401", "409", "413", "415", "422", "503"):
        assert "application/problem+json" in decide["responses"][code]["content"]
    assert spec["paths"]["/healthz"]["get"]["security"] == []


def test_every_api_operation_declares_the_problems_every_call_can_meet(app):
    """401 (credentials), 403 (a role the policy lost, or not the policy owner's), 414 and
    431 (gunicorn's limits), 422 (a query argument given twice), 503 (the database): the only
    call open to every role is reading the policy."""
    spec = app.test_client().get("/openapi.json").json
    operations = [(method, path, operation) for path, item in spec["paths"].items()
                  if path.startswith("/v1/") for method, operation in item.items()
                  if method != "parameters"]
    assert len(operations) >= 20
    for method, path, operation in operations:
        declared = set(operation["responses"])
        everyone = (method, path) == ("get", "/v1/policy")
        expected = {"401", "414", "422", "431", "503"} | (set() if everyone else {"403"})
        assert expected <= declared, (method, path, declared)


def test_every_path_id_states_its_longest_length_and_a_decision_id_is_never_preview(app):
    spec = app.test_client().get("/openapi.json").json
    ids = [parameter for item in spec["paths"].values()
           for parameter in item.get("parameters", []) if parameter["in"] == "path"]
    assert len(ids) >= 10
    for parameter in ids:
        assert parameter["schema"]["maxLength"] in (64, 80, 100), parameter
    shown = spec["paths"]["/v1/decisions/{decision_id}"]["parameters"][0]["schema"]
    assert shown["not"] == {"enum": ["preview"]}
    # GET of the preview's path is a 405 (it takes POST alone): the operation says so
    assert "405" in spec["paths"]["/v1/decisions/{decision_id}"]["get"]["responses"]
    assert app.test_client().get("/v1/decisions/preview", headers=auth()).status_code == 405
    response = app.test_client().get("/v1/decisions/" + "d" * 65, headers=auth())
    assert response.status_code == 422 and "decision_id" in response.json["errors"]


def test_the_calls_that_take_an_idempotency_key_say_so(app):
    spec = app.test_client().get("/openapi.json").json
    taking = {(method, path) for path, item in spec["paths"].items()
              for method, operation in item.items() if method != "parameters"
              if any(p["in"] == "header" and p["name"] == "Idempotency-Key"
                     for p in operation.get("parameters", ()))}
    assert taking == {("post", "/v1/decisions/{decision_id}/grants"),
                      ("post", "/v1/decisions/{decision_id}/outcome"),
                      ("post", "/v1/offers/{offer_id}/grant"),
                      ("post", "/v1/offers/{offer_id}/approval-request"),
                      ("post", "/v1/approvals/{request_id}/approve"),
                      ("post", "/v1/approvals/{request_id}/reject")}
    for method, path in taking:
        path_ids = [p for p in spec["paths"][path].get("parameters", ())
                    + spec["paths"][path][method].get("parameters", []) if p["in"] == "path"]
        assert path_ids, (method, path)  # the path's own parameters are kept


def test_the_docs_page_needs_no_network(app):
    client = app.test_client()
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "https://" not in html and "http://" not in html
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f"/docs/static/{asset}" in html
        served = client.get(f"/docs/static/{asset}")
        assert served.status_code == 200 and len(served.data) > 10_000
    assert client.get("/docs/static/../../pyproject.toml").status_code == 404
    # Not the package's sample page, which loads a document from elsewhere on this origin.
    for other in ("index.html", "swagger-initializer.js", "swagger-ui.js.map"):
        assert client.get(f"/docs/static/{other}").status_code == 404
    # A key is pasted into it: no other site frames it.
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("path", "key"), [("/v1/me", "agent"), ("/v1/me", None),
                                           ("/v1/customers/C-1/history", "agent"),
                                           ("/v1/decisions?since=2026-11-01", "manager")])
def test_api_answers_are_kept_by_no_cache_nor_sniffed(app, path, key):
    """They hold customers' incidents and what they were granted: errors too."""
    answer = app.test_client().get(path, headers=auth(key) if key else {})
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_the_document_states_the_active_policys_vocabulary(app, shipped):
    spec = app.test_client().get("/openapi.json").json
    policy = shipped.policy
    schemas = spec["components"]["schemas"]
    assert spec["info"]["x-policy"] == {"name": policy.name, "version": policy.version}
    assert schemas["Order"]["properties"]["currency"]["enum"] == list(policy.currencies)
    assert schemas["Failure"]["properties"]["category"]["enum"] == list(
        policy.failure_categories)
    assert schemas["Customer"]["properties"]["tier"]["enum"] == list(policy.customer_tiers)
    assert set(schemas["CustomerAsk"]["properties"]["remedy"]["enum"]) == set(
        policy.remedy_kinds)
    context = schemas["Incident"]["properties"]["context"]
    assert set(context["properties"]) == set(policy.context)
    assert context["properties"]["days_since_delivery"]["type"] == "integer"
    assert context["additionalProperties"] is False


@pytest.mark.slow
def test_every_body_the_document_allows_is_accepted(app):
    """Bodies generated from the document get a decision (or a replay, or 409 for an incident
    id generated twice); the one rule it cannot state is the policy's first day."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    client = app.test_client()
    operation = schemathesis.openapi.from_dict(client.get("/openapi.json").json)[
        "/v1/decisions"]["POST"]
    refused = []

    @settings(max_examples=150, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def post(case):
        response = client.post("/v1/decisions", json=case.body, headers=auth("manager"))
        fields = set((response.json or {}).get("errors", {}))
        if response.status_code not in (200, 201, 409) and fields != {"failure.occurred_on"}:
            refused.append((case.body, response.json))

    post()
    assert refused == []


def test_the_document_states_the_checks_made_beyond_each_field(app):
    """Offers of a grant set named once each; a replay candidate names exactly one of a
    version and a folder (both are 422s the document must not allow)."""
    schemas = app.test_client().get("/openapi.json").json["components"]["schemas"]
    assert schemas["GrantSet"]["properties"]["offers"]["uniqueItems"] is True
    candidate = schemas["ReplayCandidate"]
    assert (candidate["minProperties"], candidate["maxProperties"]) == (1, 1)
