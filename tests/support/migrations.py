"""An empty database migrated to an earlier revision, to test what a later migration does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from alembic import command
from sqlalchemy import Connection, insert

from service.store.database import alembic_config
from service.store.models import DecisionRow
from tests.conftest import postgres_available, postgres_schema_url

ADMIN = "host=127.0.0.1 user=postgres dbname=test"


@contextmanager
def database_at(revision: str, kind: str, folder: Path) -> Iterator[str]:
    """The URL of an empty SQLite file or PostgreSQL schema (dropped afterwards) at
    `revision`."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'amends.db'}"
        command.upgrade(alembic_config(url), revision)
        yield url
        return
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable here (CI=true makes this a failure)")
    schema = f"amends_at_{revision}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = postgres_schema_url(schema)
        command.upgrade(alembic_config(url), revision)
        yield url
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def insert_decision(connection: Connection, moment, decision_id: str = "d1") -> None:
    """A decision row of the columns every revision since 0001 has, for a migration's test."""
    connection.execute(insert(DecisionRow.__table__).values(
        id=decision_id, incident_id=f"INC-{decision_id}", request_hash="0" * 64,
        customer_id="C-1", order_id="O-1", currency="EUR", principal="agent-1", role="agent",
        policy_name="default", policy_version="v", outlook="likely", request={}, result={},
        decided_at=moment))
