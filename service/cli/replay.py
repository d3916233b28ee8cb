"""`amends policy replay CANDIDATE`: the stored decisions of a period run through a candidate
policy (a folder, or a stored version), nothing stored; what would change, summed up."""

from __future__ import annotations

import json
import sys
import time

from service.cli.output_file import unwritable, written
from service.cli.stored import require_database
from service.config import Settings

PROGRESS_AFTER_SECONDS = 2.0  # a bar only for runs that take longer than this
BAR_WIDTH = 30


def add(commands, policy) -> None:
    replay = policy.add_parser(
        "replay", help="run the stored decisions of a period (AMENDS_DATABASE_URL) through a "
                       "candidate policy, storing nothing, and report what would change")
    replay.add_argument("candidate", help="a policy folder, or a stored version id")
    replay.add_argument("--since", help="from this UTC day (2026-11-01) or moment (ISO 8601)")
    replay.add_argument("--until", help="up to this UTC day, included, or moment, excluded "
                                        "(default: now)")
    replay.add_argument("--limit", type=_positive, help="most decisions, newest first")
    replay.add_argument("--sample", type=_sample, default=10,
                        help="changed decisions shown in full (default 10)")
    replay.add_argument("--json", metavar="FILE", dest="json_file",
                        help="also write the whole report as JSON ('-': to stdout, alone)")
    replay.set_defaults(run=policy_replay)


def _whole(text: str) -> int:
    """A whole number written in ASCII digits (not "٣", " 3", "+3" or "3_0", which int()
    also reads)."""
    import argparse

    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError("must be a whole number written in digits 0-9")
    return int(text)


def _positive(text: str) -> int:
    import argparse

    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _sample(text: str) -> int:
    import argparse

    value = _whole(text)
    if not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be 0 to 1000")
    return value


def policy_replay(args, settings: Settings) -> int:
    from service.app.errors import Invalid
    from service.app.replay import candidate_folder, candidate_version, replay, replay_period
    from service.domain.reports import BoundInvalid, period_bound
    from service.policy.loader import is_folder
    from service.store.database import Store
    from service.web.presenters.replay import replay_json

    bounds = {}
    for name, upper in (("since", False), ("until", True)):
        text = getattr(args, name)
        try:
            bounds[name] = period_bound(text, upper=upper) if text else None
        except BoundInvalid as error:
            print(f"amends: --{name}: {error}", file=sys.stderr)
            return 2
    since, until = bounds["since"], bounds["until"]
    try:
        until = replay_period(since, until)
    except Invalid as error:
        print(f"amends: --since: {error.errors['since'][0]}", file=sys.stderr)
        return 2
    why = (unwritable(args.json_file, settings.database_url)
           if args.json_file not in (None, "-") else None)
    if why:  # said now, not after the replay has run
        print(f"amends: cannot write --json: {why}", file=sys.stderr)
        return 2
    require_database(settings)
    store = Store(settings.database_url, settings.database_timeout_seconds)
    candidate = None
    try:
        store.check_schema()
        candidate = (candidate_folder(args.candidate) if is_folder(args.candidate)
                     else candidate_version(store, args.candidate))
        bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
        result = replay(store, candidate.active, since, until, args.limit,
                        bar.update if bar else None, sample=args.sample)
        if bar:
            bar.finish()
    except Invalid as error:
        for field, messages in error.errors.items():
            for message in messages:
                print(f"{field}: {message}", file=sys.stderr)
        print(f"amends: cannot replay against {args.candidate} (neither a folder that loads "
              "nor a stored version)", file=sys.stderr)
        return 1
    finally:
        if candidate is not None:
            candidate.close()
        store.engine.dispose()
    report = replay_json(result, candidate)
    if args.json_file == "-":
        print(json.dumps(report, indent=2))
        return 0
    print(summary(report))
    if args.json_file:
        try:
            with written(args.json_file) as out:  # whole, or an earlier file as it was
                out.write(json.dumps(report, indent=2) + "\n")
        except OSError as error:
            print(f"amends: cannot write {args.json_file}: {error}", file=sys.stderr)
            return 2
    return 0


