"""`amends`: the command line for policy owners and operators."""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path

from service.config import ConfigError, Settings
from service.policy.problems import PolicyInvalid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="amends", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    policy = commands.add_parser("policy", help="check and test a policy folder")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser("check", help="validate every file of a policy")
    check.add_argument("directory")
    check.add_argument("--json", action="store_true", help="problems as JSON")
    test = policy_commands.add_parser("test", help="run the policy's own test cases")
    test.add_argument("directory")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    activate = policy_commands.add_parser(
        "activate", help="check a policy folder and make it the active version in the "
                         "database (AMENDS_DATABASE_URL): every instance on it follows")
    activate.add_argument("directory")
    activate.add_argument("--by", help="who activates it (default: the OS user)")

    decide = commands.add_parser("decide", help="decide one incident read from stdin")
    decide.add_argument("--policy", default=None, help="policy folder (default: AMENDS_POLICY "
                                                        "or rules/default)")
    decide.add_argument("--role", required=True)
    decide.add_argument("--prior-failures", type=int, default=0,
                        help="earlier failures known from history")

    database = commands.add_parser("db", help="manage the database")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    database_commands.add_parser("upgrade", help="apply migrations (AMENDS_DATABASE_URL)")

    serve = commands.add_parser("serve", help="run the HTTP API under gunicorn")
    serve.add_argument("--host", help="default: AMENDS_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: AMENDS_PORT or 8000")
    serve.add_argument("--workers", type=int, help="default: AMENDS_WORKERS or 2")

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_environment(**{
            name: getattr(args, name) for name in ("host", "port", "workers")
            if getattr(args, name, None) is not None})
    except ConfigError as error:
        print(f"amends: {error}", file=sys.stderr)
        return 2
    if args.command == "policy":
        if args.policy_command == "activate":
            return policy_activate(args, settings)
        return policy_check(args) if args.policy_command == "check" else policy_test(args)
    if args.command == "decide":
        return decide_stdin(args, settings)
    if args.command == "db":
        return db_upgrade(settings)
    return serve_http(settings)


def db_upgrade(settings: Settings) -> int:
    from service.store.database import Store, upgrade

    upgrade(settings.database_url)
    print(f"database {Store(settings.database_url).safe_url} is at the current schema")
    return 0


def policy_check(args) -> int:
    from service.app.active_policy import read_policy
    from service.engine.adapter import RuleProgram

    try:
        policy = read_policy(args.directory)
        program = RuleProgram(policy)
    except PolicyInvalid as error:
        if args.json:
            print(json.dumps({"valid": False,
                              "problems": [p.to_json() for p in error.problems]}, indent=2))
        else:
            print(error.report())
            print(f"{len(error.problems)} problem(s) in {args.directory}", file=sys.stderr)
        return 1
    summary = {"valid": True, "name": policy.name, "version": policy.version,
               "rules": len(policy.rules), "engine_rules": program.engine_rule_count,
               "rulesets": len(program.plans), "tests": len(policy.tests)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"ok: policy {policy.name} version {policy.version}: {len(policy.rules)} rules "
              f"({program.engine_rule_count} engine rules in {len(program.plans)} rulesets), "
              f"{len(policy.roles)} roles, {len(policy.tests)} test cases")
    return 0


def policy_activate(args, settings: Settings) -> int:
    """Check, compile and self-test a folder, then activate it in the configured database
    unless it would orphan stored work; print the version, or every problem."""
    from service.store.database import Store, StoreError, upgrade
    from service.store.errors import DatabaseUnavailable

    if settings.is_sqlite:  # as `amends serve` does: the embedded database migrates itself
        upgrade(settings.database_url)
    store = Store(settings.database_url, settings.database_timeout_seconds)
    try:
        store.check_schema()
        return _activate_folder(store, args.directory, args.by, settings.policy_poll_seconds)
    except (StoreError, DatabaseUnavailable) as error:
        print(f"amends: {error}", file=sys.stderr)
        return 2
    finally:
        store.engine.dispose()


def _activate_folder(store, directory: str, by: str | None, poll_seconds: float) -> int:
    from service.app.active_policy import PolicySource, load_source
    from service.app.policy_activation import Outcome, activate, os_user, record_refusal
    from service.policy.self_test import PolicyTestsFailed

    by = by or os_user()
    source = None
    try:
        source = PolicySource.read(directory)
        loaded = load_source(source)
    except PolicyInvalid as error:
        print(error.report())
        print(f"not activated: {len(error.problems)} problem(s) in {directory}",
              file=sys.stderr)
        record_refusal(store, source and source.version(),
                       [str(problem) for problem in error.problems], by, "cli")
        return 1
    except PolicyTestsFailed as error:
        print(error.report())
        print(f"not activated: {len(error.failures)} failing test(s) in {directory}",
              file=sys.stderr)
        record_refusal(store, source.version(), error.report().splitlines(), by, "cli")
        return 1
    try:
        activation = activate(store, source, loaded.policy, by, "cli")
    finally:
        loaded.program.close()
    name, version = loaded.policy.name, activation.version
    if activation.outcome == Outcome.REFUSED:
        for reason in activation.reasons:
            print(reason)
        print(f"not activated: policy {name} version {version} would orphan stored work",
              file=sys.stderr)
        return 1
    if activation.outcome == Outcome.UNCHANGED:
        print(f"policy {name} version {version} is already active in {store.safe_url}")
    else:
        print(f"policy {name} version {version} activated by {by} in {store.safe_url}; "
              f"every Amends instance on it serves it within {poll_seconds:g} s and the time "
              "to load it")
    return 0


