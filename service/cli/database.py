"""`amends db upgrade`: the database at the current schema."""

from __future__ import annotations

from service.config import Settings


def add(commands, policy) -> None:
    database = commands.add_parser("db", help="manage the database")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    upgrade = database_commands.add_parser("upgrade",
                                           help="apply migrations (AMENDS_DATABASE_URL)")
    upgrade.set_defaults(run=lambda args, settings: db_upgrade(settings))


def db_upgrade(settings: Settings) -> int:
    from service.store.database import Store, upgrade

    upgrade(settings.database_url)
    print(f"database {Store(settings.database_url).safe_url} is at the current schema")
    return 0