class ProgressBar:
    """A one-line text bar on a terminal, drawn once a run has taken a while."""

    def __init__(self, stream, after_seconds: float = PROGRESS_AFTER_SECONDS):
        self.stream, self.after = stream, after_seconds
        self.started = time.monotonic()
        self.drawn = False

    def update(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed < self.after or not total:
            return
        rate = done / elapsed if elapsed else 0.0
        filled = min(BAR_WIDTH, BAR_WIDTH * done // total)
        eta = (total - done) / rate if rate else 0.0
        self.stream.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:,}/{total:,} "
                          f"decisions  {rate:,.0f}/s  {_duration(eta)} left ")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds + 0.5), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def summary(report: dict) -> str:
    """The report in a few readable lines."""
    candidate, period = report["candidate"], report["period"]
    replayed, compared = report["replayed"], report["compared"]
    changed = report["changed"]
    lines = [
        f"policy {candidate['name']} version {candidate['version']} ({candidate['source']}): "
        f"{replayed:,} stored decisions replayed of {report['in_period']:,} in the period "
        f"[{period['since'] or 'the first'} .. {period['until']}), newest first, in "
        f"{report['seconds']:.1f} s ({report['per_second']:,.0f}/s); nothing stored",
    ]
    if candidate["failing_tests"]:
        lines.append(f"  note: {len(candidate['failing_tests'])} of the candidate's own test "
                     "cases fail: " + "; ".join(candidate["failing_tests"][:5]))
    share = f" ({100 * changed['decisions'] / compared:.1f}%)" if compared else ""
    lines += [
        f"  decided by the candidate: {compared:,}; not decidable: "
        f"{report['not_decidable']:,}; role missing in the candidate: "
        f"{report['role_missing']:,}",
        f"  changed: {changed['decisions']:,}{share}: outlook {changed['outlook']:,}, "
        f"offers {changed['offers']:,}, approvals {changed['approvals']:,}",
    ]
    for move in changed["outlook_moves"]:
        lines.append(f"    outlook {move['before']} -> {move['after']}: {move['decisions']:,}")
    if report["money"]:
        lines.append(f"  {'money':<9}{'offered before':>16}{'after':>16}"
                     f"{'approval-free before':>22}{'after':>16}")
        for row in report["money"]:
            lines.append(f"  {row['currency']:<9}{row['offered_before']:>16}"
                         f"{row['offered_after']:>16}{row['approval_free_before']:>22}"
                         f"{row['approval_free_after']:>16}")
    if report["approval_free_unknown"]:
        lines.append(f"  approval-free leaves out {report['approval_free_unknown']:,} decisions "
                     "stored before grant_now was decided")
    moved = [rule for rule in report["rules"] if rule["fired_before"] != rule["fired_after"]]
    lines.append(f"  rules firing otherwise: {len(moved)} of {len(report['rules'])} that fired")
    for rule in moved[:20]:
        lines.append(f"    {rule['rule']}: {rule['fired_before']:,} -> {rule['fired_after']:,}")
    for reason in report["not_decidable_reasons"][:10]:
        lines.append(f"  not decidable ({reason['decisions']:,}): {reason['reason']}")
    for role in report["role_missing_roles"]:
        lines.append(f"  role {role['role']} missing in the candidate: {role['decisions']:,}")
    if report["sample"]:
        lines.append(f"  changed decisions (the first {len(report['sample'])}):")
    for item in report["sample"]:
        lines.append(f"    {item['decision_id']} {item['incident_id']} ({item['role']}, "
                     f"{item['decided_at']}): {', '.join(item['changed'])}")
        if item["before"]["outlook"] != item["after"]["outlook"]:
            lines.append(f"      outlook {item['before']['outlook']} -> "
                         f"{item['after']['outlook']}")
        for offer in item["removed"]:
            lines.append(f"      - {_offer(offer)}")
        for offer in item["added"]:
            lines.append(f"      + {_offer(offer)}")
    if not report["complete"]:
        lines.append("  stopped before the end of the period")
    return "\n".join(lines)


def _offer(offer: dict) -> str:
    value = offer["value"]
    variant = " (capped)" if offer["variant"] == "capped" else ""
    approval = ("" if offer["approval"] == "not_required"
                else f", approval by {offer['approver_role'] or 'no role'}")
    return f"{offer['remedy']}{variant} {value['amount']} {value['currency']}{approval}"
