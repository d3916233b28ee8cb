"""`amends db upgrade`: the database at the current schema; `amends db downgrade REVISION`:
back at an earlier Amends' schema, to go back to that release."""

from __future__ import annotations

import argparse

from service.config import Settings


def add(commands, policy) -> None:
    database = commands.add_parser("db", help="manage the database")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    upgrade = database_commands.add_parser("upgrade",
                                           help="apply migrations (AMENDS_DATABASE_URL)")
    upgrade.set_defaults(run=lambda args, settings: db_upgrade(settings))
    downgrade = database_commands.add_parser(
        "downgrade", help="take the database back to an earlier Amends' schema",
        formatter_class=_RevisionsHelp,
        description="Take the database (AMENDS_DATABASE_URL) back to the schema of an earlier "
                    "Amends, to run that release again: stop every server of this one first.\n"
                    "In one transaction, as an upgrade: stopped halfway, it changes nothing. "
                    "What a\nlater schema adds is lost (see each revision below).")
    downgrade.add_argument("revision", help="the schema revision the earlier Amends needs "
                                            "(it names it when it refuses this database)")
    downgrade.set_defaults(run=lambda args, settings: db_downgrade(settings, args.revision))


class _RevisionsHelp(argparse.RawDescriptionHelpFormatter):
    """The help of `db downgrade` lists the schema revisions, read only when it is shown
    (reading them loads Alembic: a second on every command otherwise)."""

    def format_help(self) -> str:
        from service.store.database import schema_revisions

        listed = "\n".join(f"  {revision}  {what}"
                           for revision, what in schema_revisions("sqlite://"))
        return f"{super().format_help()}\nschema revisions, oldest first:\n{listed}\n"


def db_upgrade(settings: Settings) -> int:
    from service.store.database import Store, upgrade

    upgrade(settings.database_url)
    print(f"database {Store(settings.database_url).safe_url} is at the current schema")
    return 0


def db_downgrade(settings: Settings, revision: str) -> int:
    from service.cli.stored import require_database
    from service.store.database import Store, downgrade

    require_database(settings)  # none there: nothing to take back, and none is made
    downgrade(settings.database_url, revision)
    print(f"database {Store(settings.database_url).safe_url} is at schema {revision}")
    return 0
