"""The reports' pure aggregation: tallies, rates, calibration, weeks and months, bounds."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.money import Money
from service.domain.reports import (
    MAX_BUCKETS,
    BoundInvalid,
    Bucket,
    DecisionFacts,
    FailureCount,
    FailureFact,
    FailureTally,
    Grouping,
    LatestOutcome,
    OutcomeTally,
    Rate,
    Tallies,
    bucket_count,
    bucket_start,
    buckets,
    calibration,
    outcome_report,
    period_bound,
    plus_read_as_space,
    ratio,
    tally,
)
from service.domain.vocabulary import Outlook

T0 = datetime(2026, 11, 1, tzinfo=UTC)  # a Sunday

outcomes = st.none() | st.builds(LatestOutcome, st.booleans(), st.none() | st.booleans(),
                                 st.none() | st.booleans())
facts = st.lists(st.builds(
    DecisionFacts, st.uuids().map(str), st.lists(st.sampled_from("abcd"), max_size=5).map(tuple),
    outcomes, st.dictionaries(st.sampled_from(["EUR", "USD", "JPY"]), st.integers(0, 10**9))),
    max_size=40)


def test_a_rate_is_four_places_half_even_and_none_of_nothing():
    assert ratio(2, 3) == Decimal("0.6667")
    assert ratio(1, 8) == Decimal("0.1250")
    assert ratio(1, 80000) == Decimal("0.0000")  # 0.0000125 rounds half even down
    assert ratio(3, 80000) == Decimal("0.0000")  # 0.0000375: to the even neighbour
    assert ratio(5, 5) == Decimal("1.0000")
    assert ratio(0, 0) is None and Rate(0, 0).value is None


def test_recovered_is_accepted_and_satisfied_or_stayed():
    assert LatestOutcome(True, True, None).recovered
    assert LatestOutcome(True, None, True).recovered
    assert LatestOutcome(True, False, True).recovered
    assert not LatestOutcome(True, None, None).recovered
    assert not LatestOutcome(True, False, False).recovered
    assert not LatestOutcome(False, True, True).recovered


def test_a_decision_counts_once_under_each_key_it_names():
    counted = tally([
        DecisionFacts("d1", ("r1", "r2", "r1"), LatestOutcome(True, True, None), {"EUR": 500}),
        DecisionFacts("d2", ("r1",), None, {"EUR": 250, "USD": 100}),
        DecisionFacts("d3", (), LatestOutcome(False, None, False)),
    ])
    assert set(counted) == {"r1", "r2"}
    r1 = counted["r1"]
    assert (r1.decisions, r1.outcomes, r1.accepted, r1.satisfied, r1.satisfied_known,
            r1.recovered) == (2, 1, 1, 1, 1, 1)
    assert r1.granted == (Money(Decimal("7.50"), "EUR"), Money(Decimal("1.00"), "USD"))
    assert counted["r2"].granted_minor == {"EUR": 500}


@given(facts, st.integers(0, 40))
def test_tallying_in_batches_is_tallying_at_once(drawn, cut):
    """The store hands facts over a batch at a time: the sum does not depend on the cut, and
    is the sum of each decision's own tally."""
    assert Tallies().add(drawn[:cut]).add(drawn[cut:]).result() == tally(drawn)
    one_by_one: dict = {}
    for fact in drawn:
        for key in set(fact.keys):
            one_by_one[key] = one_by_one.get(key, OutcomeTally()) + OutcomeTally.of_decision(
                fact.outcome, fact.granted_minor)
    assert tally(drawn) == one_by_one


@given(facts)
def test_a_tally_counts_what_an_independent_count_counts(drawn):
    counted = tally(drawn)
    for key in "abcd":
        mine = [f for f in drawn if key in f.keys]
        told = [f.outcome for f in mine if f.outcome is not None]
        expected = counted.get(key, OutcomeTally())
        assert expected.decisions == len(mine)
        assert expected.accepted_rate == Rate(sum(o.accepted for o in told), len(told))
        assert expected.satisfied_rate == Rate(sum(o.satisfied is True for o in told),
                                               sum(o.satisfied is not None for o in told))
        assert expected.stayed_rate == Rate(sum(o.stayed is True for o in told),
                                            sum(o.stayed is not None for o in told))
        assert expected.recovered_rate.count == sum(
            o.accepted and (o.satisfied or o.stayed) is True for o in told)
        for currency in ("EUR", "USD", "JPY"):
            assert expected.granted_minor.get(currency, 0) == sum(
                f.granted_minor.get(currency, 0) for f in mine)


def test_calibration_compares_likely_with_unlikely():
    likely = OutcomeTally(decisions=4, outcomes=3, recovered=2)
    unlikely = OutcomeTally(decisions=5, outcomes=4, recovered=1)
    found = calibration({"likely": likely, "unlikely": unlikely})
    assert found.recovered == ((Outlook.LIKELY, Rate(2, 3)), (Outlook.UNCERTAIN, Rate(0, 0)),
                               (Outlook.UNLIKELY, Rate(1, 4)))
    assert found.likely_minus_unlikely == Decimal("0.4167")  # 2/3 - 1/4, not 0.6667 - 0.2500
    assert calibration({"likely": likely}).likely_minus_unlikely is None


