"""Text no database column can hold is refused at the edge, on SQLite and on PostgreSQL: a NUL
character, an unpaired UTF-16 surrogate, an id longer than its column, a principal over 200
characters. Each gets a 4xx naming what is at fault, never a 5xx, and nothing is stored."""

import json
import shutil
import time
import uuid

import jwt
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import request
from sqlalchemy import func, select, text

from service.app.active_policy import ActivePolicy
from service.config import ConfigError, shipped_policy
from service.store.errors import DatabaseUnavailable
from service.store.models import Base
from service.web.app_factory import create_app
from service.web.auth import KeyRing, hash_key
from service.web.errors import ERRORS, NotReady
from service.web.tokens import MAX_PRINCIPAL_LENGTH, TokenVerifier, load_public_keys
from tests.conftest import auth, design_example, test_settings

NUL = "a\x00b"
SURROGATE = "a\ud800b"
NUL_MESSAGE = "Text must not contain NUL characters."
SURROGATE_MESSAGE = "Not valid Unicode text: an unpaired surrogate."
PROBLEM_JSON = "application/problem+json"


def snapshot(store) -> dict:
    """How many rows each table holds, and how many in each state or status: a refused
    request neither adds a row nor moves an offer or request on. (Counts, not the rows
    themselves: the session's store keeps growing and this runs for every case.)"""
    with store.engine.connect() as connection:
        counts: dict = {}
        for table in Base.metadata.sorted_tables:
            counts[table.name] = connection.execute(
                select(func.count()).select_from(table)).scalar_one()
            for column in (c for c in table.c if c.name in ("state", "status")):
                counts[f"{table.name}.{column.name}"] = dict(connection.execute(
                    select(column, func.count()).group_by(column)).all())
        return counts


def post_json(client, path: str, body: dict, role: str = "agent", headers: dict | None = None):
    """The body as JSON text with `\\uXXXX` escapes, as a client would send "\\ud800"."""
    return client.post(path, data=json.dumps(body), content_type="application/json",
                       headers={**auth(role), **(headers or {})})


def refused(response, status: int = 422, field: str | None = None,
            message: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    problem = response.json
    if field is not None:
        assert field in problem["errors"], problem
        if message is not None:
            assert message in problem["errors"][field], problem
    return problem


def decide(client, role: str = "agent") -> dict:
    response = post_json(client, "/v1/decisions", design_example(), role)
    assert response.status_code == 201, response.json
    return response.json


def offer(decision: dict, remedy: str) -> str:
    return next(o["id"] for o in decision["offers"]
                if o["remedy"] == remedy and o["variant"] == "full")


def pending_request(client) -> str:
    """An approval request by the agent that the team lead may decide."""
    decision = decide(client)
    response = post_json(client, f"/v1/offers/{offer(decision, 'refund')}/approval-request",
                         {"note": "please"})
    assert response.status_code == 201, response.json
    return response.json["id"]


# --- notes and reasons -------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [(NUL, NUL_MESSAGE),
                                               (SURROGATE, SURROGATE_MESSAGE)])
def test_a_note_on_an_approval_request_is_refused(client, store, text, message):
    decision = decide(client)
    before = snapshot(store)
    response = post_json(client, f"/v1/offers/{offer(decision, 'refund')}/approval-request",
                         {"note": text})
    refused(response, 422, "note", message)
    assert snapshot(store) == before


@pytest.mark.parametrize(("text", "message"), [(NUL, NUL_MESSAGE),
                                               (SURROGATE, SURROGATE_MESSAGE)])
def test_a_note_on_an_approval_is_refused(client, store, text, message):
    request_id = pending_request(client)
    before = snapshot(store)
    response = post_json(client, f"/v1/approvals/{request_id}/approve", {"note": text},
                         role="team_lead")
    refused(response, 422, "note", message)
    assert snapshot(store) == before


@pytest.mark.parametrize(("text", "message"), [(NUL, NUL_MESSAGE),
                                               (SURROGATE, SURROGATE_MESSAGE)])
def test_a_reject_reason_is_refused(client, store, text, message):
    request_id = pending_request(client)
    before = snapshot(store)
    response = post_json(client, f"/v1/approvals/{request_id}/reject", {"reason": text},
                         role="team_lead")
    refused(response, 422, "reason", message)
    assert snapshot(store) == before


@pytest.mark.parametrize(("text", "message"), [(NUL, NUL_MESSAGE),
                                               (SURROGATE, SURROGATE_MESSAGE)])
