"""POST /v1/decisions/preview (SQLite and PostgreSQL): it decides as POST /v1/decisions would,
trace included, reading the same history and running totals, and stores nothing."""

import json

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from service.store.models import (
    ApprovalRequestRow,
    DecisionRow,
    GrantRow,
    IdempotencyRow,
    OfferRow,
    OutcomeRow,
)
from tests.conftest import KEYS, auth, design_example

PROBLEM = "application/problem+json"
TABLES = (DecisionRow, OfferRow, GrantRow, ApprovalRequestRow, OutcomeRow, IdempotencyRow)


def preview(client, body, role="agent", **kwargs):
    headers = {**auth(role), **kwargs.pop("headers", {})}
    if isinstance(body, bytes | str):
        return client.post("/v1/decisions/preview", data=body, headers=headers,
                           content_type=kwargs.pop("content_type", "application/json"))
    return client.post("/v1/decisions/preview", json=body, headers=headers)


def post(client, body, role="agent", **kwargs):
    headers = {**auth(role), **kwargs.pop("headers", {})}
    if isinstance(body, bytes | str):
        return client.post("/v1/decisions", data=body, headers=headers,
                           content_type=kwargs.pop("content_type", "application/json"))
    return client.post("/v1/decisions", json=body, headers=headers)


def rows(store) -> dict[str, int]:
    with store.transaction() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in TABLES}


def decisions_counted() -> float:
    return sum(REGISTRY.get_sample_value("amends_decisions_total", {"outlook": outlook}) or 0
               for outlook in ("likely", "uncertain", "unlikely"))


def comparable(document: dict) -> dict:
    """The decision with its id written as ID (offer ids too), without what only says when
    it was made."""
    text = json.dumps(document).replace(document["decision_id"], "ID")
    shown = json.loads(text)
    shown.pop("decided_at", None)
    if shown["grant_now"] is not None:
        shown["grant_now"].pop("as_of")
    return shown


def test_a_preview_is_the_decision_with_its_trace_under_a_preview_id(client):
    body = design_example()
    response = preview(client, body)
    assert response.status_code == 200 and response.mimetype == "application/json"
    decision = response.json
    assert decision["decision_id"].startswith("preview-")
    assert decision["incident_id"] == body["incident_id"]
    assert decision["recovery"]["outlook"] == "likely" and decision["prior_failures"] == 0
    assert decision["trace"] and all(entry["rule"] and entry["description"]
                                     for entry in decision["trace"])
    assert {"rule": "first-failure", "description": "A first failure can be recovered well; "
            "customers give you one chance.", "priority": 100} in decision["trace"]
    assert all(offer["id"].startswith(decision["decision_id"] + ".")
               for offer in decision["offers"])
    assert decision["grant_now"]["as_of"] and "decided_at" not in decision

    from schemas.decision import DecisionSchema

    assert DecisionSchema().validate(decision) == {}


def test_a_preview_stores_nothing_and_counts_in_no_metric(client, store):
    body = design_example()
    before, counted = rows(store), decisions_counted()
    for role in KEYS:
        assert preview(client, body, role).status_code == 200
    assert preview(client, body, headers={"Idempotency-Key": "preview-1"}).status_code == 200
    assert rows(store) == before
    assert decisions_counted() == counted


def test_a_preview_changes_no_history(client, store):
    first = design_example()
    customer = first["customer"]["id"]
    assert post(client, first).json["prior_failures"] == 0

    for _ in range(3):
        tried = preview(client, design_example(customer__id=customer)).json
        assert tried["prior_failures"] == 1  # the stored decision counts; previews do not
    assert rows_of_customer(store, customer) == 1
    following = post(client, design_example(customer__id=customer)).json
    assert following["prior_failures"] == 1
    history = client.get(f"/v1/customers/{customer}/history", headers=auth()).json
    assert len(history["incidents"]) == 2