def test_a_report_orders_groups_by_decisions_then_key_and_totals_by_outlook():
    groups = {"b": OutcomeTally(decisions=2), None: OutcomeTally(decisions=2),
              "a": OutcomeTally(decisions=2), "c": OutcomeTally(decisions=5),
              "gone": OutcomeTally()}
    by_outlook = {"likely": OutcomeTally(decisions=3, granted_minor={"EUR": 1}),
                  "unlikely": OutcomeTally(decisions=4, granted_minor={"EUR": 2})}
    report = outcome_report(Grouping.REMEDY, T0, T0 + timedelta(days=1), groups, by_outlook)
    assert [g.key for g in report.groups] == ["c", "a", "b", None]
    assert (report.total.decisions, report.total.granted_minor) == (7, {"EUR": 3})


def test_weeks_start_on_monday_and_months_on_the_first_in_utc():
    moment = datetime(2026, 11, 4, 23, 30, tzinfo=UTC)
    assert bucket_start(moment, Bucket.WEEK) == datetime(2026, 11, 2, tzinfo=UTC)
    assert bucket_start(moment, Bucket.MONTH) == datetime(2026, 11, 1, tzinfo=UTC)
    assert buckets(T0, datetime(2026, 11, 10, 12, tzinfo=UTC), Bucket.WEEK) == [
        (T0, datetime(2026, 11, 2, tzinfo=UTC)),
        (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC)),
        (datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 10, 12, tzinfo=UTC))]
    december = datetime(2026, 12, 15, tzinfo=UTC)
    assert buckets(december, datetime(2027, 2, 1, tzinfo=UTC), Bucket.MONTH) == [
        (december, datetime(2027, 1, 1, tzinfo=UTC)),
        (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))]
    assert buckets(T0, T0, Bucket.WEEK) == []
    last = datetime(9999, 12, 20, tzinfo=UTC)
    assert buckets(last, datetime.max.replace(tzinfo=UTC), Bucket.MONTH)[-1][1] == \
        datetime.max.replace(tzinfo=UTC)


@given(st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.timedeltas(timedelta(0), timedelta(days=800)), st.sampled_from(list(Bucket)))
def test_buckets_cover_the_period_without_gaps_and_are_counted_right(since, length, bucket):
    until = since + length
    cut = buckets(since, until, bucket)
    assert len(cut) == bucket_count(since, until, bucket)
    if cut:
        assert cut[0][0] == since and cut[-1][1] == until
        assert all(a[1] == b[0] for a, b in itertools.pairwise(cut))
        assert all(start < end for start, end in cut)


def test_failures_are_counted_per_bucket_and_kind_with_empty_buckets_kept():
    until = T0 + timedelta(days=15)
    report = FailureTally(T0, until, Bucket.WEEK).add([
        FailureFact(T0, "late_delivery", 2, False),
        FailureFact(T0 + timedelta(hours=1), "late_delivery", 2, True),
        FailureFact(T0 + timedelta(days=1), "lost_parcel", 4, True),
        FailureFact(T0 + timedelta(days=14), "late_delivery", 1, False),
    ]).report()
    assert report.total == FailureCount(4, 2)
    assert report.total.repeat_rate.value == Decimal("0.5000")
    assert report.kinds == ((("late_delivery", 1), FailureCount(1, 0)),
                            (("late_delivery", 2), FailureCount(2, 1)),
                            (("lost_parcel", 4), FailureCount(1, 1)))
    assert [(p.start.day, p.end.day, p.total.incidents) for p in report.periods] == [
        (1, 2, 2), (2, 9, 1), (9, 16, 1)]
    assert report.periods[1].kinds == ((("lost_parcel", 4), FailureCount(1, 1)),)
    assert FailureTally(T0, T0, Bucket.MONTH).report().periods == ()
    with pytest.raises(ValueError, match="outside the period"):
        FailureTally(T0, until, Bucket.WEEK).add([FailureFact(until, "x", 1, False)])


def test_more_buckets_than_allowed_are_counted_without_listing_them():
    assert bucket_count(T0, T0 + timedelta(weeks=MAX_BUCKETS + 5), Bucket.WEEK) > MAX_BUCKETS


@pytest.mark.parametrize("text, upper, expected", [
    ("2026-11-01", False, datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-30", True, datetime(2026, 12, 1, tzinfo=UTC)),
    ("2026-12-31", True, datetime(2027, 1, 1, tzinfo=UTC)),
    ("2026-11-01T08:00Z", False, datetime(2026, 11, 1, 8, tzinfo=UTC)),
    ("2026-11-01T09:00:00+01:00", True, datetime(2026, 11, 1, 8, tzinfo=UTC)),
    ("2026-11-01T08:00:00.5Z", False, datetime(2026, 11, 1, 8, 0, 0, 500000, tzinfo=UTC)),
])
def test_a_bound_is_a_whole_day_or_an_exact_moment(text, upper, expected):
    assert period_bound(text, upper=upper) == expected


@pytest.mark.parametrize("text", [
    "", "2026-11-1", "2026-02-30", "2026-11-01T08:00:00", "2026-11-01 08:00:00Z",
    "2026-11-01T25:00Z", "20261101", "tomorrow", "\uff12\uff10\uff12\uff16-11-01",
    "2026-11-01T08:00:00+0100", "0001-01-01T00:00:00+01:00", " 2026-11-01", "2026-11-01\n"])
def test_anything_else_is_not_a_bound(text):
    with pytest.raises(BoundInvalid):
        period_bound(text, upper=False)
    with pytest.raises(BoundInvalid):
        period_bound("9999-12-31", upper=True)


def test_a_bound_whose_plus_arrived_as_a_space_says_how_to_send_it():
    with pytest.raises(BoundInvalid, match=r"write an offset's \+ as %2B"):
        period_bound("2026-11-01T09:00:00 01:00", upper=False)
    assert plus_read_as_space("2026-11-01") is None
