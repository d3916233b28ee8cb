"""`amends report outcomes | failures`: the policy owner's reports from the database
(AMENDS_DATABASE_URL), as readable tables or, with `--json`, the API's JSON."""

from __future__ import annotations

import argparse
import json
import sys

from service.cli.stored import require_database
from service.config import Settings


def add(commands, policy) -> None:
    report = commands.add_parser("report", help="reports on decisions, outcomes and failures")
    reports = report.add_subparsers(dest="report_command", required=True)
    outcomes = reports.add_parser(
        "outcomes", help="per rule, remedy, policy version or outlook: decisions, outcomes, "
                         "accepted / satisfied / stayed / recovered rates, money granted, and "
                         "the outlook's calibration")
    outcomes.add_argument("--by", choices=["rule", "remedy", "version", "outlook"],
                          default="outlook", help="how to group decisions (default: outlook)")
    _period_arguments(outcomes)
    outcomes.set_defaults(run=report_outcomes)
    failures = reports.add_parser(
        "failures", help="incidents per week or month, category and severity, the share of "
                         "repeat failures, and the customers and orders with the most")
    failures.add_argument("--bucket", choices=["week", "month"], default="week",
                          help="count per ISO week or calendar month, UTC (default: week)")
    failures.add_argument("--top", type=_top, default=10,
                          help="how many customers and orders to list (1-100, default 10)")
    _period_arguments(failures)
    failures.set_defaults(run=report_failures)


def _bound(text: str) -> str:
    """The text of a bound, checked (converted by `_period`)."""
    from service.domain.reports import BoundInvalid, period_bound

    try:
        period_bound(text, upper=False)
    except BoundInvalid as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _period(args):
    """(since, until) as moments, or None when the period runs backwards."""
    from service.domain.reports import BoundInvalid, is_whole_day, period_bound, runs_backwards

    try:
        since = None if args.since is None else period_bound(args.since, upper=False)
        until = None if args.until is None else period_bound(args.until, upper=True)
    except BoundInvalid as error:  # the last day there is, as --until
        print(f"amends: --until: {error}", file=sys.stderr)
        return None
    if since is not None and until is not None and runs_backwards(
            since, until, is_whole_day(args.until)):
        print("amends: --since: the period starts after it ends", file=sys.stderr)
        return None
    return since, until


def _top(text: str) -> int:
    from service.domain.reports import MAX_TOP

    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_TOP):
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {MAX_TOP}")
    return int(text)


def _period_arguments(parser) -> None:
    parser.add_argument("--since", type=_bound, default=None,
                        help="from this date (its midnight UTC) or datetime with offset "
                             "(default: 90 days before --until)")
    parser.add_argument("--until", type=_bound, default=None,
                        help="to this date (the whole day) or datetime with offset, exclusive "
                             "(default: now)")
    parser.add_argument("--json", action="store_true", help="the report as the API's JSON")


def _with_store(settings: Settings, make_report):
    """Run `make_report(store)` on the configured database; (report, exit code). The
    report's reads have no deadline (`deadline=None`): the database timeout bounds connecting
    and the start of its transaction, never how long the report reads."""
    from service.app.errors import Invalid
    from service.store.database import Store

    require_database(settings)
    store = Store(settings.database_url, settings.database_timeout_seconds)
    try:
        store.check_schema()
        return make_report(store), 0
    except Invalid as error:
        for field, messages in error.errors.items():
            for message in messages:
                print(f"amends: --{field}: {message}", file=sys.stderr)
        return None, 2
    finally:
        store.engine.dispose()


def report_outcomes(args, settings: Settings) -> int:
    from service.app.reports import outcome_report_of
    from service.domain.reports import Grouping
    from service.web.presenters.reports import outcome_report_json

    bounds = _period(args)
    if bounds is None:
        return 2
    report, code = _with_store(settings, lambda store: outcome_report_of(
        store, Grouping(args.by), *bounds, deadline=None))
    if report is None:
        return code
    document = outcome_report_json(report)
    print(json.dumps(document, indent=2) if args.json else outcomes_text(document))
    return 0


