"""`amends export decisions`: the audit export of a period from the database
(AMENDS_DATABASE_URL), as NDJSON or CSV, written page by page as it is read.

NDJSON: one line per decision, the document GET /v1/decisions lists (the stored decision,
who asked, the incident as sent, its grants and outcomes).

CSV: one row per offer (a decision without offers: one row, its offer columns empty), the
decision's columns repeated on each; `CSV_COLUMNS` names them. Money is a decimal string
(`amount`, `granted_amount`) beside its currency; moments are UTC, ISO 8601. An offer's grant
(at most one) fills the `granted_*` columns; the decision's latest outcome fills the
`outcome_*` columns and `outcomes` counts them all.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
from collections.abc import Iterator
from datetime import timedelta

from service.cli.output_file import unwritable, written
from service.cli.stored import require_database
from service.config import Settings
from service.store import clock

FORMATS = ("ndjson", "csv")
PAGE = 200  # decisions read per transaction (the API's largest page)

CSV_COLUMNS = (
    "decision_id", "incident_id", "decided_at", "customer_id", "order_id", "principal",
    "role", "policy_name", "policy_version", "prior_failures", "outlook",
    "offer_id", "remedy", "variant", "source", "amount", "currency", "approval",
    "approver_role", "state", "state_changed_at",
    "grant_id", "granted_amount", "granted_currency", "granted_by", "granted_role",
    "granted_at", "approval_request_id",
    "outcomes", "outcome_accepted", "outcome_satisfied", "outcome_stayed",
    "outcome_recorded_at",
)


def add(commands, policy) -> None:
    export = commands.add_parser("export", help="export stored data for audit")
    what = export.add_subparsers(dest="export_command", required=True)
    decisions = what.add_parser(
        "decisions", help="the decisions of a period with their grants and outcomes "
                          "(AMENDS_DATABASE_URL), oldest first")
    decisions.add_argument("--since", required=True, type=_moment,
                           help="first moment (included): a date (its midnight, UTC) or an "
                                "ISO 8601 moment with its offset")
    decisions.add_argument("--until", type=_moment, default=None,
                           help="end (excluded), in the same forms; default: the moment the "
                                "export starts")
    decisions.add_argument("--format", choices=FORMATS, default="ndjson")
    decisions.add_argument("--output", "-o", default=None,
                           help="file to write (default: standard output)")
    decisions.add_argument("--page-size", type=_page_size, default=PAGE,
                           help=f"decisions read per transaction (1-{PAGE})")
    decisions.set_defaults(run=export_decisions)


def export_decisions(args, settings: Settings) -> int:
    from service.app.decision_log import decision_log_pages, period_end
    from service.app.errors import Invalid
    from service.store.database import Store
    from service.web.presenters.decision_log import logged_decision_json

    why = unwritable(args.output, settings.database_url) if args.output is not None else None
    if why:
        print(f"amends: cannot write --output: {why}", file=sys.stderr)
        return 2
    require_database(settings)
    store = Store(settings.database_url, settings.database_timeout_seconds)
    # A snapshot: decisions made meanwhile wait for the next export. On PostgreSQL it ends
    # the few seconds before, in which a decision may still be being written. Checked
    # before anything is written (an --output file is not emptied for a refused period).
    until = args.until or clock.now() - timedelta(seconds=store.settle_seconds)
    if until <= args.since:
        print("amends: --until must be after --since" if args.until else
              f"amends: --since must be before {until.isoformat()}: the export ends there "
              "unless --until says otherwise", file=sys.stderr)
        store.engine.dispose()
        return 2
    try:
        period_end(store, args.since, until)
        store.check_schema()
        documents = (logged_decision_json(exported)
                     for page in decision_log_pages(store, args.since, until,
                                                    args.page_size)
                     for exported in page.decisions)
        # A file is written whole: a failed export leaves an earlier one as it was.
        output = (written(args.output, newline="") if args.output
                  else contextlib.nullcontext(sys.stdout))
        with output as out:
            count = (_write_ndjson if args.format == "ndjson" else _write_csv)(documents, out)
    except Invalid as error:
        for field, messages in error.errors.items():
            for message in messages:
                print(f"amends: --{field}: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise  # the reader went away (`| head`): main() stops quietly
    except OSError as error:  # writing the file (a full disk, say)
        print(f"amends: cannot write {args.output or 'standard output'}: {error}",
              file=sys.stderr)
        return 2
    finally:
        store.engine.dispose()
    if args.output:
        print(f"{count} decision(s) written to {args.output}", file=sys.stderr)
    return 0


def _write_ndjson(documents: Iterator[dict], out) -> int:
    count = 0
    for document in documents:
        out.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


def _write_csv(documents: Iterator[dict], out) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for document in documents:
        writer.writerows(csv_rows(document))
        count += 1
    return count


def csv_rows(document: dict) -> list[dict]:
    """The CSV rows of one decision document (as GET /v1/decisions lists it): one per offer,
    or one with empty offer columns when it has none. None is an empty cell, booleans are
    `true` / `false`."""
    outcomes = document["outcomes"]
    latest = outcomes[-1] if outcomes else {}
    decision = {
        "decision_id": document["decision_id"], "incident_id": document["incident_id"],
        "decided_at": document["decided_at"], "customer_id": document["customer_id"],
        "order_id": document["order_id"], "principal": document["principal"],
        "role": document["role"], "policy_name": document["policy"]["name"],
        "policy_version": document["policy"]["version"],
        "prior_failures": document["prior_failures"],
        "outlook": document["recovery"]["outlook"],
        "outcomes": len(outcomes), "outcome_accepted": latest.get("accepted"),
        "outcome_satisfied": latest.get("satisfied"), "outcome_stayed": latest.get("stayed"),
        "outcome_recorded_at": latest.get("recorded_at"),
    }
    grants = {grant["offer_id"]: grant for grant in document["grants"]}
    rows = []
    for offer in document["offers"] or [None]:
        row = dict(decision)
        if offer is not None:
            grant = grants.get(offer["id"], {})
            row.update({
                "offer_id": offer["id"], "remedy": offer["remedy"],
                "variant": offer["variant"], "source": offer["source"],
                "amount": offer["value"]["amount"], "currency": offer["value"]["currency"],
                "approval": offer["approval"], "approver_role": offer["approver_role"],
                "state": offer["state"], "state_changed_at": offer["state_changed_at"],
                "grant_id": grant.get("id"),
                "granted_amount": grant.get("value", {}).get("amount"),
                "granted_currency": grant.get("value", {}).get("currency"),
                "granted_by": grant.get("principal"), "granted_role": grant.get("role"),
                "granted_at": grant.get("granted_at"),
                "approval_request_id": grant.get("approval_request_id"),
            })
        rows.append({column: _cell(row.get(column)) for column in CSV_COLUMNS})
    return rows


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _moment(text: str):
    from schemas.decision_log import parse_moment

    try:
        return parse_moment(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _page_size(text: str) -> int:
    value = int(text) if text.isascii() and text.isdigit() else 0
    if not 1 <= value <= PAGE:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {PAGE}")
    return value
