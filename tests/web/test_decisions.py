"""POST /v1/decisions and friends through the Flask test client (SQLite and PostgreSQL): the
contract, refusals, and decisions remembered: read back, replayed, counted as history, with
their outcome."""

import io
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from gunicorn.http.errors import NoMoreData
from sqlalchemy import func, select, update

from service.store import clock
from service.store.models import DecisionRow, OfferRow
from tests.conftest import auth, design_example

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
    (json.dumps(design_example()).encode("utf-16"), "application/json", 400),  # not UTF-8
    (json.dumps(design_example()).encode("utf-32"), "application/json", 400),
    (json.dumps(design_example()).replace('"severity": 2', '"severity": 2, "severity": 3')
     .encode(), "application/json", 400),  # a name twice in one object
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


class CutOff(io.RawIOBase):
    """A chunked body as gunicorn reads it when the client goes away after `data`."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        read = self._data.readinto(buffer)
        if not read:
            raise NoMoreData()
        return read


def test_a_body_cut_off_at_the_limit_is_a_400(client, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = json.dumps(design_example()).encode().ljust(limit)
    response = client.post("/v1/decisions", headers={**auth(), "Content-Type": "application/json"},
                           environ_overrides={"wsgi.input": CutOff(body),
                                              "wsgi.input_terminated": True})
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert response.json["detail"].startswith("The body could not be read")


def test_a_utf8_body_may_begin_with_a_byte_order_mark(client):
    """RFC 8259 lets a parser ignore a byte order mark; any other encoding is a 400 (above)."""
    body = design_example()
    response = post(client, b"\xef\xbb\xbf" + json.dumps(body).encode())
    assert response.status_code == 201 and response.json["incident_id"] == body["incident_id"]


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


def test_a_replay_answers_for_its_caller_now(client):
    """The team lead may refund 120.00 without approval; the agent re-sending the same body
    may not, and is told so; once the team lead grants, grant_now leaves the grant out."""
    body = design_example()
    lead = post(client, body, role="team_lead").json
    refund = next(o for o in lead["offers"] if o["remedy"] == "refund")
    assert refund["approval"] == "not_required" and refund["id"] in lead["grant_now"]["offers"]

    again = post(client, body)
    assert again.status_code == 200 and again.json["decision_id"] == lead["decision_id"]
    assert again.json["decided_at"] == lead["decided_at"]
    replayed = {o["id"]: o for o in again.json["offers"]}
    assert replayed[refund["id"]]["approval"] == "required"
    assert replayed[refund["id"]]["approver_role"] == "team_lead"
    assert replayed[refund["id"]]["grantable_now"] is False
    assert refund["id"] not in again.json["grant_now"]["offers"]
    shown = client.get(f"/v1/decisions/{lead['decision_id']}", headers=auth()).json
    assert again.json["grant_now"] == shown["grant_now"] | {"as_of": again.json["grant_now"][
        "as_of"]}

    granted = client.post(f"/v1/offers/{refund['id']}/grant", headers=auth("team_lead"))
    assert granted.status_code == 201
    retried = post(client, body, role="team_lead").json
    assert {o["id"]: o["state"] for o in retried["offers"]}[refund["id"]] == "granted"
    assert refund["id"] not in (retried["grant_now"] or {"offers": []})["offers"]


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


def test_outcome_is_recorded_and_shown(client):
    made = post(client, design_example())
    assert made.status_code == 201, made.json
    decision = made.json
    url = f"/v1/decisions/{decision['decision_id']}/outcome"
    response = client.post(url, headers=auth(),
                           json={"accepted": True, "satisfied": True, "stayed": None})
    assert response.status_code == 201 and response.json["accepted"] is True
    shown = client.get(f"/v1/decisions/{decision['decision_id']}", headers=auth()).json
    assert shown["outcomes"][0]["satisfied"] is True
    assert client.post(url, headers=auth(), json={"accepted": "yes"}).status_code == 422
    assert client.post("/v1/decisions/nope/outcome", headers=auth(),
                       json={"accepted": False}).status_code == 404


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "identity, gzip"])
def test_a_body_in_a_content_coding_is_415_and_stores_nothing(client, coding):
    """Amends does not decode content codings: a body sent as one (even one that is in
    fact plain) is refused, with the coding it takes, and nothing is decided."""
    body = design_example()
    response = client.post("/v1/decisions", data=json.dumps(body), headers={
        **auth(), "Content-Type": "application/json", "Content-Encoding": coding})
    assert response.status_code == 415 and response.mimetype == PROBLEM
    assert response.headers["Accept-Encoding"] == "identity"
    assert "Content-Encoding" in response.json["detail"]
    assert client.post("/v1/decisions", json=body, headers=auth()).status_code == 201
    assert client.post("/v1/decisions", json=body, headers={
        **auth(), "Content-Encoding": "identity"}).status_code == 200  # the same, replayed


@pytest.mark.parametrize("percent", ["200", "41.6666", 20])
def test_an_ask_whose_percent_is_refused_is_not_also_told_to_say_how_much(client, percent):
    body = design_example(customer_ask={"remedy": "discount", "percent": percent})
    response = post(client, json.dumps(body).encode())
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["customer_ask.percent"], response.json
    unsized = post(client, json.dumps(design_example(customer_ask={"remedy": "discount"}))
                   .encode())
    assert list(unsized.json["errors"]) == ["customer_ask.amount"]  # none given: say how much


def test_a_context_fact_sent_as_null_is_named_as_itself(client):
    body = design_example(context={"customer_rejects_product": None})
    response = post(client, json.dumps(body).encode())
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["context.customer_rejects_product"]


def test_a_number_of_too_many_digits_is_told_in_words(client):
    body = json.dumps(design_example()).replace('"severity": 2', '"severity": ' + "9" * 4301)
    response = post(client, body.encode())
    assert response.status_code == 400
    assert response.json["detail"] == ("The body holds a number of more than 4300 digits, "
                                       "which Amends does not read.")
