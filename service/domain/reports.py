"""Reports for the policy owner: what became of decisions, and where failures recur.

Pure aggregation, no I/O: the store counts what SQL can count portably and hands the rest
over as plain facts, a batch at a time; this module folds the facts, works out the rates and
cuts a period into weeks or months.

What the figures mean:
- A report covers the decisions *decided* in its period, `since` ≤ decided_at < `until`.
- A decision's outcome is the *latest* one recorded for it (by recorded_at, then id), at
  whatever time it was recorded; a decision with none has no outcome (`outcomes` counts
  those that have one).
- `accepted` is the share of outcomes that say accepted; `satisfied` and `stayed` are shares
  of the outcomes that say either way (an unknown, null, counts in neither `count` nor `n`).
- *Recovered*: the outcome says accepted, and satisfied or stayed (either is true). Its
  share is of all outcomes: an outcome that knows neither has not shown a recovery.
- A rate is `count / n` to four places (half even), none when `n` is 0: counts always go
  with it, so a small sample shows.
- Money granted is what the grants of those decisions gave (whenever granted), summed in
  minor units per currency: never converted, never a float. Per remedy kind, what the grants
  of that kind gave (a decision granted a refund and a discount is in both groups, each with
  its own money).
- An incident is a *repeat failure* when the customer had failed before (the decision's
  `prior_failures`, the larger of the store's history and what the caller said, above 0).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from service.domain.money import Money, from_minor
from service.domain.vocabulary import Outlook

RATE_QUANTUM = Decimal("0.0001")
MAX_BUCKETS = 520  # ten years of weeks
DEFAULT_TOP, MAX_TOP = 10, 100  # customers and orders a failure report lists


class Grouping(StrEnum):
    """What an outcome report groups decisions by."""

    RULE = "rule"  # every rule of the decision's trace (a decision counts under each)
    REMEDY = "remedy"  # every remedy kind granted on it; none granted: the key is None
    VERSION = "version"  # the policy version that decided
    OUTLOOK = "outlook"  # the predicted outlook


class Bucket(StrEnum):
    """How a failure report cuts its period: ISO weeks (from Monday) or calendar months, UTC."""

    WEEK = "week"
    MONTH = "month"


# ---- rates ----------------------------------------------------------------------------------

def ratio(count: int, n: int) -> Decimal | None:
    """`count / n` to four places, or None when there is nothing to divide by."""
    if n == 0:
        return None
    return (Decimal(count) / Decimal(n)).quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Rate:
    count: int
    n: int

    @property
    def value(self) -> Decimal | None:
        return ratio(self.count, self.n)


# ---- outcomes -------------------------------------------------------------------------------

def is_recovered(accepted: bool, satisfied: bool | None, stayed: bool | None) -> bool:
    return accepted and (satisfied is True or stayed is True)


@dataclass(frozen=True)
class LatestOutcome:
    """The latest outcome recorded for a decision."""

    accepted: bool
    satisfied: bool | None
    stayed: bool | None

    @property
    def recovered(self) -> bool:
        return is_recovered(self.accepted, self.satisfied, self.stayed)


def _summed(*amounts: Mapping[str, int]) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for minor in amounts:
        for currency, amount in minor.items():
            total[currency] += amount
    return dict(total)


@dataclass(frozen=True)
class OutcomeTally:
    """Counts of a group of decisions; every rate of a report is made from these."""

    decisions: int = 0
    outcomes: int = 0
    accepted: int = 0
    satisfied: int = 0
    satisfied_known: int = 0
    stayed: int = 0
    stayed_known: int = 0
    recovered: int = 0
    granted_minor: Mapping[str, int] = field(default_factory=dict)  # currency -> minor units

    @classmethod
    def of_decision(cls, outcome: LatestOutcome | None,
                    granted_minor: Mapping[str, int] | None = None) -> OutcomeTally:
        granted = {c: m for c, m in (granted_minor or {}).items() if m}
        if outcome is None:
            return cls(decisions=1, granted_minor=granted)
        return cls(decisions=1, outcomes=1, accepted=int(outcome.accepted),
                   satisfied=int(outcome.satisfied is True),
                   satisfied_known=int(outcome.satisfied is not None),
                   stayed=int(outcome.stayed is True),
                   stayed_known=int(outcome.stayed is not None),
                   recovered=int(outcome.recovered), granted_minor=granted)

    def __add__(self, other: OutcomeTally) -> OutcomeTally:
        return OutcomeTally(
            decisions=self.decisions + other.decisions, outcomes=self.outcomes + other.outcomes,
            accepted=self.accepted + other.accepted, satisfied=self.satisfied + other.satisfied,
            satisfied_known=self.satisfied_known + other.satisfied_known,
            stayed=self.stayed + other.stayed, stayed_known=self.stayed_known + other.stayed_known,
            recovered=self.recovered + other.recovered,
            granted_minor=_summed(self.granted_minor, other.granted_minor))

    def with_granted(self, granted_minor: Mapping[str, int]) -> OutcomeTally:
        return replace(self, granted_minor={c: m for c, m in granted_minor.items() if m})

    @property
    def accepted_rate(self) -> Rate:
        return Rate(self.accepted, self.outcomes)

    @property
    def satisfied_rate(self) -> Rate:
        return Rate(self.satisfied, self.satisfied_known)

    @property
    def stayed_rate(self) -> Rate:
        return Rate(self.stayed, self.stayed_known)

    @property
    def recovered_rate(self) -> Rate:
        return Rate(self.recovered, self.outcomes)

    @property
    def granted(self) -> tuple[Money, ...]:
        """Per currency, in currency order."""
        return tuple(Money(from_minor(minor, currency), currency)
                     for currency, minor in sorted(self.granted_minor.items()))


@dataclass(frozen=True)
class DecisionFacts:
    """One decision as a grouping by its stored document needs it: the keys it counts under
    (each once), its latest outcome and what was granted on it."""

    decision_id: str
    keys: tuple[str, ...]
    outcome: LatestOutcome | None
    granted_minor: Mapping[str, int] = field(default_factory=dict)


_COUNTED = ("decisions", "outcomes", "accepted", "satisfied", "satisfied_known", "stayed",
            "stayed_known", "recovered")


class Tallies:
    """Decisions folded in as they come, each under every key it names (once per key)."""

    def __init__(self) -> None:
        self._counts: dict[str | None, list[int]] = {}
        self._granted: dict[str | None, dict[str, int]] = {}

    def add(self, facts: Iterable[DecisionFacts]) -> Tallies:
        for fact in facts:
            outcome = fact.outcome
            if outcome is None:
                one = (1, 0, 0, 0, 0, 0, 0, 0)
            else:
                one = (1, 1, int(outcome.accepted), int(outcome.satisfied is True),
                       int(outcome.satisfied is not None), int(outcome.stayed is True),
                       int(outcome.stayed is not None), int(outcome.recovered))
            for key in dict.fromkeys(fact.keys):
                counts = self._counts.get(key)
                if counts is None:
                    counts = self._counts[key] = [0] * len(_COUNTED)
                    self._granted[key] = defaultdict(int)
                for number, value in enumerate(one):
                    counts[number] += value
                granted = self._granted[key]
                for currency, minor in fact.granted_minor.items():
                    granted[currency] += minor
        return self

    def result(self) -> dict[str | None, OutcomeTally]:
        return {key: OutcomeTally(**dict(zip(_COUNTED, counts, strict=True)),
                                  granted_minor={c: m for c, m in self._granted[key].items()
                                                 if m})
                for key, counts in self._counts.items()}


def tally(facts: Iterable[DecisionFacts]) -> dict[str | None, OutcomeTally]:
    """Each decision added to the tally of every key it names (once per key)."""
    return Tallies().add(facts).result()


@dataclass(frozen=True)
class OutcomeGroup:
    key: str | None
    tally: OutcomeTally


@dataclass(frozen=True)
class Calibration:
    """How often each predicted outlook really recovered, and how far apart `likely` and
    `unlikely` came out (None until both have outcomes)."""

    recovered: tuple[tuple[Outlook, Rate], ...]  # likely, uncertain, unlikely

    @property
    def likely_minus_unlikely(self) -> Decimal | None:
        rates = dict(self.recovered)
        likely, unlikely = rates[Outlook.LIKELY], rates[Outlook.UNLIKELY]
        if likely.n == 0 or unlikely.n == 0:
            return None
        exact = (Decimal(likely.count) / Decimal(likely.n)
                 - Decimal(unlikely.count) / Decimal(unlikely.n))
        return exact.quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN)


def calibration(by_outlook: Mapping[str | None, OutcomeTally]) -> Calibration:
    return Calibration(tuple(
        (outlook, by_outlook.get(outlook, OutcomeTally()).recovered_rate)
        for outlook in Outlook))


@dataclass(frozen=True)
class OutcomeReport:
    by: Grouping
    since: datetime
    until: datetime
    total: OutcomeTally  # every decision of the period once
    groups: tuple[OutcomeGroup, ...]  # most decisions first, then by key (None last)
    calibration: Calibration


def _group_order(group: OutcomeGroup):
    return (-group.tally.decisions, group.key is None, group.key or "")


def outcome_report(by: Grouping, since: datetime, until: datetime,
                   groups: Mapping[str | None, OutcomeTally],
                   by_outlook: Mapping[str | None, OutcomeTally]) -> OutcomeReport:
    """The report from the tallies of its groups and of the outlooks (each decision has one
    outlook, so those add up to the period's total)."""
    total = sum(by_outlook.values(), OutcomeTally())
    ordered = sorted((OutcomeGroup(key, counted) for key, counted in groups.items()
                      if counted.decisions), key=_group_order)
    return OutcomeReport(by, since, until, total, tuple(ordered), calibration(by_outlook))


# ---- failures -------------------------------------------------------------------------------

@dataclass(frozen=True)
class FailureFact:
    """One incident of the period, as the failure report counts it."""

    decided_at: datetime
    category: str
    severity: int
    repeat: bool


@dataclass(frozen=True)
class FailureCount:
    incidents: int = 0
    repeats: int = 0

    def __add__(self, other: FailureCount) -> FailureCount:
        return FailureCount(self.incidents + other.incidents, self.repeats + other.repeats)

    @property
    def repeat_rate(self) -> Rate:
        return Rate(self.repeats, self.incidents)


Kind = tuple[str, int]  # (category, severity)


@dataclass(frozen=True)
class FailurePeriod:
    """One week or month of the report (cut to the report's period at either end)."""

    start: datetime
    end: datetime
    total: FailureCount
    kinds: tuple[tuple[Kind, FailureCount], ...]  # by category, then severity


@dataclass(frozen=True)
class Recurring:
    """A customer or an order with the number of its incidents in the period."""

    id: str
    incidents: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class FailureReport:
    since: datetime
    until: datetime
    bucket: Bucket
    total: FailureCount
    kinds: tuple[tuple[Kind, FailureCount], ...]  # over the whole period
    periods: tuple[FailurePeriod, ...]  # every week or month, empty ones too, oldest first
    top_customers: tuple[Recurring, ...]
    top_orders: tuple[Recurring, ...]


def bucket_start(moment: datetime, bucket: Bucket) -> datetime:
    """The start (UTC midnight) of the week (Monday) or month `moment` falls in."""
    day = moment.astimezone(UTC).date()
    if bucket is Bucket.WEEK:
        day -= timedelta(days=day.weekday())
    else:
        day = day.replace(day=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _next_bucket(start: datetime, bucket: Bucket) -> datetime:
    if bucket is Bucket.WEEK:
        return start + timedelta(days=7)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month)


def buckets(since: datetime, until: datetime, bucket: Bucket) -> list[tuple[datetime, datetime]]:
    """The weeks or months covering [since, until), each cut to it; none when it is empty."""
    cut: list[tuple[datetime, datetime]] = []
    if until <= since:
        return cut
    start = bucket_start(since, bucket)
    while start < until:
        try:
            following = _next_bucket(start, bucket)
        except (OverflowError, ValueError):  # the last week or month before year 10000
            following = datetime.max.replace(tzinfo=UTC)
        cut.append((max(start, since), min(following, until)))
        start = following
    return cut


def bucket_count(since: datetime, until: datetime, bucket: Bucket) -> int:
    """How many weeks or months [since, until) touches, without listing them."""
    if until <= since:
        return 0
    first, last = bucket_start(since, bucket), bucket_start(until - timedelta.resolution, bucket)
    if bucket is Bucket.WEEK:
        return (last - first).days // 7 + 1
    return (last.year - first.year) * 12 + last.month - first.month + 1


class FailureTally:
    """Incidents folded in as they come, per bucket and kind."""

    def __init__(self, since: datetime, until: datetime, bucket: Bucket):
        self.since, self.until, self.bucket = since, until, bucket
        self._counts: dict[tuple[datetime, Kind], FailureCount] = defaultdict(FailureCount)

    def add(self, facts: Iterable[FailureFact]) -> FailureTally:
        for fact in facts:
            if not self.since <= fact.decided_at < self.until:
                raise ValueError(f"an incident of {fact.decided_at} is outside the period")
            start = max(bucket_start(fact.decided_at, self.bucket), self.since)
            self._counts[start, (fact.category, fact.severity)] += FailureCount(
                1, int(fact.repeat))
        return self

    def report(self, top_customers: Iterable[Recurring] = (),
               top_orders: Iterable[Recurring] = ()) -> FailureReport:
        whole: dict[Kind, FailureCount] = defaultdict(FailureCount)
        per_start: dict[datetime, dict[Kind, FailureCount]] = defaultdict(dict)
        for (start, kind), counted in self._counts.items():
            whole[kind] += counted
            per_start[start][kind] = counted
        periods = tuple(
            FailurePeriod(start, end, sum(per_start[start].values(), FailureCount()),
                          tuple(sorted(per_start[start].items())))
            for start, end in buckets(self.since, self.until, self.bucket))
        return FailureReport(self.since, self.until, self.bucket,
                             sum(whole.values(), FailureCount()), tuple(sorted(whole.items())),
                             periods, tuple(top_customers), tuple(top_orders))


# ---- the bounds of a period, as people write them --------------------------------------------

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}"
                       r"(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})")


