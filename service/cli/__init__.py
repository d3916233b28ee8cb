"""`amends`: the command line for policy owners and operators.

Each module of this package adds its commands (`add(commands, policy)`, with the top-level
and the `policy` subcommands) and handles them (`set_defaults(run=...)`, called with the
parsed arguments and the one `Settings`); this module only reads the settings and dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from service.config import ConfigError, Settings


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="amends", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    policy = commands.add_parser("policy", help="check, test, activate and study policies")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    for module in pkgutil.iter_modules(__path__):
        if module.name == "__main__":
            continue
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        add = getattr(loaded, "add", None)
        if add is not None:
            add(commands, policy_commands)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_environment(**{
            name: getattr(args, name) for name in ("host", "port", "workers")
            if getattr(args, name, None) is not None})
    except ConfigError as error:
        print(f"amends: {error}", file=sys.stderr)
        return 2
    try:
        return args.run(args, settings)
    except ConfigError as error:  # a setting found wrong only when it is used
        print(f"amends: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`amends ... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush
        return 141  # as a process ended by SIGPIPE
    except Exception as error:
        said = database_fault(error, settings)
        if said is None:
            raise
        print(f"amends: {said}", file=sys.stderr)
        return 2


def database_fault(error: Exception, settings: Settings) -> str | None:
    """What to say of an error in using the database (unreachable, missing, refusing a
    value, its schema behind), or None for any other error: the command line says it in a
    line, never with a traceback."""
    from alembic.util import CommandError
    from sqlalchemy import exc
    from sqlalchemy.engine import make_url

    from service.store.database import StoreError
    from service.store.errors import DatabaseUnavailable, ValueRefused

    if isinstance(error, StoreError | DatabaseUnavailable | ValueRefused):
        return str(error)
    if isinstance(error, exc.SQLAlchemyError | CommandError):
        try:
            where = "at " + make_url(settings.database_url).render_as_string(hide_password=True)
        except exc.ArgumentError:  # the URL itself (AMENDS_DATABASE_URL) is what is wrong
            where = "URL (AMENDS_DATABASE_URL)"
        first = str(getattr(error, "orig", None) or error).strip().splitlines()
        return f"cannot use the database {where}: {first[0] if first else type(error).__name__}"
    return None
