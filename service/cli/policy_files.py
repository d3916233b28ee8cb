"""`amends policy check | test | activate`: a policy folder checked, its own cases run, and
made the active version in the database."""

from __future__ import annotations

import json
import sys

from service.config import Settings
from service.policy.problems import PolicyInvalid


def add(commands, policy) -> None:
    check = policy.add_parser("check", help="validate every file of a policy")
    check.add_argument("directory")
    check.add_argument("--json", action="store_true", help="problems as JSON")
    check.set_defaults(run=lambda args, settings: policy_check(args))
    test = policy.add_parser("test", help="run the policy's own test cases")
    test.add_argument("directory")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    test.set_defaults(run=lambda args, settings: policy_test(args))
    activate = policy.add_parser(
        "activate", help="check a policy folder and make it the active version in the "
                         "database (AMENDS_DATABASE_URL): every instance on it follows")
    activate.add_argument("directory")
    activate.add_argument("--by", help="who activates it (default: the OS user)")
    activate.set_defaults(run=policy_activate)


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
