"""`amends policy check | test | activate`: a policy folder checked, its own cases run, and
made the active version in the database."""

from __future__ import annotations

import argparse
import json
import sys
import time

from service.config import Settings
from service.policy.problems import PolicyInvalid


def add(commands, policy) -> None:
    check = policy.add_parser("check", help="validate every file of a policy")
    check.add_argument("directory")
    check.add_argument("--json", action="store_true", help="problems as JSON")
    check.set_defaults(run=lambda args, settings: policy_check(args))
    test = policy.add_parser(
        "test", help="run the policy's own test cases",
        description="Run the policy's own test cases (tests.yaml); exit 1 on any failure.")
    test.add_argument("directory")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    test.add_argument("--coverage", action="store_true",
                      help="list the rules no test fires, then each rule's tests and the "
                           "outcomes they check")
    test.add_argument("--format", choices=("text", "json", "junit"), default="text",
                      help="text (default), one JSON document, or JUnit XML for CI")
    test.add_argument("--update", action="store_true",
                      help="rewrite the failing expectations in tests.yaml to what the policy "
                           "now decides, after showing the diff and asking")
    test.add_argument("-y", "--yes", action="store_true",
                      help="with --update: rewrite without asking")
    test.set_defaults(run=lambda args, settings: policy_test(args))
    activate = policy.add_parser(
        "activate", help="check a policy folder and make it the active version in the "
                         "database (AMENDS_DATABASE_URL): every instance on it follows")
    activate.add_argument("directory")
    activate.add_argument("--by", type=who, help="who activates it (default: the OS user)")
    activate.set_defaults(run=policy_activate)


def who(name: str) -> str:
    """A `--by` that can be recorded, as a principal of the API can, and shown on a line of
    its own: neither blank nor holding a control character (argparse's type)."""
    from service.web.tokens import principal_fault

    fault = principal_fault(name)  # "" too: it would be the OS user without a word
    if fault:
        raise argparse.ArgumentTypeError(f"the name {fault}")
    return name


