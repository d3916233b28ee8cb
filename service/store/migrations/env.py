"""Alembic environment: runs migrations on the URL the Store was given.

Every upgrade runs in one transaction that first takes the database's lock for upgrades:
- killed halfway (a slow start stopped, `kill -9`), it leaves the database as it was, not
  with a column added but its data not moved and its revision not recorded (SQLite's
  driver would commit each DDL statement at once);
- two at once (two servers starting on a fresh embedded database, replicas that each run
  `amends db upgrade`) take turns: the second waits, then finds the work done;
- on PostgreSQL, a table another transaction holds is waited for DDL_WAIT_SECONDS at a
  time, never longer: decisions queue behind a waiting ALTER or CREATE INDEX.
"""

from alembic import context
from sqlalchemy import create_engine, event, text

from service.store.models import Base

# How long an upgrade waits for another to finish before it gives up.
WAIT_SECONDS = 600
# How long, on PostgreSQL, a statement of the upgrade waits for a table that another
# transaction holds (a long report, an export, a backup). Writers queue behind a waiting
# ALTER or CREATE INDEX, so a longer wait would hold every decision up as long: the upgrade
# gives up instead, leaving the database as it was, and `upgrade` tries it again.
DDL_WAIT_SECONDS = 2
# PostgreSQL's advisory lock for upgrades ("Amends" and 1, as a 64-bit key).
UPGRADE_LOCK = 0x416D656E64730001

url = context.config.get_main_option("sqlalchemy.url")
sqlite = url.startswith("sqlite")
if sqlite:
    connectable = create_engine(url, connect_args={"timeout": WAIT_SECONDS})

    @event.listens_for(connectable, "connect")
    def _transactions_are_ours(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # so that BEGIN below is the only one

    @event.listens_for(connectable, "begin")
    def _begin_holding_the_write_lock(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
else:
    connectable = create_engine(url)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      transactional_ddl=True)
    with context.begin_transaction():
        if not sqlite:
            connection.execute(text("SELECT set_config('lock_timeout', :wait, true)"),
                               {"wait": f"{WAIT_SECONDS}s"})
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": UPGRADE_LOCK})
            connection.execute(text("SELECT set_config('lock_timeout', :wait, true)"),
                               {"wait": f"{DDL_WAIT_SECONDS}s"})
        context.run_migrations()
connectable.dispose()
