"""The audit export (SQLite and PostgreSQL): GET /v1/decisions pages through the decisions of a
period, each once, oldest first, with its grants and outcomes; `amends export decisions`
writes the same as NDJSON and CSV."""

import base64
import csv
import itertools
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas.decision_log import DecisionLogSchema
from service.cli import main
from service.cli.export import CSV_COLUMNS, csv_rows
from service.store import clock
from tests.conftest import auth, design_example

PROBLEM = "application/problem+json"
_days = itertools.count()


class FakeClock:
    """Every use case's `clock.now()`, set by the test: decisions made in a period of the
    past that no other test writes into."""

    def __init__(self, monkeypatch):
        self.moment = datetime(2003, 3, 1, tzinfo=UTC) + timedelta(days=3 * next(_days))
        monkeypatch.setattr(clock, "now", lambda: self.moment)


def decide(client, fake, moment, role="agent"):
    fake.moment = moment
    response = client.post("/v1/decisions", json=design_example(), headers=auth(role))
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def period(client, monkeypatch):
    """A day of decisions, some made at the same moment, some granted, some with outcomes,
    and decisions just outside it; (since, until, the ids of the day's decisions in the
    order of the export)."""
    fake = FakeClock(monkeypatch)
    since = fake.moment
    until = since + timedelta(days=1)
    decide(client, fake, since - timedelta(microseconds=1))
    decide(client, fake, until)
    made = []
    minutes = [0, 0, 0, 7, 7, 30, 61, 61, 61, 61, 200, 900, 1439]
    for number, minute in enumerate(minutes):
        decision = decide(client, fake, since + timedelta(minutes=minute),
                          role="team_lead" if number % 4 == 0 else "agent")
        made.append((decision["decided_at"], decision["decision_id"]))
        fake.moment += timedelta(seconds=5)
        if number % 3 == 0:  # its grant_now, granted
            granted = client.post(f"/v1/decisions/{decision['decision_id']}/grants",
                                  json={"offers": decision["grant_now"]["offers"]},
                                  headers=auth(decision["role"]))
            assert granted.status_code == 201, granted.json
        if number % 2 == 0:
            for accepted in (False, True)[: 1 + number % 4 // 2]:
                fake.moment += timedelta(seconds=1)
                outcome = client.post(f"/v1/decisions/{decision['decision_id']}/outcome",
                                      json={"accepted": accepted, "note": f"n{number}"},
                                      headers=auth())
                assert outcome.status_code == 201
    last = decide(client, fake, until - timedelta(microseconds=1))
    made.append((last["decided_at"], last["decision_id"]))
    fake.moment = until + timedelta(hours=1)  # read once the day is over and settled
    return since, until, [decision_id for _, decision_id in sorted(made)]


def pages(client, since: str, until: str | None, limit: int, role="manager") -> list[dict]:
    found, cursor = [], None
    while True:
        query = {"since": since, "limit": limit, **({"until": until} if until else {}),
                 **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/decisions", query_string=query, headers=auth(role))
        assert response.status_code == 200, response.json
        assert DecisionLogSchema().validate(response.json) == {}
        found.append(response.json)
        cursor = response.json["next_cursor"]
        if cursor is None:
            return found


@pytest.mark.parametrize("limit", [1, 4, 14, 200])
def test_paging_lists_every_decision_of_the_period_once_in_order(client, period, limit):
    since, until, expected = period
    found = pages(client, since.isoformat(), until.isoformat(), limit)
    listed = [d for page in found for d in page["decisions"]]
    assert [d["decision_id"] for d in listed] == expected
    assert all(len(page["decisions"]) <= limit for page in found)
    assert len(found) == max(1, -(-len(expected) // limit))
    assert found[0]["since"] == since.isoformat() and found[0]["until"] == until.isoformat()
    moments = [(d["decided_at"], d["decision_id"]) for d in listed]
    assert moments == sorted(moments)


def test_each_decision_comes_with_its_grants_and_outcomes(client, period):
    since, until, _ = period
    listed = [d for page in pages(client, since.isoformat(), until.isoformat(), 5)
              for d in page["decisions"]]
    granted = outcomes = 0
    for logged in listed:
        stored = client.get(f"/v1/decisions/{logged['decision_id']}",
                            headers=auth("manager")).json
        for field in ("incident_id", "decided_at", "principal", "request", "outcomes",
                      "recovery", "trace", "policy", "role", "prior_failures"):
            assert logged[field] == stored[field], field
        # A set granted in one call shares its moment: the log orders those by id.
        assert logged["grants"] == sorted(stored["grants"],
                                          key=lambda g: (g["granted_at"], g["id"]))
        assert [(o["id"], o["state"], o["value"]) for o in logged["offers"]] == \
            [(o["id"], o["state"], o["value"]) for o in stored["offers"]]
        assert logged["customer_id"] == stored["request"]["customer"]["id"]
        assert logged["order_id"] == stored["request"]["order"]["id"]
        granted += len(logged["grants"])
        outcomes += len(logged["outcomes"])
        assert {grant["offer_id"] for grant in logged["grants"]} == {
            o["id"] for o in logged["offers"] if o["state"] == "granted"}
    assert granted >= 5 and outcomes >= 7


def test_a_decision_made_while_paging_is_listed_once(client, period, monkeypatch):
    since, until, expected = period
    first = client.get("/v1/decisions", headers=auth("manager"), query_string={
        "since": since.isoformat(), "until": until.isoformat(), "limit": 4}).json
    fake = FakeClock(monkeypatch)
    # The first page ends at the first decision of minute 7 (see `period`).
    early = decide(client, fake, since + timedelta(minutes=1))  # before the cursor: not listed
    late = decide(client, fake, until - timedelta(seconds=1))  # after it: on a later page
    fake.moment = until + timedelta(hours=1)  # the next pages read once the day settled
    listed = [d["decision_id"] for d in first["decisions"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get("/v1/decisions", headers=auth("manager"), query_string={
            "since": since.isoformat(), "until": until.isoformat(), "limit": 4,
            "cursor": cursor}).json
        listed += [d["decision_id"] for d in page["decisions"]]
        cursor = page["next_cursor"]
    assert early["decision_id"] not in listed
    assert sorted(listed) == sorted({*expected, late["decision_id"]})
    assert len(listed) == len(set(listed))


def test_the_log_lists_a_decision_once_it_cannot_be_still_being_written(client, store,
                                                                        monkeypatch):
    """On PostgreSQL a decision is written a moment after its decided_at: the log without
    an end (and an export without --until) leaves out the last Store.settle_seconds, so that
    a page or export read now and the next one never miss a decision still being written.
    SQLite's reader waits for the writer: nothing is left out there."""
    fake = FakeClock(monkeypatch)
    made = decide(client, fake, fake.moment)
    query = {"since": (fake.moment - timedelta(hours=1)).isoformat(), "limit": 50}

    def listed():
        page = client.get("/v1/decisions", query_string=query, headers=auth("manager")).json
        return [d["decision_id"] for d in page["decisions"]]

    fake.moment += timedelta(seconds=1)
    assert (made["decision_id"] in listed()) == (store.settle_seconds == 0)
    fake.moment += timedelta(seconds=store.settle_seconds)
    assert made["decision_id"] in listed()


def test_a_period_that_has_not_ended_is_refused_not_cut_short(client, store, monkeypatch,
                                                               capsys, tmp_path):
    """An until after the last moment whose decisions are all stored (now on SQLite; on
    PostgreSQL Store.settle_seconds before) is a 422 (exit 2), not a list silently cut
    there that a later export starting at that until would never complete."""
    fake = FakeClock(monkeypatch)
    made = decide(client, fake, fake.moment)
    since, until = fake.moment - timedelta(hours=1), fake.moment + timedelta(seconds=1)
    fake.moment += timedelta(seconds=2)

    def listed(end):
        return client.get("/v1/decisions", headers=auth("manager"), query_string={
            "since": since.isoformat(), "until": end.isoformat(), "limit": 200})
    early = listed(until)
    if store.settle_seconds:
        assert early.status_code == 422 and "has not ended" in early.json["errors"]["until"][0]
        assert export(monkeypatch, store, "--since", since.isoformat(),
                      "--until", until.isoformat()) == 2
        assert "--until: The period has not ended" in capsys.readouterr().err
        fake.moment += timedelta(seconds=store.settle_seconds)
    found = listed(until)
    assert found.status_code == 200
    assert made["decision_id"] in [d["decision_id"] for d in found.json["decisions"]]
    future = listed(fake.moment + timedelta(hours=1))
    assert future.status_code == 422 and "until" in future.json["errors"]
    earlier = tmp_path / "earlier.csv"  # an export made before: refused, it is left whole
    earlier.write_text("an earlier export\n")
    for form in ("csv", "ndjson"):
        assert export(monkeypatch, store, "--since", since.isoformat(), "--until",
                      (fake.moment + timedelta(hours=1)).isoformat(), "--format", form,
                      "--output", str(earlier)) == 2
        assert earlier.read_text() == "an earlier export\n"
        assert export(monkeypatch, store, "--since", since.isoformat(), "--until",
                      (fake.moment + timedelta(hours=1)).isoformat(), "--format", form) == 2
        assert capsys.readouterr().out == ""  # not even a CSV header
    later = client.get("/v1/decisions", headers=auth("manager"), query_string={
        "since": (fake.moment + timedelta(hours=1)).isoformat()})
    assert later.status_code == 422 and "after now" in later.json["errors"]["since"][0]


def test_a_date_is_its_midnight_utc_and_until_is_open_without_it(client, period):
    since, until, expected = period
    day = [d["decision_id"] for page in pages(client, since.date().isoformat(),
                                              until.date().isoformat(), 50)
           for d in page["decisions"]]
    assert day == expected
    open_ended = client.get("/v1/decisions", headers=auth("manager"), query_string={
        "since": since.isoformat(), "limit": len(expected) + 1}).json
    assert open_ended["until"] is None
    assert [d["decision_id"] for d in open_ended["decisions"]][:-1] == expected
    assert open_ended["decisions"][-1]["decided_at"] == until.isoformat()
    shifted = since.astimezone(timezone(timedelta(hours=1))).isoformat()  # the same moment
    assert [d["decision_id"] for page in pages(client, shifted, until.isoformat(), 50)
            for d in page["decisions"]] == expected


@pytest.mark.parametrize("role", ["agent", "team_lead", "supervisor"])
def test_only_policy_owners_read_the_log(client, role):
    response = client.get("/v1/decisions", query_string={"since": "2003-01-01"},
                          headers=auth(role))
    assert response.status_code == 403 and response.mimetype == PROBLEM


def test_the_log_needs_a_key(client):
    response = client.get("/v1/decisions", query_string={"since": "2003-01-01"})
    assert response.status_code == 401 and response.mimetype == PROBLEM


def cursor_of(document: dict) -> str:
    """A cursor as the service writes one (JSON in URL-safe base64), holding `document`."""
    raw = json.dumps(document).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(("query", "field"), [
    ({}, "since"),
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-13-01"}, "since"),
    ({"since": "2026-11-01T10:00:00"}, "since"),  # no offset
    ({"since": "2026-11-01T10:00:00 01:00"}, "since"),  # a + sent unencoded
    ({"since": "\uff12\uff10\uff12\uff16-11-01"}, "since"),  # fullwidth digits
    ({"since": "2026-W01-1"}, "since"),  # other forms fromisoformat reads: not dates here
    ({"since": "20260101"}, "since"),
    ({"since": "2026-001"}, "since"),
    ({"since": "2026-11-01", "until": "2026-11-01"}, "until"),
    ({"since": "2026-11-02", "until": "2026-11-01"}, "until"),
    ({"since": "2026-11-01", "until": "soon"}, "until"),
    ({"since": "0001-01-01T00:00:00+01:00"}, "since"),  # before the first moment in UTC
    ({"since": "2026-11-01", "until": "9999-12-31T23:59:59-01:00"}, "until"),  # after the last
    ({"since": "2026-11-01", "cursor": "not-a-cursor"}, "cursor"),
    ({"since": "2026-11-01", "cursor": "a b"}, "cursor"),
    ({"since": "2026-11-01", "cursor": "eyJhcHByb3ZhbHMiOm51bGx9"}, "cursor"),  # another list
    ({"since": "2026-11-01", "cursor": cursor_of({"decisions": [
        "2026-11-01T00:00:00+00:00", "\ud800"]})}, "cursor"),  # an id no row has
    ({"since": "2026-11-01", "limit": 0}, "limit"),
    ({"since": "2026-11-01", "limit": 201}, "limit"),
])
def test_bad_queries_are_422_naming_the_argument(client, query, field):
    response = client.get("/v1/decisions", query_string=query, headers=auth("manager"))
    assert response.status_code == 422 and response.mimetype == PROBLEM, response.json
    assert field in response.json["errors"], response.json


def test_an_offset_whose_plus_was_sent_unencoded_is_named_with_the_fix(client):
    response = client.get("/v1/decisions?since=2026-11-01T10:30:00+01:00",
                          headers=auth("manager"))
    assert response.status_code == 422
    assert response.json["errors"]["since"][0].startswith(
        "Got '2026-11-01T10:30:00 01:00': a + in a query string is read as a space, so write "
        "an offset's + as %2B (2026-11-01T10:30:00%2B01:00). Give a date")


def test_post_and_the_log_share_the_path(client):
    spec = client.get("/openapi.json").json
    assert {"get", "post"} <= set(spec["paths"]["/v1/decisions"])
    log = spec["paths"]["/v1/decisions"]["get"]
    assert {p["name"] for p in log["parameters"]} == {"since", "until", "limit", "cursor"}
    assert PROBLEM in log["responses"]["403"]["content"]
    response = client.put("/v1/decisions", headers=auth())
    assert response.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


# The command line: the same documents, as NDJSON lines and CSV rows.

def export(monkeypatch, store, *args) -> int:
    monkeypatch.setenv("AMENDS_DATABASE_URL", store.url)
    return main(["export", "decisions", *args])


def test_ndjson_export_is_what_the_api_lists(client, store, period, monkeypatch, tmp_path):
    since, until, expected = period
    listed = [d for page in pages(client, since.isoformat(), until.isoformat(), 200)
              for d in page["decisions"]]
    path = tmp_path / "decisions.ndjson"
    assert export(monkeypatch, store, "--since", since.isoformat(), "--until",
                  until.isoformat(), "--format", "ndjson", "--output", str(path),
                  "--page-size", "4") == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == listed
    assert [json.loads(line)["decision_id"] for line in lines] == expected


def test_ndjson_goes_to_standard_output_without_a_file(client, store, period, monkeypatch,
                                                       capsys):
    since, until, expected = period
    capsys.readouterr()
    assert export(monkeypatch, store, "--since", since.isoformat(), "--until",
                  until.isoformat()) == 0
    out = capsys.readouterr().out
    assert [json.loads(line)["decision_id"] for line in out.splitlines()] == expected


def test_csv_export_has_a_row_per_offer_matching_the_api(client, store, period, monkeypatch,
                                                         tmp_path):
    since, until, _ = period
    listed = [d for page in pages(client, since.isoformat(), until.isoformat(), 200)
              for d in page["decisions"]]
    path = tmp_path / "decisions.csv"
    assert export(monkeypatch, store, "--since", since.date().isoformat(), "--until",
                  until.date().isoformat(), "--format", "csv", "--output", str(path),
                  "--page-size", "3") == 0
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        rows = list(reader)
    wanted = [(d, o) for d in listed for o in d["offers"]]
    assert len(rows) == len(wanted)
    granted = 0
    for row, (decision, offer) in zip(rows, wanted, strict=True):
        assert row["decision_id"] == decision["decision_id"]
        assert row["decided_at"] == decision["decided_at"]
        assert row["customer_id"] == decision["request"]["customer"]["id"]
        assert row["outlook"] == decision["recovery"]["outlook"]
        assert row["offer_id"] == offer["id"] and row["state"] == offer["state"]
        assert (row["amount"], row["currency"]) == (offer["value"]["amount"],
                                                    offer["value"]["currency"])
        assert row["amount"].replace(".", "").isdigit()
        grant = next((g for g in decision["grants"] if g["offer_id"] == offer["id"]), None)
        if grant is None:
            assert row["grant_id"] == row["granted_amount"] == row["granted_at"] == ""
        else:
            granted += 1
            assert (row["grant_id"], row["granted_amount"], row["granted_by"]) == (
                grant["id"], grant["value"]["amount"], grant["principal"])
        assert row["outcomes"] == str(len(decision["outcomes"]))
        if decision["outcomes"]:
            latest = decision["outcomes"][-1]
            assert row["outcome_accepted"] == ("true" if latest["accepted"] else "false")
            assert row["outcome_recorded_at"] == latest["recorded_at"]
        else:
            assert row["outcome_accepted"] == row["outcome_recorded_at"] == ""
    assert granted == sum(len(d["grants"]) for d in listed) > 0


def test_a_decision_without_offers_is_one_csv_row():
    document = {"decision_id": "d", "incident_id": "i", "decided_at": "2003-01-01T00:00:00+00:00",
                "customer_id": "c", "order_id": "o", "principal": "p", "role": "agent",
                "policy": {"name": "default", "version": "v"}, "prior_failures": 0,
                "recovery": {"outlook": "likely"}, "offers": [], "grants": [], "outcomes": []}
    (row,) = csv_rows(document)
    assert row["decision_id"] == "d" and row["offer_id"] == "" and row["outcomes"] == "0"
    assert set(row) == set(CSV_COLUMNS)


@pytest.mark.parametrize("args", [
    ["--since", "yesterday"],
    ["--since", "2026-11-01T10:00:00"],
    ["--since", "2026-11-01", "--format", "xml"],
    ["--since", "2026-11-01", "--page-size", "0"],
    ["--until", "2026-11-01"],
])
def test_bad_arguments_exit_2(store, monkeypatch, capsys, args):
    with pytest.raises(SystemExit) as exited:
        export(monkeypatch, store, *args)
    assert exited.value.code == 2
    assert capsys.readouterr().err


def test_an_empty_period_and_a_backward_one(store, monkeypatch, capsys):
    assert export(monkeypatch, store, "--since", "1990-01-01", "--until", "1990-01-02",
                  "--format", "csv") == 0
    assert capsys.readouterr().out.strip() == ",".join(CSV_COLUMNS)
    assert export(monkeypatch, store, "--since", "1990-01-02", "--until", "1990-01-01") == 2
    assert "after" in capsys.readouterr().err


def test_without_until_the_export_ends_at_its_start(client, store, period, monkeypatch,
                                                   capsys):
    since, until, expected = period
    # The export starts an hour after the period: other tests' decisions, made now, are
    # after its end.
    monkeypatch.setattr(clock, "now", lambda: until + timedelta(hours=1))
    capsys.readouterr()
    assert export(monkeypatch, store, "--since", since.isoformat(), "--page-size", "200") == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["decision_id"] for d in listed][:len(expected)] == expected
    assert listed[len(expected)]["decided_at"] == until.isoformat()
    assert all(d["decided_at"] < datetime.now(UTC).isoformat() for d in listed)


def test_an_output_that_cannot_be_written_is_said_before_exporting(store, monkeypatch,
                                                                   capsys, tmp_path):
    for output, why in [(tmp_path, "is a folder"),
                        (tmp_path / "missing" / "x.ndjson", "there is no folder")]:
        assert export(monkeypatch, store, "--since", "2026-11-01", "--output",
                      str(output)) == 2
        assert why in capsys.readouterr().err


def test_a_query_at_fault_is_not_called_a_body(client):
    response = client.get("/v1/decisions", query_string={"since": "2026-11-01",
                                                          "until": "2026-11-01"},
                          headers=auth("manager"))
    assert response.status_code == 422
    assert "body" not in response.json["detail"] and "until" in response.json["detail"]
