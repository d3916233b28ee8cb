"""Granting offers (SQLite and PostgreSQL): limits and caps, the daily budget from midnight in
the policy's zone, alternatives and combining kinds, idempotency, and refusals that store
nothing."""

import hashlib
import shutil
import uuid
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update

from service.app.active_policy import ActivePolicy
from service.app.grants import start_of_day
from service.config import shipped_policy
from service.store import clock
from service.store.models import GrantRow
from service.web.app_factory import create_app
from tests.conftest import auth, design_example, make_store, test_settings
from tests.web.conftest import as_, decide, grant, grants_stored, offer


@pytest.fixture
def client(staff_app):
    return staff_app[0].test_client()


@pytest.fixture
def store(staff_app):
    return staff_app[1]


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


def test_store_credit_that_combines_is_granted_beside_a_refund(tmp_path_factory, request):
    policy = tmp_path_factory.mktemp("combining") / "policy"
    shutil.copytree(shipped_policy(), policy)
    settings = policy / "policy.yaml"
    settings.write_text(settings.read_text() + "remedy_kinds:\n  store_credit: {combines: true}\n")
    store = make_store("sqlite", tmp_path_factory, request)
    app = create_app(test_settings(), active_policy=ActivePolicy.load(policy), store=store)
    client = app.test_client()
    kinds = {k["name"]: k for k in client.get("/v1/policy", headers=auth()).json["remedy_kinds"]}
    assert kinds["store_credit"]["combines"] and not kinds["refund"]["combines"]

    decision = client.post("/v1/decisions", json=design_example(),
                           headers=auth("team_lead")).json
    offers = {(o["remedy"], o["variant"]): o["id"] for o in decision["offers"]}
    lead = auth("team_lead")
    assert client.post(f"/v1/offers/{offers['refund', 'full']}/grant",
                       headers=lead).status_code == 201
    assert client.post(f"/v1/offers/{offers['store_credit', 'full']}/grant",
                       headers=lead).status_code == 201
    store.engine.dispose()


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


# The daily budget in the policy's zone (`day_starts_in`): an agent in Tokyo.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 19:00 in Tokyo, whose day began 15:00 UTC
KEY = "key-tokyo-agent"


@pytest.mark.parametrize("moment, zone, start", [
    ("2026-11-23T10:00:00+00:00", "UTC", "2026-11-23T00:00:00+00:00"),
    ("2026-11-23T10:00:00+00:00", "Asia/Tokyo", "2026-11-22T15:00:00+00:00"),
    ("2026-11-23T23:30:00+00:00", "Europe/Berlin", "2026-11-23T23:00:00+00:00"),
    ("2026-11-23T03:00:00+00:00", "America/New_York", "2026-11-22T05:00:00+00:00"),
    # the day summer time begins: midnight was still winter time (UTC+1)
    ("2026-03-29T12:00:00+00:00", "Europe/Berlin", "2026-03-28T23:00:00+00:00"),
    # the clocks go back at 01:00 to midnight: the day began at the first midnight, also
    # within the hour that comes twice
    ("2020-10-25T01:30:00+00:00", "Atlantic/Azores", "2020-10-25T00:00:00+00:00"),
    ("2020-10-25T03:00:00+00:00", "Atlantic/Azores", "2020-10-25T00:00:00+00:00"),
    # the clocks jump from midnight to 01:00: the day began at the jump
    ("2020-03-08T12:00:00+00:00", "America/Havana", "2020-03-08T05:00:00+00:00"),
])
def test_start_of_day_is_the_last_local_midnight(moment, zone, start):
    assert start_of_day(datetime.fromisoformat(moment), zone) == datetime.fromisoformat(start)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tokyo(request, tmp_path_factory):
    policy = tmp_path_factory.mktemp("tokyo") / "policy"
    shutil.copytree(shipped_policy(), policy)
    roles = policy / "roles.yaml"
    roles.write_text(roles.read_text().replace("day_starts_in: UTC", "day_starts_in: Asia/Tokyo"))
    keys = tmp_path_factory.mktemp("keys") / "keys.yaml"
    keys.write_text("keys:\n  - {principal: tokyo-agent, role: agent, "
                    f"sha256: '{hashlib.sha256(KEY.encode()).hexdigest()}'}}\n")
    store = make_store(request.param, tmp_path_factory, request)
    app = create_app(test_settings(api_keys_file=keys), active_policy=ActivePolicy.load(policy),
                     store=store)
    yield app, store
    store.engine.dispose()


def grant_a_discount(client) -> int:
    """Decide an incident on a 400.00 EUR order and grant its 40.00 EUR discount."""
    body = design_example(customer_ask=None, order={"id": design_example()["order"]["id"],
                                                    "value": "400.00", "currency": "EUR"})
    headers = {"Authorization": f"Bearer {KEY}"}
    decision = client.post("/v1/decisions", json=body, headers=headers).json
    discount = next(o for o in decision["offers"] if o["remedy"] == "discount"
                    and o["variant"] == "full")
    assert discount["value"] == {"amount": "40.00", "currency": "EUR"}
    return client.post(f"/v1/offers/{discount['id']}/grant", headers=headers).status_code


def test_grants_count_toward_the_budget_from_local_midnight(tokyo, monkeypatch):
    app, store = tokyo
    client = app.test_client()
    monkeypatch.setattr(clock, "now", lambda: NOW)
    assert [grant_a_discount(client) for _ in range(12)] == [201] * 12  # 480.00 of 500.00

    def move_grants_to(moment):
        with store.transaction() as session:
            session.execute(update(GrantRow).where(GrantRow.principal == "tokyo-agent")
                            .values(granted_at=moment))

    # 14:00 UTC yesterday: before midnight in Tokyo, so another day there
    move_grants_to(datetime(2026, 11, 22, 14, 0, tzinfo=UTC))
    assert grant_a_discount(client) == 201
    # 23:00 UTC yesterday: yesterday in UTC, but today in Tokyo, so all 520.00 count
    move_grants_to(datetime(2026, 11, 22, 23, 0, tzinfo=UTC))
    assert grant_a_discount(client) == 403


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
    assert other.json["errors"] == {"Idempotency-Key": [other.json["detail"]]}  # as every 422


def test_a_replayed_grant_is_counted_once(client):
    """The metrics count grants made, not answers sent: a retry with the same
    Idempotency-Key gets the first answer and is not a new grant (issue 9)."""
    labels = {"remedy": "waived_shipping", "role": "agent"}

    def counted():
        return (REGISTRY.get_sample_value("amends_grants_total", labels) or 0,
                REGISTRY.get_sample_value("amends_granted_value_total",
                                          {"currency": "EUR", "role": "agent"}) or 0)

    waived = offer(decide(client), "waived_shipping")
    key = uuid.uuid4().hex
    before = counted()
    first = grant(client, waived["id"], key=key)
    after_first = counted()
    replays = [grant(client, waived["id"], key=key) for _ in range(3)]
    assert first.status_code == 201 and all(r.json == first.json for r in replays)
    assert (after_first[0] - before[0], after_first[1] - before[1]) == (1, 7.5)
    assert counted() == after_first


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
