"""POST /v1/policy/replay: stored decisions through a candidate policy, for policy owners,
nothing stored (SQLite and PostgreSQL)."""

from __future__ import annotations

import time as clock_time
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from schemas.replay import ReplayReportSchema
from service.store import clock
from service.store.models import Base
from tests.conftest import auth, design_example
from tests.support.policy_files import copy_policy, edit

REPLAY = "/v1/policy/replay"


@pytest.fixture(scope="module")
def one_rule_changed(tmp_path_factory):
    folder = copy_policy(tmp_path_factory.mktemp("candidate") / "p")
    edit(folder, "remedies.yaml", "          percent: 10\n\n  - id: discount-minor-avoidable",
         "          percent: 15\n\n  - id: discount-minor-avoidable")
    return folder


def rows(store) -> dict[str, int]:
    with store.transaction() as session:
        return {table.name: session.scalar(select(func.count()).select_from(table))
                for table in Base.metadata.sorted_tables}


def record(client, count=1, role="agent"):
    """Decisions of the README's example (fresh ids); the moment before the first."""
    since = clock.now().isoformat()
    for _ in range(count):
        response = client.post("/v1/decisions", json=design_example(), headers=auth(role))
        assert response.status_code == 201
    return since


def test_only_policy_owners_replay(client, app):
    version = app.extensions["amends.holder"].current.policy.version
    body = {"candidate": {"version": version}}
    assert client.post(REPLAY, json=body).status_code == 401
    for role in ("agent", "team_lead", "supervisor"):
        response = client.post(REPLAY, json=body, headers=auth(role))
        assert response.status_code == 403 and "policy_owner" in response.json["detail"]


def test_the_serving_version_against_itself_changes_nothing_and_stores_nothing(client, app,
                                                                              store):
    since = record(client, 3)
    version = app.extensions["amends.holder"].current.policy.version
    before = rows(store)
    response = client.post(REPLAY, json={"candidate": {"version": version}, "since": since},
                           headers=auth("manager"))
    assert response.status_code == 200, response.json
    report = response.json
    assert ReplayReportSchema().validate(report) == {}
    assert rows(store) == before
    assert report["candidate"]["version"] == version and report["complete"]
    assert report["replayed"] == report["compared"] == report["in_period"] == 3
    assert report["changed"]["decisions"] == 0 and report["sample"] == []
    assert report["next_cursor"] is None and report["limit"] == 10_000
    (eur,) = report["money"]
    assert eur == {"currency": "EUR", "offered_before": "433.50", "offered_after": "433.50",
                   "approval_free_before": "150.00", "approval_free_after": "150.00"}
    assert all(rule["fired_before"] == rule["fired_after"] for rule in report["rules"])


def test_a_folder_with_one_rule_changed_shows_both_answers(client, store, one_rule_changed):
    since = record(client, 2)
    before = rows(store)
    response = client.post(REPLAY, json={"candidate": {"folder": str(one_rule_changed)},
                                         "since": since, "sample": 1},
                           headers=auth("manager"))
    assert response.status_code == 200, response.json
    report = response.json
    assert ReplayReportSchema().validate(report) == {}
    assert rows(store) == before
    assert report["candidate"]["source"] == f"folder {one_rule_changed}"
    assert report["candidate"]["failing_tests"]  # its own cases still say 10%
    assert report["changed"] == {"decisions": 2, "outlook": 0, "offers": 2, "approvals": 0,
                                 "outlook_moves": []}
    (eur,) = report["money"]
    assert (eur["offered_before"], eur["offered_after"]) == ("289.00", "301.00")
    (changed,) = report["sample"]
    assert changed["changed"] == ["offers"] and changed["role"] == "agent"
    assert [o["value"] for o in changed["removed"]] == [{"amount": "12.00", "currency": "EUR"}]
    assert [o["value"] for o in changed["added"]] == [{"amount": "18.00", "currency": "EUR"}]
    assert "discount-minor" in changed["before"]["rules"] == changed["after"]["rules"]


def test_a_bad_candidate_or_body_is_a_422(client, tmp_path):
    broken = copy_policy(tmp_path / "broken")
    edit(broken, "remedies.yaml", "failure.category: {none_of:", "failure.categry: {none_of:")
    for body, field in [
        ({"candidate": {"version": "0123456789abcdef"}}, "candidate.version"),
        ({"candidate": {"folder": str(broken)}}, "candidate.folder"),
        ({"candidate": {"folder": str(tmp_path / "nowhere")}}, "candidate.folder"),
        ({"candidate": {}}, "candidate"),
        ({"candidate": {"version": "x", "folder": "y"}}, "candidate"),
        ({}, "candidate"),
        ({"candidate": {"version": "x"}, "limit": 0}, "limit"),
        ({"candidate": {"version": "x"}, "limit": 100_001}, "limit"),
        ({"candidate": {"version": "x"}, "limit": "10"}, "limit"),
        ({"candidate": {"version": "x"}, "sample": 51}, "sample"),
        ({"candidate": {"folder": "/" + "a" * 300}}, "candidate.folder"),  # too long a name
        ({"candidate": {"folder": "nul\u0000"}}, "candidate.folder"),
        ({"candidate": {"version": "x"}, "since": "yesterday"}, "since"),
        ({"candidate": {"version": "x"}, "until": "9999-12-31"}, "until"),  # its end: 10000
        ({"candidate": {"version": "x"}, "since": "0001-01-01T00:00:00+01:00"}, "since"),
        ({"candidate": {"version": "x"}, "until": "9999-12-31T23:59:59-01:00"}, "until"),
        ({"candidate": {"version": "x"}, "since": "2026-11-02", "until": "2026-11-01"},
         "until"),
        ({"candidate": {"version": "x"}, "since": "9999-12-30"}, "since"),  # until: now
        ({"candidate": {"version": "x"}, "cursor": "not*a*cursor"}, "cursor"),
        ({"candidate": {"version": "x"}, "everything": True}, "everything"),
        # read as reports read them: a datetime names its offset, in the one ISO form
        ({"candidate": {"version": "x"}, "since": "2026-11-01T00:00:00"}, "since"),
        ({"candidate": {"version": "x"}, "since": "2026-W44"}, "since"),
        ({"candidate": {"version": "x"}, "since": "20261101"}, "since"),
        ({"candidate": {"version": "x"}, "since": "2026-11-01 00:00+00:00"}, "since"),
    ]:
        response = client.post(REPLAY, json=body, headers=auth("manager"))
        assert response.status_code == 422, (body, response.json)
        assert field in response.json["errors"], (body, response.json)
    past_the_end = client.post(REPLAY, json={"candidate": {"version": "x"},
                                             "until": "9999-12-31"}, headers=auth("manager"))
    assert "cannot end with 9999-12-31" in past_the_end.json["errors"]["until"][0]
    problems = client.post(REPLAY, json={"candidate": {"folder": str(broken)}},
                           headers=auth("manager")).json["errors"]["candidate.folder"]
    assert any("categry" in problem for problem in problems)


