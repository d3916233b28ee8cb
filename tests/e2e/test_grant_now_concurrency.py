"""Through real gunicorn, on SQLite and PostgreSQL: 20 agents granting their `grant_now` sets
against one customer at once never beat the customer's cap or the abuse signal, and no set
is granted in part."""

import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from service.store.database import Store
from service.store.models import GrantRow
from tests.conftest import design_example, make_store
from tests.support.agent_keys import bearer, write_key_file
from tests.support.servers import call, running_server

AGENTS = 20
WORKERS = 8
CUSTOMER_CAP = Decimal("150.00")  # the agent's per_customer_cap in rules/default/roles.yaml
INCIDENT_LIMIT = Decimal("50.00")  # its per_incident_limit
ABUSE_THRESHOLD = 4  # abuse_signal.grants_in_window: a fifth grant needs approval
# What may refuse a set here: every agent has its own incident, order and daily budget, so
# only the two running totals they share, the customer's, can bind.
SHARED_LIMITS = re.compile(r"per-customer cap of 150\.00 EUR|^abuse signal: ")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path_factory):
    store = make_store(request.param, tmp_path_factory, request)
    store.engine.dispose()
    return store.url


def incident(number: int, customer_id: str) -> dict:
    """One agent's incident for the shared customer, on an order of its own. Four kinds in
    turn, so grant_now sets of one to three offers compete (with the customer's earlier
    incidents counted as prior failures: a 50.00 EUR store credit alone; 19.50 EUR in two;
    47.50 EUR in two; 49.50 EUR in three)."""
    order = {"id": f"O-{uuid.uuid4().hex[:12]}", "value": "120.00", "currency": "EUR",
             "shipping_fee": "7.50", "upgrade_cost": "30.00"}
    kinds = [{},
             {"customer_ask": None},
             {"customer_ask": None, "order": {**order, "value": "400.00"}},
             {"customer_ask": {"remedy": "store_credit", "amount": "30.00"}}]
    body = design_example(**{"order": order, **kinds[number % len(kinds)]})
    body["customer"]["id"] = customer_id
    return body


def wait_for_workers(server, count: int) -> None:
    """Until gunicorn has booted all its workers. The test is over in about a second: a
    SIGTERM that finds the master still forking leaves a worker that missed it running until
    gunicorn's graceful timeout (AMENDS_TIMEOUT + 5 s)."""
    deadline = time.monotonic() + 30
    while Path(server.log_path).read_text(encoding="utf-8").count("Booting worker") < count:
        assert time.monotonic() < deadline, f"gunicorn did not boot {count} workers"
        time.sleep(0.05)


def stored_grants(url: str, customer_id: str) -> list[GrantRow]:
    store = Store(url)
    try:
        with store.transaction() as session:
            return list(session.scalars(
                select(GrantRow).where(GrantRow.customer_id == customer_id)))
    finally:
        store.engine.dispose()


def history_grants(base: str, customer_id: str, headers: dict) -> list[dict]:
    """Every grant the history endpoint lists for the customer, following its cursor."""
    grants, cursor = [], None
    while True:
        query = f"?limit=200&cursor={quote(cursor)}" if cursor else "?limit=200"
        status, page = call(base, f"/v1/customers/{customer_id}/history{query}",
                            headers=headers)
        assert status == 200, page
        grants += page["grants"]
        cursor = page["next_cursor"]
        if cursor is None:
            return grants


def amount(value: dict) -> Decimal:
    assert value["currency"] == "EUR"
    return Decimal(value["amount"])