def policy_test(args) -> int:
    from service.app.active_policy import read_policy
    from service.app.intake import parse_incident
    from service.engine.adapter import RuleProgram
    from service.policy.self_test import format_result, run_policy_tests

    try:
        policy = read_policy(args.directory)
    except PolicyInvalid as error:
        print(error.report())
        return 1
    program = RuleProgram(policy)
    try:
        results = run_policy_tests(policy, program.fired, parse_incident)
    finally:
        program.close()
    failed = [r for r in results if not r.passed]
    for result in results:
        if args.verbose or not result.passed:
            print(format_result(result))
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or not results else 0


def decide_stdin(args, settings: Settings) -> int:
    from service.app.active_policy import ActivePolicy
    from service.app.intake import parse_incident
    from service.domain.incident import History, IncidentInvalid
    from service.policy.self_test import PolicyTestsFailed
    from service.web.presenters.decisions import decision_json

    try:
        active = ActivePolicy.load(args.policy or settings.policy_dir)
    except PolicyInvalid as error:
        print(error.report(), file=sys.stderr)
        return 1
    except PolicyTestsFailed as error:
        print(error.report(), file=sys.stderr)
        return 1
    if args.role not in active.policy.roles:
        print(f"unknown role {args.role!r}; roles: {', '.join(active.policy.escalation)}",
              file=sys.stderr)
        return 2
    try:
        body = json.loads(sys.stdin.read(), parse_float=_no_float)
        incident = parse_incident(body, active.policy)
    except (ValueError, IncidentInvalid) as error:
        problem = {"title": "Invalid incident", "detail": str(error),
                   "errors": getattr(error, "errors", {})}
        print(json.dumps(problem, indent=2), file=sys.stderr)
        return 2
    decision = active.decide(incident, args.role, History(args.prior_failures))
    print(json.dumps(decision_json(decision, str(uuid.uuid4())), indent=2))
    return 0


def _no_float(text: str):
    raise ValueError(f"money and numbers with a fraction are decimal strings, not {text}")


def prepare_metrics_dir(settings: Settings) -> Path | None:
    """A fresh metrics folder for this server's workers (AMENDS_METRICS_DIR or a temporary
    one): files left by an earlier run would be summed in. prometheus_client reads it from
    PROMETHEUS_MULTIPROC_DIR, so that one variable is set, before any metric exists. Returns
    the temporary folder made, for removal when the server stops."""
    import shutil
    import tempfile

    directory = settings.metrics_dir
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        made = None
    else:
        directory = made = Path(tempfile.mkdtemp(prefix="amends-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return made


def serve_http(settings: Settings) -> int:
    """Run gunicorn in this process; its temporary folders go when it stops."""
    import shutil
    import tempfile

    from service.store.database import upgrade

    if settings.is_sqlite:  # the embedded default migrates itself; PostgreSQL on purpose
        upgrade(settings.database_url)
    # Where the workers share which policy version is active (see service.app.policy_reload).
    temporary = [prepare_metrics_dir(settings), Path(tempfile.mkdtemp(prefix="amends-runtime-"))]
    settings = settings.with_overrides(runtime_dir=temporary[-1])
    master = os.getpid()
    try:
        return _run_gunicorn(settings)
    finally:
        if os.getpid() == master:  # a forked worker leaving through here keeps them
            for folder in temporary:
                if folder is not None:
                    shutil.rmtree(folder, ignore_errors=True)


def _run_gunicorn(settings: Settings) -> int:
    from gunicorn.app.base import BaseApplication

    # Built here, in what becomes gunicorn's master, before it forks workers (preload): a
    # policy or configuration that cannot serve stops here with its report, not a traceback.
    from service.app.policy_reload import PolicyUnavailable
    from service.gunicorn_conf import options
    from service.store.database import StoreError
    from service.store.errors import DatabaseUnavailable
    from service.web.app_factory import create_app

    try:
        app = create_app(settings)
    except PolicyUnavailable as error:
        print(f"amends: {error.report}", file=sys.stderr)
        return 1
    except (ConfigError, StoreError, DatabaseUnavailable) as error:
        print(f"amends: {error}", file=sys.stderr)
        return 1

    class Gunicorn(BaseApplication):
        def load_config(self):
            for name, value in options(settings).items():
                self.cfg.set(name, value)

        def load(self):
            return app

    Gunicorn().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