class BoundInvalid(ValueError):
    """Not a date or a datetime with its offset, in the documented form."""


def is_whole_day(text: object) -> bool:
    """Whether a bound is written as a date (a whole day), not a datetime."""
    return isinstance(text, str) and _DATE.fullmatch(text) is not None


def runs_backwards(since: datetime, until: datetime, until_whole_day: bool) -> bool:
    """Whether a period starts after it ends, as written: an `until` written as a date is
    that whole day, so `since` must fall before the day ends; a datetime may equal `since`
    (an empty period)."""
    return since > until or (since == until and until_whole_day)


def plus_read_as_space(text: str) -> str | None:
    """What to say of a moment whose offset's + was sent unescaped in a query string (which
    reads it as a space: 10:30:00+01:00 arrives as "10:30:00 01:00"); None for other text."""
    if " " not in text[11:]:
        return None
    return (f"Got {text!r}: a + in a query string is read as a space, so write an offset's + "
            "as %2B (2026-11-01T10:30:00%2B01:00).")


def period_bound(text: str, upper: bool) -> datetime:
    """A bound of a period from its ISO text, in UTC: a date (`2026-11-01`) is a whole day, so
    as `since` it starts at its midnight and as `until` (`upper`) it ends at the next one;
    a datetime needs its offset (`2026-11-01T08:00:00Z`, `...+01:00`) and is exact."""
    if not isinstance(text, str):
        raise BoundInvalid("Not a date or datetime: send text such as 2026-11-01 or "
                           "2026-11-01T08:00:00Z.")
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise BoundInvalid(f"{text!r} is not a day of the calendar.") from None
        if upper:
            try:
                day += timedelta(days=1)
            except OverflowError:
                raise BoundInvalid(f"A period cannot end with {text}: it would end at the "
                                   "midnight after, past the calendar's last day. Leave the "
                                   "end out (until now), or end it a day earlier.") from None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    if _DATETIME.fullmatch(text):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise BoundInvalid(f"{text!r} is not a moment of the calendar.") from None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise BoundInvalid(f"{text!r} lies outside the calendar's years 1 to 9999 in "
                               "UTC.") from None
    raise BoundInvalid(" ".join(filter(None, (
        plus_read_as_space(text), "Not a date or datetime: write 2026-11-01, or a datetime "
        "with its offset such as 2026-11-01T08:00:00Z or 2026-11-01T09:00:00+01:00."))))
