"""A customer's history a page at a time (SQLite and PostgreSQL): nothing repeated or skipped."""

import base64
import json
import uuid

import pytest
from sqlalchemy import update

from service.store import clock
from service.store.models import DecisionRow, GrantRow
from tests.conftest import auth, design_example

# A well-formed cursor whose moment, in UTC, falls before year 1.
OUT_OF_RANGE = base64.urlsafe_b64encode(json.dumps(
    {"incidents": ["0001-01-01T00:00:00+14:00", "a"], "grants": None}).encode()
).decode().rstrip("=")


def decide(client, customer, role="agent"):
    response = client.post("/v1/decisions", json=design_example(customer__id=customer),
                           headers=auth(role))
    assert response.status_code == 201, response.json
    return response.json


def history(client, customer, **query):
    response = client.get(f"/v1/customers/{customer}/history", query_string=query,
                          headers=auth())
    assert response.status_code == 200, response.json
    return response.json


def walk(client, customer, limit):
    """Every page in turn: the incidents and grants seen, and the number of pages."""
    incidents, grants, pages, cursor = [], [], 0, None
    while True:
        page = history(client, customer, limit=limit, **({"cursor": cursor} if cursor else {}))
        pages += 1
        assert len(page["incidents"]) <= limit and len(page["grants"]) <= limit
        incidents += [i["decision_id"] for i in page["incidents"]]
        grants += [g["id"] for g in page["grants"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return incidents, grants, pages
        assert pages < 50


@pytest.fixture
def customer_with_five(client):
    customer = design_example()["customer"]["id"]
    made = [decide(client, customer) for _ in range(5)]
    return customer, [m["decision_id"] for m in made][::-1]


@pytest.mark.parametrize("limit", [1, 2, 4, 5, 6])
def test_pages_give_every_incident_once_newest_first(client, customer_with_five, limit):
    customer, newest_first = customer_with_five
    incidents, grants, pages = walk(client, customer, limit)
    assert incidents == newest_first and grants == []
    assert pages == max(1, -(-5 // limit))


def test_entries_with_the_same_time_are_neither_repeated_nor_skipped(client, store,
                                                                      customer_with_five):
    customer, newest_first = customer_with_five
    with store.transaction() as session:
        session.execute(update(DecisionRow).where(DecisionRow.customer_id == customer)
                        .values(decided_at=clock.now()))
    incidents, _, _ = walk(client, customer, 2)
    assert sorted(incidents) == sorted(newest_first)
    assert incidents == sorted(newest_first, reverse=True)  # then by id, descending


def test_an_incident_decided_between_pages_does_not_shift_the_next_page(client,
                                                                        customer_with_five):
    customer, newest_first = customer_with_five
    first = history(client, customer, limit=2)
    decide(client, customer)
    second = history(client, customer, limit=2, cursor=first["next_cursor"])
    assert [i["decision_id"] for i in second["incidents"]] == newest_first[2:4]


def test_grants_page_on_their_own(client, store):
    customer = design_example()["customer"]["id"]
    granted = []
    for _ in range(3):
        decision = decide(client, customer, role="manager")
        offer = next(o for o in decision["offers"] if o["approval"] == "not_required")
        response = client.post(f"/v1/offers/{offer['id']}/grant", headers=auth("manager"))
        assert response.status_code == 201, response.json
        granted.append(response.json["grant"]["id"])
    with store.transaction() as session:  # all at one moment: the id decides the order
        session.execute(update(GrantRow).where(GrantRow.customer_id == customer)
                        .values(granted_at=clock.now()))
    incidents, grants, pages = walk(client, customer, 2)
    assert len(incidents) == 3 and pages == 2
    assert grants == sorted(granted, reverse=True)


@pytest.mark.parametrize("query, field", [
    ({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"limit": "many"}, "limit"),
    ({"cursor": "not-a-cursor"}, "cursor"), ({"cursor": "eyJpbmNpZGVudHMiOjF9"}, "cursor"),
    ({"cursor": OUT_OF_RANGE}, "cursor"),
])
def test_a_bad_limit_or_cursor_is_422_naming_it(client, query, field):
    response = client.get("/v1/customers/C-1/history", query_string=query, headers=auth())
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert field in response.json["errors"]


def test_the_default_page_is_fifty(client):
    customer = design_example()["customer"]["id"]
    for _ in range(51):
        decide(client, customer)
    first = history(client, customer)
    assert len(first["incidents"]) == 50 and first["next_cursor"] is not None
    last = history(client, customer, cursor=first["next_cursor"])
    assert len(last["incidents"]) == 1 and last["next_cursor"] is None


def test_customer_history_lists_incidents_newest_first(client):
    customer = design_example()["customer"]["id"]
    ids = [decide(client, customer)["incident_id"] for _ in range(3)]
    history = client.get(f"/v1/customers/{customer}/history", headers=auth()).json
    assert history["customer_id"] == customer
    assert [i["incident_id"] for i in history["incidents"]] == ids[::-1]
    latest = history["incidents"][0]
    assert latest["category"] == "late_delivery" and latest["outlook"] == "uncertain"
    assert latest["offers"][0]["state"] == "proposed"
    unknown = client.get("/v1/customers/nobody/history", headers=auth()).json
    assert unknown["incidents"] == []


@pytest.mark.parametrize("written", ["ACME/42", "ACME%2F42"])
def test_a_customer_id_holding_a_slash_has_a_history_too(client, written):
    """Customer ids may hold `/` (the incident schema allows it): the history route takes
    the id whole, written plainly or percent-encoded."""
    customer = f"ACME/{uuid.uuid4().hex[:8]}"
    body = design_example(customer__id=customer)
    assert client.post("/v1/decisions", json=body, headers=auth()).status_code == 201
    path = customer.replace("/", "%2F") if "%2F" in written else customer
    response = client.get(f"/v1/customers/{path}/history", headers=auth())
    assert response.status_code == 200, response.json
    assert [i["incident_id"] for i in response.json["incidents"]] == [body["incident_id"]]


@pytest.mark.parametrize("written", ["a%0Ab", "%0A", "a%0A/b", "a%0D%0A"])
def test_a_customer_id_with_a_line_break_has_an_empty_history_not_a_404(client, written):
    """No stored customer has one (the incident's ids refuse line breaks), so its history is
    empty, as any unknown customer's, not a route that does not exist."""
    response = client.get(f"/v1/customers/{written}/history", headers=auth())
    assert response.status_code == 200, response.json
    assert response.json["incidents"] == [] and response.json["grants"] == []
