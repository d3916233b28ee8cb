"""GET /v1/reports/outcomes and /v1/reports/failures: for policy owners, strict about their
query, and the documented shape (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from service.store import clock
from tests.conftest import auth, design_example

OUTCOMES, FAILURES = "/v1/reports/outcomes", "/v1/reports/failures"


@pytest.fixture
def window(client, monkeypatch):
    """Three decisions of one customer in an hour of their own, far in the future (two with
    outcomes, one granted a discount); the hour as (since, until) in ISO text."""
    start = datetime(3000, 1, 1, tzinfo=UTC) + timedelta(hours=uuid.uuid4().int % 8_000_000)
    ticks = itertools.count()
    monkeypatch.setattr(clock, "now", lambda: start + next(ticks) * timedelta(seconds=1))
    customer = design_example()["customer"]["id"]
    made = []
    for _ in range(3):
        response = client.post("/v1/decisions", json=design_example(customer__id=customer),
                               headers=auth("manager"))
        assert response.status_code == 201, response.json
        made.append(response.json)
    discount = next(o for o in made[0]["offers"] if o["remedy"] == "discount")
    assert client.post(f"/v1/offers/{discount['id']}/grant",
                       headers=auth("manager")).status_code == 201
    for decision, told in ((made[0], {"accepted": True, "satisfied": True}),
                           (made[1], {"accepted": False, "stayed": False})):
        assert client.post(f"/v1/decisions/{decision['decision_id']}/outcome", json=told,
                           headers=auth()).status_code == 201
    return (start.isoformat(), (start + timedelta(hours=1)).isoformat()), made, discount, customer


def report(client, path, **query):
    response = client.get(path, query_string=query, headers=auth("manager"))
    assert response.status_code == 200, response.json
    return response.json


def test_the_outcome_report_counts_the_decisions_of_its_period(client, window):
    (since, until), made, discount, _ = window
    by_remedy = report(client, OUTCOMES, by="remedy", since=since, until=until)
    assert (by_remedy["by"], by_remedy["since"], by_remedy["until"]) == ("remedy", since, until)
    assert [(g["key"], g["decisions"], g["outcomes"]) for g in by_remedy["groups"]] == [
        (None, 2, 1), ("discount", 1, 1)]
    assert by_remedy["groups"][1]["granted"] == [discount["value"]]
    assert by_remedy["groups"][1]["recovered"] == {"rate": "1.0000", "count": 1, "n": 1}
    total = by_remedy["total"]
    assert (total["decisions"], total["outcomes"]) == (3, 2)
    assert total["accepted"] == {"rate": "0.5000", "count": 1, "n": 2}
    assert total["satisfied"] == {"rate": "1.0000", "count": 1, "n": 1}
    assert total["stayed"] == {"rate": "0.0000", "count": 0, "n": 1}
    assert total["recovered"] == {"rate": "0.5000", "count": 1, "n": 2}
    assert total["granted"] == [discount["value"]]
    outlooks = report(client, OUTCOMES, since=since, until=until)  # by outlook by default
    assert outlooks["by"] == "outlook"
    assert {g["key"] for g in outlooks["groups"]} == {m["recovery"]["outlook"] for m in made}
    calibration = outlooks["calibration"]
    assert [e["outlook"] for e in calibration["outlooks"]] == ["likely", "uncertain",
                                                              "unlikely"]
    assert set(calibration) == {"outlooks", "likely_minus_unlikely"}
    rules = report(client, OUTCOMES, by="rule", since=since, until=until)
    assert {g["key"] for g in rules["groups"]} == {
        t["rule"] for m in made for t in m["trace"]}
    version = report(client, OUTCOMES, by="version", since=since, until=until)
    assert [(g["key"], g["decisions"]) for g in version["groups"]] == [
        (made[0]["policy"]["version"], 3)]


def test_the_failure_report_counts_incidents_and_who_had_the_most(client, window):
    (since, until), made, _, customer = window
    found = report(client, FAILURES, since=since, until=until, bucket="month", top=1)
    assert (found["incidents"], found["bucket"]) == (3, "month")
    assert found["repeat"] == {"rate": "0.6667", "count": 2, "n": 3}  # the 2nd and 3rd
    assert found["kinds"] == [{"category": "late_delivery", "severity": 2, "incidents": 3,
                               "repeat": found["repeat"]}]
    assert [(p["start"], p["end"], p["incidents"]) for p in found["periods"]] == [
        (since, until, 3)]
    assert [(c["id"], c["incidents"]) for c in found["top_customers"]] == [(customer, 3)]
    assert (found["top_customers"][0]["first_at"], found["top_customers"][0]["last_at"]) == (
        made[0]["decided_at"], made[2]["decided_at"])
    assert [o["incidents"] for o in found["top_orders"]] == [1]
    weekly = report(client, FAILURES, since=since, until=until)
    assert weekly["bucket"] == "week" and len(weekly["top_orders"]) == 3


def test_a_date_is_a_whole_day(client, window):
    (since, _), _, _, _ = window
    day = since[:10]
    found = report(client, FAILURES, since=day, until=day)
    assert found["since"] == f"{day}T00:00:00+00:00"
    assert found["until"] == (datetime.fromisoformat(day).replace(tzinfo=UTC)
                              + timedelta(days=1)).isoformat()
    assert found["incidents"] >= 3
    empty = report(client, FAILURES, since=since, until=since)  # as datetimes: may be equal
    assert (empty["incidents"], empty["periods"]) == (0, [])


@pytest.mark.parametrize("path", [OUTCOMES, FAILURES])
def test_only_policy_owners_see_reports(client, path):
    assert client.get(path).status_code == 401
    refused = client.get(path, headers=auth("agent"))
    assert refused.status_code == 403 and "policy_owner" in refused.json["detail"]
    assert client.get(path, headers=auth("supervisor")).status_code == 403


@pytest.mark.parametrize("path, query, field", [
    (OUTCOMES, {"by": "customer"}, "by"),
    (OUTCOMES, {"since": "2026-13-01"}, "since"),
    (OUTCOMES, {"since": "2026-11-01T08:00:00"}, "since"),  # no offset
    (OUTCOMES, {"until": "yesterday"}, "until"),
    (OUTCOMES, {"since": ""}, "since"),
    (OUTCOMES, {"since": "2026-11-02", "until": "2026-11-01"}, "since"),
    (OUTCOMES, {"since": "2026-11-02T00:00Z", "until": "2026-11-01"}, "since"),
    (OUTCOMES, {"until": "9999-12-31"}, "until"),
    (OUTCOMES, {"since": "2026-11-01T10:00Z", "until": "2026-11-01T09:00Z"}, "since"),
    (OUTCOMES, {"sinse": "2026-11-01"}, "sinse"),
    (OUTCOMES, {"since": "9999-12-31T23:00:00-05:00"}, "since"),
    (FAILURES, {"bucket": "day"}, "bucket"),
    (FAILURES, {"top": "0"}, "top"),
    (FAILURES, {"top": "101"}, "top"),
    (FAILURES, {"top": " 5"}, "top"),
    (FAILURES, {"top": "1.0"}, "top"),
    (FAILURES, {"since": "2000-01-01", "until": "2030-01-01"}, "bucket"),  # > 520 weeks
    (FAILURES, {"since": "2999-01-01"}, "since"),  # after now, the default `until`
    (FAILURES, {"by": "rule"}, "by"),
])
def test_a_bad_query_is_a_422_naming_the_argument(client, path, query, field):
    response = client.get(path, query_string=query, headers=auth("manager"))
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"], response.json


@pytest.mark.parametrize("path", [OUTCOMES, FAILURES])
@pytest.mark.parametrize("until", ["0001-01-01", "0001-03-01"])
def test_a_period_ending_near_the_first_day_starts_on_it(client, path, until):
    """The default period (the days before `until`) cannot start before 0001-01-01."""
    response = client.get(path, query_string={"until": until}, headers=auth("manager"))
    assert response.status_code == 200, response.json
    assert response.json["since"].startswith("0001-01-01T00:00:00"), response.json["since"]


def test_the_reports_are_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json["paths"]
    outcomes = paths["/v1/reports/outcomes"]["get"]
    assert {p["name"] for p in outcomes["parameters"]} == {"by", "since", "until"}
    assert {"200", "401", "403", "422"} <= set(outcomes["responses"])
    failures = paths["/v1/reports/failures"]["get"]
    assert {p["name"] for p in failures["parameters"]} == {"since", "until", "bucket", "top"}


@pytest.mark.parametrize(("path", "query"), [
    (OUTCOMES, {"by": "rule"}), (OUTCOMES, {"by": "remedy"}), (OUTCOMES, {"by": "version"}),
    (OUTCOMES, {"by": "outlook"}), (FAILURES, {})])
def test_a_report_that_would_outrun_the_worker_is_a_422_naming_the_period(
        client, window, monkeypatch, path, query):
    """Reading a period of very many decisions, a report stops before the worker's timeout
    would kill it (a review saw by=rule take 30 s at a million decisions) and asks for a
    shorter period: each report, those whose tallies are one statement each too."""
    import time

    from service.web.routes import reports

    (since, until), *_ = window
    monkeypatch.setattr(reports, "before_worker_timeout", lambda: time.monotonic() - 1)
    response = client.get(path, query_string={"since": since, "until": until, **query},
                          headers=auth("manager"))
    assert response.status_code == 422, response.json
    assert "choose a shorter period" in response.json["errors"]["since"][0]


def test_a_short_worker_timeout_leaves_a_report_time_to_work(client, window, monkeypatch):
    """With AMENDS_TIMEOUT of 2 s (which Settings allows) a report still has half of it."""
    settings = client.application.extensions["amends.settings"]
    monkeypatch.setitem(client.application.extensions, "amends.settings",
                        settings.with_overrides(worker_timeout_seconds=2,
                                                database_timeout_seconds=0.5,
                                                read_timeout_seconds=1))
    (since, until), *_ = window
    for path, query in ((OUTCOMES, {"by": "rule"}), (FAILURES, {})):
        report(client, path, since=since, until=until, **query)


@pytest.mark.slow
@pytest.mark.alone
@pytest.mark.parametrize(("path", "query"), [(OUTCOMES, {"by": "remedy"}), (FAILURES, {})])
def test_a_statement_running_past_the_worker_deadline_is_a_422_not_a_503(
        client, monkeypatch, path, query):
    """One statement (a tally of a long period on SQLite took 12-25 s) is stopped at the
    report's deadline too, and asks for a shorter period."""
    import time

    from service.web.routes import reports
    from tests.app.test_long_reports import stalling

    stalling(monkeypatch, 3.0)
    deadline = time.monotonic() + 0.6
    monkeypatch.setattr(reports, "before_worker_timeout", lambda: deadline)
    response = client.get(path, query_string={"since": "2900-01-01", "until": "2900-02-01",
                                              **query}, headers=auth("manager"))
    assert response.status_code == 422, response.json
    assert "choose a shorter period" in response.json["errors"]["since"][0]
    assert time.monotonic() < deadline + 0.6


@pytest.fixture(params=["sqlite", "postgresql"])
def short_timeout_client(request, shipped, tmp_path_factory):
    """A client of an app whose store's database timeout is 0.3 s (the worker's 30 s)."""
    from service.store.database import Store
    from service.web.app_factory import create_app
    from tests.conftest import make_store, test_settings

    made = make_store(request.param, tmp_path_factory, request)
    made.engine.dispose()
    short = Store(made.url, timeout_seconds=0.3)
    yield create_app(test_settings(), active_policy=shipped, store=short).test_client()
    short.engine.dispose()


@pytest.mark.slow
@pytest.mark.alone
@pytest.mark.parametrize(("path", "query"), [(OUTCOMES, {"by": "version"}), (FAILURES, {})])
def test_a_report_longer_than_the_database_timeout_answers(short_timeout_client, monkeypatch,
                                                          path, query):
    """Its reads are bounded by the worker's deadline, not the database timeout: a report
    that is merely long is never a 503."""
    from tests.app.test_long_reports import stalling

    stalling(monkeypatch, 1.0)
    report(short_timeout_client, path, since="2900-01-01", until="2900-02-01", **query)