class Progress:
    """How far `policy check` has come, on one line of a terminal that it rewrites: only
    after a second (a small policy prints nothing) and at most five times a second."""

    def __init__(self, stream, after: float = 1.0, every: float = 0.2):
        self.stream, self.after, self.every = stream, after, every
        self.started = time.monotonic()
        self.shown_at: float | None = None
        self.live = stream.isatty()

    def __call__(self, what: str, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.live or now - self.started < self.after or (
                self.shown_at is not None and now - self.shown_at < self.every):
            return
        self.shown_at = now
        part = f" {done}/{total}" if total > 1 else ""
        self.stream.write(f"\r\x1b[K{what}{part} ({now - self.started:.1f} s)")
        self.stream.flush()

    def done(self) -> None:
        if self.shown_at is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def policy_check(args) -> int:
    from service.app.active_policy import read_policy
    from service.engine.adapter import RuleProgram

    progress = None if args.json else Progress(sys.stderr)
    try:
        policy = read_policy(args.directory, progress)
        if progress is not None:
            progress("compiling rules for the engine", 0, 1)
        program = RuleProgram(policy)
    except PolicyInvalid as error:
        if progress is not None:
            progress.done()
        if args.json:
            print(json.dumps({"valid": False,
                              "problems": [p.to_json() for p in error.problems]}, indent=2))
        else:
            print(error.report())
            print(f"{len(error.problems)} problem(s) in {args.directory}", file=sys.stderr)
        return 1
    if progress is not None:
        progress.done()
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
    from service.app.policy_activation import load_limit
    from service.store.database import Store, upgrade

    if settings.is_sqlite:  # as `amends serve` does: the embedded database migrates itself
        upgrade(settings.database_url)
    store = Store(settings.database_url, settings.database_timeout_seconds)
    try:
        store.check_schema()
        return _activate_folder(store, args.directory, args.by, settings.policy_poll_seconds,
                                load_limit(settings.worker_timeout_seconds))
    finally:
        store.engine.dispose()


def _activate_folder(store, directory: str, by: str | None, poll_seconds: float,
                     limit: float) -> int:
    from service.app.active_policy import PolicySource, load_source
    from service.app.policy_activation import (
        Outcome,
        activate,
        os_user,
        record_refusal,
        too_slow,
    )
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
        activation = activate(store, source, loaded.policy, by, "cli", too_slow(loaded, limit))
    finally:
        loaded.program.close()
    name, version = loaded.policy.name, activation.version
    if activation.outcome == Outcome.REFUSED:
        for reason in activation.reasons:
            print(reason)
        print(f"not activated: policy {name} version {version} is refused for the reasons "
              "above", file=sys.stderr)
        return 1
    if activation.outcome == Outcome.UNCHANGED:
        print(f"policy {name} version {version} is already active in {store.safe_url}")
    else:
        print(f"policy {name} version {version} activated by {by} in {store.safe_url}; "
              f"every Amends instance on it serves it within {poll_seconds:g} s and the time "
              "to load it")
    return 0


def policy_test(args) -> int:
    """Run a policy's own tests; report them as text, JSON or JUnit, with coverage if asked;
    with --update, rewrite the expectations of the failing ones (after a diff and a yes)."""
    from service.policy import test_report
    from service.policy.loader import shown

    if args.update and args.format != "text":
        print("amends: --update shows a diff and asks: use it with --format text",
              file=sys.stderr)
        return 2
    if args.yes and not args.update:
        print("amends: --yes goes with --update", file=sys.stderr)
        return 2
    loaded = _run_tests(args.directory)
    if isinstance(loaded, PolicyInvalid):
        directory = shown(args.directory)  # a name that is not UTF-8, printable
        if args.format == "json":
            print(json.dumps({"valid": False, "directory": directory,
                              "problems": [p.to_json() for p in loaded.problems]}, indent=2))
        elif args.format == "junit":
            print(test_report.junit_problems(directory, [str(p) for p in loaded.problems]))
        else:
            print(loaded.report())
        return 1
    policy, results = loaded
    if args.update:
        return _update(args, results)
    cover = test_report.coverage(policy, results) if args.coverage else None
    if args.format == "json":
        print(test_report.format_json(policy, results, cover))
    elif args.format == "junit":
        print(test_report.format_junit(policy, results, cover))
    else:
        print(test_report.format_text(results, args.verbose, cover))
    return 1 if not results or any(not r.passed for r in results) else 0


def _run_tests(directory: str):
    """(policy, results) of a folder's own tests, or the PolicyInvalid that stopped them."""
    from service.app.active_policy import read_policy
    from service.app.intake import parse_incident
    from service.engine.adapter import RuleProgram
    from service.policy.self_test import run_policy_tests

    try:
        policy = read_policy(directory)
    except PolicyInvalid as error:
        return error
    program = RuleProgram(policy)
    try:
        return policy, run_policy_tests(policy, program.fired, parse_incident)
    finally:
        program.close()


def _update(args, results) -> int:
    """Show the rewrite of the failing tests' expectations, ask (unless --yes), write it and
    run the tests again."""
    from service.policy import test_report
    from service.policy.self_test import format_result
    from service.policy.test_update import UpdateFailed, plan_updates

    failing = [r for r in results if not r.passed]
    if not failing:
        print(test_report.format_text(results, args.verbose))
        print("nothing to update: every test passes")
        return 0 if results else 1
    try:
        plans = plan_updates(results)
    except (UpdateFailed, OSError) as error:
        print(f"amends: cannot update: {error}", file=sys.stderr)
        return 1
    for result in failing:
        print(format_result(result))
    for plan in plans:
        print(plan.diff(), end="")
    skipped = [pair for plan in plans for pair in plan.skipped]
    for result, why in skipped:
        print(f"not rewritten: {result.test.file}:{result.test.line} {result.test.name}: {why}")
    count = sum(len(plan.rewrites) for plan in plans)
    if not count:
        print("no test can be rewritten", file=sys.stderr)
        return 1
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"amends: not rewritten: no terminal to ask whether to rewrite {count} "
                  "test(s); pass --yes to rewrite them", file=sys.stderr)
            return 2
        try:
            answer = input(f"Rewrite {count} test(s)? [y/N] ")
        except EOFError:
            answer = ""
        except KeyboardInterrupt:  # Ctrl-C at the question: main() says so on a line of its own
            print()
            raise
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing rewritten")
            return 1
    try:
        for plan in plans:
            plan.write()
    except (UpdateFailed, OSError) as error:
        print(f"amends: {error}", file=sys.stderr)
        return 1
    files = ", ".join(plan.file for plan in plans if plan.rewrites)
    print(f"rewrote {count} test(s) in {files}; running the tests again")
    loaded = _run_tests(args.directory)
    if isinstance(loaded, PolicyInvalid):
        print(loaded.report())
        return 1
    policy, again = loaded
    cover = test_report.coverage(policy, again) if args.coverage else None
    print(test_report.format_text(again, args.verbose, cover))
    return 1 if not again or any(not r.passed for r in again) else 0
