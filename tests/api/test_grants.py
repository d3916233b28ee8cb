"""Granting offers, approvals and running totals (SQLite and PostgreSQL)."""

import hashlib
import uuid

import pytest
from sqlalchemy import func, select

from service.store.models import GrantRow
from service.web.app_factory import create_app
from tests.conftest import design_example, make_store, test_settings

PRINCIPALS = {  # key -> (principal, role)
    f"key-{name}": (name, role) for name, role in [
        ("agent-1", "agent"), ("agent-2", "agent"), ("agent-3", "agent"),
        ("agent-4", "agent"), ("agent-budget", "agent"), ("lead-1", "team_lead"),
        ("lead-2", "team_lead"),
        ("supervisor-1", "supervisor"), ("manager-1", "manager")]}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def grants_app(request, shipped, tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys") / "keys.yaml"
    keys.write_text("keys:\n" + "".join(
        f"  - {{principal: {p}, role: {r}, sha256: '{hashlib.sha256(k.encode()).hexdigest()}'}}\n"
        for k, (p, r) in PRINCIPALS.items()))
    store = make_store(request.param, tmp_path_factory, request)
    yield create_app(test_settings(api_keys_file=keys), active_policy=shipped, store=store), store
    store.engine.dispose()


@pytest.fixture
def client(grants_app):
    return grants_app[0].test_client()


@pytest.fixture
def store(grants_app):
    return grants_app[1]


def as_(who):
    return {"Authorization": f"Bearer key-{who}"}


def decide(client, who="agent-1", **changes):
    response = client.post("/v1/decisions", json=design_example(**changes), headers=as_(who))
    assert response.status_code == 201, response.json
    return response.json


def offer(decision, remedy, variant="full"):
    return next(o for o in decision["offers"] if o["remedy"] == remedy and o["variant"] == variant)


def grant(client, offer_id, who="agent-1", key=None):
    headers = {**as_(who), **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/v1/offers/{offer_id}/grant", headers=headers)


def grants_stored(store):
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(GrantRow))


def test_grant_within_limits_is_stored_and_shown(client):
    decision = decide(client)
    discount = offer(decision, "discount")
    response = grant(client, discount["id"])
    assert response.status_code == 201
    made = response.json["grant"]
    assert made["value"] == {"amount": "12.00", "currency": "EUR"}
    assert (made["principal"], made["role"]) == ("agent-1", "agent")
    shown = client.get(f"/v1/decisions/{decision['decision_id']}", headers=as_("agent-1")).json
    assert offer(shown, "discount")["state"] == "granted"
    assert shown["grants"] == [made]
    customer = decision["request"]["customer"]["id"] if "request" in decision else \
        shown["request"]["customer"]["id"]
    history = client.get(f"/v1/customers/{customer}/history", headers=as_("agent-1")).json
    assert history["grants"] == [made]
    assert history["incidents"][0]["offers"][2]["state"] in ("granted", "proposed")


def test_an_offer_is_granted_at_most_once_and_one_per_kind(client):
    decision = decide(client)
    credit = offer(decision, "store_credit")
    assert grant(client, credit["id"]).status_code == 201
    again = grant(client, credit["id"], who="agent-2")
    assert again.status_code == 409 and "already granted" in again.json["detail"]
    capped = offer(decision, "store_credit", "capped")
    assert grant(client, capped["id"]).status_code == 409


def test_alternatives_exclude_each_other_and_combining_kinds_combine(client):
    decision = decide(client, "lead-1")
    assert grant(client, offer(decision, "refund")["id"], "lead-1").status_code == 201
    credit = grant(client, offer(decision, "store_credit")["id"], "lead-1")
    assert credit.status_code == 409 and "alternative" in credit.json["detail"]
    assert grant(client, offer(decision, "discount")["id"], "lead-1").status_code == 201
    assert grant(client, offer(decision, "waived_shipping")["id"], "lead-1").status_code == 201


def test_beyond_the_callers_limits_is_403_naming_the_approver_and_stores_nothing(client,
                                                                                 store):
    decision = decide(client)
    before = grants_stored(store)
    response = grant(client, offer(decision, "refund")["id"])
    assert response.status_code == 403
    problem = response.json
    assert problem["approver_role"] == "team_lead"
    assert any("agent may not grant refund" in r for r in problem["reasons"])
    assert grants_stored(store) == before


def test_the_per_incident_limit_covers_all_grants_of_an_incident(client):
    decision = decide(client, "agent-3", order={"id": f"O-{uuid.uuid4().hex[:8]}",
                                               "value": "400.00", "currency": "EUR",
                                               "shipping_fee": "7.50"}, customer_ask=None)
    assert grant(client, offer(decision, "discount")["id"], "agent-3").status_code == 201
    assert grant(client, offer(decision, "waived_shipping")["id"], "agent-3").status_code == 201
    third = grant(client, offer(decision, "store_credit")["id"], "agent-3")
    assert third.status_code == 403 and third.json["approver_role"] == "team_lead"
    assert "per-incident limit of 50.00 EUR (47.50 EUR already granted" in \
        third.json["reasons"][0]


def test_the_per_order_cap_counts_every_incident_on_the_order(client):
    order = {"id": f"O-{uuid.uuid4().hex[:8]}", "value": "400.00", "currency": "EUR"}
    granted = []
    for _ in range(3):
        decision = decide(client, "agent-3", order=order, customer_ask=None)
        granted.append(grant(client, offer(decision, "discount")["id"], "agent-3"))
    assert [r.status_code for r in granted] == [201, 201, 403]
    assert "per-order cap of 100.00 EUR (80.00 EUR already granted" in \
        granted[-1].json["reasons"][0]


def test_the_per_customer_cap_over_the_window(client):
    customer = f"C-{uuid.uuid4().hex[:8]}"
    statuses = []
    for _ in range(4):
        decision = decide(client, "agent-4", customer__id=customer, customer_ask=None,
                          order={"id": f"O-{uuid.uuid4().hex[:8]}", "value": "400.00",
                                 "currency": "EUR"})
        statuses.append(grant(client, offer(decision, "discount")["id"], "agent-4"))
    assert [r.status_code for r in statuses] == [201, 201, 201, 403]
    assert any("per-customer cap of 150.00 EUR (120.00 EUR already granted"
               in reason for reason in statuses[-1].json["reasons"])


def test_an_abuse_signal_sends_to_approval_above_the_caller(client):
    customer = f"C-{uuid.uuid4().hex[:8]}"
    results = []
    for _ in range(5):
        decision = decide(client, "agent-2", customer__id=customer, customer_ask=None)
        results.append(grant(client, offer(decision, "waived_shipping")["id"], "agent-2"))
    assert [r.status_code for r in results] == [201, 201, 201, 201, 403]
    refused = results[-1].json
    assert refused["approver_role"] == "team_lead"
    assert any(r.startswith("abuse signal: 4 grants") for r in refused["reasons"])


def test_the_daily_budget_of_one_agent(client):
    """Only this test grants as agent-budget: 40.00 EUR each against 500.00 EUR a day."""
    statuses = []
    for _ in range(13):
        decision = decide(client, "agent-budget", customer_ask=None,
                          order={"id": f"O-{uuid.uuid4().hex[:8]}", "value": "400.00",
                                 "currency": "EUR"})
        statuses.append(grant(client, offer(decision, "discount")["id"], "agent-budget"))
    codes = [r.status_code for r in statuses]
    assert codes == [201] * 12 + [403]
    refused = statuses[-1].json
    assert any("daily budget of 500.00 EUR" in reason for reason in refused["reasons"])


def test_approval_flow(client):
    decision = decide(client, "agent-2")
    refund = offer(decision, "refund")
    first = client.post(f"/v1/offers/{refund['id']}/approval-request", headers=as_("agent-2"),
                        json={"note": "customer is upset"})
    assert first.status_code == 201
    request = first.json
    assert (request["status"], request["approver_role"]) == ("pending", "team_lead")
    again = client.post(f"/v1/offers/{refund['id']}/approval-request", headers=as_("agent-2"))
    assert again.status_code == 200 and again.json["id"] == request["id"]

    pending_for_lead = client.get("/v1/approvals?status=pending", headers=as_("lead-1")).json
    assert request["id"] in [a["id"] for a in pending_for_lead["approvals"]]
    pending_for_agent = client.get("/v1/approvals", headers=as_("agent-1")).json
    assert request["id"] not in [a["id"] for a in pending_for_agent["approvals"]]

    by_agent = client.post(f"/v1/approvals/{request['id']}/approve", headers=as_("agent-1"))
    assert by_agent.status_code == 403
    approved = client.post(f"/v1/approvals/{request['id']}/approve", headers=as_("lead-1"))
    assert approved.status_code == 201
    assert approved.json["approval"]["status"] == "approved"
    assert approved.json["grant"]["principal"] == "lead-1"
    assert approved.json["grant"]["approval_request_id"] == request["id"]
    twice = client.post(f"/v1/approvals/{request['id']}/approve", headers=as_("lead-2"))
    assert twice.status_code == 409

    shown = client.get(f"/v1/decisions/{decision['decision_id']}", headers=as_("agent-2")).json
    assert offer(shown, "refund")["state"] == "granted"
    assert shown["approval_requests"][0]["status"] == "approved"


def all_approvals(client, who, limit, status="pending"):
    seen, cursor = [], None
    for _ in range(200):
        query = {"status": status, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/approvals", query_string=query, headers=as_(who)).json
        assert len(page["approvals"]) <= limit
        seen += [a["id"] for a in page["approvals"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the pages never ended")


def test_approval_requests_page_oldest_first_and_only_where_the_role_may_approve(client):
    mine = []
    for _ in range(3):
        refund = offer(decide(client, "agent-4"), "refund")
        mine.append(client.post(f"/v1/offers/{refund['id']}/approval-request",
                                headers=as_("agent-4")).json["id"])
    for who in ("lead-1", "manager-1"):
        seen = all_approvals(client, who, limit=1)
        assert len(seen) == len(set(seen))
        assert [i for i in seen if i in mine] == mine
        assert seen == all_approvals(client, who, limit=50)
    assert not set(mine) & set(all_approvals(client, "agent-1", limit=2))
    bad = client.get("/v1/approvals", query_string={"cursor": "x"}, headers=as_("lead-1"))
    assert bad.status_code == 422 and "cursor" in bad.json["errors"]


def test_nobody_approves_their_own_request(client):
    decision = decide(client, "lead-1", order={"id": "O-big", "value": "600.00",
                                              "currency": "EUR"}, customer_ask=None)
    discount = offer(decision, "discount")  # 60.00, within the lead's limits
    request = client.post(f"/v1/offers/{discount['id']}/approval-request",
                          headers=as_("lead-1")).json
    own = client.post(f"/v1/approvals/{request['id']}/approve", headers=as_("lead-1"))
    assert own.status_code == 403 and "own request" in own.json["detail"]


def test_reject_needs_a_reason(client):
    decision = decide(client, "agent-3")
    refund = offer(decision, "refund")
    request = client.post(f"/v1/offers/{refund['id']}/approval-request",
                          headers=as_("agent-3")).json
    missing = client.post(f"/v1/approvals/{request['id']}/reject", headers=as_("lead-2"),
                          json={})
    assert missing.status_code == 422 and "reason" in missing.json["errors"]
    rejected = client.post(f"/v1/approvals/{request['id']}/reject", headers=as_("lead-2"),
                           json={"reason": "already refunded by the carrier"})
    assert rejected.status_code == 200 and rejected.json["approval"]["status"] == "rejected"
    shown = client.get(f"/v1/decisions/{decision['decision_id']}", headers=as_("agent-3")).json
    assert offer(shown, "refund")["state"] == "rejected"


def test_outcome_is_recorded_and_shown(client):
    decision = decide(client)
    url = f"/v1/decisions/{decision['decision_id']}/outcome"
    response = client.post(url, headers=as_("agent-1"),
                           json={"accepted": True, "satisfied": True, "stayed": None})
    assert response.status_code == 201 and response.json["accepted"] is True
    shown = client.get(f"/v1/decisions/{decision['decision_id']}", headers=as_("agent-1")).json
    assert shown["outcomes"][0]["satisfied"] is True
    assert client.post(url, headers=as_("agent-1"), json={"accepted": "yes"}).status_code == 422
    assert client.post("/v1/decisions/nope/outcome", headers=as_("agent-1"),
                       json={"accepted": False}).status_code == 404


def test_idempotency_key_replays_the_first_answer(client, store):
    decision = decide(client)
    waived = offer(decision, "waived_shipping")
    key = uuid.uuid4().hex
    first = grant(client, waived["id"], key=key)
    rows = grants_stored(store)
    second = grant(client, waived["id"], key=key)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json == second.json and grants_stored(store) == rows
    other = grant(client, offer(decision, "discount")["id"], key=key)
    assert other.status_code == 422 and "Idempotency-Key" in other.json["title"]


@pytest.mark.parametrize(("path", "body", "content_type", "status"), [
    ("/v1/offers/{offer}/grant", b'{"amount": "1.00"}', "application/json", 422),
    ("/v1/offers/{offer}/grant", b"{", "application/json", 400),
    ("/v1/offers/{offer}/grant", b"x=1", "application/x-www-form-urlencoded", 415),
    ("/v1/offers/nope/grant", b"", "application/json", 404),
    ("/v1/offers/{offer}/approval-request", b'{"note": 5}', "application/json", 422),
    ("/v1/approvals/nope/approve", b"", "application/json", 404),
    ("/v1/approvals/nope/reject", b'{"reason": ""}', "application/json", 422),
    ("/v1/decisions/{decision}/outcome", b"[]", "application/json", 422),
])
def test_bad_input_on_new_routes_is_4xx_and_changes_nothing(client, store, path, body,
                                                            content_type, status):
    decision = decide(client)
    target = path.format(offer=offer(decision, "discount")["id"],
                         decision=decision["decision_id"])
    before = grants_stored(store)
    response = client.post(target, data=body, content_type=content_type, headers=as_("agent-1"))
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    assert grants_stored(store) == before


def test_new_routes_need_a_key(client):
    assert client.post("/v1/offers/x/grant").status_code == 401
    assert client.get("/v1/approvals").status_code == 401
    assert client.get("/v1/approvals?status=maybe", headers=as_("agent-1")).status_code == 422