def test_an_outcome_note_is_refused(client, store, text, message):
    decision = decide(client)
    before = snapshot(store)
    response = post_json(client, f"/v1/decisions/{decision['decision_id']}/outcome",
                         {"accepted": True, "note": text})
    refused(response, 422, "note", message)
    assert snapshot(store) == before


# --- every string field of the incident ---------------------------------------------------

INCIDENT_STRINGS = {  # the problem's field path -> design_example() argument
    "incident_id": "incident_id",
    "customer.id": "customer__id",
    "customer.tier": "customer__tier",
    "order.id": "order__id",
    "order.currency": "order__currency",
    "failure.category": "failure__category",
    "failure.description": "failure__description",
    "customer_ask.remedy": "customer_ask__remedy",
}


@pytest.mark.parametrize(("text", "message"), [(NUL, NUL_MESSAGE),
                                               (SURROGATE, SURROGATE_MESSAGE)])
@pytest.mark.parametrize("field", INCIDENT_STRINGS)
def test_each_string_field_of_an_incident_is_checked(client, store, field, text, message):
    body = design_example(**{INCIDENT_STRINGS[field]: text})
    before = snapshot(store)
    response = post_json(client, "/v1/decisions", body)
    problem = refused(response, 422, field, message)
    assert problem["errors"][field] == [message]  # not also a message about its pattern
    assert snapshot(store) == before
    if field != "customer.id":  # else there is no such customer to ask about
        history = client.get(f"/v1/customers/{body['customer']['id']}/history",
                             headers=auth())
        assert history.status_code == 200
        assert history.json["incidents"] == [] and history.json["grants"] == []


