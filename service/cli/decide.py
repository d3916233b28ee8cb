"""`amends decide`: one incident from stdin, decided with a policy folder, nothing stored.

With `--with-history`, the customer's prior failures and the running totals come from the
database (AMENDS_DATABASE_URL), read as POST /v1/decisions/preview reads them, and the policy
is the version active there unless `--policy` names a folder."""

from __future__ import annotations

import argparse
import json
import sys
import uuid

from service.cli.stored import require_database
from service.config import Settings
from service.policy.problems import PolicyInvalid


def add(commands, policy) -> None:
    decide = commands.add_parser("decide", help="decide one incident read from stdin")
    decide.add_argument("--policy", default=None, help="policy folder (default: AMENDS_POLICY "
                                                        "or rules/default; with --with-history "
                                                        "the database's active version)")
    decide.add_argument("--role", required=True)
    decide.add_argument("--prior-failures", type=_prior_failures, default=None,
                        help="earlier failures known from history (default 0; not with "
                             "--with-history, which counts them)")
    decide.add_argument("--with-history", action="store_true",
                        help="count the customer's prior failures and what is already granted "
                             "from the database (AMENDS_DATABASE_URL), as a preview; nothing "
                             "is stored")
    decide.add_argument("--principal", default=None,
                        help="with --with-history: whose grants today count (default: cli)")
    decide.set_defaults(run=decide_stdin)


def decide_stdin(args, settings: Settings) -> int:
    from service.app.active_policy import ActivePolicy
    from service.app.intake import parse_incident
    from service.domain.incident import History, IncidentInvalid
    from service.policy.self_test import PolicyTestsFailed
    from service.web.presenters.decisions import decision_json

    if args.with_history and args.prior_failures is not None:
        print("amends: --prior-failures goes without --with-history, which counts the "
              "customer's prior failures in the database", file=sys.stderr)
        return 2
    if args.principal is not None and not args.with_history:
        print("amends: --principal goes with --with-history (whose grants today count)",
              file=sys.stderr)
        return 2
    try:
        active = (_active_in_database(settings) if args.with_history and args.policy is None
                  else None) or ActivePolicy.load(args.policy or settings.policy_dir)
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
    except RecursionError:  # arrays or objects nested thousands deep
        print("amends: the incident on standard input is nested too deeply to be read",
              file=sys.stderr)
        return 2
    if args.with_history:
        return _preview(active, incident, args, settings)
    decision = active.decide(incident, args.role, History(args.prior_failures or 0))
    print(json.dumps(decision_json(decision, str(uuid.uuid4())), indent=2))
    return 0


def _active_in_database(settings: Settings):
    """With --with-history and no --policy: the version active in the database, as the
    service would decide with it (None when none was ever activated: the folder then)."""
    from service.app.active_policy import PolicySource, load_source
    from service.app.policy_activation import active_stored
    from service.store.database import Store

    require_database(settings)
    store = Store(settings.database_url, settings.database_timeout_seconds)
    try:
        store.check_schema()
        stored = active_stored(store)
    finally:
        store.engine.dispose()
    return None if stored is None else load_source(PolicySource.stored(stored),
                                                   already_active=True)


def _preview(active, incident, args, settings: Settings) -> int:
    """The decision POST /v1/decisions would make now for `args.principal` in the role, with
    the history in the database (the larger of its prior failures and the body's, as always;
    `--prior-failures` is refused with it)."""
    from service.app.decisions import preview_decision
    from service.app.errors import Conflict
    from service.domain.principal import Principal
    from service.store.database import Store
    from service.web.presenters.decisions import preview_json

    require_database(settings)
    store = Store(settings.database_url, settings.database_timeout_seconds)
    try:
        store.check_schema()
        preview = preview_decision(store, active, Principal(args.principal or "cli",
                                                            args.role), incident)
    except Conflict as error:
        print(f"amends: {error}", file=sys.stderr)
        return 2
    finally:
        store.engine.dispose()
    print(json.dumps(preview_json(preview), indent=2))
    return 0


def _prior_failures(text: str) -> int:
    """A --prior-failures an incident may carry (argparse's type)."""
    from schemas.incident import CustomerSchema

    bound = CustomerSchema._declared_fields["prior_failures"].validators[0]
    value = int(text) if text.isascii() and text.isdigit() and len(text) < 20 else -1
    if not bound.min <= value <= bound.max:
        raise argparse.ArgumentTypeError(f"a whole number from {bound.min} to {bound.max}")
    return value


def _no_float(text: str):
    raise ValueError(f"money and numbers with a fraction are decimal strings, not {text}")
