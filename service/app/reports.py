"""Reports for the policy owner: what became of decisions, and where failures recur.

The figures and what they mean are in `service.domain.reports`. A period is [since, until);
either bound left out is filled in: `until` is now, `since` is DEFAULT_DAYS before `until`.

A report reads in one transaction bounded by the report's own deadline (over the API, a
margin before the worker timeout), not by the database timeout; without one (the command
line) it reads to its end however long that takes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from service.app.errors import Invalid
from service.domain.reports import (
    DEFAULT_TOP,
    MAX_BUCKETS,
    MAX_TOP,
    Bucket,
    FailureReport,
    FailureTally,
    Grouping,
    OutcomeReport,
    Tallies,
    bucket_count,
    outcome_report,
)
from service.store import clock
from service.store.database import UNBOUNDED, Store
from service.store.errors import OutOfTime
from service.store.unit_of_work import UnitOfWork

DEFAULT_DAYS = 90


def period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """The period the bounds given make; Invalid when `since` is after `until`."""
    until = until if until is not None else clock.now()
    if since is None:  # the last DEFAULT_DAYS (from the first moment there is, for an early end)
        days, first = timedelta(days=DEFAULT_DAYS), datetime.min.replace(tzinfo=UTC)
        since = until - days if until - first > days else first
    if since > until:
        raise Invalid({"since": [f"The period starts ({since.isoformat()}) after it ends "
                                 f"({until.isoformat()})."]})
    return since, until


def _too_long(read: int) -> Invalid:
    """What a report that ran out of its time is (naming `since`), after `read` decisions."""
    so_far = f" ({read} read so far)" if read else ""
    return Invalid({"since": [f"The period holds more decisions than can be reported on "
                              f"within the request's time{so_far}: choose a shorter "
                              "period."]})


def _in_time(deadline: float | None, read: int) -> None:
    """Invalid (naming `since`) once the work of a report runs past `deadline` (a request's:
    before its worker's timeout), after `read` decisions."""
    if deadline is not None and time.monotonic() > deadline:
        raise _too_long(read)


def _reading(store: Store, deadline: float | None) -> UnitOfWork:
    """The unit of work a report reads in: one snapshot, no writer held up, its statements
    bounded by `deadline` (none: UNBOUNDED), where one still running is stopped (OutOfTime,
    which the report turns into Invalid)."""
    return UnitOfWork(store, snapshot=True, reading=True,
                      until=UNBOUNDED if deadline is None else deadline)


def outcome_report_of(store: Store, by: Grouping, since: datetime | None = None,
                      until: datetime | None = None,
                      deadline: float | None = None) -> OutcomeReport:
    """Per rule, remedy kind, policy version or outlook, the decisions of the period, their
    outcomes and what was granted on them; and the outlook's calibration. With a `deadline`
    (time.monotonic()), a report that would run past it is Invalid instead (without one it
    runs to its end, however long)."""
    since, until = period(since, until)
    read = 0
    try:
        with _reading(store, deadline) as uow:
            by_outlook = uow.reports.outcome_tallies(Grouping.OUTLOOK, since, until)
            if by is Grouping.OUTLOOK:
                groups = by_outlook
            elif by is Grouping.RULE:
                counted = Tallies()
                for batch in uow.reports.rule_facts(since, until):
                    counted.add(batch)
                    read += len(batch)
                    _in_time(deadline, read)
                groups = counted.result()
            else:
                groups = uow.reports.outcome_tallies(by, since, until)
    except OutOfTime:
        raise _too_long(read) from None
    return outcome_report(by, since, until, groups, by_outlook)


def failure_report_of(store: Store, since: datetime | None = None,
                      until: datetime | None = None, bucket: Bucket = Bucket.WEEK,
                      top: int = DEFAULT_TOP, deadline: float | None = None) -> FailureReport:
    """Incidents of the period per week or month, category and severity, the share that were
    repeat failures, and the `top` customers and orders with the most. With a `deadline`,
    one that would run past it is Invalid instead (without one it runs to its end)."""
    since, until = period(since, until)
    if bucket_count(since, until, bucket) > MAX_BUCKETS:
        raise Invalid({"bucket": [f"The period has more than {MAX_BUCKETS} {bucket}s: choose "
                                  "a shorter period or a longer bucket."]})
    if not 1 <= top <= MAX_TOP:
        raise Invalid({"top": [f"Must be from 1 to {MAX_TOP}."]})
    counted = FailureTally(since, until, bucket)
    read = 0
    try:
        with _reading(store, deadline) as uow:
            for batch in uow.reports.failure_facts(since, until):
                counted.add(batch)
                read += len(batch)
                _in_time(deadline, read)
            customers = uow.reports.most_incidents("customer", since, until, top)
            orders = uow.reports.most_incidents("order", since, until, top)
    except OutOfTime:
        raise _too_long(read) from None
    return counted.report(customers, orders)
