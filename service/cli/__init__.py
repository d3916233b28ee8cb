"""`amends`: the command line for policy owners and operators.

Each module of this package adds its commands (`add(commands, policy)`, with the top-level
and the `policy` subcommands) and handles them (`set_defaults(run=...)`, called with the
parsed arguments and the one `Settings`); this module only reads the settings and dispatches.
"""

from __future__ import annotations

import argparse
import contextlib
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
    """Run a command; its problems are said in one line on stderr (exit 2), never with a
    traceback, and so are an interruption (Ctrl-C: exit 130) and an output that cannot be
    written."""
    guarded = None
    try:
        args = parser().parse_args(argv)
        if args.command != "serve" and sys.stdout is not None:  # a server's stdout is its
            guarded = sys.stdout = GuardedStdout(sys.stdout)     # log, gunicorn's to handle
        code = _run(args)
        if sys.stdout is not None:  # None: closed (`>&-`), so nothing is written to it
            sys.stdout.flush()  # a full disk is said here, not at exit with a traceback
        return code
    except KeyboardInterrupt:
        print("amends: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`amends ... | head`): stop quietly
        _stdout_to_devnull()  # nothing more to flush
        return 141  # as a process ended by SIGPIPE
    except StdoutFailed as failed:
        print(f"amends: cannot write standard output: {failed.error}", file=sys.stderr)
        _stdout_to_devnull()
        return 2
    finally:
        if guarded is not None and sys.stdout is guarded:
            sys.stdout = guarded.stream


def _run(args: argparse.Namespace) -> int:
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
    except Exception as error:
        said = database_fault(error, settings)
        if said is None:
            raise
        print(f"amends: {said}", file=sys.stderr)
        return 2


class StdoutFailed(Exception):
    """Writing standard output failed (a full disk, an I/O error): `error` says how."""

    def __init__(self, error: OSError):
        super().__init__(str(error))
        self.error = error


class GuardedStdout:
    """Standard output, whose write errors are StdoutFailed rather than an OSError that
    could be taken for another (a broken pipe stays BrokenPipeError)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise StdoutFailed(error) from error

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise StdoutFailed(error) from error

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def _stdout_to_devnull() -> None:
    """What is left in standard output's buffer goes nowhere (its flush at exit would fail
    again, with a traceback)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # no file (in a test)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


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