@pytest.mark.alone  # 8 workers, 20 agents at once within the database timeout
def test_20_agents_granting_their_grant_now_at_once_never_beat_the_customer_cap(
        database, tmp_path):
    agents = [f"agent-{number:02d}" for number in range(AGENTS)]
    keys = write_key_file(tmp_path / "api-keys.yaml",
                          {**dict.fromkeys(agents, "agent"), "the-manager": "manager"})
    customer_id = f"C-{uuid.uuid4().hex[:12]}"
    environment = {"AMENDS_DATABASE_URL": database,
                   "AMENDS_API_KEYS_FILE": str(tmp_path / "api-keys.yaml")}
    with running_server(environment, workers=WORKERS) as (base, server):
        wait_for_workers(server, WORKERS)
        # Phase 1: every agent decides its own incident for the customer (all at once too);
        # nothing is granted yet, so each grant_now is chosen against empty running totals.
        def decide(number):
            return call(base, "/v1/decisions", incident(number, customer_id),
                        bearer(keys[agents[number]]))

        with ThreadPoolExecutor(AGENTS) as pool:
            decided = list(pool.map(decide, range(AGENTS)))
        sets = {}  # decision id -> (agent, its grant_now offer ids, their total)
        for number, (status, decision) in enumerate(decided):
            assert status == 201, decision
            now = decision["grant_now"]
            values = {offer["id"]: amount(offer["value"]) for offer in decision["offers"]}
            assert now["role"] == "agent" and now["offers"], now
            total = amount(now["total"])
            assert total == sum(values[offer_id] for offer_id in now["offers"])
            assert total <= INCIDENT_LIMIT
            sets[decision["decision_id"]] = (agents[number], now["offers"], total)
        assert any(len(offers) > 1 for _, offers, _ in sets.values())  # all or none matters
        assert sum(total for _, _, total in sets.values()) > CUSTOMER_CAP  # they compete

        # Phase 2: all 20 grant their sets at the same moment.
        start = threading.Barrier(AGENTS)

        def grant(decision_id):
            agent, offers, _ = sets[decision_id]
            start.wait()
            return call(base, f"/v1/decisions/{decision_id}/grants", {"offers": offers},
                        {**bearer(keys[agent]), "Idempotency-Key": uuid.uuid4().hex})

        with ThreadPoolExecutor(AGENTS) as pool:
            answers = dict(zip(sets, pool.map(grant, sets), strict=True))
        listed = history_grants(base, customer_id, bearer(keys["the-manager"]))
        # Stop the master alone, which stops its workers: a SIGTERM to the whole group (what
        # running_server does) lets workers exit on their own while the master respawns
        # them, and a worker born then misses the master's SIGTERM (the graceful timeout).
        server.terminate()
        server.wait(timeout=60)

    statuses = [status for status, _ in answers.values()]
    assert set(statuses) <= {201, 403}, answers
    granted = {d: body for d, (status, body) in answers.items() if status == 201}
    refused = {d: body for d, (status, body) in answers.items() if status == 403}
    assert granted, "at least one set must be granted"
    assert refused, "20 sets of about 50.00 EUR cannot all fit under a 150.00 EUR cap"

    for decision_id, body in granted.items():  # each answered set granted whole, as asked
        agent, offers, total = sets[decision_id]
        assert body["decision_id"] == decision_id
        assert [g["offer_id"] for g in body["grants"]] == offers, body
        assert {g["principal"] for g in body["grants"]} == {agent}
        assert amount(body["total"]) == total
    for decision_id, body in refused.items():  # each refusal names offers of the set, why
        _, offers, _ = sets[decision_id]
        assert body["offers"], body
        for refusal in body["offers"]:
            assert refusal["offer_id"] in offers, body
            assert refusal["reasons"], body
            assert all(SHARED_LIMITS.search(reason) for reason in refusal["reasons"]), body
            assert refusal["approver_role"], body

    grants = stored_grants(database, customer_id)
    customer_total = sum((Decimal(g.amount_minor) / 100 for g in grants), Decimal(0))
    assert customer_total <= CUSTOMER_CAP, [(g.offer_id, g.amount_minor) for g in grants]
    assert len(grants) <= ABUSE_THRESHOLD, [g.offer_id for g in grants]
    assert len({g.offer_id for g in grants}) == len(grants)  # no offer granted twice
    by_decision: dict[str, set[str]] = {}
    for g in grants:
        by_decision.setdefault(g.decision_id, set()).add(g.offer_id)
    # All or none: a granted set is stored whole, a refused one not at all.
    assert by_decision == {d: set(sets[d][1]) for d in granted}, (by_decision, statuses)
    assert {g.id for g in grants} == {g["id"] for body in granted.values()
                                      for g in body["grants"]}
    assert sorted(g["id"] for g in listed) == sorted(g.id for g in grants)

    # Every refusal holds against the final totals too (totals only grow while the sets
    # are granted one after another under the locks): no set was refused for room that
    # was still there at the end.
    for decision_id in refused:
        _, offers, total = sets[decision_id]
        assert (len(grants) + len(offers) > ABUSE_THRESHOLD
                or customer_total + total > CUSTOMER_CAP), (decision_id, offers, total)