def test_out_of_time_it_stops_and_the_cursor_goes_on(client, app, store, monkeypatch):
    since = record(client, 2)
    body = {"candidate": {"version": app.extensions["amends.holder"].current.policy.version},
            "since": since, "until": clock.now().isoformat()}
    from service.web.routes import replay as route

    monkeypatch.setitem(app.extensions, "amends.settings",
                        SimpleNamespace(worker_timeout_seconds=0))
    monkeypatch.setattr(route, "AT_LEAST_SECONDS", 0)
    stopped = client.post(REPLAY, json=body, headers=auth("manager")).json
    assert not stopped["complete"] and stopped["replayed"] == 0 and stopped["next_cursor"]
    monkeypatch.undo()
    went_on = client.post(REPLAY, json={**body, "cursor": stopped["next_cursor"]},
                          headers=auth("manager")).json
    assert went_on["complete"] and went_on["replayed"] == 2 and went_on["next_cursor"] is None
    first = client.post(REPLAY, json={**body, "limit": 1}, headers=auth("manager")).json
    assert first["complete"] and first["replayed"] == 1 and first["next_cursor"]
    rest = client.post(REPLAY, json={**body, "limit": 1, "cursor": first["next_cursor"]},
                       headers=auth("manager")).json
    assert rest["replayed"] == 1 and rest["next_cursor"] is None
    assert rest["replayed_to"] < first["replayed_from"]  # newest first, none twice


def test_a_candidate_slower_to_load_than_the_database_bound_still_gets_replayed(
        client, store, one_rule_changed, monkeypatch):
    """Loading 10,000 rules takes longer than a request's database bound: the replay's reads
    get a bound of their own after the load, so following next_cursor gets somewhere."""
    import time as clock_time

    from service.web.routes import replay as route

    since = record(client, 3)
    monkeypatch.setattr(store, "timeout_seconds", 0.6)
    loading = route.candidate_folder

    def slow(folder):
        clock_time.sleep(0.9)  # past the request's whole bound
        return loading(folder)

    monkeypatch.setattr(route, "candidate_folder", slow)
    response = client.post(REPLAY, json={"candidate": {"folder": str(one_rule_changed)},
                                         "since": since}, headers=auth("manager"))
    assert response.status_code == 200, response.json
    assert (response.json["replayed"], response.json["in_period"]) == (3, 3)
    assert response.json["complete"] is True


def test_the_replays_own_database_bound_ends_before_the_worker_timeout(client, app, store,
                                                                      monkeypatch):
    """However long the load, the reads' bound ends a margin before the worker timeout of
    the request's start: a slow database is then a 503, never a killed worker."""
    from service.store import database
    from service.web.routes import replay as route

    seen = {}

    def replay(*args, deadline, **kwargs):
        seen["bound"], seen["deadline"] = database._deadline.get(), deadline
        raise database.StoreError("stop here")

    posted = clock_time.monotonic()
    monkeypatch.setattr(route, "replay", replay)
    monkeypatch.setitem(app.extensions, "amends.settings",
                        SimpleNamespace(worker_timeout_seconds=4))
    monkeypatch.setattr(store, "timeout_seconds", 3)  # under half the worker timeout
    version = app.extensions["amends.holder"].current.policy.version
    stopped = client.post(REPLAY, json={"candidate": {"version": version}},
                          headers=auth("manager"))
    assert stopped.status_code == 500  # the stand-in's stop: only what it saw matters
    # the margin: 2 s (or a tenth of the timeout); without it, the database's 3 s from the load
    assert seen["bound"] < posted + 4 - 2 + 0.5
    assert seen["deadline"] <= seen["bound"]


def test_a_folder_that_is_no_policy_folder_is_said_in_a_line_and_nothing_of_it(client,
                                                                                 tmp_path):
    """A policy owner is no administrator of the server: a folder of other YAML files (an
    API key file, say) is not read, listed or described."""
    other = tmp_path / "config"
    other.mkdir()
    (other / "dev-api-keys.yaml").write_text("keys:\n  - {principal: x}\n")
    (other / "app.yaml").write_text("api_token: secret\n")
    for folder in (other, tmp_path / "nowhere", "/proc/self/cwd/config"):
        response = client.post(REPLAY, json={"candidate": {"folder": str(folder)}},
                               headers=auth("manager"))
        assert response.status_code == 422
        (said,) = response.json["errors"]["candidate.folder"]
        assert said == f"{folder}: no policy folder here (one holds policy.yaml and roles.yaml)"