def rows_of_customer(store, customer_id: str) -> int:
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(DecisionRow)
                              .where(DecisionRow.customer_id == customer_id))


@pytest.mark.parametrize("role", list(KEYS))
def test_a_preview_is_what_post_decides_for_a_fresh_incident(client, role):
    for body in (design_example(), design_example(customer_ask=None),
                 design_example(failure={"category": "cancelled_service", "severity": 5,
                                         "avoidable": True}),
                 design_example(customer__prior_failures=2)):
        tried = preview(client, body, role)
        made = post(client, body, role)
        assert (tried.status_code, made.status_code) == (200, 201)
        assert comparable(tried.json) == comparable(made.json)


def test_a_preview_reads_the_running_totals_as_post_does(client):
    """After a team lead refunds the order, an agent may grant nothing more on it alone (the
    order's cap is spent): a preview sees that, and the customer's earlier incident, as POST
    does."""
    first_body = design_example()
    first = post(client, first_body, "team_lead").json
    refund = next(o for o in first["offers"] if o["remedy"] == "refund")
    assert client.post(f"/v1/offers/{refund['id']}/grant",
                       headers=auth("team_lead")).status_code == 201
    body = design_example(customer__id=first_body["customer"]["id"],
                          order__id=first_body["order"]["id"])
    tried, made = preview(client, body).json, post(client, body).json
    assert comparable(tried) == comparable(made)
    assert tried["prior_failures"] == 1
    assert tried["grant_now"]["offers"] == []
    assert all(offer["approval"] == "required" for offer in tried["offers"])
    fresh = preview(client, design_example(customer__prior_failures=1)).json
    assert fresh["grant_now"]["offers"]


def test_preview_ids_name_nothing_that_can_be_granted_or_read(client):
    tried = preview(client, design_example()).json
    offer_id = tried["offers"][0]["id"]
    assert client.post(f"/v1/offers/{offer_id}/grant", headers=auth()).status_code == 404
    assert client.post(f"/v1/decisions/{tried['decision_id']}/grants", headers=auth(),
                       json={"offers": [offer_id]}).status_code == 404
    assert client.get(f"/v1/decisions/{tried['decision_id']}",
                      headers=auth()).status_code == 404


def test_an_incident_already_decided_is_decided_anew_not_counting_itself(client, store):
    body = design_example()
    made = post(client, body).json
    before = rows(store)
    again = preview(client, body)
    assert again.status_code == 200
    assert comparable(again.json) == comparable(made)
    other = dict(body, failure={"category": "cancelled_service", "severity": 5,
                                "avoidable": True})
    assert post(client, other).status_code == 409  # POST would refuse another body...
    tried = preview(client, other)  # ...a preview tries it out
    assert tried.status_code == 200 and tried.json["prior_failures"] == 0
    assert tried.json["recovery"]["outlook"] != "likely"
    assert rows(store) == before


@pytest.mark.parametrize(("body", "content_type"), [
    (b"{not json", "application/json"),
    (b"", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"null", "application/json"),
    (b'{"incident_id": NaN}', "application/json"),
    (b'{"incident_id": 1.5}', "application/json"),
    (json.dumps(design_example()).encode(), "text/plain"),
    (b"{" + b'"a": "' + b"x" * 70000 + b'"}', "application/json"),
    (json.dumps(design_example(failure__severity=9)).encode(), "application/json"),
    (json.dumps(design_example(customer__tier="diamond")).encode(), "application/json"),
    (json.dumps(design_example(context={"weather": "storm"})).encode(), "application/json"),
    (json.dumps(design_example(customer__id="C\u0000")).encode(), "application/json"),
])
def test_bad_bodies_are_the_same_4xx_problems_as_for_post(client, store, body, content_type):
    before = rows(store)
    tried = preview(client, body, content_type=content_type)
    made = post(client, body, content_type=content_type)
    assert 400 <= tried.status_code < 500 and tried.mimetype == PROBLEM
    assert tried.status_code == made.status_code, tried.get_data(as_text=True)[:300]
    assert tried.json.get("errors") == made.json.get("errors")
    assert rows(store) == before


