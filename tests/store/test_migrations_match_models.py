"""The migrations build the schema the models declare (SQLite and PostgreSQL): no table,
column or index of one is missing from the other, so the queries written against the models
run on a migrated database as planned."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.store.models import Base


def test_a_migrated_database_has_what_the_models_declare(fresh_store):
    with fresh_store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = [difference for difference in compare_metadata(context, Base.metadata)
                       if not _alembics_own(difference)]
    assert differences == []


def _alembics_own(difference) -> bool:
    """alembic's version table is the migrations' own, not the models'."""
    return (isinstance(difference, tuple) and difference[0] == "remove_table"
            and difference[1].name == "alembic_version")
