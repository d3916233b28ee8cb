"""Decisions are remembered (SQLite and PostgreSQL): read back, replayed, counted as history."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select, update

from service.store import clock
from service.store.models import DecisionRow, OfferRow
from tests.conftest import auth, design_example


def post(client, body, role="agent"):
    return client.post("/v1/decisions", json=body, headers=auth(role))


def count(store, model=DecisionRow):
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_decision_is_stored_and_read_back(client):
    body = design_example()
    made = post(client, body).json
    stored = client.get(f"/v1/decisions/{made['decision_id']}", headers=auth("manager")).json
    assert stored["request"] == body
    assert stored["principal"] == "dev-agent" and stored["role"] == "agent"
    assert stored["policy"] == made["policy"] and stored["trace"] == made["trace"]
    assert stored["recovery"] == made["recovery"] and stored["decided_at"] == made["decided_at"]
    assert [o["state"] for o in stored["offers"]] == ["proposed"] * len(made["offers"])
    assert [o["value"] for o in stored["offers"]] == [o["value"] for o in made["offers"]]


def test_reading_needs_a_key_and_an_existing_id(client):
    made = post(client, design_example()).json
    assert client.get(f"/v1/decisions/{made['decision_id']}").status_code == 401
    missing = client.get("/v1/decisions/no-such-id", headers=auth())
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_the_same_incident_and_body_replays_without_a_new_row(client, store):
    body = design_example()
    first = post(client, body)
    rows = count(store)
    again = post(client, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["decision_id"] == first.json["decision_id"]
    assert count(store) == rows


def test_the_same_incident_with_another_body_is_409_and_stores_nothing(client, store):
    body = design_example()
    post(client, body)
    rows, offers = count(store), count(store, OfferRow)
    changed = {**body, "failure": {**body["failure"], "severity": 4}}
    response = post(client, changed)
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    assert body["incident_id"] in response.json["detail"]
    assert (count(store), count(store, OfferRow)) == (rows, offers)


def test_concurrent_requests_for_one_incident_make_one_decision(app, store):
    body = design_example()

    def send(_):
        with app.test_client() as client:
            return post(client, body)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, range(16)))
    assert sorted(r.status_code for r in responses) == [200] * 15 + [201]
    assert len({r.json["decision_id"] for r in responses}) == 1
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DecisionRow).where(
            DecisionRow.incident_id == body["incident_id"])) == 1


def test_bad_input_changes_nothing_stored(client, store):
    rows, offers = count(store), count(store, OfferRow)
    bad = design_example(failure={"category": "late_delivery", "severity": 9,
                                  "avoidable": False})
    assert post(client, bad).status_code == 422
    assert client.post("/v1/decisions", data=b"{", headers=auth(),
                       content_type="application/json").status_code == 400
    assert (count(store), count(store, OfferRow)) == (rows, offers)


def test_prior_failures_come_from_history_within_the_window(client, store):
    first = design_example()
    customer = first["customer"]["id"]
    made = post(client, first).json
    assert made["prior_failures"] == 0 and made["recovery"]["outlook"] == "likely"

    second = post(client, design_example(customer__id=customer)).json
    assert second["prior_failures"] == 1
    assert second["recovery"]["outlook"] == "uncertain"
    assert {"name": "repeat_failure", "effect": "hurts", "rule": "repeat-failure"} in \
        second["recovery"]["factors"]

    # The caller's larger count wins over Amends' own.
    third = post(client, design_example(customer__id=customer, customer__prior_failures=5))
    assert third.json["prior_failures"] == 5

    # Incidents older than the policy's window (365 days) no longer count.
    with store.transaction() as session:
        session.execute(update(DecisionRow).where(DecisionRow.customer_id == customer)
                        .values(decided_at=clock.now() - timedelta(days=400)))
    fourth = post(client, design_example(customer__id=customer)).json
    assert fourth["prior_failures"] == 0


def test_customer_history_lists_incidents_newest_first(client):
    customer = design_example()["customer"]["id"]
    ids = [post(client, design_example(customer__id=customer)).json["incident_id"]
           for _ in range(3)]
    history = client.get(f"/v1/customers/{customer}/history", headers=auth()).json
    assert history["customer_id"] == customer
    assert [i["incident_id"] for i in history["incidents"]] == ids[::-1]
    latest = history["incidents"][0]
    assert latest["category"] == "late_delivery" and latest["outlook"] == "uncertain"
    assert latest["offers"][0]["state"] == "proposed"
    unknown = client.get("/v1/customers/nobody/history", headers=auth()).json
    assert unknown["incidents"] == []