@pytest.fixture(scope="module")
def policy_with_a_text_fact(tmp_path_factory) -> ActivePolicy:
    """The shipped policy with a string context fact (it declares none of its own)."""
    folder = tmp_path_factory.mktemp("policy") / "default"
    shutil.copytree(shipped_policy(), folder)
    document = yaml.safe_load((folder / "policy.yaml").read_text(encoding="utf-8"))
    document["context"]["channel"] = {"type": "string", "description": "Where they called"}
    (folder / "policy.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    active = ActivePolicy.load(folder)
    yield active
    active.program.close()


@pytest.mark.parametrize(("text", "message"), [(NUL, NUL_MESSAGE),
                                               (SURROGATE, SURROGATE_MESSAGE)])
def test_a_string_context_fact_is_checked(policy_with_a_text_fact, store, text, message):
    client = create_app(test_settings(), active_policy=policy_with_a_text_fact,
                        store=store).test_client()
    accepted = post_json(client, "/v1/decisions", design_example(context={"channel": "phone"}))
    assert accepted.status_code == 201, accepted.json
    before = snapshot(store)
    response = post_json(client, "/v1/decisions", design_example(context={"channel": text}))
    problem = refused(response, 422, "context.channel")
    assert message.rstrip(".") in problem["errors"]["context.channel"][0]
    assert snapshot(store) == before


# --- path ids and the Idempotency-Key -------------------------------------------------------

PATH_IDS = [  # (method, path with {id}, the parameter): every route with an id in its path
    ("GET", "/v1/decisions/{id}", "decision_id"),
    ("POST", "/v1/decisions/{id}/outcome", "decision_id"),
    ("POST", "/v1/decisions/{id}/grants", "decision_id"),
    ("POST", "/v1/offers/{id}/grant", "offer_id"),
    ("POST", "/v1/offers/{id}/approval-request", "offer_id"),
    ("POST", "/v1/approvals/{id}/approve", "request_id"),
    ("POST", "/v1/approvals/{id}/reject", "request_id"),
    ("GET", "/v1/customers/{id}/history", "customer_id"),
    ("GET", "/v1/policy/versions/{id}", "version"),
    ("GET", "/v1/policy/versions/{id}/diff/0123456789abcdef", "old_version"),
    ("POST", "/v1/policy/versions/{id}/activate", "version"),
]
COLUMN_LENGTHS = {"decision_id": 64, "offer_id": 80, "request_id": 64, "customer_id": 100,
                  "version": 64, "old_version": 64}
BODIES = {"outcome": {"accepted": True}, "reject": {"reason": "no"},
          "grants": {"offers": ["an-offer"]}}


@pytest.mark.parametrize("kind", ["nul", "too_long"])
@pytest.mark.parametrize(("method", "template", "parameter"), PATH_IDS,
                         ids=[f"{m} {t}" for m, t, _ in PATH_IDS])
def test_a_path_id_no_row_can_have_is_422_naming_it(client, store, method, template,
                                                    parameter, kind):
    value = NUL if kind == "nul" else "x" * (COLUMN_LENGTHS[parameter] + 1)
    before = snapshot(store)
    path = template.format(id=value)
    body = next((b for name, b in BODIES.items() if path.endswith(name)), {})
    role = "manager" if "/policy/" in path else "team_lead"  # versions: the policy owner's
    if method == "GET":
        response = client.get(path, headers=auth(role))
    else:
        response = post_json(client, path, body, role=role)
    message = "At most" if kind == "too_long" else NUL_MESSAGE
    problem = refused(response, 422, parameter)
    assert message in problem["errors"][parameter][0]
    assert snapshot(store) == before


def test_every_route_with_a_path_id_documents_the_422(client):
    spec = client.get("/openapi.json").json
    with_ids = {path: operations for path, operations in spec["paths"].items() if "{" in path}
    assert len(with_ids) == len(PATH_IDS)
    for path, operations in with_ids.items():
        for method, operation in operations.items():
            if method in ("get", "post"):
                assert "422" in operation["responses"], (method, path)


def test_a_path_id_as_long_as_its_column_is_simply_not_found(client):
    assert client.get(f"/v1/decisions/{'x' * 64}", headers=auth()).status_code == 404
    history = client.get(f"/v1/customers/{'x' * 100}/history", headers=auth())
    assert history.status_code == 200 and history.json["incidents"] == []


@pytest.mark.parametrize("key", [NUL, SURROGATE])
def test_an_idempotency_key_that_cannot_be_stored_is_400(client, store, key):
    decision = decide(client)
    before = snapshot(store)
    response = client.post(f"/v1/offers/{offer(decision, 'discount')}/grant",
                           headers={**auth(), "Idempotency-Key": key})
    problem = refused(response, 400)
    assert "Idempotency-Key" in problem["detail"]
    assert snapshot(store) == before


def test_an_idempotency_key_is_measured_in_bytes_as_its_message_says(client, store):
    """WSGI gives a header's bytes as Latin-1 characters: 101 `é` sent as UTF-8 are 202."""
    decision = decide(client)
    before = snapshot(store)
    as_received = ("é" * 101).encode().decode("latin-1")
    response = client.post(f"/v1/offers/{offer(decision, 'discount')}/grant",
                           headers={**auth(), "Idempotency-Key": as_received})
    assert refused(response, 400)["detail"] == (
        "Idempotency-Key must be 1 to 200 bytes (as many ASCII characters).")
    assert snapshot(store) == before


def test_idempotency_keys_that_differ_in_their_last_byte_are_different_keys(client):
    """`à` ends in the byte 0xA0 and `Å` in 0x85, which Python's strip() takes for spaces
    once WSGI has read the header as Latin-1: both had become `review-Ã`."""
    tag = uuid.uuid4().hex[:8]
    keys = [f"key-{tag}-{letter}".encode().decode("latin-1") for letter in ("à", "Å")]
    for key in keys:
        decision = decide(client)
        answer = client.post(f"/v1/offers/{offer(decision, 'discount')}/grant",
                             headers={**auth(), "Idempotency-Key": key})
        assert answer.status_code == 201, answer.json


# --- principals ------------------------------------------------------------------------------

ISSUER, AUDIENCE = "https://id.example.test/", "amends"


@pytest.fixture(scope="module")
def idp_key(tmp_path_factory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("jwt") / "idp.pem"
    path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key, path


def bearer(key, principal: str) -> dict:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300,
              "email": principal, "amends_role": "agent"}
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='RS256')}"}


@pytest.fixture(scope="module")
def token_client(idp_key, shipped, store):
    verifier = TokenVerifier(load_public_keys(idp_key[1]), ISSUER, AUDIENCE,
                             principal_claim="email")
    return create_app(test_settings(), active_policy=shipped, store=store,
                      tokens=verifier).test_client()


def test_the_principal_limit_is_the_columns_length():
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if column.name in ("principal", "requested_by", "decided_by"):
                assert column.type.length == MAX_PRINCIPAL_LENGTH, column


