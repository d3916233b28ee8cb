"""`amends policy versions | show | diff | refusals | rollback`: the versions stored in the
database (AMENDS_DATABASE_URL), what changed between two, the refused attempts, and rolling
back to an earlier version."""

from __future__ import annotations

import sys

from service.cli.policy_files import who
from service.cli.stored import require_database
from service.config import Settings

ALL = 200  # versions or refusals read from the database at a time


def add(commands, policy) -> None:
    versions = policy.add_parser(
        "versions", help="every activated version in the database, newest first, with who "
                         "activated it, when and how")
    versions.set_defaults(run=lambda args, settings: _with_store(settings, _versions, args))
    show = policy.add_parser("show", help="one stored version: its activations and files")
    show.add_argument("version")
    show.add_argument("--file", help="print only this file of the version, exactly as stored")
    show.set_defaults(run=lambda args, settings: _with_store(settings, _show, args))
    diff = policy.add_parser(
        "diff", help="what changed from one version to another: rules, roles and limits, "
                     "settings")
    diff.add_argument("old", help="a stored version, or a policy folder")
    diff.add_argument("new", help="a stored version, or a policy folder (to preview what "
                                  "activating it would change)")
    diff.set_defaults(run=lambda args, settings: _with_store(settings, _diff, args))
    refusals = policy.add_parser(
        "refusals", help="every refused attempt to activate a version, newest first, with "
                         "its reasons")
    refusals.set_defaults(run=lambda args, settings: _with_store(settings, _refusals, args))
    rollback = policy.add_parser(
        "rollback", help="activate a stored version again (proven and checked for orphaned "
                         "work as any activation); every instance on the database follows")
    rollback.add_argument("version")
    rollback.add_argument("--by", type=who, help="who rolls back (default: the OS user)")
    rollback.set_defaults(run=lambda args, settings: _with_store(settings, _rollback, args,
                                                                 migrate=True))


def _with_store(settings: Settings, command, args, migrate: bool = False) -> int:
    """Run `command(store, args, settings)` on the configured database; exit 2 when it cannot
    be used, 1 when what is named is not there."""
    from service.app.errors import NotFound
    from service.store.database import Store, upgrade

    if not migrate:
        require_database(settings)
    if migrate and settings.is_sqlite:  # as `amends serve` does: the embedded one migrates
        upgrade(settings.database_url)
    store = Store(settings.database_url, settings.database_timeout_seconds)
    try:
        store.check_schema()
        return command(store, args, settings)
    except NotFound as error:
        print(f"amends: {error}", file=sys.stderr)
        return 1
    finally:
        store.engine.dispose()


def _versions(store, args, settings) -> int:
    from service.app.policy_versions import list_versions

    cursor, shown = None, 0
    while True:
        page = list_versions(store, ALL, cursor)
        for summary in page.versions:
            entry = summary.entry
            print(f"{entry.version}  {entry.name}" + ("  (active)" if summary.active else ""))
            for activation in summary.activations:
                print(f"    {_activation(activation)}")
            shown += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    if not shown:
        print(f"no policy version was ever activated in {store.safe_url}")
    return 0


def _show(store, args, settings) -> int:
    from service.app.policy_versions import show_version

    detail = show_version(store, args.version)
    files = detail.stored.files
    if args.file is not None:
        if args.file not in files:
            print(f"amends: version {args.version} has no file {args.file}; it has "
                  f"{', '.join(sorted(files))}", file=sys.stderr)
            return 1
        sys.stdout.write(files[args.file])
        return 0
    stored = detail.stored
    print(f"policy {stored.name} version {stored.version}"
          + (" (active)" if detail.active else ""))
    for activation in detail.activations:
        print(f"    {_activation(activation)}")
    for name in sorted(files):
        print(f"\n==> {name} <==")
        sys.stdout.write(files[name] if files[name].endswith("\n") else files[name] + "\n")
    return 0


def _diff(store, args, settings) -> int:
    from service.app.active_policy import PolicySource
    from service.app.policy_versions import compare, stored_source
    from service.policy.loader import is_folder
    from service.policy.problems import PolicyInvalid

    try:
        sources = [PolicySource.read(ref) if is_folder(ref) else stored_source(store, ref)
                   for ref in (args.old, args.new)]
        compared = compare(*sources)
    except PolicyInvalid as error:
        print(error.report())
        print(f"no diff: {len(error.problems)} problem(s) in {error.directory}", file=sys.stderr)
        return 1
    old, new = compared.old, compared.new
    print(f"policy {old.name} version {old.version} → policy {new.name} version "
          f"{new.version}")
    lines = compared.diff.lines()
    for line in lines:
        print(f"  {line}")
    if not lines:
        print("  no changes")
    return 0


def _refusals(store, args, settings) -> int:
    from service.app.policy_versions import list_refusals

    cursor, shown = None, 0
    while True:
        page = list_refusals(store, ALL, cursor)
        for entry in page.refusals:
            refused = entry.refused
            print(f"{refused.at.isoformat()}  version {refused.version or '(unreadable)'} "
                  f"refused, by {entry.refused_by} via {refused.trigger}:")
            for reason in refused.reasons:
                print(f"    {reason}")
            shown += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    if not shown:
        print("no refused attempts")
    return 0


def _rollback(store, args, settings) -> int:
    from service.app.policy_activation import Outcome, load_limit, os_user
    from service.app.policy_versions import rollback

    by = args.by or os_user()
    result = rollback(store, args.version, by, "cli:rollback",
                      load_limit=load_limit(settings.worker_timeout_seconds))
    activation = result.activation
    if activation.outcome == Outcome.REFUSED:
        for reason in activation.reasons:
            print(reason)
        print(f"not rolled back: policy {result.name} version {activation.version} was "
              "refused; the active version serves on", file=sys.stderr)
        return 1
    if activation.outcome == Outcome.UNCHANGED:
        print(f"policy {result.name} version {activation.version} is already active in "
              f"{store.safe_url}")
    else:
        print(f"policy {result.name} version {activation.version} activated again by {by} "
              f"in {store.safe_url}; every Amends instance on it serves it within "
              f"{settings.policy_poll_seconds:g} s and the time to load it")
    return 0


def _activation(activation) -> str:
    return (f"{activation.activated_at.isoformat()}  activated by {activation.activated_by} "
            f"via {activation.via}")
