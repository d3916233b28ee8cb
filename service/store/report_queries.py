"""Reads for the policy owner's reports: outcomes of decisions, and recurring failures.

What SQL can count on SQLite and PostgreSQL alike is counted there: groups by a column
(policy version, outlook, remedy granted), the latest outcome of each decision (a window
function), money per currency in minor units, the customers and orders with the most
incidents. What needs the stored documents (the rules of a decision's trace; the weeks and
months of a period, whose cutting is not portable SQL) is read once, streamed a batch at a
time, and folded by `service.domain.reports`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    true,
)

from service.domain.reports import (
    DecisionFacts,
    FailureFact,
    Grouping,
    LatestOutcome,
    OutcomeTally,
    Recurring,
)
from service.store import clock
from service.store.models import DecisionRow, GrantRow, OutcomeRow

DECISIONS = DecisionRow.__table__
GRANTS = GrantRow.__table__
OUTCOMES = OutcomeRow.__table__
BATCH = 500

_IN_PERIOD = and_(DECISIONS.c.decided_at >= bindparam("since"),
                  DECISIONS.c.decided_at < bindparam("until"))

# The latest outcome of each decision of the period: by recorded_at, then id.
_RANKED = (select(OUTCOMES.c.decision_id, OUTCOMES.c.accepted, OUTCOMES.c.satisfied,
                  OUTCOMES.c.stayed,
                  func.row_number().over(
                      partition_by=OUTCOMES.c.decision_id,
                      order_by=(OUTCOMES.c.recorded_at.desc(), OUTCOMES.c.id.desc()),
                  ).label("newness"))
           .select_from(OUTCOMES.join(DECISIONS, DECISIONS.c.id == OUTCOMES.c.decision_id))
           .where(_IN_PERIOD)
           .subquery("ranked"))
_LATEST = (select(_RANKED.c.decision_id, _RANKED.c.accepted, _RANKED.c.satisfied,
                  _RANKED.c.stayed)
           .where(_RANKED.c.newness == 1)
           .subquery("latest"))


def _how_many(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


_TALLY = (
    func.count().label("decisions"),
    func.count(_LATEST.c.decision_id).label("outcomes"),
    _how_many(_LATEST.c.accepted == true()).label("accepted"),
    _how_many(_LATEST.c.satisfied == true()).label("satisfied"),
    func.count(_LATEST.c.satisfied).label("satisfied_known"),
    _how_many(_LATEST.c.stayed == true()).label("stayed"),
    func.count(_LATEST.c.stayed).label("stayed_known"),
    _how_many(and_(_LATEST.c.accepted == true(),
                   or_(_LATEST.c.satisfied == true(), _LATEST.c.stayed == true())))
    .label("recovered"),
)
_WITH_LATEST = DECISIONS.outerjoin(_LATEST, _LATEST.c.decision_id == DECISIONS.c.id)


def _by_column(key):
    """Tallies per value of a column of the decision, and money granted per value and
    currency."""
    tallies = (select(key.label("key"), *_TALLY).select_from(_WITH_LATEST)
               .where(_IN_PERIOD).group_by(key))
    granted = (select(key.label("key"), GRANTS.c.currency,
                      func.sum(GRANTS.c.amount_minor).label("minor"))
               .select_from(GRANTS.join(DECISIONS, DECISIONS.c.id == GRANTS.c.decision_id))
               .where(_IN_PERIOD).group_by(key, GRANTS.c.currency))
    return tallies, granted


# A decision counts once under each remedy kind granted on it, under None when none was.
_REMEDIES_GRANTED = (select(GRANTS.c.decision_id, GRANTS.c.remedy).distinct()
                     .select_from(GRANTS.join(DECISIONS,
                                              DECISIONS.c.id == GRANTS.c.decision_id))
                     .where(_IN_PERIOD).subquery("remedies"))
_BY_REMEDY = (
    select(_REMEDIES_GRANTED.c.remedy.label("key"), *_TALLY)
    .select_from(_WITH_LATEST.outerjoin(_REMEDIES_GRANTED,
                                        _REMEDIES_GRANTED.c.decision_id == DECISIONS.c.id))
    .where(_IN_PERIOD).group_by(_REMEDIES_GRANTED.c.remedy),
    select(GRANTS.c.remedy.label("key"), GRANTS.c.currency,
           func.sum(GRANTS.c.amount_minor).label("minor"))
    .select_from(GRANTS.join(DECISIONS, DECISIONS.c.id == GRANTS.c.decision_id))
    .where(_IN_PERIOD).group_by(GRANTS.c.remedy, GRANTS.c.currency),
)
_GROUPED = {
    Grouping.VERSION: _by_column(DECISIONS.c.policy_version),
    Grouping.OUTLOOK: _by_column(DECISIONS.c.outlook),
    Grouping.REMEDY: _BY_REMEDY,
}

# The rules of each decision's trace, read from the stored document, with its latest outcome.
_TRACES = (select(DECISIONS.c.id, DECISIONS.c.result["trace"].label("trace"),
                  _LATEST.c.accepted, _LATEST.c.satisfied, _LATEST.c.stayed)
           .select_from(_WITH_LATEST).where(_IN_PERIOD))
_GRANTED_ON = (select(GRANTS.c.decision_id, GRANTS.c.currency,
                      func.sum(GRANTS.c.amount_minor).label("minor"))
               .where(GRANTS.c.decision_id.in_(bindparam("decision_ids", expanding=True)))
               .group_by(GRANTS.c.decision_id, GRANTS.c.currency))

_PRIOR_FAILURES = DECISIONS.c.result["prior_failures"].as_integer()
_FAILURES = select(DECISIONS.c.decided_at,
                   DECISIONS.c.request[("failure", "category")].as_string().label("category"),
                   DECISIONS.c.request[("failure", "severity")].as_integer().label("severity"),
                   _PRIOR_FAILURES.label("prior_failures")).where(_IN_PERIOD)


def _most(column):
    """Who (a customer, an order) had the most incidents of the period; ties by id."""
    incidents = func.count().label("incidents")
    return (select(column.label("id"), incidents,
                   func.min(DECISIONS.c.decided_at).label("first_at"),
                   func.max(DECISIONS.c.decided_at).label("last_at"))
            .where(_IN_PERIOD).group_by(column)
            .order_by(incidents.desc(), column).limit(bindparam("top")))


_MOST = {"customer": _most(DECISIONS.c.customer_id), "order": _most(DECISIONS.c.order_id)}


def _tally(row) -> OutcomeTally:
    return OutcomeTally(
        decisions=int(row.decisions), outcomes=int(row.outcomes), accepted=int(row.accepted),
        satisfied=int(row.satisfied), satisfied_known=int(row.satisfied_known),
        stayed=int(row.stayed), stayed_known=int(row.stayed_known),
        recovered=int(row.recovered))


def _outcome(row) -> LatestOutcome | None:
    if row.accepted is None:  # no outcome recorded (accepted is never null in one)
        return None
    return LatestOutcome(bool(row.accepted), None if row.satisfied is None else bool(
        row.satisfied), None if row.stayed is None else bool(row.stayed))


class ReportQueries:
    def __init__(self, connection: Connection):
        self._connection = connection

    def outcome_tallies(self, by: Grouping, since: datetime,
                        until: datetime) -> dict[str | None, OutcomeTally]:
        """Per version, outlook or remedy granted, the decisions of [since, until) counted
        with their latest outcome and what was granted on them (not by rule: see
        `rule_facts`)."""
        tallies_query, granted_query = _GROUPED[by]
        period = {"since": since, "until": until}
        tallies = {row.key: _tally(row)
                   for row in self._connection.execute(tallies_query, period)}
        granted: dict[str | None, dict[str, int]] = defaultdict(dict)
        for row in self._connection.execute(granted_query, period):
            granted[row.key][row.currency] = int(row.minor)
        return {key: counted.with_granted(granted.get(key, {}))
                for key, counted in tallies.items()}

    def rule_facts(self, since: datetime, until: datetime,
                   batch: int = BATCH) -> Iterator[list[DecisionFacts]]:
        """The decisions of [since, until), a batch at a time, each with the rules of its
        trace, its latest outcome and what was granted on it. Read it all before the unit
        of work ends."""
        rows = self._connection.execution_options(yield_per=batch).execute(
            _TRACES, {"since": since, "until": until})
        for part in rows.partitions(batch):
            granted: dict[str, dict[str, int]] = defaultdict(dict)
            for row in self._connection.execute(
                    _GRANTED_ON, {"decision_ids": [row.id for row in part]}):
                granted[row.decision_id][row.currency] = int(row.minor)
            yield [DecisionFacts(row.id, tuple(rule["rule"] for rule in row.trace or ()),
                                 _outcome(row), granted.get(row.id, {}))
                   for row in part]

    def failure_facts(self, since: datetime, until: datetime,
                      batch: int = BATCH) -> Iterator[list[FailureFact]]:
        """The incidents of [since, until), a batch at a time: when, what kind, and whether
        the customer had failed before."""
        rows = self._connection.execution_options(yield_per=batch).execute(
            _FAILURES, {"since": since, "until": until})
        for part in rows.partitions(batch):
            yield [FailureFact(clock.aware(row.decided_at), row.category, int(row.severity),
                               (row.prior_failures or 0) > 0)
                   for row in part]

    def most_incidents(self, of: str, since: datetime, until: datetime,
                       top: int) -> list[Recurring]:
        """The `top` customers (`of="customer"`) or orders (`"order"`) with the most incidents
        in [since, until), most first, ties by id."""
        return [Recurring(row.id, int(row.incidents), clock.aware(row.first_at),
                          clock.aware(row.last_at))
                for row in self._connection.execute(
                    _MOST[of], {"since": since, "until": until, "top": top})]
