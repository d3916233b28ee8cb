"""Upgrading a database (SQLite and PostgreSQL): all of it or nothing, one upgrade at a time,
and a database a newer Amends upgraded is said to be one."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, inspect, make_url, text

from service.store.database import Store, StoreError, upgrade
from service.store.models import ApprovalRequestRow, OfferRow
from tests.support.migrations import database_at, insert_decision

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request):
    return request.param


def revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


def request_columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {column["name"] for column in inspect(engine).get_columns("approval_requests")}
    finally:
        engine.dispose()


def _one_request(url: str, **note) -> None:
    """A decision, an offer and a request for it: what 0005's UPDATE moves (its note where
    0004 kept it, `decision_reason`, unless `note` says where)."""
    note = note or {"decision_reason": "upset"}
    engine = create_engine(url)
    with engine.begin() as connection:
        insert_decision(connection, T0)
        connection.execute(insert(OfferRow.__table__).values(
            id="d1.1", number=1, decision_id="d1", remedy="refund", amount_minor=12000,
            currency="EUR", variant="full", source="customer_ask", approval="required",
            approver_role="team_lead", state="approval_pending", state_changed_at=T0))
        connection.execute(insert(ApprovalRequestRow.__table__).values(
            id="r1", offer_id="d1.1", status="pending", approver_role="team_lead",
            reasons=[], requested_by="agent-1", requested_role="agent", requested_at=T0,
            decided_by=None, decided_at=None, **note))
    engine.dispose()


def _failing_updates(url: str, kind: str, on: bool) -> None:
    """A trigger that makes every UPDATE of approval_requests fail (0005's second step)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        if kind == "sqlite":
            connection.execute(text(
                "CREATE TRIGGER fail_updates BEFORE UPDATE ON approval_requests "
                "BEGIN SELECT RAISE(ABORT, 'injected failure'); END" if on else
                "DROP TRIGGER fail_updates"))
        elif on:
            connection.execute(text(
                "CREATE FUNCTION fail_updates() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$"))
            connection.execute(text(
                "CREATE TRIGGER fail_updates BEFORE UPDATE ON approval_requests "
                "FOR EACH ROW EXECUTE FUNCTION fail_updates()"))
        else:
            connection.execute(text("DROP TRIGGER fail_updates ON approval_requests"))
            connection.execute(text("DROP FUNCTION fail_updates()"))
    engine.dispose()


def test_an_upgrade_that_fails_halfway_leaves_the_database_as_it_was(kind, tmp_path):
    """0005 adds a column, then moves notes into it: when the move fails, the column is not
    left behind (it was, on SQLite, and every later upgrade and start then failed with
    'duplicate column name')."""
    with database_at("0004", kind, tmp_path) as url:
        _one_request(url)
        _failing_updates(url, kind, on=True)
        before = request_columns(url)
        with pytest.raises(Exception, match="injected failure"):
            upgrade(url)
        assert revision(url) == "0004" and request_columns(url) == before
        _failing_updates(url, kind, on=False)
        upgrade(url)  # the same upgrade, once what made it fail is gone
        store = Store(url)
        try:
            store.check_schema()
        finally:
            store.engine.dispose()
        assert "note" in request_columns(url)


def _upgrading(url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom service.store.database import upgrade\n"
                               "upgrade(sys.argv[1])", url],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_upgrades_at_once_of_a_fresh_database_both_succeed(kind, tmp_path):
    """Two servers starting on a fresh embedded database, or replicas that each run
    `amends db upgrade`: the second waits for the first and finds the work done (one of
    them failed with 'table decisions already exists' or a duplicate pg_type)."""
    with database_at("base", kind, tmp_path) as url:
        for _ in range(2):  # from nothing, then (a no-op) from head
            runs = [_upgrading(url) for _ in range(3)]
            for run in runs:
                _, err = run.communicate(timeout=120)
                assert run.returncode == 0, err[-2000:]
            store = Store(url)
            try:
                store.check_schema()
            finally:
                store.engine.dispose()


def test_a_database_a_newer_amends_upgraded_is_said_to_be_one(kind, tmp_path):
    with database_at("head", kind, tmp_path) as url:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
        engine.dispose()
        for attempt in (lambda: upgrade(url), lambda: _checked(url)):
            with pytest.raises(StoreError, match=r"schema 0999, which this Amends does not "
                                                 r"know .* a newer Amends upgraded it"):
                attempt()
        assert revision(url) == "0999"


def _checked(url: str) -> None:
    store = Store(url)
    try:
        store.check_schema()
    finally:
        store.engine.dispose()



@pytest.mark.slow
def test_an_upgrade_never_holds_decisions_up_behind_a_long_reader(tmp_path):
    """On PostgreSQL an upgrade's ALTER or DROP INDEX waits for a table a long reader holds
    (a report, an export, a backup), and every write queues behind it: with a wait of ten
    minutes, decisions were 503s for as long. It now waits a moment at a time, leaving the
    table to the writers between tries, and is done once the reader is."""
    import threading

    import psycopg

    with database_at("0005", "postgresql", tmp_path) as url:
        options = make_url(url).query["options"]  # its schema as the search path
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                             options=options) as reader:
            reader.execute("SELECT count(*) FROM decisions")  # held until it commits
            upgrading = threading.Thread(target=upgrade, args=(url,))
            upgrading.start()
            written = threading.Event()

            def write():
                engine = create_engine(url)
                with engine.begin() as connection:
                    insert_decision(connection, T0, "d-written")
                engine.dispose()
                written.set()

            time.sleep(0.5)  # the upgrade waits for the reader now
            threading.Thread(target=write, daemon=True).start()
            assert written.wait(8), "a decision waited for the upgrade, which waited for the " \
                                    "reader"
            reader.commit()
        upgrading.join(30)
        from service.store.database import schema_revisions

        assert not upgrading.is_alive() and revision(url) == schema_revisions(url)[-1][0]


def test_a_downgrade_takes_the_database_back_to_an_earlier_amends_schema(kind, tmp_path):
    """To go back to an earlier release after an upgrade (its servers refuse the newer
    schema): `amends db downgrade <its revision>`, in one transaction; what the later schema
    adds is lost (0005's requester notes go back where 0004 kept them), and an upgrade
    brings it forward again."""
    from service.store.database import downgrade, schema_revisions

    with database_at("head", kind, tmp_path) as url:
        _one_request(url, note="upset")
        downgrade(url, "0007")
        assert revision(url) == "0007"
        downgrade(url, "0004")
        assert revision(url) == "0004" and "note" not in request_columns(url)
        engine = create_engine(url)
        with engine.connect() as connection:
            assert connection.execute(text(
                "SELECT decision_reason FROM approval_requests")).scalar() == "upset"
        engine.dispose()
        for wrong, said in (("0999", "no schema revision '0999'"),
                            ("0004", "at schema 0004; 0004 is not earlier"),
                            ("0006", "at schema 0004; 0006 is not earlier")):
            with pytest.raises(StoreError, match=said):
                downgrade(url, wrong)
        upgrade(url)
        _checked(url)
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
        engine.dispose()
        head = schema_revisions(url)[-1][0]
        with pytest.raises(StoreError, match="a newer Amends upgraded it; run that one "
                                             rf"\(its `amends db downgrade {head}`"):
            downgrade(url, "0005")
