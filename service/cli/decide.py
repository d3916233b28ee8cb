"""`amends decide`: one incident from stdin, decided with a policy folder, nothing stored."""

from __future__ import annotations

import json
import sys
import uuid

from service.config import Settings
from service.policy.problems import PolicyInvalid


def add(commands, policy) -> None:
    decide = commands.add_parser("decide", help="decide one incident read from stdin")
    decide.add_argument("--policy", default=None, help="policy folder (default: AMENDS_POLICY "
                                                        "or rules/default)")
    decide.add_argument("--role", required=True)
    decide.add_argument("--prior-failures", type=int, default=0,
                        help="earlier failures known from history")
    decide.set_defaults(run=decide_stdin)


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