def report_failures(args, settings: Settings) -> int:
    from service.app.reports import failure_report_of
    from service.domain.reports import Bucket
    from service.web.presenters.reports import failure_report_json

    bounds = _period(args)
    if bounds is None:
        return 2
    report, code = _with_store(settings, lambda store: failure_report_of(
        store, *bounds, Bucket(args.bucket), args.top, deadline=None))
    if report is None:
        return code
    document = failure_report_json(report)
    print(json.dumps(document, indent=2) if args.json else failures_text(document))
    return 0


# ---- tables ---------------------------------------------------------------------------------

def table(header: list[str], rows: list[list[str]], text_columns: tuple[int, ...] = (0,)) -> str:
    """Columns padded to their widest cell: text to the left, numbers to the right."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) if number in text_columns else cell.rjust(width)
                         for number, (cell, width) in enumerate(zip(cells, widths, strict=True))
                         ).rstrip()
    return "\n".join([line(header), line(["-" * width for width in widths]),
                      *(line(row) for row in rows)])


def rate_text(rate: dict) -> str:
    """`0.7500 (6/8)`, or `- (0/0)` when there is nothing to rate."""
    return f"{rate['rate'] or '-'} ({rate['count']}/{rate['n']})"


def _money_text(granted: list[dict]) -> str:
    return ", ".join(f"{money['amount']} {money['currency']}" for money in granted) or "-"


_NO_KEY = {"remedy": "(nothing granted)"}


def outcomes_text(document: dict) -> str:
    header = [document["by"], "decisions", "outcomes", "accepted", "satisfied", "stayed",
              "recovered", "granted"]

    def row(key: str, figures: dict) -> list[str]:
        return [key, str(figures["decisions"]), str(figures["outcomes"]),
                *(rate_text(figures[name])
                  for name in ("accepted", "satisfied", "stayed", "recovered")),
                _money_text(figures["granted"])]

    rows = [row(group["key"] if group["key"] is not None
                else _NO_KEY.get(document["by"], "(none)"), group)
            for group in document["groups"]]
    rows.append(row("all decisions", document["total"]))
    calibration = document["calibration"]
    gap = calibration["likely_minus_unlikely"]
    return "\n".join([
        f"Outcomes of decisions from {document['since']} to {document['until']}, "
        f"by {document['by']}",
        "(the latest outcome of each; recovered: accepted, and satisfied or stayed)", "",
        table(header, rows), "",
        "Calibration of the outlook (recovered, of decisions with an outcome):",
        table(["outlook", "recovered"], [[entry["outlook"], rate_text(entry["recovered"])]
                                         for entry in calibration["outlooks"]]),
        f"likely minus unlikely: {gap if gap is not None else '- (no outcomes of both yet)'}",
    ])


def _kind_rows(kinds: list[dict]) -> list[list[str]]:
    return [[kind["category"], str(kind["severity"]), str(kind["incidents"]),
             rate_text(kind["repeat"])] for kind in kinds]


def _recurring_rows(entries: list[dict]) -> list[list[str]]:
    return [[entry["id"], str(entry["incidents"]), entry["first_at"], entry["last_at"]]
            for entry in entries]


def failures_text(document: dict) -> str:
    periods = [[period["start"][:10], str(period["incidents"]), rate_text(period["repeat"]),
                ", ".join(f"{kind['category']}/{kind['severity']}: {kind['incidents']}"
                          for kind in period["kinds"]) or "-"]
               for period in document["periods"]]
    return "\n".join([
        f"Failures from {document['since']} to {document['until']}: "
        f"{document['incidents']} incidents, repeat failures {rate_text(document['repeat'])}",
        "", f"Per {document['bucket']} (from its first day, UTC):",
        table([document["bucket"], "incidents", "repeat", "category/severity: incidents"],
              periods, text_columns=(0, 3)), "",
        "Per category and severity:",
        table(["category", "severity", "incidents", "repeat"], _kind_rows(document["kinds"])),
        "", "Customers with the most incidents:",
        table(["customer", "incidents", "first", "last"],
              _recurring_rows(document["top_customers"])), "",
        "Orders with the most incidents:",
        table(["order", "incidents", "first", "last"], _recurring_rows(document["top_orders"])),
    ])
