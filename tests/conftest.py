import copy
import os
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings

from service.app.active_policy import ActivePolicy
from service.config import Settings, shipped_policy
from service.store.database import Store, upgrade
from service.web.app_factory import create_app
from tests.support import alone

settings.register_profile(
    "amends", deadline=None, suppress_health_check=[HealthCheck.too_slow],
    database=None if os.environ.get("CI") else settings.default.database)
settings.register_profile("amends-fast", settings.get_profile("amends"), max_examples=10)
settings.load_profile("amends")
_fast_loop = False


def pytest_configure(config):
    """`-m "not slow"` is the fast loop: there property tests draw a tenth of their examples
    and database tests run on SQLite only. The whole suite (`./dev test`, CI) does it all."""
    global _fast_loop
    _fast_loop = "not slow" in (config.getoption("markexpr") or "")
    if _fast_loop:
        settings.load_profile("amends-fast")
    config.addinivalue_line("markers", alone.MARKER)
    alone.start_run(config)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A test marked `alone` runs while no other does (tests/support/alone.py)."""
    with alone.turn(item):
        return (yield)


def pytest_collection_modifyitems(config, items):
    """The fast loop runs each database test on SQLite only; the whole suite (and CI) runs it
    on PostgreSQL too."""
    if not _fast_loop:
        return
    on_postgresql = [item for item in items if "postgresql" in getattr(
        getattr(item, "callspec", None), "params", {}).values()]
    if on_postgresql:
        config.hook.pytest_deselected(items=on_postgresql)
        items[:] = [item for item in items if item not in set(on_postgresql)]


def examples(full: int) -> int:
    """How many examples a property test draws: `full` in the whole suite, fewer in the fast
    loop."""
    return max(1, full // 10) if _fast_loop else full


ROOT = Path(__file__).resolve().parents[1]
DEV_KEYS = ROOT / "config" / "dev-api-keys.yaml"


def test_settings(**overrides) -> Settings:
    """Settings for an app built in a test: the development keys, the shipped policy. Apps of
    different tests share the run's PostgreSQL schema with policies of their own, so they do
    not poll it for the active version (an hour) unless a test says so: each serves the
    version it started with or reloaded."""
    overrides.setdefault("policy_poll_seconds", 3600.0)
    return Settings(api_keys_file=overrides.pop("api_keys_file", DEV_KEYS), **overrides)


test_settings.__test__ = False  # a helper, not a test

KEYS = {"agent": "dev-agent-key", "team_lead": "dev-team-lead-key",
        "supervisor": "dev-supervisor-key", "manager": "dev-manager-key"}

DESIGN_EXAMPLE = {
    "incident_id": "INC-1001",
    "customer": {"id": "C-42", "tier": "gold", "lifetime_value": "5400.00", "prior_failures": 0},
    "order": {"id": "O-9", "value": "120.00", "currency": "EUR", "shipping_fee": "7.50",
              "upgrade_cost": "30.00"},
    "failure": {"category": "late_delivery", "severity": 2, "avoidable": False,
                "description": "parcel two days late"},
    "customer_ask": {"remedy": "refund", "amount": "120.00"},
}


def design_example(**sections) -> dict:
    """The README's example incident under fresh incident, customer and order ids (ids are
    idempotency keys and key history and running totals), with whole sections or
    `section__field` values replaced."""
    body = copy.deepcopy(DESIGN_EXAMPLE)
    body["incident_id"] = f"INC-{uuid.uuid4().hex[:12]}"
    body["customer"]["id"] = f"C-{uuid.uuid4().hex[:12]}"  # no history unless a test wants it
    body["order"]["id"] = f"O-{uuid.uuid4().hex[:12]}"  # no running totals either
    for name, value in sections.items():
        if "__" in name:
            section, field = name.split("__")
            body[section][field] = value
        elif value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def auth(role: str = "agent") -> dict:
    return {"Authorization": f"Bearer {KEYS[role]}"}


@pytest.fixture(scope="session")
def shipped() -> ActivePolicy:
    return ActivePolicy.load(shipped_policy())


POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_schema_url(schema: str) -> str:
    return f"{POSTGRES}?options=-csearch_path%3D{schema}"


def postgres_available() -> bool:
    try:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test",
                             connect_timeout=3):
            return True
    except psycopg.OperationalError:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 (user postgres, database test) is not "
                        "reachable; with CI=true its tests must run, not skip")
        return False


@pytest.fixture(scope="session")
def postgres_schema():
    """A fresh schema in the local PostgreSQL for this test run, dropped afterwards."""
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable here (CI=true makes this a failure)")
    schema = f"amends_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """One SQLite file brought to the newest revision by the migrations, once a run: every
    SQLite store starts as a copy of it (migrating takes longer than most tests)."""
    path = tmp_path_factory.mktemp("sqlite-migrated") / "amends.db"
    upgrade(f"sqlite:///{path}")
    return path


def make_store(kind: str, tmp_path_factory, request) -> Store:
    """A store of its own on SQLite, or on the run's PostgreSQL schema (shared)."""
    if kind == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "amends.db"
        with (closing(sqlite3.connect(request.getfixturevalue("migrated_sqlite"))) as source,
              closing(sqlite3.connect(path)) as copy):
            source.backup(copy)
        return Store(f"sqlite:///{path}")
    url = postgres_schema_url(request.getfixturevalue("postgres_schema"))
    upgrade(url)
    return Store(url)


def store_timing_out(kind: str, tmp_path_factory, request, seconds: float) -> Store:
    """A store of its own (as make_store) whose database timeout is `seconds`."""
    made = make_store(kind, tmp_path_factory, request)
    made.engine.dispose()
    return Store(made.url, timeout_seconds=seconds)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def store(request, tmp_path_factory) -> Store:
    """The store on each database: tests using it run on SQLite and on PostgreSQL."""
    created = make_store(request.param, tmp_path_factory, request)
    yield created
    created.engine.dispose()


@pytest.fixture(scope="session")
def app(shipped, store):
    return create_app(test_settings(), active_policy=shipped, store=store)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_store(request, tmp_path_factory) -> Store:
    """An empty store of its own on each database (on PostgreSQL a new schema, dropped
    afterwards): for tests that count everything stored, or that must not meet another
    test's active policy version."""
    if request.param == "sqlite":
        created = make_store("sqlite", tmp_path_factory, request)
        yield created
        created.engine.dispose()
        return
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable here (CI=true makes this a failure)")
    schema = f"amends_fresh_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = postgres_schema_url(schema)
    upgrade(url)
    created = Store(url)
    try:
        yield created
    finally:
        created.engine.dispose()
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=test",
                             autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