def test_a_preview_needs_a_key(client):
    response = client.post("/v1/decisions/preview", json=design_example())
    assert response.status_code == 401 and response.mimetype == PROBLEM
    wrong = client.post("/v1/decisions/preview", json=design_example(),
                        headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_the_document_sends_trying_things_out_to_the_preview(client):
    spec = client.get("/openapi.json").json
    assert "/v1/decisions/preview" in spec["paths"]["/v1/decisions"]["post"]["description"]
    tried = spec["paths"]["/v1/decisions/preview"]["post"]
    assert tried["requestBody"]["content"]["application/json"]["schema"] == \
        spec["paths"]["/v1/decisions"]["post"]["requestBody"]["content"][
            "application/json"]["schema"]
    assert "preview-" in tried["responses"]["200"]["description"]
    for code in ("400", "401", "413", "415", "422", "503"):
        assert PROBLEM in tried["responses"][code]["content"]


def test_the_command_line_previews_with_the_databases_history(client, store, monkeypatch,
                                                              capsys):
    """`amends decide --with-history` reads history and running totals from
    AMENDS_DATABASE_URL as the preview does, and stores nothing either."""
    import io

    from service.cli import main

    first = design_example()
    assert post(client, first).status_code == 201
    body = design_example(customer__id=first["customer"]["id"])
    monkeypatch.setenv("AMENDS_DATABASE_URL", store.url)
    before = rows(store)
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(body)))
    capsys.readouterr()
    assert main(["decide", "--role", "agent", "--with-history", "--principal", "dev-agent"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["decision_id"].startswith("preview-") and printed["prior_failures"] == 1
    assert comparable(printed) == comparable(preview(client, body).json)
    assert rows(store) == before
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(body)))
    assert main(["decide", "--role", "agent"]) == 0  # without it: no history
    assert json.loads(capsys.readouterr().out)["prior_failures"] == 0


def test_the_command_line_previews_with_the_databases_active_version(fresh_store, tmp_path,
                                                                     monkeypatch, capsys):
    """With --with-history the policy is the version active in the database (as the
    service decides), not the folder, unless --policy names one."""
    import io

    from service.app.active_policy import ActivePolicy, PolicySource
    from service.app.policy_activation import activate
    from service.cli import main
    from service.config import shipped_policy
    from tests.support.policy_files import copy_policy, edit

    folder = copy_policy(tmp_path / "policy")
    edit(folder, "policy.yaml", "name: default", "name: stricter")
    active = ActivePolicy.load(folder)
    try:
        activate(fresh_store, PolicySource.read(folder), active.policy, "alice", "cli")
    finally:
        active.program.close()
    monkeypatch.setenv("AMENDS_DATABASE_URL", fresh_store.url)
    body = json.dumps(design_example())
    for extra, name in (([], "stricter"), (["--policy", str(shipped_policy())], "default")):
        monkeypatch.setattr("sys.stdin", io.StringIO(body))
        capsys.readouterr()
        assert main(["decide", "--role", "agent", "--with-history", *extra]) == 0
        assert json.loads(capsys.readouterr().out)["policy"]["name"] == name


def test_the_preview_asked_with_get_is_a_405_allowing_post(client):
    response = client.get("/v1/decisions/preview", headers=auth())
    assert response.status_code == 405 and response.mimetype == PROBLEM
    assert allowed(response) == {"POST", "OPTIONS"}


def test_options_on_the_preview_allow_post_alone_not_a_stored_decisions_get(client):
    response = client.options("/v1/decisions/preview", headers=auth())
    assert allowed(response) == {"POST", "OPTIONS"}
    assert "GET" in allowed(client.options("/v1/decisions/preview-1", headers=auth()))


def allowed(response) -> set[str]:
    return {method.strip() for method in response.headers["Allow"].split(",")}
