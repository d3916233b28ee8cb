"""Through real gunicorn, on SQLite and PostgreSQL: concurrent grants never beat a budget,
and a SIGKILL in the middle of a stream of grants loses and duplicates nothing."""

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from http.client import HTTPException
from pathlib import Path

import pytest
from sqlalchemy import select

from service.store.database import Store
from service.store.models import GrantRow
from tests.conftest import auth, design_example, make_store
from tests.support.agent_keys import bearer, write_key_file
from tests.support.servers import call, kill_group, running_server


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path_factory):
    store = make_store(request.param, tmp_path_factory, request)
    store.engine.dispose()
    return store.url


def own_principal(tmp_path, role: str) -> tuple[str, dict, dict]:
    """A principal of `role` no other test uses (the PostgreSQL schema is shared by the run,
    and a budget is per principal): its name, its auth headers, the server's environment."""
    principal = f"{role}-{uuid.uuid4().hex[:8]}"
    keys = write_key_file(tmp_path / "keys.yaml", {principal: role})
    return principal, bearer(keys[principal]), {"AMENDS_API_KEYS_FILE":
                                                 str(tmp_path / "keys.yaml")}


def prepare_discounts(base: str, count: int, headers: dict) -> list[str]:
    """`count` decisions for different customers and orders, each with an approval-free
    40.00 EUR discount; their offer ids."""
    offers = []
    for _ in range(count):
        body = design_example(customer_ask=None, order={
            "id": f"O-{uuid.uuid4().hex[:10]}", "value": "400.00", "currency": "EUR"})
        status, decision = call(base, "/v1/decisions", body, headers)
        assert status == 201, decision
        discount = next(o for o in decision["offers"] if o["remedy"] == "discount")
        assert discount["value"]["amount"] == "40.00"
        assert discount["approval"] == "not_required"
        offers.append(discount["id"])
    return offers


def stored_grants(url: str, principal: str) -> list[GrantRow]:
    store = Store(url)
    try:
        with store.transaction() as session:
            return list(session.scalars(select(GrantRow).where(GrantRow.principal == principal)))
    finally:
        store.engine.dispose()


@pytest.mark.alone  # 50 grants at once within the database timeout: no other load beside
def test_50_concurrent_grants_never_exceed_the_daily_budget(database, tmp_path):
    agent, headers, keys = own_principal(tmp_path, "agent")
    with running_server({"AMENDS_DATABASE_URL": database, **keys}, workers=4) as (base, _):
        offers = prepare_discounts(base, 50, headers)
        start = threading.Barrier(50)

        def grant(offer_id):
            start.wait()
            return call(base, f"/v1/offers/{offer_id}/grant", {}, headers)

        with ThreadPoolExecutor(50) as pool:
            results = list(pool.map(grant, offers))
    statuses = [status for status, _ in results]
    assert set(statuses) <= {201, 403}, results
    assert statuses.count(201) == 12  # 12 x 40.00 <= 500.00 < 13 x 40.00
    refused = [body for status, body in results if status == 403]
    assert all(any("daily budget of 500.00 EUR" in r for r in body["reasons"])
               for body in refused)
    grants = stored_grants(database, agent)
    total = sum(Decimal(g.amount_minor) / 100 for g in grants)
    assert total == Decimal("480.00") <= Decimal("500.00")
    assert len({g.offer_id for g in grants}) == len(grants) == 12


def test_sigkill_in_a_stream_of_grants_loses_and_duplicates_nothing(database, tmp_path):
    lead, headers, keys = own_principal(tmp_path, "team_lead")
    environment = {"AMENDS_DATABASE_URL": database, **keys}
    with running_server(environment) as (base, process):
        offers = prepare_discounts(base, 40, headers)
        answered: dict[str, dict] = {}  # offer id -> 2xx body
        failures = []

        def stream(part):
            for offer_id in part:
                try:
                    status, body = call(base, f"/v1/offers/{offer_id}/grant", {}, headers,
                                        timeout=10)
                except (OSError, HTTPException):  # killed before or while it answered
                    failures.append(offer_id)
                    continue
                if status == 201:
                    answered[offer_id] = body
                time.sleep(0.01)

        threads = [threading.Thread(target=stream, args=(offers[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        while len(answered) < 8:
            time.sleep(0.005)
        kill_group(process)  # SIGKILL to the master and every worker, mid-stream
        for thread in threads:
            thread.join()
    assert failures, "the kill should have interrupted some requests"

    grants = stored_grants(database, lead)
    by_offer = {g.offer_id: g for g in grants}
    assert len(by_offer) == len(grants)  # no offer granted twice
    for offer_id, body in answered.items():  # every 2xx grant is stored, as answered
        assert by_offer[offer_id].id == body["grant"]["id"]

    with running_server(environment) as (base, _):
        # Retry every offer after the restart: the granted ones are refused as granted, the
        # rest are granted, and what the service enforces is the sum of what is stored.
        for offer_id in offers:
            status, body = call(base, f"/v1/offers/{offer_id}/grant", {}, headers)
            assert status == (409 if offer_id in by_offer else 201), body
    final = stored_grants(database, lead)
    assert len({g.offer_id for g in final}) == len(final) == 40  # each offer exactly once
    total = sum(Decimal(g.amount_minor) / 100 for g in final)
    assert total == Decimal("1600.00") <= Decimal("2000.00")  # the team lead's daily budget


def sqlite_lock_holders(path) -> set[int]:
    """The processes holding a POSIX lock on the file (from /proc/locks)."""
    inode = os.stat(path).st_ino
    holders = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if fields[1] == "POSIX" and fields[5].endswith(f":{inode}"):
            holders.add(int(fields[4]))
    return holders


def test_each_worker_holds_its_own_sqlite_locks_and_the_master_none(tmp_path):
    """No SQLite connection of the master's is open when it forks: each worker takes the
    shared locks of the WAL index itself. (Forked with the master's connections open, a
    worker held none, so a kill -9 of the master let another connection delete the WAL the
    orphaned workers still committed into.)"""
    import subprocess

    environment = {"AMENDS_DATA_DIR": str(tmp_path), "AMENDS_DATABASE_URL": ""}
    with running_server(environment, workers=2) as (base, process):
        for _ in range(8):  # a decision or two in each worker
            assert call(base, "/v1/decisions", design_example(), auth())[0] == 201
        workers = {int(pid) for pid in subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()}
        holders = sqlite_lock_holders(tmp_path / "amends.db-shm")
        assert process.pid not in holders, (process.pid, holders)
        assert holders and holders <= workers, (holders, workers)
