"""Reports on a generated set of decisions, grants and outcomes match counts computed here,
independently, from what was generated (SQLite and PostgreSQL).

Each example works in a stretch of time of its own, far in the future (the store's clock is
replaced), under customers, orders and principals of its own: the reports of its period
see its rows and nobody else's, though the store is shared with every other test."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.app.active_policy import ActivePolicy
from service.app.decisions import record_decision
from service.app.errors import Conflict, Invalid, NeedsApproval
from service.app.grants import grant_offer
from service.app.intake import parse_incident
from service.app.outcomes import record_outcome
from service.app.reports import failure_report_of, outcome_report_of, period
from service.domain.principal import Principal
from service.domain.reports import MAX_BUCKETS, Bucket, Grouping, tally
from service.store import clock
from service.store.unit_of_work import UnitOfWork
from tests.conftest import examples
from tests.support.incidents import incident_bodies
from tests.support.policy_files import copy_policy, edit

ROLES = ("agent", "team_lead", "supervisor", "manager")
TICK = timedelta(seconds=50)


@pytest.fixture(scope="module")
def other_version(tmp_path_factory):
    """The shipped policy with another description: the same rules, another version."""
    folder = copy_policy(tmp_path_factory.mktemp("reports") / "policy")
    edit(folder, "policy.yaml", "Service-recovery policy", "A service-recovery policy")
    active = ActivePolicy.load(folder)
    yield active
    active.program.close()


def far_monday_eve() -> datetime:
    """A Sunday 23:30 UTC somewhere between the years 2500 and 6000, new for each call: the
    ticks of an example cross into the next week."""
    monday = datetime(2500, 1, 4, tzinfo=UTC)  # a Monday
    assert monday.weekday() == 0
    return monday + timedelta(weeks=uuid.uuid4().int % 180_000) - timedelta(minutes=30)


@dataclass
class Made:
    """One generated decision and what was done about it."""

    decision_id: str
    decided_at: datetime
    customer_id: str
    order_id: str
    version: str
    outlook: str
    rules: frozenset[str]
    category: str
    severity: int
    repeat: bool
    grants: list[tuple[str, str, Decimal]] = field(default_factory=list)  # remedy, cur, amount
    outcomes: list[tuple[bool, bool | None, bool | None]] = field(default_factory=list)


def generate(data, store, policies: list[ActivePolicy]) -> list[Made]:
    tag = uuid.uuid4().hex[:8]
    customers = [f"C-rep-{tag}-{n}" for n in range(data.draw(st.integers(1, 6)))]
    orders = [f"O-rep-{tag}-{n}" for n in range(data.draw(st.integers(1, 8)))]
    staff = {role: Principal(f"{role}-rep-{tag}", role) for role in ROLES}
    made: list[Made] = []
    seen_customers: set[str] = set()
    for number in range(data.draw(st.integers(1, 16))):
        body = data.draw(incident_bodies())
        body["incident_id"] = f"INC-rep-{tag}-{number}"
        body["customer"]["id"] = data.draw(st.sampled_from(customers))
        body["order"]["id"] = data.draw(st.sampled_from(orders))
        active = data.draw(st.sampled_from(policies))
        principal = staff[data.draw(st.sampled_from(ROLES))]
        stored = record_decision(store, active, principal, body,
                                 parse_incident(body, active.policy)).stored
        customer = body["customer"]["id"]
        one = Made(
            stored.id, stored.decided_at, customer, body["order"]["id"],
            active.policy.version, stored.decision.outlook,
            frozenset(rule.id for rule in stored.decision.trace),
            body["failure"]["category"], body["failure"]["severity"],
            customer in seen_customers or body["customer"].get("prior_failures", 0) > 0)
        seen_customers.add(customer)
        granter = staff[data.draw(st.sampled_from(ROLES))]
        for offer in data.draw(st.permutations(stored.offers)):
            if not data.draw(st.booleans()):
                continue
            try:
                with UnitOfWork(store) as uow:
                    grant = grant_offer(uow, active.policy, granter, offer.id)
            except (NeedsApproval, Conflict):
                continue
            one.grants.append((grant.remedy, grant.value.currency, grant.value.amount))
        for _ in range(data.draw(st.integers(0, 3))):
            told = (data.draw(st.booleans()), data.draw(st.none() | st.booleans()),
                    data.draw(st.none() | st.booleans()))
            with UnitOfWork(store) as uow:
                record_outcome(uow, principal, stored.id, *told)
            one.outcomes.append(told)
        made.append(one)
    return made


def keys_of(one: Made, by: Grouping) -> set:
    if by is Grouping.RULE:
        return set(one.rules)
    if by is Grouping.REMEDY:
        return {remedy for remedy, _, _ in one.grants} or {None}
    return {one.version if by is Grouping.VERSION else one.outlook}


def granted_under(one: Made, by: Grouping, key) -> list[tuple[str, Decimal]]:
    return [(currency, amount) for remedy, currency, amount in one.grants
            if by is not Grouping.REMEDY or remedy == key]


def expected_figures(decisions: list[Made], by: Grouping | None = None, key=None) -> dict:
    latest = [one.outcomes[-1] for one in decisions if one.outcomes]
    granted: dict[str, Decimal] = defaultdict(Decimal)
    for one in decisions:
        for currency, amount in granted_under(one, by, key):
            granted[currency] += amount
    return {
        "decisions": len(decisions), "outcomes": len(latest),
        "accepted": (sum(a for a, _, _ in latest), len(latest)),
        "satisfied": (sum(s is True for _, s, _ in latest),
                      sum(s is not None for _, s, _ in latest)),
        "stayed": (sum(s is True for _, _, s in latest), sum(s is not None for _, _, s in latest)),
        "recovered": (sum(a and (s is True or t is True) for a, s, t in latest), len(latest)),
        "granted": {currency: amount for currency, amount in granted.items()},
    }


def reported_figures(tally) -> dict:
    for rate in (tally.accepted_rate, tally.satisfied_rate, tally.stayed_rate,
                 tally.recovered_rate):
        if rate.n:
            assert abs(rate.value - Decimal(rate.count) / rate.n) <= Decimal("0.00005")
        else:
            assert rate.value is None
    return {
        "decisions": tally.decisions, "outcomes": tally.outcomes,
        **{name: (rate.count, rate.n) for name, rate in [
            ("accepted", tally.accepted_rate), ("satisfied", tally.satisfied_rate),
            ("stayed", tally.stayed_rate), ("recovered", tally.recovered_rate)]},
        "granted": {money.currency: money.amount for money in tally.granted},
    }


def check_outcome_report(store, made: list[Made], since: datetime, until: datetime) -> None:
    inside = [one for one in made if since <= one.decided_at < until]
    for by in Grouping:
        report = outcome_report_of(store, by, since, until)
        keys = {key for one in inside for key in keys_of(one, by)}
        expected = {key: expected_figures([one for one in inside if key in keys_of(one, by)],
                                          by, key) for key in keys}
        assert {group.key: reported_figures(group.tally) for group in report.groups} == \
            expected, by
        counts = [group.tally.decisions for group in report.groups]
        assert counts == sorted(counts, reverse=True)
        assert reported_figures(report.total) == expected_figures(inside)
        calibration = dict(report.calibration.recovered)
        for outlook, rate in calibration.items():
            of_outlook = expected_figures([one for one in inside if one.outlook == outlook])
            assert (rate.count, rate.n) == of_outlook["recovered"]
        likely, unlikely = calibration["likely"], calibration["unlikely"]
        if likely.n and unlikely.n:
            exact = Decimal(likely.count) / likely.n - Decimal(unlikely.count) / unlikely.n
            assert abs(report.calibration.likely_minus_unlikely - exact) <= Decimal("0.00005")
        else:
            assert report.calibration.likely_minus_unlikely is None


def check_failure_report(store, made: list[Made], since: datetime, until: datetime,
                         bucket: Bucket, top: int) -> None:
    inside = [one for one in made if since <= one.decided_at < until]
    report = failure_report_of(store, since, until, bucket, top)
    assert (report.total.incidents, report.total.repeats) == (
        len(inside), sum(one.repeat for one in inside))
    kinds = Counter((one.category, one.severity) for one in inside)
    repeats = Counter((one.category, one.severity) for one in inside if one.repeat)
    assert {kind: (c.incidents, c.repeats) for kind, c in report.kinds} == {
        kind: (n, repeats[kind]) for kind, n in kinds.items()}
    assert report.periods[0].start == since and report.periods[-1].end == until
    for earlier, later in itertools.pairwise(report.periods):
        assert earlier.end == later.start
    for one_period in report.periods:
        mine = [one for one in inside if one_period.start <= one.decided_at < one_period.end]
        assert one_period.total.incidents == len(mine)
        assert one_period.total.repeats == sum(one.repeat for one in mine)
        assert {kind: c.incidents for kind, c in one_period.kinds} == dict(
            Counter((one.category, one.severity) for one in mine))
    for listed, of in ((report.top_customers, "customer_id"), (report.top_orders, "order_id")):
        per = defaultdict(list)
        for one in inside:
            per[getattr(one, of)].append(one.decided_at)
        ranked = sorted(per.items(), key=lambda item: (-len(item[1]), item[0]))[:top]
        assert [(r.id, r.incidents, r.first_at, r.last_at) for r in listed] == [
            (who, len(moments), min(moments), max(moments)) for who, moments in ranked]


@settings(max_examples=examples(6), suppress_health_check=[HealthCheck.too_slow],
          deadline=None)
@given(data=st.data())
def test_reports_match_counts_made_from_the_generated_set(store, shipped, other_version, data):
    start = far_monday_eve()
    ticks = itertools.count()
    with mock.patch.object(clock, "now", lambda: start + next(ticks) * TICK):
        made = generate(data, store, [shipped, other_version])
    moments = sorted(one.decided_at for one in made)
    cut = data.draw(st.integers(0, len(moments) - 1))
    since = moments[cut]  # some decisions of the example before the period, maybe
    until = data.draw(st.sampled_from([moments[-1] + TICK, start + timedelta(days=2)]))
    check_outcome_report(store, made, since, until)
    check_outcome_report(store, made, start, start + 1000 * TICK)  # the whole example
    with UnitOfWork(store) as uow:  # a few at a time, the grants of each batch read between
        batches = list(uow.reports.rule_facts(since, until, batch=3))
    assert all(len(batch) <= 3 for batch in batches)
    assert tally(fact for batch in batches for fact in batch) == {
        group.key: group.tally for group in outcome_report_of(
            store, Grouping.RULE, since, until).groups}
    check_failure_report(store, made, since, until, data.draw(st.sampled_from(list(Bucket))),
                         data.draw(st.integers(1, 5)))


def test_an_empty_period_reports_nothing(store):
    moment = far_monday_eve()
    report = outcome_report_of(store, Grouping.RULE, moment, moment + timedelta(hours=1))
    assert report.groups == () and report.total.decisions == 0
    assert all(rate.n == 0 for _, rate in report.calibration.recovered)
    failures = failure_report_of(store, moment, moment, Bucket.MONTH, 3)
    assert (failures.total.incidents, failures.periods, failures.top_customers) == (0, (), ())


def test_the_period_defaults_to_ninety_days_to_now_and_must_not_run_backwards():
    now = datetime(2031, 5, 5, 12, tzinfo=UTC)
    with mock.patch.object(clock, "now", lambda: now):
        assert period(None, None) == (now - timedelta(days=90), now)
        assert period(now - timedelta(days=1), None) == (now - timedelta(days=1), now)
        with pytest.raises(Invalid) as refused:
            period(now + timedelta(seconds=1), None)
    assert "since" in refused.value.errors


def test_a_failure_report_of_too_many_buckets_is_refused(store):
    since = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(Invalid) as refused:
        failure_report_of(store, since, since + timedelta(weeks=MAX_BUCKETS + 1), Bucket.WEEK)
    assert "bucket" in refused.value.errors
    with pytest.raises(Invalid):
        failure_report_of(store, since, since + timedelta(days=1), Bucket.WEEK, top=0)


def test_a_report_on_sqlite_holds_no_writer_up(tmp_path):
    """A report reads a snapshot and takes no write lock (on SQLite, WAL): it answers while a
    writer holds the lock, and a writer commits while a report reads."""
    from service.store.database import Store, upgrade
    from tests.support.sqlite_locks import database_locked, writer_queue_held

    url = f"sqlite:///{tmp_path / 'amends.db'}"
    upgrade(url)
    store = Store(url, timeout_seconds=0.5)
    try:
        store.check_schema()  # its first connection makes the database WAL, as serving does
        with writer_queue_held(str(tmp_path / "amends.db")), \
                database_locked(str(tmp_path / "amends.db")):
            for by in Grouping:
                outcome_report_of(store, by)
            failure_report_of(store)
        with UnitOfWork(store, snapshot=True, reading=True) as reading:
            reading.reports.outcome_tallies(Grouping.OUTLOOK, *period(None, None))
            with UnitOfWork(store) as writing:  # would wait out the bound, and fail, before
                writing.policies.refuse(None, ["a refusal"], "test", "test", clock.now())
    finally:
        store.engine.dispose()
