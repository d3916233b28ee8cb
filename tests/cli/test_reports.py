"""`amends report outcomes | failures`: the reports of the configured database as tables, or
as the API's JSON with `--json`; a bad period is refused with exit code 2."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from service.app.decisions import record_decision
from service.app.intake import parse_incident
from service.app.outcomes import record_outcome
from service.app.reports import failure_report_of, outcome_report_of
from service.cli import main
from service.domain.principal import Principal
from service.domain.reports import Bucket, Grouping
from service.store import clock
from service.store.report_queries import ReportQueries
from service.store.unit_of_work import UnitOfWork
from service.web.presenters.reports import failure_report_json, outcome_report_json
from tests.conftest import design_example


@pytest.fixture
def day(store, shipped, monkeypatch):
    """Two decisions of one customer on a day of their own, far in the future, one with an
    outcome; the day as ISO text."""
    start = datetime(4000, 1, 1, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 1_000_000)
    ticks = itertools.count()
    monkeypatch.setattr(clock, "now", lambda: start + next(ticks) * timedelta(minutes=1))
    manager = Principal(f"manager-{uuid.uuid4().hex[:8]}", "manager")
    customer = design_example()["customer"]["id"]
    made = []
    for _ in range(2):
        body = design_example(customer__id=customer)
        made.append(record_decision(store, shipped, manager, body,
                                    parse_incident(body, shipped.policy)).stored)
    with UnitOfWork(store) as uow:
        record_outcome(uow, manager, made[0].id, True, satisfied=True)
    monkeypatch.setenv("AMENDS_DATABASE_URL", store.url)
    return start.date().isoformat(), customer, made


def run(capsys, *argv):
    code = main(["report", *argv])
    return code, capsys.readouterr()


def test_outcomes_as_json_are_the_apis_json(store, day, capsys):
    date, _, _ = day
    code, out = run(capsys, "outcomes", "--by", "rule", "--since", date, "--until", date,
                    "--json")
    assert code == 0
    since = datetime.fromisoformat(date).replace(tzinfo=UTC)
    assert json.loads(out.out) == outcome_report_json(outcome_report_of(
        store, Grouping.RULE, since, since + timedelta(days=1)))


def test_outcomes_as_a_table(day, capsys):
    date, _, made = day
    code, out = run(capsys, "outcomes", "--by", "version", "--since", date, "--until", date)
    assert code == 0
    lines = out.out.splitlines()
    assert lines[0].startswith(f"Outcomes of decisions from {date}T00:00:00+00:00 to ")
    header = next(line for line in lines if line.startswith("version"))
    assert header.split() == ["version", "decisions", "outcomes", "accepted", "satisfied",
                              "stayed", "recovered", "granted"]
    row = next(line for line in lines if line.startswith(made[0].decision.policy_version))
    assert row.split()[1:5] == ["2", "1", "1.0000", "(1/1)"]
    total = next(line for line in lines if line.startswith("all decisions"))
    assert total.split()[2:4] == ["2", "1"]
    assert any(line.startswith("likely minus unlikely:") for line in lines)
    code, out = run(capsys, "outcomes", "--by", "remedy", "--since", date, "--until", date)
    assert code == 0 and "(nothing granted)" in out.out


def test_failures_as_json_and_as_a_table(store, day, capsys):
    date, customer, _ = day
    code, out = run(capsys, "failures", "--since", date, "--until", date, "--bucket", "month",
                    "--top", "1", "--json")
    assert code == 0
    since = datetime.fromisoformat(date).replace(tzinfo=UTC)
    assert json.loads(out.out) == failure_report_json(failure_report_of(
        store, since, since + timedelta(days=1), Bucket.MONTH, 1))
    code, out = run(capsys, "failures", "--since", date, "--until", date)
    assert code == 0
    assert "2 incidents, repeat failures 0.5000 (1/2)" in out.out.splitlines()[0]
    assert any(line.split()[:2] == [customer, "2"] for line in out.out.splitlines())
    assert any(line.split()[:3] == ["late_delivery", "2", "2"]
               for line in out.out.splitlines())


@pytest.mark.slow
@pytest.mark.alone
@pytest.mark.parametrize("argv", [["outcomes", "--by", "remedy"], ["failures"]])
def test_a_report_runs_to_its_end_whatever_the_database_timeout(store, day, monkeypatch,
                                                                capsys, argv):
    """The command line has no deadline: a report longer than
    AMENDS_DATABASE_TIMEOUT_SECONDS (each of its statements, here) answers; on PostgreSQL it
    reads with no statement_timeout."""
    from tests.app.test_long_reports import stall, statement_timeout

    date, _, _ = day
    monkeypatch.setenv("AMENDS_DATABASE_TIMEOUT_SECONDS", "0.3")
    timeouts = []
    for name in ("outcome_tallies", "most_incidents"):
        original = getattr(ReportQueries, name)

        def stalled(self, *args, _original=original, **kwargs):
            if self._connection.dialect.name != "sqlite":
                timeouts.append(statement_timeout(self._connection))
            stall(self._connection, 1.0)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(ReportQueries, name, stalled)
    code, out = run(capsys, *argv, "--since", date, "--until", date, "--json")
    assert code == 0, out.err
    assert json.loads(out.out)["since"].startswith(date)
    assert set(timeouts) == (set() if store.url.startswith("sqlite") else {"0"})


@pytest.mark.parametrize("argv, message", [
    (["outcomes", "--since", "2026-11-02", "--until", "2026-11-01"], "--since"),
    (["outcomes", "--until", "9999-12-31"], "--until"),
    (["failures", "--since", "2000-01-01", "--until", "2030-01-01"], "--bucket"),
])
def test_a_period_that_cannot_be_reported_is_refused(store, monkeypatch, capsys, argv,
                                                     message):
    monkeypatch.setenv("AMENDS_DATABASE_URL", store.url)
    code, out = run(capsys, *argv)
    assert code == 2 and message in out.err and out.out == ""


@pytest.mark.parametrize("argv", [
    ["outcomes", "--by", "customer"], ["outcomes", "--since", "yesterday"],
    ["failures", "--since", "2026-11-01T08:00"], ["failures", "--top", "0"],
    ["failures", "--bucket", "day"]])
def test_bad_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["report", *argv])
    assert stopped.value.code == 2 and "usage:" in capsys.readouterr().err
