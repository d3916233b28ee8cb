"""`amends`: the command line for policy owners and operators.

Each module of this package adds its commands (`add(commands, policy)`, with the top-level
and the `policy` subcommands) and handles them (`set_defaults(run=...)`, called with the
parsed arguments and the one `Settings`); this module only reads the settings and dispatches.
"""

from __future__ import annotations

import argparse
import importlib
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
    return args.run(args, settings)