@pytest.mark.parametrize(("principal", "reason"), [
    ("p" * 201, "longer than 200 characters"),
    (NUL, NUL_MESSAGE.rstrip(".")),
    (SURROGATE, SURROGATE_MESSAGE.rstrip(".")),
    # shown on lines of their own (logs, exports, the activation history), as --by is
    ("   ", "is blank"), ("ann\nactivated by bob", "holds a control character (U+000A)"),
])
def test_a_token_whose_principal_cannot_be_stored_is_401(token_client, idp_key, store,
                                                         principal, reason):
    body = design_example()
    before = snapshot(store)
    response = token_client.post("/v1/decisions", data=json.dumps(body),
                                 content_type="application/json",
                                 headers=bearer(idp_key[0], principal))
    problem = refused(response, 401)
    assert reason in problem["detail"] and "`email`" in problem["detail"]
    assert snapshot(store) == before


def test_a_principal_of_200_characters_is_accepted(token_client, idp_key):
    response = token_client.post("/v1/decisions", data=json.dumps(design_example()),
                                 content_type="application/json",
                                 headers=bearer(idp_key[0], "p" * 200))
    assert response.status_code == 201, response.json
    stored = token_client.get(f"/v1/decisions/{response.json['decision_id']}",
                              headers=bearer(idp_key[0], "p" * 200))
    assert stored.json["principal"] == "p" * 200


@pytest.mark.parametrize("principal", ['"' + "p" * 201 + '"', '"a\\0b"', '"a\\ud800b"',
                                       '"a\\nb"', '" "'])
def test_a_key_file_principal_that_cannot_be_stored_stops_the_service(tmp_path, shipped,
                                                                      store, principal):
    keys = tmp_path / "keys.yaml"
    keys.write_text("keys:\n"
                    f"  - {{principal: fine, role: agent, sha256: '{hash_key('k1')}'}}\n"
                    f"  - {{principal: {principal}, role: agent, sha256: '{hash_key('k2')}'}}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="key 2"):
        KeyRing.load(keys)
    with pytest.raises(ConfigError, match="key 2"):
        create_app(test_settings(api_keys_file=keys), active_policy=shipped, store=store)


# --- what the database says, as answers ----------------------------------------------------

def test_only_an_unavailable_database_is_503():
    # and /readyz of a worker that cannot load the active policy version (NotReady)
    assert [kind for kind, (status, _, _) in ERRORS.items() if status >= 500] == [
        DatabaseUnavailable, NotReady]


def test_a_503_says_nothing_changed_unless_the_connection_was_lost_unanswered():
    """A server that answered (a timeout, a lock) rolled back; a connection lost before an
    answer may have been committing, and the caller is told how to retry safely."""
    status, _, extra = ERRORS[DatabaseUnavailable]
    assert status == 503
    assert "nothing was changed" in extra(DatabaseUnavailable("lock timeout"))["detail"]
    lost = extra(DatabaseUnavailable("server closed the connection", maybe_saved=True))
    assert "may have been made" in lost["detail"]
    assert "same Idempotency-Key" in lost["detail"] and "nothing" not in lost["detail"]


@pytest.fixture(scope="module")
def probe_client(shipped, store):
    """The app with one extra route that runs the given SQL in the store, as a use case would."""
    app = create_app(test_settings(), active_policy=shipped, store=store)

    def run_sql():
        statements = request.json["sql"]
        with store.connection() as connection:
            for sql in [statements] if isinstance(statements, str) else statements:
                connection.execute(text(sql), request.json.get("params", {}))
        return {}

    app.add_url_rule("/probe", "probe", run_sql, methods=["POST"])
    return app.test_client()


def test_a_value_the_database_refuses_is_422_naming_the_column(probe_client, store):
    if store.url.startswith("sqlite"):
        pytest.skip("SQLite stores NUL characters and long text")
    response = probe_client.post("/probe", json={
        "sql": "INSERT INTO outcomes (id, decision_id, accepted, principal, recorded_at) "
               "VALUES ('x', 'no-such', true, :principal, now())",
        "params": {"principal": "p" * 201}})
    refused(response, 422, "principal")


def test_a_mistake_in_sql_is_a_logged_500_not_a_503(probe_client, caplog):
    response = probe_client.post("/probe", json={"sql": "SELECT * FROM no_such_table"})
    assert response.status_code == 500 and "Retry-After" not in response.headers
    logged = [r for r in caplog.records if r.getMessage().startswith("unhandled error")]
    assert logged and logged[0].exc_info is not None


def test_a_statement_too_slow_is_503_with_retry_after(probe_client, store):
    if store.url.startswith("sqlite"):
        pytest.skip("SQLite has no statement timeout; tests/store covers its busy lock")
    response = probe_client.post("/probe", json={
        "sql": ["SET LOCAL statement_timeout = 50", "SELECT pg_sleep(1)"]})
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.mimetype == PROBLEM_JSON
